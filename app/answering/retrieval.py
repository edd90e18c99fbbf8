"""Hybrid retrieval: dense FAISS search and BM25, fused with reciprocal rank fusion.

Each hit keeps its dense and keyword ranks and scores, for debugging and the search page.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopqa.ingest.chunking import detect_lang
from shopqa.ingest.index import ShopIndex, UnitRow
from shopqa.ingest.pg_search import Lists
from shopqa.ingest.tokenize import tokenize

from shopqa.text.bridge import Bridge


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
    """Dense + BM25 with RRF; ``rrf_k`` = 60 as in Cormack et al. (2009).

    Multilingual embedders prefer passages in the query's own language (a Chinese question
    scores Chinese passages about anything above the English passage that answers it), so
    besides the plain dense list, one dense list per *other* language joins the fusion:
    the best English passage for a Chinese question gets a rank of its own.
    """

    def __init__(self, index: ShopIndex, candidates: int = 30, rrf_k: int = 60, cross_lingual: bool = True):
        if candidates < 1 or rrf_k < 1:
            raise ValueError(f"candidates and rrf_k must be >= 1, got {candidates}, {rrf_k}")
        self.index = index
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.cross_lingual = cross_lingual

    def search(self, query: str, k: int = 10, types: set[str] | None = None, mode: str = "hybrid",
               vector: np.ndarray | None = None, lang: str | None = None) -> list[Hit]:
        """Top-k fused hits; ``mode`` is 'hybrid', 'dense' or 'keyword'; ``types`` filters unit types.

        ``vector`` is the query's embedding when the caller already has it.
        """
        if mode not in ("hybrid", "dense", "keyword"):
            raise ValueError(f"mode must be hybrid, dense or keyword, got {mode!r}")
        n = self.candidates * (3 if types else 1)  # type filtering happens after fusion
        if mode != "keyword" and vector is None:
            vector = self.index.embed_query(query)
        dense_langs, keyword_queries = self._lists(query, mode, lang)
        if hasattr(self.index, "fused_search"):
            # The index fuses in its own engine (Postgres: one SQL statement, ingest/pg_search.py).
            lists = Lists(tuple(dense_langs), tuple(tuple(dict.fromkeys(tokenize(q))) for q in keyword_queries))
            return [Hit(*row) for row in self.index.fused_search(vector if dense_langs else None, lists, n, k,
                                                                 self.rrf_k, types)]
        dense_lists = [self.index.dense_search(vector, n, lang=other) for other in dense_langs]
        keyword_lists = [self.index.keyword_search(q, n) for q in keyword_queries]
        ids = {uid for lst in dense_lists + keyword_lists for uid, _ in lst}
        units = self.index.units(list(ids))
        fused: dict[int, Hit] = {}
        # A unit's dense credit is its best rank over the dense lists, not their sum: the
        # language lists lift other-language passages up to the main list's level without
        # counting a passage twice. Ties keep the main list's order (see the sort below).
        # Keyword credit likewise: the best rank over the query's own list and its translations.
        for kind, lists in (("dense", dense_lists), ("keyword", keyword_lists)):
            for uid, rank in _best_ranks(lists, units, fused, kind).items():
                fused[uid].score += 1.0 / (self.rrf_k + rank)
        main_rank = {uid: rank for rank, (uid, _) in enumerate(dense_lists[0] if dense_lists else [], start=1)
                     if uid in units}
        hits = sorted(fused.values(), key=lambda h: (-h.score, main_rank.get(h.unit.id, 10**9)))
        if types:
            hits = [h for h in hits if h.unit.type in types]
        return hits[:k]

    def _lists(self, query: str, mode: str, lang: str | None) -> tuple[list[str | None], list[str]]:
        """What to rank: a dense list per language filter (None: all units; first, the main
        list) and a keyword list per query text (the query, then its translations)."""
        dense_langs: list[str | None] = []
        if mode != "keyword":
            dense_langs.append(None)
            if self.cross_lingual:
                lang = lang or detect_lang(query)
                dense_langs += [other for other in sorted(self.index.languages) if other != lang]
        keyword_queries = [query] if mode != "dense" else []
        if mode != "dense" and self.cross_lingual and len(self.index.languages) > 1:
            # Words never meet across languages: the query's concepts in the other language's
            # words ("斑贴测试" -> "patch test", app/text/bridge.py) search the keyword index too.
            lang = lang or detect_lang(query)
            bridge = Bridge.of(self.index)
            for other in sorted(self.index.languages):
                translated = bridge.translate(query, other) if other != lang else ""
                if translated:
                    keyword_queries.append(translated)
        return dense_langs, keyword_queries


def _best_ranks(lists: list[list[tuple[int, float]]], units: dict, fused: dict[int, Hit], kind: str) -> dict[int, int]:
    """Each unit's best rank over ``lists`` (results of one kind, "dense" or "keyword", the
    query's own list first); the hit shows its rank and score in the first list that has it."""
    best: dict[int, int] = {}
    for position, lst in enumerate(lists):
        for rank, (uid, score) in enumerate(lst, start=1):
            if uid not in units:
                continue
            hit = fused.setdefault(uid, Hit(units[uid], 0.0))
            if position == 0 or getattr(hit, f"{kind}_rank") is None:
                setattr(hit, f"{kind}_rank", rank)
                setattr(hit, f"{kind}_score", round(score, 5))
            best[uid] = min(rank, best.get(uid, rank))
    return best


def fuse(lists: list[list[Hit]], rrf_k: int = 60) -> list[Hit]:
    """Several hit lists (e.g. for a follow-up and for its standalone rewrite) fused by
    reciprocal rank; a unit keeps the reasons (ranks, scores) of the list it ranked best in."""
    if rrf_k < 1:
        raise ValueError(f"rrf_k must be >= 1, got {rrf_k}")
    score: dict[int, float] = {}
    best: dict[int, tuple[int, Hit]] = {}
    for lst in lists:
        for rank, hit in enumerate(lst, start=1):
            uid = hit.unit.id
            score[uid] = score.get(uid, 0.0) + 1.0 / (rrf_k + rank)
            if uid not in best or rank < best[uid][0]:
                best[uid] = (rank, hit)
    out = []
    for uid, (_, hit) in best.items():
        out.append(Hit(hit.unit, score[uid], hit.dense_rank, hit.dense_score, hit.keyword_rank, hit.keyword_score))
    return sorted(out, key=lambda h: (-h.score, best[h.unit.id][0]))
