"""Help-center articles: .md (optional YAML front matter), .txt and .html."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from ..chunking import detect_lang, setext_to_atx
from ..facts import chunk_article, markdown_table
from ..records import InputError, Problem, SourceRecord, Unit

_SENTENCE_END = (".", "。", "!", "！", "?", "？", ":", "：", ";", "；", ",", "，")
EXTENSIONS = (".md", ".markdown", ".txt", ".html", ".htm")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)
_FIRST_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


class _HTMLToMarkdown(HTMLParser):
    """Keep headings, paragraphs, list items and tables of an HTML page as Markdown-like text.

    A table is written as a Markdown table (its header row is the first row when all its cells
    are ``<th>``), so that :mod:`shopqa.ingest.facts` renders its rows as sentences, as it does a
    Markdown article's; without one, each row is a plain ``| key | value |`` row.
    """

    _BLOCK = {"p", "div", "section", "article", "br", "tr", "table", "ul", "ol", "blockquote", "pre"}
    _SKIP = {"script", "style", "noscript", "template", "svg", "head"}
    _CELL_BREAKS = {"br", "p", "div", "li", "ul", "ol", "tr", "td", "th"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.title = ""
        self._in_title = False
        # The table being read, as rows of (cells, whether every cell is a <th>); None outside one.
        self._rows: list[tuple[list[str], bool]] | None = None
        self._table_depth = 0
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skip_depth += 1
        if self._rows is not None:
            self._table_tag(tag, start=True)
        elif tag == "title":
            self._in_title = True
        elif tag == "table":
            self.parts.append("\n\n")
            self._rows, self._table_depth = [], 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self.skip_depth:
            self.skip_depth -= 1
        if self._rows is not None:
            self._table_tag(tag, start=False)
        elif tag == "title":
            self._in_title = False
        elif re.fullmatch(r"h[1-6]", tag) or tag in self._BLOCK:
            self.parts.append("\n\n")

    def _table_tag(self, tag: str, start: bool) -> None:
        """Collect a table's rows and cells; a table nested in a cell is read as that cell's text."""
        rows = self._rows
        assert rows is not None
        if tag == "table":
            self._table_depth += 1 if start else -1
            if self._table_depth == 0:
                self._end_table()
                return
        if self._table_depth > 1 or (tag not in ("tr", "td", "th") and tag != "caption"):
            if self._in_cell and tag in self._CELL_BREAKS | {"table"}:
                rows[-1][0][-1] += ", " if tag in ("br", "li", "tr", "td", "th") and start else " "
            return
        if tag == "caption":
            # A caption says what the table is about; it stays a line of its own above the rows.
            self.parts.append("\n\n")
        elif tag == "tr":
            self._in_cell = False
            if start:
                rows.append(([], True))
        elif start:  # td, th
            if not rows:
                rows.append(([], True))
            cells, all_th = rows[-1]
            rows[-1] = (cells + [""], all_th and tag == "th")
            self._in_cell = True
        else:
            self._in_cell = False

    def _end_table(self) -> None:
        rows = [(cells, all_th) for cells, all_th in (self._rows or []) if any(c.strip() for c in cells)]
        self._rows, self._in_cell = None, False
        if not rows:
            return
        header, body = (rows[0][0], rows[1:]) if rows[0][1] else ([], rows)
        self.parts.append("\n\n" + markdown_table([_cell_text(c) for c in header],
                                                   [[_cell_text(c) for c in r] for r, _ in body]) + "\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data.strip()
        elif self.skip_depth:
            return
        elif self._rows is not None:
            if self._in_cell and self._rows:
                self._rows[-1][0][-1] += data
            elif data.strip():  # a caption, or text between cells
                self.parts.append(re.sub(r"\s+", " ", data))
        else:
            self.parts.append(re.sub(r"\s+", " ", data))

    def markdown(self) -> str:
        if self._rows is not None:  # a table that was never closed
            self._end_table()
        text = "".join(self.parts)
        text = re.sub(r"[ \t]+\n", "\n", text)
        return re.sub(r"\n{3,}", "\n\n", text).strip()


def _cell_text(cell: str) -> str:
    """A cell's text on one line: line breaks and list items inside it became commas."""
    return re.sub(r"(?:\s*,)+\s*", ", ", re.sub(r"\s+", " ", cell)).strip(" ,")


def _front_matter(text: str, rel: str) -> tuple[dict[str, Any], str, int]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text, 0
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"invalid YAML front matter: {getattr(exc, 'problem', exc)}",
                         line=(mark.line + 2) if mark else 1) from exc
    if not isinstance(meta, dict):
        raise InputError("front matter must be a YAML mapping (key: value lines)", line=2)
    return meta, text[match.end():], match.group(0).count("\n")


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[;,]", value) if v.strip()]
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [str(value)]


def _txt_title(text: str) -> str:
    """A plain-text article whose first line is short, unpunctuated and followed by a blank
    line starts with its title: mark it as a heading, so it names the article instead of
    being read as the first words of its first sentence."""
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return text
    line = lines[first].strip()
    followed_by_blank = first + 1 >= len(lines) or not lines[first + 1].strip()
    if followed_by_blank and len(line) <= 80 and not line.startswith("#") and not line.endswith(_SENTENCE_END):
        lines[first] = f"# {line}"
    return "\n".join(lines)


def parse(path: Path, rel: str, text: str, chunk_tokens: int) -> tuple[list[SourceRecord], list[Problem]]:
    """Parse one article into a record whose units are its chunks."""
    problems: list[Problem] = []
    suffix = path.suffix.lower()
    meta: dict[str, Any] = {}
    html_title = ""
    if suffix in (".html", ".htm"):
        parser = _HTMLToMarkdown()
        parser.feed(text)
        body, html_title = parser.markdown(), parser.title
    elif suffix in (".md", ".markdown"):
        meta, body, _ = _front_matter(text, rel)
        unknown = set(meta) - {"title", "url", "tags", "products", "lang"}
        if unknown:
            problems.append(Problem(rel, 1, f"unknown front matter keys {sorted(unknown)} ignored "
                                    "(known: title, url, tags, products, lang)"))
    else:
        body = _txt_title(text)
    heading = _FIRST_HEADING.search("\n".join(setext_to_atx(body.splitlines())))
    title = str(meta.get("title") or (heading.group(1) if heading else "") or html_title
                or path.stem.replace("-", " ").replace("_", " ")).strip()
    url = str(meta.get("url") or "")
    lang = str(meta.get("lang") or detect_lang(body))
    tags, products = _as_list(meta.get("tags")), _as_list(meta.get("products"))
    chunks = chunk_article(body, chunk_tokens)
    if not chunks:
        raise InputError("no text to index after removing markup")
    units = []
    for pos, (headings, chunk) in enumerate(chunks):
        # The first heading usually repeats the title; keep the rest as a breadcrumb.
        trail = [h for h in headings if h != title]
        context = " > ".join([title, *trail])
        units.append(Unit(text=f"{context}\n{chunk}", title=title, position=pos, url=url, lang=lang,
                          meta={"headings": trail, "tags": tags, "products": products}))
    record = SourceRecord(key=f"doc:{rel}", type="doc", source=rel, line=1, units=units,
                          data={"title": title, "url": url, "tags": tags, "products": products, "lang": lang})
    return [record], problems
