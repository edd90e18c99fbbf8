"""Conversations: sessions, their messages and dialogue state, so follow-ups work across calls,
worker processes and (with Postgres) replicas."""
from __future__ import annotations

import contextlib
import json
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import Column, Engine, Float, Index, Integer, MetaData, Table, Text
from sqlalchemy import text as sql

from shopqa.storage.engine import add_missing_columns, fetch_all, is_postgres, store_engine
from shopqa.storage.session_lock import AdvisorySessionLocks, FileSessionLocks

META = MetaData()
SESSIONS = Table("sessions", META, Column("id", Text, primary_key=True), Column("created", Float, nullable=False),
                 Column("customer", Text))
MESSAGES = Table(
    "messages", META,
    Column("id", Integer, primary_key=True, autoincrement=True), Column("session_id", Text, nullable=False),
    Column("role", Text, nullable=False), Column("text", Text, nullable=False), Column("created", Float, nullable=False),
    *(Column(name, Text) for name in ("path", "lang", "standalone", "sources", "timings", "meta", "route", "intent",
                                      "sentiment")),
    Column("score", Float), Column("latency_ms", Float),
    Index("messages_session", "session_id", "id"))
STATE = Table("session_state", META, Column("session_id", Text, primary_key=True),
              Column("state", Text, nullable=False), Column("updated", Float, nullable=False))
# Columns added after the first release; added to older SQLite files on open.
ROUTING_COLUMNS = {"route": "TEXT", "intent": "TEXT", "sentiment": "TEXT", "score": "REAL", "latency_ms": "REAL"}

ROLES = ("customer", "assistant", "agent")  # agent: a person from the shop's staff


class ConversationStore:
    """Sessions and their messages in a SQLite file (``path``) or a shared database (``engine``)."""

    def __init__(self, path: Path | None = None, engine: Engine | None = None):
        self.engine = store_engine(path, engine, META)
        self.path = Path(path) if path is not None else None
        self._locks = (AdvisorySessionLocks(self.engine) if is_postgres(self.engine)
                       else FileSessionLocks(self.path.parent / "session-locks"))
        if not is_postgres(self.engine):
            add_missing_columns(self.engine, "messages", ROUTING_COLUMNS)

    def turn(self, session_id: str) -> contextlib.AbstractContextManager[None]:
        """Hold the session for one turn: a second message of the same session waits until the
        first is answered and stored, so its state and history include the first one's (two
        order-flow messages in flight would otherwise each save a state without the other's)."""
        return self._locks.hold(session_id)

    def ensure_session(self, session_id: str | None) -> str:
        """Return ``session_id`` (created if new) or a fresh id."""
        session_id = session_id or uuid.uuid4().hex
        with self.engine.begin() as conn:
            conn.execute(sql("INSERT INTO sessions (id, created) VALUES (:id, :t) ON CONFLICT (id) DO NOTHING"),
                         {"id": session_id, "t": time.time()})
        return session_id

    def add(self, session_id: str, role: str, text: str, **fields: Any) -> None:
        """Append a message; ``fields`` may hold path, lang, standalone, sources, timings, meta,
        route, intent, sentiment, score and latency_ms."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        row = {"session_id": session_id, "role": role, "text": text, "created": time.time(),
               **{k: fields.get(k) for k in ("path", "lang", "standalone", "route", "intent", "sentiment", "score",
                                             "latency_ms")},
               "sources": json.dumps(fields.get("sources") or [], ensure_ascii=False),
               "timings": json.dumps(fields.get("timings") or {}),
               "meta": json.dumps(fields.get("meta") or {}, ensure_ascii=False)}
        with self.engine.begin() as conn:
            conn.execute(MESSAGES.insert(), row)

    def history(self, session_id: str, limit: int = 12) -> list[dict[str, Any]]:
        """The last ``limit`` messages, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sql(
                "SELECT role, text, path, lang, standalone, meta, route, intent, sentiment FROM messages "
                "WHERE session_id = :s ORDER BY id DESC LIMIT :n"), {"s": session_id, "n": limit}).mappings().all()
        return [{**dict(r), "meta": json.loads(r["meta"] or "{}")} for r in reversed(rows)]

    def state(self, session_id: str) -> dict[str, Any]:
        """The session's dialogue state (order flow slots, verified orders)."""
        with self.engine.connect() as conn:
            value = conn.execute(sql("SELECT state FROM session_state WHERE session_id = :s"),
                                 {"s": session_id}).scalar()
        return json.loads(value) if value else {}

    def save_state(self, session_id: str, state: dict[str, Any]) -> None:
        """Replace the session's dialogue state."""
        with self.engine.begin() as conn:
            conn.execute(sql("INSERT INTO session_state (session_id, state, updated) VALUES (:s, :state, :t) "
                              "ON CONFLICT (session_id) DO UPDATE SET state = excluded.state, updated = excluded.updated"),
                         {"s": session_id, "state": json.dumps(state, ensure_ascii=False), "t": time.time()})

    def sessions(self) -> list[str]:
        """All session ids, oldest first."""
        with self.engine.connect() as conn:
            return list(conn.execute(sql("SELECT id FROM sessions ORDER BY created, id")).scalars())

    def messages(self, session_id: str) -> list[dict[str, Any]]:
        """Every message of a session, oldest first, with its routing columns."""
        return [_decoded(r) for r in fetch_all(self.engine, "SELECT * FROM messages WHERE session_id = :s ORDER BY id",
                                               s=session_id)]

    def since(self, since: float) -> Iterator[dict[str, Any]]:
        """Every message created at or after ``since`` (epoch seconds), in order, decoded."""
        return (_decoded(r) for r in fetch_all(self.engine, "SELECT * FROM messages WHERE created >= :t ORDER BY id",
                                               t=since))


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("sources", "timings", "meta"):
        out[key] = json.loads(out[key] or "null")
    return out
