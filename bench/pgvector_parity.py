"""Dense retrieval in pgvector (HNSW) beside FAISS, on the same vectors: do they find the same?

Groundwork for issue 16's retrieval in Postgres. Every chunk vector of a cached benchmark index
(bench/out/cache, built by bench/eval_retrieval.py) goes into a Postgres 18 table with a
pgvector HNSW index (inner product, as FAISS's IndexFlatIP); every question is searched in both.
Printed per corpus: document recall@1/5/10 and MRR@10 of the gold document for each engine
(scored as bench/eval_retrieval.py scores them), and how many of FAISS's top-10 chunks pgvector
also returns.

    python bench/pgvector_parity.py [--corpora wixqa techqa] [--ef-search 40]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == REPO / "bench":
    sys.path[0] = str(REPO)  # bench/datasets.py must not shadow the datasets package
sys.path.insert(0, str(REPO / "tests"))

from bench import datasets as ds  # noqa: E402
from bench.eval_retrieval import KS, score_question  # noqa: E402

K = 30  # candidates per list, as HybridRetriever asks of each engine


def _literal(vector) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def load_vectors(engine, index, dim: int) -> float:
    """Copy the index's chunk vectors into a fresh HNSW-indexed table; seconds taken."""
    from sqlalchemy import text

    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        conn.execute(text("DROP TABLE IF EXISTS parity_chunks"))
        conn.execute(text(f"CREATE TABLE parity_chunks (unit_id integer PRIMARY KEY, embedding vector({dim}))"))
        import faiss

        ids = faiss.vector_to_array(index.dense.id_map)  # the index maps unit ids to vectors
        rows = [{"id": int(i), "v": _literal(index.dense.reconstruct(int(i)))} for i in ids]
        conn.execute(text("INSERT INTO parity_chunks VALUES (:id, CAST(:v AS vector))"), rows)
        conn.execute(text("CREATE INDEX ON parity_chunks USING hnsw (embedding vector_ip_ops)"))
    return time.perf_counter() - started


def pg_search(conn, vector, k: int) -> list[int]:
    """The k nearest chunk ids by inner product (pgvector's <#> is the negative inner product)."""
    from sqlalchemy import text

    rows = conn.execute(text("SELECT unit_id FROM parity_chunks ORDER BY embedding <#> CAST(:v AS vector) LIMIT :k"),
                        {"v": _literal(vector), "k": k})
    return [r[0] for r in rows]


def compare(name: str, engine, ef_search: int) -> None:
    from sqlalchemy import text

    from shopqa.ingest.embedders import make_embedder
    from shopqa.ingest.index import ShopIndex

    corpus = ds.load_corpus(name)
    embedder = make_embedder("e5-small")
    embedder.warm_up()
    index = ShopIndex(ds.ensure_index(corpus, "e5-small", embedder=embedder), embedder)
    seconds = load_vectors(engine, index, index.dense.d)
    questions = corpus.answerable
    vectors = embedder.embed_queries([q.question for q in questions])
    rows = {"faiss": [], "pgvector": []}
    overlap, ms = [], {"faiss": 0.0, "pgvector": 0.0}
    with engine.connect() as conn:
        conn.execute(text(f"SET hnsw.ef_search = {int(ef_search)}"))
        for q, vector in zip(questions, vectors):
            t0 = time.perf_counter()
            f_ids = [uid for uid, _ in index.dense_search(vector, K)]
            t1 = time.perf_counter()
            p_ids = pg_search(conn, vector, K)
            t2 = time.perf_counter()
            ms["faiss"] += (t1 - t0) * 1000
            ms["pgvector"] += (t2 - t1) * 1000
            overlap.append(len(set(f_ids[:10]) & set(p_ids[:10])) / 10)
            for engine_name, ids in (("faiss", f_ids), ("pgvector", p_ids)):
                units = index.units(ids)
                ranking = list(dict.fromkeys(units[i].record_key for i in ids if i in units))
                rows[engine_name].append(score_question(ranking, q.gold))
    n = len(questions)
    print(f"{name}: {n} questions, {index.dense.ntotal} chunks, e5-small; vectors into pgvector + HNSW build "
          f"{seconds:.1f} s; hnsw.ef_search {ef_search}", flush=True)
    for engine_name, scored in rows.items():
        recall = "  ".join(f"R@{k} {sum(r[f'hit@{k}'] for r in scored) / n:.3f}" for k in KS)
        mrr = sum(r["rr@10"] for r in scored) / n
        print(f"  {engine_name:<9} dense  {recall}  MRR@10 {mrr:.3f}  {ms[engine_name] / n:5.1f} ms/query", flush=True)
    print(f"  top-10 chunk overlap (pgvector vs FAISS): {sum(overlap) / n:.3f}", flush=True)
    index.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", nargs="+", default=["wixqa", "techqa"])
    parser.add_argument("--ef-search", type=int, default=40, help="pgvector's hnsw.ef_search (its default: 40)")
    args = parser.parse_args()
    from engines import PostgresServer

    from shopqa.storage.engine import database_engine

    print(ds.machine_line(), flush=True)
    with PostgresServer() as server:
        engine = database_engine(server.url)
        for name in args.corpora:
            compare(name, engine, args.ef_search)


if __name__ == "__main__":
    main()
