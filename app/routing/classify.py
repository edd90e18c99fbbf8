"""A linear classifier over the shop's embedder, the base of the intent and sentiment models.

Logistic regression on normalised query embeddings: it trains in well under a second on a
few thousand examples, needs no extra model, and works for any embedder a shop configures
(the e5 default also carries Chinese, so one model serves both languages).

Optionally the embedding is joined by character n-gram TF-IDF features of the text
(``lexical_weight`` > 0). Intents are often carried by a single word ("invoice", "cancel",
"退款") that a small 4-bit embedder blurs; n-grams of whole characters work for English and
Chinese alike and cost microseconds.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from shopqa.ingest.embedders import Embedder

from shopqa.routing.vectors import cached_queries


class EmbeddingClassifier:
    """Fit on (text, label) examples; predict label probabilities for new texts."""

    def __init__(self, embedder: Embedder, texts: Sequence[str], labels: Sequence[str],
                 cache_dir: Path | None = None, c: float = 4.0, lexical_weight: float = 0.0):
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        if len(set(labels)) < 2:
            raise ValueError("a classifier needs examples of at least two labels")
        if c <= 0:
            raise ValueError("the regularisation strength c must be positive")
        if lexical_weight < 0:
            raise ValueError("lexical_weight must be >= 0")
        self.embedder = embedder
        self.texts = list(texts)
        self.labels = list(labels)
        self.cache_dir = cache_dir
        self.c = c
        self.lexical_weight = lexical_weight
        self._lexical = None
        self.classes: list[str] = sorted(set(self.labels))
        self._model = None
        self.vectors: np.ndarray | None = None

    def fit(self) -> "EmbeddingClassifier":
        """Embed the examples (through the disk cache) and fit the model."""
        from sklearn.linear_model import LogisticRegression  # imported here: nothing heavy at import time

        self.vectors = cached_queries(self.embedder, self.texts, self.cache_dir)
        y = np.array([self.classes.index(lab) for lab in self.labels])
        if self.lexical_weight:
            from sklearn.feature_extraction.text import TfidfVectorizer

            self._lexical = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
            self._lexical.fit(self.texts)
        self._model = LogisticRegression(C=self.c, max_iter=3000, class_weight="balanced")
        self._model.fit(self._features(self.vectors, self.texts), y)
        return self

    def _features(self, vectors: np.ndarray, texts: Sequence[str] | None):
        if self._lexical is None:
            return vectors
        if texts is None or len(texts) != len(vectors):
            raise ValueError("this classifier uses the texts as well as their vectors; pass both")
        from scipy import sparse

        return sparse.hstack([sparse.csr_matrix(vectors),
                              self.lexical_weight * self._lexical.transform(list(texts))]).tocsr()

    @property
    def fitted(self) -> bool:
        """True once ``fit`` has run."""
        return self._model is not None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Query embeddings of ``texts`` (not cached: these are customer messages)."""
        return self.embedder.embed_queries(list(texts))

    def proba(self, vectors: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        """Class probabilities, one row per vector, columns in ``self.classes`` order.

        ``texts`` are the messages the vectors embed; required when the model uses lexical features.
        """
        if self._model is None:
            self.fit()
        return self._model.predict_proba(self._features(np.atleast_2d(vectors), texts))
