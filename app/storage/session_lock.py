"""One lock per session, so that a session's turns run one at a time and in order.

On one machine a file lock serves every thread and worker process. With several replicas the
lock must live where all of them see it: a Postgres advisory lock, held on a connection of its
own for the turn (a replica that dies drops its connection, and the lock goes with it).
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, text

# Sessions share this many lock files: two sessions wait for each other only when they land on
# one stripe (about 3% of pairs among 16 concurrent sessions), and the folder stays bounded.
LOCK_STRIPES = 4096


def _digest(session_id: str) -> int:
    return int(hashlib.sha1(session_id.encode("utf-8")).hexdigest(), 16)


class FileSessionLocks:
    """Striped lock files in ``folder`` (threads and processes of one machine)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def hold(self, session_id: str) -> Iterator[None]:
        """Wait for the session's lock and hold it until the block ends."""
        stripe = _digest(session_id) % LOCK_STRIPES
        with open(self.folder / f"{stripe:04d}.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


class AdvisorySessionLocks:
    """Postgres session-level advisory locks keyed by the session id (every replica)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @contextlib.contextmanager
    def hold(self, session_id: str) -> Iterator[None]:
        """Wait for the session's lock and hold it until the block ends."""
        key = _digest(session_id) % (1 << 63)  # a signed bigint
        with self.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()  # no transaction stays open while the turn runs
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
