"""How much each of the shop's words weighs: the keyword index's IDF, kept with the index."""
from __future__ import annotations

import math

import numpy as np


class TermWeights:
    """IDF of each keyword-index term in one index generation; a term the shop never uses weighs most."""

    def __init__(self, frequencies: dict[str, int], units: int):
        n = max(1, units)
        self.vocab = {term: col for col, term in enumerate(frequencies)}
        df = np.fromiter(frequencies.values(), dtype=np.float64, count=len(frequencies))
        self.idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        self.unknown = float(math.log(1.0 + (n + 0.5) / 0.5))

    def weight(self, term: str) -> float:
        """The term's IDF in this shop."""
        col = self.vocab.get(term)
        return self.unknown if col is None else float(self.idf[col])

    def coverage(self, terms: set[str], found: set[str]) -> float:
        """Share of the IDF mass of ``terms`` that ``found`` covers (1.0 for no terms)."""
        total = sum(self.weight(t) for t in terms)
        return sum(self.weight(t) for t in terms & found) / total if total else 1.0

    @classmethod
    def of(cls, index) -> "TermWeights":
        """The weights of an index generation, computed once and kept with it."""
        cached = getattr(index, "_term_weights", None)
        if cached is None:
            cached = cls(*index.document_frequencies())
            index._term_weights = cached
        return cached
