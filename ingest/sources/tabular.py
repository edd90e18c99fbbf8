"""Rows of .csv and .jsonl files, each with its line number, and the helpers parsers share."""
from __future__ import annotations

import csv
import io
import json
import re
from typing import Any, Iterator

from ..records import InputError, Problem


def rows(text: str, rel: str, suffix: str, problems: list[Problem]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line, row)`` for each well-formed row; malformed rows become problems."""
    if suffix == ".csv":
        yield from _csv_rows(text, rel, problems)
    else:
        yield from _jsonl_rows(text, rel, problems)


def _csv_rows(text: str, rel: str, problems: list[Problem]) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise InputError(f"cannot read the CSV header: {exc}", line=1) from exc
    header = [h.strip().lower() for h in header]
    if len(set(header)) != len(header):
        raise InputError(f"duplicate column names in header {header}", line=1)
    line = reader.line_num
    while True:
        start = line + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.append(Problem(rel, start, f"malformed CSV row ({exc}); fix the quoting; skipped"))
            line = reader.line_num
            continue
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            problems.append(Problem(rel, start, f"row has {len(values)} fields but the header has "
                                    f"{len(header)}; quote fields that contain commas; skipped"))
            continue
        yield start, dict(zip(header, (v.strip() for v in values)))


def _jsonl_rows(text: str, rel: str, problems: list[Problem]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(Problem(rel, number, f"invalid JSON ({exc.msg} at column {exc.colno}); skipped"))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem(rel, number, "each line must be a JSON object {...}; skipped"))
            continue
        yield number, {str(k).strip().lower(): v for k, v in obj.items()}


def complete_rows(text: str, rel: str, suffix: str, required: tuple[str, ...],
                  problems: list[Problem]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Like ``rows``, but rows missing a required field are reported and skipped."""
    for line, row in rows(text, rel, suffix, problems):
        missing = require(row, required)
        if missing:
            problems.append(Problem(rel, line, f"missing required field(s) {', '.join(missing)}; skipped"))
            continue
        yield line, row


def require(row: dict[str, Any], fields: tuple[str, ...]) -> list[str]:
    """Names of required fields that are missing or empty in ``row``."""
    return [f for f in fields if row.get(f) is None or str(row.get(f)).strip() == ""]


def as_list(value: Any, sep: str = ";") -> list[str]:
    """A list from a JSON list or a separated string (``a;b;c``)."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(sep) if v.strip()]


def as_bool(value: Any) -> bool | None:
    """Parse yes/no-ish values; None when unrecognised."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "y", "1", "in stock", "是"):
        return True
    if text in ("false", "no", "n", "0", "out of stock", "否"):
        return False
    return None


def norm_key(text: str) -> str:
    """A normalised form for stable keys: case-folded, white space collapsed."""
    return re.sub(r"\s+", " ", text).strip().casefold()
