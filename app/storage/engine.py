"""SQLAlchemy engines for the state stores: a SQLite file, or a shared Postgres database.

The stores write the same SQL to both (named parameters, ``ON CONFLICT``, ``RETURNING``; SQLite
has all three since 3.35), and their tables are SQLAlchemy ``Table`` objects, so each dialect
gets its own column types and id sequences from one definition.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event, inspect, text


def sqlite_engine(path: Path) -> Engine:
    """An engine on one SQLite file in WAL mode (readers work while one thread writes); a writer
    waits up to 10 s for another process's write instead of failing at once."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 10, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _wal(dbapi_conn, _record):
        dbapi_conn.execute("PRAGMA journal_mode=WAL")

    return engine


def postgres_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` URLs on the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def database_engine(url: str, pool_size: int = 10) -> Engine:
    """An engine on the shared Postgres database. ``pool_pre_ping``: a connection the database
    dropped (a restart, a failover) is replaced instead of failing a customer's request."""
    if not url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        raise ValueError(f"{url.split('@')[-1]!r}: database_url must be a postgresql:// URL")
    return create_engine(postgres_url(url), pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)


def store_engine(path: Path | None, engine: Engine | None, metadata: MetaData) -> Engine:
    """The engine a store writes to, with ``metadata``'s tables made: the shared database
    ``engine``, or a SQLite file at ``path`` (exactly one of the two)."""
    if (path is None) == (engine is None):
        raise ValueError("give a SQLite path or a database engine, not both")
    engine = engine if engine is not None else sqlite_engine(Path(path))
    create_tables(engine, metadata)
    return engine


def database_error(exc: Exception) -> str:
    """A database failure in one line: its type and the driver's first line, which says what
    failed (refused, auth, missing database) and never holds the password."""
    first = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
    return f"{type(exc).__name__}: {first}"


def is_postgres(engine: Engine) -> bool:
    """True for the shared Postgres database, False for a SQLite file."""
    return engine.dialect.name == "postgresql"


# Any fixed number: the advisory lock under which replicas create shopqa's tables.
_SCHEMA_LOCK = 0x5E09A


def create_tables(engine: Engine, metadata: MetaData) -> None:
    """Create the tables of ``metadata`` that do not exist yet. On Postgres, under an advisory
    lock: replicas starting together would otherwise race in ``CREATE TABLE IF NOT EXISTS``,
    which Postgres does not make atomic (the loser fails on its catalogue's unique index)."""
    if not is_postgres(engine):
        metadata.create_all(engine)
        return
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
        metadata.create_all(conn)


def add_missing_columns(engine: Engine, table: str, columns: dict[str, str],
                        also: dict[str, str] | None = None) -> None:
    """Add the ``columns`` (name -> SQL type) that an older SQLite file's ``table`` lacks, each in
    its own transaction with ``also[name]`` (e.g. the index the column needs), if given.
    Columns that came after the first release reach files made before them this way."""
    have = {c["name"] for c in inspect(engine).get_columns(table)}
    for name, kind in columns.items():
        if name in have:
            continue
        try:
            with engine.begin() as conn:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {kind}"))
                if also and name in also:
                    conn.execute(text(also[name]))
        except Exception as exc:  # another process added it first
            if "duplicate column" not in str(exc):
                raise


def fetch_all(engine: Engine, query: str, **params: Any) -> list[dict[str, Any]]:
    """Every row of ``query`` (named ``:params``) as a dict by column name."""
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(query), params).mappings()]
