"""The order store behind the order tools: status, cancel, address change, all logged.

Orders arrive in the shop folder's orders files and are copied into each index generation,
which is rebuilt by every ingest. Actions taken here (a cancellation, a new address) must
survive that, so the store the tools use is separate: a SQLite file in ``data_dir``, or the
shared Postgres database. ``sync`` adds new orders and takes the file's version of an order
only when the file's row for it has changed since the last sync (the shop's own system then
knows better); otherwise a local change stays.

Actions are idempotent. Each change of an order carries a key made of the action, the order,
the target value and the order's version before the change; the action log holds each key once.
Two identical requests in flight (a double click, a retry through another replica) therefore
apply once: the second finds its key taken and reports the order as it now is.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import Column, Engine, Float, Integer, MetaData, Table, Text
from sqlalchemy import text as sql

from shopqa.ordering.order_records import (ADDRESS_CHANGEABLE, CANCELLABLE, MAX_FAILURES, MIN_ADDRESS_CHARS, Order,
                                           OrderError, normalise_id, shape)
from shopqa.storage.engine import add_missing_columns, fetch_all, is_postgres, store_engine

log = logging.getLogger("shopqa.orders")

META = MetaData()
ORDERS = Table(
    "orders", META, Column("order_id", Text, primary_key=True), Column("email", Text, nullable=False),
    Column("status", Text, nullable=False), Column("placed_at", Text, nullable=False), Column("shipped_at", Text),
    Column("carrier", Text), Column("tracking", Text), Column("address", Text), Column("total", Float),
    Column("items", Text, nullable=False), Column("source", Text, nullable=False),
    Column("file_hash", Text, nullable=False), Column("modified_locally", Float),
    Column("version", Integer, nullable=False, server_default="0"))
ACTIONS = Table(
    "order_actions", META, Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False), Column("session_id", Text), Column("order_id", Text),
    Column("action", Text, nullable=False), Column("ok", Integer, nullable=False), Column("detail", Text, nullable=False),
    Column("action_key", Text, unique=True))
VERIFICATION = Table("verification", META, Column("session_id", Text, primary_key=True),
                     Column("failures", Integer, nullable=False), Column("locked_at", Float))
# Columns added after the first release; added to older SQLite files on open.
LATER_COLUMNS = {"orders": {"version": "INTEGER NOT NULL DEFAULT 0"}, "order_actions": {"action_key": "TEXT"}}
LATER_INDEXES = {"action_key": "CREATE UNIQUE INDEX IF NOT EXISTS order_actions_key ON order_actions(action_key)"}
FIELDS = ("order_id", "email", "status", "placed_at", "shipped_at", "carrier", "tracking", "address", "total", "items",
          "source")


class SqlOrderStore:
    """The built-in order store: a SQLite file (``path``, WAL) or a shared database (``engine``)."""

    def __init__(self, path: Path | None = None, max_failures: int = MAX_FAILURES, engine: Engine | None = None):
        if max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        self.engine = store_engine(path, engine, META)
        self.path = Path(path) if path is not None else None
        self.max_failures = max_failures
        if not is_postgres(self.engine):
            for table, columns in LATER_COLUMNS.items():
                add_missing_columns(self.engine, table, columns, also=LATER_INDEXES)

    def _rows(self, query: str, **params) -> list[dict[str, Any]]:
        return fetch_all(self.engine, query, **params)

    # -- loading ----------------------------------------------------------------------------
    def sync(self, orders: Iterable[dict[str, Any]]) -> dict[str, int]:
        """Merge orders from the shop's files; returns counts of added, updated and kept rows."""
        counts = {"added": 0, "updated": 0, "kept": 0}
        with self.engine.begin() as conn:
            for o in orders:
                oid = normalise_id(o["order_id"])
                items = o["items"] if isinstance(o["items"], list) else json.loads(o["items"])
                values = (o["email"].strip().lower(), o["status"], o["placed_at"], o.get("shipped_at") or "",
                          o.get("carrier") or "", o.get("tracking") or "", o.get("address") or "", o.get("total"),
                          json.dumps(items, ensure_ascii=False), o.get("source") or "")
                digest = hashlib.sha1(json.dumps(values, ensure_ascii=False).encode()).hexdigest()
                row = dict(zip(FIELDS, (oid, *values)), file_hash=digest)
                # ON CONFLICT DO NOTHING: another replica syncing the same generation adds it first.
                added = conn.execute(sql(
                    "INSERT INTO orders (order_id, email, status, placed_at, shipped_at, carrier, tracking, address, "
                    "total, items, source, file_hash, version) VALUES (:order_id, :email, :status, :placed_at, "
                    ":shipped_at, :carrier, :tracking, :address, :total, :items, :source, :file_hash, 0) "
                    "ON CONFLICT (order_id) DO NOTHING"), row).rowcount
                if added:
                    counts["added"] += 1
                    continue
                updated = conn.execute(sql(
                    "UPDATE orders SET email = :email, status = :status, placed_at = :placed_at, "
                    "shipped_at = :shipped_at, carrier = :carrier, tracking = :tracking, address = :address, "
                    "total = :total, items = :items, source = :source, file_hash = :file_hash, "
                    "modified_locally = NULL, version = version + 1 "
                    "WHERE order_id = :order_id AND file_hash <> :file_hash"), row).rowcount
                counts["updated" if updated else "kept"] += 1
        return counts

    def sync_from_index(self, index) -> dict[str, int]:
        """Merge the orders an index generation holds (its ``order_rows``)."""
        return self.sync(dict(zip(FIELDS, tuple(r))) for r in index.order_rows())

    # -- reading ----------------------------------------------------------------------------
    def _row(self, order_id: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM orders WHERE order_id = :id", id=normalise_id(order_id))
        return rows[0] if rows else None

    def get(self, order_id: str) -> Order | None:
        """The order (for the tools after verification, and for staff); None if unknown."""
        row = self._row(order_id)
        if row is None:
            return None
        return Order(row["order_id"], row["email"], row["status"], row["placed_at"], json.loads(row["items"]),
                     row["shipped_at"] or "", row["carrier"] or "", row["tracking"] or "", row["address"] or "",
                     row["total"])

    def id_shapes(self) -> set[str]:
        """Shapes of the known order ids (letters as A, digits as 9), to tell them from SKUs."""
        return {shape(r["order_id"]) for r in self._rows("SELECT DISTINCT order_id FROM orders")}

    def orders_for(self, email: str) -> list[Order]:
        """All orders placed with ``email`` (after verification only)."""
        rows = self._rows("SELECT order_id FROM orders WHERE email = :e ORDER BY placed_at", e=email.strip().lower())
        return [o for o in (self.get(r["order_id"]) for r in rows) if o]

    # -- verification ----------------------------------------------------------------------
    def locked(self, session_id: str) -> bool:
        """True when the session used up its verification attempts."""
        rows = self._rows("SELECT locked_at FROM verification WHERE session_id = :s", s=session_id)
        return bool(rows and rows[0]["locked_at"])

    def failures(self, session_id: str) -> int:
        """Failed verifications so far in this session."""
        rows = self._rows("SELECT failures FROM verification WHERE session_id = :s", s=session_id)
        return int(rows[0]["failures"]) if rows else 0

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
        with self.engine.begin() as conn:
            failures = conn.execute(sql(
                "INSERT INTO verification (session_id, failures) VALUES (:s, 1) ON CONFLICT (session_id) "
                "DO UPDATE SET failures = verification.failures + 1 RETURNING failures"), {"s": session_id}).scalar_one()
            if failures >= self.max_failures:
                conn.execute(sql("UPDATE verification SET locked_at = :t WHERE session_id = :s"),
                             {"t": time.time(), "s": session_id})
        if failures >= self.max_failures:
            # A risk-control signal: someone may be guessing order ids or emails.
            log.warning("risk: session %s locked after %d failed order verifications", session_id, failures)
            self._log(session_id, normalise_id(order_id), "lockout", True, f"{failures} failed verifications")
        return None

    # -- actions ----------------------------------------------------------------------------
    def cancel(self, session_id: str, order_id: str) -> Order:
        """Cancel an order that has not shipped; raises OrderError otherwise."""
        row = self._require(order_id)
        if row["status"] not in CANCELLABLE:
            self._log(session_id, row["order_id"], "cancel", False, f"status is {row['status']}")
            raise OrderError(f"order {row['order_id']} is {row['status']} and can no longer be cancelled",
                             "not_cancellable")
        self._apply(session_id, row, "cancel", "cancelled", f"was {row['status']}",
                    "status = 'cancelled'", {})
        return self.get(order_id)

    def change_address(self, session_id: str, order_id: str, address: str) -> Order:
        """Change the shipping address before the order ships; raises OrderError otherwise."""
        address = " ".join(address.split())
        row = self._require(order_id)
        if len(address) < MIN_ADDRESS_CHARS:
            self._log(session_id, row["order_id"], "change_address", False, "new address too short")
            raise OrderError("the new address is too short to be a full address", "address_too_short")
        if row["status"] not in ADDRESS_CHANGEABLE:
            self._log(session_id, row["order_id"], "change_address", False, f"status is {row['status']}")
            raise OrderError(f"order {row['order_id']} is {row['status']}; its address can no longer be changed",
                             "not_changeable")
        self._apply(session_id, row, "change_address", address, "address changed", "address = :value",
                    {"value": address})
        return self.get(order_id)

    def _apply(self, session_id: str, row: dict[str, Any], action: str, target: str, detail: str, change: str,
               params: dict[str, Any]) -> bool:
        """Log the action under its idempotency key and change the order, in one transaction.
        False when the same change was already applied (the key is taken): nothing happens twice."""
        key = hashlib.sha1(json.dumps([action, row["order_id"], target, row["version"]]).encode()).hexdigest()
        with self.engine.begin() as conn:
            logged = conn.execute(sql(
                "INSERT INTO order_actions (at, session_id, order_id, action, ok, detail, action_key) "
                "VALUES (:t, :s, :o, :a, 1, :d, :k) ON CONFLICT (action_key) DO NOTHING RETURNING id"),
                {"t": time.time(), "s": session_id, "o": row["order_id"], "a": action, "d": detail, "k": key}).first()
            if logged is None:
                log.info("order action %s order=%s already applied (same request twice)", action, row["order_id"])
                return False
            changed = conn.execute(sql(
                f"UPDATE orders SET {change}, modified_locally = :t, version = version + 1 "
                "WHERE order_id = :o AND version = :v"),
                {**params, "t": time.time(), "o": row["order_id"], "v": row["version"]}).rowcount
            if not changed:  # another action changed the order after it was read: decide again
                conn.rollback()
                raise OrderError(f"order {row['order_id']} changed meanwhile; try again", "not_allowed")
        log.info("order action %s order=%s ok=True session=%s", action, row["order_id"], session_id)
        return True

    def actions(self, order_id: str | None = None, session_id: str | None = None) -> list[dict[str, Any]]:
        """The action log, oldest first, optionally for one order or session."""
        query, params = "SELECT * FROM order_actions WHERE 1=1", {}
        if order_id:
            query, params["o"] = query + " AND order_id = :o", normalise_id(order_id)
        if session_id:
            query, params["s"] = query + " AND session_id = :s", session_id
        return [{k: v for k, v in r.items() if k != "action_key"} for r in self._rows(query + " ORDER BY id", **params)]

    def _require(self, order_id: str) -> dict[str, Any]:
        row = self._row(order_id)
        if row is None:
            raise OrderError(f"no order {normalise_id(order_id)}", "unknown_order")
        return row

    def _log(self, session_id: str | None, order_id: str | None, action: str, ok: bool, detail: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sql("INSERT INTO order_actions (at, session_id, order_id, action, ok, detail) "
                             "VALUES (:t, :s, :o, :a, :ok, :d)"),
                         {"t": time.time(), "s": session_id, "o": order_id, "a": action, "ok": int(ok), "d": detail})
        log.info("order action %s order=%s ok=%s session=%s", action, order_id, ok, session_id)
