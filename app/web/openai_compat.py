"""``POST /v1/chat/completions``: an OpenAI-compatible front to the same assistant.

The last ``user`` message is the customer's message; earlier messages are the conversation
(the client keeps it). Without a session (the ``user`` field or an ``X-Session-Id`` header)
each request gets a fresh one: order verification then lasts one request, so chat UIs that
want order tools should send a stable ``user``. ``stream: true`` answers with OpenAI-style
``chat.completion.chunk`` events ending in ``data: [DONE]``. The full shopqa reply (path,
route, sources, handoff) is in the ``shopqa`` field of the response and of the last chunk.
"""
from __future__ import annotations

import json
import re
import time
import uuid

from flask import Blueprint, Response, jsonify, request

from shopqa.ingest.chunking import count_tokens

from shopqa.web.chat import answer, check_message, json_body, rate_limit
from shopqa.web.errors import ApiError

bp = Blueprint("openai", __name__)
ROLE_MAP = {"user": "customer", "assistant": "assistant"}


def _text(content) -> str:
    """OpenAI content: a string or a list of ``{"type": "text", "text": ...}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    raise ApiError("bad_messages", "message content must be a string or a list of text parts", 400)


@bp.post("/v1/chat/completions")
def chat_completions():
    """OpenAI chat completions, answered by shopqa."""
    data = json_body()
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise ApiError("bad_messages", "'messages' must be a non-empty list of {role, content}", 400)
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=None)
    if last_user is None:
        raise ApiError("bad_messages", "'messages' needs at least one message with role 'user'", 400)
    message = check_message(_text(messages[last_user].get("content")))
    history = [{"role": ROLE_MAP[m["role"]], "text": _text(m.get("content")), "meta": {}}
               for m in messages[:last_user] if m.get("role") in ROLE_MAP]
    user = data.get("user") or request.headers.get("X-Session-Id")
    session_id = None
    if user is not None:
        if not isinstance(user, str) or not re.fullmatch(r"[\w.@:-]{1,100}", user):
            raise ApiError("bad_user", "'user' must be 1-100 letters, digits or . @ : - _", 400)
        session_id = f"oai-{user}"
    rate_limit()
    reply = answer(message, session_id, history=history if session_id is None else None)
    model = data.get("model") or "shopqa"
    cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    usage = {"prompt_tokens": sum(count_tokens(h["text"]) for h in history) + count_tokens(message),
             "completion_tokens": count_tokens(reply["answer"])}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    if not data.get("stream"):
        return jsonify({"id": cid, "object": "chat.completion", "created": created, "model": model,
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply["answer"]},
                                     "finish_reason": "stop"}], "usage": usage, "shopqa": reply})

    def chunk(delta: dict, finish: str | None = None, extra: dict | None = None) -> str:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **(extra or {})}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    def stream():
        # The answer is final (grounding-checked) before it is sent: an OpenAI client cannot
        # take back text it has shown, so nothing unchecked is ever streamed here.
        yield chunk({"role": "assistant", "content": ""})
        for piece in re.findall(r"\S+\s*|\s+", reply["answer"]):
            yield chunk({"content": piece})
        yield chunk({}, "stop", {"shopqa": reply})
        yield "data: [DONE]\n\n"

    return Response(stream(), mimetype="text/event-stream", headers={"Cache-Control": "no-cache"})
