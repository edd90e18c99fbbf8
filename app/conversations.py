"""Conversations in SQLite (WAL), so follow-ups work across calls and processes."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

from shopqa.sqlite_local import ThreadLocalConnection

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, created REAL NOT NULL, customer TEXT);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL REFERENCES sessions(id),
    role TEXT NOT NULL, text TEXT NOT NULL, created REAL NOT NULL,
    path TEXT, lang TEXT, standalone TEXT, sources TEXT, timings TEXT, meta TEXT
);
CREATE INDEX IF NOT EXISTS messages_session ON messages(session_id, id);
CREATE TABLE IF NOT EXISTS session_state (session_id TEXT PRIMARY KEY, state TEXT NOT NULL, updated REAL NOT NULL);
"""
# Columns added after the first release; added to older databases on open.
ROUTING_COLUMNS = {"route": "TEXT", "intent": "TEXT", "sentiment": "TEXT", "score": "REAL", "latency_ms": "REAL"}


ROLES = ("customer", "assistant", "agent")  # agent: a person from the shop's staff
# Sessions share this many lock files: two sessions wait for each other only when they land on
# one stripe (about 3% of pairs among 16 concurrent sessions), and the folder stays bounded.
LOCK_STRIPES = 4096


class ConversationStore:
    """Sessions and their messages; one connection per thread."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = ThreadLocalConnection(self.path)
        self._locks = self.path.parent / "session-locks"
        self._locks.mkdir(exist_ok=True)
        with self._conn() as conn:
            conn.executescript(SCHEMA)
            have = {r[1] for r in conn.execute("PRAGMA table_info(messages)")}
            for name, kind in ROUTING_COLUMNS.items():
                if name not in have:
                    try:
                        conn.execute(f"ALTER TABLE messages ADD COLUMN {name} {kind}")
                    except sqlite3.OperationalError as exc:  # another process added it first
                        if "duplicate column" not in str(exc):
                            raise


    @contextlib.contextmanager
    def turn(self, session_id: str) -> Iterator[None]:
        """Hold the session for one turn: a second message of the same session waits until the
        first is answered and stored, so its state and history include the first one's (two
        order-flow messages in flight would otherwise each save a state without the other's).
        A file lock, so it holds across the threads and worker processes of one machine."""
        stripe = int(hashlib.sha1(session_id.encode("utf-8")).hexdigest(), 16) % LOCK_STRIPES
        with open(self._locks / f"{stripe:04d}.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def ensure_session(self, session_id: str | None) -> str:
        """Return ``session_id`` (created if new) or a fresh id."""
        session_id = session_id or uuid.uuid4().hex
        with self._conn() as conn:
            conn.execute("INSERT OR IGNORE INTO sessions (id, created) VALUES (?, ?)", (session_id, time.time()))
        return session_id

    def add(self, session_id: str, role: str, text: str, **fields: Any) -> None:
        """Append a message; ``fields`` may hold path, lang, standalone, sources, timings, meta,
        route, intent, sentiment, score and latency_ms."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO messages (session_id, role, text, created, path, lang, standalone, sources, timings, meta, "
                "route, intent, sentiment, score, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, role, text, time.time(), fields.get("path"), fields.get("lang"), fields.get("standalone"),
                 json.dumps(fields.get("sources") or [], ensure_ascii=False),
                 json.dumps(fields.get("timings") or {}), json.dumps(fields.get("meta") or {}, ensure_ascii=False),
                 fields.get("route"), fields.get("intent"), fields.get("sentiment"), fields.get("score"),
                 fields.get("latency_ms")))

    def history(self, session_id: str, limit: int = 12) -> list[dict[str, Any]]:
        """The last ``limit`` messages, oldest first."""
        rows = self._conn().execute(
            "SELECT role, text, path, lang, standalone, meta, route, intent, sentiment FROM messages WHERE session_id = ? "
            "ORDER BY id DESC LIMIT ?", (session_id, limit)).fetchall()
        return [{**dict(r), "meta": json.loads(r["meta"] or "{}")} for r in reversed(rows)]

    def state(self, session_id: str) -> dict[str, Any]:
        """The session's dialogue state (order flow slots, verified orders)."""
        row = self._conn().execute("SELECT state FROM session_state WHERE session_id = ?", (session_id,)).fetchone()
        return json.loads(row["state"]) if row else {}

    def save_state(self, session_id: str, state: dict[str, Any]) -> None:
        """Replace the session's dialogue state."""
        with self._conn() as conn:
            conn.execute("INSERT INTO session_state (session_id, state, updated) VALUES (?, ?, ?) "
                         "ON CONFLICT(session_id) DO UPDATE SET state = excluded.state, updated = excluded.updated",
                         (session_id, json.dumps(state, ensure_ascii=False), time.time()))

    def sessions(self) -> list[str]:
        """All session ids, oldest first."""
        return [r[0] for r in self._conn().execute("SELECT id FROM sessions ORDER BY created, id")]

    def messages(self, session_id: str) -> list[dict[str, Any]]:
        """Every message of a session, oldest first, with its routing columns."""
        rows = self._conn().execute("SELECT * FROM messages WHERE session_id = ? ORDER BY id", (session_id,)).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            for key in ("sources", "timings", "meta"):
                d[key] = json.loads(d[key] or "null")
            out.append(d)
        return out
