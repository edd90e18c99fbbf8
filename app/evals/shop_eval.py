"""`shopqa eval shop`: score a shop on graded customer questions, as a new user would.

The shop is ingested into a fresh temporary index and data directory, the real service is
built (the Flask app, its models and the LLM), and every case is sent to ``POST /api/chat`` in
a session of its own. The cases are read by ``shop_cases.py`` and graded by the rules of
``shop_grading.py`` (those of ``shared/dev-shops``).
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from shopqa.evals.shop_cases import Case, CasesError
from shopqa.evals.shop_grading import grade, grade_baseline, shop_numbers, summarize
# re-exported for callers (the CLI and the bench scripts read the questions and match replies through shop_eval)
from shopqa.evals.shop_cases import load_cases  # noqa: F401
from shopqa.evals.shop_grading import matches  # noqa: F401


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
