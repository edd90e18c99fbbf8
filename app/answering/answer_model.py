"""The learned answer scorer and answerability decision (weights in app/data/answer_model.json).

Two logistic regressions, fitted by ``bench/fit_answer_model.py`` on public data with gold
answers (WixQA expert answers, TechQA answers and its unanswerable questions) and the dev
shops, and reported leave-one-shop-out in BENCHMARKS.md:

- the **candidate scorer**: P(this sentence states the answer | its features), over
  :data:`app.candidates.FEATURES`;
- the **answerability model**: P(the shop's passages answer the question | the question-level
  evidence), over :data:`app.candidates.ANSWERABILITY`, with two thresholds: at or above
  ``answer`` the best candidates are quoted; between ``partial`` and ``answer`` shopqa says
  plainly that it did not find exactly that, quotes what is close and offers a person; below
  ``partial`` it abstains.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Sequence

ANSWER, PARTIAL, ABSTAIN = "answer", "partial", "abstain"
# Word-overlap evidence, meaningless when the question and the best passages are in different
# languages ("whats the warranty on the earbuds" over Chinese articles): read at its mean then.
CROSS_LINGUAL_NEUTRAL = frozenset({"context_cov", "missing_rare", "best_lex"})


@dataclass(frozen=True)
class Logistic:
    """A fitted logistic regression over named, standardised features."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def __post_init__(self) -> None:
        n = len(self.features)
        if not (len(self.mean) == len(self.scale) == len(self.coef) == n) or n == 0:
            raise ValueError("a logistic model needs one mean, scale and coefficient per feature")
        if any(s <= 0 for s in self.scale):
            raise ValueError("feature scales must be positive")

    def evidence_probability(self, values: dict[str, float]) -> float:
        """P(positive) for question-level evidence: word overlap reads as no evidence when the
        question and the best passages are in different languages (``values["cross_lingual"]``)."""
        return self.probability(values, CROSS_LINGUAL_NEUTRAL if values.get("cross_lingual") else frozenset())

    def probability(self, values: dict[str, float], neutral: frozenset[str] | set[str] = frozenset()) -> float:
        """P(positive) for one row of named feature values (a missing feature is an error).

        Features in ``neutral`` carry no evidence for this row (they are read at their mean):
        word overlap says nothing when the question and the passages are in different languages.
        """
        z = self.intercept + sum(c * ((values[f] if f not in neutral else m) - m) / s for f, m, s, c in
                                 zip(self.features, self.mean, self.scale, self.coef))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    @classmethod
    def from_dict(cls, data: dict) -> "Logistic":
        """Build from the JSON shape written by the fitting script."""
        return cls(tuple(data["features"]), tuple(data["mean"]), tuple(data["scale"]), tuple(data["coef"]),
                   float(data["intercept"]))

    def as_dict(self) -> dict:
        """The JSON shape."""
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "coef": list(self.coef), "intercept": self.intercept}


@dataclass(frozen=True)
class AnswerModel:
    """Candidate scorer, answerability model and the decision thresholds."""

    candidate: Logistic
    answerable: Logistic
    answer_at: float
    partial_at: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.partial_at <= self.answer_at <= 1.0:
            raise ValueError(f"thresholds need 0 <= partial ({self.partial_at}) <= answer ({self.answer_at}) <= 1")

    def score(self, features: dict[str, float]) -> float:
        """P(the candidate states the answer)."""
        return self.candidate.probability(features)

    def decide(self, evidence: dict[str, float]) -> tuple[str, float]:
        """``(answer|partial|abstain, P(answerable))`` for the question-level evidence."""
        p = self.answerable.evidence_probability(evidence)
        return (ANSWER if p >= self.answer_at else PARTIAL if p >= self.partial_at else ABSTAIN), p

    @classmethod
    def load(cls, path: str | Path | None = None) -> "AnswerModel":
        """The shipped model, or one written by ``bench/fit_answer_model.py`` at ``path``."""
        if path is None:
            text = resources.files("shopqa").joinpath("data/answer_model.json").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text)
        return cls(Logistic.from_dict(data["candidate"]), Logistic.from_dict(data["answerable"]),
                   float(data["thresholds"]["answer"]), float(data["thresholds"]["partial"]))

    @classmethod
    def for_embedder(cls, embedder_id: str, path: str | Path | None = None) -> "AnswerModel | None":
        """The shipped model (or the one at ``path``) when it was fitted for ``embedder_id`` (its
        features are the embedder's cosines), else None: the answerer then ranks and abstains the
        plain way."""
        data = fitted_for(embedder_id, "answer_model.json", path)
        return None if data is None else cls.load(path)

    def dump(self, path: Path, info: dict | None = None) -> None:
        """Write the model (atomically) with optional fitting information."""
        data = {"candidate": self.candidate.as_dict(), "answerable": self.answerable.as_dict(),
                "thresholds": {"answer": self.answer_at, "partial": self.partial_at}, "info": info or {}}
        tmp = Path(path).with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        tmp.replace(path)


def fitted_for(embedder_id: str, name: str, path: str | Path | None = None) -> dict | None:
    """The JSON of a fitted model (``app/data/NAME`` or ``path``) if it was fitted for
    ``embedder_id``, else None (a missing file too)."""
    try:
        text = (resources.files("shopqa").joinpath(f"data/{name}").read_text(encoding="utf-8")
                if path is None else Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    data = json.loads(text)
    return data if data.get("info", {}).get("embedder") == embedder_id else None


def fit_logistic(rows: Sequence[dict[str, float]], labels: Sequence[int], features: Sequence[str],
                 c: float = 1.0, weights: Sequence[float] | None = None) -> Logistic:
    """Fit a standardised L2 logistic regression (scikit-learn) over named features."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.asarray([[r[f] for f in features] for r in rows], dtype=float)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    model.fit((x - mean) / scale, np.asarray(labels), sample_weight=None if weights is None else np.asarray(weights))
    return Logistic(tuple(features), tuple(mean.tolist()), tuple(scale.tolist()), tuple(model.coef_[0].tolist()),
                    float(model.intercept_[0]))
