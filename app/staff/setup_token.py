"""The one-time first-run setup link, printed by ``shopqa serve`` the way Jupyter prints its token.

While no staff account exists (none in ``staff_users`` and none stored), the serving process
makes a random token, stores only its SHA-256 with an expiry in the account store's database
and prints ``/setup?token=...``. Any worker or replica can then check the link; it works once
(the row is deleted atomically when used) and expires after ``TOKEN_TTL`` seconds.
"""
from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import text as sql

from shopqa.staff.accounts import StaffAccountStore, open_account_store
from shopqa.storage.engine import fetch_all

TOKEN_TTL = 24 * 3600


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SetupTokens:
    """Setup tokens kept (as digests) beside the staff accounts."""

    def __init__(self, store: StaffAccountStore):
        self.engine = store.engine

    def issue(self, ttl: float = TOKEN_TTL) -> str:
        """A new token valid for ``ttl`` seconds (expired ones are dropped on the way)."""
        token, now = secrets.token_urlsafe(32), time.time()
        with self.engine.begin() as conn:
            conn.execute(sql("DELETE FROM staff_setup_tokens WHERE expires <= :now"), {"now": now})
            conn.execute(sql("INSERT INTO staff_setup_tokens (digest, expires) VALUES (:d, :e)"),
                         {"d": _digest(token), "e": now + ttl})
        return token

    def valid(self, token: str | None) -> bool:
        """True if ``token`` is an unused, unexpired setup token."""
        if not token:
            return False
        return bool(fetch_all(self.engine, "SELECT 1 AS ok FROM staff_setup_tokens WHERE digest = :d AND expires > :now",
                              d=_digest(token), now=time.time()))

    def consume(self, token: str | None) -> bool:
        """Use ``token`` up: True for exactly one caller, however many workers race for it."""
        if not token:
            return False
        with self.engine.begin() as conn:
            return conn.execute(sql("DELETE FROM staff_setup_tokens WHERE digest = :d AND expires > :now"),
                                {"d": _digest(token), "now": time.time()}).rowcount == 1

    def clear(self) -> None:
        """Drop every setup token (once the first account exists none is needed)."""
        with self.engine.begin() as conn:
            conn.execute(sql("DELETE FROM staff_setup_tokens"))


def setup_needed(settings, store: StaffAccountStore) -> bool:
    """True while there is no staff account at all: none in the config, none stored."""
    return not settings.staff_users and store.count() == 0


def setup_url(settings, token: str) -> str:
    """The link to print: the bound address (loopback when bound to every interface)."""
    host = settings.host if settings.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}/setup?token={token}"


def announce_setup(settings) -> str | None:
    """The line ``shopqa serve`` prints when no staff account exists (a fresh token each start),
    or None when an account exists."""
    with open_account_store(settings) as store:
        if not setup_needed(settings, store):
            return None
        token = SetupTokens(store).issue()
    hours = TOKEN_TTL // 3600
    return (f"No staff account yet: open {setup_url(settings, token)} to create the first one "
            f"(works once, for {hours} h; or run `shopqa staff add NAME`)")
