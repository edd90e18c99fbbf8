"""Publish an ingested generation to Postgres: every row of it, then the live pointer, in one
transaction (see ingest/pg_schema.py for the layout).

Ingest builds the generation on local disk first, as it always does (that copy is its cache:
the next ingest embeds only what changed), then copies it whole into a new schema. Replicas
read only Postgres; they need no index files and no shop folder.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from sqlalchemy import Engine, text

from . import dense, manifest, store
from .pg_schema import (CONTROL_DDL, GENERATIONS, LIVE, PUBLISH_LOCK, generation_ddl, generation_indexes,
                        schema_name, tsvector_literal, vector_literal)

KEEP_GENERATIONS = 2  # the live one and the one before, for replicas still answering from it
BM25 = {"k1": 1.2, "b": 0.75}  # as KeywordIndex.build


@dataclass
class Published:
    """What a publish did."""

    name: str
    number: int
    published: bool  # False: Postgres already served this local generation
    seconds: float = 0.0
    chunks: int = 0


def service_files(shop_dir: Path) -> Iterator[tuple[str, Path]]:
    """The shop files the service reads besides the index (the shop's glossary and bilingual
    terms, its intent examples and the chats they are also taken from), by relative name."""
    for name in ("glossary.json", "bilingual_terms.txt"):
        if (shop_dir / name).is_file():
            yield name, shop_dir / name
    for folder, pattern in (("intents", "*"), ("chats", "*.jsonl")):
        root = shop_dir / folder
        for path in sorted(root.glob(pattern)) if root.is_dir() else []:
            if path.is_file() and not path.name.startswith("."):
                yield f"{folder}/{path.name}", path


def source_stamp(found: dict[str, Any]) -> str:
    """What identifies a local generation (its name and build time) in Postgres."""
    return f"{found['generation']}@{found['built_at']}"


def ensure_control_tables(conn) -> None:
    """The extension and the two tables that list generations and name the live one."""
    for ddl in CONTROL_DDL:
        conn.execute(text(ddl))


def publish(engine: Engine, index_dir: Path, progress: Callable[[str], None] = lambda _msg: None) -> Published:
    """Copy the live generation of ``index_dir`` into Postgres and make it live there, unless it
    already is; then drop generations older than the one before."""
    started = time.perf_counter()
    found = manifest.read(Path(index_dir))
    if found is None:
        raise manifest.IndexUnusable(f"{index_dir}: nothing to publish; run `shopqa ingest SHOP_DIR` first")
    stamp = source_stamp(found)
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PUBLISH_LOCK})
        ensure_control_tables(conn)
        live = conn.execute(text(f"SELECT g.number, g.source FROM {LIVE} l JOIN {GENERATIONS} g USING (number)")).first()
        if live is not None and live.source == stamp:
            return Published(schema_name(live.number), live.number, False)
        number = conn.execute(text(f"SELECT coalesce(max(number), 0) + 1 FROM {GENERATIONS}")).scalar_one()
        schema = schema_name(number)
        progress(f"publishing {found['generation']} to Postgres as {schema}")
        for ddl in generation_ddl(schema, found["embedder"]["dim"]):
            conn.execute(text(ddl))
        chunks, keyword = _copy_generation(conn, schema, Path(index_dir) / found["generation"],
                                           Path(found.get("shop_dir", "")))
        for ddl in generation_indexes(schema):
            conn.execute(text(ddl))
        stored = {**found, "keyword": keyword, "published_as": schema}
        conn.execute(text(f"INSERT INTO {GENERATIONS} (number, source, manifest) VALUES (:n, :s, :m)"),
                     {"n": number, "s": stamp, "m": json.dumps(stored, ensure_ascii=False)})
        conn.execute(text(f"INSERT INTO {LIVE} (id, number) VALUES (1, :n) "
                          "ON CONFLICT (id) DO UPDATE SET number = excluded.number"), {"n": number})
    prune(engine, number)
    return Published(schema, number, True, time.perf_counter() - started, chunks)


def prune(engine: Engine, live: int) -> list[str]:
    """Drop the generations older than the one before ``live``; the names dropped."""
    dropped = []
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PUBLISH_LOCK})
        old = conn.execute(text(f"SELECT number FROM {GENERATIONS} WHERE number <= :n ORDER BY number"),
                           {"n": live - KEEP_GENERATIONS}).scalars().all()
        for number in old:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema_name(number)} CASCADE"))
            conn.execute(text(f"DELETE FROM {GENERATIONS} WHERE number = :n"), {"n": number})
            dropped.append(schema_name(number))
    return dropped


def _copy_generation(conn, schema: str, folder: Path, shop_dir: Path) -> tuple[int, dict[str, float]]:
    """Every row of the generation folder into ``schema`` with COPY; the number of chunks and
    the BM25 statistics the keyword search needs."""
    db = store.open_readonly(folder / "store.sqlite")
    try:
        vectors = _vectors_by_id(dense.load(folder / "dense.faiss"))
        questions = _vectors_by_id(dense.load(folder / "questions.faiss"))
        raw = conn.connection.driver_connection  # psycopg's COPY, inside the same transaction
        lengths, df = [], {}
        with raw.cursor() as cur:
            with cur.copy(f"COPY {schema}.chunks (id, record_key, type, source, title, url, position, lang, text, "
                          "meta, doclen, tokens, embedding) FROM STDIN") as copy:
                for r in db.execute("SELECT * FROM units ORDER BY id"):
                    tokens = r["tokens"].split(" ") if r["tokens"] else []
                    lengths.append(len(tokens))
                    for term in set(tokens):
                        df[term] = df.get(term, 0) + 1
                    copy.write_row((r["id"], r["record_key"], r["type"], r["source"], r["title"], r["url"],
                                    r["position"], r["lang"], r["text"], r["meta"], len(tokens),
                                    tsvector_literal(tokens), vector_literal(vectors[r["id"]])))
            with cur.copy(f"COPY {schema}.questions (id, embedding) FROM STDIN") as copy:
                for uid, vector in questions.items():
                    copy.write_row((uid, vector_literal(vector)))
            n = len(lengths)
            with cur.copy(f"COPY {schema}.terms (term, df, idf) FROM STDIN") as copy:
                for term, count in df.items():
                    copy.write_row((term, count, math.log(1.0 + (n - count + 0.5) / (count + 0.5))))
            _copy_rows(cur, f"{schema}.products (sku, name, data)", db.execute("SELECT sku, name, data FROM products"))
            _copy_rows(cur, f"{schema}.orders", db.execute("SELECT * FROM orders"))
            files = [("graph.json", (folder / "graph.json").read_bytes())]
            files += [(name, path.read_bytes()) for name, path in service_files(shop_dir)] if shop_dir.is_dir() else []
            _copy_rows(cur, f"{schema}.files (name, content)", files)
    finally:
        db.close()
    return len(lengths), {"n": len(lengths), "avgdl": float(np.mean(lengths)) if lengths else 1.0, **BM25}


def _copy_rows(cur, target: str, rows) -> None:
    with cur.copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(tuple(row))


def _vectors_by_id(index) -> dict[int, np.ndarray]:
    """A FAISS IndexIDMap's vectors by their unit id."""
    import faiss

    if index.ntotal == 0:
        return {}
    ids = faiss.vector_to_array(index.id_map)
    return dict(zip(ids.tolist(), index.index.reconstruct_n(0, index.ntotal)))
