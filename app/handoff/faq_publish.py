"""Publishing an answer to an FAQ gap: a row in ``data_dir/faqs/published.jsonl`` (the shop's
``faqs/`` JSONL format), then an incremental ingest in a background thread that reads that file
as part of the shop, so the next customer who asks gets the curated answer.

One ingest runs at a time per process; a publish while one runs queues exactly one more run
(which picks up every row written meanwhile). The ingest lock (ingest/lock.py) keeps a manual
``shopqa ingest`` and this one apart across processes: a held lock is waited for, then retried.
The status is also written to ``data_dir/faqs/publish-status.json``, so every worker process
reports the same one.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("shopqa.faq_publish")
LOCK_RETRIES, LOCK_WAIT_SECONDS = 60, 2.0  # another ingest (a manual one) may hold the lock for a while


def published_file(data_dir: Path | str) -> Path:
    """Where published FAQs are kept."""
    return Path(data_dir) / "faqs" / "published.jsonl"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _norm(question: str) -> str:
    return " ".join(question.lower().split())


def read_published(path: Path) -> list[dict[str, Any]]:
    """The published FAQ rows (none when the file does not exist yet)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_faq(path: Path, question: str, answer: str, lang: str | None, author: str) -> dict[str, Any]:
    """Add the FAQ, or replace the answer of the same question (so ingest sees one FAQ, edited);
    the file is rewritten atomically. The row written."""
    question, answer = " ".join(question.split()), answer.strip()
    if not question or not answer:
        raise ValueError("a published FAQ needs a question and an answer")
    row: dict[str, Any] = {"question": question, "answer": answer, "category": "published", "tags": ["faq-gap"],
                           "published_by": author, "published_at": round(time.time(), 3)}
    if lang:
        row["lang"] = lang
    path.parent.mkdir(parents=True, exist_ok=True)
    # Read, edit and replace under a file lock: gunicorn workers publish from separate
    # processes, and two rewrites at once would each drop the other's row.
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows = [r for r in read_published(path) if _norm(str(r.get("question", ""))) != _norm(question)] + [row]
        _write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return row


def _alive(pid: Any) -> bool:
    """True when process ``pid`` runs on this machine (data_dir is per machine)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FaqPublisher:
    """Writes published FAQs and keeps the index up to date with them, in the background."""

    def __init__(self, resources):
        self.res = resources
        self.settings = resources.settings
        self.path = published_file(self.settings.data_dir)
        self.status_file = self.path.with_name("publish-status.json")
        self._lock = threading.Lock()  # guards the state below and the file
        self._running = self._again = False
        self._last: dict[str, Any] | None = None
        self._error: str | None = None
        self._thread: threading.Thread | None = None

    def publish(self, question: str, answer: str, lang: str | None, author: str) -> dict[str, Any]:
        """Write the FAQ and start (or queue) an ingest; the row and the status."""
        with self._lock:
            row = write_faq(self.path, question, answer, lang, author)
        log.info("FAQ published by %s: %r", author, row["question"][:120])
        self.start()
        return {"faq": row, "status": self.status()}

    def start(self) -> None:
        """Start an ingest now, or once more after the one running."""
        with self._lock:
            if self._running:
                self._again = True
                self._save()
                return
            self._running, self._again = True, False
            self._save()
            self._thread = threading.Thread(target=self._loop, name="faq-publish-ingest", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the background ingest (tests and the CLI)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def status(self) -> dict[str, Any]:
        """idle or running, whether another run is queued, the last result and the last error
        (as the last process to change it wrote it)."""
        with self._lock:
            try:
                found = json.loads(self.status_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                found = self._state()
            if found.get("state") == "running" and not _alive(found.get("pid")):
                # The process that ran it died (a restart mid-ingest): the index is as it was.
                found = {**found, "state": "idle", "queued": False,
                         "error": "the ingest was interrupted (the service stopped); publish again to retry"}
            return {**found, "published": len(read_published(self.path))}

    def _state(self) -> dict[str, Any]:
        return {"state": "running" if self._running else "idle", "queued": self._again,
                "last": self._last, "error": self._error, "pid": os.getpid()}

    def _save(self) -> None:
        """Write the status for every worker; called with ``self._lock`` held."""
        try:
            _write_atomic(self.status_file, json.dumps(self._state(), ensure_ascii=False))
        except OSError as exc:
            log.warning("cannot write %s: %s", self.status_file, exc)

    def _loop(self) -> None:
        while True:
            started = time.time()
            try:
                result = self._ingest_once()
                with self._lock:
                    self._last, self._error = {**result, "finished": time.time(),
                                               "seconds": round(time.time() - started, 2)}, None
            except Exception as exc:  # noqa: BLE001 - the thread must report, not die silently
                log.exception("ingest after a published FAQ failed")
                with self._lock:
                    self._error = f"{type(exc).__name__}: {exc}"
            with self._lock:
                if not self._again:
                    self._running = False
                    self._save()
                    return
                self._again = False
                self._save()

    def _ingest_once(self) -> dict[str, Any]:
        """Ingest the live shop folder plus the published FAQs; publish to Postgres if used;
        swap the new generation in."""
        from shopqa.ingest.lock import LockHeld
        from shopqa.ingest.pipeline import IngestOptions, run

        found = self.res.index().manifest
        shop_dir = found.get("source_shop_dir") or found["shop_dir"]
        settings = self.settings
        opts = IngestOptions(shop_dir=Path(shop_dir), index_dir=Path(settings.index_dir), embedder=settings.embedder,
                             max_file_bytes=int(settings.max_file_mb * 1e6), chunk_tokens=settings.chunk_tokens,
                             batch_size=settings.embed_batch_size, extra_faq_files=(self.path,))
        for attempt in range(LOCK_RETRIES):
            try:
                report = run(opts, embedder=self.res.embedder)
                break
            except LockHeld:
                if attempt == LOCK_RETRIES - 1:
                    raise
                time.sleep(LOCK_WAIT_SECONDS)
        if settings.database_url:
            self._publish_to_postgres()
        self.res.reload_if_changed(wait=True)
        return {"generation": report.generation, "swapped": report.swapped, "added": report.added,
                "changed": report.changed, "removed": report.removed,
                "problems": [str(p) for p in report.problems[:20]]}

    def _publish_to_postgres(self) -> None:
        from shopqa.ingest.pg_publish import publish
        from shopqa.storage.engine import database_engine

        engine = database_engine(self.settings.database_url, pool_size=1)
        try:
            publish(engine, self.settings.index_dir)
        finally:
            engine.dispose()
