"""The customer chat API: ``POST /api/chat`` (JSON or server-sent events) and agent-reply polling."""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Any, Callable

from flask import Blueprint, Response, current_app, jsonify, request

from shopqa.models.llm import LLMBusy, LLMError
from shopqa.web.errors import INTERNAL_MESSAGE, LLM_MESSAGE, NOT_READY_MESSAGE, ApiError

bp = Blueprint("chat", __name__)
log = logging.getLogger("shopqa.web")


def client_key() -> str:
    """Who a request counts against for rate limiting: the peer address, or behind a trusted
    reverse proxy (``trust_proxy``) the first X-Forwarded-For hop."""
    if current_app.config["SHOPQA_SETTINGS"].trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
        if forwarded:
            return forwarded
    return request.remote_addr or "unknown"


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what is wrong."""
    if not request.get_data(cache=True):
        raise ApiError("empty_body", "the request body is empty; send a JSON object", 400)
    try:
        data = json.loads(request.get_data(cache=True).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        # The parser's message only says where the client's own bytes break; it holds no server state.
        raise ApiError("bad_json", f"the body is not valid JSON: {exc}", 400) from exc
    if not isinstance(data, dict):
        raise ApiError("bad_json", "the body must be a JSON object", 400)
    return data


def check_message(text: Any) -> str:
    """A usable customer message, or the API error for it."""
    settings = current_app.config["SHOPQA_SETTINGS"]
    if not isinstance(text, str):
        raise ApiError("bad_message", "'message' must be a string", 400)
    text = text.replace("\x00", "").strip()
    if not text:
        raise ApiError("empty_message", "the message is empty", 400)
    if len(text) > settings.max_message_chars:
        raise ApiError("message_too_long", f"messages are limited to {settings.max_message_chars} characters", 413)
    return text


def rate_limit() -> None:
    """429 with Retry-After when this client sent too many messages in the last minute."""
    wait = current_app.extensions["shopqa_runtime"]["limiter"].check(client_key())
    if wait:
        raise ApiError("rate_limited", f"too many messages; try again in {wait} s", 429, {"Retry-After": str(wait)})


def answer(message: str, session_id: str | None, on_token: Callable[[str], None] | None = None,
           history: list[dict] | None = None, app=None) -> dict[str, Any]:
    """Run the assistant and record metrics; LLM overload becomes a 503 ApiError."""
    app = app or current_app._get_current_object()
    res = app.extensions["shopqa"]
    metrics = app.extensions["shopqa_runtime"]["metrics"]
    if not res.ready:
        # res.error names the index folder and how to fix it: for operators (/readyz, logs), not customers.
        raise ApiError("not_ready", NOT_READY_MESSAGE, 503, {"Retry-After": "30"})
    start = time.perf_counter()
    try:
        reply = res.assistant().handle(message, session_id, on_token=on_token, history=history)
    except LLMBusy as exc:
        metrics.llm_rejected.inc()
        raise ApiError("busy", f"The assistant is busy. Please try again in {exc.retry_after} seconds.", 503,
                       {"Retry-After": str(exc.retry_after)}) from exc
    except LLMError as exc:
        log.exception("answer model failed")
        raise ApiError("llm_error", LLM_MESSAGE, 500) from exc
    seconds = time.perf_counter() - start
    metrics.answer_seconds.labels(path=reply.path).observe(seconds)
    metrics.answers.labels(route=reply.route, path=reply.path).inc()
    if reply.handoff and not reply.handoff.get("existing"):
        metrics.handoffs.labels(reason=reply.handoff["reason"]).inc()
    if reply.path == "abstained":
        metrics.abstentions.inc()
    # Structured log line without any message text (so no customer PII reaches the logs).
    log.info(json.dumps({"event": "chat", "session": reply.session_id, "route": reply.route, "path": reply.path,
                         "intent": reply.intent["name"], "sentiment": reply.sentiment["label"],
                         "handoff": (reply.handoff or {}).get("reason"), "chars": len(message),
                         "ms": round(seconds * 1000, 1)}))
    out = reply.as_dict()
    # Why a generation failed quotes the failed text: for staff and the CLI, never for customers.
    out.pop("grounding_failures", None)
    return out


def sse(event: str, data: Any) -> str:
    """One server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@bp.post("/api/chat")
def api_chat():
    """Answer a customer message; ``Accept: text/event-stream`` streams ``token`` events then ``done``."""
    data = json_body()
    message = check_message(data.get("message"))
    session_id = data.get("session_id")
    if session_id is not None and (not isinstance(session_id, str) or not 1 <= len(session_id) <= 100):
        raise ApiError("bad_session", "'session_id' must be a string of 1-100 characters", 400)
    if data.get("customer") is not None and not isinstance(data.get("customer"), dict):
        raise ApiError("bad_customer", "'customer' must be an object", 400)
    rate_limit()
    if "text/event-stream" not in request.headers.get("Accept", ""):
        return jsonify(answer(message, session_id))

    app = current_app._get_current_object()
    events: queue.Queue = queue.Queue()

    def work() -> None:
        try:
            result = answer(message, session_id, on_token=lambda t: events.put(("token", {"text": t})), app=app)
            events.put(("done", result))
        except ApiError as exc:
            events.put(("error", exc.body()))
        except Exception as exc:  # noqa: BLE001 - reported to the client as an event, logged here
            log.exception("chat stream failed")
            events.put(("error", {"error": "internal", "message": INTERNAL_MESSAGE}))

    threading.Thread(target=work, daemon=True).start()
    timeout = app.config["SHOPQA_SETTINGS"].request_timeout + 120

    def stream():
        streamed = False
        deadline = time.monotonic() + timeout
        while True:
            try:
                kind, payload = events.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                yield sse("error", {"error": "timeout", "message": "the answer took too long"})
                return
            if kind == "token":
                streamed = True
            elif kind == "done" and not streamed:
                yield sse("token", {"text": payload["answer"]})  # non-streamed paths still send one token
            yield sse(kind, payload)
            if kind in ("done", "error"):
                return

    return Response(stream(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@bp.get("/api/chat/<session_id>/messages")
def session_messages(session_id: str):
    """Messages of a session after ``?after=<id>`` (the widget polls this for a person's replies)."""
    try:
        after = int(request.args.get("after", 0))
    except ValueError as exc:
        raise ApiError("bad_after", "'after' must be a message id", 400) from exc
    res = current_app.extensions["shopqa"]
    rows = [m for m in res.conversations().messages(session_id) if m["id"] > after]
    return jsonify(session_id=session_id, messages=[{"id": m["id"], "role": m["role"], "text": m["text"],
                                                     "created": m["created"]} for m in rows])
