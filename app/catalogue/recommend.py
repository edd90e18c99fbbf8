"""Product recommendations from the graph: accessories, similar items, bought together, personal.

Every list puts in-stock products first (an out-of-stock product is never the first
suggestion) and carries each product's price and stock from the catalogue, so the answer
states catalogue facts only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import networkx as nx

from shopqa.ingest.graph import customer_node

from shopqa.catalogue import links

# How much each kind of evidence counts when suggestions are merged.
WEIGHTS = {"accessory": 3.0, "bought_together": 2.0, "personal": 1.5, "similar": 1.0, "search": 1.0}


@dataclass
class Suggestion:
    """One recommended product and why."""

    sku: str
    name: str
    price: float
    currency: str
    in_stock: bool
    category: str
    reason: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        """JSON shape for answers."""
        return {"sku": self.sku, "name": self.name, "price": self.price, "currency": self.currency,
                "in_stock": self.in_stock, "category": self.category, "reason": self.reason,
                "score": round(self.score, 4)}


class Recommender:
    """Recommendations over one product graph."""

    def __init__(self, graph: nx.Graph):
        self.graph = graph

    def _suggestion(self, sku: str, reason: str, score: float) -> Suggestion:
        d = self.graph.nodes[f"product:{sku}"]
        return Suggestion(sku, d["name"], float(d["price"]), d["currency"], bool(d["in_stock"]), d["category"],
                          reason, score)

    def _is_product(self, sku: str) -> bool:
        return self.graph.nodes.get(f"product:{sku}", {}).get("type") == "product"

    def accessories(self, sku: str) -> list[Suggestion]:
        """Accessories and compatible items of ``sku``."""
        return [self._suggestion(s, "accessory", 1.0) for s in links.fits_reverse(self.graph, sku)]

    def bought_together(self, sku: str) -> list[Suggestion]:
        """Products bought in the same orders as ``sku``, most often first."""
        node = f"product:{sku}"
        if node not in self.graph:
            return []
        out = []
        for other in self.graph.neighbors(node):
            edge = self.graph.edges[node, other]
            count = edge.get("weight", 0) if edge["type"] == "bought_together" else edge.get("bought_together", 0)
            if count and self.graph.nodes[other].get("type") == "product":
                out.append(self._suggestion(self.graph.nodes[other]["sku"], "bought_together", float(count)))
        return sorted(out, key=lambda s: -s.score)

    def similar(self, sku: str, k: int = 5) -> list[Suggestion]:
        """Products of the same category, ranked by shared attributes and brand (Jaccard)."""
        node = f"product:{sku}"
        if node not in self.graph:
            return []
        mine = {n for n in self.graph.neighbors(node) if self.graph.nodes[n].get("type") in ("attribute", "brand")}
        category = self.graph.nodes[node]["category"]
        out = []
        for other in self.graph.neighbors(f"category:{category}"):
            if other == node or self.graph.nodes[other].get("type") != "product":
                continue
            theirs = {n for n in self.graph.neighbors(other)
                      if self.graph.nodes[n].get("type") in ("attribute", "brand")}
            union = mine | theirs
            out.append(self._suggestion(self.graph.nodes[other]["sku"], "similar",
                                        len(mine & theirs) / len(union) if union else 0.0))
        return sorted(out, key=lambda s: -s.score)[:k]

    def personalised(self, email: str, k: int = 5) -> list[Suggestion]:
        """Personalised PageRank from the customer's purchases, excluding what they already bought."""
        cust = customer_node(email)
        if cust not in self.graph:
            return []
        bought = {self.graph.nodes[n]["sku"] for n in self.graph.neighbors(cust)}
        ranks = nx.pagerank(self.graph, personalization={cust: 1.0}, weight="weight")
        out = [self._suggestion(d["sku"], "personal", ranks[n]) for n, d in self.graph.nodes(data=True)
               if d.get("type") == "product" and d["sku"] not in bought]
        return sorted(out, key=lambda s: -s.score)[:k]

    def recommend(self, skus: Iterable[str] = (), email: str | None = None, search: Iterable[str] = (),
                  category: str | None = None, k: int = 5) -> list[Suggestion]:
        """Merged suggestions for the named products, the customer and the search hits; in stock first."""
        skus = [s for s in skus if self._is_product(s)]
        scores: dict[str, float] = {}
        reasons: dict[str, str] = {}

        def add(items: list[Suggestion]) -> None:
            top = max((s.score for s in items), default=0.0) or 1.0
            for s in items:
                if s.sku in skus:
                    continue
                gain = WEIGHTS[s.reason] * (0.5 + 0.5 * s.score / top)  # rank within a kind matters less than kind
                if gain > scores.get(s.sku, 0.0):
                    reasons[s.sku] = s.reason
                scores[s.sku] = scores.get(s.sku, 0.0) + gain

        for sku in skus:
            add(self.accessories(sku))
            add(self.bought_together(sku))
            add(self.similar(sku))
        if email:
            add(self.personalised(email))
        found = [s for s in search if self._is_product(s)]
        add([self._suggestion(s, "search", 1.0 / (i + 1)) for i, s in enumerate(found)])
        merged = [self._suggestion(s, reasons[s], score) for s, score in scores.items()]
        if category:
            wanted = [s for s in merged if s.category == category]
            merged = wanted or merged
        merged.sort(key=lambda s: (not s.in_stock, -s.score, s.sku))
        return merged[:k]
