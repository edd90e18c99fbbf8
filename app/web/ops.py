"""Operations endpoints: Prometheus metrics, index reload and the OpenAPI document."""
from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify

from shopqa.web.auth import staff_required
from shopqa.web.metrics import CONTENT_TYPE

bp = Blueprint("ops", __name__)
OPENAPI = Path(__file__).with_name("openapi.json")


@bp.get("/metrics")
def metrics():
    """Prometheus text format: requests, latency per answer path, handoffs, abstentions, queue depth."""
    return Response(current_app.extensions["shopqa_runtime"]["metrics"].render(), content_type=CONTENT_TYPE)


@bp.post("/admin/reload")
@staff_required(api=True)
def reload():
    """Load the newest index generation now (it also happens on its own when the manifest changes)."""
    res = current_app.extensions["shopqa"]
    changed = res.reload_if_changed(wait=True)
    return jsonify(reloaded=changed, generation=res.index().generation)


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of the HTTP API."""
    return jsonify(json.loads(OPENAPI.read_text(encoding="utf-8")))
