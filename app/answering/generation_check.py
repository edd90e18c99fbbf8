"""Checks for generated answers that pass the grounding check but are still not answers.

:func:`app.grounding.check` makes sure every word and number of a generated sentence is in the
passage it cites. A small model (SmolLM2-135M) can satisfy that and still say nothing useful:
it echoes or paraphrases the question, asks a question back, loops on a phrase, copies stray
Markdown table cells, quotes the *customer's* turn of a past chat, or copies a fact without the
condition it holds under ("free standard shipping" from "Gold members get free standard
shipping"). :func:`problems` names each of these, so the caller can fall back to the extractive
answer. Every check is lexical (tokens from :func:`shopqa.ingest.tokenize.tokenize`, jieba for Chinese)
and deliberately conservative: a good answer that quotes or shortens a passage sentence, with
its citation, passes.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from shopqa.ingest.chunking import split_sentences
from shopqa.ingest.tokenize import tokenize

__all__ = ["problems"]

_CITATION = re.compile(r"\s*\[\d{1,2}\]")
_CITED = re.compile(r"\[(\d{1,2})\]")
# The few-shot prompt ends with "Answer:"; a model that repeats the label is still answering.
_ANSWER_LABEL = re.compile(r"^(?:answer|a|答案?)\s*[:：]\s*", re.I)
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Units for repetition: Latin words and numbers whole, CJK one character each (Chinese has no
# spaces, and a repeated product name is a repeated run of characters).
_UNIT = re.compile(r"[a-z0-9]+(?:['’.,-][a-z0-9]+)*|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_TRAILING = re.compile(r"[\s\"'”’)\]）】」』*_~`]+$")

# -- question shape ------------------------------------------------------------------------------
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

# -- Markdown -----------------------------------------------------------------------------------
_MD_LIST_OR_HEADING = re.compile(r"^\s*(?:[-*+•]\s+|\d{1,2}[.)]\s+|#{1,6}\s*|>\s*)")
_MD_HEADING = re.compile(r"^\s*#{1,6}\s")
_EMPHASIS_NO_WORDS = re.compile(r"(\*\*|__)[^A-Za-z\u3400-\u9fff*_]*?\1")
_WORDY = re.compile(r"[A-Za-z]{2,}|[\u3400-\u4dbf\u4e00-\u9fff]")

# -- chats and FAQs -----------------------------------------------------------------------------
# Past chats are indexed as "Customer: ...\nAgent: ..." (ingest/sources/chats.py) and FAQs as
# "Q: ...\nA: ..." (ingest/sources/faqs.py). When the model is shown focused passages
# (grounding.focus) the first line is kept as a title and the agent's sentences follow it
# without their label, so unlabelled text after the first line is the answering side.
_ASKER = re.compile(r"^(?:customer|client|buyer|user|q|question|客户|顾客|买家|用户|问)$", re.I)
_TURN_LABEL = re.compile(r"(?:^|(?<=\s))(customer|client|buyer|user|agent|support|staff|assistant|q|a|question|answer|"
                         r"客户|顾客|买家|用户|客服|问|答)\s*[:：]\s*", re.I)
_DIALOGUE = re.compile(r"^\s*(?:customer|client|buyer|q|客户|顾客|买家|问)\s*[:：]", re.I | re.M)
_ASKER_LABEL_START = re.compile(r"^\s*(?:customer|client|buyer|客户|顾客|买家)\s*[:：]", re.I)

# -- scope qualifiers ---------------------------------------------------------------------------
# Membership / tier words. A capitalised word (or two) before them names the tier ("Gold
# members", "Petal Club members"); a generic tier vocabulary catches "VIP", "Platinum tier".
_MEMBER_WORD = r"(?:members?|membership|memberships|subscribers?|cardholders?|tiers?|insiders?|vips?)"
# Tier names are capitalised, so the name part is case-sensitive and the rest is not.
_EN_MEMBER = re.compile(r"((?:\b[A-Z][\w&'’-]*\s+){0,3})\b((?i:" + _MEMBER_WORD + r"))\b"
                        r"|\b((?i:gold|silver|platinum|bronze|diamond|premium|elite|vip))\s+"
                        r"(?i:customers?|accounts?|level|status|club)\b")
_EN_MEMBER_HINT = re.compile(r"member|subscriber|cardholder|tier|insider|vip|gold|silver|platinum|bronze|diamond|"
                             r"premium|elite", re.I)
_DIGIT = re.compile(r"\d")
# Any word a qualifier pattern needs: sentences without one are not analysed further.
_QUALIFIER_HINT = re.compile(
    r"member|subscriber|cardholder|tier|insider|vip|gold|silver|platinum|bronze|diamond|premium|elite|"
    r"over|above|from|at least|more than|or more|and up|exceed|excess|min|starting at|\d\s*\+|only|solely|exclusively|"
    r"\bif\b|unless|when|provided|as long as|会员|满|以上|起|超过|高于|不低于|至少|仅|只|限|唯有|如果|假如|倘若|除非|"
    r"凡是|一旦|若", re.I)
# "Every member", "All members": no tier named, but still members only.
_UNIVERSAL = frozenset({"every", "each", "all", "any", "other", "our", "your", "the"})
_MEMBER_KEYS = frozenset({"member", "membership", "subscriber", "cardholder", "tier", "insider", "vip", "club",
                          "会员", "会员卡", "等级"})
_CURRENCY = r"(?:[A-Z]{0,3}[$€£¥￥]|RM|rm|usd|USD|sgd|SGD|eur|EUR|gbp|GBP|rmb|RMB|元)"
_AMOUNT = r"(?:" + _CURRENCY + r"\s?)?\d[\d,]*(?:\.\d+)?"
_EN_THRESHOLD = re.compile(
    r"\b(?:over|above|from|at least|more than|exceeding|in excess of|min(?:imum)?(?: of)?|starting at)\s+"
    r"(?:" + _CURRENCY + r"\s?\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)?\s?" + _CURRENCY + r")"
    r"|" + _AMOUNT + r"(?:\s*(?:\w+\s+)?(?:or more|or above|and (?:over|above|up))|\+(?!\s*[$€£¥\d]))", re.I)
_ZH_THRESHOLD = re.compile(r"满\s*" + _AMOUNT + r"(?:\s*(?:元|块|美元|新元|港币))?"
                           r"|\d[\d,.]*\s*[\u4e00-\u9fff]{0,2}\s*(?:以上|及以上|起)"
                           r"|(?:超过|高于|不低于|至少)\s*" + _CURRENCY + r"\s?\d[\d,.]*")
_ZH_MEMBER = re.compile(r"((?:[A-Za-z][\w&]*\s*){1,2}|[\u4e00-\u9fff]{1,2}[卡级星钻]|[金银铜]牌?|白金|铂金|钻石|黑金|"
                        r"VIP|vip|PLUS|Plus)?\s*会员")
_EN_ONLY = re.compile(r"\b(?:only|solely|exclusively)\b", re.I)
_ONLY_KEYS = frozenset({"only", "solely", "exclusively", "仅", "仅限", "只限", "限", "限于", "只有", "仅有", "只能",
                        "仅能", "唯有", "仅对", "只对"})
_ZH_ONLY = re.compile(r"仅限|(?<!不)仅|只限|只有|只能|限于|唯有|只对|(?<![期有上下权时界极年无额])限(?![时额制期度])")
# Conditional clauses run from the conjunction to the next comma or the end of the sentence.
_EN_CONDITION = re.compile(r"\b(?:if|unless|when|whenever|as long as|provided(?: that)?|only if)\b([^,;:]*)", re.I)
_ZH_CONDITION = re.compile(r"(?:如果|假如|倘若|只要|除非|凡是|一旦|若(?=[您你订商在有是需所购其]))([^，,；;：:。]*)")
# A sentence is cut into clauses at commas, semicolons and colons, and before a coordinated
# clause with its own subject ("..., and orders over $75 ship free"): a condition binds its
# own clause, not every fact in the sentence.
_CLAUSE_SPLIT = re.compile(r"(\s*(?:[;，；：]|,(?!\d{3})|:(?!\d))\s*"
                           r"|\s+(?:and|but|while|whereas)\s+(?=(?:we|you|they|it|he|she|there|our|your|the|all|any|"
                           r"each|every|orders?|items?|products?|shipping|delivery|returns?)\b))", re.I)
# Semicolons and colons part facts; commas and conjunctions part the clauses of one fact.
_STRONG = frozenset(";；:：")
_ALTERNATIVE = re.compile(r"^\s*(?:or|not|rather than|instead of|except|或者?|而不是|而非|不是)(?:\b|(?=[\u4e00-\u9fff]))", re.I)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]\s+|\d{1,2}[.)]\s+)")
_MD_INLINE = re.compile(r"\*\*|__|`")
# Table rows: flattened by grounding.focus, one row ends with "|" and the next starts with "|".
_ROW_BREAK = re.compile(r"\|\s+\|(?=\s*[^|\s])")
_SEPARATOR_CELL = re.compile(r"^:?-{2,}:?$")
_PASSAGE_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)|(?<=[。！？])")
# Labels: the words before the first colon (not a time's "9:00"), at most six words, a CJK
# character counting half, bracketed asides not counted.
_LABEL_COLON = re.compile(r"[:：](?!\d)")
_LABEL_WORDS = 6
_BRACKETED = re.compile(r"\([^()]*\)|（[^（）]*）")
_LATIN_WORD = re.compile(r"[A-Za-z0-9]+(?:['’.-][A-Za-z0-9]+)*")
_PARTS = re.compile(r"\s*[;；]\s*")
_HEAD_WORD = re.compile(r"[A-Za-z]+|[\u3400-\u9fff]{1,2}")


@dataclass(frozen=True)
class _Qualifier:
    """A scope condition found in a passage sentence, and what in an answer keeps it."""

    phrase: str
    keys: frozenset[str]  # tokens that show the answer kept the condition
    need: int  # how many of ``keys`` must be present
    numbers: frozenset[str] = frozenset()  # or: any of these numbers
    only: bool = False  # an "only"/"仅" restriction: kept by any word of that kind


@dataclass(frozen=True)
class _Clause:
    main: frozenset[str]  # the clause's tokens outside its qualifiers
    qualifiers: tuple[_Qualifier, ...]
    binds: int = -1  # for a clause that is only a condition: the clause it conditions
    own: frozenset[str] = frozenset()  # its main tokens that no other clause of the sentence has

    @property
    def pure(self) -> bool:
        """A clause that is only a condition ("For Gold members", "If the item is damaged")."""
        return bool(self.qualifiers) and len(self.main) <= 1


@dataclass(frozen=True)
class _Piece:
    """A sentence or table row of a passage, and the scope over it. Its tokens and clauses are
    worked out only when an answer sentence needs them (jieba is the expensive part)."""

    passage: int
    text: str  # without Markdown emphasis
    body: str  # the text after its label, if it has one
    lead: tuple[_Qualifier, ...]  # from its label, a lead-in line ("Gold members get:") or a row name
    row: bool = False  # a Markdown table row
    row_tokens: frozenset[str] = frozenset()
    distinct: tuple[tuple[frozenset[str], frozenset[str]], ...] = ()  # a row's distinctive cells

    @property
    def tokens(self) -> frozenset[str]:
        return self.row_tokens if self.row else _tokens(self.text)

    @property
    def clauses(self) -> tuple[_Clause, ...]:
        return () if self.row else _clauses(self.body)

    @property
    def scoped(self) -> bool:
        """Whether anything in or over the piece limits its scope."""
        return bool(self.lead) or (not self.row and bool(_QUALIFIER_HINT.search(self.body))
                                   and any(c.qualifiers for c in self.clauses))


@dataclass(frozen=True)
class _Dialogue:
    asker: frozenset[str]
    answerer: frozenset[str]
    asker_pairs: frozenset[tuple[str, str]]  # adjacent words (characters in Chinese) of each side
    answerer_pairs: frozenset[tuple[str, str]]


@dataclass
class _Sentence:
    plain: str  # without citations
    cites: list[int]
    tokens: set[str]


# -- helpers ------------------------------------------------------------------------------------
@lru_cache(maxsize=8192)
def _tokens(text: str) -> frozenset[str]:
    # Passages repeat across the checks of one answer (and the sentence gate checks the same
    # passages again and again), so tokenizing them once pays for itself.
    return frozenset(tokenize(text))


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


def _plain(sentence: str) -> str:
    text = _CITATION.sub(" ", sentence)
    text = re.sub(r"\s+([.!?。！？,，;；:：])", r"\1", text)
    return re.sub(r"\s{2,}", " ", text).strip()


def _split_answer(text: str) -> list[_Sentence]:
    """The answer's sentences, each with the citations that follow it ("... days [1].")."""
    text = re.sub(r"([.!?。！？])\s*((?:\[\d{1,2}\]\s*)+)", r" \2\1 ", text)
    out: list[_Sentence] = []
    for line in text.splitlines():
        raws: list[str] = []
        for raw in split_sentences(line):
            # "Price: $42." is one statement; split at the colon, "$42." would read as a fragment.
            if raws and raws[-1].rstrip().endswith((":", "：")):
                raws[-1] = f"{raws[-1]} {raw}"
            else:
                raws.append(raw)
        for raw in raws:
            plain = _plain(raw)
            if plain or _CITED.search(raw):
                out.append(_Sentence(plain, [int(n) for n in _CITED.findall(raw)], set(_tokens(plain))))
    return out


def _is_question(plain: str) -> bool:
    """Whether a sentence reads as a question: "?" at the end, 吗/呢, or English inversion."""
    text = _TRAILING.sub("", plain)
    if not text:
        return False
    if _QMARK_END.search(text) or _ZH_PARTICLE_END.search(text):
        return True
    # A quoted label line ("What's included: ...") is not a question.
    return ":" not in text and "：" not in text and bool(_EN_QUESTION_START.match(_MD_LIST_OR_HEADING.sub("", text)))


def _has_wh(text: str) -> bool:
    return bool(_EN_WH_STRICT.search(text) or _ZH_WH.search(text))


def _units(text: str) -> list[str]:
    return _UNIT.findall(_CITATION.sub(" ", text).lower())


@lru_cache(maxsize=8192)
def _unit_set(text: str) -> frozenset[str]:
    return frozenset(_units(text))


# -- the checks ---------------------------------------------------------------------------------
def _question_shape(sentences: list[_Sentence]) -> list[str]:
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


def _echo(sentences: list[_Sentence], answer_tokens: set[str], answer_numbers: set[str], question: str,
          customer_texts: list[str]) -> list[str]:
    """The question (or another customer message) said back instead of an answer."""
    reasons: list[str] = []
    asked = [t for t in dict.fromkeys([question, *customer_texts]) if t and t.strip()]
    asked_tokens = [set(_tokens(t)) for t in asked]
    # The customer's own statements, sentence by sentence ("I need a winter coat for my son").
    said_sentences = [(_units(c), set(_tokens(c)), _kind(c)) for t in asked for c in split_sentences(t)]
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
        units = _units(s.plain)
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
    novel = answer_tokens - set(_tokens(question))
    if answer_numbers - _numbers(question):
        return reasons
    if not novel:
        reasons.append("restates the question without answering it" if kind == "wh"
                       else "restates the customer's message without answering it")
    elif kind == "wh" and len(novel) <= 1 and len(novel) <= 0.2 * len(answer_tokens):
        reasons.append(f"paraphrases the question instead of answering it (only {sorted(novel)} is new)")
    return reasons


def _repetition(sentences: list[_Sentence], passages: list[str]) -> list[str]:
    """The same sentence twice, or a phrase looped more often than the passages have it."""
    reasons: list[str] = []
    seen: set[str] = set()
    for s in sentences:
        key = "".join(_units(s.plain))
        if len(key) >= 8 and key in seen:
            reasons.append(f"repeats the sentence {s.plain[:60]!r}")
            break
        seen.add(key)
    per_sentence = [_units(s.plain) for s in sentences]
    units = [u for us in per_sentence for u in us]
    cjk_share = sum(1 for u in units if _CJK.match(u)) / max(1, len(units))
    # A CJK unit is one character, a Latin unit a word: phrases are measured in both.
    short_n, long_n = (4, 8) if cjk_share > 0.5 else (3, 6)
    suspects: dict[tuple[str, ...], int] = {}
    for n, limit in ((short_n, 3), (long_n, 2)):
        # Within sentences: the end of one quoted sentence and the start of the next is no phrase.
        counts = Counter(tuple(us[i:i + n]) for us in per_sentence for i in range(len(us) - n + 1))
        suspects.update({g: c for g, c in counts.items() if c >= limit})
    # One word (a product name) said over and over.
    for unit, c in Counter(u for u in units if len(u) > 1 and not u.isdigit()).items():
        if c >= 5 and tokenize(unit):  # not "the" or "and"
            suspects[(unit,)] = c
    if not suspects:
        return reasons
    # Grounded text repeats what its passages repeat ("1-3 个工作日 ... 4-7 个工作日"); only more
    # than the context has is the model looping. The context is counted only when needed.
    context = "\x1f" + "\x1f".join(_units("\n".join(passages))) + "\x1f"
    worst = None
    for gram, count in sorted(suspects.items(), key=lambda kv: (-kv[1], -len(kv[0]))):
        if count > context.count("\x1f" + "\x1f".join(gram) + "\x1f"):
            worst = (gram, count)
            break
    if worst:
        sep = "" if all(_CJK.match(u) for u in worst[0]) else " "
        reasons.append(f"repeats {sep.join(worst[0])!r} {worst[1]} times")
    return reasons


def _markdown(sentences: list[_Sentence], text: str) -> list[str]:
    """Table pipes, stray emphasis, headings, and list items or cells that are only numbers."""
    reasons: list[str] = []
    if "|" in text or "｜" in text:
        reasons.append("contains Markdown table cells ('|')")
    for marker in ("**", "__"):
        if text.count(marker) % 2:
            reasons.append(f"contains a stray Markdown {marker!r}")
    if _EMPHASIS_NO_WORDS.search(text):
        reasons.append("contains Markdown emphasis around a bare number")
    for line in text.splitlines():
        if _MD_HEADING.match(line):
            reasons.append(f"contains a Markdown heading: {line.strip()[:60]!r}")
            break
    for s in sentences:
        body = _MD_LIST_OR_HEADING.sub("", s.plain)
        body = re.sub(r"[*_|`#>｜]", " ", body)
        # A "sentence" with digits but no word ("- 5", "$12", "30 |") is a fragment of a list or
        # a table; "30 days" or "满199元" has words and is a terse but real answer.
        if _NUMBER.search(body) and not _WORDY.search(body):
            reasons.append(f"a fragment of numbers, not a sentence: {s.plain[:40]!r}")
            break
        if _LIST_ITEM.match(s.plain) and len(_WORDY.findall(body)) < 2:
            reasons.append(f"a bare list item: {s.plain[:40]!r}")
            break
    return reasons


@lru_cache(maxsize=512)
def _dialogue(passage: str) -> _Dialogue | None:
    """The asking and answering sides of a chat ("Customer:/Agent:") or FAQ ("Q:/A:") passage."""
    if not _DIALOGUE.search(passage):
        return None
    lines = [line for line in passage.splitlines() if line.strip()]
    # Whole units label every turn; a focused one keeps the customer line as its title and
    # may have lost the agent's label with the agent's first sentence.
    labelled_answer = any(not _ASKER.match(m.group(1)) for line in lines[1:] for m in _TURN_LABEL.finditer(line))
    sides: dict[str, list[str]] = {"ask": [], "answer": []}
    role = None
    for i, line in enumerate(lines):
        matches = list(_TURN_LABEL.finditer(line))
        head = line[:matches[0].start()] if matches else line
        if head.strip():
            side = (role if labelled_answer else "answer") if i > 0 else role
            if side:
                sides[side].append(head)
        for j, m in enumerate(matches):
            role = "ask" if _ASKER.match(m.group(1)) else "answer"
            sides[role].append(line[m.end():matches[j + 1].start() if j + 1 < len(matches) else len(line)])
    if not sides["ask"]:
        return None
    ask, answer = " ".join(sides["ask"]), " ".join(sides["answer"])
    return _Dialogue(_tokens(ask), _tokens(answer), _pairs(ask), _pairs(answer))


def _pairs(text: str) -> frozenset[tuple[str, str]]:
    units = _units(text)
    return frozenset(zip(units, units[1:]))


def _customer_turns(sentences: list[_Sentence], passages: list[str]) -> list[str]:
    """A sentence taken from a past chat's customer turn (or an FAQ's question), not its answer."""
    reasons: list[str] = []
    # Parsed (and tokenized) only when a sentence cites the chat, or cites nothing.
    dialogues = [i for i, p in enumerate(passages, start=1) if _DIALOGUE.search(p)]
    for s in sentences:
        if _ASKER_LABEL_START.match(s.plain):
            reasons.append(f"quotes a customer's turn: {s.plain[:80]!r}")
            continue
        if not dialogues or len(s.tokens) < 3:
            continue
        cited = [n for n in s.cites if n in dialogues] or (dialogues if not s.cites else [])
        pairs = _pairs(s.plain)
        for n in cited:
            d = _dialogue(passages[n - 1])
            if d is None:
                continue
            asked = s.tokens & d.asker
            only_asked = asked - d.answerer
            only_answered = (s.tokens & d.answerer) - d.asker
            # Mostly the customer's words, and words only the customer used outweigh words only
            # the agent used: the model copied the question side of the chat.
            by_words = len(asked) >= 0.6 * len(s.tokens) and len(only_asked) >= 2 \
                and len(only_asked) > 2 * len(only_answered)
            # Or it runs along the customer's wording ("I just ordered a ... but I meant XL"),
            # whose telling words (I, my, but) are stop words to the tokenizer.
            by_wording = False
            if len(pairs) >= 3:
                from_asker = len(pairs & d.asker_pairs) / len(pairs)
                by_wording = from_asker >= 0.6 and from_asker >= len(pairs & d.answerer_pairs) / len(pairs) + 0.3
            if by_words or by_wording:
                reasons.append(f"quotes the customer's side of a past chat [{n}], not the answer: {s.plain[:80]!r}")
                break
    return reasons


# -- scope --------------------------------------------------------------------------------------
def _find_qualifiers(text: str) -> list[tuple[int, int, _Qualifier]]:
    """Scope conditions in one clause or sentence, with their character spans."""
    found: list[tuple[int, int, _Qualifier]] = []
    # Cheap tests first: the full patterns backtrack over every word of a long sentence.
    en_member = _EN_MEMBER.finditer(text) if _EN_MEMBER_HINT.search(text) else ()
    zh_member = _ZH_MEMBER.finditer(text) if "会员" in text else ()
    thresholds = (_EN_THRESHOLD, _ZH_THRESHOLD) if _DIGIT.search(text) else ()
    for m in en_member:
        if m.group(2):
            names = set(_tokens(m.group(1))) - _MEMBER_KEYS - _UNIVERSAL if m.group(1) else set()
            word = tokenize(m.group(2))
            if names:
                keys, need = frozenset(names), math.ceil(len(names) / 2)
            else:
                keys, need = _MEMBER_KEYS | frozenset(word), 1
            found.append((m.start() if names else m.start(2), m.end(), _Qualifier(m.group(0).strip(), keys, need)))
        else:
            found.append((m.start(), m.end(), _Qualifier(m.group(0), frozenset({m.group(3).lower()}), 1)))
    for m in zh_member:
        name = m.group(1)
        names = set(_tokens(name)) - _MEMBER_KEYS if name else set()
        if names:
            found.append((m.start(), m.end(), _Qualifier(m.group(0).strip(), frozenset(names),
                                                        math.ceil(len(names) / 2))))
        else:
            found.append((m.start(), m.end(), _Qualifier(m.group(0).strip(), _MEMBER_KEYS, 1)))
    for pattern in thresholds:
        for m in pattern.finditer(text):
            nums = _numbers(m.group(0))
            if nums:
                found.append((m.start(), m.end(), _Qualifier(m.group(0).strip(), frozenset(), 1, frozenset(nums))))
    for pattern in (_EN_ONLY, _ZH_ONLY):
        for m in pattern.finditer(text):
            found.append((m.start(), m.end(), _Qualifier(m.group(0), _ONLY_KEYS, 1, only=True)))
    for pattern in (_EN_CONDITION, _ZH_CONDITION):
        for m in pattern.finditer(text):
            # Without the conjunction: "unless" in the answer does not keep "unless it is faulty".
            keys = {k for k in _tokens(m.group(1)) if len(k) > 1 or _CJK.match(k)}
            nums = _numbers(m.group(1))
            # "if you'd like", "if needed", "如果需要": politeness, not a condition on the fact.
            if len(keys) >= 2 or nums:
                found.append((m.start(), m.end(), _Qualifier(m.group(0).strip(), frozenset(keys),
                                                            max(1, math.ceil(len(keys) / 2)), frozenset(nums))))
    return found


@lru_cache(maxsize=4096)
def _clauses(text: str) -> tuple[_Clause, ...]:
    """The clauses of a sentence, each with its qualifiers; a clause that is only a condition
    knows which clause it conditions."""
    clean = _MD_INLINE.sub("", _LIST_ITEM.sub("", text))
    split = _CLAUSE_SPLIT.split(clean)
    clauses: list[_Clause] = []
    strong_before: list[bool] = []
    delimiter = ""
    for i, part in enumerate(split):
        if i % 2:
            delimiter = part.strip()
            continue
        if not part or not part.strip():
            continue
        # "..., or if the delay was our fault", "or sooner if ...", "not when you order": an
        # alternative or a contrast widens or corrects, it does not restrict what came before.
        quals = [] if _ALTERNATIVE.match(part) else _find_qualifiers(part)
        rest = part
        for start, end, _ in sorted(quals, key=lambda q: -q[0]):
            rest = rest[:start] + " " + rest[end:]
        clauses.append(_Clause(_tokens(rest), tuple(q for _, _, q in quals)))
        strong_before.append(bool(clauses[1:]) and delimiter in _STRONG)
    out = []
    for j, c in enumerate(clauses):
        own = c.main - set().union(*(o.main for k, o in enumerate(clauses) if k != j))
        out.append(_Clause(c.main, c.qualifiers, _target(j, clauses, strong_before) if c.pure else -1, own))
    return tuple(out)


def _target(j: int, clauses: list[_Clause], strong_before: list[bool]) -> int:
    """The clause a condition-only clause conditions: the one after it when it opens its part
    of the sentence ("If X, Y"; "A; for members, B"), else the one before it across a comma
    ("Y, if X"; "开机，只要主机完整即可；..."), else, at the end, the one before it."""
    nxt = j + 1 < len(clauses) and not clauses[j + 1].pure and not strong_before[j + 1]
    opens = j == 0 or strong_before[j] or clauses[j - 1].pure
    if nxt and opens:
        return j + 1
    if j > 0 and not clauses[j - 1].pure and (not strong_before[j] or j + 1 == len(clauses)):
        return j - 1
    return j + 1 if nxt else -1


def _label(sentence: str) -> tuple[str, str]:
    """``(label, rest)`` for a sentence that starts with a short label and a colon ("Gold
    members get: ...", "Singapore: Standard shipping S$4.90; ...", "金卡会员：..."), else ``("", sentence)``."""
    m = _LABEL_COLON.search(sentence)
    if not m:
        return "", sentence
    core = _MD_INLINE.sub("", _LIST_ITEM.sub("", sentence[:m.start()])).strip()
    bare = _BRACKETED.sub(" ", core)
    size = len(_LATIN_WORD.findall(bare)) + len(_CJK.findall(bare)) / 2
    if not core or core[-1] in ".!?。！？" or not 0 < size <= _LABEL_WORDS:
        return "", sentence
    return core, sentence[m.end():]


def _signature(body: str) -> tuple[str, ...]:
    """The first word of each ";"-separated part: the column headers of a rendered table row."""
    parts = [p for p in _PARTS.split(body) if p.strip()]
    if len(parts) < 2:
        return ()
    return tuple(m.group(0).lower() if (m := _HEAD_WORD.search(p)) else "" for p in parts)


def _table_pieces(number: int, rows: list[list[str]]) -> list[_Piece]:
    """Data rows of a Markdown table; each row's first cell scopes the rest ("Singapore | S$4.90")."""
    header: list[str] = []
    data: list[list[str]] = []
    for i, cells in enumerate(rows):
        if all(_SEPARATOR_CELL.match(c) for c in cells if c):
            continue
        if i == 0 and len(rows) > 1 and all(_SEPARATOR_CELL.match(c) for c in rows[1] if c):
            header = cells
            continue
        data.append(cells)
    header_tokens = _tokens(" ".join(header))
    pieces = []
    for cells in data:
        if len(cells) < 2:
            continue
        key, rest = cells[0], cells[1:]
        key_tokens = _tokens(key)
        tokens = _tokens(" ".join(cells)) | header_tokens
        lead: tuple[_Qualifier, ...] = ()
        distinct = []
        # The key scopes the row only when it tells rows apart by a name, not a number.
        if len(data) >= 2 and key_tokens and _numbers(key) != set(key_tokens):
            lead = (_Qualifier(key, key_tokens, 1),)
            for col, cell in enumerate(rest, start=1):
                others = {other[col] for other in data if other is not cells and len(other) > col}
                if cell and cell not in others and cell not in ("-", "—"):
                    distinct.append((_tokens(cell), frozenset(_numbers(cell))))
        text = " | ".join(cells)
        pieces.append(_Piece(number, text, text, lead, True, tokens, tuple(distinct)))
    return pieces


@lru_cache(maxsize=512)
def _pieces(number: int, passage: str) -> tuple[_Piece, ...]:
    """A passage's sentences and table rows, with clauses, qualifiers and the scope over them.

    Scope over a whole sentence comes from its label ("Gold members get: free shipping.";
    ingest renders list items under a lead-in that way), from a lead-in sentence before list
    items, or, for a table row ("Singapore: Standard shipping S$4.90; Free shipping from S$60."
    as ingest renders it, or a Markdown row), from the row's name.
    """
    pieces: list[_Piece] = []
    prose: list[str] = []
    table: list[list[str]] = []
    for line in _ROW_BREAK.sub("|\n|", passage).splitlines():
        stripped = line.strip()
        if stripped.count("|") >= 2:
            before, _, rest = stripped.partition("|")
            if before.strip():
                prose.extend(_split_passage(before))
            # A flattened table's last row runs on into the prose after the table.
            row, _, after = rest.rpartition("|")
            table.append([c.strip() for c in row.split("|")])
            if after.strip():
                pieces.extend(_table_pieces(number, table))
                table = []
                prose.extend(_split_passage(after))
            continue
        if table:
            pieces.extend(_table_pieces(number, table))
            table = []
        prose.extend(_split_passage(stripped))
    if table:
        pieces.extend(_table_pieces(number, table))
    labelled = [_label(sentence) for sentence in prose]
    shapes = Counter(sig for sig in (_signature(body) for label, body in labelled if label) if sig)
    lead: tuple[_Qualifier, ...] = ()
    previous = ""
    for sentence, (label, body) in zip(prose, labelled):
        if not (_LIST_ITEM.match(sentence) or previous.endswith((";", "；", ":", "："))):
            lead = ()
        own: tuple[_Qualifier, ...] = ()
        if label:
            quals = tuple(q for _, _, q in _find_qualifiers(label))
            if quals:
                own = quals
            elif shapes.get(_signature(body), 0) >= 2:
                # Rows of one table share their column headers; the row's name scopes its cells.
                own = (_Qualifier(label, _tokens(label), 1),)
        if body.strip():
            pieces.append(_Piece(number, _MD_INLINE.sub("", sentence), body, own + lead))
        stripped = sentence.rstrip()
        if stripped.endswith((":", "：")):
            # A lead-in that is nothing but its scope ("Insiders get:", "金卡会员可享受：") scopes
            # the items after it; "Choose kerbside delivery only if ...: a sofa needs two adults"
            # does not.
            clauses = _clauses(body) if _QUALIFIER_HINT.search(body) else ()
            if not body.strip() and own:
                lead = own
            elif clauses and clauses[-1].pure:
                lead = clauses[-1].qualifiers
        previous = stripped
    return tuple(pieces)


def _split_passage(text: str) -> list[str]:
    """Sentences of passage text, cut at full stops only: a colon or a semicolon inside a
    sentence separates a label or the parts of one fact, which :func:`_clauses` reads."""
    return [p.strip() for p in _PASSAGE_SENTENCE.split(text) if p.strip()]


def _kept(q: _Qualifier, have: set[str], have_numbers: set[str], have_text: str) -> bool:
    """Whether the answer (or what the customer said) keeps qualifier ``q``."""
    if q.only:
        # jieba joins "限" into the word after it ("限选"), so the restriction is looked for in the text.
        return bool(_EN_ONLY.search(have_text) or _ZH_ONLY.search(have_text))
    if q.numbers and q.numbers & have_numbers:
        return True
    if q.keys:
        # Chinese keys as substrings too: jieba may cut the answer's words differently.
        present = sum(1 for k in q.keys if k in have or (_CJK.search(k) and k in have_text))
        return present >= q.need
    return not q.numbers


def _dropped(piece: _Piece, words: set[str], numbers: set[str], have: set[str], have_numbers: set[str],
             have_text: str) -> list[_Qualifier]:
    """The qualifiers over the part of ``piece`` that the answer sentence states and leaves out."""
    if not piece.scoped:
        return []
    if piece.row:
        covered = any((cell_tokens and cell_tokens <= words and (len(cell_tokens) >= 2 or cell_numbers))
                      or (cell_numbers and cell_numbers <= numbers)
                      for cell_tokens, cell_numbers in piece.distinct)
        return [q for q in piece.lead if not _kept(q, have, have_numbers, have_text)] if covered else []
    clauses = piece.clauses

    def covered(i: int, c: _Clause) -> bool:
        hit = len(c.main & words)
        if not c.main or hit < min(2, len(c.main)) or hit < 0.5 * len(c.main):
            return False
        # Clauses of one sentence share words ("选 3 份免费小样，每种小样限选 1 份"): the answer
        # states a clause only if it has what sets that clause apart.
        return not c.own or len(c.own & words) >= 0.5 * len(c.own)

    applicable: list[_Qualifier] = []
    any_covered = False
    for i, c in enumerate(clauses):
        if c.pure or not covered(i, c):
            continue
        any_covered = True
        applicable.extend(c.qualifiers)
        for other in clauses:
            if other.binds == i:
                applicable.extend(other.qualifiers)
    if any_covered:
        applicable.extend(piece.lead)
    return [q for q in dict.fromkeys(applicable) if not _kept(q, have, have_numbers, have_text)]


def _scope(sentences: list[_Sentence], passages: list[str], have: set[str], have_numbers: set[str],
           have_text: str) -> list[str]:
    """A fact stated without the condition its passage sentence puts on it."""
    reasons: list[str] = []
    all_pieces = [piece for n, p in enumerate(passages, start=1) for piece in _pieces(n, p)]
    for s in sentences:
        words = s.tokens
        if len(words) < 2:
            continue
        units = _unit_set(s.plain)

        def candidates(pieces: list[_Piece]) -> list[tuple[float, _Piece]]:
            out = []
            for piece in pieces:
                # Words and characters first (a regex): jieba runs only on pieces that share a
                # good part of them, the few that can support the sentence.
                if len(units & _unit_set(piece.text)) < 0.3 * len(units):
                    continue
                overlap = len(words & piece.tokens)
                if overlap >= 2 and overlap >= 0.5 * len(words):
                    # The passages the sentence cites come first; others can still support it.
                    out.append((overlap + (0.5 if piece.passage in s.cites else 0.0), piece))
            return out

        scored = candidates(all_pieces)
        if not scored:
            continue
        best = max(score for score, _ in scored)
        near = [piece for score, piece in scored if score >= best - 1.0]
        # Conservative: if any close match states the fact unconditionally, or with every
        # condition the answer kept, the sentence is supported as written.
        if not all(piece.scoped for piece in near):
            continue
        numbers = _numbers(s.plain)
        drops = []
        for piece in near:
            drops.append(_dropped(piece, words, numbers, have, have_numbers, have_text))
            if not drops[-1]:
                break
        if all(drops):
            top = max(range(len(near)), key=lambda i: len(words & near[i].tokens))
            phrases = ", ".join(repr(q.phrase) for q in drops[top][:3])
            reasons.append(f"states {s.plain[:60]!r} without the condition {phrases} of passage [{near[top].passage}]")
    return reasons


# -- entry point ---------------------------------------------------------------------------------
def problems(answer: str, question: str, passages: list[str], customer_texts: list[str] = ()) -> list[str]:
    """Why a generated ``answer`` is not a usable answer to ``question``; empty when it is.

    ``passages`` are the texts the model was shown, cited in the answer as [1], [2], ...;
    ``customer_texts`` are the customer's own messages in this conversation (the question
    included). The answer is assumed to have passed :func:`app.grounding.check`; these checks
    catch what that one cannot: the question echoed or paraphrased back, an answer that is a
    question, repetition loops, Markdown fragments, a past chat's customer turn quoted as the
    answer, and a fact stated without the condition ("for Gold members", "满199元") it holds under.
    Each reason is a short human-readable sentence.
    """
    text = _ANSWER_LABEL.sub("", (answer or "").strip(), count=1).strip()
    if not _CITATION.sub("", text).strip():
        return ["empty answer"]
    customer = [t for t in customer_texts if t]
    sentences = _split_answer(text)
    spoken = [s for s in sentences if s.plain]
    answer_tokens: set[str] = set().union(*(s.tokens for s in spoken)) if spoken else set()
    answer_numbers = _numbers(_CITATION.sub(" ", text))
    reasons: list[str] = []
    reasons += _question_shape(spoken)
    reasons += _echo(spoken, answer_tokens, answer_numbers, question or "", customer)
    reasons += _repetition(spoken, passages)
    reasons += _markdown(spoken, _CITATION.sub(" ", text))
    reasons += _customer_turns(spoken, passages)
    # What the customer said counts as kept scope: "As a Gold member, is shipping free?" is
    # answered by "Standard shipping is free [1]."
    asked = " ".join([question or "", *customer])
    have = answer_tokens | set(_tokens(asked))
    have_numbers = answer_numbers | _numbers(asked)
    reasons += _scope(spoken, passages, have, have_numbers, f"{_CITATION.sub(' ', text)}\n{asked}".lower())
    return list(dict.fromkeys(reasons))
