"""Passages cut into pieces for the scope check: sentences and table rows, each with the scope
over it from a label, a lead-in line or a row name."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from shopqa.answering.gen_check_qualifiers import QUALIFIER_HINT, Clause, Qualifier, clauses_of, find_qualifiers
from shopqa.answering.gen_check_text import CJK, LIST_ITEM, MD_INLINE, number_set, token_set

# Table rows: flattened by grounding.focus, one row ends with "|" and the next starts with "|".
_ROW_BREAK = re.compile(r"\|\s+\|(?=\s*[^|\s])")
_SEPARATOR_CELL = re.compile(r"^:?-{2,}:?$")
_PASSAGE_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)|(?<=[。！？])")


@dataclass(frozen=True)
class Piece:
    """A sentence or table row of a passage, and the scope over it. Its tokens and clauses are
    worked out only when an answer sentence needs them (jieba is the expensive part)."""

    passage: int
    text: str  # without Markdown emphasis
    body: str  # the text after its label, if it has one
    lead: tuple[Qualifier, ...]  # from its label, a lead-in line ("Gold members get:") or a row name
    row: bool = False  # a Markdown table row
    row_tokens: frozenset[str] = frozenset()
    distinct: tuple[tuple[frozenset[str], frozenset[str]], ...] = ()  # a row's distinctive cells

    @property
    def tokens(self) -> frozenset[str]:
        """The piece's tokens."""
        return self.row_tokens if self.row else token_set(self.text)

    @property
    def clauses(self) -> tuple[Clause, ...]:
        """The piece's clauses (none for a table row)."""
        return () if self.row else clauses_of(self.body)

    @property
    def scoped(self) -> bool:
        """Whether anything in or over the piece limits its scope."""
        return bool(self.lead) or (not self.row and bool(QUALIFIER_HINT.search(self.body))
                                   and any(c.qualifiers for c in self.clauses))


# Labels: the words before the first colon (not a time's "9:00"), at most six words, a CJK
# character counting half, bracketed asides not counted.
_LABEL_COLON = re.compile(r"[:：](?!\d)")
_LABEL_WORDS = 6
_BRACKETED = re.compile(r"\([^()]*\)|（[^（）]*）")
_LATIN_WORD = re.compile(r"[A-Za-z0-9]+(?:['’.-][A-Za-z0-9]+)*")


def _label(sentence: str) -> tuple[str, str]:
    """``(label, rest)`` for a sentence that starts with a short label and a colon ("Gold
    members get: ...", "Singapore: Standard shipping S$4.90; ...", "金卡会员：..."), else ``("", sentence)``."""
    m = _LABEL_COLON.search(sentence)
    if not m:
        return "", sentence
    core = MD_INLINE.sub("", LIST_ITEM.sub("", sentence[:m.start()])).strip()
    bare = _BRACKETED.sub(" ", core)
    size = len(_LATIN_WORD.findall(bare)) + len(CJK.findall(bare)) / 2
    if not core or core[-1] in ".!?。！？" or not 0 < size <= _LABEL_WORDS:
        return "", sentence
    return core, sentence[m.end():]


# A rendered table row: ";"-separated parts, each headed by its column's first word.
_PARTS = re.compile(r"\s*[;；]\s*")
_HEAD_WORD = re.compile(r"[A-Za-z]+|[\u3400-\u9fff]{1,2}")


def _signature(body: str) -> tuple[str, ...]:
    """The first word of each ";"-separated part: the column headers of a rendered table row."""
    parts = [p for p in _PARTS.split(body) if p.strip()]
    if len(parts) < 2:
        return ()
    return tuple(m.group(0).lower() if (m := _HEAD_WORD.search(p)) else "" for p in parts)


def _table_pieces(number: int, rows: list[list[str]]) -> list[Piece]:
    """Data rows of a Markdown table; each row's first cell scopes the rest ("Singapore | S$4.90")."""
    header: list[str] = []
    data: list[list[str]] = []
    for i, cells in enumerate(rows):
        if all(_SEPARATOR_CELL.match(c) for c in cells if c):
            continue
        if i == 0 and len(rows) > 1 and all(_SEPARATOR_CELL.match(c) for c in rows[1] if c):
            header = cells
            continue
        data.append(cells)
    header_tokens = token_set(" ".join(header))
    pieces = []
    for cells in data:
        if len(cells) < 2:
            continue
        key, rest = cells[0], cells[1:]
        key_tokens = token_set(key)
        tokens = token_set(" ".join(cells)) | header_tokens
        lead: tuple[Qualifier, ...] = ()
        distinct = []
        # The key scopes the row only when it tells rows apart by a name, not a number.
        if len(data) >= 2 and key_tokens and number_set(key) != set(key_tokens):
            lead = (Qualifier(key, key_tokens, 1),)
            for col, cell in enumerate(rest, start=1):
                others = {other[col] for other in data if other is not cells and len(other) > col}
                if cell and cell not in others and cell not in ("-", "—"):
                    distinct.append((token_set(cell), frozenset(number_set(cell))))
        text = " | ".join(cells)
        pieces.append(Piece(number, text, text, lead, True, tokens, tuple(distinct)))
    return pieces


@lru_cache(maxsize=512)
def passage_pieces(number: int, passage: str) -> tuple[Piece, ...]:
    """A passage's sentences and table rows, with clauses, qualifiers and the scope over them.

    Scope over a whole sentence comes from its label ("Gold members get: free shipping.";
    ingest renders list items under a lead-in that way), from a lead-in sentence before list
    items, or, for a table row ("Singapore: Standard shipping S$4.90; Free shipping from S$60."
    as ingest renders it, or a Markdown row), from the row's name.
    """
    pieces: list[Piece] = []
    prose: list[str] = []
    table: list[list[str]] = []
    for line in _ROW_BREAK.sub("|\n|", passage).splitlines():
        stripped = line.strip()
        if stripped.count("|") >= 2:
            before, _, rest = stripped.partition("|")
            if before.strip():
                prose.extend(_split_passage(before))
            # A flattened table's last row runs on into the prose after the table.
            row, _, after = rest.rpartition("|")
            table.append([c.strip() for c in row.split("|")])
            if after.strip():
                pieces.extend(_table_pieces(number, table))
                table = []
                prose.extend(_split_passage(after))
            continue
        if table:
            pieces.extend(_table_pieces(number, table))
            table = []
        prose.extend(_split_passage(stripped))
    if table:
        pieces.extend(_table_pieces(number, table))
    labelled = [_label(sentence) for sentence in prose]
    shapes = Counter(sig for sig in (_signature(body) for label, body in labelled if label) if sig)
    lead: tuple[Qualifier, ...] = ()
    previous = ""
    for sentence, (label, body) in zip(prose, labelled):
        if not (LIST_ITEM.match(sentence) or previous.endswith((";", "；", ":", "："))):
            lead = ()
        own: tuple[Qualifier, ...] = ()
        if label:
            quals = tuple(q for _, _, q in find_qualifiers(label))
            if quals:
                own = quals
            elif shapes.get(_signature(body), 0) >= 2:
                # Rows of one table share their column headers; the row's name scopes its cells.
                own = (Qualifier(label, token_set(label), 1),)
        if body.strip():
            pieces.append(Piece(number, MD_INLINE.sub("", sentence), body, own + lead))
        stripped = sentence.rstrip()
        if stripped.endswith((":", "：")):
            # A lead-in that is nothing but its scope ("Insiders get:", "金卡会员可享受：") scopes
            # the items after it; "Choose kerbside delivery only if ...: a sofa needs two adults"
            # does not.
            clauses = clauses_of(body) if QUALIFIER_HINT.search(body) else ()
            if not body.strip() and own:
                lead = own
            elif clauses and clauses[-1].pure:
                lead = clauses[-1].qualifiers
        previous = stripped
    return tuple(pieces)


def _split_passage(text: str) -> list[str]:
    """Sentences of passage text, cut at full stops only: a colon or a semicolon inside a
    sentence separates a label or the parts of one fact, which :func:`clauses_of` reads."""
    return [p.strip() for p in _PASSAGE_SENTENCE.split(text) if p.strip()]
