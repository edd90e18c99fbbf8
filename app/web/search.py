"""Retrieval-only search API (no LLM)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..retrieval import HybridRetriever

bp = Blueprint("search", __name__)
TYPES = {"doc", "faq", "product", "chat"}


@bp.get("/api/search")
def api_search():
    """``GET /api/search?q=&k=&type=``: fused hits with title, source, snippet, score and type."""
    query = (request.args.get("q") or "").strip()
    if not query:
        return jsonify(error="empty_query", message="pass a query as ?q=..."), 400
    if len(query) > 1000:
        return jsonify(error="query_too_long", message="queries are limited to 1000 characters"), 413
    try:
        k = int(request.args.get("k", 10))
    except ValueError:
        return jsonify(error="bad_k", message="k must be an integer"), 400
    k = max(1, min(k, 50))
    types = {t for t in request.args.get("type", "").split(",") if t}
    if types - TYPES:
        return jsonify(error="bad_type", message=f"type must be among {sorted(TYPES)}"), 400
    res = current_app.extensions["shopqa"]
    if not res.ready:
        return jsonify(error="not_ready", message=res.error), 503
    hits = HybridRetriever(res.index()).search(query, k=k, types=types or None)
    return jsonify(query=query, hits=[h.as_dict() for h in hits])
