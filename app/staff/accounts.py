"""Staff accounts created through the first-run setup link or ``shopqa staff add``.

Passwords are stored as werkzeug hashes (scrypt), never in clear. The table lives in
``data_dir/staff.sqlite`` or, with ``database_url``, in the shared Postgres database, so every
replica and worker sees the same accounts. Accounts in the config's ``staff_users`` are not
stored here; ``StaffAccountStore.check`` is only this store's half of a login.
"""
from __future__ import annotations

import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Column, Engine, Float, Integer, MetaData, Table, Text
from sqlalchemy import text as sql
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from shopqa.storage.engine import fetch_all, store_engine

MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

META = MetaData()
STAFF_ACCOUNTS = Table(
    "staff_accounts", META, Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True), Column("password_hash", Text, nullable=False),
    Column("created", Float, nullable=False))
# Only a SHA-256 of each setup token is kept (shopqa.staff.setup_token), so every worker and
# replica can check a link that another process printed.
SETUP_TOKENS = Table(
    "staff_setup_tokens", META, Column("digest", Text, primary_key=True), Column("expires", Float, nullable=False))


class AccountError(ValueError):
    """An account that cannot be made: a bad or taken name, a too-short password."""


def check_name(name: str, taken: set[str] | frozenset[str] = frozenset()) -> None:
    """Raise AccountError unless ``name`` is a well-formed name not in ``taken`` (the config's
    ``staff_users``: the config's account would win a login under the same name)."""
    if not _NAME.match(name or ""):
        raise AccountError(f"{name!r} is not a usable staff name: use 1-64 letters, digits, '.', '_', '@' or '-', "
                           "starting with a letter or digit")
    if name in taken:
        raise AccountError(f"the name {name!r} is already taken (it is in staff_users in the config)")


def validate(name: str, password: str, taken: set[str] | frozenset[str] = frozenset()) -> None:
    """Raise AccountError unless ``name`` and ``password`` make an acceptable new account."""
    check_name(name, taken)
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"the password is too short: use at least {MIN_PASSWORD} characters")


class StaffAccountStore:
    """Staff accounts in a SQLite file (``path``) or a shared database (``engine``)."""

    def __init__(self, path: Path | None = None, engine: Engine | None = None):
        self.engine = store_engine(path, engine, META)

    def count(self) -> int:
        """How many accounts the store holds."""
        return int(fetch_all(self.engine, "SELECT COUNT(*) AS n FROM staff_accounts")[0]["n"])

    def names(self) -> list[str]:
        """The stored account names, oldest first."""
        return [r["name"] for r in fetch_all(self.engine, "SELECT name FROM staff_accounts ORDER BY id")]

    def password_hash(self, name: str) -> str | None:
        """The stored hash for ``name``, if the account exists."""
        rows = fetch_all(self.engine, "SELECT password_hash FROM staff_accounts WHERE name = :n", n=name)
        return rows[0]["password_hash"] if rows else None

    def check(self, name: str, password: str) -> bool:
        """True if ``name`` is stored here and ``password`` is its password."""
        stored = self.password_hash(name)
        return bool(stored) and check_password_hash(stored, password)

    def add(self, name: str, password: str, taken: set[str] | frozenset[str] = frozenset(),
            only_if_empty: bool = False) -> None:
        """Store a new account (hashed). ``only_if_empty``: only as the very first account (the
        setup link), so two setups racing cannot both make one. Raises AccountError."""
        validate(name, password, taken)
        guard = " WHERE NOT EXISTS (SELECT 1 FROM staff_accounts)" if only_if_empty else ""
        try:
            with self.engine.begin() as conn:
                done = conn.execute(sql("INSERT INTO staff_accounts (name, password_hash, created) "
                                        # Typed: Postgres cannot infer a bare parameter's type in a SELECT list.
                                        f"SELECT CAST(:n AS TEXT), CAST(:h AS TEXT), CAST(:t AS DOUBLE PRECISION){guard}"),
                                    {"n": name, "h": generate_password_hash(password), "t": time.time()}).rowcount
        except IntegrityError:
            raise AccountError(f"the name {name!r} is already taken") from None
        if not done:
            raise AccountError("a staff account exists already; log in, or add more with `shopqa staff add`")


@contextmanager
def open_account_store(settings) -> Iterator[StaffAccountStore]:
    """The account store for a command or the serving process, outside a worker's Resources: the
    shared database when ``database_url`` is set (its engine is closed on leaving), else
    ``data_dir/staff.sqlite``."""
    if settings.database_url:
        from shopqa.storage.engine import database_engine

        engine = database_engine(settings.database_url, pool_size=1)
        try:
            yield StaffAccountStore(engine=engine)
        finally:
            engine.dispose()
    else:
        store = StaffAccountStore(Path(settings.data_dir) / "staff.sqlite")
        try:
            yield store
        finally:
            store.engine.dispose()
