"""Load a built index (the live generation named by the manifest) for searching."""
from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from . import dense, graph, manifest, store
from .embedders import Embedder
from .keyword import KeywordIndex
from .tokenize import TOKENIZER_VERSION

log = logging.getLogger("shopqa.index")


@dataclass
class UnitRow:
    """A retrievable unit as stored."""

    id: int
    record_key: str
    type: str
    source: str
    title: str
    url: str
    position: int
    lang: str
    text: str
    meta: dict[str, Any]


class ShopIndex:
    """The dense index, keyword index, product graph and store of one generation, loaded together.

    ingest/pg_index.py's PgShopIndex is the same interface over a generation in Postgres."""

    backend = "faiss"

    def __init__(self, index_dir: Path, embedder: Embedder):
        self.index_dir = Path(index_dir)
        found = manifest.read(self.index_dir)
        if found is None:
            raise manifest.IndexUnusable(f"{self.index_dir}: no index here yet; run `shopqa ingest SHOP_DIR "
                                         f"--index-dir {self.index_dir}` first")
        manifest.check_embedder(found, embedder.id, self.index_dir)
        self.manifest = found
        if found.get("tokenizer") != TOKENIZER_VERSION:
            # Still usable: only some keyword matches differ until the next ingest re-tokenizes it.
            log.warning("%s was tokenized by an older shopqa; run `shopqa ingest` once to refresh its keyword "
                        "index (nothing is re-embedded)", self.index_dir)
        self.embedder = embedder
        self.directory = self.index_dir / found["generation"]
        try:
            self._load_files()
        except (RuntimeError, OSError, ValueError, sqlite3.DatabaseError) as exc:
            # A damaged or half-copied generation (faiss, numpy and sqlite each fail their own
            # way): one message that names the folder and the fix, not a library traceback.
            raise manifest.IndexUnusable(
                f"{self.directory}: this index generation cannot be read ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:200] if str(exc) else 'damaged file'}); run `shopqa ingest SHOP_DIR "
                f"--index-dir {self.index_dir}` to write a new one") from exc

    def _load_files(self) -> None:
        self.dense = dense.load(self.directory / "dense.faiss")
        self.questions = dense.load(self.directory / "questions.faiss")
        self.keyword = KeywordIndex.load(self.directory)
        self.graph = graph.load(self.directory / "graph.json")
        self._db_path = self.directory / "store.sqlite"
        self._db = store.open_readonly(self._db_path)
        # Unit ids per language, for language-restricted dense search (see app.retrieval).
        by_lang: dict[str, list[int]] = {}
        for uid, lang in self._db.execute("SELECT id, lang FROM units"):
            by_lang.setdefault(lang or "en", []).append(uid)
        self.languages = {lang: np.asarray(ids, dtype=np.int64) for lang, ids in by_lang.items()}

    @property
    def generation(self) -> str:
        """The generation folder this object holds."""
        return self.manifest["generation"]

    def units(self, ids: list[int]) -> dict[int, UnitRow]:
        """Units by id (missing ids are left out)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(f"SELECT id, record_key, type, source, title, url, position, lang, text, meta "
                                f"FROM units WHERE id IN ({marks})", ids).fetchall()
        return {r["id"]: UnitRow(**{**dict(r), "meta": json.loads(r["meta"])}) for r in rows}

    def first_unit(self, record_key: str) -> UnitRow | None:
        """The first unit of a record (a product's card)."""
        row = self._db.execute("SELECT id FROM units WHERE record_key = ? ORDER BY id LIMIT 1", (record_key,)).fetchone()
        return self.units([row["id"]]).get(row["id"]) if row else None

    def unit_texts(self) -> Iterator[tuple[str, str, str]]:
        """Every unit's text, type and title, in id order."""
        yield from (tuple(r) for r in self._db.execute("SELECT text, type, title FROM units ORDER BY id").fetchall())

    def order_rows(self) -> list[tuple]:
        """The generation's orders, as the order store syncs them."""
        return [tuple(r) for r in self._db.execute(
            "SELECT order_id, email, status, placed_at, shipped_at, carrier, tracking, address, total, items, source "
            "FROM orders").fetchall()]

    def document_frequencies(self) -> tuple[dict[str, int], int]:
        """Each keyword term's document frequency, and the number of units."""
        weights = self.keyword.weights
        df = np.diff(weights.tocsc().indptr) if weights.shape[1] else np.zeros(0, dtype=np.int64)
        return {term: int(df[col]) for term, col in self.keyword.vocab.items()}, int(weights.shape[0])

    def embed_query(self, query: str) -> np.ndarray:
        """The query's vector (embed once, search several ways)."""
        return np.asarray(self.embedder.embed_queries([query])[0])

    def dense_search(self, query: str | np.ndarray, k: int = 10, lang: str | None = None) -> list[tuple[int, float]]:
        """Top-k units by embedding similarity, optionally only units of one language."""
        vector = self.embed_query(query) if isinstance(query, str) else query
        if lang is None:
            return dense.search(self.dense, vector, k)
        ids = self.languages.get(lang)
        return dense.search(self.dense, vector, k, ids) if ids is not None and len(ids) else []

    def question_search(self, vector: np.ndarray, k: int = 3) -> list[tuple[int, float]]:
        """FAQs whose *question* is most similar to a query vector (for curated answers)."""
        return dense.search(self.questions, vector, k)

    def keyword_search(self, query: str, k: int = 10) -> list[tuple[int, float]]:
        """Top-k units by BM25."""
        return self.keyword.search(query, k)

    def product(self, sku: str) -> dict[str, Any] | None:
        """A catalogue product by exact SKU."""
        row = self._db.execute("SELECT data FROM products WHERE sku = ?", (sku,)).fetchone()
        return json.loads(row["data"]) if row else None

    def db(self) -> sqlite3.Connection:
        """The read-only store connection (for the order tools and tests)."""
        return self._db

    def close(self) -> None:
        """Release the store connection."""
        self._db.close()
