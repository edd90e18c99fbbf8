"""Liveness and readiness."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up."""
    return jsonify(status="ok")


def backends() -> dict[str, str]:
    """Which engine serves each part: the index, the shared state, the LLM and the limits."""
    app = current_app
    res = app.extensions["shopqa"]
    llm = res.llm  # the QueuedLLM wrapper answers `backend` for the model it wraps
    limiter = app.extensions["shopqa_runtime"]["limiter"]
    return {"index": "pgvector" if res.settings.database_url else "faiss", "state": "postgres" if res.settings.database_url else "sqlite",
            "llm": "none" if llm is None else getattr(llm, "backend", "local"),
            "limits": limiter.backend}


@bp.get("/readyz")
def readyz():
    """The index and models are loaded (503 with the reason otherwise), and the backends in use."""
    res = current_app.extensions["shopqa"]
    if not res.ready:
        return jsonify(status="not_ready", error="index_not_loaded", message=res.error, backends=backends()), 503
    idx = res.index()
    return jsonify(status="ready", generation=idx.generation, embedder=idx.manifest["embedder"],
                   counts=idx.manifest["counts"], backends=backends())
