"""The staff API behind the agent console: handoffs, transcripts, replies, closing, FAQ candidates,
FAQ gaps and publishing a gap's answer as an FAQ."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from shopqa.web.auth import staff_required
from shopqa.web.chat import json_body
from shopqa.web.errors import ApiError
from shopqa.web.stats import faq_gap_report

PUBLISHER = "shopqa.faq_publisher"  # app.extensions key: this process's FaqPublisher

bp = Blueprint("staff", __name__, url_prefix="/api/staff")


def _ticket(ticket_id: int) -> dict:
    ticket = current_app.extensions["shopqa"].tickets().get(ticket_id)
    if ticket is None:
        raise ApiError("not_found", f"no handoff {ticket_id}", 404)
    return ticket


def _text(data: dict, key: str, limit: int = 4000) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ApiError("bad_" + key, f"'{key}' must be a non-empty string", 400)
    if len(value) > limit:
        raise ApiError(f"{key}_too_long", f"'{key}' is limited to {limit} characters", 413)
    return value.strip()


@bp.get("/handoffs")
@staff_required(api=True)
def handoffs():
    """Handoff tickets (``?status=open|closed|all``, ``?q=`` text in the summary or the customer's
    words, a session id or a ref), newest first, without transcripts."""
    status = request.args.get("status", "open")
    if status not in ("open", "closed", "all"):
        raise ApiError("bad_status", "status is open, closed or all", 400)
    query = (request.args.get("q") or "").strip()
    if len(query) > 200:
        raise ApiError("q_too_long", "'q' is limited to 200 characters", 413)
    tickets = current_app.extensions["shopqa"].tickets().list(None if status == "all" else status, query=query)
    return jsonify(handoffs=[{k: v for k, v in t.items() if k != "conversation"} for t in tickets])


@bp.get("/conversations/<session_id>")
@staff_required(api=True)
def conversation(session_id: str):
    """A whole conversation with each message's route, intent, sentiment and path."""
    res = current_app.extensions["shopqa"]
    messages = res.conversations().messages(session_id)
    if not messages:
        raise ApiError("not_found", f"no conversation {session_id}", 404)
    return jsonify(session_id=session_id, messages=messages, ticket=res.tickets().open_for(session_id))


@bp.post("/handoffs/<int:ticket_id>/reply")
@staff_required(api=True)
def reply(ticket_id: int):
    """Post a staff reply into the customer's session (the widget shows it)."""
    ticket = _ticket(ticket_id)
    text = _text(json_body(), "text")
    res = current_app.extensions["shopqa"]
    res.conversations().add(ticket["session_id"], "agent", text, meta={"staff": g.staff, "ticket": ticket["ref"]})
    return jsonify(ok=True, session_id=ticket["session_id"])


@bp.post("/handoffs/<int:ticket_id>/close")
@staff_required(api=True)
def close(ticket_id: int):
    """Close a handoff: the assistant answers the session again."""
    _ticket(ticket_id)
    current_app.extensions["shopqa"].tickets().close(ticket_id)
    return jsonify(ok=True)


@bp.post("/faq-candidates")
@staff_required(api=True)
def faq_candidate():
    """Turn a staff answer into a FAQ candidate: ``{ticket_id?, question, answer, lang?}``."""
    data = json_body()
    ticket_id = data.get("ticket_id")
    if ticket_id is not None:
        _ticket(int(ticket_id))
    lang = data.get("lang") or "en"
    if lang not in ("en", "zh"):
        raise ApiError("bad_lang", "lang is en or zh", 400)
    row = current_app.extensions["shopqa"].tickets().add_faq_candidate(
        ticket_id, _text(data, "question", 500), _text(data, "answer"), lang, g.staff)
    return jsonify(row), 201


@bp.get("/faq-candidates")
@staff_required(api=True)
def faq_candidates():
    """FAQ candidates saved so far."""
    return jsonify(candidates=current_app.extensions["shopqa"].tickets().faq_candidates())


@bp.get("/faq-gaps")
@staff_required(api=True)
def faq_gaps():
    """The unanswered questions of the last ``?days=`` (default 14) grouped by meaning, most asked first."""
    try:
        days = int(request.args.get("days", 14))
        limit = int(request.args.get("limit", 100))
    except ValueError:
        raise ApiError("bad_number", "days and limit are whole numbers", 400) from None
    if not 1 <= days <= 365 or not 1 <= limit <= 1000:
        raise ApiError("out_of_range", "days is 1..365 and limit 1..1000", 400)
    return jsonify(faq_gap_report(current_app, days, limit))


def _publisher():
    from shopqa.handoff.faq_publish import FaqPublisher

    found = current_app.extensions.get(PUBLISHER)
    if found is None:  # setdefault: two first requests at once still share one publisher
        found = current_app.extensions.setdefault(PUBLISHER, FaqPublisher(current_app.extensions["shopqa"]))
    return found


@bp.post("/faq-gaps/publish")
@staff_required(api=True)
def publish_faq():
    """Publish an answer as an FAQ ``{question, answer, lang?}``: written to
    data_dir/faqs/published.jsonl, live after the incremental ingest this starts (202)."""
    data = json_body()
    lang = data.get("lang") or None
    if lang is not None and lang not in ("en", "zh"):
        raise ApiError("bad_lang", "lang is en or zh", 400)
    out = _publisher().publish(_text(data, "question", 500), _text(data, "answer"), lang, g.staff)
    return jsonify(out), 202


@bp.get("/faq-gaps/publish")
@staff_required(api=True)
def publish_status():
    """The background ingest of published FAQs: idle or running, queued, last result, error."""
    return jsonify(_publisher().status())
