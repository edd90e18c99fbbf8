"""One SQLite connection per thread to a mutable store in data_dir (WAL, rows by column name)."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class ThreadLocalConnection:
    """Call it to get this thread's connection: sqlite3 connections must not cross threads,
    and WAL lets readers work while one thread writes."""

    def __init__(self, path: Path, timeout: float = 10):
        self.path = Path(path)
        self.timeout = timeout
        self._local = threading.local()

    def __call__(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.timeout)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn
