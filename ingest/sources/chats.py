"""Past chat transcripts (.jsonl, one conversation a line); resolved ones yield Q/A pairs."""
from __future__ import annotations

from pathlib import Path

from ..chunking import detect_lang
from ..records import Problem, SourceRecord, Unit
from ..redact import drop_salutation_name, redact
from .tabular import as_list, rows

EXTENSIONS = (".jsonl",)
ROLES = {"customer", "agent"}


def _pairs(messages: list[dict[str, str]]) -> list[tuple[str, str]]:
    """Join consecutive customer turns into a question and the agent turns after it into its answer."""
    pairs: list[tuple[str, str]] = []
    question: list[str] = []
    answer: list[str] = []
    for msg in messages:
        if msg["role"] == "customer":
            if answer:
                pairs.append((" ".join(question), " ".join(answer)))
                question, answer = [], []
            question.append(msg["text"])
        elif question:
            answer.append(msg["text"])
    if question and answer:
        pairs.append((" ".join(question), " ".join(answer)))
    return pairs


def parse(path: Path, rel: str, text: str, chunk_tokens: int) -> tuple[list[SourceRecord], list[Problem]]:
    """One record per conversation; PII is redacted before anything is kept."""
    problems: list[Problem] = []
    records: list[SourceRecord] = []
    seen: dict[str, int] = {}
    for line, row in rows(text, rel, ".jsonl", problems):
        conv_id = str(row.get("id") or "").strip()
        messages = row.get("messages")
        if not conv_id or not isinstance(messages, list) or not messages:
            problems.append(Problem(rel, line, "a conversation needs an 'id' and a non-empty 'messages' list; skipped"))
            continue
        if conv_id in seen:
            problems.append(Problem(rel, line, f"duplicate conversation id {conv_id!r} (first at line {seen[conv_id]}); skipped"))
            continue
        clean: list[dict[str, str]] = []
        bad = ""
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict) or msg.get("role") not in ROLES or not isinstance(msg.get("text"), str):
                bad = f"message {i + 1} needs 'role' (customer or agent) and 'text'"
                break
            if msg["text"].strip():
                text = redact(msg["text"].strip())
                if msg["role"] == "agent":
                    text = drop_salutation_name(text)
                clean.append({"role": msg["role"], "text": text})
        if bad:
            problems.append(Problem(rel, line, f"{bad}; conversation skipped"))
            continue
        seen[conv_id] = line
        resolved = row.get("resolved") is True
        tags = as_list(row.get("tags"))
        units = []
        if resolved:
            for pos, (question, answer) in enumerate(_pairs(clean)):
                units.append(Unit(text=f"Customer: {question}\nAgent: {answer}", title=f"Chat {conv_id}",
                                  position=pos, lang=detect_lang(question),
                                  meta={"question": question, "answer": answer, "tags": tags}))
        records.append(SourceRecord(key=f"chat:{rel}#{conv_id}", type="chat", source=rel, line=line, units=units,
                                    data={"id": conv_id, "resolved": resolved, "tags": tags, "messages": clean}))
    return records, problems
