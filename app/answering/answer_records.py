"""The records of one answer: the calibrated thresholds, what retrieval found (``Evidence``),
the reply (``Answer``) with its cited sources, and the timer of its stages."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from shopqa.answering.candidates import Candidate
from shopqa.answering.retrieval import Hit


@dataclass
class Thresholds:
    """Calibrated decision thresholds (cosine similarities of the index's embedder)."""

    curated: float
    abstain: float

    def __post_init__(self) -> None:
        if not (-1 <= self.abstain <= 1 and -1 <= self.curated <= 1):
            raise ValueError(f"thresholds are cosine similarities in [-1, 1]: {self}")


@dataclass
class Answer:
    """The reply and how it was made."""

    answer: str
    path: str
    lang: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    standalone: str = ""
    confidence: float = 0.0
    products: list[str] = field(default_factory=list)
    grounding: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of `shopqa ask --json` and the chat API."""
        return {"answer": self.answer, "path": self.path, "sources": self.sources, "lang": self.lang,
                "timings_ms": self.timings_ms, "standalone_query": self.standalone,
                "confidence": round(self.confidence, 4), "products": self.products,
                "grounding_failures": self.grounding}


@dataclass
class Evidence:
    """What retrieval found for one question, before anything is said."""

    question: str
    query: str
    lang: str
    mentions: list
    vector: Any
    hits: list[Hit]
    faq_matches: list[tuple[int, float]]
    confidence: float
    context_hits: list[Hit] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    from_history: bool = False  # the products were named in an earlier turn, not this one
    earlier: str | None = None  # the earlier question a follow-up leans on


class Timer:
    """Milliseconds spent in each named stage of one answer, and in total."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.last = self.start
        self.marks: dict[str, float] = {}

    def mark(self, name: str) -> None:
        """Close the stage ``name``: the time since the previous mark."""
        now = time.perf_counter()
        self.marks[name] = round((now - self.last) * 1000, 2)
        self.last = now

    def done(self) -> dict[str, float]:
        """The stage timings with the total since the start."""
        self.marks["total"] = round((time.perf_counter() - self.start) * 1000, 2)
        return self.marks


def hit_source(hit: Hit, number: int | None = None) -> dict[str, Any]:
    """A retrieved passage as a cited source (``ref`` its number in the reply, when cited)."""
    u = hit.unit
    snippet = u.text.split("\n", 1)[-1][:240]
    out = {"id": u.id, "title": u.title, "source": u.url or u.source, "file": u.source, "type": u.type,
           "snippet": snippet, "score": round(hit.score, 5)}
    if number is not None:
        out["ref"] = number
    return out
