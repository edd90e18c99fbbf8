"""The scoring rules of ``shopqa eval shop`` (those of ``shared/dev-shops``):

- ``answer``: the last reply holds, for every inner list of ``expect``, one alternative; the
  path is not ``abstained``; it states no number found neither in the shop's files nor in the
  question;
- ``abstain``: the reply abstains (path ``abstained``/``out_of_scope``, a handoff, or it says it
  found nothing), holds no ``forbid`` string and no invented number;
- ``route``: the intent is ``intent`` and a handoff happened exactly when ``handoff`` is true;
- ``order``: no reply holds a ``forbid`` string, and the last reply matches ``expect_last``.

Matching is case-insensitive substring matching, except that an alternative made only of digits
and separators must match a whole number ("45" does not match "145" or "4.5").
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterable

from shopqa.evals.shop_cases import Case

# A reply that says plainly it found nothing counts as abstaining (the README's examples and
# their usual variants, in both languages).
NOTHING_FOUND = re.compile(
    r"\b(i don'?t know|i do not know|couldn'?t find|could not find|can'?t find|cannot find|did not find|"
    r"didn'?t find|no information|not (?:able|sure)|unable to find)\b|没有找到|没找到|不知道|无法回答|找不到|暂无",
    re.IGNORECASE)
# A comma is a thousands mark only before three digits ("1,500"); "180,90,76" in a CSV row is three numbers.
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_NUMERIC_ALT = re.compile(r"^[\d\s.,:/\-]+$")
# Not facts: citation markers "[2]" and handoff ticket numbers "T-000012".
_NOT_FACTS = re.compile(r"\[\d+\]|\bT-\d{4,}\b")
_TEXT_SUFFIXES = {".md", ".txt", ".html", ".htm", ".csv", ".jsonl", ".json", ".toml", ".yaml", ".yml"}


def _canonical(number: str) -> str:
    """'1,500' -> '1500', '75.00' -> '75', '6.95' -> '6.95' (a comma between digits is a thousands mark)."""
    plain = number.replace(",", "")
    try:
        value = float(plain)
    except ValueError:
        return plain
    return str(int(value)) if value == int(value) else f"{value:g}"


def numbers_in(text: str) -> set[str]:
    """The numbers a text states, canonical, citation markers and ticket numbers left out."""
    return {_canonical(n) for n in _NUMBER.findall(_NOT_FACTS.sub(" ", text))}


def shop_numbers(shop_dir: Path) -> set[str]:
    """Every number written anywhere in the shop's files (any text encoding)."""
    found: set[str] = set()
    for path in Path(shop_dir).rglob("*"):
        if not path.is_file() or path.suffix.lower() not in _TEXT_SUFFIXES:
            continue
        raw = path.read_bytes()
        for encoding in ("utf-8-sig", "gb18030", "latin-1"):
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        # A file's "60,195" may be one number or two CSV fields: it holds either reading.
        for run in re.findall(r"\d+(?:[.,]\d+)*", text):
            found.add(_canonical(run))
            found |= {_canonical(piece) for piece in run.split(",") if piece}
            found |= {_canonical(n) for n in _NUMBER.findall(run)}
    return found


def has(reply: str, alternative: str) -> bool:
    """Case-insensitive substring match; a numeric alternative must match a whole number."""
    if _NUMBER.fullmatch(alternative.strip()):
        # One number: equal in value to a number the reply states ("289" is "289.00", not "2890").
        return _canonical(alternative.strip()) in numbers_in(reply)
    if _NUMERIC_ALT.match(alternative):
        pattern = r"(?<![\d.,])" + re.escape(alternative.strip()) + r"(?![\d]|[.,]\d)"
        return re.search(pattern, reply) is not None
    return alternative.lower() in reply.lower()


def matches(reply: str, expect: list[list[str]]) -> bool:
    """True when the reply holds one alternative of every inner list."""
    return all(any(has(reply, alt) for alt in alts) for alts in expect)


def invented(reply: str, known: set[str], case: Case) -> list[str]:
    """Numbers in the reply found neither in the shop's files nor in the case's own messages."""
    asked = set().union(*(numbers_in(t) for t in case.turns))
    return sorted(numbers_in(reply) - known - asked)


def abstains(reply: dict) -> bool:
    """The reply declines: abstained or out of scope, a handoff, or it says it found nothing."""
    return (reply.get("path") in ("abstained", "out_of_scope") or bool(reply.get("handoff"))
            or NOTHING_FOUND.search(reply.get("answer", "")) is not None)


def grade(case: Case, replies: list[dict], known: set[str]) -> dict[str, Any]:
    """Whether the service's replies to ``case`` pass, and why not."""
    last = replies[-1]
    text = last.get("answer", "")
    why: list[str] = []
    made_up = sorted(set().union(*(invented(r.get("answer", ""), known, case) for r in replies)))
    if case.kind == "answer":
        if not matches(text, case.expect):
            why.append(f"expected one of each: {case.expect}")
        if last.get("path") == "abstained":
            why.append("abstained")
    elif case.kind == "abstain":
        if not abstains(last):
            why.append("did not abstain")
        hit = [f for f in case.forbid if has(text, f)]
        if hit:
            why.append(f"states {hit}")
    elif case.kind == "route":
        name = (last.get("intent") or {}).get("name")
        handed = any(r.get("handoff") for r in replies)
        if name != case.intent:
            why.append(f"intent {name}, expected {case.intent}")
        if handed != case.handoff:
            why.append(f"handoff {handed}, expected {case.handoff}")
    else:  # order
        leaked = [f for r in replies for f in case.forbid if has(r.get("answer", ""), f)]
        if leaked:
            why.append(f"leaked {sorted(set(leaked))}")
        if not matches(text, case.expect):
            why.append(f"last reply expected one of each: {case.expect}")
    if made_up and case.kind in ("answer", "abstain"):
        why.append(f"invented numbers {made_up}")
    return {"id": case.id, "kind": case.kind, "lang": case.lang, "topic": case.topic or "-",
            "passed": not why, "why": why, "invented": made_up,
            "leaked": case.kind == "order" and any(w.startswith("leaked") for w in why),
            "turns": case.turns, "path": last.get("path"), "route": last.get("route"),
            "intent": (last.get("intent") or {}).get("name"), "reply": text}


def grade_baseline(case: Case, answer: str, known: set[str]) -> dict[str, Any]:
    """The plain RetrievalQA's answer graded by the same rules (it has no paths or routes)."""
    reply = {"answer": answer, "path": "generated"}
    if case.kind == "abstain":
        reply["path"] = "abstained" if NOTHING_FOUND.search(answer) else "generated"
    return grade(case, [reply], known)


def summarize(results: list[dict], baseline: list[dict] | None = None) -> dict[str, Any]:
    """Pass counts by kind, language and topic, invented numbers and leaked order data."""
    def tally(rows: Iterable[dict], key: Callable[[dict], str]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for r in rows:
            out[key(r)][0] += r["passed"]
            out[key(r)][1] += 1
        return dict(sorted(out.items()))

    summary = {"cases": len(results), "passed": sum(r["passed"] for r in results),
               "by_kind": tally(results, lambda r: r["kind"]),
               "by_lang": tally(results, lambda r: f"{r['kind']}/{r['lang'] or '-'}"),
               "by_topic": tally(results, lambda r: f"{r['kind']}/{r['topic']}"),
               "invented_numbers": sum(bool(r["invented"]) for r in results if r["kind"] in ("answer", "abstain")),
               "order_data_leaked": sum(r["leaked"] for r in results)}
    if baseline is not None:
        summary["baseline_by_kind"] = tally(baseline, lambda r: r["kind"])
        summary["baseline_invented_numbers"] = sum(bool(r["invented"]) for r in baseline)
    return summary
