"""Where the live index generation comes from: the manifest in index_dir (FAISS and BM25
files), or the live pointer in Postgres when ``database_url`` is set (pgvector and a tsvector).

Both answer two questions: which generation is live now (cheap, asked on requests), and load
it (seconds, once per generation).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Hashable

from sqlalchemy.exc import SQLAlchemyError

from shopqa.ingest import manifest
from shopqa.ingest.embedders import Embedder
from shopqa.ingest.index import ShopIndex

log = logging.getLogger("shopqa.index")


class FileIndexSource:
    """The index folder: the live generation is the one its manifest names."""

    backend = "faiss"

    def __init__(self, index_dir: Path):
        self.index_dir = Path(index_dir)

    def stamp(self, fresh: bool = False) -> Hashable | None:
        """What changes when ingest swaps in a generation: the manifest file's identity and time
        (it is replaced by an atomic rename). One stat a request instead of parsing it."""
        try:
            st = os.stat(self.index_dir / manifest.MANIFEST)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def live_name(self) -> str | None:
        """The live generation's name (parses the manifest)."""
        found = manifest.read(self.index_dir)
        return found["generation"] if found else None

    def open(self, embedder: Embedder) -> ShopIndex:
        """Load the live generation."""
        return ShopIndex(self.index_dir, embedder)


class PgIndexSource:
    """The index in Postgres: the live generation is the one ``shopqa_index_live`` names.

    The pointer is read at most once a second per process (a replica notices a new generation
    within a second; the old one stays in Postgres until the one after it is published)."""

    backend = "pgvector"
    POLL_SECONDS = 1.0

    def __init__(self, engine, local_dir: Path):
        self.engine = engine
        self.local_dir = Path(local_dir)
        self._checked: tuple[float, int | None] = (-1e9, None)  # (monotonic time, number)
        self._lock = threading.Lock()

    def stamp(self, fresh: bool = False) -> Hashable | None:
        """The live generation's number, re-read at most every POLL_SECONDS (now if ``fresh``)."""
        from shopqa.ingest.pg_index import live_number

        now = time.monotonic()
        if now - self._checked[0] < self.POLL_SECONDS and not fresh:
            return self._checked[1]
        with self._lock:
            if now - self._checked[0] >= self.POLL_SECONDS or fresh:
                try:
                    self._checked = (now, live_number(self.engine))
                except SQLAlchemyError:
                    if self._checked[1] is None:
                        raise  # nothing loaded yet: warm-up reports it
                    # Keep the generation in hand: a request that reaches the database
                    # still works, and the next poll tries again.
                    log.warning("cannot read the live index generation from Postgres; keeping %s",
                                self._checked[1], exc_info=True)
                    self._checked = (now, self._checked[1])
            return self._checked[1]

    def live_name(self) -> str | None:
        """The live generation's schema name."""
        from shopqa.ingest.pg_schema import schema_name

        number = self.stamp()
        return None if number is None else schema_name(number)

    def open(self, embedder: Embedder):
        """Load the live generation from Postgres."""
        from shopqa.ingest.pg_index import PgShopIndex

        return PgShopIndex(self.engine, embedder, self.local_dir, number=self._checked[1])
