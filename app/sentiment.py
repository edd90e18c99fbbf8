"""Multilingual sentiment: negative / neutral / positive with a score in [-1, 1].

A logistic regression over the shop's embedder, trained on the bundled English and Chinese
examples (app/data/sentiment.jsonl, written for shopqa). The score is P(positive) minus
P(negative); "strongly negative" (a handoff trigger) is a score at or below a threshold from
app/data/calibration.json, chosen on public review data (bench/calibrate_routing.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ingest.embedders import Embedder

from .classify import EmbeddingClassifier

DATA = Path(__file__).with_name("data")
LABELS = ("negative", "neutral", "positive")


@dataclass
class Sentiment:
    """The sentiment of one message."""

    label: str
    score: float
    strongly_negative: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON shape used by the CLI and the chat API."""
        return {"label": self.label, "score": round(self.score, 4), "strongly_negative": self.strongly_negative}


def bundled_examples() -> list[tuple[str, str]]:
    """(text, label) pairs shipped with shopqa."""
    out = []
    for line in (DATA / "sentiment.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out.append((row["text"], row["label"]))
    return out


class SentimentClassifier:
    """Three-way sentiment over query embeddings."""

    def __init__(self, embedder: Embedder, examples: list[tuple[str, str]] | None = None,
                 strong_threshold: float = -0.6, cache_dir: Path | None = None):
        examples = examples if examples is not None else bundled_examples()
        bad = sorted({lab for _, lab in examples} - set(LABELS))
        if bad:
            raise ValueError(f"sentiment labels must be {', '.join(LABELS)}; got {', '.join(bad)}")
        if not -1.0 <= strong_threshold <= 0.0:
            raise ValueError(f"strong_threshold is a score in [-1, 0], got {strong_threshold}")
        self.strong_threshold = strong_threshold
        self.model = EmbeddingClassifier(embedder, [t for t, _ in examples], [lab for _, lab in examples],
                                         cache_dir=cache_dir)

    def fit(self) -> "SentimentClassifier":
        """Embed the examples and fit (in a warm-up)."""
        self.model.fit()
        return self

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """P(positive) - P(negative) for each vector."""
        probs = self.model.proba(vectors)
        cls = self.model.classes
        return probs[:, cls.index("positive")] - probs[:, cls.index("negative")]

    def predict_vectors(self, vectors: np.ndarray) -> list[Sentiment]:
        """Sentiment of already-embedded messages."""
        probs = self.model.proba(vectors)
        cls = self.model.classes
        out = []
        for row in probs:
            score = float(row[cls.index("positive")] - row[cls.index("negative")])
            label = cls[int(np.argmax(row))]
            out.append(Sentiment(label, score, score <= self.strong_threshold))
        return out

    def predict(self, text: str, vector: np.ndarray | None = None) -> Sentiment:
        """Sentiment of one message."""
        if vector is None:
            vector = self.model.embed([text])
        return self.predict_vectors(vector)[0]
