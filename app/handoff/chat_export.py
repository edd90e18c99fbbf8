"""`shopqa chats export`: stored conversations in the chats JSONL format that ingest reads.

Only what customers and the shop's staff said is exported: the assistant's own replies are
left out, so the next ingest learns from people, not from the bot repeating itself. A
conversation is ``resolved`` when its handoff ticket was closed after a staff reply, and
only resolved conversations yield Q/A pairs at ingest. Its first intent is written as
``intent`` (and as a tag), so the intent classifier can learn from it too.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from shopqa.conversations import ConversationStore
from shopqa.handoff.tickets import TicketStore


def conversations(store: ConversationStore, tickets: TicketStore, resolved_only: bool = False) -> Iterator[dict]:
    """One chats-format dict per stored session that has customer messages."""
    closed = {t["session_id"] for t in tickets.list("closed")}
    for session_id in store.sessions():
        msgs = store.messages(session_id)
        kept = [{"role": m["role"], "text": m["text"]} for m in msgs if m["role"] in ("customer", "agent")]
        if not any(m["role"] == "customer" for m in kept):
            continue
        staff_replied = any(m["role"] == "agent" for m in kept)
        resolved = session_id in closed and staff_replied
        if resolved_only and not resolved:
            continue
        intent = next((m["intent"] for m in msgs if m["role"] == "assistant" and m.get("intent")), None)
        row = {"id": f"shopqa-{session_id}", "messages": kept, "resolved": resolved,
               "tags": [t for t in (intent, "handoff" if session_id in closed else None) if t]}
        if intent:
            row["intent"] = intent
        yield row


def export(store: ConversationStore, tickets: TicketStore, out: Path, resolved_only: bool = False) -> int:
    """Write the JSONL file atomically; returns the number of conversations written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    count = 0
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in conversations(store, tickets, resolved_only):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(out)
    return count
