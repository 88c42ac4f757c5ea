"""schemathesis against the real server process, from its own /api/v1/openapi.json:
every operation with a few generated requests (positive and negative data) and an admin
bearer token; no 5xx, only documented status codes, bodies matching the schema.

A longer run: `.venv/bin/python bench/fuzz_api.py --max-examples 200` (see docs/benchmarks.md).
"""

from __future__ import annotations

import time

import pytest

pytest.importorskip("schemathesis")

from bench.fuzz_api import fuzz_operations  # noqa: E402


@pytest.mark.timeout(120)
def test_api_conforms_to_its_openapi(live_server):
    token = live_server.login("admin")
    t0 = time.monotonic()
    failures, stats = fuzz_operations(live_server.url, token, max_examples=4, seed=1)
    elapsed = time.monotonic() - t0
    assert not failures, "\n\n".join(failures)
    assert stats["operations"] >= 40
    assert stats["requests"] >= 4 * stats["operations"]
    assert "500" not in stats["statuses"]
    assert elapsed < 60, f"fuzzing took {elapsed:.1f} s"
