"""The agent bot's background work: answer accepted messages and deliver the outbox to Chatwoot.

The webhook only stores the message and hands its key to a small thread pool, so Chatwoot gets
its acknowledgement at once. A worker answers with the real pipeline, stores the calls to make
(chatwoot_outbox) and sends them. A sweeper thread, woken by every webhook and at least every
``sweep_seconds``, retries what is unsent and answers messages nobody holds (a full queue, a
worker that died, a restart), so nothing accepted is lost while Chatwoot or shopqa is down.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from shopqa.integrations.chatwoot_bot import Incoming, failure_actions, reply_actions
from shopqa.integrations.chatwoot_client import ChatwootClient, ChatwootError
from shopqa.integrations.chatwoot_outbox import ChatwootStore, retry_delay

log = logging.getLogger("shopqa.chatwoot")

Answer = Callable[[str, str], dict[str, Any]]  # (text, session_id) -> the chat API's reply dict


class ChatwootWorker:
    """A bounded pool answering Chatwoot messages plus one sweeper thread; ``close`` stops both."""

    def __init__(self, store: ChatwootStore, client: ChatwootClient, answer: Answer,
                 open_ticket: Callable[[str], dict | None] = lambda _s: None, workers: int = 2,
                 capacity: int = 32, sweep_seconds: float = 5.0, answer_seconds: float = 300.0,
                 max_attempts: int = 3):
        self.store, self.client, self.answer, self.open_ticket = store, client, answer, open_ticket
        self.sweep_seconds, self.answer_seconds, self.max_attempts = sweep_seconds, answer_seconds, max_attempts
        # The lease on one call covers all of the client's tries and their backoff.
        self.send_seconds = client.timeout * client.tries + 5.0
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chatwoot")
        self._slots = threading.BoundedSemaphore(capacity)  # queued + running answers
        self._wake, self._stop = threading.Event(), threading.Event()
        self._sweeper: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "ChatwootWorker":
        """Start the sweeper; its first round retries what an earlier run left unsent."""
        if self._sweeper is None:
            self._sweeper = threading.Thread(target=self._sweep_loop, name="chatwoot-sweeper", daemon=True)
            self._sweeper.start()
        return self

    def close(self, wait: bool = True) -> None:
        """Stop the sweeper and the pool (work still queued stays in the database for next time)."""
        self._stop.set()
        self._wake.set()
        if self._sweeper is not None and wait:
            self._sweeper.join(timeout=self.send_seconds + 5)
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def nudge(self) -> None:
        """Wake the sweeper now (a webhook arrived: Chatwoot may be back)."""
        self._wake.set()

    # -- answering -------------------------------------------------------------------------
    def submit(self, key: str) -> bool:
        """Answer an accepted message in the pool; False when the pool is full (the sweeper will)."""
        if self._stop.is_set() or not self._slots.acquire(blocking=False):
            return False
        try:
            self._pool.submit(self._run, key)
        except RuntimeError:  # shutting down
            self._slots.release()
            return False
        return True

    def _run(self, key: str) -> None:
        try:
            self.process(key)
        except Exception:  # noqa: BLE001 - a worker thread must survive; the message stays queued
            log.exception("chatwoot: answering message %s failed", key)
        finally:
            self._slots.release()

    def process(self, key: str) -> bool:
        """Answer one accepted message and send what it needs; False if another thread holds it."""
        row = self.store.claim_inbound(key, self.answer_seconds)
        if row is None:
            return False
        msg = Incoming(row["account_id"], row["conversation_id"], row["message_id"], row["content"])
        try:
            reply = self.answer(msg.content, msg.session_id)
            ticket = self.open_ticket(msg.session_id) if reply.get("handoff") else None
            actions = reply_actions(msg, reply, ticket)
        except Exception as exc:  # noqa: BLE001 - any failure is retried, then handed to a person
            error = f"{type(exc).__name__}: {exc}"
            if row["attempts"] < self.max_attempts:
                log.warning("chatwoot: answering %s failed (attempt %d), retrying later: %s",
                            key, row["attempts"], error)
                self.store.postpone_inbound(key, error, retry_delay(row["attempts"]) * 5)
                return True
            log.error("chatwoot: answering %s failed %d times, handing it to a person: %s", key, row["attempts"], error)
            actions = failure_actions(msg, type(exc).__name__)
        self.store.answer(key, actions)
        self.flush()
        return True

    # -- delivering ------------------------------------------------------------------------
    def flush(self) -> int:
        """Send every due call, oldest first; a conversation whose earlier call is unsent waits
        (its note must precede its status change). Returns how many were sent."""
        blocked: set[tuple[int, int]] = set()
        sent = 0
        for item in self.store.unsent():
            conversation = (item["account_id"], item["conversation_id"])
            if conversation in blocked:
                continue
            if item["next_try"] > time.time() or not self.store.claim(item["id"], self.send_seconds):
                blocked.add(conversation)  # not due, or another thread is sending it
                continue
            try:
                self.client.post(item["path"], json.loads(item["body"]))
            except ChatwootError as exc:
                log.warning("chatwoot: %s #%d for conversation %d failed%s: %s", item["kind"], item["id"],
                            item["conversation_id"], "" if exc.retryable else " for good", exc)
                self.store.mark_failed(item["id"], str(exc), retry=exc.retryable)
                if exc.retryable:
                    blocked.add(conversation)
                if exc.status is None or exc.status >= 500:
                    break  # Chatwoot itself is down: the other conversations would wait for timeouts too
                continue
            self.store.mark_sent(item["id"])
            sent += 1
        return sent

    def sweep(self) -> None:
        """One round: answer the messages nobody holds, then send what is due."""
        for key in self.store.stale_inbound():
            if not self.submit(key):
                break
        self.flush()

    def _sweep_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - e.g. the database is briefly down; try next round
                log.exception("chatwoot: the outbox sweep failed")
            self._wake.wait(self.sweep_seconds)
            self._wake.clear()
