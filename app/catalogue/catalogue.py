"""The catalogue as structured data: products with their attributes, read once per index
generation from the product graph, and which of a product's attributes a question asks for.

Attribute names are the shop's own ("width_cm", "容量", "fill_power"). A question matches one
word for word ("what's the fill power"), or through a concept of general shop vocabulary in
``app/data/attribute_words.json`` ("how wide" -> any attribute whose name says width).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import networkx as nx

from shopqa.catalogue.units import Quantity, key_unit, value_quantity
from shopqa.paths import DATA

WORDS_FILE = DATA / "attribute_words.json"
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass
class Product:
    """One catalogue product as the graph stores it."""

    sku: str
    name: str
    category: str
    brand: str
    price: float
    currency: str
    in_stock: bool
    attributes: dict[str, str] = field(default_factory=dict)
    description: str = ""


@dataclass
class Concept:
    """An attribute concept: words of attribute names, and phrases customers ask it with."""

    name: str
    key: list[str]
    ask: list[str]
    parts: list[str] = field(default_factory=list)
    pattern: re.Pattern | None = None

    def __post_init__(self) -> None:
        alternatives = sorted(self.ask, key=len, reverse=True)
        # English phrases match whole words ("hold" is not "household"); Chinese ones anywhere;
        # "..." is a gap of a few words ("where ... made").
        pieces = []
        for a in alternatives:
            parts = [re.escape(p.strip()) for p in a.split("...")]
            body = r".{0,40}?".join(parts)
            pieces.append(body if _CJK.search(a) else rf"\b{body}\b")
        self.pattern = re.compile("|".join(pieces), re.I) if pieces else None


def load_concepts(path: Path = WORDS_FILE) -> dict[str, Concept]:
    """The attribute concepts, by name."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {name: Concept(name, spec["key"], spec["ask"], spec.get("parts", []))
            for name, spec in raw.items() if not name.startswith("_")}


def load_superlatives(path: Path = WORDS_FILE, section: str = "_superlatives") -> dict[str, tuple[str, str]]:
    """Superlative phrases ("lightest", "最便宜") -> (concept or "price", "min" or "max"); with
    ``section="_comparatives"``, the comparatives that refine a search ("cheaper", "大一点")."""
    raw = json.loads(path.read_text(encoding="utf-8")).get(section, {})
    return {phrase: (spec[0], spec[1]) for phrase, spec in raw.items() if not phrase.startswith("_")}


def key_words(key: str) -> list[str]:
    """The words of an attribute name, without its unit ("width_cm" -> ["width"])."""
    parts = [p for p in re.split(r"[_\-\s/()（）]+", key.lower()) if p]
    if len(parts) > 1 and key_unit(key) == parts[-1]:  # "made_in" keeps its "in"
        parts = parts[:-1]
    return parts


def label(key: str) -> str:
    """An attribute name as a customer reads it: "width_cm" -> "width", "fill_power" -> "fill power"."""
    return " ".join(key_words(key)) or key


class Catalogue:
    """Products and attribute matching over one product graph (built once per index generation)."""

    def __init__(self, graph: nx.Graph, tokens: Callable[[str], list[str]], concepts: dict[str, Concept] | None = None):
        self.tokens = tokens
        self.concepts = concepts if concepts is not None else load_concepts()
        self.products: dict[str, Product] = {}
        for node, d in graph.nodes(data=True):
            if d.get("type") != "product":
                continue
            attrs = d.get("attributes")
            if attrs is None:  # an index written before product nodes carried their attributes
                attrs = {graph.nodes[n]["key"]: graph.nodes[n]["value"] for n in graph.neighbors(node)
                         if graph.nodes[n].get("type") == "attribute"}
            self.products[d["sku"]] = Product(d["sku"], d["name"], d["category"], d.get("brand", ""),
                                              float(d["price"]), d["currency"], bool(d["in_stock"]),
                                              {str(k): str(v) for k, v in attrs.items()}, d.get("description", ""))
        # Which concepts each attribute name belongs to, and each name's words as questions are
        # read, decided once per generation.
        self._key_concepts: dict[str, set[str]] = {}
        self._key_tokens: dict[str, list[tuple[str, str | None]]] = {}
        for product in self.products.values():
            for key in product.attributes:
                if key not in self._key_concepts:
                    self._key_concepts[key] = self._concepts_of(key)
                    self._key_tokens[key] = [(w, next(iter(self.tokens(w)), None)) for w in key_words(key)]
        self._concept_keys: dict[str, list[str]] = {}
        for key, names in sorted(self._key_concepts.items()):
            for name in names:
                self._concept_keys.setdefault(name, []).append(key)

    def _concepts_of(self, key: str) -> set[str]:
        words = key_words(key)
        stems = set(self.tokens(" ".join(words))) | set(words)
        out = set()
        for concept in self.concepts.values():
            for k in concept.key:
                if (_CJK.search(k) and k in key) or (not _CJK.search(k) and (
                        k in words or k in stems or k == "_".join(words))):
                    out.add(concept.name)
                    break
        return out

    def asked(self, question: str, sku: str) -> tuple[list[str], str]:
        """The attribute names of ``sku`` that ``question`` asks for, best first, and the
        question with the words that asked for them taken out (for the leftover check)."""
        product = self.products.get(sku)
        if product is None or not product.attributes:
            return [], question
        q_tokens = set(self.tokens(question))
        lowered = question.lower()
        direct, by_concept = [], []
        rest = question
        for key in product.attributes:
            words = self._key_tokens[key]
            cjk = _CJK.search(key)
            if (cjk and key in question) or (not cjk and words and all(
                    w in q_tokens or (first is not None and first in q_tokens) for w, first in words)):
                direct.append(key)
                for w in ([key] if cjk else [w for w, _ in words]):
                    rest = re.sub(re.escape(w), " ", rest, flags=re.I)
        asked_concepts = []
        for concept in self.concepts.values():
            if concept.pattern is not None and concept.pattern.search(lowered):
                asked_concepts.append(concept)
                rest = concept.pattern.sub(" ", rest)
        wanted: list[str] = []
        for concept in asked_concepts:
            wanted.extend(concept.parts or [concept.name])
        for key in product.attributes:
            if key not in direct and self._key_concepts.get(key, set()) & set(wanted):
                by_concept.append(key)
        # The parts of "dimensions" keep the catalogue's order; otherwise direct matches first.
        return direct + by_concept, rest

    def keys_of(self, concept: str) -> list[str]:
        """The catalogue's attribute names that belong to ``concept`` ("weight" -> ["weight_kg"])."""
        return self._concept_keys.get(concept, [])

    def unlisted(self, question: str, sku: str) -> tuple[Concept, str] | None:
        """The attribute concept ``question`` asks about that ``sku`` declares nowhere (no such
        attribute, and its description does not mention it), with the question's words left
        over; None when it asks for none or the product has it."""
        product = self.products.get(sku)
        if product is None:
            return None
        lowered = question.lower()
        for concept in self.concepts.values():
            if concept.pattern is None or not concept.pattern.search(lowered) or concept.parts:
                continue
            if any(concept.name in self._key_concepts.get(k, set()) for k in product.attributes):
                return None
            if self.mentions(concept, product.description):
                return None
            return concept, concept.pattern.sub(" ", question)
        return None

    def mentions(self, concept: Concept, text: str) -> bool:
        """True when ``text`` says something about ``concept`` (its phrases or attribute words)."""
        if concept.pattern is not None and concept.pattern.search(text):
            return True
        words = set(re.findall(r"[a-z]+", text.lower()))
        return any((k in text) if _CJK.search(k) else (k in words) for k in concept.key if "_" not in k)

    def quantity(self, sku: str, key: str) -> Quantity | None:
        """The quantity an attribute states, if it is one ("210" cm, "58g")."""
        value = self.products[sku].attributes.get(key)
        return value_quantity(value, key) if value is not None else None

    def display(self, sku: str, key: str) -> str:
        """An attribute's value with its unit: "210 cm" for ``width_cm`` = 210, "58g" as written."""
        value = self.products[sku].attributes[key]
        unit = key_unit(key)
        if unit and re.fullmatch(r"[\d.,]+", value.strip()):
            return f"{value} {unit}"
        return value
