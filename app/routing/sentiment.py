"""Multilingual sentiment: negative / neutral / positive with a score in [-1, 1].

A logistic regression over the shop's embedder, trained on the bundled English and Chinese
examples (app/data/sentiment.jsonl, written for shopqa), decides negative / neutral / positive.
For Chinese text a review model (app/routing/review_polarity.py: words and characters, plus the e5-small
vector when that is the embedder) also has a say in which way a non-neutral message leans: the share it decides grows with the message's share of Chinese
characters, and P(neutral) is left as the embedding model gave it, so neutral questions stay
neutral. The score is P(positive) minus P(negative); "strongly negative" (a handoff trigger)
is a score at or below a threshold from app/data/calibration.json, chosen on public review data
(bench/calibrate_routing.py).
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from shopqa.ingest.embedders import Embedder

from shopqa.routing.classify import EmbeddingClassifier
from shopqa.routing.review_polarity import ReviewPolarity, cjk_share
from shopqa.paths import DATA

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


def mix_lean(probs: np.ndarray, weights: np.ndarray, p_positive: np.ndarray) -> np.ndarray:
    """Rows of (negative, neutral, positive) whose positive-vs-negative lean is mixed with
    ``p_positive`` by ``weights`` (0 keeps the row); P(neutral) stays as it is.

    The service and bench/train_review_polarity.py (which chooses the weight) both mix this way.
    """
    polar = probs[:, 0] + probs[:, 2]
    lean = (1 - weights) * probs[:, 2] / np.maximum(polar, 1e-9) + weights * p_positive
    return np.column_stack([polar * (1 - lean), probs[:, 1], polar * lean])


def _check_pairing(polarity: ReviewPolarity | None, embedder: Embedder) -> None:
    if polarity is not None and polarity.embedder_id not in (None, getattr(embedder, "id", None)):
        raise ValueError(f"the review model reads {polarity.embedder_id} vectors, "
                         f"not {getattr(embedder, 'id', embedder)}")


class SentimentClassifier:
    """Three-way sentiment over query embeddings."""

    def __init__(self, embedder: Embedder, examples: list[tuple[str, str]] | None = None,
                 strong_threshold: float = -0.6, cache_dir: Path | None = None,
                 polarity: ReviewPolarity | None = None):
        examples = examples if examples is not None else bundled_examples()
        bad = sorted({lab for _, lab in examples} - set(LABELS))
        if bad:
            raise ValueError(f"sentiment labels must be {', '.join(LABELS)}; got {', '.join(bad)}")
        if not -1.0 <= strong_threshold <= 0.0:
            raise ValueError(f"strong_threshold is a score in [-1, 0], got {strong_threshold}")
        _check_pairing(polarity, embedder)
        self.strong_threshold = strong_threshold
        self.polarity = polarity
        self.model = EmbeddingClassifier(embedder, [t for t, _ in examples], [lab for _, lab in examples],
                                         cache_dir=cache_dir)

    def with_polarity(self, polarity: ReviewPolarity | None) -> "SentimentClassifier":
        """This fitted classifier with another Chinese review model, without refitting (the
        review-polarity trainer scores its candidate weights through the service's own mix)."""
        _check_pairing(polarity, self.model.embedder)
        other = copy.copy(self)
        other.polarity = polarity
        return other

    def fit(self) -> "SentimentClassifier":
        """Embed the examples and fit (in a warm-up)."""
        self.model.fit()
        return self

    def proba(self, vectors: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        """Columns negative, neutral, positive; the Chinese lexical model joins in when texts are given."""
        probs = self.model.proba(vectors)
        cls = self.model.classes
        probs = probs[:, [cls.index(lab) for lab in LABELS]]
        if self.polarity is None or texts is None:
            return probs
        if len(texts) != len(probs):
            raise ValueError(f"{len(texts)} texts for {len(probs)} vectors")
        weights = np.array([self.polarity.weight * cjk_share(t) for t in texts])
        mixed = weights > 0
        if not mixed.any():
            return probs
        probs = probs.copy()
        probs[mixed] = mix_lean(probs[mixed], weights[mixed],
                                self.polarity.p_positive([t for t, m in zip(texts, mixed) if m], vectors[mixed]))
        return probs

    def scores(self, vectors: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        """P(positive) - P(negative) for each vector."""
        probs = self.proba(vectors, texts)
        return probs[:, 2] - probs[:, 0]

    def predict_vectors(self, vectors: np.ndarray, texts: Sequence[str] | None = None) -> list[Sentiment]:
        """Sentiment of already-embedded messages (pass their texts for the Chinese lexical model)."""
        out = []
        for row in self.proba(vectors, texts):
            score = float(row[2] - row[0])
            out.append(Sentiment(LABELS[int(np.argmax(row))], score, score <= self.strong_threshold))
        return out

    def predict(self, text: str, vector: np.ndarray | None = None) -> Sentiment:
        """Sentiment of one message."""
        if vector is None:
            vector = self.model.embed([text])
        return self.predict_vectors(vector, [text])[0]
