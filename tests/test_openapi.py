"""``/openapi.json`` against the app's real routes: every API route documented, nothing documented that is not served."""
from __future__ import annotations

import re

import pytest

from shopqa import create_app
from shopqa.resources import Resources
from shopqa.settings import Settings

# The OpenAPI document describes the HTTP API: /api/*, /v1/*, /admin/* and the operations
# endpoints /healthz, /readyz, /metrics and /openapi.json. The server-rendered browser pages
# (the `pages` blueprint: /, /search, /console, /dashboard) and the form login (`auth`: /login,
# /logout) answer HTML or redirects, so they are left out; so are static files. Excluding by
# blueprint, not by prefix, means a new JSON route anywhere else must be documented.
BROWSER_BLUEPRINTS = {"pages", "auth"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def openapi_path(rule: str) -> str:
    """Flask's ``/x/<int:id>`` as OpenAPI's ``/x/{id}``."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


@pytest.fixture
def flask_app(tiny_index, hash_embedder, tmp_path):
    settings = Settings(index_dir=tiny_index, data_dir=tmp_path / "var", embedder=hash_embedder.id,
                        llm_enabled=False)
    # Only the routes and the served document are read here, so nothing is warmed up.
    return create_app(settings, resources=Resources(settings, embedder=hash_embedder))


def api_routes(app) -> dict[str, set[str]]:
    """The app's API routes as OpenAPI paths, each with its lower-case methods."""
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        blueprint, _, name = rule.endpoint.rpartition(".")
        if name == "static" or blueprint in BROWSER_BLUEPRINTS:
            continue
        routes.setdefault(openapi_path(rule.rule), set()).update(m.lower() for m in rule.methods - IGNORED_METHODS)
    return routes


def test_openapi_path_conversion():
    assert openapi_path("/api/staff/handoffs/<int:ticket_id>/reply") == "/api/staff/handoffs/{ticket_id}/reply"
    assert openapi_path("/api/chat/<session_id>/messages") == "/api/chat/{session_id}/messages"


def test_openapi_lists_exactly_the_served_routes_and_methods(flask_app):
    spec = flask_app.test_client().get("/openapi.json").json
    documented = {path: {m for m in ops if m in {"get", "put", "post", "delete", "patch"}}
                  for path, ops in spec["paths"].items()}
    served = api_routes(flask_app)
    assert "/api/chat" in served and "/metrics" in served and "/" not in served  # the filter keeps the API only
    assert sorted(set(served) - set(documented)) == [], "served but not in openapi.json"
    assert sorted(set(documented) - set(served)) == [], "in openapi.json but not served"
    assert {p: m for p, m in documented.items() if served[p] != m} == {}, f"methods differ; served: {served}"


def test_openapi_declares_every_path_parameter(flask_app):
    spec = flask_app.test_client().get("/openapi.json").json
    for path, ops in spec["paths"].items():
        in_path = set(re.findall(r"{([^}]+)}", path))
        for method, op in ops.items():
            if not isinstance(op, dict) or method == "parameters":
                continue
            params = ops.get("parameters", []) + op.get("parameters", [])
            assert {p["name"] for p in params if p.get("in") == "path"} == in_path, (method, path)
