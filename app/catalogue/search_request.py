"""What a customer asks the catalogue search for: a ``Request`` of words and ``Limit``s, and the
words and numbers that state them ("under £1,000", "两万毫安左右", "in stock", "something to...").

Limits are read here from the text alone; the rest of a request (superlatives, a product it
must fit, the words that say what kind) is read by the search, which knows the catalogue.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from shopqa.catalogue.units import UNITS, amount, number

_NUM = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|[零一二两三四五六七八九十百千万]+)"
_CUR_BEFORE = r"(?:(?:s|us|hk|a|c|nz)?\$|£|€|¥|￥|rmb\s*|usd\s*|gbp\s*|sgd\s*|cny\s*|eur\s*)"
_CUR_AFTER = r"(?:块钱|块|元|新元|新币|美元|英镑|欧元|dollars?|bucks|quid|usd|gbp|sgd|cny|eur|rmb)"
# "in" is a unit only in a catalogue's own values ("63 in"); in a question it is a preposition
# ("a women's US 8 in EU sizes").
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True) if u != "in")
# One number with what surrounds it: a currency before or after, or a unit (with "万" scale).
_AMOUNT = re.compile(rf"({_CUR_BEFORE})?\s*(?:(?<![\w.])([-−]))?{_NUM}\s*(万|千)?\s*(?:({_CUR_AFTER})|({_UNIT_ALT})(?![a-z]))?",
                     re.I)
_MAX_BEFORE = re.compile(r"(under|below|less than|cheaper than|lighter than|no more than|not more than|at most|up to|"
                         r"max(?:imum)?|within|rated to|rated for|good to|down to|不超过|不到|低于|少于|小于|最多|<=?)\s*$",
                         re.I)
_MIN_BEFORE = re.compile(r"(over|above|more than|at least|minimum|min|from|bigger than|larger than|超过|高于|大于|至少|>=?)"
                         r"\s*$", re.I)
_ABOUT_BEFORE = re.compile(r"(around|about|approximately|roughly|circa|~|大概|差不多|大约)\s*$", re.I)
_MAX_AFTER = re.compile(r"^\s*(以内|以下|之内|内|or less|or under|max|tops|or cheaper)", re.I)
_MIN_AFTER = re.compile(r"^\s*(以上|起|or more|plus|\+)", re.I)
_ABOUT_AFTER = re.compile(r"^\s*(左右|上下|ish)", re.I)
_BETWEEN = re.compile(rf"(?:between\s*)?({_CUR_BEFORE})?\s*{_NUM}\s*({_CUR_AFTER})?\s*(?:-|–|~|to|and|到|至)\s*"
                      rf"({_CUR_BEFORE})?\s*{_NUM}\s*({_CUR_AFTER})?", re.I)
# Words of limits ("under", "以内") once their numbers are read.
_OPERATORS = frozenset("under below less than over above more at least most up to within around about approximately "
                       "roughly between cheaper 以内 以下 之内 以上 左右 上下 不超过 不到 低于 少于 大概 差不多 大约 "
                       "budget 预算".split())
_ACCESSORY = re.compile(r"\b(accessor(?:y|ies)|spares?|refills?|replacements?|parts?|care)\b|配件|附件|替换|补充装|耗材",
                        re.I)
# Words that stand in for the product wanted ("something to boil water with").
_VAGUE = frozenset("something someth anything anyth thing things stuff item items 东西 一款 一个 啥".split())
_SOMETHING = re.compile(r"\b(something|anything|a product|products?)\b|东西|什么产品|什么商品", re.I)
IN_STOCK = re.compile(r"\b(in stock|available now|available today|ready to ship)\b|有现货|现货|有货", re.I)
# Words that ask for a product (a search), as opposed to asking about a policy.
REQUEST = re.compile(r"\b(looking for|look for|i'?m after|after a|need|want|wanted|recommend|suggest|suggestion|"
                     r"show me|what have you got|what do you have|do you have|do you sell|options?|find me|"
                     r"any\b.*\?|which one|which)\b|推荐|想要|想买|想找|要买|有没有|有什么|求|找一?[款个]|哪款|哪个", re.I)


@dataclass
class Limit:
    """A hard limit: on the price (``concept`` "price") or on a quantity of a dimension."""

    concept: str  # "price", or a dimension ("mass", "charge"...) for quantities
    low: float | None = None
    high: float | None = None
    about: float | None = None  # a soft target ("两万毫安", "around £500"): closer ranks higher
    text: str = ""

    def admits(self, value: float) -> bool:
        """True when ``value`` is within the limit (a soft target admits anything)."""
        return (self.low is None or value >= self.low - 1e-9) and (self.high is None or value <= self.high + 1e-9)


@dataclass
class Request:
    """What a customer asked the catalogue for."""

    words: list[str]
    limits: list[Limit] = field(default_factory=list)
    superlative: tuple[str, str] | None = None
    in_stock: bool = False
    fits: str | None = None
    accessories: bool = False  # accessories, spares or refills were asked for
    refines: list[str] = field(default_factory=list)  # the products shown before a refinement
    vague: bool = False  # a product asked for without naming its kind ("something to boil water")

    @property
    def constrained(self) -> bool:
        """True when the request carries a limit, a superlative, "in stock" or a product to fit."""
        return bool(self.limits or self.superlative or self.in_stock or self.fits)

    @property
    def bounded(self) -> bool:
        """True when it carries a hard limit ("under £250", "at least 20,000 mAh") or a
        superlative: a search by itself, even without words asking for one."""
        return bool(self.superlative or any(x.low is not None or x.high is not None for x in self.limits))


def read_limits(text: str) -> tuple[list[Limit], str]:
    """The limits ``text`` states (price ranges, prices and quantities with an operator) and
    the text left once their numbers are cut out."""
    limits: list[Limit] = []
    spans: list[tuple[int, int]] = []
    for m in _BETWEEN.finditer(text):
        a, b = number(m.group(2)), number(m.group(5))
        money = m.group(1) or m.group(3) or m.group(4) or m.group(6)
        if a is None or b is None or not money or a >= b:
            continue
        limits.append(Limit("price", low=a, high=b, text=m.group(0).strip()))
        spans.append(m.span())
    for m in _AMOUNT.finditer(text):
        if any(s <= m.start() < e for s, e in spans):
            continue
        value = amount(m.group(2), m.group(3), m.group(4))
        if value is None:
            continue
        before, after = text[max(0, m.start() - 16):m.start()], text[m.end():m.end() + 8]
        money = bool(m.group(1) or m.group(5))
        unit = (m.group(6) or "").lower()
        op = ("max" if _MAX_BEFORE.search(before) or _MAX_AFTER.search(after) else
              "min" if _MIN_BEFORE.search(before) or _MIN_AFTER.search(after) else
              "about" if _ABOUT_BEFORE.search(before) or _ABOUT_AFTER.search(after) else None)
        if unit and unit in UNITS and not money:
            dimension, factor = UNITS[unit]
            base = value * factor
            if unit in ("in", "m", "l", "h", "c", "w", "g", "ft") and not re.match(r"\d", m.group(3)):
                continue  # "一g" is not a quantity anyone writes
            limits.append(_limit(dimension, base, op or "about", m.group(0).strip()))
        elif money or (op in ("max", "min") and not unit):
            limits.append(_limit("price", value, op or "about", m.group(0).strip()))
        else:
            continue
        spans.append(m.span())
    rest = text
    for s, e in sorted(spans, reverse=True):
        rest = rest[:s] + " " + rest[e:]
    return limits, rest


def _limit(concept: str, value: float, op: str, text: str) -> Limit:
    """A limit of ``op`` ("max", "min", or a soft "about" target) at ``value``."""
    if op == "max":
        return Limit(concept, high=value, text=text)
    if op == "min":
        return Limit(concept, low=value, text=text)
    return Limit(concept, about=value, text=text)
