"""The order store's actions apply once: the idempotency key and the version check (SQLite here;
the cluster tests run the same store on Postgres across two replicas)."""
from __future__ import annotations

import pytest

from racing import cancel_at_once
from shopqa.ordering.order_records import OrderError
from shopqa.ordering.orders import SqlOrderStore

ORDERS = [{"order_id": f"T-{n}", "email": "a@example.com", "status": "pending", "placed_at": "2026-10-01",
           "items": ["X"], "address": "1 Main St"} for n in (1, 2, 3)]


@pytest.fixture
def store(tmp_path):
    s = SqlOrderStore(tmp_path / "orders.sqlite")
    s.sync(ORDERS)
    return s


def test_the_same_change_twice_applies_once(store):
    seen = store._require("T-1")  # two requests that read the order at the same moment
    assert store._apply("s1", seen, "cancel", "cancelled", "was pending", "status = 'cancelled'", {}) is True
    assert store._apply("s2", seen, "cancel", "cancelled", "was pending", "status = 'cancelled'", {}) is False
    assert [a["action"] for a in store.actions("T-1") if a["ok"]] == ["cancel"]
    assert store.get("T-1").status == "cancelled"


def test_a_different_change_after_the_read_is_refused(store):
    seen = store._require("T-2")
    store.change_address("s1", "T-2", "22 Long Road, Springfield")
    with pytest.raises(OrderError) as err:
        store._apply("s2", seen, "cancel", "cancelled", "was pending", "status = 'cancelled'", {})
    assert err.value.code == "not_allowed" and store.get("T-2").status == "pending"


def test_concurrent_cancels_log_one_cancellation(store):
    results = cancel_at_once([store], "T-3")
    assert "cancelled" in results and set(results) <= {"cancelled", "not_cancellable", "not_allowed"}
    assert len([a for a in store.actions("T-3") if a["ok"] and a["action"] == "cancel"]) == 1


def test_an_address_can_change_back_later(store):
    store.change_address("s1", "T-1", "22 Long Road, Springfield")
    store.change_address("s1", "T-1", "1 Main Street, Springfield")
    store.change_address("s1", "T-1", "22 Long Road, Springfield")  # same target, new version: applies
    assert store.get("T-1").address == "22 Long Road, Springfield"
    assert len([a for a in store.actions("T-1") if a["action"] == "change_address" and a["ok"]]) == 3


def test_an_order_file_from_before_idempotency_gets_its_columns_and_key_index(tmp_path):
    import sqlite3

    old = tmp_path / "orders.sqlite"
    with sqlite3.connect(old) as conn:  # the schema of the first release
        conn.executescript("""
            CREATE TABLE orders (order_id TEXT PRIMARY KEY, email TEXT NOT NULL, status TEXT NOT NULL,
                placed_at TEXT NOT NULL, shipped_at TEXT, carrier TEXT, tracking TEXT, address TEXT, total REAL,
                items TEXT NOT NULL, source TEXT NOT NULL, file_hash TEXT NOT NULL, modified_locally REAL);
            CREATE TABLE order_actions (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, session_id TEXT,
                order_id TEXT, action TEXT NOT NULL, ok INTEGER NOT NULL, detail TEXT NOT NULL);
            CREATE TABLE verification (session_id TEXT PRIMARY KEY, failures INTEGER NOT NULL, locked_at REAL);
        """)
    store = SqlOrderStore(old)
    store.sync(ORDERS)
    with sqlite3.connect(old) as conn:
        indexes = {r[1]: r[2] for r in conn.execute("PRAGMA index_list(order_actions)")}
    assert indexes.get("order_actions_key") == 1  # unique
    seen = store._require("T-1")
    assert store._apply("s1", seen, "cancel", "cancelled", "was pending", "status = 'cancelled'", {}) is True
    assert store._apply("s2", seen, "cancel", "cancelled", "was pending", "status = 'cancelled'", {}) is False
