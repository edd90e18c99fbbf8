"""A catalogue answer as returned to the assistant, and the product wording its kinds share:
whether a product is in stock, and a product with its SKU, price and stock."""
from __future__ import annotations

from dataclasses import dataclass, field

from shopqa.catalogue.catalogue import Catalogue


@dataclass
class CatalogueReply:
    """A catalogue answer: its text, the products it cites (in order) and its kind."""

    text: str
    skus: list[str]
    kind: str
    details: dict = field(default_factory=dict)


def stock_status(prompts, in_stock: bool, lang: str) -> str:
    """The prompts' words for a product in stock or out of stock."""
    return prompts.message("in_stock" if in_stock else "out_of_stock", lang)


def stock_note(catalogue: Catalogue, prompts, sku: str, lang: str) -> str:
    """A product with its SKU, price and stock: "Name (SKU, 9.00 GBP, in stock)"."""
    p = catalogue.products[sku]
    if lang == "zh":
        return f"{p.name}（{sku}，{p.price:.2f} {p.currency}，{stock_status(prompts, p.in_stock, lang)}）"
    return f"{p.name} ({sku}, {p.price:.2f} {p.currency}, {stock_status(prompts, p.in_stock, lang)})"
