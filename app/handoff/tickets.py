"""Handoff tickets: what a person needs to pick up a conversation, plus an optional webhook.

A ticket holds the conversation, a short summary, the reason for the handoff, the intent,
sentiment and language. When ``handoff_webhook_url`` is configured the ticket is POSTed there
as JSON (a shop's helpdesk, Slack bridge, ...); the outcome is stored on the ticket, and a
webhook that is down never blocks or breaks the customer's reply beyond its short timeout.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from shopqa.sqlite_local import ThreadLocalConnection

log = logging.getLogger("shopqa.tickets")

SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, created REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'open', reason TEXT NOT NULL, intent TEXT, sentiment TEXT, score REAL,
    lang TEXT, summary TEXT NOT NULL, conversation TEXT NOT NULL, webhook TEXT, closed REAL
);
CREATE INDEX IF NOT EXISTS tickets_session ON tickets(session_id, status);
CREATE TABLE IF NOT EXISTS faq_candidates (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL, ticket_id INTEGER, question TEXT NOT NULL,
    answer TEXT NOT NULL, lang TEXT, author TEXT
);
"""


def ticket_ref(ticket_id: int) -> str:
    """The ticket number customers and staff see."""
    return f"T-{ticket_id:06d}"


def summarise(conversation: list[dict[str, Any]], reason: str, intent: str | None, limit: int = 280) -> str:
    """A short, extractive summary: why, the intent, and the customer's first and last words."""
    said = [m["text"] for m in conversation if m.get("role") == "customer"]
    first = said[0] if said else ""
    last = said[-1] if len(said) > 1 else ""
    clip = lambda t, n: t if len(t) <= n else t[: n - 1] + "…"  # noqa: E731
    text = f"{reason}; intent {intent or '-'}: \"{clip(first, 120)}\""
    if last and last != first:
        text += f" … latest: \"{clip(last, 100)}\""
    return clip(text, limit)


class TicketStore:
    """Tickets in SQLite (WAL) in ``data_dir/tickets.sqlite``."""

    def __init__(self, path: Path, webhook_url: str = "", webhook_timeout: float = 3.0):
        if webhook_url and not webhook_url.startswith(("http://", "https://")):
            raise ValueError(f"handoff webhook must be an http(s) URL, got {webhook_url!r}")
        if webhook_timeout <= 0:
            raise ValueError("webhook timeout must be positive")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.webhook_url = webhook_url
        self.webhook_timeout = webhook_timeout
        self._conn = ThreadLocalConnection(self.path)
        with self._conn() as conn:
            conn.executescript(SCHEMA)


    def open_for(self, session_id: str) -> dict[str, Any] | None:
        """The session's open ticket, if any (a session has at most one)."""
        row = self._conn().execute("SELECT * FROM tickets WHERE session_id = ? AND status = 'open' ORDER BY id DESC",
                                   (session_id,)).fetchone()
        return self._dict(row) if row else None

    def create(self, session_id: str, conversation: list[dict[str, Any]], reason: str, intent: str | None,
               sentiment: dict[str, Any] | None, lang: str) -> dict[str, Any]:
        """Open a ticket and send it to the webhook (if configured)."""
        summary = summarise(conversation, reason, intent)
        with self._conn() as conn:
            cur = conn.execute(
                "INSERT INTO tickets (session_id, created, reason, intent, sentiment, score, lang, summary, conversation) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, time.time(), reason, intent, (sentiment or {}).get("label"), (sentiment or {}).get("score"),
                 lang, summary, json.dumps(conversation, ensure_ascii=False)))
            ticket_id = cur.lastrowid
        ticket = self.get(ticket_id)
        if self.webhook_url:
            status = self._post(ticket)
            with self._conn() as conn:
                conn.execute("UPDATE tickets SET webhook = ? WHERE id = ?", (status, ticket_id))
            ticket["webhook"] = status
        log.info("handoff ticket %s session=%s reason=%s", ticket["ref"], session_id, reason)
        return ticket

    def get(self, ticket_id: int) -> dict[str, Any] | None:
        """One ticket as a dict."""
        row = self._conn().execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        return self._dict(row) if row else None

    def list(self, status: str | None = "open") -> list[dict[str, Any]]:
        """Tickets, newest first, optionally by status."""
        if status:
            rows = self._conn().execute("SELECT * FROM tickets WHERE status = ? ORDER BY id DESC", (status,))
        else:
            rows = self._conn().execute("SELECT * FROM tickets ORDER BY id DESC")
        return [self._dict(r) for r in rows]

    def close(self, ticket_id: int) -> None:
        """Mark a ticket closed."""
        with self._conn() as conn:
            conn.execute("UPDATE tickets SET status = 'closed', closed = ? WHERE id = ?", (time.time(), ticket_id))

    def add_faq_candidate(self, ticket_id: int | None, question: str, answer: str, lang: str,
                          author: str) -> dict[str, Any]:
        """Keep a staff answer as a FAQ candidate and append it to ``faq-candidates.jsonl``.

        The JSONL file (beside the database) is in the ``faqs/`` format: a shop reviews it and
        moves the good ones into its faqs/ folder, and the next ingest serves them as curated.
        """
        question, answer = " ".join(question.split()), answer.strip()
        if not question or not answer:
            raise ValueError("a FAQ candidate needs a question and an answer")
        with self._conn() as conn:
            cur = conn.execute("INSERT INTO faq_candidates (created, ticket_id, question, answer, lang, author) "
                               "VALUES (?, ?, ?, ?, ?, ?)", (time.time(), ticket_id, question, answer, lang, author))
        row = {"question": question, "answer": answer, "lang": lang, "tags": ["from-handoff"],
               "category": "candidates"}
        with open(self.path.with_name("faq-candidates.jsonl"), "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        return {"id": cur.lastrowid, **row}

    def faq_candidates(self) -> list[dict[str, Any]]:
        """All FAQ candidates, newest first."""
        return [dict(r) for r in self._conn().execute("SELECT * FROM faq_candidates ORDER BY id DESC")]

    def _post(self, ticket: dict[str, Any]) -> str:
        body = json.dumps({"event": "handoff", "ticket": ticket}, ensure_ascii=False).encode("utf-8")
        req = urllib.request.Request(self.webhook_url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "shopqa"})
        try:
            with urllib.request.urlopen(req, timeout=self.webhook_timeout) as resp:
                return f"sent {resp.status}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            log.warning("handoff webhook %s failed for ticket %s: %s", self.webhook_url, ticket["ref"], exc)
            return f"failed: {exc}"

    @staticmethod
    def _dict(row: sqlite3.Row) -> dict[str, Any]:
        out = dict(row)
        out["ref"] = ticket_ref(out["id"])
        out["conversation"] = json.loads(out["conversation"])
        return out
