"""Retrieval-only search API (no LLM)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from shopqa.answering.retrieval import HybridRetriever
from shopqa.web.auth import current_staff
from shopqa.web.errors import NOT_READY_MESSAGE
from shopqa.web.highlight import mark

bp = Blueprint("search", __name__)
TYPES = {"doc", "faq", "product", "chat"}
# Past chats are redacted for emails, phones and cards only; they still hold customers' names,
# order numbers and addresses, so only staff may search them. Customers get the published rest.
PUBLIC_TYPES = TYPES - {"chat"}


@bp.get("/api/search")
def api_search():
    """``GET /api/search?q=&k=&type=&lang=``: fused hits with title, source, snippet (and
    ``snippet_html`` with the matched terms in <mark>), score, type and language. Past chats
    are searched only for staff (a login or a bearer token); others get 403 for ``type=chat``."""
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
    lang = request.args.get("lang") or None
    if lang not in (None, "en", "zh"):
        return jsonify(error="bad_lang", message="lang is en or zh"), 400
    types = {t for t in request.args.get("type", "").split(",") if t}
    if types - TYPES:
        return jsonify(error="bad_type", message=f"type must be among {sorted(TYPES)}"), 400
    if current_staff() is None:
        if "chat" in types:
            return jsonify(error="staff_only", message="past chats are searchable by staff only; "
                           "log in at /login or send a staff bearer token"), 403
        types = types or set(PUBLIC_TYPES)
    res = current_app.extensions["shopqa"]
    if not res.ready:
        # res.error names the index folder: for operators (/readyz, logs), not for customers.
        return jsonify(error="not_ready", message=NOT_READY_MESSAGE), 503
    hits = HybridRetriever(res.index()).search(query, k=k * 3 if lang else k, types=types or None)
    if lang:
        hits = [h for h in hits if h.unit.lang == lang][:k]
    out = []
    for h in hits:
        d = h.as_dict()
        d["snippet_html"] = mark(d["snippet"], query)
        out.append(d)
    return jsonify(query=query, hits=out)
