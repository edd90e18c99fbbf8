"""The product graph has the node and edge types the contract promises."""
from __future__ import annotations

import json

from shopqa.ingest.graph import customer_node, edge_counts
from shopqa.ingest.index import ShopIndex


def test_nodes_and_edges(tiny_index, hash_embedder):
    g = ShopIndex(tiny_index, hash_embedder).graph
    types = {d["type"] for _, d in g.nodes(data=True)}
    assert types == {"product", "category", "brand", "attribute", "customer"}
    # The case names its phone (compatible_with) and the phone lists the case as an accessory:
    # the accessory link is kept, and the case is marked as the item that fits.
    case = g.edges["product:TP-CASE-X200", "product:TP-X200"]
    assert case["type"] == "accessory_of" and case["accessory"] == "TP-CASE-X200" and case["item"] == "TP-CASE-X200"
    # The product node carries its own attributes and description, for catalogue answers.
    assert g.nodes["product:TP-CHG-30"]["attributes"]["wattage"] == "30W"
    assert g.nodes["product:TP-CHG-30"]["description"]
    assert not g.has_edge("product:TP-CASE-X200", "product:TP-X300")
    acc = g.edges["product:TP-X200", "product:TP-CHG-30"]
    assert acc["type"] == "accessory_of" and acc["accessory"] == "TP-CHG-30" and acc["main"] == "TP-X200"
    assert g.edges["product:TP-X200", "category:Phones"]["type"] == "in_category"
    assert g.edges["product:TP-CHG-30", "brand:Volt"]["type"] == "made_by"
    assert g.edges["product:TP-CHG-30", "attr:wattage=30W"]["type"] == "has_attribute"
    assert g.nodes["product:TP-CASE-X300"]["in_stock"] is False and g.nodes["product:TP-X300"]["price"] == 449.0


def test_purchases_and_bought_together(tiny_index, hash_embedder):
    g = ShopIndex(tiny_index, hash_embedder).graph
    bob = customer_node("Bob@Example.com ")
    assert g.edges[bob, "product:TP-X300"]["type"] == "bought"
    assert g.edges[bob, "product:TP-X200"]["weight"] == 1
    # TP-X300 and TP-CHG-30 are in two orders; they are also linked as accessory, so the count rides along.
    assert g.edges["product:TP-X300", "product:TP-CHG-30"]["bought_together"] == 2
    assert g.edges["product:TP-CASE-X300", "product:TP-CHG-30"] == {"type": "bought_together", "weight": 1}
    counts = edge_counts(g)
    assert {"in_category", "made_by", "has_attribute", "accessory_of", "bought",
            "bought_together"} <= set(counts)


def test_graph_file_holds_no_email(tiny_index):
    gen = json.loads((tiny_index / "manifest.json").read_text())["generation"]
    text = (tiny_index / gen / "graph.json").read_text()
    assert "example.com" not in text and '"edges"' in text


def test_orders_and_products_in_store(tiny_index, hash_embedder):
    idx = ShopIndex(tiny_index, hash_embedder)
    row = idx.db().execute("SELECT status, items, email FROM orders WHERE order_id='T-1002'").fetchone()
    assert row["status"] == "pending" and json.loads(row["items"]) == ["TP-X300", "TP-CHG-30"]
    assert idx.product("TP-X300")["price"] == 449.0 and idx.product("NOPE") is None
    # Orders are never embedded.
    assert idx.db().execute("SELECT count(*) FROM units WHERE type='order'").fetchone()[0] == 0
