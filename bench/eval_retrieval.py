"""Retrieval quality on public support data: recall@1/5/10 and MRR@10 of the gold document.

    python bench/eval_retrieval.py                                  # everything (e5 ingest takes minutes once)
    python bench/eval_retrieval.py --corpora wixqa --embedders minilm --limit 40
    python bench/eval_retrieval.py --json > bench/out/eval_retrieval.jsonl

For each corpus (WixQA, TechQA) x embedder (e5-small, all-MiniLM-L6-v2) x mode (dense,
keyword, hybrid) every question is searched with shopqa.answering.retrieval.HybridRetriever exactly as the
service does (default candidates and RRF constant). The chunk hits are turned into a document
ranking by keeping each document's first (best) chunk; the metrics are then:

  R@k      share of questions with a gold document among the first k documents (for WixQA
           questions with 2-3 gold articles, any one of them counts)
  MRR@10   mean of 1/rank of the first gold document (0 when it is not in the first 10)
  all@10   (--json only, as recall_all@10) share of questions with *every* gold document
           in the first 10

The ranking holds the documents of every chunk the retriever returns (its candidate lists,
30 chunks per list by default); a gold document outside them is a miss at every k.

TechQA's 96 unanswerable questions have no gold document and are left out here
(bench/eval_answers.py measures that the service abstains on them). Targets printed beside
the numbers: WixQA R@5 >= 0.90, TechQA R@5 >= 0.80.

Corpora are written as shop folders under bench/out/corpora/ and indexed once per embedder
under bench/out/cache/ (see bench/datasets.py); later runs reuse the cached indexes.
``--show-misses N`` prints, per corpus and embedder, N hybrid misses (question, gold title,
retrieved titles) to look at failure patterns.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# As a script, bench/ is sys.path[0] and its datasets.py would shadow the Hugging Face package
# of that name for every library; import it as bench.datasets from the repository root instead.
if sys.path and Path(sys.path[0]).resolve() == REPO / "bench":
    sys.path[0] = str(REPO)
else:
    sys.path.insert(0, str(REPO))

from bench import datasets as ds  # noqa: E402

MODES = ("dense", "keyword", "hybrid")
KS = (1, 5, 10)
TARGETS = {"wixqa": 0.90, "techqa": 0.80}  # recall@5 (any gold document)
CHUNKS_PER_QUERY = 200  # ask for every fused chunk; the retriever returns at most its candidate lists


def document_ranking(hits) -> list[str]:
    """Record keys in order of their best chunk (chunk hits deduplicated by document)."""
    return list(dict.fromkeys(h.unit.record_key for h in hits))


def score_question(ranking: list[str], gold: list[str]) -> dict:
    """Per-question metrics of one document ranking against the gold record keys."""
    gold_set = set(gold)
    first = next((i for i, key in enumerate(ranking[:10], start=1) if key in gold_set), None)
    out = {f"hit@{k}": float(first is not None and first <= k) for k in KS}
    out["rr@10"] = 1.0 / first if first else 0.0
    out["all@10"] = float(gold_set <= set(ranking[:10]))
    out["rank"] = first
    return out


def evaluate(corpus: ds.Corpus, spec: str, modes: tuple[str, ...], limit: int | None, show_misses: int) -> list[dict]:
    """All modes for one corpus and embedder; one result dict per mode."""
    from shopqa.answering.retrieval import HybridRetriever
    from shopqa.ingest.embedders import make_embedder
    from shopqa.ingest.index import ShopIndex

    embedder = make_embedder(spec)
    embedder.warm_up()
    index = ShopIndex(ds.ensure_index(corpus, spec, embedder=embedder), embedder)
    retriever = HybridRetriever(index)
    questions = corpus.answerable[:limit] if limit else corpus.answerable
    t0 = time.perf_counter()
    vectors = embedder.embed_queries([q.question for q in questions])  # once, shared by dense and hybrid
    embed_ms = (time.perf_counter() - t0) * 1000 / max(1, len(questions))
    results = []
    for mode in modes:
        rows, started = [], time.perf_counter()
        for q, vector in zip(questions, vectors):
            hits = retriever.search(q.question, k=CHUNKS_PER_QUERY, mode=mode,
                                    vector=None if mode == "keyword" else vector)
            ranking = document_ranking(hits)
            rows.append({"id": q.id, "ranking": ranking[:10], **score_question(ranking, q.gold)})
        search_ms = (time.perf_counter() - started) * 1000 / max(1, len(questions))
        n = len(rows)
        result = {
            "corpus": corpus.name, "embedder": spec, "mode": mode, "questions": n,
            "documents": len(corpus.record_keys), "chunks": index.dense.ntotal,
            **{f"recall@{k}": round(sum(r[f"hit@{k}"] for r in rows) / n, 4) for k in KS},
            "mrr@10": round(sum(r["rr@10"] for r in rows) / n, 4),
            "recall_all@10": round(sum(r["all@10"] for r in rows) / n, 4),
            "target_recall@5": TARGETS.get(corpus.name),
            # Query latency: the search itself, plus the query embedding for dense and hybrid.
            "ms_per_query": round(search_ms + (0 if mode == "keyword" else embed_ms), 1),
        }
        results.append(result)
        if show_misses and mode == "hybrid":
            _print_misses(corpus, index, questions, rows, show_misses, spec)
    index.close()
    return results


def _print_misses(corpus: ds.Corpus, index, questions, rows, count: int, spec: str) -> None:
    """A few questions whose gold document is not in the hybrid top 5, to stderr."""
    titles = _titles(index)
    misses = [(q, r) for q, r in zip(questions, rows) if not r["hit@5"]]
    print(f"\n-- {corpus.name} / {ds.embedder_label(spec)} / hybrid: {len(misses)} of {len(rows)} "
          f"questions miss the top 5; first {min(count, len(misses))}:", file=sys.stderr)
    for q, r in misses[:count]:
        print(f"Q {q.id}: {' '.join(q.question.split())[:200]}", file=sys.stderr)
        print(f"  gold (rank {r['rank'] or '>10'}): " + " | ".join(titles.get(g, g) for g in q.gold), file=sys.stderr)
        print("  got: " + " | ".join(titles.get(k, k) for k in r["ranking"][:5]), file=sys.stderr)


def _titles(index) -> dict[str, str]:
    return {row["record_key"]: row["title"] for row in
            index.db().execute("SELECT DISTINCT record_key, title FROM units")}


HEADER = (f"{'corpus':<8} {'embedder':<10} {'mode':<8} {'n':>4} {'R@1':>6} {'R@5':>6} {'R@10':>6} "
          f"{'MRR@10':>7} {'ms/q':>6}   target R@5")


def print_rows(results: list[dict]) -> None:
    """Rows of the human-readable table (see HEADER)."""
    for r in results:
        target = r["target_recall@5"]
        verdict = "" if target is None else f">= {target:.2f} {'met' if r['recall@5'] >= target else 'MISSED'}"
        print(f"{r['corpus']:<8} {ds.embedder_label(r['embedder']):<10} {r['mode']:<8} {r['questions']:>4} "
              f"{r['recall@1']:>6.3f} {r['recall@5']:>6.3f} {r['recall@10']:>6.3f} {r['mrr@10']:>7.3f} "
              f"{r['ms_per_query']:>6.1f}   {verdict}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", default=",".join(ds.CORPORA),
                        help="comma-separated corpora: wixqa, techqa (default: both)")
    parser.add_argument("--embedders", default=",".join(ds.EMBEDDERS),
                        help="comma-separated embedders: e5-small, minilm (the packaged all-MiniLM-L6-v2) "
                        "or any full spec (default: e5-small,minilm)")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated retrieval modes (default: all three)")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="only the first N (answerable) questions per corpus; the corpus stays complete")
    parser.add_argument("--show-misses", type=int, default=0, metavar="N",
                        help="print N hybrid-mode misses per corpus and embedder to stderr")
    parser.add_argument("--json", action="store_true", help="print one JSON object per result line instead of a table")
    args = parser.parse_args()
    corpora = [c.strip() for c in args.corpora.split(",") if c.strip()]
    specs = [ds.embedder_spec(e.strip()) for e in args.embedders.split(",") if e.strip()]
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    for name in corpora:
        if name not in ds.CORPORA:
            parser.error(f"unknown corpus {name!r}; known: {', '.join(ds.CORPORA)}")
    for mode in modes:
        if mode not in MODES:
            parser.error(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be >= 1")

    machine = ds.machine_line()
    if not args.json:
        print(machine)
        print("document-level retrieval; R@k = share of questions with a gold document in the top k; "
              "TechQA: answerable questions only")
        print(HEADER, flush=True)
    for name in corpora:
        corpus = ds.load_corpus(name)
        for spec in specs:
            found = evaluate(corpus, spec, modes, args.limit, args.show_misses)
            if args.json:
                for r in found:
                    print(json.dumps({**r, "machine": machine}), flush=True)
            else:
                print_rows(found)


if __name__ == "__main__":
    main()
