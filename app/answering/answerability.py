"""Question-level evidence for the answer/partial/abstain decision: how well the best
candidates and passages cover the question, read once the candidates are scored."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Sequence

from shopqa.ingest.chunking import detect_lang
from shopqa.ingest.tokenize import tokenize

from shopqa.answering.term_weights import TermWeights
from shopqa.text.bridge import Bridge

if TYPE_CHECKING:  # candidates imports this module (it re-exports question_features)
    from shopqa.answering.candidates import Candidate

# Chinese script: a text in it, asked about in English (or the reverse), is in the other language.
CJK = re.compile(r"[\u4e00-\u9fff]")
_YES_NO = re.compile(r"^\s*(?:can|could|is|are|do|does|did|will|would|may|should|has|have)\b|吗\s*[？?]?\s*$|"
                     r"能不能|可不可以|是否|有没有|能否", re.I)

ANSWERABILITY = ("best", "second", "best_lex", "best_type", "context_cov", "missing_rare", "top_dense", "faq_q",
                 "yes_no")


def question_features(question: str, candidates: list[Candidate], context: Sequence[str],
                      dense_scores: Sequence[float | None], index, abstain_threshold: float,
                      curated_threshold: float, faq_score: float | None,
                      message: str | None = None) -> dict[str, float]:
    """Question-level evidence for the answer/partial/abstain decision (candidates already scored).

    ``context`` are the texts of the best passages (the first three are read), ``dense_scores``
    the dense similarities of the top hits.
    """
    weights = TermWeights.of(index)
    q_terms = set(tokenize(message or question))
    ranked = sorted(candidates, key=lambda c: -c.score)
    context_terms = set().union(*(set(tokenize(text)) for text in context[:3])) if context else set()
    missing = q_terms - context_terms
    # The rarest question term that none of the best passages mentions: "resole", "CMA",
    # "学生" in a shop that never writes them is the clearest sign the shop cannot answer.
    rare_missing = max((weights.weight(t) for t in missing), default=0.0) / weights.unknown
    dense = max((d for d in dense_scores[:5] if d is not None), default=0.0)
    best = ranked[0] if ranked else None
    asked_zh = detect_lang(message or question) == "zh"
    other = [bool(CJK.search(text[:300])) != asked_zh for text in context[:3]]
    # With passages in the other language, coverage and the rarest missing term are also read
    # through the shared concepts (app/text/bridge.py).
    context_cov, rare_missing, neutral = Bridge.of(index).evidence(
        weights.weight, weights.unknown, q_terms, context_terms,
        weights.coverage(q_terms, context_terms) if q_terms else 0.0, rare_missing, other, mixed=True)
    return {
        "cross_lingual": float(neutral),
        "best": best.score if best else 0.0,
        "second": ranked[1].score if len(ranked) > 1 else 0.0,
        "best_lex": best.features["lex"] if best else 0.0,
        "best_type": best.features["type_match"] if best else 0.0,
        "context_cov": context_cov,
        "missing_rare": rare_missing,
        "top_dense": dense - abstain_threshold,
        "faq_q": (faq_score - curated_threshold) if faq_score is not None else -0.2,
        "yes_no": float(bool(_YES_NO.search(message or question))),
    }
