"""Route with evidence: does the shop's own knowledge answer this message, whatever the intent model guessed?

The intent model was trained on generic examples and, alone, sends answerable help-center
questions to ``out_of_scope`` ("How many points do I need for a $10 reward?"), policy questions
to ``recommendation`` or ``feedback``, "what is your support phone number" to a person and "can
I add items to an order after placing it" to the order tools. Retrieval costs about 25 ms, so
the message is searched first and a small logistic regression weighs:

- the evidence: how similar the best published passage and FAQ question are (centred on the
  calibrated thresholds), how much of the message's key terms (IDF-weighted) the best
  passages cover, and the rarest term they do not mention;
- the intent model's verdict: its route, confidence and nearest-example similarity;
- the shape of the message: a question or a request ("I need to cancel"), a product or
  category named, an explicit ask for a person.

It is fitted by ``bench/fit_route_gate.py`` on the dev shops' cases and public utterances
(Bitext intents, CLINC150 out-of-scope) searched against the dev shops, and reported
leave-one-shop-out. The order tools and handoff keep priority where the message itself asks for
them (an order number, an explicit ask for a person); the caller enforces that.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Sequence

from shopqa.ingest.tokenize import tokenize

from shopqa.text.bridge import Bridge
from shopqa.answering.answer_model import Logistic, fitted_for
from shopqa.answering.candidates import TermWeights

ROUTES = ("out_of_scope", "recommend", "feedback", "chitchat", "handoff", "order", "complaint", "knowledge")
FEATURES = ("top_dense", "faq_q", "context_cov", "missing_rare", "confidence", "similarity",
            "is_question", "request", "names_product", "n_terms") + tuple(f"route_{r}" for r in ROUTES)
_QUESTION = re.compile(r"[?？]|^\s*(?:how|what|when|where|which|who|why|can|could|is|are|do|does|will|would|may|"
                       r"should|has|have)\b|吗|呢|么|怎么|如何|多少|几|哪|是否|能否|可以.*[吗么]|有没有", re.I)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_REQUEST = re.compile(r"\b(?:i (?:want|need|would like|'d like)|i'd like|please|help me|let me)\b|"
                      r"我要|我想|帮我|麻烦|给我|请帮", re.I)


@dataclass(frozen=True)
class RouteGate:
    """P(the shop's knowledge should answer) and the threshold above which it does."""

    model: Logistic
    threshold: float

    def prefers_knowledge(self, features: dict[str, float]) -> tuple[bool, float]:
        """Whether to answer from the shop's knowledge, and the probability."""
        p = self.model.evidence_probability(features)
        return p >= self.threshold, p

    @classmethod
    def load(cls, path: str | Path | None = None) -> "RouteGate":
        """The shipped gate (``app/data/route_gate.json``) or one at ``path``."""
        text = (resources.files("shopqa").joinpath("data/route_gate.json").read_text(encoding="utf-8")
                if path is None else Path(path).read_text(encoding="utf-8"))
        data = json.loads(text)
        return cls(Logistic.from_dict(data["model"]), float(data["threshold"]))


def for_embedder(embedder_id: str, path: str | Path | None = None) -> RouteGate | None:
    """The shipped gate (or the one at ``path``) when it was fitted for ``embedder_id``, else
    None (route by the intent model alone)."""
    data = fitted_for(embedder_id, "route_gate.json", path)
    return None if data is None else RouteGate(Logistic.from_dict(data["model"]), float(data["threshold"]))


def features(message: str, route: str, confidence: float, similarity: float, oos_threshold: float,
             hits: Sequence, faq_score: float | None, index, abstain_threshold: float,
             curated_threshold: float, names_product: bool) -> dict[str, float]:
    """The gate's features for one message (``hits``: its retrieval results, best first)."""
    published = [h for h in hits if h.unit.type != "chat"]
    weights = TermWeights.of(index)
    terms = set(tokenize(message))
    context = set().union(*(set(tokenize(h.unit.text)) for h in published[:3])) if published else set()
    missing = terms - context
    dense = max((h.dense_score for h in published[:5] if h.dense_score is not None), default=abstain_threshold - 0.1)
    asked_zh = bool(_CJK.search(message))
    other = [bool(_CJK.search(h.unit.text[:300])) != asked_zh for h in published[:3]]
    # Across languages, through shared concepts (app/text/bridge.py).
    context_cov, missing_rare, neutral = Bridge.of(index).evidence(
        weights.weight, weights.unknown, terms, context, weights.coverage(terms, context) if terms else 0.0,
        max((weights.weight(t) for t in missing), default=0.0) / weights.unknown, other)
    out = {
        "cross_lingual": float(neutral),
        "top_dense": dense - abstain_threshold,
        "faq_q": (faq_score - curated_threshold) if faq_score is not None else -0.2,
        "context_cov": context_cov,
        "missing_rare": missing_rare,
        "confidence": confidence,
        "similarity": similarity - oos_threshold if oos_threshold > -1 else similarity,
        "is_question": float(bool(_QUESTION.search(message))),
        "request": float(bool(_REQUEST.search(message))),
        "names_product": float(names_product),
        "n_terms": min(len(terms), 30) / 30.0,
    }
    for r in ROUTES:
        out[f"route_{r}"] = float(route == r)
    return out
