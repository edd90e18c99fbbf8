"""One ingest at a time per index folder: an flock that the kernel releases if the holder dies."""
from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

LOCK_NAME = ".ingest.lock"


class LockHeld(Exception):
    """Another ingest holds the lock; the message names it."""


class IngestLock:
    """Context manager around ``index_dir/.ingest.lock``; stale files from dead holders are harmless."""

    def __init__(self, index_dir: Path):
        self.path = Path(index_dir) / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> "IngestLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode("utf-8", "replace")
            os.close(fd)
            try:
                info = json.loads(holder)
                who = (f"pid {info['pid']} on {info['host']}, started "
                       f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(info['started']))}")
            except (ValueError, KeyError):
                who = "an unknown process"
            raise LockHeld(f"another ingest is running on {self.path.parent} ({who}); "
                           f"wait for it to finish (lock file {self.path})") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}).encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
