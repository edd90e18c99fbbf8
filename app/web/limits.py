"""Limits on customers and on the LLM: per process by default, shared through Redis when set.

With several replicas (or gunicorn workers), a per-process limit multiplies: two replicas
let a client send twice the rate and run twice the generations. ``SHOPQA_REDIS_URL`` moves
both counts into Redis, where every replica sees the same ones. The Redis side is two small
Lua scripts, so each check is one atomic round trip that uses the server's clock (replicas'
clocks may differ).
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict, deque
from typing import Iterator

from shopqa.models.llm import LLMBusy

log = logging.getLogger("shopqa.limits")

# A sliding window log: drop hits older than the window, refuse when full (return the ms until
# the oldest hit leaves), else record this hit. KEYS[1] = client key; ARGV = window ms, limit, id.
_RATE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tonumber(first[2]) + window - now
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""

# A counting semaphore whose holders expire: a replica that dies holding a slot gives it back
# when its lease runs out. KEYS[1] = holders; ARGV = limit, lease ms, holder id.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0
"""


def redis_client(url: str):
    """A Redis client with short timeouts (a slow Redis must not hang customers)."""
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


class RateLimiter:
    """A sliding one-minute window per client key, in this process."""

    backend = "local"

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


class RedisRateLimiter:
    """The same sliding window, kept in Redis and shared by every replica."""

    backend = "redis"

    def __init__(self, client, per_minute: int, prefix: str = "shopqa:rate:"):
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute, self.prefix = per_minute, prefix
        self._script = client.register_script(_RATE)

    def check(self, key: str) -> int:
        """0 if the request may go ahead, else the seconds to wait. If Redis is down the request
        goes ahead (and a warning is logged): a broken limiter must not take the shop offline."""
        try:
            wait_ms = int(self._script(keys=[self.prefix + key], args=[60_000, self.per_minute, uuid.uuid4().hex]))
        except Exception as exc:  # noqa: BLE001  (redis connection or timeout errors)
            log.warning("rate limit not checked, Redis failed: %s", type(exc).__name__)
            return 0
        return 0 if wait_ms <= 0 else max(1, -(-wait_ms // 1000))


class LocalSlots:
    """At most ``n`` holders at once in this process."""

    backend = "local"

    def __init__(self, n: int):
        if n < 1:
            raise ValueError("n must be at least 1")
        self.n = n
        self._sem = threading.BoundedSemaphore(n)

    def acquire(self, timeout: float) -> str | None:
        """A holder token, or None when no slot came free within ``timeout`` seconds."""
        return "local" if self._sem.acquire(timeout=timeout) else None

    def release(self, token: str) -> None:
        """Give the slot back."""
        self._sem.release()


class RedisSlots:
    """At most ``n`` holders at once across all replicas, each holder leased for ``lease`` s."""

    backend = "redis"

    def __init__(self, client, n: int, lease: float, key: str = "shopqa:llm-slots", poll: float = 0.05):
        if n < 1 or lease <= 0:
            raise ValueError("n must be at least 1 and lease > 0")
        self.n, self.lease, self.key, self.poll = n, lease, key, poll
        self._client = client
        self._acquire = client.register_script(_ACQUIRE)

    def acquire(self, timeout: float) -> str | None:
        """A holder token, or None when no slot came free in time (or Redis failed)."""
        token, deadline = uuid.uuid4().hex, time.monotonic() + timeout
        while True:
            try:
                if self._acquire(keys=[self.key], args=[self.n, int(self.lease * 1000), token]):
                    return token
            except Exception as exc:  # noqa: BLE001
                log.warning("LLM slot not taken, Redis failed: %s", type(exc).__name__)
                return None
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.poll)

    def release(self, token: str) -> None:
        """Give the slot back (the lease frees it anyway if this fails)."""
        try:
            self._client.zrem(self.key, token)
        except Exception as exc:  # noqa: BLE001
            log.warning("LLM slot not released, Redis failed: %s (its lease frees it)", type(exc).__name__)


class QueuedLLM:
    """Wraps the LLM: at most ``depth`` requests of this process use or wait for it; the rest are
    refused at once. Generations themselves take a slot from ``slots``.

    llama.cpp runs one generation at a time on this machine's cores, so more concurrent
    generations only make everyone slower; a bounded queue keeps waits finite and tells
    clients when to come back instead of letting them hang.
    """

    def __init__(self, inner, depth: int, timeout: float, slots=None, gauge=None):
        if depth < 1 or timeout <= 0:
            raise ValueError("queue depth must be >= 1 and timeout > 0")
        self.inner = inner
        self.id = getattr(inner, "id", "llm")
        self.depth = depth
        self.timeout = timeout
        self.slots = slots or LocalSlots(1)
        self._queue = threading.BoundedSemaphore(depth)
        self._gauge = gauge  # a Prometheus gauge of requests holding a queue place, if any
        self._count = 0
        self._count_lock = threading.Lock()

    @property
    def in_use(self) -> int:
        """Requests holding a queue place (running or waiting)."""
        return self._count

    def warm_up(self) -> None:
        """Load the wrapped model."""
        self.inner.warm_up()

    def __getattr__(self, name):  # model_path, llama, ... of the wrapped LLM
        return getattr(self.inner, name)

    def _held(self, delta: int) -> None:
        with self._count_lock:
            self._count += delta
        if self._gauge is not None:
            self._gauge.inc(delta)

    def stream(self, system: str, user: str, max_tokens: int = 256) -> Iterator[str]:
        """The wrapped model's stream, once a queue place and then a generation slot are free."""
        if not self._queue.acquire(blocking=False):
            raise LLMBusy("the answer queue is full; try again shortly", retry_after=5)
        self._held(1)
        try:
            token = self.slots.acquire(self.timeout)
            if token is None:
                raise LLMBusy("waited too long for the answer model; try again shortly", retry_after=10)
            try:
                yield from self.inner.stream(system, user, max_tokens)
            finally:
                self.slots.release(token)
        finally:
            self._held(-1)
            self._queue.release()


def make_limits(settings) -> tuple[RateLimiter | RedisRateLimiter, LocalSlots | RedisSlots]:
    """The rate limiter and the LLM slots the settings ask for (Redis-backed when redis_url is set)."""
    if not settings.redis_url:
        return RateLimiter(settings.rate_limit_per_minute), LocalSlots(settings.llm_concurrency)
    client = redis_client(settings.redis_url)
    # A lease outlives the longest legitimate generation: the wait for it plus the request itself.
    lease = 2 * settings.request_timeout + 60
    return (RedisRateLimiter(client, settings.rate_limit_per_minute),
            RedisSlots(client, settings.llm_concurrency, lease))
