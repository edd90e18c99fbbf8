"""What the Chatwoot agent bot received and what it still has to send, in the state database.

Two tables, so that nothing is lost between Chatwoot and shopqa:

- ``chatwoot_inbound``: one row per Chatwoot message the bot accepted, keyed by account and
  message id. The primary key is the dedupe: a repeated delivery fails to insert, on every
  thread, worker and replica, so a message gets exactly one answer. A row stays ``queued``
  until its answer is in the outbox; a worker that died mid-answer leaves a lease that expires,
  and the sweeper answers the message again.
- ``chatwoot_outbox``: every call to Chatwoot (reply, private note, toggle_status), stored before
  it is sent and marked ``sent`` when Chatwoot accepts it. Unsent calls are retried with backoff
  in order per conversation (a note before the status change that follows it); ``failed`` are
  the ones Chatwoot refused for good (e.g. a deleted conversation). Staff see both.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, Float, Index, Integer, MetaData, Table, Text
from sqlalchemy import text as sql

from shopqa.storage.engine import fetch_all, store_engine

META = MetaData()
INBOUND = Table(
    "chatwoot_inbound", META, Column("msg_key", Text, primary_key=True), Column("received", Float, nullable=False),
    Column("account_id", Integer, nullable=False), Column("conversation_id", Integer, nullable=False),
    Column("message_id", Integer, nullable=False), Column("content", Text, nullable=False),
    Column("state", Text, nullable=False, server_default="queued"), Column("attempts", Integer, nullable=False,
                                                                          server_default="0"),
    Column("lease", Float), Column("error", Text), Column("answered", Float),
    Index("chatwoot_inbound_state", "state", "lease"))
OUTBOX = Table(
    "chatwoot_outbox", META, Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created", Float, nullable=False), Column("inbound_key", Text), Column("kind", Text, nullable=False),
    Column("account_id", Integer, nullable=False), Column("conversation_id", Integer, nullable=False),
    Column("path", Text, nullable=False), Column("body", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"), Column("next_try", Float, nullable=False),
    Column("lease", Float), Column("last_error", Text), Column("sent", Float),
    Index("chatwoot_outbox_status", "status", "id"))

# How long to wait before the n-th retry of an unsent call: quick at first, then at most 5 min.
MAX_RETRY_SECONDS = 300.0


def retry_delay(attempts: int) -> float:
    """Seconds until the next try after ``attempts`` failed ones."""
    return min(MAX_RETRY_SECONDS, 2.0 ** max(0, attempts - 1))


class ChatwootStore:
    """The inbound and outbox tables in a SQLite file (``path``) or the shared database (``engine``)."""

    def __init__(self, path: Path | None = None, engine: Engine | None = None):
        self.engine = store_engine(path, engine, META)

    def _write(self, query: str, **params) -> int:
        """Run one statement in its own transaction; the number of rows it changed."""
        with self.engine.begin() as conn:
            return conn.execute(sql(query), params).rowcount

    # -- inbound ---------------------------------------------------------------------------
    def accept(self, key: str, account_id: int, conversation_id: int, message_id: int, content: str) -> bool:
        """Record a message to answer; False when this message id was accepted before."""
        return self._write(
            "INSERT INTO chatwoot_inbound (msg_key, received, account_id, conversation_id, message_id, content, state, "
            "attempts) VALUES (:k, :t, :a, :c, :m, :content, 'queued', 0) ON CONFLICT (msg_key) DO NOTHING",
            k=key, t=time.time(), a=account_id, c=conversation_id, m=message_id, content=content) == 1

    def claim_inbound(self, key: str, lease_seconds: float) -> dict[str, Any] | None:
        """Take a queued message for answering (no other thread or replica holds it); None if taken."""
        now = time.time()
        changed = self._write("UPDATE chatwoot_inbound SET lease = :until, attempts = attempts + 1 "
                              "WHERE msg_key = :k AND state = 'queued' AND (lease IS NULL OR lease < :now)",
                              k=key, until=now + lease_seconds, now=now)
        if changed != 1:
            return None
        rows = fetch_all(self.engine, "SELECT * FROM chatwoot_inbound WHERE msg_key = :k", k=key)
        return rows[0] if rows else None

    def postpone_inbound(self, key: str, error: str, seconds: float) -> None:
        """An answer failed: keep the message queued, to be tried again after ``seconds``."""
        self._write("UPDATE chatwoot_inbound SET lease = :until, error = :e WHERE msg_key = :k",
                    k=key, until=time.time() + seconds, e=error[:500])

    def answer(self, key: str, actions: list[dict[str, Any]]) -> None:
        """Store the answer's calls to Chatwoot and mark the message answered, in one transaction."""
        now = time.time()
        with self.engine.begin() as conn:
            for action in actions:
                conn.execute(sql("INSERT INTO chatwoot_outbox (created, inbound_key, kind, account_id, "
                                 "conversation_id, path, body, status, attempts, next_try) VALUES (:t, :k, :kind, "
                                 ":a, :c, :path, :body, 'pending', 0, :t)"),
                             {"t": now, "k": key, "kind": action["kind"], "a": action["account_id"],
                              "c": action["conversation_id"], "path": action["path"],
                              "body": json.dumps(action["body"], ensure_ascii=False)})
            conn.execute(sql("UPDATE chatwoot_inbound SET state = 'answered', answered = :t, lease = NULL "
                             "WHERE msg_key = :k"), {"t": now, "k": key})

    def stale_inbound(self, limit: int = 50) -> list[str]:
        """Queued messages nobody holds: never started (full queue), or their worker died."""
        rows = fetch_all(self.engine, "SELECT msg_key FROM chatwoot_inbound WHERE state = 'queued' AND "
                         "(lease IS NULL OR lease < :now) ORDER BY received LIMIT :n", now=time.time(), n=limit)
        return [r["msg_key"] for r in rows]

    # -- outbox ----------------------------------------------------------------------------
    def unsent(self, limit: int = 200) -> list[dict[str, Any]]:
        """Calls still to make, oldest first (whether due now or not)."""
        return fetch_all(self.engine, "SELECT * FROM chatwoot_outbox WHERE status = 'pending' ORDER BY id LIMIT :n",
                         n=limit)

    def claim(self, item_id: int, lease_seconds: float) -> bool:
        """Take one due call for sending; False when another thread or replica holds it."""
        now = time.time()
        return self._write("UPDATE chatwoot_outbox SET lease = :until WHERE id = :id AND status = 'pending' "
                           "AND next_try <= :now AND (lease IS NULL OR lease < :now)",
                           id=item_id, until=now + lease_seconds, now=now) == 1

    def mark_sent(self, item_id: int) -> None:
        """Chatwoot accepted the call."""
        self._write("UPDATE chatwoot_outbox SET status = 'sent', sent = :t, lease = NULL, attempts = attempts + 1 "
                    "WHERE id = :id", t=time.time(), id=item_id)

    def mark_failed(self, item_id: int, error: str, retry: bool) -> None:
        """A try failed: back off and try again (``retry``), or give up and leave it for staff."""
        rows = fetch_all(self.engine, "SELECT attempts FROM chatwoot_outbox WHERE id = :id", id=item_id)
        attempts = (rows[0]["attempts"] if rows else 0) + 1
        self._write("UPDATE chatwoot_outbox SET status = :st, attempts = :n, last_error = :e, next_try = :next, "
                    "lease = NULL WHERE id = :id", st="pending" if retry else "failed", n=attempts,
                    e=error[:500], next=time.time() + retry_delay(attempts), id=item_id)

    def items(self, statuses: tuple[str, ...] = ("pending", "failed"), limit: int = 200) -> list[dict[str, Any]]:
        """Outbox rows in these statuses, newest first, with their JSON bodies parsed (for staff)."""
        marks = ", ".join(f":s{i}" for i in range(len(statuses)))
        rows = fetch_all(self.engine, f"SELECT * FROM chatwoot_outbox WHERE status IN ({marks}) "
                         "ORDER BY id DESC LIMIT :n", n=limit, **{f"s{i}": s for i, s in enumerate(statuses)})
        for row in rows:
            row["body"] = json.loads(row["body"])
        return rows

    def waiting(self, limit: int = 200) -> list[dict[str, Any]]:
        """Accepted messages not answered yet (for staff), oldest first."""
        return fetch_all(self.engine, "SELECT msg_key, received, account_id, conversation_id, message_id, attempts, "
                         "error FROM chatwoot_inbound WHERE state = 'queued' ORDER BY received LIMIT :n", n=limit)
