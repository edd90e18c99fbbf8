"""Generated-answer checks on questions: an answer that is itself a question, or that says the
customer's question (or another of their messages) back instead of answering it."""
from __future__ import annotations

import re
from difflib import SequenceMatcher

from shopqa.answering.gen_check_text import MD_LIST_OR_HEADING, AnswerSentence, number_set, token_set, units_of
from shopqa.ingest.chunking import split_sentences

_TRAILING = re.compile(r"[\s\"'”’)\]）】」』*_~`]+$")
_QMARK_END = re.compile(r"[?？]$")
# Chinese final particles that make a sentence a question ("可以退吗", "那运费呢").
_ZH_PARTICLE_END = re.compile(r"[吗呢][。.!！~～]?$")
# English subject-auxiliary inversion or a wh-word with an auxiliary at the start: "Can I ...",
# "How long does ...". Declaratives rarely start this way; "When ..." and "Where ..." do
# ("When your order ships, ..."), so they count only with an auxiliary right after them.
_EN_QUESTION_START = re.compile(
    r"^(?:(?:can|could|do|does|did|is|are|was|were|will|would|should|shall|may|might|have|has)\s+"
    r"(?:i|you|we|they|it|he|she|there|this|that|these|those|my|your|our|the|a|an)\b"
    r"|(?:how|what|which|why|who|whose|where|when)\s+(?:much|many|long|soon|often|far|big|do|does|did|is|are|was|"
    r"were|can|could|will|would|should|shall|may|might|have|has|to)\b"
    r"|(?:what|whose)\s+(?:\w+\s+){0,2}(?:is|are|do|does|can|will|should)\b"
    r"|which\s+(?:\w+\s+){1,2}(?:is|are|do|does|can|will|should)\b)", re.I)
# Question words. In the question they tell a wh-question (which needs new information) from a
# yes/no question (which "We ship to Australia" answers with the question's own words); in an
# answer sentence made of the question's words they mark an echo of the question.
_EN_WH = re.compile(r"\b(?:how|what|which|why|where|who|whom|whose|when)\b", re.I)
# In a declarative answer "when", "where" and "which" are conjunctions or relative pronouns
# ("Refunds are issued when we receive the item"); these are not.
_EN_WH_STRICT = re.compile(r"\b(?:how|what|why|who|whom|whose)\b", re.I)
_ZH_WH = re.compile(r"多少|几[天个件次号时种款日周月年位点]|什么|啥|怎么|怎样|如何|哪|为什么|为何|多久|多长|多大|多重|多远")
_ZH_YES_NO = re.compile(r"吗|呢|是否|能否|可否|有没有|是不是|能不能|可不可以|会不会|行不行|要不要")


def _is_question(plain: str) -> bool:
    """Whether a sentence reads as a question: "?" at the end, 吗/呢, or English inversion."""
    text = _TRAILING.sub("", plain)
    if not text:
        return False
    if _QMARK_END.search(text) or _ZH_PARTICLE_END.search(text):
        return True
    # A quoted label line ("What's included: ...") is not a question.
    return ":" not in text and "：" not in text and bool(_EN_QUESTION_START.match(MD_LIST_OR_HEADING.sub("", text)))


def _has_wh(text: str) -> bool:
    return bool(_EN_WH_STRICT.search(text) or _ZH_WH.search(text))


def question_shape(sentences: list[AnswerSentence]) -> list[str]:
    """The answer ends with a question, or its main sentence (most words) is one."""
    spoken = [s for s in sentences if s.plain]
    if not spoken:
        return []
    if _is_question(spoken[-1].plain):
        return [f"the answer is a question: {spoken[-1].plain[:80]!r}"]
    main = max(spoken, key=lambda s: len(s.tokens))
    if _is_question(main.plain):
        return [f"the answer's main sentence is a question: {main.plain[:80]!r}"]
    return []


def _similar(a: list[str], b: list[str], ratio: float) -> bool:
    # Length first: SequenceMatcher's ratio can't reach ``ratio`` for very different lengths.
    return 2 * min(len(a), len(b)) >= ratio * (len(a) + len(b)) and \
        SequenceMatcher(None, a, b, autojunk=False).ratio() >= ratio


def _kind(text: str) -> str:
    """"wh" (how much, 多少), "yesno" (Do you ..?, 可以吗) or "statement"."""
    if _EN_WH.search(text) or _ZH_WH.search(text):
        return "wh"
    if "?" in text or "？" in text or _ZH_YES_NO.search(text) \
            or any(_EN_QUESTION_START.match(p) for p in split_sentences(text)):
        return "yesno"
    return "statement"


def echo(sentences: list[AnswerSentence], answer_tokens: set[str], answer_numbers: set[str], question: str,
          customer_texts: list[str]) -> list[str]:
    """The question (or another customer message) said back instead of an answer."""
    reasons: list[str] = []
    asked = [t for t in dict.fromkeys([question, *customer_texts]) if t and t.strip()]
    asked_tokens = [set(token_set(t)) for t in asked]
    # The customer's own statements, sentence by sentence ("I need a winter coat for my son").
    said_sentences = [(units_of(c), set(token_set(c)), _kind(c)) for t in asked for c in split_sentences(t)]
    for s in sentences:
        if len(s.tokens) < 2:
            continue
        # A sentence made of a customer message's words that keeps its question words
        # ("云雾多肽紧致精华多少钱") repeats the question, even without the question mark.
        if _has_wh(s.plain) and any(toks and len(s.tokens & toks) >= 0.8 * len(s.tokens) for toks in asked_tokens):
            reasons.append(f"repeats the customer's question instead of answering it: {s.plain[:80]!r}")
            continue
        # A customer's statement said back nearly word for word, or any message said back word
        # for word ("refund time?" - "refund time"). A yes/no question said back as a statement
        # can be the answer ("ship to canada?" - "We ship to Canada [1]."), hence the two bars.
        units = units_of(s.plain)
        if len(units) >= 2 and any(s.tokens <= toks and _similar(units, c_units, 0.85 if kind == "statement" else 0.95)
                                   for c_units, toks, kind in said_sentences if len(units) >= 3 or kind != "statement"):
            reasons.append(f"repeats the customer's own message: {s.plain[:80]!r}")
    if reasons or not question.strip() or not answer_tokens:
        return reasons
    # An answer must add something the customer did not say, except to a yes/no question
    # ("Do you ship to Australia?" - "We ship to Australia [1].").
    kind = _kind(question)
    if kind == "yesno":
        return reasons
    # Against the question alone: an answer may well reuse what the customer said earlier
    # ("Do you ship to Canada? ..." then "what about Canada?" - "We ship to Canada [1].").
    novel = answer_tokens - set(token_set(question))
    if answer_numbers - number_set(question):
        return reasons
    if not novel:
        reasons.append("restates the question without answering it" if kind == "wh"
                       else "restates the customer's message without answering it")
    elif kind == "wh" and len(novel) <= 1 and len(novel) <= 0.2 * len(answer_tokens):
        reasons.append(f"paraphrases the question instead of answering it (only {sorted(novel)} is new)")
    return reasons
