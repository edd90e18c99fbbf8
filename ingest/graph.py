"""The product graph: products, categories, brands, attribute values and customers, as networkx."""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from itertools import combinations
from pathlib import Path
from typing import Iterable

import networkx as nx

from .records import SourceRecord


def customer_node(email: str) -> str:
    """Customers are nodes by a hash of their email, so the graph file holds no PII."""
    return "customer:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def build(records: Iterable[SourceRecord]) -> nx.Graph:
    """Build the graph from product and order records.

    Edges: in_category, made_by, has_attribute, compatible_with, accessory_of,
    bought (customer -> product, weight = times) and bought_together (weight = co-purchases).
    """
    g = nx.Graph()
    records = list(records)
    _add_products(g, records)
    _link_products(g, records)
    _add_purchases(g, records)
    return g


def _add_products(g: nx.Graph, records: list[SourceRecord]) -> None:
    """Products with their category, brand and attribute-value nodes."""
    for rec in records:
        if rec.type != "product":
            continue
        p = rec.data
        node = f"product:{p['sku']}"
        g.add_node(node, type="product", sku=p["sku"], name=p["name"], price=p["price"], currency=p["currency"],
                   in_stock=p["in_stock"], category=p["category"], brand=p["brand"],
                   # the catalogue's own words, for attribute answers and product search
                   attributes=dict(p["attributes"]), description=p["description"])
        g.add_node(f"category:{p['category']}", type="category", name=p["category"])
        g.add_edge(node, f"category:{p['category']}", type="in_category")
        g.add_node(f"brand:{p['brand']}", type="brand", name=p["brand"])
        g.add_edge(node, f"brand:{p['brand']}", type="made_by")
        for key, value in p["attributes"].items():
            attr = f"attr:{key}={value}"
            g.add_node(attr, type="attribute", key=key, value=value)
            g.add_edge(node, attr, type="has_attribute")


def _link_products(g: nx.Graph, records: list[SourceRecord]) -> None:
    """The links the catalogue declares between products: compatible_with and accessory_of."""
    for rec in records:
        if rec.type != "product":
            continue
        node = f"product:{rec.data['sku']}"
        for other in rec.data["compatible_with"]:
            # item: the product that declared the link, the one that fits the other (a refill
            # names its bottle); lookups stay symmetric, resolution uses the direction.
            if g.has_edge(node, f"product:{other}") and g.edges[node, f"product:{other}"]["type"] == "accessory_of":
                g.edges[node, f"product:{other}"]["item"] = rec.data["sku"]  # the accessory link says more
                continue
            g.add_edge(node, f"product:{other}", type="compatible_with", item=rec.data["sku"])
        for other in rec.data["accessories"]:
            # accessory_of points from the accessory to the main product; kept as an attribute
            # because the graph is undirected (relations are looked up from either side).
            g.add_edge(f"product:{other}", node, type="accessory_of", accessory=other, main=rec.data["sku"])


def _add_purchases(g: nx.Graph, records: list[SourceRecord]) -> None:
    """Customers, what they bought, and which products were bought together (cancelled orders left out)."""
    together: Counter[tuple[str, str]] = Counter()
    for rec in records:
        if rec.type != "order" or rec.data["status"] == "cancelled":
            continue
        cust = customer_node(rec.data["email"])
        g.add_node(cust, type="customer")
        skus = [s for s in rec.data["items"] if g.has_node(f"product:{s}")]
        for sku, count in Counter(skus).items():
            node = f"product:{sku}"
            if g.has_edge(cust, node):
                g[cust][node]["weight"] += count
            else:
                g.add_edge(cust, node, type="bought", weight=count)
        for a, b in combinations(sorted(set(skus)), 2):
            together[(a, b)] += 1
    for (a, b), count in together.items():
        u, v = f"product:{a}", f"product:{b}"
        if not g.has_edge(u, v):  # a stronger relation (compatible/accessory) already links them
            g.add_edge(u, v, type="bought_together", weight=count)
        else:
            g[u][v]["bought_together"] = count


def save(g: nx.Graph, path: Path) -> None:
    """Write node-link JSON."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(nx.node_link_data(g, edges="edges"), fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())


def load(path: Path) -> nx.Graph:
    """Read a graph written by ``save``."""
    with open(path, encoding="utf-8") as fh:
        return nx.node_link_graph(json.load(fh), edges="edges")


def loads(data: str) -> nx.Graph:
    """A graph from the text ``save`` writes."""
    return nx.node_link_graph(json.loads(data), edges="edges")


def edge_counts(g: nx.Graph) -> dict[str, int]:
    """How many edges of each type, for the summary and tests."""
    return dict(Counter(d["type"] for _, _, d in g.edges(data=True)))
