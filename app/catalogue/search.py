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
from dataclasses import dataclass

import networkx as nx

from shopqa.ingest.tokenize import _EN_STOP

from shopqa.catalogue import links, products
from shopqa.catalogue.products import _FILLER, _QUESTION_WORDS, ProductMatcher
from shopqa.catalogue.catalogue import Catalogue, Product, key_words, load_superlatives
from shopqa.catalogue.search_request import (_ACCESSORY, _OPERATORS, _SOMETHING, _VAGUE, IN_STOCK, Limit, Request,
                                             read_limits)
from shopqa.catalogue.units import UNITS, quantities

# The dimension a concept is measured in, for catalogues whose attribute names the concept
# table does not know.
_CONCEPT_DIMENSION = {"weight": "mass", "capacity": "volume", "runtime": "time", "power": "power",
                      "width": "length", "height": "length", "length": "length", "depth": "length"}


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
        limits, rest = read_limits(text)
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
        pool = self._pool(request, kind_asked)
        results = [r for r in (self._result(sku, p, request, kind_asked, described) for sku, p in pool.items())
                   if r is not None]
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

    def _pool(self, request: Request, kind_asked: list[str]) -> dict[str, Product]:
        """The products a request can find: those that fit the product it names, then those
        of the kind it names."""
        pool = self.catalogue.products
        if request.fits:
            pool = {s: pool[s] for s in links.fits_reverse(self.graph, request.fits) if s in pool}
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
        return pool

    def _result(self, sku: str, p: Product, request: Request, kind_asked: list[str], described: bool
                ) -> Result | None:
        """``sku`` scored against the request, with why it matches; None when it is not of the
        kind asked, its description says too little of the request, or it fails a limit."""
        kind = sum(self.idf.get(w, 0.0) for w in request.words if w in self.kind[sku])
        if kind_asked and kind == 0.0:
            return None
        like = sum(self.idf.get(w, 0.0) for w in request.words if w in self.like[sku])
        if described and like < 0.6 * sum(self.idf.get(w, 0.0) for w in request.words):
            # No kind named ("something to boil water on a camping trip"): the product's
            # own description and attributes must say most of what was asked.
            return None
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
            return None
        # The attributes the request's words describe ("velvet" -> material), at most two.
        for key, tokens in self.attribute_tokens[sku]:
            if len(why) < 3 and tokens & set(request.words) - self.names[sku]:
                shown = f"{' '.join(key_words(key))} {self.catalogue.display(sku, key)}"
                if shown not in why:
                    why.append(shown)
        return Result(sku, kind * 2 + like + closeness, why)

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
