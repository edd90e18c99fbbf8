"""Heavy components shared by all requests: the embedder and the loaded index.

Loaded once in ``warm_up`` and swapped atomically when a new index generation appears,
so requests in flight keep the generation they started with.
"""
from __future__ import annotations

import threading
from pathlib import Path

from ingest import manifest
from ingest.embedders import Embedder, make_embedder
from ingest.index import ShopIndex

from .settings import Settings


class Resources:
    """The process's models and index; thread-safe."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self.settings = settings
        self.embedder = embedder or make_embedder(settings.embedder, batch_size=settings.embed_batch_size)
        self._index: ShopIndex | None = None
        self._lock = threading.Lock()
        self.error: str | None = None

    def warm_up(self) -> None:
        """Load the embedder and the index; remember the error instead of crashing the server."""
        try:
            self.embedder.warm_up()
            self._index = ShopIndex(Path(self.settings.index_dir), self.embedder)
            self.error = None
        except (manifest.IndexUnusable, OSError) as exc:
            self.error = str(exc)

    @property
    def ready(self) -> bool:
        """True when an index is loaded."""
        return self._index is not None

    def index(self) -> ShopIndex:
        """The live index, reloading first if ingest has swapped in a new generation."""
        self.reload_if_changed()
        if self._index is None:
            raise manifest.IndexUnusable(self.error or "index not loaded")
        return self._index

    def reload_if_changed(self) -> bool:
        """Load the newest generation if the manifest names a different one; True if reloaded."""
        current = manifest.read(Path(self.settings.index_dir))
        if current is None or (self._index is not None and current["generation"] == self._index.generation):
            return False
        with self._lock:
            if self._index is not None and current["generation"] == self._index.generation:
                return False
            fresh = ShopIndex(Path(self.settings.index_dir), self.embedder)
            self._index, self.error = fresh, None  # the old one stays usable by requests holding it
        return True
