"""What an order is to the order tools, and the interface a shop platform implements.

``OrderStore`` is what the order flow (app/ordering/order_flow.py) needs: ``SqlOrderStore``
(app/ordering/orders.py) implements it over the ingested orders; a shop platform's API
(Shopify, WooCommerce, ...) could implement it instead.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

CANCELLABLE = ("pending", "processing")  # not shipped yet
ADDRESS_CHANGEABLE = ("pending", "processing")
MAX_FAILURES = 5  # failed verifications per session before it is locked
MIN_ADDRESS_CHARS = 8  # a shorter "address" cannot be a full one


class OrderError(Exception):
    """An order action that is not allowed (e.g. cancelling a shipped order).

    The message is for logs and staff; ``code`` says why, so that callers can tell the customer
    in their own words and language (``unknown_order``, ``not_cancellable``,
    ``not_changeable``, ``address_too_short``, ``locked``). Never show ``str(exc)`` to customers.
    """

    def __init__(self, message: str, code: str = "not_allowed"):
        super().__init__(message)
        self.code = code


@dataclass
class Order:
    """One order as the tools see it."""

    order_id: str
    email: str
    status: str
    placed_at: str
    items: list[str] = field(default_factory=list)
    shipped_at: str = ""
    carrier: str = ""
    tracking: str = ""
    address: str = ""
    total: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for logs of staff tools; never sent before verification)."""
        return asdict(self)


def normalise_id(order_id: str) -> str:
    """Order ids compare without case, spaces or a leading '#'."""
    return re.sub(r"\s+", "", str(order_id)).lstrip("#").upper()


def shape(code: str) -> str:
    """The shape of a code: letters become A and digits 9 (LM-100231 -> AA-999999)."""
    return re.sub(r"\d", "9", re.sub(r"[A-Za-z]", "A", normalise_id(code)))


class OrderStore(Protocol):
    """What the order tools (app/ordering/order_flow.py) need from a shop platform: SqlOrderStore
    implements it over the ingested orders; a platform's API could implement it instead."""

    max_failures: int  # failed verifications before a session is locked

    def id_shapes(self) -> set[str]: ...

    def get(self, order_id: str) -> Order | None: ...

    def failures(self, session_id: str) -> int: ...

    def verify(self, session_id: str, order_id: str, email: str) -> Order | None: ...

    def locked(self, session_id: str) -> bool: ...

    def cancel(self, session_id: str, order_id: str) -> Order: ...

    def change_address(self, session_id: str, order_id: str, address: str) -> Order: ...

    def orders_for(self, email: str) -> list[Order]: ...
