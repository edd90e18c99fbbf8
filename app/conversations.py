"""Conversations in SQLite (WAL), so follow-ups work across calls and processes."""
from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, created REAL NOT NULL, customer TEXT);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL REFERENCES sessions(id),
    role TEXT NOT NULL, text TEXT NOT NULL, created REAL NOT NULL,
    path TEXT, lang TEXT, standalone TEXT, sources TEXT, timings TEXT, meta TEXT
);
CREATE INDEX IF NOT EXISTS messages_session ON messages(session_id, id);
"""


class ConversationStore:
    """Sessions and their messages; one connection per thread."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10)
            conn.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def ensure_session(self, session_id: str | None) -> str:
        """Return ``session_id`` (created if new) or a fresh id."""
        session_id = session_id or uuid.uuid4().hex
        with self._conn() as conn:
            conn.execute("INSERT OR IGNORE INTO sessions (id, created) VALUES (?, ?)", (session_id, time.time()))
        return session_id

    def add(self, session_id: str, role: str, text: str, **fields: Any) -> None:
        """Append a message; ``fields`` may hold path, lang, standalone, sources, timings, meta."""
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO messages (session_id, role, text, created, path, lang, standalone, sources, timings, meta) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, role, text, time.time(), fields.get("path"), fields.get("lang"), fields.get("standalone"),
                 json.dumps(fields.get("sources") or [], ensure_ascii=False),
                 json.dumps(fields.get("timings") or {}), json.dumps(fields.get("meta") or {}, ensure_ascii=False)))

    def history(self, session_id: str, limit: int = 12) -> list[dict[str, Any]]:
        """The last ``limit`` messages, oldest first."""
        rows = self._conn().execute(
            "SELECT role, text, path, lang, standalone, meta FROM messages WHERE session_id = ? "
            "ORDER BY id DESC LIMIT ?", (session_id, limit)).fetchall()
        return [{**dict(r), "meta": json.loads(r["meta"] or "{}")} for r in reversed(rows)]
