"""`shopqa eval shop`: score a shop on graded customer questions, as a new user would.

The shop is ingested into a fresh temporary index and data directory, the real service is
built (the Flask app, its models and the LLM), and every case is sent to ``POST /api/chat`` in
a session of its own. Cases follow the format and scoring rules of ``shared/dev-shops``:

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

import json
import re
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

KINDS = ("answer", "abstain", "route", "order")
REQUIRED = {"answer": ("expect",), "abstain": (), "route": ("intent", "handoff"), "order": ("expect_last",)}
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


# -- scoring -------------------------------------------------------------------------------
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


# -- running -------------------------------------------------------------------------------
class ShopRun:
    """A shop ingested into a fresh temporary folder and served in-process by the real app."""

    def __init__(self, shop_dir: Path, settings, workdir: Path | None = None, progress: Callable[[str], None] = print):
        if not Path(shop_dir).is_dir():
            raise CasesError(f"{shop_dir}: shop folder not found")
        self.shop_dir = Path(shop_dir)
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="shopqa-eval-")
        root = Path(workdir or self._tmp.name)
        # A fresh index and data directory: nothing from another run or the live service leaks in.
        self.settings = settings.model_copy(update={
            "index_dir": root / "indexes", "data_dir": root / "var", "cache_dir": settings.cache_path,
            "rate_limit_per_minute": 100_000, "staff_users": {}, "staff_tokens": []})
        self.progress = progress
        self.app = None

    def start(self) -> "ShopRun":
        """Ingest the shop and build the service (models warmed up)."""
        from shopqa.ingest.pipeline import IngestOptions, run

        from shopqa.web import create_app

        t0 = time.perf_counter()
        s = self.settings
        report = run(IngestOptions(shop_dir=self.shop_dir, index_dir=s.index_dir, embedder=s.embedder, rebuild=True,
                                   max_file_bytes=int(s.max_file_mb * 1e6), chunk_tokens=s.chunk_tokens,
                                   batch_size=s.embed_batch_size, progress=False))
        self.progress(f"ingested {self.shop_dir} in {time.perf_counter() - t0:.0f} s "
                      f"({len(report.problems)} input problems)")
        self.app = create_app(self.settings)
        res = self.app.extensions["shopqa"]
        if res.error:
            raise CasesError(f"{self.shop_dir}: the service could not start: {res.error}")
        self.client = self.app.test_client()
        return self

    def converse(self, case: Case) -> list[dict]:
        """Send the case's turns in order in a new session; the JSON replies."""
        replies, session = [], None
        for turn in case.turns:
            body = {"message": turn}
            if session:
                body["session_id"] = session
            response = self.client.post("/api/chat", json=body)
            data = response.get_json(silent=True) or {}
            if response.status_code != 200:
                data = {"answer": "", "path": f"http_{response.status_code}", "error": data}
            session = data.get("session_id") or session
            replies.append(data)
        return replies

    def close(self) -> None:
        """Remove the temporary folder."""
        if self._tmp is not None:
            self._tmp.cleanup()


def evaluate(shop_dir: Path, cases: list[Case], settings, baseline: bool = False,
             progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every case against a fresh copy of the shop; results, summary and timings."""
    known = shop_numbers(shop_dir)
    run = ShopRun(shop_dir, settings, progress=progress).start()
    results, base_results = [], []
    started = time.perf_counter()
    try:
        for n, case in enumerate(cases, start=1):
            t0 = time.perf_counter()
            replies = run.converse(case)
            result = grade(case, replies, known)
            result["ms"] = round((time.perf_counter() - t0) * 1000)
            results.append(result)
            progress(f"[{n}/{len(cases)}] {case.id} {case.kind}: {'pass' if result['passed'] else 'FAIL'} "
                     f"({result['path']}, {result['ms']} ms)")
        if baseline:
            from shopqa.evals.baseline import RetrievalQABaseline

            qa = RetrievalQABaseline.over(run.app.extensions["shopqa"], run.settings)
            for n, case in enumerate(c for c in cases if c.kind in ("answer", "abstain")):
                answer = qa.answer(case.turns[-1])
                base_results.append(grade_baseline(case, answer, known))
                progress(f"[baseline {n + 1}] {case.id}: {'pass' if base_results[-1]['passed'] else 'FAIL'}")
    finally:
        run.close()
    return {"shop": str(shop_dir), "summary": summarize(results, base_results if baseline else None),
            "results": results, "baseline": base_results if baseline else None,
            "seconds": round(time.perf_counter() - started, 1)}


def format_report(report: dict[str, Any]) -> str:
    """The human-readable report: the table by kind, language and topic, then every failing case."""
    s = report["summary"]
    lines = [f"shop: {report['shop']}  ({s['cases']} cases, {report['seconds']} s)", ""]
    has_base = "baseline_by_kind" in s
    lines.append(f"{'kind':<12}{'shopqa':>12}" + (f"{'RetrievalQA':>14}" if has_base else ""))
    labels = {"answer": "right answers", "abstain": "refused", "route": "routing", "order": "orders"}
    for kind, (ok, n) in s["by_kind"].items():
        row = f"{kind:<12}{ok:>5}/{n:<3} {ok / n:4.0%}"
        if has_base and kind in s["baseline_by_kind"]:
            bok, bn = s["baseline_by_kind"][kind]
            row += f"{bok:>7}/{bn:<3} {bok / bn:4.0%}"
        lines.append(row + f"   {labels[kind]}")
    lines.append(f"invented numbers: {s['invented_numbers']}" +
                 (f" (RetrievalQA: {s['baseline_invented_numbers']})" if has_base else "") +
                 f" | order data leaked: {s['order_data_leaked']}")
    for title, key in (("by language", "by_lang"), ("by topic", "by_topic")):
        lines.append(f"{title}: " + ", ".join(f"{k} {ok}/{n}" for k, (ok, n) in s[key].items()))
    failing = [r for r in report["results"] if not r["passed"]]
    if failing:
        lines += ["", f"failing cases ({len(failing)}):"]
        for r in failing:
            lines.append(f"- {r['id']} [{r['kind']}] {' / '.join(r['turns'])[:200]}")
            lines.append(f"    path {r['path']}, route {r['route']}, intent {r['intent']}: {'; '.join(r['why'])}")
            lines.append(f"    reply: {r['reply'][:300]}")
    return "\n".join(lines)
