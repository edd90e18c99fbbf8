"""The graded questions of ``shopqa eval shop``: one JSON object a line, read and checked here.

Kinds (the format of ``shared/dev-shops``): ``answer`` (``expect``), ``abstain`` (``forbid``),
``route`` (``intent``, ``handoff``) and ``order`` (``forbid``, ``expect_last``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("answer", "abstain", "route", "order")
REQUIRED = {"answer": ("expect",), "abstain": (), "route": ("intent", "handoff"), "order": ("expect_last",)}


class CasesError(Exception):
    """The questions file cannot be used; the message names the file, the line and the fix."""


@dataclass
class Case:
    """One graded customer question (or conversation)."""

    id: str
    kind: str
    turns: list[str]
    lang: str = ""
    topic: str = ""
    expect: list[list[str]] = field(default_factory=list)
    forbid: list[str] = field(default_factory=list)
    intent: str = ""
    handoff: bool = False
    src: Any = None


def load_cases(path: Path) -> list[Case]:
    """Read a questions.jsonl file; every malformed line is reported as ``path:line: problem``."""
    cases, problems = [], []
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CasesError(f"{path}: cannot read the questions file: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not valid JSON ({exc.msg}); write one JSON object per line")
            continue
        if not isinstance(row, dict):
            problems.append(f"{where}: a case must be a JSON object")
            continue
        kind = row.get("kind")
        turns = row.get("turns")
        if kind not in KINDS:
            problems.append(f"{where}: 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
            continue
        if not (isinstance(turns, list) and turns and all(isinstance(t, str) and t.strip() for t in turns)):
            problems.append(f"{where}: 'turns' must be a non-empty list of messages")
            continue
        missing = [name for name in REQUIRED[kind] if name not in row]
        if missing:
            problems.append(f"{where}: {kind} cases need {', '.join(repr(m) for m in missing)}")
            continue
        expect = row.get("expect_last" if kind == "order" else "expect") or []
        if not (isinstance(expect, list) and all(isinstance(alts, list) and alts for alts in expect)):
            problems.append(f"{where}: 'expect' must be a list of lists of alternatives, e.g. [[\"30\", \"thirty\"]]")
            continue
        cases.append(Case(id=str(row.get("id", f"line{number}")), kind=kind, turns=turns, lang=row.get("lang", ""),
                          topic=row.get("topic", ""), expect=[[str(a) for a in alts] for alts in expect],
                          forbid=[str(f) for f in row.get("forbid") or []], intent=row.get("intent", ""),
                          handoff=bool(row.get("handoff", False)), src=row.get("src")))
    if problems:
        raise CasesError("\n".join(problems))
    if not cases:
        raise CasesError(f"{path}: no cases found; write one JSON object per line")
    return cases
