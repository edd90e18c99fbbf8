"""The order store behind the order tools: status, cancel, address change, all logged.

Orders arrive in the shop folder's orders files and are copied into each index generation,
which is rebuilt by every ingest. Actions taken here (a cancellation, a new address) must
survive that, so the store the tools use is a separate SQLite file in ``data_dir``: ``sync``
adds new orders and takes the file's version of an order only when the file's row for it
has changed since the last sync (the shop's own system then knows better); otherwise a local
change stays.

``OrderStore`` is the interface a real shop platform (Shopify, WooCommerce, ...) would
implement; ``SQLiteOrderStore`` is the built-in one.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol

from shopqa.sqlite_local import ThreadLocalConnection

log = logging.getLogger("shopqa.orders")

CANCELLABLE = ("pending", "processing")  # not shipped yet
ADDRESS_CHANGEABLE = ("pending", "processing")
MAX_FAILURES = 5  # failed verifications per session before it is locked
MIN_ADDRESS_CHARS = 8  # a shorter "address" cannot be a full one

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, email TEXT NOT NULL, status TEXT NOT NULL, placed_at TEXT NOT NULL,
    shipped_at TEXT, carrier TEXT, tracking TEXT, address TEXT, total REAL, items TEXT NOT NULL,
    source TEXT NOT NULL, file_hash TEXT NOT NULL, modified_locally REAL
);
CREATE TABLE IF NOT EXISTS order_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, session_id TEXT, order_id TEXT,
    action TEXT NOT NULL, ok INTEGER NOT NULL, detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS verification (
    session_id TEXT PRIMARY KEY, failures INTEGER NOT NULL, locked_at REAL
);
"""


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
    """What the order tools (app/ordering/order_flow.py) need from a shop platform: SQLiteOrderStore
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


class SQLiteOrderStore:
    """The built-in order store (SQLite, WAL) in ``data_dir/orders.sqlite``."""

    def __init__(self, path: Path, max_failures: int = MAX_FAILURES):
        if max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_failures = max_failures
        self._conn = ThreadLocalConnection(self.path)
        with self._conn() as conn:
            conn.executescript(SCHEMA)


    # -- loading ----------------------------------------------------------------------------
    def sync(self, orders: Iterable[dict[str, Any]]) -> dict[str, int]:
        """Merge orders from the shop's files; returns counts of added, updated and kept rows."""
        counts = {"added": 0, "updated": 0, "kept": 0}
        with self._conn() as conn:
            for o in orders:
                oid = normalise_id(o["order_id"])
                items = o["items"] if isinstance(o["items"], list) else json.loads(o["items"])
                values = (o["email"].strip().lower(), o["status"], o["placed_at"], o.get("shipped_at") or "",
                          o.get("carrier") or "", o.get("tracking") or "", o.get("address") or "", o.get("total"),
                          json.dumps(items, ensure_ascii=False), o.get("source") or "")
                digest = hashlib.sha1(json.dumps(values, ensure_ascii=False).encode()).hexdigest()
                row = conn.execute("SELECT file_hash FROM orders WHERE order_id = ?", (oid,)).fetchone()
                if row is None:
                    conn.execute("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                                 (oid, *values, digest))
                    counts["added"] += 1
                elif row["file_hash"] != digest:
                    conn.execute("UPDATE orders SET email=?, status=?, placed_at=?, shipped_at=?, carrier=?, tracking=?, "
                                 "address=?, total=?, items=?, source=?, file_hash=?, modified_locally=NULL "
                                 "WHERE order_id=?", (*values, digest, oid))
                    counts["updated"] += 1
                else:
                    counts["kept"] += 1
        return counts

    def sync_from_index(self, db: sqlite3.Connection) -> dict[str, int]:
        """Merge the orders an index generation holds (its ``orders`` table)."""
        rows = db.execute("SELECT order_id, email, status, placed_at, shipped_at, carrier, tracking, address, "
                          "total, items, source FROM orders").fetchall()
        return self.sync(dict(zip(("order_id", "email", "status", "placed_at", "shipped_at", "carrier", "tracking",
                                   "address", "total", "items", "source"), tuple(r))) for r in rows)

    # -- reading ----------------------------------------------------------------------------
    def get(self, order_id: str) -> Order | None:
        """The order (for the tools after verification, and for staff); None if unknown."""
        row = self._conn().execute("SELECT * FROM orders WHERE order_id = ?", (normalise_id(order_id),)).fetchone()
        if row is None:
            return None
        return Order(row["order_id"], row["email"], row["status"], row["placed_at"], json.loads(row["items"]),
                     row["shipped_at"] or "", row["carrier"] or "", row["tracking"] or "", row["address"] or "",
                     row["total"])

    def id_shapes(self) -> set[str]:
        """Shapes of the known order ids (letters as A, digits as 9), to tell them from SKUs."""
        return {shape(r[0]) for r in self._conn().execute("SELECT DISTINCT order_id FROM orders")}

    def orders_for(self, email: str) -> list[Order]:
        """All orders placed with ``email`` (after verification only)."""
        ids = [r[0] for r in self._conn().execute("SELECT order_id FROM orders WHERE email = ? ORDER BY placed_at",
                                                   (email.strip().lower(),))]
        return [o for o in (self.get(i) for i in ids) if o]

    # -- verification ----------------------------------------------------------------------
    def locked(self, session_id: str) -> bool:
        """True when the session used up its verification attempts."""
        row = self._conn().execute("SELECT locked_at FROM verification WHERE session_id = ?", (session_id,)).fetchone()
        return bool(row and row["locked_at"])

    def failures(self, session_id: str) -> int:
        """Failed verifications so far in this session."""
        row = self._conn().execute("SELECT failures FROM verification WHERE session_id = ?", (session_id,)).fetchone()
        return int(row["failures"]) if row else 0

    def verify(self, session_id: str, order_id: str, email: str) -> Order | None:
        """The order if ``email`` is the one on it; a failure counts against the session.

        A wrong email and an unknown order id fail the same way, so a caller cannot probe
        which order ids exist.
        """
        if self.locked(session_id):
            raise OrderError("verification is locked for this session", "locked")
        order = self.get(order_id)
        ok = order is not None and order.email == email.strip().lower()
        self._log(session_id, normalise_id(order_id), "verify", ok, "" if ok else "order id and email do not match")
        if ok:
            return order
        with self._conn() as conn:
            conn.execute("INSERT INTO verification (session_id, failures) VALUES (?, 1) "
                         "ON CONFLICT(session_id) DO UPDATE SET failures = failures + 1", (session_id,))
            failures = self.failures(session_id)
            if failures >= self.max_failures:
                conn.execute("UPDATE verification SET locked_at = ? WHERE session_id = ?", (time.time(), session_id))
                # A risk-control signal: someone may be guessing order ids or emails.
                log.warning("risk: session %s locked after %d failed order verifications", session_id, failures)
                self._log(session_id, normalise_id(order_id), "lockout", True, f"{failures} failed verifications")
        return None

    # -- actions ----------------------------------------------------------------------------
    def cancel(self, session_id: str, order_id: str) -> Order:
        """Cancel an order that has not shipped; raises OrderError otherwise."""
        order = self._require(order_id)
        if order.status not in CANCELLABLE:
            self._log(session_id, order.order_id, "cancel", False, f"status is {order.status}")
            raise OrderError(f"order {order.order_id} is {order.status} and can no longer be cancelled", "not_cancellable")
        with self._conn() as conn:
            conn.execute("UPDATE orders SET status = 'cancelled', modified_locally = ? WHERE order_id = ?",
                         (time.time(), order.order_id))
        self._log(session_id, order.order_id, "cancel", True, f"was {order.status}")
        return self._require(order_id)

    def change_address(self, session_id: str, order_id: str, address: str) -> Order:
        """Change the shipping address before the order ships; raises OrderError otherwise."""
        address = " ".join(address.split())
        order = self._require(order_id)
        if len(address) < MIN_ADDRESS_CHARS:
            self._log(session_id, order.order_id, "change_address", False, "new address too short")
            raise OrderError("the new address is too short to be a full address", "address_too_short")
        if order.status not in ADDRESS_CHANGEABLE:
            self._log(session_id, order.order_id, "change_address", False, f"status is {order.status}")
            raise OrderError(f"order {order.order_id} is {order.status}; its address can no longer be changed",
                             "not_changeable")
        with self._conn() as conn:
            conn.execute("UPDATE orders SET address = ?, modified_locally = ? WHERE order_id = ?",
                         (address, time.time(), order.order_id))
        self._log(session_id, order.order_id, "change_address", True, "address changed")
        return self._require(order_id)

    def actions(self, order_id: str | None = None, session_id: str | None = None) -> list[dict[str, Any]]:
        """The action log, oldest first, optionally for one order or session."""
        sql, args = "SELECT * FROM order_actions WHERE 1=1", []
        if order_id:
            sql, args = sql + " AND order_id = ?", [*args, normalise_id(order_id)]
        if session_id:
            sql, args = sql + " AND session_id = ?", [*args, session_id]
        return [dict(r) for r in self._conn().execute(sql + " ORDER BY id", args)]

    def _require(self, order_id: str) -> Order:
        order = self.get(order_id)
        if order is None:
            raise OrderError(f"no order {normalise_id(order_id)}", "unknown_order")
        return order

    def _log(self, session_id: str | None, order_id: str | None, action: str, ok: bool, detail: str) -> None:
        with self._conn() as conn:
            conn.execute("INSERT INTO order_actions (at, session_id, order_id, action, ok, detail) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (time.time(), session_id, order_id, action, int(ok), detail))
        log.info("order action %s order=%s ok=%s session=%s", action, order_id, ok, session_id)
