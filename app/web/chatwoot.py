"""The Chatwoot agent bot's routes: the webhook Chatwoot calls, and the outbox for staff.

The work is in shopqa.integrations: this module checks the token, picks the events to answer,
stores each accepted message once and hands it to the background worker.
"""
from __future__ import annotations

import hmac
import logging
import threading
from pathlib import Path

from flask import Blueprint, Flask, current_app, jsonify, request

from shopqa.integrations.chatwoot_bot import BadPayload, account_id_of, session_for, triage
from shopqa.integrations.chatwoot_client import ChatwootClient
from shopqa.integrations.chatwoot_outbox import ChatwootStore
from shopqa.integrations.chatwoot_worker import ChatwootWorker
from shopqa.web.auth import staff_required
from shopqa.web.chat import answer, json_body
from shopqa.web.errors import ApiError

bp = Blueprint("chatwoot", __name__)
log = logging.getLogger("shopqa.chatwoot")
SETTINGS = (("chatwoot_url", "SHOPQA_CHATWOOT_URL"), ("chatwoot_webhook_token", "SHOPQA_CHATWOOT_WEBHOOK_TOKEN"),
            ("chatwoot_bot_token", "SHOPQA_CHATWOOT_BOT_TOKEN"))


class ChatwootRuntime:
    """The app's outbox store and worker, made on first use (once, under a lock)."""

    def __init__(self, app: Flask):
        self.app = app
        self._lock = threading.Lock()
        self._store: ChatwootStore | None = None
        self._worker: ChatwootWorker | None = None

    def missing(self) -> list[str]:
        """The environment variables still to set before the bot can work."""
        settings = self.app.config["SHOPQA_SETTINGS"]
        return [env for name, env in SETTINGS if not getattr(settings, name)]

    def store(self) -> ChatwootStore:
        """The inbound/outbox tables: the shared database with database_url, else data_dir/chatwoot.sqlite."""
        with self._lock:
            if self._store is None:
                settings = self.app.config["SHOPQA_SETTINGS"]
                if settings.database_url:
                    self._store = ChatwootStore(engine=self.app.extensions["shopqa"].tickets().engine)
                else:
                    self._store = ChatwootStore(Path(settings.data_dir) / "chatwoot.sqlite")
            return self._store

    def worker(self) -> ChatwootWorker:
        """The running worker (started with its sweeper on first use)."""
        store = self.store()
        with self._lock:
            if self._worker is None:
                settings, app = self.app.config["SHOPQA_SETTINGS"], self.app
                client = ChatwootClient(settings.chatwoot_url, settings.chatwoot_bot_token, settings.chatwoot_timeout)
                self._worker = ChatwootWorker(
                    store, client, answer=lambda text, session_id: answer(text, session_id, app=app),
                    open_ticket=lambda session_id: app.extensions["shopqa"].tickets().open_for(session_id),
                    answer_seconds=settings.request_timeout + 120).start()
            return self._worker

    def close(self) -> None:
        """Stop the worker (tests; the server's threads are daemons)."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()


@bp.record_once
def _start(state) -> None:
    """Make the runtime; when the bot is configured, start the worker so that calls an earlier run
    left unsent are retried now, not at the next webhook."""
    runtime = state.app.extensions["shopqa_chatwoot"] = ChatwootRuntime(state.app)
    if runtime.missing():
        return
    try:
        runtime.worker()
    except Exception:  # noqa: BLE001 - e.g. the database is down: the first webhook tries again
        log.exception("chatwoot: the agent bot could not start; the first webhook will try again")


def _runtime() -> ChatwootRuntime:
    return current_app.extensions["shopqa_chatwoot"]


def _check_token(expected: str) -> None:
    given = request.args.get("token") or request.headers.get("X-Shopqa-Token") or ""
    # Constant time: the comparison must not tell an attacker how much of a guess was right.
    if not given or not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        log.warning("chatwoot webhook: wrong or missing token from %s", request.remote_addr)
        raise ApiError("unauthorized", "wrong or missing webhook token: add ?token=<chatwoot_webhook_token> to "
                       "the bot's webhook URL in Chatwoot, or send it as an X-Shopqa-Token header", 401)


@bp.post("/integrations/chatwoot/webhook")
def webhook():
    """Chatwoot's Agent Bot events: answer a pending conversation's incoming message in the background."""
    runtime = _runtime()
    missing = runtime.missing()
    if missing:
        raise ApiError("chatwoot_not_configured", "the Chatwoot agent bot is off; set " + ", ".join(missing)
                       + " (see the README, section 'Chatwoot agent bot')", 503)
    _check_token(current_app.config["SHOPQA_SETTINGS"].chatwoot_webhook_token)
    payload = json_body()
    worker = runtime.worker()
    worker.nudge()  # Chatwoot is calling: a good moment to retry what is unsent
    if payload.get("event") == "conversation_resolved":
        return jsonify(_resolved(payload))
    try:
        msg = triage(payload, current_app.config["SHOPQA_SETTINGS"].max_message_chars)
    except BadPayload as exc:
        raise ApiError("bad_payload", f"not a Chatwoot message event: {exc}", 400) from exc
    if isinstance(msg, str):
        return jsonify(ignored=msg)
    if not runtime.store().accept(msg.key, msg.account_id, msg.conversation_id, msg.message_id, msg.content):
        return jsonify(ignored="duplicate delivery of message %d" % msg.message_id)
    worker.submit(msg.key)
    return jsonify(accepted=True, session_id=msg.session_id), 202


def _resolved(payload: dict) -> dict:
    """An agent resolved the conversation in Chatwoot: close shopqa's ticket, so the bot answers
    the customer's next question again."""
    try:
        session_id = session_for(account_id_of(payload), int(payload.get("id")))
    except (BadPayload, TypeError, ValueError):
        return {"ignored": "conversation_resolved without account and conversation ids"}
    tickets = current_app.extensions["shopqa"].tickets()
    ticket = tickets.open_for(session_id)
    if ticket is None:
        return {"ignored": "no open ticket"}
    tickets.close(ticket["id"])
    return {"closed": ticket["ref"], "session_id": session_id}


@bp.get("/api/staff/chatwoot/outbox")
@staff_required(api=True)
def outbox():
    """Calls to Chatwoot not delivered yet (``?status=unsent|failed|sent|all``) and messages not answered yet."""
    status = request.args.get("status", "unsent")
    statuses = {"unsent": ("pending", "failed"), "failed": ("failed",), "sent": ("sent",),
                "all": ("pending", "failed", "sent")}.get(status)
    if statuses is None:
        raise ApiError("bad_status", "status is unsent, failed, sent or all", 400)
    store = _runtime().store()
    return jsonify(configured=not _runtime().missing(), items=store.items(statuses), waiting=store.waiting())
