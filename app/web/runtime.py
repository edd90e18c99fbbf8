"""Per-process web runtime: rate limiting, the bounded LLM queue and Prometheus metrics."""
from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from typing import Iterator

from shopqa.models.llm import LLMBusy

__all__ = ["LLMBusy", "Metrics", "QueuedLLM", "RateLimiter"]


class RateLimiter:
    """A sliding one-minute window per client key."""

    def __init__(self, per_minute: int):
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self._hits: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, key: str) -> int:
        """0 if the request may go ahead, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits[key]
            while hits and now - hits[0] >= 60:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return max(1, int(60 - (now - hits[0])) + 1)
            hits.append(now)
            return 0


class QueuedLLM:
    """Wraps the LLM: at most ``depth`` requests use or wait for it; the rest are refused at once.

    llama.cpp runs one generation at a time on this machine's cores, so more concurrent
    generations only make everyone slower; a bounded queue keeps waits finite and tells
    clients when to come back instead of letting them hang.
    """

    def __init__(self, inner, depth: int, timeout: float):
        if depth < 1 or timeout <= 0:
            raise ValueError("queue depth must be >= 1 and timeout > 0")
        self.inner = inner
        self.id = getattr(inner, "id", "llm")
        self.depth = depth
        self.timeout = timeout
        self._slots = threading.BoundedSemaphore(depth)
        self._run = threading.Lock()
        self._count = 0
        self._count_lock = threading.Lock()

    @property
    def in_use(self) -> int:
        """Requests holding a queue slot (running or waiting)."""
        return self._count

    def warm_up(self) -> None:
        """Load the wrapped model."""
        self.inner.warm_up()

    def __getattr__(self, name):  # model_path, llama, ... of the wrapped LLM
        return getattr(self.inner, name)

    def stream(self, system: str, user: str, max_tokens: int = 256) -> Iterator[str]:
        """The wrapped model's stream, once a slot and then the model are free."""
        if not self._slots.acquire(blocking=False):
            raise LLMBusy("the answer queue is full; try again shortly", retry_after=5)
        with self._count_lock:
            self._count += 1
        try:
            if not self._run.acquire(timeout=self.timeout):
                raise LLMBusy("waited too long for the answer model; try again shortly", retry_after=10)
            try:
                yield from self.inner.stream(system, user, max_tokens)
            finally:
                self._run.release()
        finally:
            with self._count_lock:
                self._count -= 1
            self._slots.release()


BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """Counters and histograms rendered in the Prometheus text format."""

    def __init__(self):
        self._lock = threading.Lock()
        self.counters: dict[tuple[str, tuple], float] = defaultdict(float)
        self.histograms: dict[tuple[str, tuple], list] = {}
        self.help: dict[str, tuple[str, str]] = {}

    def inc(self, name: str, help_text: str, value: float = 1.0, **labels: str) -> None:
        """Add to a counter."""
        with self._lock:
            self.help[name] = ("counter", help_text)
            self.counters[(name, tuple(sorted(labels.items())))] += value

    def observe(self, name: str, help_text: str, seconds: float, **labels: str) -> None:
        """Record one duration in a histogram."""
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self.help[name] = ("histogram", help_text)
            h = self.histograms.setdefault(key, [[0] * len(BUCKETS), 0, 0.0])
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    h[0][i] += 1
            h[1] += 1
            h[2] += seconds

    def render(self, gauges: dict[str, tuple[str, float]]) -> str:
        """The text exposition format; ``gauges`` maps name -> (help, value)."""
        def lab(pairs, extra=()):
            items = list(pairs) + list(extra)
            if not items:
                return ""
            esc = lambda v: str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")  # noqa: E731
            return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in items) + "}"

        lines = []
        with self._lock:
            for name, (kind, text) in sorted(self.help.items()):
                lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
                if kind == "counter":
                    for (n, labels), value in sorted(self.counters.items()):
                        if n == name:
                            lines.append(f"{name}{lab(labels)} {value:g}")
                else:
                    for (n, labels), (counts, count, total) in sorted(self.histograms.items()):
                        if n != name:
                            continue
                        for bound, c in zip(BUCKETS, counts):
                            lines.append(f"{name}_bucket{lab(labels, [('le', f'{bound:g}')])} {c}")
                        lines.append(f"{name}_bucket{lab(labels, [('le', '+Inf')])} {count}")
                        lines.append(f"{name}_sum{lab(labels)} {total:.6f}")
                        lines.append(f"{name}_count{lab(labels)} {count}")
        for name, (text, value) in sorted(gauges.items()):
            lines += [f"# HELP {name} {text}", f"# TYPE {name} gauge", f"{name} {value:g}"]
        return "\n".join(lines) + "\n"
