"""Liveness and readiness."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """The index and models are loaded (503 with the reason otherwise)."""
    res = current_app.extensions["shopqa"]
    if not res.ready:
        return jsonify(status="not_ready", error="index_not_loaded", message=res.error), 503
    idx = res.index()
    return jsonify(status="ready", generation=idx.generation, embedder=idx.manifest["embedder"],
                   counts=idx.manifest["counts"])
