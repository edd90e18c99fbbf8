"""How the product graph links products: which fit which (compatible_with, accessory_of
edges), in either direction, and what else of a kind fits a product."""
from __future__ import annotations

import networkx as nx


def compatible(graph: nx.Graph, a: str, b: str) -> bool:
    """True when the catalogue links the two products as compatible or as accessory and product."""
    u, v = f"product:{a}", f"product:{b}"
    return graph.has_edge(u, v) and graph.edges[u, v]["type"] in ("compatible_with", "accessory_of")


def _edges(graph: nx.Graph, sku: str):
    """``(other sku, edge data)`` for each product linked to ``sku``."""
    node = f"product:{sku}"
    if node not in graph:
        return
    for other in graph.neighbors(node):
        other_sku = graph.nodes[other].get("sku")
        if other_sku:
            yield other_sku, graph.edges[node, other]


def _linked(graph: nx.Graph, sku: str, accessory_side: bool) -> list[str]:
    """Products linked to ``sku`` by compatible_with, or by accessory_of with ``sku`` as the
    accessory (``accessory_side``) or as the main product (not ``accessory_side``)."""
    return sorted(other for other, edge in _edges(graph, sku)
                  if edge["type"] == "compatible_with" or (
                      edge["type"] == "accessory_of" and edge.get("accessory") == (sku if accessory_side else other)))


def accessory_of(graph: nx.Graph, sku: str) -> list[str]:
    """The products ``sku`` is declared an accessory of, or declared compatible with by its own
    catalogue row (a refill naming its bottle), not the other way round."""
    return sorted(other for other, edge in _edges(graph, sku)
                  if edge["type"] in ("accessory_of", "compatible_with") and sku in (edge.get("accessory"), edge.get("item")))


def fits(graph: nx.Graph, sku: str) -> list[str]:
    """SKUs that ``sku`` is compatible with (or an accessory of)."""
    return _linked(graph, sku, accessory_side=True)


def compatible_alternatives(graph: nx.Graph, target: str, like: str) -> list[str]:
    """Products in the same category as ``like`` that are compatible with ``target``, in stock first."""
    category = graph.nodes[f"product:{like}"]["category"]
    out = [s for s in fits_reverse(graph, target) if graph.nodes[f"product:{s}"]["category"] == category]
    return sorted(out, key=lambda s: (not graph.nodes[f"product:{s}"]["in_stock"], s))


def fits_reverse(graph: nx.Graph, sku: str) -> list[str]:
    """SKUs compatible with ``sku`` (accessories pointing at it, or compatible_with links)."""
    return _linked(graph, sku, accessory_side=False)
