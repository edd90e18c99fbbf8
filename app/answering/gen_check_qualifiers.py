"""Scope conditions in passage text ("for Gold members", "满199元", "only if ..."), and the clauses
of a sentence they bind."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from shopqa.answering.gen_check_text import CJK, LIST_ITEM, MD_INLINE, number_set, token_set
from shopqa.ingest.tokenize import tokenize

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
QUALIFIER_HINT = re.compile(
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
EN_ONLY = re.compile(r"\b(?:only|solely|exclusively)\b", re.I)
_ONLY_KEYS = frozenset({"only", "solely", "exclusively", "仅", "仅限", "只限", "限", "限于", "只有", "仅有", "只能",
                        "仅能", "唯有", "仅对", "只对"})
ZH_ONLY = re.compile(r"仅限|(?<!不)仅|只限|只有|只能|限于|唯有|只对|(?<![期有上下权时界极年无额])限(?![时额制期度])")
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


@dataclass(frozen=True)
class Qualifier:
    """A scope condition found in a passage sentence, and what in an answer keeps it."""

    phrase: str
    keys: frozenset[str]  # tokens that show the answer kept the condition
    need: int  # how many of ``keys`` must be present
    numbers: frozenset[str] = frozenset()  # or: any of these numbers
    only: bool = False  # an "only"/"仅" restriction: kept by any word of that kind


@dataclass(frozen=True)
class Clause:
    """A clause of a passage sentence, its qualifiers, and (if only a condition) what it binds."""

    main: frozenset[str]  # the clause's tokens outside its qualifiers
    qualifiers: tuple[Qualifier, ...]
    binds: int = -1  # for a clause that is only a condition: the clause it conditions
    own: frozenset[str] = frozenset()  # its main tokens that no other clause of the sentence has

    @property
    def pure(self) -> bool:
        """A clause that is only a condition ("For Gold members", "If the item is damaged")."""
        return bool(self.qualifiers) and len(self.main) <= 1


def find_qualifiers(text: str) -> list[tuple[int, int, Qualifier]]:
    """Scope conditions in one clause or sentence, with their character spans."""
    found: list[tuple[int, int, Qualifier]] = []
    # Cheap tests first: the full patterns backtrack over every word of a long sentence.
    en_member = _EN_MEMBER.finditer(text) if _EN_MEMBER_HINT.search(text) else ()
    zh_member = _ZH_MEMBER.finditer(text) if "会员" in text else ()
    thresholds = (_EN_THRESHOLD, _ZH_THRESHOLD) if _DIGIT.search(text) else ()
    for m in en_member:
        if m.group(2):
            names = set(token_set(m.group(1))) - _MEMBER_KEYS - _UNIVERSAL if m.group(1) else set()
            word = tokenize(m.group(2))
            if names:
                keys, need = frozenset(names), math.ceil(len(names) / 2)
            else:
                keys, need = _MEMBER_KEYS | frozenset(word), 1
            found.append((m.start() if names else m.start(2), m.end(), Qualifier(m.group(0).strip(), keys, need)))
        else:
            found.append((m.start(), m.end(), Qualifier(m.group(0), frozenset({m.group(3).lower()}), 1)))
    for m in zh_member:
        name = m.group(1)
        names = set(token_set(name)) - _MEMBER_KEYS if name else set()
        if names:
            found.append((m.start(), m.end(), Qualifier(m.group(0).strip(), frozenset(names),
                                                        math.ceil(len(names) / 2))))
        else:
            found.append((m.start(), m.end(), Qualifier(m.group(0).strip(), _MEMBER_KEYS, 1)))
    for pattern in thresholds:
        for m in pattern.finditer(text):
            nums = number_set(m.group(0))
            if nums:
                found.append((m.start(), m.end(), Qualifier(m.group(0).strip(), frozenset(), 1, frozenset(nums))))
    for pattern in (EN_ONLY, ZH_ONLY):
        for m in pattern.finditer(text):
            found.append((m.start(), m.end(), Qualifier(m.group(0), _ONLY_KEYS, 1, only=True)))
    for pattern in (_EN_CONDITION, _ZH_CONDITION):
        for m in pattern.finditer(text):
            # Without the conjunction: "unless" in the answer does not keep "unless it is faulty".
            keys = {k for k in token_set(m.group(1)) if len(k) > 1 or CJK.match(k)}
            nums = number_set(m.group(1))
            # "if you'd like", "if needed", "如果需要": politeness, not a condition on the fact.
            if len(keys) >= 2 or nums:
                found.append((m.start(), m.end(), Qualifier(m.group(0).strip(), frozenset(keys),
                                                            max(1, math.ceil(len(keys) / 2)), frozenset(nums))))
    return found


@lru_cache(maxsize=4096)
def clauses_of(text: str) -> tuple[Clause, ...]:
    """The clauses of a sentence, each with its qualifiers; a clause that is only a condition
    knows which clause it conditions."""
    clean = MD_INLINE.sub("", LIST_ITEM.sub("", text))
    split = _CLAUSE_SPLIT.split(clean)
    clauses: list[Clause] = []
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
        quals = [] if _ALTERNATIVE.match(part) else find_qualifiers(part)
        rest = part
        for start, end, _ in sorted(quals, key=lambda q: -q[0]):
            rest = rest[:start] + " " + rest[end:]
        clauses.append(Clause(token_set(rest), tuple(q for _, _, q in quals)))
        strong_before.append(bool(clauses[1:]) and delimiter in _STRONG)
    out = []
    for j, c in enumerate(clauses):
        own = c.main - set().union(*(o.main for k, o in enumerate(clauses) if k != j))
        out.append(Clause(c.main, c.qualifiers, _target(j, clauses, strong_before) if c.pure else -1, own))
    return tuple(out)


def _target(j: int, clauses: list[Clause], strong_before: list[bool]) -> int:
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
