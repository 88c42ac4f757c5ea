"""Fuzz API v1 with schemathesis, from the server's own /api/v1/openapi.json.

Every operation gets `--max-examples` generated requests (positive and negative data) with
a bearer token; each response must not be a 5xx, must have a documented status code and
must match the documented schema. POST /auth/logout runs last (it ends the session).

    .venv/bin/python bench/fuzz_api.py --max-examples 200            # own demo server
    .venv/bin/python bench/fuzz_api.py --server URL --token T --max-examples 50

The CI test (tests/test_fuzz_api.py) runs the same with a few examples per operation.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_schema(url: str):
    import schemathesis

    raw = requests.get(url + "/api/v1/openapi.json", timeout=10).json()
    return schemathesis.openapi.from_dict(raw)


def fuzz_operations(url: str, token: str, *, max_examples: int = 5, seed: int = 0,
                    modes=("positive", "negative"), skip: tuple[str, ...] = (),
                    log=None) -> tuple[list[str], dict]:
    """Run every operation; returns (failures, stats). A failure is a readable string with
    the request that caused it."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        response_schema_conformance,
        status_code_conformance,
    )

    schema = load_schema(url)
    ops = [r.ok() for r in schema.get_all_operations()]
    ops.sort(key=lambda op: op.label == "POST /api/v1/auth/logout")
    headers = {"Authorization": f"Bearer {token}"}
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    failures: list[str] = []
    stats = {"operations": 0, "requests": 0, "statuses": {}, "unsatisfiable": [],
             "by_operation": {}}
    session = requests.Session()

    def run_cases(op, mode) -> None:
        strategy = op.as_strategy(generation_mode=GenerationMode(mode))
        seen: set[str] = set()

        @hseed(seed)
        @settings(max_examples=max_examples, deadline=None, database=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def one(case):
            try:
                res = case.call(base_url=url, headers=headers, session=session, timeout=15)
            except requests.RequestException as exc:
                failures.append(f"{op.label}: {exc}\n  {case.as_curl_command()}")
                return
            stats["requests"] += 1
            key = str(res.status_code)
            stats["statuses"][key] = stats["statuses"].get(key, 0) + 1
            per = stats["by_operation"].setdefault(op.label, {})
            per[key] = per.get(key, 0) + 1
            try:
                case.validate_response(res, checks=checks)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - failure groups
                text = str(exc).strip().splitlines()[0][:200]
                if text not in seen:
                    seen.add(text)
                    failures.append(f"{op.label} -> {res.status_code} {text}\n  "
                                    f"{case.as_curl_command(headers=headers)}\n  "
                                    f"{res.text[:300]}")

        try:
            one()
        except Unsatisfiable:  # e.g. negative data for an operation without inputs
            stats["unsatisfiable"].append(f"{op.label} ({mode})")

    for op in ops:
        if op.label in skip:
            continue
        stats["operations"] += 1
        for mode in modes:
            run_cases(op, mode)
        if log:
            log(f"{op.label}: {stats['requests']} requests so far, {len(failures)} failures")
    return failures, stats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--server", help="a running server (default: start a demo server)")
    p.add_argument("--token", help="bearer token (default: admin sign-in)")
    p.add_argument("--max-examples", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    from tools.testing import LiveServer

    live = tmp = None
    url = args.server
    if not url:
        from server.setup import init_demo_centre

        tmp = Path(tempfile.mkdtemp(prefix="qms-fuzz-"))
        init_demo_centre(str(tmp))
        live = LiveServer(tmp).start()
        url = live.url
    token = args.token or requests.post(url + "/api/v1/auth/login", json={
        "username": "admin", "password": "demo-admin"}, timeout=10).json()["token"]
    t0 = time.monotonic()
    try:
        failures, stats = fuzz_operations(url, token, max_examples=args.max_examples,
                                          seed=args.seed, log=print)
    finally:
        if live:
            live.stop()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    stats["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(stats, indent=2))
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
