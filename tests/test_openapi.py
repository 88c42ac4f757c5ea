"""The OpenAPI document lists exactly the app's /api/v1 routes."""

from __future__ import annotations

import re


def app_routes(app) -> set[tuple[str, str]]:
    out = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            out.add((method.lower(), path))
    return out


def test_openapi_matches_routes(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == app_routes(app)
    for path, ops in doc["paths"].items():
        for params in re.findall(r"{([a-z_]+)}", path):
            for op in ops.values():
                names = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
                assert params in names, (path, params)
        for op in ops.values():
            assert op["responses"], path
