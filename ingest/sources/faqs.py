"""FAQ pairs from .csv (``question,answer`` + optional ``category,tags,lang``) or .jsonl."""
from __future__ import annotations

import hashlib
from pathlib import Path

from ..chunking import detect_lang
from ..records import Problem, SourceRecord, Unit
from .tabular import as_list, complete_rows, norm_key

EXTENSIONS = (".csv", ".jsonl")
REQUIRED = ("question", "answer")


def parse(path: Path, rel: str, text: str, chunk_tokens: int) -> tuple[list[SourceRecord], list[Problem]]:
    """One record and one unit per FAQ; keyed by its question, so editing the answer replaces it."""
    problems: list[Problem] = []
    records: list[SourceRecord] = []
    seen: dict[str, int] = {}
    for line, row in complete_rows(text, rel, path.suffix.lower(), REQUIRED, problems):
        question, answer = str(row["question"]).strip(), str(row["answer"]).strip()
        ident = str(row.get("id") or "").strip() or hashlib.sha1(norm_key(question).encode()).hexdigest()[:12]
        if ident in seen:
            problems.append(Problem(rel, line, f"duplicate question (first at line {seen[ident]}); skipped"))
            continue
        seen[ident] = line
        lang = str(row.get("lang") or detect_lang(question + answer))
        category = str(row.get("category") or "")
        tags = as_list(row.get("tags"))
        unit = Unit(text=f"Q: {question}\nA: {answer}", title=question, lang=lang,
                    meta={"question": question, "answer": answer, "category": category, "tags": tags})
        records.append(SourceRecord(key=f"faq:{rel}#{ident}", type="faq", source=rel, line=line, units=[unit],
                                    data={"question": question, "answer": answer, "category": category}))
    return records, problems
