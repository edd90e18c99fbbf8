"""The data that flows from parsers to indexes: source records, their units, and problems."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

# Source types, in the order the summary prints them.
SOURCE_TYPES = ("doc", "faq", "chat", "product", "order")


@dataclass
class Unit:
    """One retrievable piece of text: a doc chunk, an FAQ, a chat Q/A pair or a product card."""

    text: str
    title: str
    position: int = 0
    url: str = ""
    lang: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class SourceRecord:
    """One record of the shop: a document, an FAQ, a conversation, a product or an order.

    ``key`` is stable across edits of the record's content, so an edited record
    replaces its old units instead of adding new ones.
    """

    key: str
    type: str
    source: str
    line: int
    units: list[Unit] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """A hash of everything that reaches an index, so any edit is noticed."""
        payload = {
            "units": [[u.text, u.title, u.position, u.url, u.lang, u.meta] for u in self.units],
            "data": self.data,
            "source": self.source,
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Problem:
    """A malformed input, reported as ``path:line: message`` and skipped."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        # Whole-file problems have no line: "path: message"; row problems "path:line: message".
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


class InputError(Exception):
    """A whole file cannot be read; turned into a Problem by the scanner."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line
