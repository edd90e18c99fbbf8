"""Help-center text rewritten so that each sentence still holds when it is quoted alone.

The answerer quotes single sentences of chunk texts (``split_sentences``). Three layouts
lose their meaning that way, and are rendered here before an article is chunked:

- a table row ("| Canada | 5-10 business days | $19.95 |") says nothing without its header:
  it becomes "Canada: Delivery time (after shipping) 5-10 business days; Shipping $19.95.";
- a list item under a lead-in ("Gold members get:" then "- free standard shipping") holds
  only for what the lead-in says: it becomes "Gold members get: free standard shipping.";
- the first sentence of a short section under a short sub-heading ("## Gold members") gets
  the heading as its label ("Gold members: Standard shipping is free.").

Each rendering ends in a full stop and keeps its label within the sentence, as
:func:`shopqa.ingest.chunking.split_sentences` reads labels.
"""
from __future__ import annotations

import re

from .chunking import (Section, count_tokens, detect_lang, is_label, pack_paragraphs, sections,
                       split_sentences)
from .tokenize import tokenize

# GitHub-flavoured Markdown table: a header row, a delimiter row ("|---|:--:|"), body rows.
_DELIMITER = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`|~~)(?=\S)(.+?)(?<=\S)\1")
_BR = re.compile(r"<br\s*/?>", re.I)
# A first-column value that names nothing on its own ("7", "10.5", "0-2"): its header comes along.
_BARE_NUMBER = re.compile(r"^[\d.,/\-–+ ]+$")
# Second-column headers of key-value tables that add nothing to "Weight: 2 kg".
_GENERIC_HEADERS = frozenset("value values detail details description info information "
                             "值 内容 说明 详情 描述 信息".split())
_ITEM = re.compile(r"^(\s*)(?:[-*+•]|\d{1,2}[.)])\s+(.*)$")
_TRAILING_JOINER = re.compile(r"\s*[,;，；、]\s*(?:and|or|以及|和|或)?\s*$", re.I)
_FULL_STOPS = (".", "!", "?", "。", "！", "？")
# A lead-in repeated in front of every item of its list must stay short: the chunk pays for it
# once per item (a 20-character Chinese lead-in over six items is about 120 tokens).
LEAD_IN_MAX_TOKENS = 24
# A section is short when its text is at most this many tokens. Over a longer section a
# heading names a topic rather than a condition of its first sentence, and a label on that
# one sentence would not reach the others anyway.
SHORT_SECTION_TOKENS = 120


def _is_cjk(text: str) -> bool:
    return detect_lang(text) == "zh"


def _clean_cell(cell: str) -> str:
    """A table cell as plain words: no emphasis markers, line breaks as commas, no closing stop."""
    text = _EMPHASIS.sub(r"\2", _BR.sub(", ", cell.replace("\\|", "|"))).strip()
    return re.sub(r"\s+", " ", text).rstrip(" .;；。")


def _cells(line: str) -> list[str]:
    text = line.strip()
    text = text[1:] if text.startswith("|") else text
    text = text[:-1] if text.endswith("|") and not text.endswith("\\|") else text
    return [_clean_cell(c) for c in _UNESCAPED_PIPE.split(text)]


def render_row(header: list[str], cells: list[str]) -> str:
    """One table row as one labelled sentence: its first cell names the row and every other
    cell keeps its column header, e.g. ``Canada: Delivery time 5-10 business days; Shipping $19.95.``

    A first cell that is a bare number takes its header ("US 7: EU 40; UK 6."); one too long
    to be a label is put after the first header instead ("Service: Original hem (...); Price $20.").
    """
    header = header + [""] * (len(cells) - len(header))
    cells = cells + [""] * (len(header) - len(cells))
    zh = _is_cjk(" ".join(header + cells))
    colon, sep, stop = ("：", "；", "。") if zh else (": ", "; ", ".")
    name, first = cells[0], header[0]
    if name and first and _BARE_NUMBER.match(name):
        name = f"{first} {name}"
    columns = header[1:]
    if len(header) == 2 and columns[0].lower() in _GENERIC_HEADERS:
        columns = [""]  # "Weight: 2 kg", not "Weight: Value 2 kg"
    parts = [f"{h} {v}" if h else v for h, v in zip(columns, cells[1:]) if v]
    if not name:
        return sep.join(parts) + stop if parts else ""
    if not parts:
        return name + stop
    if not is_label(name) and first and is_label(first):
        parts.insert(0, name)
        name = first
    return f"{name}{colon}{sep.join(parts)}{stop}"


def render_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Every row of a table as a sentence (see :func:`render_row`); blank rows are dropped."""
    return [s for s in (render_row(header, [_clean_cell(c) for c in row]) for row in rows) if s]


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A table (read from HTML) written as a Markdown table, for :func:`render_tables` to render;
    an empty ``header`` becomes a row of empty header cells."""
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
    width = max([len(header)] + [len(r) for r in rows]) if (header or rows) else 0
    return "\n".join([line(header or [""] * width), "|" + "---|" * max(width, 1)] + [line(r) for r in rows])


def render_tables(lines: list[str]) -> list[str]:
    """``lines`` with each Markdown table replaced by one sentence per row (a table without
    rows by its header); lines inside fenced code blocks are left alone."""
    out: list[str] = []
    i, in_fence = 0, False
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("```"):
            in_fence = not in_fence
        if (not in_fence and "|" in line and i + 1 < len(lines) and "|" in lines[i + 1]
                and "-" in lines[i + 1] and _DELIMITER.match(lines[i + 1])):
            header = _cells(line)
            j = i + 2
            while j < len(lines) and "|" in lines[j] and lines[j].strip():
                j += 1
            rows = [_cells(row) for row in lines[i + 2:j]]
            out.extend(render_table(header, rows) if rows else [_finish(", ".join(c for c in header if c))])
            i = j
            continue
        out.append(line)
        i += 1
    return out


def _lead_in(line: str) -> tuple[str, str]:
    """``(lead-in, rest of the line)`` when the last sentence of ``line`` ends in a colon and is
    short enough to repeat before every item; else ``("", line)``."""
    raw = line.strip()
    if not re.sub(r"[*_]+$", "", raw).endswith((":", "：")):
        return "", line
    last = split_sentences(raw)[-1]
    lead = _EMPHASIS.sub(r"\2", last).replace("**", "").strip()
    if count_tokens(lead) > LEAD_IN_MAX_TOKENS:
        return "", line
    return lead, raw[: len(raw) - len(last)].rstrip()


def _join(lead: str, text: str) -> str:
    return f"{lead}{text}" if lead.endswith("：") else f"{lead} {text}"


def _finish(text: str) -> str:
    """An item's text as a sentence of its own: a trailing comma or semicolon (with any "and")
    becomes a full stop, and a missing full stop is added."""
    text = _TRAILING_JOINER.sub("", text.rstrip())
    if text.endswith(_FULL_STOPS) or text.endswith((":", "：")):
        return text
    return text + ("。" if _is_cjk(text) else ".")


def _carry_form(lead: str, texts: list[str]) -> str:
    """How ``lead`` goes in front of the item ``texts`` so that it adds no sentence of its own
    (split_sentences would quote a lone lead-in before each item, and each item without it):
    as it is when it is a label ("Insiders get: ..."), else, for a longer Latin lead-in, with a
    dash for its colon ("To be accepted, an item must be — unused ..."). ``""`` when neither
    keeps every item one with its lead-in (an item with a label of its own after a long lead-in)."""
    forms = [lead] + ([lead[:-1].rstrip() + " —"] if lead.endswith(":") else [])
    for form in forms:
        if all(len(split_sentences(_finish(_join(form, t)))) <= len(split_sentences(_finish(t))) for t in texts):
            return form
    return ""


def _items(lines: list[str]) -> list[str]:
    """The texts of the list items in ``lines``, markers dropped and continuation lines joined
    (nested items are items too: the lead-in scopes them as well)."""
    items: list[str] = []
    for line in lines:
        match = _ITEM.match(line)
        if match:
            items.append(match.group(2).strip())
        elif line.strip() and items:
            items[-1] = f"{items[-1]} {line.strip()}"
    return items


def carry_lead_ins(paragraphs: list[str]) -> list[str]:
    """List items after a line ending in a colon become sentences that start with that line.

    "Insiders get:" followed by "- free standard shipping" becomes "Insiders get: free
    standard shipping." (marker dropped, one item a line), and the lead-in line loses the
    sentence every item now repeats. The lead-in may end the paragraph before the list; the
    items of a loose list (blank lines between them) all carry it. A list whose lead-in is too
    long to repeat, or cannot be kept in one sentence with its items (:func:`_carry_form`), is
    left as it is, and so is every list without a lead-in.
    """
    out: list[str] = []
    form = ""  # how the list the previous paragraph ended with carried its lead-in
    for paragraph in paragraphs:
        lines = paragraph.split("\n")
        first = next((k for k, line in enumerate(lines) if _ITEM.match(line)), None)
        if first is None or "```" in paragraph:
            out.append(paragraph)
            form = ""
            continue
        head, items = lines[:first], _items(lines[first:])
        above: list[str] | None = None  # the paragraph above, when it ends with the lead-in
        if head:  # the lead-in is the line right above the list
            lead, rest = _lead_in(head[-1])
            form = _carry_form(lead, items) if lead else ""
            if form:
                head = head[:-1] + ([rest] if rest else [])
        elif form:  # the next items of a loose list
            form = _carry_form(form, items) and form
        elif out and not _ITEM.match(out[-1].split("\n")[-1]):
            lead, rest = _lead_in(out[-1].split("\n")[-1])
            form = _carry_form(lead, items) if lead else ""
            if form:
                above = out[-1].split("\n")[:-1] + ([rest] if rest else [])
        if not form:
            out.append(paragraph)
            continue
        if above is not None:
            out.pop()
            if above:
                out.append("\n".join(above))
        out.append("\n".join(head + [_finish(_join(form, text)) for text in items]))
    return out


def _heading_label(heading: str, paragraph: str) -> str:
    """``paragraph`` with ``heading`` in front of its first sentence as a label, unless the
    sentence already says everything the heading does ("## Refunds" over "Refunds go back...")."""
    first = split_sentences(paragraph.split("\n", 1)[0])[0] if paragraph.strip() else ""
    if not first or set(tokenize(heading)) <= set(tokenize(first)):
        return paragraph
    return f"{heading}：{paragraph}" if _is_cjk(heading) else f"{heading}: {paragraph}"


def _is_prose(paragraph: str) -> bool:
    """Whether ``paragraph`` starts with running text (not a list, quote, table, code or markup)."""
    line = paragraph.split("\n", 1)[0]
    stripped = line.lstrip()
    return bool(stripped) and not (_ITEM.match(line) or stripped.startswith(("|", ">", "```", "<", "#")))


def render_section(section: Section) -> list[str]:
    """The paragraphs of ``section`` with tables, lead-in lists and a scoping heading rendered
    as stand-alone sentences (see the module docstring)."""
    paragraphs = carry_lead_ins(["\n".join(render_tables(p.split("\n"))) for p in section.paragraphs])
    heading = section.headings[-1] if section.headings else ""
    original = [line for p in section.paragraphs for line in p.split("\n")]
    first = paragraphs[0].split("\n", 1)[0] if paragraphs else ""
    # Only a first paragraph of the article's own prose (perhaps without the lead-in its list
    # now carries): a rendered row or item has a label of its own.
    if (first and section.level >= 2 and any(line.startswith(first) for line in original)
            and _is_prose(paragraphs[0]) and is_label(heading)  # short, and no question or sentence
            and not re.search(r"[:：]", heading)  # "15 天：换货" is a label already
            and count_tokens("\n".join(paragraphs)) <= SHORT_SECTION_TOKENS):
        paragraphs[0] = _heading_label(heading, paragraphs[0])
    return paragraphs


def chunk_article(markdown: str, budget: int) -> list[tuple[list[str], str]]:
    """Like :func:`shopqa.ingest.chunking.chunk_markdown`, with each section rendered by
    :func:`render_section` first."""
    chunks: list[tuple[list[str], str]] = []
    for section in sections(markdown):
        paragraphs = [piece for p in render_section(section) for piece in _fact_groups(p, budget)]
        chunks.extend(pack_paragraphs(section.headings, paragraphs, budget))
    return chunks


def _fact_groups(paragraph: str, budget: int) -> list[str]:
    """A paragraph over budget whose lines are whole sentences (rendered rows or items) cut
    between lines, so a long table keeps one row a line instead of being re-flowed."""
    lines = paragraph.split("\n")
    if count_tokens(paragraph) <= budget or len(lines) < 2 or not all(
            line.rstrip().endswith(_FULL_STOPS) for line in lines):
        return [paragraph]
    groups: list[str] = []
    for line in lines:
        if groups and count_tokens(f"{groups[-1]}\n{line}") <= budget:
            groups[-1] = f"{groups[-1]}\n{line}"
        else:
            groups.append(line)
    return groups
