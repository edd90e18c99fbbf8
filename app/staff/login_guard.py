"""Failed staff logins, counted per account and per client address over a sliding window.

After ``login_max_failures`` failures within ``login_window_minutes`` for an account name or for
a client, further logins for it are refused (429 with Retry-After) until the oldest counted
failure leaves the window, even with the right password: a guesser learns nothing from a locked
form. With ``redis_url`` the counts live in Redis, so replicas and workers share them (a
per-process count would multiply the allowance by the number of processes).
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict, deque

log = logging.getLogger("shopqa.auth")

# KEYS[1] = the account's or client's key; ARGV = window ms, limit, failure id ('' only looks).
# Drops failures older than the window, records this one (if given), and returns the ms until
# fewer than ``limit`` failures remain in the window (0: not locked). Server clock: replicas'
# clocks may differ.
_FAILURES = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
end
local count = redis.call('ZCARD', KEYS[1])
if count < limit then return 0 end
local unlock = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return math.max(1, tonumber(unlock[2]) + window - now)
"""


class LocalFailures:
    """Failure times per key, in this process."""

    backend = "local"

    def __init__(self, limit: int, window: float):
        if limit < 1 or window <= 0:
            raise ValueError("limit must be at least 1 and window positive")
        self.limit, self.window = limit, window
        self._times: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def _wait(self, key: str, record: bool) -> int:
        now = time.monotonic()
        with self._lock:
            times = self._times[key]
            while times and now - times[0] >= self.window:
                times.popleft()
            if record:
                times.append(now)
            if not times:
                del self._times[key]  # keys are names anyone can type: keep only live ones
            if len(times) < self.limit:
                return 0
            unlock = times[len(times) - self.limit]
            return max(1, int(unlock + self.window - now) + 1)

    def wait(self, key: str) -> int:
        """Seconds until ``key`` may try again (0: it may now)."""
        return self._wait(key, record=False)

    def record(self, key: str) -> int:
        """Count a failure for ``key``; the seconds it is now locked for (0: not locked)."""
        return self._wait(key, record=True)

    def clear(self, key: str) -> None:
        """Forget ``key``'s failures (after a successful login)."""
        with self._lock:
            self._times.pop(key, None)


class RedisFailures:
    """The same counts in Redis, shared by every replica. If Redis fails, this process's own
    counts are used (and a warning logged): logins stay limited, just per process."""

    backend = "redis"

    def __init__(self, client, limit: int, window: float, prefix: str = "shopqa:login-failures:"):
        self.local = LocalFailures(limit, window)
        self.limit, self.window, self.prefix = limit, window, prefix
        self._client = client
        self._script = client.register_script(_FAILURES)

    def _wait(self, key: str, failure_id: str) -> int:
        try:
            wait_ms = int(self._script(keys=[self.prefix + key],
                                       args=[int(self.window * 1000), self.limit, failure_id]))
        except Exception as exc:  # noqa: BLE001  (redis connection or timeout errors)
            log.warning("login failures counted in this process only, Redis failed: %s", type(exc).__name__)
            return self.local.record(key) if failure_id else self.local.wait(key)
        return 0 if wait_ms <= 0 else max(1, -(-wait_ms // 1000))

    def wait(self, key: str) -> int:
        """Seconds until ``key`` may try again (0: it may now)."""
        return self._wait(key, "")

    def record(self, key: str) -> int:
        """Count a failure for ``key``; the seconds it is now locked for (0: not locked)."""
        return self._wait(key, uuid.uuid4().hex)

    def clear(self, key: str) -> None:
        """Forget ``key``'s failures (after a successful login)."""
        self.local.clear(key)
        try:
            self._client.delete(self.prefix + key)
        except Exception as exc:  # noqa: BLE001
            log.warning("login failures not cleared, Redis failed: %s", type(exc).__name__)


class LoginGuard:
    """Failed logins per account name and per client address."""

    def __init__(self, failures: LocalFailures | RedisFailures):
        self.failures = failures

    @staticmethod
    def _keys(user: str, client: str) -> tuple[str, str]:
        # Names are what anyone typed: bounded, so a key stays small.
        return "user:" + user[:128], "client:" + client[:128]

    def locked(self, user: str, client: str) -> int:
        """Seconds until this account and this client may try again (0: both may now)."""
        return max(self.failures.wait(k) for k in self._keys(user, client))

    def failed(self, user: str, client: str) -> int:
        """Count a failed login against both; the seconds either is now locked for (0: none)."""
        return max([self.failures.record(k) for k in self._keys(user, client)])

    def succeeded(self, user: str) -> None:
        """A correct login clears the account's failures (the client's still count: one valid
        login must not buy a client new guesses at other accounts)."""
        self.failures.clear(self._keys(user, "")[0])


def make_login_guard(settings) -> LoginGuard:
    """The guard the settings ask for: shared through Redis when ``redis_url`` is set."""
    window = settings.login_window_minutes * 60
    if not settings.redis_url:
        return LoginGuard(LocalFailures(settings.login_max_failures, window))
    from shopqa.web.limits import redis_client

    return LoginGuard(RedisFailures(redis_client(settings.redis_url), settings.login_max_failures, window))
