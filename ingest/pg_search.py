"""Retrieval SQL over one generation schema: dense (pgvector HNSW), keyword (BM25 over the
tsvector of shopqa's tokens) and both fused with reciprocal rank fusion, in one statement.

The fusion is the one app/answering/retrieval.py computes in Python over FAISS and the sparse
BM25 matrix, so both backends rank alike: several dense lists (the whole index, then each other
language) and several keyword lists (the query, then its translations); a unit's credit per
kind is ``1 / (rrf_k + its best rank over that kind's lists)``; it shows the rank and score of
the first list that has it; ties go to the main dense list's order, then to the order in which
the lists first name the unit.
"""
from __future__ import annotations

from dataclasses import dataclass

from .pg_schema import tsquery_literal

UNIT_COLUMNS = "c.id, c.record_key, c.type, c.source, c.title, c.url, c.position, c.lang, c.text, c.meta"


@dataclass(frozen=True)
class Lists:
    """The ranked lists one search fuses: a dense list per language filter (None: every
    language; the first is the main list) and a keyword list per term set."""

    dense_langs: tuple[str | None, ...]
    keyword_terms: tuple[tuple[str, ...], ...]


def dense_sql(schema: str, table: str, lang: bool) -> str:
    """Top ``:n`` rows of ``table`` by inner product with ``:v`` (optionally of language ``:lang``)."""
    where = "WHERE lang = :lang " if lang else ""
    return (f"SELECT id, -(embedding <#> CAST(:v AS vector)) AS score FROM {schema}.{table} {where}"
            f"ORDER BY embedding <#> CAST(:v AS vector) LIMIT :n")


def keyword_sql(schema: str, suffix: str = "") -> str:
    """Top ``:n`` chunks by BM25 for the terms ``:terms{suffix}`` (tsquery ``:q{suffix}``): the GIN
    index finds the chunks with any term, their tsvector gives each term's frequency."""
    return (f"SELECT c.id, sum(t.idf * u.tf * (:k1 + 1) / (u.tf + :k1 * (1 - :b + :b * c.doclen / :avgdl))) AS score "
            f"FROM {schema}.chunks c "
            f"CROSS JOIN LATERAL (SELECT lexeme, cardinality(positions) AS tf FROM unnest(c.tokens)) u "
            f"JOIN {schema}.terms t ON t.term = u.lexeme "
            f"WHERE c.tokens @@ CAST(:q{suffix} AS tsquery) AND u.lexeme = ANY(:terms{suffix}) "
            f"GROUP BY c.id ORDER BY score DESC, c.id LIMIT :n")


def fused_sql(schema: str, lists: Lists, typed: bool) -> tuple[str, dict]:
    """One statement that ranks every list, fuses them and returns the top ``:k`` units (of the
    types ``:types`` when ``typed``) with their fused score and shown ranks; and its extra params."""
    ctes, parts, params = [], [], {}
    for pos, lang in enumerate(lists.dense_langs):
        inner = dense_sql(schema, "chunks", lang is not None).replace(":lang", f":lang{pos}")
        if lang is not None:
            params[f"lang{pos}"] = lang
        ctes.append(f"d{pos} AS (SELECT id, score, row_number() OVER (ORDER BY score DESC, id) AS rank FROM ({inner}) s)")
        parts.append(f"SELECT 'd' AS kind, {pos} AS pos, id, score, rank FROM d{pos}")
    for pos, terms in enumerate(lists.keyword_terms):
        inner = keyword_sql(schema, str(pos))
        params[f"q{pos}"], params[f"terms{pos}"] = tsquery_literal(terms), list(terms)
        ctes.append(f"k{pos} AS (SELECT id, score, row_number() OVER (ORDER BY score DESC, id) AS rank FROM ({inner}) s)")
        parts.append(f"SELECT 'k' AS kind, {pos} AS pos, id, score, rank FROM k{pos}")
    ctes.append("lists AS (" + " UNION ALL ".join(parts) + ")")
    # first_seen: where the Python fusion meets a unit first (dense lists, then keyword lists,
    # each in order), which orders its exact ties.
    ctes.append("per_kind AS (SELECT id, kind, min(rank) AS best, (array_agg(rank ORDER BY pos))[1] AS shown_rank, "
                "(array_agg(score ORDER BY pos))[1] AS shown_score, "
                "min(ARRAY[CASE kind WHEN 'd' THEN 0 ELSE 1 END, pos, rank]) AS first_seen FROM lists GROUP BY id, kind)")
    ctes.append("fused AS (SELECT id, sum(1.0::float8 / (:rrf_k + best)) AS score, min(first_seen) AS first_seen, "
                "max(shown_rank) FILTER (WHERE kind = 'd') AS dense_rank, "
                "max(shown_score) FILTER (WHERE kind = 'd') AS dense_score, "
                "max(shown_rank) FILTER (WHERE kind = 'k') AS keyword_rank, "
                "max(shown_score) FILTER (WHERE kind = 'k') AS keyword_score FROM per_kind GROUP BY id)")
    main = "LEFT JOIN d0 ON d0.id = f.id" if lists.dense_langs else ""
    main_rank = "coalesce(d0.rank, 1000000000), " if lists.dense_langs else ""
    where = "WHERE c.type = ANY(:types)" if typed else ""
    sql = (f"WITH {', '.join(ctes)} "
           f"SELECT {UNIT_COLUMNS}, f.score AS fused_score, f.dense_rank, f.dense_score, f.keyword_rank, "
           f"f.keyword_score FROM fused f JOIN {schema}.chunks c ON c.id = f.id {main} {where} "
           f"ORDER BY f.score DESC, {main_rank}f.first_seen LIMIT :k")
    return sql, params
