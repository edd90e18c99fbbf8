"""Retrieval on the Postgres backend (pgvector HNSW + BM25 over a tsvector, fused in SQL) beside
the FAISS/BM25 files, on the same generation: do they find and answer the same?

1. Public corpora (WixQA, TechQA; cached indexes in bench/out/cache, built by
   bench/eval_retrieval.py): each index is published to a Postgres 18 + pgvector 0.8 database
   (ingest/pg_publish.py) and every answerable question is searched on both backends, dense
   (30 candidates, as HybridRetriever asks) and hybrid (the fused top 10). Printed per backend:
   document recall@1/5/10 and MRR@10 of the gold document (scored as bench/eval_retrieval.py
   scores them), ms per query, and how many of the FAISS top-10 chunks Postgres also returns.
2. Dev shops, through the service: each shop is ingested and published, and every graded case
   is asked of two Resources, one on the index files and one on Postgres only (no LLM: the
   replies are the pipeline's). Printed: cases passed on each, and how many replies are identical.

    python bench/pgvector_parity.py [--corpora wixqa techqa] [--shops electronics-zh]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == REPO / "bench":
    sys.path[0] = str(REPO)  # bench/datasets.py must not shadow the datasets package
sys.path.insert(0, str(REPO / "tests"))

from bench import datasets as ds  # noqa: E402
from bench.eval_retrieval import KS, score_question  # noqa: E402

K = 30  # candidates per dense list, as HybridRetriever asks of each engine


def _ranking(index, ids: list[int]) -> list[str]:
    units = index.units(ids)
    return list(dict.fromkeys(units[i].record_key for i in ids if i in units))


def compare_corpus(name: str, engine, embedder) -> None:
    """Dense and hybrid retrieval of one corpus on both backends."""
    from shopqa.answering.retrieval import HybridRetriever
    from shopqa.ingest.index import ShopIndex
    from shopqa.ingest.pg_index import PgShopIndex
    from shopqa.ingest.pg_publish import publish

    corpus = ds.load_corpus(name)
    folder = ds.ensure_index(corpus, "e5-small", embedder=embedder)
    done = publish(engine, folder)
    files = ShopIndex(folder, embedder)
    pg = PgShopIndex(engine, embedder, Path(tempfile.mkdtemp(prefix="parity-")), number=done.number)
    questions = corpus.answerable
    vectors = embedder.embed_queries([q.question for q in questions])
    scored = {(b, m): [] for b in ("faiss", "pgvector") for m in ("dense", "hybrid")}
    ms = {key: [] for key in scored}
    overlap = {"dense": [], "hybrid": []}
    for q, vector in zip(questions, vectors):
        top = {}
        for backend, index in (("faiss", files), ("pgvector", pg)):
            t0 = time.perf_counter()
            dense_ids = [uid for uid, _ in index.dense_search(vector, K)]
            t1 = time.perf_counter()
            hybrid_ids = [h.unit.id for h in HybridRetriever(index).search(q.question, k=10, vector=vector)]
            t2 = time.perf_counter()
            ms[(backend, "dense")].append((t1 - t0) * 1000)
            ms[(backend, "hybrid")].append((t2 - t1) * 1000)
            scored[(backend, "dense")].append(score_question(_ranking(index, dense_ids), q.gold))
            scored[(backend, "hybrid")].append(score_question(_ranking(index, hybrid_ids), q.gold))
            top[backend] = (dense_ids[:10], hybrid_ids[:10])
        for i, mode in enumerate(("dense", "hybrid")):
            overlap[mode].append(len(set(top["faiss"][i]) & set(top["pgvector"][i])) / max(1, len(top["faiss"][i])))
    n = len(questions)
    print(f"{name}: {n} questions, {done.chunks} chunks, e5-small; published to Postgres in {done.seconds:.1f} s",
          flush=True)
    for (backend, mode), rows in scored.items():
        recall = "  ".join(f"R@{k} {sum(r[f'hit@{k}'] for r in rows) / n:.3f}" for k in KS)
        mrr = sum(r["rr@10"] for r in rows) / n
        print(f"  {backend:<9} {mode:<6} {recall}  MRR@10 {mrr:.3f}  median {statistics.median(ms[(backend, mode)]):5.1f} "
              f"ms/query", flush=True)
    for mode, values in overlap.items():
        print(f"  {mode} top-10 chunk overlap (pgvector vs FAISS): {sum(values) / n:.3f}", flush=True)


def compare_shop(name: str, url: str, engine, embedder) -> None:
    """Every graded case of one dev shop asked of a service on files and one on Postgres."""
    from shopqa.evals import shop_eval
    from shopqa.ingest.pipeline import IngestOptions, run
    from shopqa.ingest.pg_publish import publish
    from shopqa.resources import Resources
    from shopqa.settings import Settings

    from sqlalchemy import text

    from shopqa.storage.engine import database_engine

    # A database per shop, as a shop has in production: the order store of one shop would
    # otherwise teach the next one its order-number shapes.
    database = "parity_" + name.replace("-", "_")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {database}"))
        conn.execute(text(f"CREATE DATABASE {database}"))
    url = url.rsplit("/", 1)[0] + "/" + database
    engine = database_engine(url)
    root = ds.DEV_SHOPS_DIR / name
    folder = ds.CACHE_DIR / f"devshop-{name}-e5-small"
    run(IngestOptions(shop_dir=root / "shop", index_dir=folder, embedder="e5-small"), embedder=embedder)
    publish(engine, folder)
    work = Path(tempfile.mkdtemp(prefix=f"parity-{name}-"))
    services = {}
    for backend, extra in (("faiss", {}), ("pgvector", {"database_url": url})):
        settings = Settings(index_dir=folder if backend == "faiss" else work / "no-index", llm_enabled=False,
                            data_dir=work / backend, **extra)
        res = Resources(settings, embedder=embedder, llm=None)
        res.warm_up(llm=False)
        if res.error:
            raise SystemExit(f"{backend}: {res.error}")
        services[backend] = res
    known = shop_eval.shop_numbers(root / "shop")
    passed = {b: 0 for b in services}
    seconds = {b: [] for b in services}
    same = total = 0
    for case in shop_eval.load_cases(root / "questions.jsonl"):
        replies = {}
        for backend, res in services.items():
            assistant = res.assistant()
            t0 = time.perf_counter()
            replies[backend] = [assistant.handle(turn, f"{backend}-{name}-{case.id}").as_dict() for turn in case.turns]
            seconds[backend].append((time.perf_counter() - t0) * 1000 / len(case.turns))
            passed[backend] += bool(shop_eval.grade(case, replies[backend], known)["passed"])
        total += 1
        same += [(r["answer"], r["path"]) for r in replies["faiss"]] == [(r["answer"], r["path"]) for r in replies["pgvector"]]
    print(f"{name}: {total} cases through the service, no LLM; shipped answer model and route gate", flush=True)
    for backend in services:
        print(f"  {backend:<9} passed {passed[backend]}/{total}  median {statistics.median(seconds[backend]):5.1f} ms/turn",
              flush=True)
    print(f"  identical replies (answer and path, every turn): {same}/{total}", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", nargs="*", default=["wixqa", "techqa"])
    parser.add_argument("--shops", nargs="*", default=["electronics-zh"], help=f"of {', '.join(ds.DEV_SHOPS)}")
    args = parser.parse_args()
    os.environ.setdefault("SHOPQA_LLM_ENABLED", "false")
    from engines import PostgresServer

    from shopqa.ingest.embedders import make_embedder
    from shopqa.storage.engine import database_engine

    print(ds.machine_line(), flush=True)
    embedder = make_embedder("e5-small")
    embedder.warm_up()
    with PostgresServer() as server:
        engine = database_engine(server.url)
        for name in args.corpora:
            compare_corpus(name, engine, embedder)
        for name in args.shops:
            compare_shop(name, server.url, engine, embedder)
        engine.dispose()


if __name__ == "__main__":
    main()
