"""The index in Postgres: one schema per generation, and the tables that name the live one.

A generation is what a generation folder is on disk, as a schema ``shopqa_gen_NNNNNN``:
``chunks`` (the units, with an HNSW ``vector`` column and a ``tsvector`` of shopqa's own
tokens), ``questions`` (FAQ question vectors), ``terms`` (document frequencies for BM25),
``products``, ``orders`` and ``files`` (the product graph and the shop files the service
reads). ``shopqa_index_generations`` lists them with their manifests and
``shopqa_index_live`` names the live one: ingest writes a schema and moves that pointer in one
transaction, so a replica sees the old generation or the new one, never half of one.

Postgres has no Chinese parser, and its ``english`` one would split SKUs: the ``tsvector`` is
written from the tokens ingest already made (jieba words, SKUs whole), as a literal.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable

GENERATIONS = "shopqa_index_generations"
LIVE = "shopqa_index_live"
SCHEMA_PREFIX = "shopqa_gen_"
# Any fixed number: the advisory lock under which ingests publish (one at a time).
PUBLISH_LOCK = 0x5E09B
# tsvector limits: a lexeme of at most 2046 bytes, at most 256 positions per lexeme.
MAX_LEXEME_BYTES = 2046
MAX_POSITIONS = 256

CONTROL_DDL = (
    "CREATE EXTENSION IF NOT EXISTS vector",
    f"""CREATE TABLE IF NOT EXISTS {GENERATIONS} (
        number integer PRIMARY KEY, source text NOT NULL, manifest text NOT NULL,
        published_at timestamptz NOT NULL DEFAULT now())""",
    f"""CREATE TABLE IF NOT EXISTS {LIVE} (
        id integer PRIMARY KEY CHECK (id = 1), number integer NOT NULL REFERENCES {GENERATIONS}(number))""",
)


def schema_name(number: int) -> str:
    """The schema that holds generation ``number``."""
    return f"{SCHEMA_PREFIX}{int(number):06d}"


def generation_ddl(schema: str, dim: int) -> list[str]:
    """The tables of one generation (indexes are made after the rows are in: faster)."""
    return [
        f"CREATE SCHEMA {schema}",
        f"""CREATE TABLE {schema}.chunks (
            id integer PRIMARY KEY, record_key text NOT NULL, type text NOT NULL, source text NOT NULL,
            title text NOT NULL, url text NOT NULL, position integer NOT NULL, lang text NOT NULL,
            text text NOT NULL, meta text NOT NULL, doclen integer NOT NULL, tokens tsvector NOT NULL,
            embedding vector({int(dim)}) NOT NULL)""",
        f"CREATE TABLE {schema}.questions (id integer PRIMARY KEY, embedding vector({int(dim)}) NOT NULL)",
        f"CREATE TABLE {schema}.terms (term text PRIMARY KEY, df integer NOT NULL, idf double precision NOT NULL)",
        f"CREATE TABLE {schema}.products (sku text PRIMARY KEY, name text NOT NULL, data text NOT NULL)",
        f"""CREATE TABLE {schema}.orders (
            order_id text PRIMARY KEY, email text NOT NULL, status text NOT NULL, placed_at text NOT NULL,
            shipped_at text, carrier text, tracking text, address text, total double precision,
            items text NOT NULL, source text NOT NULL)""",
        f"CREATE TABLE {schema}.files (name text PRIMARY KEY, content bytea NOT NULL)",
    ]


def generation_indexes(schema: str) -> list[str]:
    """HNSW on the vectors (inner product: the vectors are normalised, as FAISS's IndexFlatIP
    expects), GIN on the tokens, and the lookups the answer path makes."""
    return [
        f"CREATE INDEX ON {schema}.chunks USING hnsw (embedding vector_ip_ops)",
        f"CREATE INDEX ON {schema}.chunks USING gin (tokens)",
        f"CREATE INDEX ON {schema}.chunks (record_key)",
        f"CREATE INDEX ON {schema}.questions USING hnsw (embedding vector_ip_ops)",
        f"CREATE INDEX ON {schema}.orders (email)",
    ]


def vector_literal(vector: Iterable[float]) -> str:
    """pgvector's text form of a vector."""
    return "[" + ",".join(f"{float(x):.8g}" for x in vector) + "]"


def _quote(token: str) -> str:
    """A lexeme quoted for a tsvector or tsquery literal."""
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def _usable(token: str) -> bool:
    return bool(token) and len(token.encode("utf-8")) <= MAX_LEXEME_BYTES


def tsvector_literal(tokens: Iterable[str]) -> str:
    """A tsvector whose lexemes are exactly ``tokens``, each with as many positions as it occurs
    (BM25 reads a term's frequency as its number of positions)."""
    counts = Counter(t for t in tokens if _usable(t))
    return " ".join(f"{_quote(t)}:{','.join(str(p) for p in range(1, min(n, MAX_POSITIONS) + 1))}"
                    for t, n in counts.items())


def tsquery_literal(terms: Iterable[str]) -> str:
    """A tsquery matching any of ``terms`` ('' when there is none)."""
    return " | ".join(_quote(t) for t in dict.fromkeys(terms) if _usable(t))
