"""The dense index: FAISS inner-product search over normalised vectors, with stable integer ids."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np


def new_index(dim: int):
    """An empty FAISS index whose records can be added and removed by id."""
    import faiss

    if dim <= 0:
        raise ValueError(f"embedding dimension must be positive, got {dim}")
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def remove(index, ids: Iterable[int]) -> int:
    """Remove vectors by id; returns how many were removed."""
    ids = np.fromiter(ids, dtype=np.int64)
    return int(index.remove_ids(ids)) if len(ids) else 0


def add(index, ids: Iterable[int], vectors: np.ndarray) -> None:
    """Add normalised vectors under the given ids."""
    ids = np.fromiter(ids, dtype=np.int64)
    if len(ids) != len(vectors):
        raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)


def search(index, query: np.ndarray, k: int, only: np.ndarray | None = None) -> list[tuple[int, float]]:
    """Top-k ``(id, cosine similarity)`` for one normalised query vector, optionally among ``only`` ids."""
    import faiss

    if index.ntotal == 0:
        return []
    params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(only)) if only is not None else None
    scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32),
                               min(k, index.ntotal), params=params)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]


def save(index, path: Path) -> None:
    """Write the index to ``path``."""
    import faiss

    faiss.write_index(index, str(path))


def load(path: Path):
    """Read an index written by ``save``."""
    import faiss

    return faiss.read_index(str(path))
