"""Rate limits and LLM slots: per process, and shared through a real redis-server."""
from __future__ import annotations

import threading
import time

import pytest

from engines import RedisServer
from shopqa.web.limits import LocalSlots, QueuedLLM, RateLimiter, RedisRateLimiter, RedisSlots, redis_client


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


def test_local_rate_limit_counts_per_client():
    limiter = RateLimiter(2)
    assert [limiter.check("a"), limiter.check("a")] == [0, 0]
    assert 1 <= limiter.check("a") <= 61
    assert limiter.check("b") == 0


def test_redis_rate_limit_is_shared_by_replicas(redis_url):
    # Two limiters with their own connections stand for two replicas.
    one, two = (RedisRateLimiter(redis_client(redis_url), 3, prefix="t1:") for _ in range(2))
    assert [one.check("client"), two.check("client"), one.check("client")] == [0, 0, 0]
    wait = two.check("client")
    assert 1 <= wait <= 60
    assert one.check("other") == 0


def test_redis_rate_limit_lets_requests_through_when_redis_is_down():
    limiter = RedisRateLimiter(redis_client("redis://127.0.0.1:9/0"), 1)  # port 9: nothing listens
    assert limiter.check("c") == 0 and limiter.check("c") == 0


def test_redis_slots_bound_generations_across_replicas(redis_url):
    a, b = (RedisSlots(redis_client(redis_url), 2, lease=30, key="t:slots") for _ in range(2))
    first, second = a.acquire(0.1), b.acquire(0.1)
    assert first and second
    start = time.monotonic()
    assert a.acquire(0.3) is None and time.monotonic() - start >= 0.3  # full: waits, then gives up
    b.release(second)
    assert a.acquire(0.3)


def test_redis_slot_of_a_dead_replica_expires(redis_url):
    dead = RedisSlots(redis_client(redis_url), 1, lease=0.5, key="t:lease")
    assert dead.acquire(0.1)  # never released, as if the replica had been killed
    alive = RedisSlots(redis_client(redis_url), 1, lease=30, key="t:lease")
    assert alive.acquire(2.0)


class _SlowLLM:
    id = "slow"

    def __init__(self):
        self.running, self.most = 0, 0
        self._lock = threading.Lock()

    def warm_up(self):
        pass

    def stream(self, system, user, max_tokens=256):
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.2)
        with self._lock:
            self.running -= 1
        yield "ok"


@pytest.mark.parametrize("backend", ["local", "redis"])
def test_queued_llm_runs_at_most_the_slots_at_once(backend, redis_url):
    inner = _SlowLLM()
    slots = LocalSlots(2) if backend == "local" else RedisSlots(redis_client(redis_url), 2, 30, key="t:q")
    queued = QueuedLLM(inner, depth=8, timeout=10, slots=slots)
    outs: list[str] = []
    threads = [threading.Thread(target=lambda: outs.append("".join(queued.stream("s", "u")))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert outs == ["ok"] * 6 and inner.most == 2 and queued.in_use == 0
