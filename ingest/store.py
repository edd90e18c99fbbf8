"""The SQLite store of one index generation: units (the retrievable texts), products and orders."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterable

SCHEMA = """
CREATE TABLE units (
    id INTEGER PRIMARY KEY, record_key TEXT NOT NULL, type TEXT NOT NULL, source TEXT NOT NULL,
    title TEXT NOT NULL, url TEXT NOT NULL, position INTEGER NOT NULL, lang TEXT NOT NULL,
    text TEXT NOT NULL, tokens TEXT NOT NULL, meta TEXT NOT NULL
);
CREATE INDEX units_record ON units(record_key);
CREATE TABLE products (sku TEXT PRIMARY KEY, name TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE orders (
    order_id TEXT PRIMARY KEY, email TEXT NOT NULL, status TEXT NOT NULL, placed_at TEXT NOT NULL,
    shipped_at TEXT, carrier TEXT, tracking TEXT, address TEXT, total REAL, items TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX orders_email ON orders(email);
"""

UNIT_COLUMNS = ("id", "record_key", "type", "source", "title", "url", "position", "lang", "text", "tokens", "meta")


def create(path: Path) -> sqlite3.Connection:
    """A new, empty store at ``path``."""
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    return conn


def open_readonly(path: Path) -> sqlite3.Connection:
    """Open a generation's store for reading from any thread."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


def copy_units(conn: sqlite3.Connection, old_path: Path, record_keys: Iterable[str]) -> int:
    """Copy the units of unchanged records from the previous generation, keeping their ids."""
    keys = list(record_keys)
    if not keys:
        return 0
    conn.execute("ATTACH DATABASE ? AS old", (str(old_path),))
    conn.execute("CREATE TEMP TABLE keep(key TEXT PRIMARY KEY)")
    conn.executemany("INSERT INTO keep VALUES (?)", ((k,) for k in keys))
    cur = conn.execute(f"INSERT INTO units SELECT {', '.join(UNIT_COLUMNS)} FROM old.units "
                       "WHERE record_key IN (SELECT key FROM keep)")
    conn.commit()
    conn.execute("DROP TABLE keep")
    conn.execute("DETACH DATABASE old")
    return cur.rowcount


def retokenize(conn: sqlite3.Connection, tokenize: Callable[[str], list[str]]) -> int:
    """Recompute every unit's keyword tokens (after a tokenizer change; vectors are untouched)."""
    rows = conn.execute("SELECT id, text FROM units").fetchall()
    conn.executemany("UPDATE units SET tokens = ? WHERE id = ?", ((" ".join(tokenize(r[1])), r[0]) for r in rows))
    conn.commit()
    return len(rows)


def insert_units(conn: sqlite3.Connection, rows: Iterable[dict[str, Any]]) -> None:
    """Insert new units (dicts with the UNIT_COLUMNS keys; ``tokens`` a list, ``meta`` a dict)."""
    conn.executemany(
        f"INSERT INTO units ({', '.join(UNIT_COLUMNS)}) VALUES ({', '.join('?' * len(UNIT_COLUMNS))})",
        ([r["id"], r["record_key"], r["type"], r["source"], r["title"], r["url"], r["position"], r["lang"],
          r["text"], " ".join(r["tokens"]), json.dumps(r["meta"], ensure_ascii=False)] for r in rows),
    )


def insert_products(conn: sqlite3.Connection, products: Iterable[dict[str, Any]]) -> None:
    """Store the catalogue for exact lookups (prices and stock come from here, never from a model)."""
    conn.executemany("INSERT INTO products VALUES (?, ?, ?)",
                     ((p["sku"], p["name"], json.dumps(p, ensure_ascii=False)) for p in products))


def insert_orders(conn: sqlite3.Connection, orders: Iterable[tuple[dict[str, Any], str]]) -> None:
    """Store orders (with the file they came from) for the order tools."""
    conn.executemany(
        "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ((o["order_id"], o["email"], o["status"], o["placed_at"], o["shipped_at"], o["carrier"], o["tracking"],
          o["address"], o["total"], json.dumps(o["items"]), source) for o, source in orders),
    )


def all_tokens(conn: sqlite3.Connection) -> tuple[list[int], list[list[str]]]:
    """Every unit's id and tokens, in id order, for rebuilding the keyword index."""
    ids, tokens = [], []
    for uid, toks in conn.execute("SELECT id, tokens FROM units ORDER BY id"):
        ids.append(uid)
        tokens.append(toks.split(" ") if toks else [])
    return ids, tokens
