"""A disk cache of query embeddings for the classifiers' training examples.

The intent and sentiment classifiers are fitted on a few thousand short examples with the
shop's own embedder. Embedding them takes e5-small about half a minute on two cores, so the
vectors are kept in ``data_dir/cache/<embedder>.npz`` keyed by a hash of each text: the
service starts in well under a second after the first time, and an edited example costs only
its own embedding.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from shopqa.ingest.embedders import Embedder

_LOCK = threading.Lock()


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def embedder_id(embedder: Embedder) -> str:
    """A stable id of the embedder (used to name the cache file)."""
    return str(getattr(embedder, "id", type(embedder).__name__))


def cached_queries(embedder: Embedder, texts: Sequence[str], cache_dir: Path | None) -> np.ndarray:
    """``embedder.embed_queries(texts)``, reading and extending the cache in ``cache_dir``.

    Without a cache_dir everything is embedded. The cache file is replaced atomically, so a
    crash mid-write never leaves a corrupt cache (a corrupt one is ignored and rebuilt).
    """
    texts = list(texts)
    if cache_dir is None or not texts:
        return embedder.embed_queries(texts) if texts else np.zeros((0, embedder.dim), dtype=np.float32)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", embedder_id(embedder)).strip("-") or "embedder"
    path = Path(cache_dir) / f"{slug}-{embedder.dim}.npz"
    with _LOCK:
        known: dict[str, np.ndarray] = {}
        if path.is_file():
            try:
                with np.load(path) as data:
                    known = dict(zip(data["keys"].tolist(), data["vectors"]))
            except (OSError, ValueError, KeyError):
                known = {}
        keys = [_key(t) for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in known]
        if missing:
            fresh = embedder.embed_queries([texts[i] for i in missing])
            for i, vec in zip(missing, fresh):
                known[keys[i]] = np.asarray(vec, dtype=np.float32)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
            os.close(fd)
            try:
                all_keys = list(known)
                with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz" to a name
                    np.savez(fh, keys=np.array(all_keys), vectors=np.stack([known[k] for k in all_keys]))
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        return np.stack([known[k] for k in keys]).astype(np.float32)
