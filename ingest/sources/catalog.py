"""Products from .csv (``attr_*`` columns, ``;`` lists) or .jsonl; each gets a retrievable text card."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..records import Problem, SourceRecord, Unit
from .tabular import as_bool, as_list, complete_rows

EXTENSIONS = (".csv", ".jsonl")
REQUIRED = ("sku", "name", "category", "brand", "price", "currency", "description")


def _text(value: Any) -> str:
    """An attribute value as a customer reads it: lists joined ("normal, oily", not Python's
    "['normal', 'oily']"), booleans as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    return str(value)


def _attributes(row: dict[str, Any]) -> dict[str, str]:
    attrs: dict[str, str] = {}
    raw = row.get("attributes")
    if isinstance(raw, str) and raw.strip():
        raw = json.loads(raw)  # a JSON object inside a CSV cell; errors are reported by the caller
    if isinstance(raw, dict):
        attrs.update({str(k): _text(v) for k, v in raw.items() if v not in (None, "", [])})
    elif raw not in (None, ""):
        raise ValueError("'attributes' must be a JSON object")
    for key, value in row.items():
        if key.startswith("attr_") and str(value).strip():
            attrs[key[5:]] = str(value).strip()
    return attrs


def card(p: dict[str, Any]) -> str:
    """The product's text card: what retrieval and the LLM see about it."""
    stock = "in stock" if p["in_stock"] else "out of stock"
    lines = [f"{p['name']} (SKU {p['sku']})", f"Brand: {p['brand']}. Category: {p['category']}.",
             f"Price: {p['price']:.2f} {p['currency']} ({stock})."]
    if p["attributes"]:
        lines.append("Attributes: " + "; ".join(f"{k}: {v}" for k, v in sorted(p["attributes"].items())) + ".")
    lines.append(p["description"])
    if p["compatible_with"]:
        lines.append("Compatible with: " + ", ".join(p["compatible_with"]) + ".")
    if p["accessories"]:
        lines.append("Accessories: " + ", ".join(p["accessories"]) + ".")
    return "\n".join(lines)


def parse(path: Path, rel: str, text: str, chunk_tokens: int) -> tuple[list[SourceRecord], list[Problem]]:
    """One record per product, keyed by SKU (duplicate SKUs are reported by the scanner)."""
    problems: list[Problem] = []
    records: list[SourceRecord] = []
    for line, row in complete_rows(text, rel, path.suffix.lower(), REQUIRED, problems):
        try:
            price = float(str(row["price"]).replace(",", ""))
            if price < 0:
                raise ValueError
        except ValueError:
            problems.append(Problem(rel, line, f"price {row['price']!r} is not a non-negative number; skipped"))
            continue
        try:
            attributes = _attributes(row)
        except (ValueError, json.JSONDecodeError) as exc:
            problems.append(Problem(rel, line, f"bad attributes ({exc}); use a JSON object; skipped"))
            continue
        in_stock = as_bool(row.get("in_stock", True)) if row.get("in_stock") not in (None, "") else True
        if in_stock is None:
            problems.append(Problem(rel, line, f"in_stock {row['in_stock']!r} is not true/false; assumed true"))
            in_stock = True
        product = {
            "sku": str(row["sku"]).strip(), "name": str(row["name"]).strip(),
            "category": str(row["category"]).strip(), "brand": str(row["brand"]).strip(),
            "price": price, "currency": str(row["currency"]).strip().upper(),
            "description": str(row["description"]).strip(), "in_stock": in_stock,
            "attributes": attributes,
            "compatible_with": as_list(row.get("compatible_with")),
            "accessories": as_list(row.get("accessories")),
        }
        unit = Unit(text=card(product), title=product["name"], lang="en", meta={"sku": product["sku"]})
        records.append(SourceRecord(key=f"product:{product['sku']}", type="product", source=rel, line=line,
                                    units=[unit], data=product))
    return records, problems
