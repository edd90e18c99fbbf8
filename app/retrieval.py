"""Hybrid retrieval: dense FAISS search and BM25, fused with reciprocal rank fusion.

Each hit keeps its dense and keyword ranks and scores, for debugging and the search page.
"""
from __future__ import annotations

from dataclasses import dataclass

from ingest.index import ShopIndex, UnitRow


@dataclass
class Hit:
    """One fused result with the reasons it was found."""

    unit: UnitRow
    score: float
    dense_rank: int | None = None
    dense_score: float | None = None
    keyword_rank: int | None = None
    keyword_score: float | None = None

    def as_dict(self, snippet_chars: int = 240) -> dict:
        """JSON-able view for APIs."""
        u = self.unit
        return {"id": u.id, "type": u.type, "title": u.title, "source": u.url or u.source, "file": u.source,
                "snippet": u.text[:snippet_chars], "score": round(self.score, 5), "lang": u.lang,
                "dense_rank": self.dense_rank, "dense_score": self.dense_score,
                "keyword_rank": self.keyword_rank, "keyword_score": self.keyword_score}


class HybridRetriever:
    """Dense + BM25 with RRF; ``rrf_k`` = 60 as in Cormack et al. (2009)."""

    def __init__(self, index: ShopIndex, candidates: int = 30, rrf_k: int = 60):
        if candidates < 1 or rrf_k < 1:
            raise ValueError(f"candidates and rrf_k must be >= 1, got {candidates}, {rrf_k}")
        self.index = index
        self.candidates = candidates
        self.rrf_k = rrf_k

    def search(self, query: str, k: int = 10, types: set[str] | None = None, mode: str = "hybrid") -> list[Hit]:
        """Top-k fused hits; ``mode`` is 'hybrid', 'dense' or 'keyword'; ``types`` filters unit types."""
        if mode not in ("hybrid", "dense", "keyword"):
            raise ValueError(f"mode must be hybrid, dense or keyword, got {mode!r}")
        # Filtering by type happens after fusion, so fetch more candidates when filtering.
        n = self.candidates * (3 if types else 1)
        dense = self.index.dense_search(query, n) if mode != "keyword" else []
        keyword = self.index.keyword_search(query, n) if mode != "dense" else []
        fused: dict[int, Hit] = {}
        units = self.index.units(list({uid for uid, _ in dense} | {uid for uid, _ in keyword}))
        for rank, (uid, score) in enumerate(dense, start=1):
            if uid in units:
                hit = fused.setdefault(uid, Hit(units[uid], 0.0))
                hit.dense_rank, hit.dense_score = rank, round(score, 5)
                hit.score += 1.0 / (self.rrf_k + rank)
        for rank, (uid, score) in enumerate(keyword, start=1):
            if uid in units:
                hit = fused.setdefault(uid, Hit(units[uid], 0.0))
                hit.keyword_rank, hit.keyword_score = rank, round(score, 5)
                hit.score += 1.0 / (self.rrf_k + rank)
        hits = sorted(fused.values(), key=lambda h: -h.score)
        if types:
            hits = [h for h in hits if h.unit.type in types]
        return hits[:k]
