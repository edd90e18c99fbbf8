"""Product search with constraints, from the catalogue alone: "a velvet sofa under £1,000",
"想买个两万毫安的充电宝，200块以内，要有现货的", "the lightest stove", "in stock and fits my X".

A request is read into a ``Request``: the words that say what kind of product (matched against
product names, categories and attribute values, weighted by how rare they are), price limits,
quantity limits in any unit the catalogue uses ("under 2 kg" against "1600 g"), a superlative,
"in stock", and a product it must fit. Limits are hard filters; the words rank what is left.
Every result says why it matches (its price, stock and the attributes the request touched).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

import networkx as nx

from shopqa.ingest.tokenize import _EN_STOP

from shopqa.catalogue import products
from shopqa.catalogue.products import _FILLER, _QUESTION_WORDS, ProductMatcher
from shopqa.catalogue.catalogue import Catalogue, key_words, load_superlatives
from shopqa.catalogue.units import UNITS, amount, number, quantities

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
# The dimension a concept is measured in, for catalogues whose attribute names the concept
# table does not know.
_CONCEPT_DIMENSION = {"weight": "mass", "capacity": "volume", "runtime": "time", "power": "power",
                      "width": "length", "height": "length", "length": "length", "depth": "length"}
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


def _phrases(table: dict) -> re.Pattern | None:
    """One regex for a table's phrases: whole words in English, anywhere in Chinese."""
    if not table:
        return None
    return re.compile("|".join(re.escape(p) if re.search(r"[\u3400-\u9fff]", p) else rf"\b{re.escape(p)}\b"
                               for p in sorted(table, key=len, reverse=True)), re.I)


def head_words(name: str, matcher: ProductMatcher) -> set[str]:
    """The head noun of a product or category name: its last word before a comma, a slash or
    brackets, skipping sizes ("Merrow Hybrid 2000 Mattress, King" -> mattress; "Velvet Cushion
    45 x 45 cm" -> cushion); a bilingual name gives one per language."""
    out: set[str] = set()
    for part in re.split(r"\s*/\s*", name):
        part = re.split(r"[,，(（\[]", part)[0]
        words = [t for t in matcher.tokens(part) if not re.search(r"\d", t) and t not in UNITS and t != "x"]
        if words:
            out.add(words[-1])
            # a glossary word may stand for two ("空气净化器" -> air purifier): its last one is the head
    return out


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


@dataclass
class Result:
    """One product found, with its score and the reasons it matches."""

    sku: str
    score: float
    why: list[str]


class ProductSearch:
    """Search over one catalogue generation; the product text index is built once here."""

    def __init__(self, catalogue: Catalogue, matcher: ProductMatcher, graph: nx.Graph | None = None):
        self.catalogue = catalogue
        self.matcher = matcher
        self.graph = graph if graph is not None else matcher.graph
        self.superlatives = load_superlatives()
        self._superlative = _phrases(self.superlatives)
        self.comparatives = load_superlatives(section="_comparatives")
        self._comparative = _phrases(self.comparatives)
        # Product text by weight: name and category words say what a product is; attribute
        # values and the description say what it is like.
        self.kind: dict[str, set[str]] = {}
        self.names: dict[str, set[str]] = {}
        self.attribute_tokens: dict[str, list[tuple[str, set[str]]]] = {}
        self.heads: dict[str, set[str]] = {}
        self.like: dict[str, set[str]] = {}
        df: Counter[str] = Counter()
        for sku, p in catalogue.products.items():
            self.names[sku] = set(matcher.tokens(p.name))
            self.attribute_tokens[sku] = [(k, set(matcher.tokens(f"{k} {v}"))) for k, v in p.attributes.items()]
            self.heads[sku] = head_words(p.name, matcher) | head_words(p.category, matcher)
            kind = self.names[sku] | set(matcher.tokens(p.category))
            like = set(matcher.tokens(" ".join(f"{' '.join(key_words(k))} {v}" for k, v in p.attributes.items())
                                      + " " + p.description))
            self.kind[sku], self.like[sku] = kind, like - kind
            df.update(kind | like)
        total = max(1, len(catalogue.products))
        self.idf = {t: math.log(1 + total / n) for t, n in df.items()}
        self.kind_words = set().union(*self.kind.values()) if self.kind else set()
        self._ignore = _EN_STOP | _FILLER | _QUESTION_WORDS | _OPERATORS | _VAGUE

    # -- reading the request ----------------------------------------------------------------
    def parse(self, text: str) -> Request:
        """The request in ``text``: its words, limits, superlative, stock and fit wishes."""
        limits, rest = self._limits(text)
        superlative = None
        if self._superlative is not None:
            m = self._superlative.search(rest)
            if m:
                superlative = self.superlatives[m.group(0).lower()]  # the table's phrases are lower-case
                rest = rest[:m.start()] + " " + rest[m.end():]
        in_stock = bool(IN_STOCK.search(rest))
        if in_stock:
            rest = IN_STOCK.sub(" ", rest)
        fits = None
        if products.COMPAT.search(rest):
            sure = [m for m in self.matcher.find(rest) if self.matcher.is_sure(m, rest)]
            if sure:
                fits = sure[-1].sku
                name = set(self.matcher.tokens(self.catalogue.products[fits].name))
                rest = " ".join(t for t in self.matcher.tokens(rest) if t not in name)
        words = [t for t in self.matcher.tokens(rest) if t not in self._ignore and not t.isdigit() and len(t) > 1]
        accessories = bool(fits) or bool(_ACCESSORY.search(text))
        return Request(words, limits, superlative, in_stock, fits, accessories, vague=bool(_SOMETHING.search(text)))

    def _limits(self, text: str) -> tuple[list[Limit], str]:
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
                limits.append(self._limit(dimension, base, op or "about", m.group(0).strip()))
            elif money or (op in ("max", "min") and not unit):
                limits.append(self._limit("price", value, op or "about", m.group(0).strip()))
            else:
                continue
            spans.append(m.span())
        rest = text
        for s, e in sorted(spans, reverse=True):
            rest = rest[:s] + " " + rest[e:]
        return limits, rest

    @staticmethod
    def _limit(concept: str, value: float, op: str, text: str) -> Limit:
        if op == "max":
            return Limit(concept, high=value, text=text)
        if op == "min":
            return Limit(concept, low=value, text=text)
        return Limit(concept, about=value, text=text)

    def refers_back(self, text: str) -> bool:
        """True when ``text`` compares with something shown before ("有没有便宜点的", "cheaper?")."""
        return bool(self._comparative is not None and self._comparative.search(text))

    def refine(self, text: str, shown: list[str]) -> Request | None:
        """A follow-up that refines the products just shown ("cheaper?", "那有没有大一点的？",
        "in black?"): the same kind, beyond the first shown product's value on the concept the
        comparative names, with any new limits and words. None when ``text`` refines nothing."""
        shown = [s for s in shown if s in self.catalogue.products]
        if not shown:
            return None
        m = self._comparative.search(text) if self._comparative is not None else None
        request = self.parse(text if m is None else text[:m.start()] + " " + text[m.end():])
        heads = [h for s in shown for h in sorted(self.heads[s])]
        if m is None:
            # "in black?": new describing words (or limits) on the same kind of product.
            if not request.words and not request.limits:
                return None
            if any(w in self.kind_words and w not in heads for w in request.words):
                return None  # it names another kind of product: a new search, not a refinement
        else:
            concept, direction = self.comparatives[m.group(0).lower()]
            # Against the first product shown: the one suggested first, or the one asked about.
            bound = next((v for v in (self._value(s, concept)[0] for s in shown) if v is not None), None)
            if bound is None:
                return None
            limit = Limit(concept, high=bound * 0.999, text=m.group(0)) if direction == "max" else \
                Limit(concept, low=bound * 1.001, text=m.group(0))
            request.limits.append(limit)
        # The kind stays what was shown; new words describe it.
        request.words = [w for w in request.words if w not in heads] + list(dict.fromkeys(heads))
        request.refines = shown
        return request

    # -- searching ----------------------------------------------------------------------------
    def search(self, request: Request, k: int = 3) -> list[Result]:
        """The products that satisfy every limit, best first. Without a word naming a kind of
        product, the products whose descriptions say most of the request's words."""
        kind_asked = [w for w in request.words if w in self.kind_words]
        described = not kind_asked and not request.fits
        if described and not (request.words and request.vague):
            return []  # neither a kind named nor a product asked for in other words
        pool = self.catalogue.products
        if request.fits:
            pool = {s: pool[s] for s in products.fits_reverse(self.graph, request.fits) if s in pool}
        # The head noun says what is wanted: the last word naming a kind ("a velvet *sofa*",
        # "两万毫安的*充电宝*"); other words only describe it.
        if kind_asked:
            head = kind_asked[-1]
            # What a product is, is its name's head noun or its category's ("Trailhead 2 Tent
            # Footprint" is a footprint, filed under tent *accessories*); then any product
            # with the word in its name ("earbuds" are not the ear tips filed under "earbud
            # accessories"); then in its name or category.
            pool = ({s: p for s, p in pool.items() if head in self.heads[s]}
                    or {s: p for s, p in pool.items() if head in self.names[s]}
                    or {s: p for s, p in pool.items() if head in self.kind[s]} or pool)
        results = []
        for sku, p in pool.items():
            kind = sum(self.idf.get(w, 0.0) for w in request.words if w in self.kind[sku])
            if kind_asked and kind == 0.0:
                continue
            like = sum(self.idf.get(w, 0.0) for w in request.words if w in self.like[sku])
            if described and like < 0.6 * sum(self.idf.get(w, 0.0) for w in request.words):
                # No kind named ("something to boil water on a camping trip"): the product's
                # own description and attributes must say most of what was asked.
                continue
            why: list[str] = []
            ok, closeness = True, 0.0
            for limit in request.limits:
                value, shown = self._value(sku, limit.concept)
                if value is None:
                    if limit.low is not None or limit.high is not None:
                        ok = False  # a hard limit the product cannot show it meets
                    continue
                if not limit.admits(value):
                    ok = False
                    break
                if limit.about is not None:
                    closeness -= abs(math.log(max(value, 1e-6) / max(limit.about, 1e-6)))
                if shown and shown not in why:
                    why.append(shown)
            if not ok or (request.in_stock and not p.in_stock):
                continue
            # The attributes the request's words describe ("velvet" -> material), at most two.
            for key, tokens in self.attribute_tokens[sku]:
                if len(why) < 3 and tokens & set(request.words) - self.names[sku]:
                    shown = f"{' '.join(key_words(key))} {self.catalogue.display(sku, key)}"
                    if shown not in why:
                        why.append(shown)
            results.append(Result(sku, kind * 2 + like + closeness, why))
        if not results:
            return []
        best_kind = max(r.score for r in results)
        if request.superlative:
            concept, direction = request.superlative
            valued = [(*self._value(r.sku, concept), r) for r in results]
            valued = [(v, shown, r) for v, shown, r in valued if v is not None]
            if valued:
                # Among products of the kind asked (the best word matches), the extreme one first.
                top = [(v, shown, r) for v, shown, r in valued if r.score >= best_kind * 0.5]
                top.sort(key=lambda x: x[0] if direction == "min" else -x[0])
                for _, shown, r in top:
                    if shown and shown not in r.why:
                        r.why.append(shown)
                return self._finish([r for _, _, r in top][:k])
        results.sort(key=lambda r: (-r.score, not pool[r.sku].in_stock, pool[r.sku].price, r.sku))
        # Products far below the best match are another kind of thing.
        results = [r for r in results if r.score >= best_kind * 0.5]
        return self._finish(results[:k])

    def _finish(self, results: list[Result]) -> list[Result]:
        for r in results:
            p = self.catalogue.products[r.sku]
            price = f"{p.price:.2f} {p.currency}"
            if price not in r.why:
                r.why.insert(0, price)
        return results

    def _value(self, sku: str, concept: str) -> tuple[float | None, str]:
        """The product's value for a limit's concept (price, a dimension or an attribute
        concept), in base units, with how it reads."""
        p = self.catalogue.products[sku]
        if concept == "price":
            return p.price, f"{p.price:.2f} {p.currency}"
        keys = list(p.attributes)
        of_concept = self.catalogue.keys_of(concept)
        by_concept = [k for k in keys if k in of_concept]
        if not by_concept and concept in _CONCEPT_DIMENSION:
            concept = _CONCEPT_DIMENSION[concept]  # "weight" read from any mass ("weight_g" or "净重")
        for key in by_concept or keys:
            q = self.catalogue.quantity(sku, key)
            if q is None:
                continue
            if by_concept or q.dimension == concept:
                return q.base, f"{' '.join(key_words(key))} {self.catalogue.display(sku, key)}"
        # Sizes are often only in the name ("Kyusu Teapot 300 ml", "充电宝 20000mAh").
        for q in quantities(p.name):
            if q.dimension == concept:
                return q.base, ""
        return None, ""
