"""Answer candidates: each sentence of the retrieved passages, with the evidence that it answers.

A candidate is a stand-alone fact (ingest renders table rows with their headers and keeps a
lead-in's scope with its list items). What says it answers the question, as features of a
learned scorer (:mod:`app.answer_model`):

- what the question asks for and whether the sentence holds that kind of value: "how much"
  wants a price or fee, "how long" a duration, "what temperature" degrees, "how big" a measure;
- how much of the question's key terms it covers, each term weighted by how rare it is in the
  shop (the keyword index's IDF: a term the shop never uses weighs most);
- its meaning (the embedder's cosine with the question), absolute and relative to the best;
- where it comes from: the passage's rank and similarity, article / FAQ / product card / chat.

Nothing here is keyed to one shop: the patterns are the languages' own ways of asking for
prices, durations and measures.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from shopqa.ingest.chunking import detect_lang
from shopqa.ingest.tokenize import tokenize

# ANSWERABILITY, question_features, warm_sentences and TermWeights are re-exported for callers.
from shopqa.answering.answerability import ANSWERABILITY, CJK, question_features
from shopqa.answering.candidate_sentences import unit_sentences, warm_sentences
from shopqa.answering.term_weights import TermWeights
from shopqa.text.bridge import ASKING, Bridge

# -- what a question asks for -----------------------------------------------------------------
ASKS = {
    "price": re.compile(r"how much|\bprice|\bcost|\bfees?\b|\bcharge|\bpay\b|\bdiscount|\brefund amount|"
                        r"多少钱|价格|价钱|费用|收费|运费|售价|多少元|几块|多少块|贵|便宜|抵扣|优惠多少|差价", re.I),
    "duration": re.compile(r"how long|how many (?:business |working )?(?:days|weeks|months|hours|years)|"
                           r"how soon|when (?:will|does|do|can|should)|expire|deadline|window|"
                           r"多久|几天|多长时间|几个月|几周|期限|时效|多少天|什么时候|几小时|保质期|有效期", re.I),
    "count": re.compile(r"how many|\bnumber of\b|多少个|几个|几次|多少", re.I),
    "temperature": re.compile(r"temperature|degrees|°|温度|多少度|几度", re.I),
    "measure": re.compile(r"\bsize\b|measure|dimension|how (?:big|large|tall|wide|long|heavy|deep)|\bweight|"
                          r"\bcapacity|\bheight|\bwidth|\blength|尺寸|尺码|多大|多重|多长|多宽|多高|容量|重量|面积|"
                          r"长度|功率|毫安", re.I),
    "place": re.compile(r"\bwhere\b|哪里|哪儿|地址|在哪", re.I),
    "contact": re.compile(r"phone|call|e-?mail|contact|reach|hours|电话|邮箱|联系|热线|客服时间|营业时间", re.I),
}
# What a sentence holds: the kinds of value those questions want.
HOLDS = {
    "price": re.compile(r"[$€£¥￥]\s?\d|\d\s?(?:USD|EUR|GBP|CNY|SGD|RMB|dollars?|pounds?|元|块)\b|\d\s?(?:元|块)|"
                        r"\bfree\b|免费|包邮|不收|折|% off|\d\s?%", re.I),
    "duration": re.compile(r"\d+\s*(?:[-–~～至到]\s*\d+\s*)?(?:business |working |calendar )?"
                           r"(?:days?|weeks?|months?|years?|hours?|minutes?|nights?)\b|"
                           r"\d+\s*(?:个)?(?:天|日|周|星期|月|年|小时|分钟|工作日)|never expire|永久|永不过期|当天|次日|"
                           r"\b(?:same|next)[- ]day\b|immediately|即时", re.I),
    "count": re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|once|twice)\b|[一二两三四五六七八九十百千万]", re.I),
    "temperature": re.compile(r"°|℃|degrees|\bdeg\b|\d\s*度", re.I),
    "measure": re.compile(r"\d\s*(?:cm|mm|m|in|inch|inches|ft|kg|g|lb|lbs|oz|ml|l|mah|w|wh|v|"
                          r"厘米|毫米|米|公斤|千克|克|毫升|升|平方米|㎡|寸|瓦|伏|毫安)\b|\d\s*(?:厘米|毫米|米|公斤|千克|克|毫升|升|平方米|寸|瓦|毫安)|"
                          r"\b(?:xs|s|m|l|xl|xxl)\b|\d+(?:\.\d+)?\s*[-–]\s*\d+", re.I),
    "place": re.compile(r"\b(?:at|in|from|to)\s+[A-Z]|\d+\s+\w+\s+(?:street|st|road|rd|ave)|地址|路|号|市|省", re.I),
    "contact": re.compile(r"\+?\d[\d\s()-]{6,}\d|@\w|\d{1,2}(?::\d{2})?\s*(?:am|pm)|\d{1,2}:\d{2}|电话|邮箱|"
                          r"Monday|Friday|周[一二三四五六日]", re.I),
}
_QUESTION_END = re.compile(r"[?？]\s*$")

FEATURES = ("lex", "lex_rel", "sem", "sem_rel", "type_match", "type_miss", "has_number", "p_inv", "s_pos",
            "src_faq", "src_product", "src_chat", "is_question", "length", "title_cov", "cross", "dense")


def asks(question: str) -> set[str]:
    """The kinds of value a question asks for (empty when it asks for none in particular)."""
    return {kind for kind, pattern in ASKS.items() if pattern.search(question)}


def holds(sentence: str) -> set[str]:
    """The kinds of value a sentence states."""
    return {kind for kind, pattern in HOLDS.items() if pattern.search(sentence)}


@dataclass
class Candidate:
    """One sentence of a retrieved passage, with the features the scorer reads."""

    p_no: int
    s_no: int
    text: str
    unit_type: str
    features: dict[str, float] = field(default_factory=dict)
    score: float = 0.0

    def vector(self) -> list[float]:
        """The features in :data:`FEATURES` order."""
        return [self.features[name] for name in FEATURES]


def _lexical(weights: TermWeights, bridge: Bridge, terms: set[str], toks: set[str], cross: bool) -> float:
    """IDF-weighted coverage of ``terms`` by a sentence's ``toks``; across languages the words
    meet through shared concepts ("warranty" / "保修")."""
    if not terms:
        return 0.0
    if cross:
        bridged = bridge.coverage(weights.weight, terms, toks)
        if bridged:
            return bridged[0]
    return weights.coverage(terms, toks)


def _about_subject(weights: TermWeights, bridge: Bridge, earlier: str | None, own: set[str],
                   message: str | None, hits: Sequence, texts: Sequence[str]) -> list[bool]:
    """Per passage: whether it may answer a follow-up that asks something new about the earlier
    question's subject ("and how long does it take?" after "shipping to Australia?").

    The subject is the earlier question's rarest word that the shop uses; a passage that never
    names it (in either language) speaks of something else, when some passage does name it. A
    follow-up that asks nothing of its own ("and for Hong Kong?") changes the subject instead:
    every passage stays."""
    keep = [True] * len(texts)
    if not earlier or not own or not message or not asks(message):
        return keep
    known = [t for t in set(tokenize(earlier)) - own - ASKING if t in weights.vocab]
    if not known:
        return keep
    subject = max(known, key=weights.weight)
    concepts = bridge.concepts({subject})
    about = []
    for hit, text in zip(hits, texts):
        toks = set(tokenize(f"{hit.unit.title or ''} {text}"))
        about.append(subject in toks or bool(concepts and concepts & bridge.concepts(toks)))
    return about if any(about) else keep


def _reading(question: str, message: str | None) -> tuple[set[str], set[str], set[str], set[str]]:
    """``(the message's own terms, all query terms, terms the earlier question lends, answer
    types asked)`` of a (standalone) query and, for a follow-up, the customer's own words."""
    own = set(tokenize(message)) if message else set()
    q_terms = set(tokenize(question)) | own
    # A follow-up weighs its own words and the earlier question it leans on equally: "and how
    # long does it take?" after "shipping to Australia?" needs a sentence about Australia,
    # however few words the earlier question has against the new one.
    # The earlier question lends its subject, not its question words ("how much").
    lent = q_terms - own - ASKING if own else set()
    # "那 AP400 的呢？" asks what the earlier question asked, about something else.
    wanted = (asks(message) if message else set()) or asks(question)
    return own, q_terms, lent, wanted


def build(question: str, hits: Sequence, index, embed: Callable[[list[str]], np.ndarray] | None,
          query_vector: np.ndarray | None, abstain_threshold: float, message: str | None = None,
          passages: Sequence[str] | None = None, earlier: str | None = None) -> list[Candidate]:
    """The candidates of ``hits`` (the context passages, best first) with their features.

    ``question`` is the (standalone) query; ``message`` the customer's own words when they
    differ (a follow-up), whose terms then lead; ``embed(texts) -> vectors`` embeds passages
    (cached per generation by the caller); ``passages`` overrides the hits' texts; ``earlier``
    is the earlier question a follow-up leans on.
    """
    weights = TermWeights.of(index)
    bridge = Bridge.of(index)
    own, q_terms, lent, wanted = _reading(question, message)
    q_lang = detect_lang(message or question)
    texts = list(passages) if passages is not None else [h.unit.text for h in hits]
    about = _about_subject(weights, bridge, earlier, own, message, hits, texts)
    out: list[Candidate] = []
    for p_no, (hit, text) in enumerate(zip(hits, texts), start=1):
        if not about[p_no - 1]:
            continue
        title = hit.unit.title or ""
        title_cov = weights.coverage(q_terms, set(tokenize(title))) if q_terms else 0.0
        dense = (hit.dense_score - abstain_threshold) if hit.dense_score is not None else -0.1
        for s_no, sentence in enumerate(unit_sentences(text, hit.unit.type, title)):
            toks = set(tokenize(sentence))
            kinds = holds(sentence)
            cross = bool(CJK.search(sentence)) != (q_lang == "zh")
            if own and lent:
                lex = (_lexical(weights, bridge, own, toks, cross) + _lexical(weights, bridge, lent, toks, cross)) / 2
            else:
                lex = _lexical(weights, bridge, q_terms, toks, cross)
            out.append(Candidate(p_no, s_no, sentence, hit.unit.type, {
                "lex": lex,
                "type_match": float(bool(wanted & kinds)),
                "type_miss": float(bool(wanted) and not (wanted & kinds)),
                "has_number": float(any(ch.isdigit() for ch in sentence)),
                "p_inv": 1.0 / p_no,
                "s_pos": min(s_no, 10) / 10.0,
                "src_faq": float(hit.unit.type == "faq"),
                "src_product": float(hit.unit.type == "product"),
                "src_chat": float(hit.unit.type == "chat"),
                "is_question": float(bool(_QUESTION_END.search(sentence))),
                "length": math.log1p(len(sentence)) / 6.0,
                "title_cov": title_cov,
                "cross": float(cross),
                "dense": dense,
            }))
    if out:
        best_lex = max(c.features["lex"] for c in out) or 1.0
        for c in out:
            c.features["lex_rel"] = c.features["lex"] / best_lex
        _add_meaning(out, embed, query_vector)
    return out


def _add_meaning(out: list[Candidate], embed: Callable[[list[str]], np.ndarray] | None,
                 query_vector: np.ndarray | None) -> None:
    """The candidates' cosine to the question (``sem``) and relative to the best sentence of
    their kind (``sem_rel``); 0 without an embedder."""
    if embed is None or query_vector is None:
        for c in out:
            c.features["sem"], c.features["sem_rel"] = 0.0, 0.0
        return
    cos = np.asarray(embed([c.text for c in out])) @ np.asarray(query_vector)
    # Meaning relative to the best sentence in the same language as the candidate: an
    # embedder scores the question's own language higher across the board, so a sentence in
    # the other language is measured against its own kind, not against every same-language one.
    top = {flag: max((float(v) for c, v in zip(out, cos) if c.features["cross"] == flag), default=0.0)
           for flag in (0.0, 1.0)}
    for c, value in zip(out, cos):
        c.features["sem"] = float(value)
        # Halfway between the two readings: the other language's best sentence is lifted
        # towards the top, not onto it (a same-language answer keeps its edge).
        c.features["sem_rel"] = float(value) - (top[c.features["cross"]] + max(top.values())) / 2


def select(question: str, ranked: list[tuple[float, int, int, str]], max_sentences: int = 3,
           max_chars: int = 600) -> list[tuple[int, str]]:
    """The scored candidates to quote, as ``(passage number, sentence)`` in document order.

    ``ranked`` holds ``(P(answer), passage number, sentence number, sentence)``, best first.
    Sentences under half the best one's probability add noise, not answers; a quoted sentence
    brings the next one of its passage when the answer runs on into it (the extractive rule).
    """
    from shopqa.answering.grounding import extractive

    return extractive(question, [], max_sentences, max_chars, ranked=ranked, passage_floor=False)
