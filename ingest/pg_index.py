"""Load the live generation from Postgres for searching: the same interface as ShopIndex
(ingest/index.py), with retrieval run in SQL (ingest/pg_search.py) instead of FAISS and BM25
files. What the service derives per generation (the product graph, the shop's glossary,
bilingual terms and intent examples) is read once here."""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from sqlalchemy import Engine, text

from . import graph, manifest
from .embedders import Embedder
from .index import UnitRow
from .pg_schema import GENERATIONS, LIVE, SCHEMA_PREFIX, schema_name, tsquery_literal, vector_literal
from .pg_search import UNIT_COLUMNS, Lists, dense_sql, fused_sql, keyword_sql
from .tokenize import TOKENIZER_VERSION, tokenize

log = logging.getLogger("shopqa.index")

# pgvector's HNSW returns at most ef_search rows (default 40); the answer path asks up to 90.
MIN_EF_SEARCH = 100


def live_number(engine: Engine) -> int | None:
    """The live generation's number in Postgres; None before the first publish."""
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT to_regclass(:t)"), {"t": LIVE}).scalar()
        if exists is None:
            return None
        return conn.execute(text(f"SELECT number FROM {LIVE} WHERE id = 1")).scalar()


class PgShopIndex:
    """One generation in Postgres, searched there. ``local_dir`` receives the shop files the
    service reads from a folder (glossary, bilingual terms, intents): a replica has no shop."""

    backend = "pgvector"

    def __init__(self, engine: Engine, embedder: Embedder, local_dir: Path, number: int | None = None):
        self.engine = engine
        self.embedder = embedder
        where = "the database in SHOPQA_DATABASE_URL"
        number = live_number(engine) if number is None else number
        if number is None:
            raise manifest.IndexUnusable(f"{where} holds no index yet; run `shopqa ingest SHOP_DIR` with "
                                         "SHOPQA_DATABASE_URL set")
        with engine.connect() as conn:
            row = conn.execute(text(f"SELECT manifest FROM {GENERATIONS} WHERE number = :n"), {"n": number}).first()
        if row is None:
            raise manifest.IndexUnusable(f"{where}: generation {number} was removed; retry")
        found = json.loads(row.manifest)
        manifest.check_embedder(found, embedder.id, Path(where))
        if found.get("tokenizer") != TOKENIZER_VERSION:
            log.warning("the index in Postgres was tokenized by an older shopqa; run `shopqa ingest` once")
        self.number, self.schema = number, schema_name(number)
        self.keyword_stats = found["keyword"]
        self.shop_dir = Path(local_dir) / self.schema
        # The folder ingest read stays known (an ingest started from the service needs it);
        # shop_dir is where this replica keeps its copy of the files the service reads.
        found["source_shop_dir"] = found.get("shop_dir", "")
        found["shop_dir"] = str(self.shop_dir)
        self.manifest = found
        self._load()

    def _load(self) -> None:
        with self.engine.connect() as conn:
            files = {r.name: bytes(r.content) for r in conn.execute(text(f"SELECT name, content FROM {self.schema}.files"))}
            langs = conn.execute(text(f"SELECT DISTINCT lang FROM {self.schema}.chunks")).scalars().all()
        self.graph = graph.loads(files.pop("graph.json").decode("utf-8"))
        self.languages = {lang or "en": None for lang in sorted(langs)}
        tmp = self.shop_dir.with_name(self.shop_dir.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        for name, content in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(content)
        tmp.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.shop_dir, ignore_errors=True)
        tmp.rename(self.shop_dir)
        # Copies of older generations go, but the one before stays: requests that started on it
        # may still read its files (the bilingual terms are read on first use).
        for old in self.shop_dir.parent.glob(f"{SCHEMA_PREFIX}*"):
            number = old.name[len(SCHEMA_PREFIX):]
            if number.isdigit() and int(number) < self.number - 1:
                shutil.rmtree(old, ignore_errors=True)

    @property
    def generation(self) -> str:
        """The generation's schema name."""
        return self.schema

    def _rows(self, sql: str, **params: Any) -> list:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).all()

    def _search(self, sql: str, n: int, **params: Any) -> list:
        """Rows of a vector search, with HNSW asked for enough candidates (and to keep scanning
        past rows a language filter drops)."""
        with self.engine.begin() as conn:
            conn.execute(text("SELECT set_config('hnsw.ef_search', :ef, true), "
                              "set_config('hnsw.iterative_scan', 'strict_order', true)"),
                         {"ef": str(min(1000, max(MIN_EF_SEARCH, n)))})
            return conn.execute(text(sql), {"n": n, **params}).all()

    def units(self, ids: list[int]) -> dict[int, UnitRow]:
        """Units by id (missing ids are left out)."""
        if not ids:
            return {}
        rows = self._rows(f"SELECT {UNIT_COLUMNS} FROM {self.schema}.chunks c WHERE c.id = ANY(:ids)", ids=list(ids))
        return {r.id: _unit(r) for r in rows}

    def first_unit(self, record_key: str) -> UnitRow | None:
        """The first unit of a record (a product's card)."""
        rows = self._rows(f"SELECT {UNIT_COLUMNS} FROM {self.schema}.chunks c WHERE c.record_key = :k "
                          "ORDER BY c.id LIMIT 1", k=record_key)
        return _unit(rows[0]) if rows else None

    def unit_texts(self) -> Iterator[tuple[str, str, str]]:
        """Every unit's text, type and title, in id order."""
        yield from self._rows(f"SELECT text, type, title FROM {self.schema}.chunks ORDER BY id")

    def order_rows(self) -> list[tuple]:
        """The generation's orders, as the order store syncs them."""
        return self._rows(f"SELECT order_id, email, status, placed_at, shipped_at, carrier, tracking, address, "
                          f"total, items, source FROM {self.schema}.orders")

    def document_frequencies(self) -> tuple[dict[str, int], int]:
        """Each keyword term's document frequency, and the number of units."""
        rows = self._rows(f"SELECT term, df FROM {self.schema}.terms")
        return {r.term: r.df for r in rows}, int(self.keyword_stats["n"])

    def embed_query(self, query: str) -> np.ndarray:
        """The query's vector (embed once, search several ways)."""
        return np.asarray(self.embedder.embed_queries([query])[0])

    def dense_search(self, query: str | np.ndarray, k: int = 10, lang: str | None = None) -> list[tuple[int, float]]:
        """Top-k units by embedding similarity, optionally only units of one language."""
        vector = self.embed_query(query) if isinstance(query, str) else query
        params = {"v": vector_literal(vector), **({"lang": lang} if lang else {})}
        return [(r.id, float(r.score)) for r in self._search(dense_sql(self.schema, "chunks", lang is not None), k, **params)]

    def question_search(self, vector: np.ndarray, k: int = 3) -> list[tuple[int, float]]:
        """FAQs whose *question* is most similar to a query vector (for curated answers)."""
        return [(r.id, float(r.score)) for r in self._search(dense_sql(self.schema, "questions", False), k,
                                                             v=vector_literal(vector))]

    def keyword_search(self, query: str, k: int = 10) -> list[tuple[int, float]]:
        """Top-k units by BM25."""
        terms = list(dict.fromkeys(tokenize(query)))
        query_literal = tsquery_literal(terms)
        if not query_literal:
            return []
        rows = self._search(keyword_sql(self.schema, "0"), k, q0=query_literal, terms0=terms, **self._bm25())
        return [(r.id, float(r.score)) for r in rows]

    def fused_search(self, vector: np.ndarray | None, lists: Lists, n: int, k: int, rrf_k: int,
                     types: set[str] | None) -> list[tuple[UnitRow, float, int | None, float | None, int | None, float | None]]:
        """The top-k fused hits of ``lists`` (each list ``n`` long), ranked in one SQL statement:
        ``(unit, fused score, dense rank, dense score, keyword rank, keyword score)``."""
        keyword_terms = tuple(t for t in lists.keyword_terms if tsquery_literal(t))  # no usable term: no list
        lists = Lists(lists.dense_langs if vector is not None else (), keyword_terms)
        if not lists.dense_langs and not lists.keyword_terms:
            return []
        sql, params = fused_sql(self.schema, lists, bool(types))
        if vector is not None:
            params["v"] = vector_literal(vector)
        rows = self._search(sql, n, k=k, rrf_k=rrf_k, types=sorted(types or ()), **params, **self._bm25())
        return [(_unit(r), float(r.fused_score), r.dense_rank, _float(r.dense_score), r.keyword_rank,
                 _float(r.keyword_score)) for r in rows]

    def _bm25(self) -> dict[str, float]:
        s = self.keyword_stats
        return {"k1": s["k1"], "b": s["b"], "avgdl": max(float(s["avgdl"]), 1e-9)}

    def product(self, sku: str) -> dict[str, Any] | None:
        """A catalogue product by exact SKU."""
        rows = self._rows(f"SELECT data FROM {self.schema}.products WHERE sku = :s", s=sku)
        return json.loads(rows[0].data) if rows else None

    def close(self) -> None:
        """Nothing to release: the engine belongs to whoever made it."""


def _unit(row) -> UnitRow:
    return UnitRow(row.id, row.record_key, row.type, row.source, row.title, row.url, row.position, row.lang,
                   row.text, json.loads(row.meta))


def _float(value) -> float | None:
    return None if value is None else round(float(value), 5)  # as the FAISS path shows them
