"""A BM25 keyword index stored as a sparse doc x term weight matrix (fast to query, cheap to save)."""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import sparse

from .tokenize import tokenize


class KeywordIndex:
    """Okapi BM25 with precomputed weights; ``search`` sums the columns of the query's terms."""

    def __init__(self, ids: np.ndarray, vocab: dict[str, int], weights: sparse.csc_matrix):
        self.ids = ids
        self.vocab = vocab
        self.weights = weights

    @classmethod
    def build(cls, ids: Sequence[int], token_lists: Sequence[list[str]], k1: float = 1.2, b: float = 0.75) -> "KeywordIndex":
        """Compute BM25 term weights for each document (unit)."""
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        vocab: dict[str, int] = {}
        rows, cols, tfs = [], [], []
        lengths = np.zeros(len(token_lists), dtype=np.float32)
        for row, tokens in enumerate(token_lists):
            lengths[row] = len(tokens)
            for term, tf in Counter(tokens).items():
                rows.append(row)
                cols.append(vocab.setdefault(term, len(vocab)))
                tfs.append(tf)
        n = len(token_lists)
        tf = np.asarray(tfs, dtype=np.float32)
        cols_arr = np.asarray(cols, dtype=np.int64)
        df = np.bincount(cols_arr, minlength=len(vocab)).astype(np.float32)
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        avgdl = float(lengths.mean()) if n else 1.0
        norm = k1 * (1 - b + b * lengths[np.asarray(rows, dtype=np.int64)] / max(avgdl, 1e-9))
        weight = idf[cols_arr] * tf * (k1 + 1) / (tf + norm)
        matrix = sparse.csc_matrix((weight, (rows, cols)), shape=(n, len(vocab)), dtype=np.float32)
        return cls(np.asarray(ids, dtype=np.int64), vocab, matrix)

    def search(self, query: str, k: int = 10) -> list[tuple[int, float]]:
        """Top-k ``(unit id, score)`` for the query; empty when no term matches."""
        terms = sorted({self.vocab[t] for t in tokenize(query) if t in self.vocab})
        if not terms or not len(self.ids):
            return []
        scores = np.asarray(self.weights[:, terms].sum(axis=1)).ravel()
        k = min(k, int((scores > 0).sum()))
        if k <= 0:
            return []
        # Everything scoring at least the k-th score, then by score and, among equal scores, by
        # unit id: the same order as the keyword search in Postgres (ingest/pg_search.py).
        kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
        top = np.flatnonzero(scores >= kth)
        top = top[np.lexsort((self.ids[top], -scores[top]))][:k]
        return [(int(self.ids[i]), float(scores[i])) for i in top]

    def save(self, directory: Path) -> None:
        """Write ``keyword.npz`` and ``keyword.json`` into ``directory``."""
        sparse.save_npz(directory / "keyword.npz", self.weights.tocsc())
        np.save(directory / "keyword_ids.npy", self.ids)
        with open(directory / "keyword.json", "w", encoding="utf-8") as fh:
            json.dump({"vocab": self.vocab}, fh, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())

    @classmethod
    def load(cls, directory: Path) -> "KeywordIndex":
        """Read an index written by ``save``."""
        with open(directory / "keyword.json", encoding="utf-8") as fh:
            vocab = json.load(fh)["vocab"]
        return cls(np.load(directory / "keyword_ids.npy"), vocab, sparse.load_npz(directory / "keyword.npz").tocsc())
