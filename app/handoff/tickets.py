"""Handoff tickets: what a person needs to pick up a conversation, plus an optional webhook.

A ticket holds the conversation, a short summary, the reason for the handoff, the intent,
sentiment and language. When ``handoff_webhook_url`` is configured the ticket is POSTed there
as JSON (a shop's helpdesk, Slack bridge, ...); the outcome is stored on the ticket, and a
webhook that is down never blocks or breaks the customer's reply beyond its short timeout.
"""
from __future__ import annotations

import json
import logging
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, Float, Index, Integer, MetaData, Table, Text
from sqlalchemy import text as sql

from shopqa.storage.engine import fetch_all, store_engine

log = logging.getLogger("shopqa.tickets")
REF = re.compile(r"^(?:T-?)?0*(\d{1,9})$", re.IGNORECASE)  # a ticket ref as staff type it: T-000012, t12, 12

META = MetaData()
TICKETS = Table(
    "tickets", META, Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", Text, nullable=False), Column("created", Float, nullable=False),
    Column("status", Text, nullable=False, server_default="open"), Column("reason", Text, nullable=False),
    Column("intent", Text), Column("sentiment", Text), Column("score", Float), Column("lang", Text),
    Column("summary", Text, nullable=False), Column("conversation", Text, nullable=False), Column("webhook", Text),
    Column("closed", Float), Index("tickets_session", "session_id", "status"))
FAQ_CANDIDATES = Table(
    "faq_candidates", META, Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created", Float, nullable=False), Column("ticket_id", Integer), Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False), Column("lang", Text), Column("author", Text))


def ticket_ref(ticket_id: int) -> str:
    """The ticket number customers and staff see."""
    return f"T-{ticket_id:06d}"


def _matches(ticket: dict[str, Any], query: str, ref_id: int | None) -> bool:
    said = " ".join(m.get("text", "") for m in ticket["conversation"] if m.get("role") == "customer")
    return (ticket["id"] == ref_id or query in ticket["summary"].lower() or query in ticket["session_id"].lower()
            or query in said.lower())


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
    """Tickets in a SQLite file (``path``, WAL) or a shared database (``engine``).

    FAQ candidates are also appended to ``faq_file`` (default: ``faq-candidates.jsonl`` beside
    the SQLite file) for the shop to review.
    """

    def __init__(self, path: Path | None = None, webhook_url: str = "", webhook_timeout: float = 3.0,
                 engine: Engine | None = None, faq_file: Path | None = None):
        if webhook_url and not webhook_url.startswith(("http://", "https://")):
            raise ValueError(f"handoff webhook must be an http(s) URL, got {webhook_url!r}")
        if webhook_timeout <= 0:
            raise ValueError("webhook timeout must be positive")
        self.path = Path(path) if path is not None else None
        self.faq_file = faq_file or (self.path.with_name("faq-candidates.jsonl") if self.path else None)
        self.webhook_url = webhook_url
        self.webhook_timeout = webhook_timeout
        self.engine = store_engine(path, engine, META)

    def _rows(self, query: str, **params) -> list[dict[str, Any]]:
        return fetch_all(self.engine, query, **params)

    def _write(self, query: str, **params) -> Any:
        """Run one statement in its own transaction; the first value it returns (an id), if any."""
        with self.engine.begin() as conn:
            result = conn.execute(sql(query), params)
            # Read before the commit: SQLite cannot commit while a RETURNING cursor is open.
            return result.scalar_one() if result.returns_rows else None

    def open_for(self, session_id: str) -> dict[str, Any] | None:
        """The session's open ticket, if any (a session has at most one)."""
        rows = self._rows("SELECT * FROM tickets WHERE session_id = :s AND status = 'open' ORDER BY id DESC",
                          s=session_id)
        return self._dict(rows[0]) if rows else None

    def create(self, session_id: str, conversation: list[dict[str, Any]], reason: str, intent: str | None,
               sentiment: dict[str, Any] | None, lang: str) -> dict[str, Any]:
        """Open a ticket and send it to the webhook (if configured)."""
        summary = summarise(conversation, reason, intent)
        ticket_id = self._write(
            "INSERT INTO tickets (session_id, created, status, reason, intent, sentiment, score, lang, summary, "
            "conversation) VALUES (:s, :t, 'open', :reason, :intent, :sentiment, :score, :lang, :summary, :conv) "
            "RETURNING id", s=session_id, t=time.time(), reason=reason, intent=intent,
            sentiment=(sentiment or {}).get("label"), score=(sentiment or {}).get("score"), lang=lang,
            summary=summary, conv=json.dumps(conversation, ensure_ascii=False))
        ticket = self.get(ticket_id)
        if self.webhook_url:
            status = self._post(ticket)
            self._write("UPDATE tickets SET webhook = :w WHERE id = :id", w=status, id=ticket_id)
            ticket["webhook"] = status
        log.info("handoff ticket %s session=%s reason=%s", ticket["ref"], session_id, reason)
        return ticket

    def get(self, ticket_id: int) -> dict[str, Any] | None:
        """One ticket as a dict."""
        rows = self._rows("SELECT * FROM tickets WHERE id = :id", id=ticket_id)
        return self._dict(rows[0]) if rows else None

    def list(self, status: str | None = "open", query: str = "") -> list[dict[str, Any]]:
        """Tickets, newest first, optionally by status and by ``query``: text in the summary or
        the conversation (case-insensitive), a session id, or a ticket ref ("T-000012", "12")."""
        where, params = [], {}
        if status:
            where.append("status = :st")
            params["st"] = status
        query = query.strip()
        if query:
            escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params["like"] = f"%{escaped}%"
            match = ["lower(summary) LIKE :like ESCAPE '\\'", "lower(conversation) LIKE :like ESCAPE '\\'",
                     "lower(session_id) LIKE :like ESCAPE '\\'"]
            ref = REF.match(query)
            if ref:
                match.append("id = :ref_id")
                params["ref_id"] = int(ref.group(1))
            where.append("(" + " OR ".join(match) + ")")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        found = [self._dict(r) for r in self._rows(f"SELECT * FROM tickets{clause} ORDER BY id DESC", **params)]
        # The conversation column is JSON with the bot's replies too: only the customer's words count.
        return [t for t in found if not query or _matches(t, query.lower(), params.get("ref_id"))]

    def close(self, ticket_id: int) -> None:
        """Mark a ticket closed."""
        self._write("UPDATE tickets SET status = 'closed', closed = :t WHERE id = :id", t=time.time(), id=ticket_id)

    def add_faq_candidate(self, ticket_id: int | None, question: str, answer: str, lang: str,
                          author: str) -> dict[str, Any]:
        """Keep a staff answer as a FAQ candidate and append it to ``faq-candidates.jsonl``.

        The JSONL file (beside the database) is in the ``faqs/`` format: a shop reviews it and
        moves the good ones into its faqs/ folder, and the next ingest serves them as curated.
        """
        question, answer = " ".join(question.split()), answer.strip()
        if not question or not answer:
            raise ValueError("a FAQ candidate needs a question and an answer")
        new_id = self._write("INSERT INTO faq_candidates (created, ticket_id, question, answer, lang, author) "
                             "VALUES (:t, :ticket, :q, :a, :lang, :author) RETURNING id", t=time.time(),
                             ticket=ticket_id, q=question, a=answer, lang=lang, author=author)
        row = {"question": question, "answer": answer, "lang": lang, "tags": ["from-handoff"],
               "category": "candidates"}
        if self.faq_file is not None:
            self.faq_file.parent.mkdir(parents=True, exist_ok=True)
            with open(self.faq_file, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        return {"id": new_id, **row}

    def faq_candidates(self) -> list[dict[str, Any]]:
        """All FAQ candidates, newest first."""
        return self._rows("SELECT * FROM faq_candidates ORDER BY id DESC")

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
    def _dict(row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        out["ref"] = ticket_ref(out["id"])
        out["conversation"] = json.loads(out["conversation"])
        return out
