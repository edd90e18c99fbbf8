"""Answer quality on public support data, through the real answer pipeline.

    python bench/eval_answers.py --limit 40              # 40 questions per corpus, 80 answers
    python bench/eval_answers.py                         # every question: 160 WixQA + 480 TechQA = 640 answers
    python bench/eval_answers.py --no-llm --limit 40     # extractive answers only (no LLM), fast
    python bench/eval_answers.py --corpora techqa --json

A generated answer takes about 2-6 s on an idle 2-core machine (many times more when the
cores are shared), so budget accordingly.

Each question goes through shopqa.resources.Resources(...).answerer().answer(question), exactly
as the service answers it: the packaged LLM (unless --no-llm), the e5-small embedder (or
--embedder) and the thresholds of app/data/calibration.json for that embedder. Indexes are
the cached ones of bench/datasets.py (bench/out/cache/<corpus>-<embedder>/).

WixQA (all 160 answerable):
  F1        SQuAD-style token F1 of the answer against the expert answer (lowercase, punctuation
            and articles removed; markdown links reduced to their text and citation markers
            like [1] dropped on both sides). Abstentions are scored as the text they return.
  gold-src  share of questions where at least one cited source file is a gold article
  paths     how the answers were made: generated, extractive, abstained, curated, graph

TechQA:
  unanswerable  the 96 questions with no supporting technote; the abstain rate should be >= 0.90
  answerable    the 384 others; the abstain rate should be <= 0.10 (F1 and gold-src as above)

The LLM, context size and thread count come from the usual settings, so e.g.
``SHOPQA_LLM_THREADS=1`` is honoured (kinder to a busy shared machine; llama.cpp threads
spin-wait badly when the cores are oversubscribed).

--limit N takes the first N WixQA questions and, for TechQA, the first N/2 unanswerable plus
the first N/2 answerable questions (file order). Per-question results (answer text, path,
sources, confidence, timings) go to bench/out/eval_answers-<corpus>.jsonl (with -nollm and/or
-<embedder> before .jsonl for the other configurations, so a quick run never overwrites them).
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# As a script, bench/ is sys.path[0] and its datasets.py would shadow the Hugging Face package
# of that name for every library; import it as bench.datasets from the repository root instead.
if sys.path and Path(sys.path[0]).resolve() == REPO / "bench":
    sys.path[0] = str(REPO)
else:
    sys.path.insert(0, str(REPO))

from bench import datasets as ds  # noqa: E402

PATHS = ("generated", "extractive", "abstained", "curated", "graph")
TARGETS = {"unanswerable": (">=", 0.90), "answerable": ("<=", 0.10)}  # TechQA abstain rates

# -- scoring ----------------------------------------------------------------------------------
_LINK = re.compile(r"\[([^\]]*)\]\s*\([^)]*\)")          # [text](url) -> text
_CITATION = re.compile(r"\[\d{1,2}\]")                    # [1]
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize(text: str) -> list[str]:
    """SQuAD answer normalisation (plus markdown links and citation markers) as tokens."""
    text = _CITATION.sub(" ", _LINK.sub(r"\1", text)).lower()
    text = "".join(" " if unicodedata.category(ch).startswith("P") or ch in "`^|~<>=+$" else ch for ch in text)
    return _ARTICLES.sub(" ", text).split()


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 between two texts."""
    pred, ref = normalize(prediction), normalize(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


# -- running ----------------------------------------------------------------------------------
def pick(corpus: ds.Corpus, limit: int | None) -> list[ds.Question]:
    """The questions to ask: all, or the first ``limit`` (TechQA: half unanswerable, half answerable)."""
    if not limit:
        return corpus.questions
    if corpus.name != "techqa":
        return corpus.questions[:limit]
    unanswerable = [q for q in corpus.questions if not q.answerable]
    half = (limit + 1) // 2
    return unanswerable[:half] + corpus.answerable[:limit - min(half, len(unanswerable))]


def _previous(path: Path, config: dict) -> dict[str, dict]:
    """Records of an earlier run made with the same configuration, by question id (--resume)."""
    if not path.is_file():
        return {}
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by an interrupted run
        if record.get("config") == config:
            found[record["id"]] = record
    return found


def run_corpus(name: str, spec: str, limit: int | None, embedder, llm,
               resume: bool = False) -> tuple[list[dict], dict]:
    """Answer the picked questions of one corpus; per-question records and run info."""
    from shopqa.resources import Resources
    from shopqa.settings import Settings

    corpus = ds.load_corpus(name)
    index_dir = ds.ensure_index(corpus, spec, embedder=embedder)
    settings = Settings(index_dir=index_dir, embedder=spec, llm_enabled=llm is not None,
                        data_dir=ds.OUT / "var", shop_dir=corpus.shop_dir)
    res = Resources(settings, embedder=embedder, llm=llm)
    res.warm_up()
    if res.error:
        raise SystemExit(f"{name}: cannot load the service resources: {res.error}")
    answerer = res.answerer()
    info = {"abstain_threshold": answerer.thresholds.abstain, "curated_threshold": answerer.thresholds.curated,
            "llm": getattr(llm, "id", None)}
    config = {**info, "embedder": spec, "index_generation": res.index().generation}
    questions = pick(corpus, limit)
    variant = ("" if spec == "e5-small" else f"-{ds.embedder_slug(spec)}") + ("" if llm else "-nollm")
    out_path = ds.OUT / f"eval_answers-{name}{variant}.jsonl"
    previous = _previous(out_path, config) if resume else {}
    records = []
    # New answers are appended as they come, so an interrupted run loses nothing (--resume
    # picks them up); a finished run rewrites the file with exactly its own records.
    with open(out_path, "a" if resume else "w", encoding="utf-8") as fh:
        if resume and fh.tell() and not out_path.read_bytes().endswith(b"\n"):
            fh.write("\n")  # after a line cut short by a kill
        for i, q in enumerate(questions, start=1):
            record = previous.get(q.id)
            if record is None:
                started = time.perf_counter()
                answer = answerer.answer(q.question)
                seconds = time.perf_counter() - started
                record = {"id": q.id, "answerable": q.answerable, "path": answer.path,
                          "confidence": round(answer.confidence, 4), "seconds": round(seconds, 2),
                          "sources": [s.get("file") for s in answer.sources], "answer": answer.answer,
                          "timings_ms": answer.timings_ms, "grounding_failures": answer.grounding}
            # Scores are (re)computed here, so a resumed run scores old answers the current way.
            record.update(
                gold=q.gold, expert_answer=q.answer, question=q.question, config=config,
                f1=round(token_f1(record["answer"], q.answer), 4) if q.answerable else None,
                gold_source=any(f"doc:{f}" in q.gold for f in record["sources"]) if q.answerable else None)
            if q.id not in previous:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                fh.flush()
            records.append(record)
            f1 = "" if record["f1"] is None else f" F1 {record['f1']:.2f}"
            reused = " (from the previous run)" if q.id in previous else ""
            print(f"  {name} {i}/{len(questions)} {q.id}: {record['path']:<10} conf {record['confidence']:.3f}"
                  f"{f1} {record['seconds']:.1f}s{reused}", file=sys.stderr, flush=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    tmp.replace(out_path)
    res.index().close()
    return records, info


def summarize(corpus: str, subset: str, records: list[dict]) -> dict:
    """Metrics of one subset of per-question records."""
    n = len(records)
    paths = Counter(r["path"] for r in records)
    answered = [r for r in records if r["answerable"]]
    seconds = sorted(r["seconds"] for r in records)
    confidences = sorted(r["confidence"] for r in records)
    out = {
        "corpus": corpus, "subset": subset, "questions": n,
        "abstain_rate": round(paths["abstained"] / n, 4) if n else None,
        "paths": {p: paths.get(p, 0) for p in PATHS} | {p: c for p, c in paths.items() if p not in PATHS},
        "f1": round(statistics.fmean(r["f1"] for r in answered), 4) if answered else None,
        "f1_not_abstained": (round(statistics.fmean(r["f1"] for r in answered if r["path"] != "abstained"), 4)
                             if any(r["path"] != "abstained" for r in answered) else None),
        "gold_source_rate": round(sum(r["gold_source"] for r in answered) / len(answered), 4) if answered else None,
        "confidence_median": round(statistics.median(confidences), 4) if n else None,
        "confidence_p10_p90": [round(confidences[int(0.1 * (n - 1))], 4), round(confidences[int(0.9 * (n - 1))], 4)]
        if n else None,
        "seconds_mean": round(statistics.fmean(seconds), 2) if n else None,
        "seconds_p95": round(seconds[min(n - 1, int(0.95 * n))], 2) if n else None,
    }
    if corpus == "techqa" and subset in TARGETS:
        op, value = TARGETS[subset]
        out["target_abstain_rate"] = f"{op} {value}"
        out["target_met"] = (out["abstain_rate"] >= value) if op == ">=" else (out["abstain_rate"] <= value)
    return out


HEADER = (f"{'corpus':<7} {'subset':<13} {'n':>4} {'abstain':>7} {'F1':>6} {'F1*':>6} {'gold-src':>8}  "
          f"{'gen':>4} {'extr':>4} {'abst':>4} {'cur':>4} {'conf':>6} {'s/q':>5} {'p95 s':>6}   target")


def print_row(s: dict) -> None:
    """One row of the table (see HEADER)."""
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    p = s["paths"]
    target = ""
    if "target_abstain_rate" in s:
        target = f"abstain {s['target_abstain_rate']} {'met' if s['target_met'] else 'MISSED'}"
    print(f"{s['corpus']:<7} {s['subset']:<13} {s['questions']:>4} {fmt(s['abstain_rate']):>7} {fmt(s['f1']):>6} "
          f"{fmt(s['f1_not_abstained']):>6} {fmt(s['gold_source_rate']):>8}  {p['generated']:>4} {p['extractive']:>4} "
          f"{p['abstained']:>4} {p['curated'] + p['graph']:>4} {fmt(s['confidence_median']):>6} "
          f"{s['seconds_mean']:>5.1f} {s['seconds_p95']:>6.1f}   {target}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", default=",".join(ds.CORPORA),
                        help="comma-separated corpora: wixqa, techqa (default: both)")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="N questions per corpus (TechQA: N/2 unanswerable + N/2 answerable); default all")
    parser.add_argument("--no-llm", action="store_true",
                        help="do not load the LLM: answers are extractive (or abstained) only")
    parser.add_argument("--embedder", default="e5-small",
                        help="embedder of the index: e5-small (default, the service default), minilm or a full spec")
    parser.add_argument("--resume", action="store_true",
                        help="reuse the answers in bench/out/eval_answers-<corpus>*.jsonl that an earlier "
                        "(possibly interrupted) run made with the same LLM, embedder, thresholds and index")
    parser.add_argument("--json", action="store_true", help="print one JSON summary object per line instead of a table")
    args = parser.parse_args()
    corpora = [c.strip() for c in args.corpora.split(",") if c.strip()]
    for name in corpora:
        if name not in ds.CORPORA:
            parser.error(f"unknown corpus {name!r}; known: {', '.join(ds.CORPORA)}")
    if args.limit is not None and args.limit < 2:
        parser.error("--limit must be >= 2")

    from shopqa.models.llm import LlamaCppLLM, LLMError
    from shopqa.settings import Settings
    from shopqa.ingest.embedders import make_embedder

    spec = ds.embedder_spec(args.embedder)
    defaults = Settings()
    embedder = make_embedder(spec, batch_size=defaults.embed_batch_size)
    embedder.warm_up()
    llm = None
    if not args.no_llm:
        llm = LlamaCppLLM(defaults.llm_model_path or None, n_ctx=defaults.llm_context,
                          n_threads=defaults.llm_threads or None)
        try:
            llm.warm_up()
        except LLMError as exc:
            raise SystemExit(f"cannot load the LLM ({exc}); use --no-llm for extractive answers only")

    machine = ds.machine_line()
    summaries, infos = [], {}
    for name in corpora:
        records, infos[name] = run_corpus(name, spec, args.limit, embedder, llm, args.resume)
        if name == "techqa":
            summaries.append(summarize(name, "unanswerable", [r for r in records if not r["answerable"]]))
            summaries.append(summarize(name, "answerable", [r for r in records if r["answerable"]]))
        else:
            summaries.append(summarize(name, "all", records))

    info = next(iter(infos.values()), {})
    if args.json:
        for s in summaries:
            print(json.dumps({**s, "embedder": spec, **infos[s["corpus"]], "machine": machine}))
        return
    print(machine)
    print(f"embedder {ds.embedder_label(spec)}; LLM {info.get('llm') or 'off (--no-llm)'}; thresholds from "
          f"app/data/calibration.json: abstain < {info.get('abstain_threshold')}, curated >= "
          f"{info.get('curated_threshold')}")
    print("F1 = token F1 vs expert answer (F1* = over non-abstained answers); gold-src = a cited source is a gold "
          "document; gen/extr/abst/cur = answer paths (cur includes graph); conf = median top dense cosine")
    print(HEADER)
    for s in summaries:
        print_row(s)


if __name__ == "__main__":
    main()
