"""Split articles along headings and paragraphs, with Chinese-aware sentence splitting."""
from __future__ import annotations

import re
from dataclasses import dataclass

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
_CJK_OR_PUNCT = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\uffef]")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’.-][A-Za-z0-9]+)*")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# Where a sentence may end: CJK punctuation needs no following space, Latin punctuation
# does. A full-width colon never ends one, but is looked at: it may close a label.
_SENTENCE_END = re.compile(r"(?<=[。！？；!?])\s*|(?<=[.;:])\s+(?=\S)|(?<=：)")
# A label ("Price:", "Canada:", "Gold members get:", "广东省内：") has at most this many
# words, a CJK character counting half a word; text in brackets does not count.
LABEL_WORDS = 6
_BRACKETS = re.compile(r"\([^()]*\)|（[^（）]*）|\[([^\]]*)\]\([^)]*\)")
_LEAD_MARKUP = re.compile(r"^\s*(?:[-*+•]\s+|\d{1,2}[.)]\s+|#{1,6}\s+|>\s*)+")
_LIST_ITEM = re.compile(r"(?:[-*+•]|\d{1,2}[.)])\s")
_ENDS = ".!?。！？;；:："


def count_tokens(text: str) -> int:
    """Approximate model tokens: one per CJK character, about 1.3 per Latin word."""
    return len(_CJK.findall(text)) + int(len(_WORD.findall(text)) * 1.3 + 0.5)


def is_label(text: str) -> bool:
    """Whether ``text``, the words before a colon, is short enough to be a label.

    List markers, emphasis and bracketed asides are not counted ("**Original hem (keeps
    the factory hem)**" is a two-word label); text that ends like a sentence is no label.
    """
    core = _BRACKETS.sub(lambda m: m.group(1) or " ", _LEAD_MARKUP.sub("", text)).replace("*", "").strip()
    if not core or core[-1] in _ENDS:
        return False
    return 0 < len(_WORD.findall(core)) + len(_CJK.findall(core)) / 2 <= LABEL_WORDS


def split_sentences(text: str) -> list[str]:
    """Split a paragraph into sentences, for Chinese (。！？；) and Latin (. ! ? ; :) text.

    A sentence that starts with a short label (:func:`is_label`) and a colon runs on to its
    full stop: the label is not split off, and neither are the parts of a labelled fact
    ("Canada: Delivery time 5-10 business days; Shipping $19.95.", "金卡会员：运费 免费；…"),
    which quoted alone would no longer say whom or what they are about. A semicolon followed
    by a list marker still ends it (list items whose lines were joined).
    """
    out: list[str] = []
    start = 0
    labelled = False
    for match in _SENTENCE_END.finditer(text):
        pos = match.start()  # >= 1: every alternative looks behind at a character
        mark = text[pos - 1]
        if mark in ":：":
            # The first colon of a sentence may close its label; later ones are inside it.
            if labelled or is_label(text[start:pos - 1]):
                labelled = True
                continue
            if mark == "：":  # a full-width colon never ends a sentence
                continue
        elif mark in ";；" and labelled and not _LIST_ITEM.match(text, match.end()):
            continue
        sentence = text[start:pos].strip()
        if sentence:
            out.append(sentence)
        start, labelled = match.end(), False
    rest = text[start:].strip()
    if rest:
        out.append(rest)
    return out


@dataclass
class Section:
    """The text under one heading, with the path of headings above it."""

    headings: list[str]
    paragraphs: list[str]
    level: int = 0  # of the section's own heading (1 for "#"); 0 before the first heading


_UNDERLINE = re.compile(r"^\s*(=+|-+)\s*$")


def setext_to_atx(lines: list[str]) -> list[str]:
    """Turn underlined titles ("Title" over "=====" or "-----") into "# Title" / "## Title"."""
    out: list[str] = []
    for line in lines:
        match = _UNDERLINE.match(line)
        if match and out and out[-1].strip() and not out[-1].lstrip().startswith(("#", "-", "*")) \
                and len(match.group(1)) >= 3:
            out[-1] = ("# " if match.group(1)[0] == "=" else "## ") + out[-1].strip()
            continue
        out.append(line)
    return out


def sections(markdown: str) -> list[Section]:
    """Group a Markdown-like text into sections by heading; paragraphs split on blank lines."""
    out: list[Section] = []
    path: list[tuple[int, str]] = []
    current = Section([], [])
    buffer: list[str] = []
    in_fence = False

    def flush_paragraph() -> None:
        if buffer:
            para = "\n".join(buffer).strip()
            if para:
                current.paragraphs.append(para)
            buffer.clear()

    for line in setext_to_atx(markdown.splitlines()):
        if line.strip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            flush_paragraph()
            if current.paragraphs:
                out.append(current)
            level, title = len(match.group(1)), match.group(2).strip()
            path = [(lv, t) for lv, t in path if lv < level] + [(level, title)]
            current = Section([t for _, t in path], [], level)
        elif not line.strip() and not in_fence:
            flush_paragraph()
        else:
            buffer.append(line.rstrip())
    flush_paragraph()
    if current.paragraphs:
        out.append(current)
    return out


def _split_long(paragraph: str, budget: int) -> list[str]:
    """Split a paragraph over budget by sentences, then by hard cuts for endless sentences."""
    pieces: list[str] = []
    current = ""
    for sentence in split_sentences(paragraph):
        while count_tokens(sentence) > budget:
            # A single run-on sentence: cut by characters, keeping words whole where possible.
            cut = max(1, int(len(sentence) * budget / count_tokens(sentence)))
            space = sentence.rfind(" ", 0, cut)
            cut = space if space > cut // 2 else cut
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        joiner = "" if _CJK_OR_PUNCT.search(current[-1:] or "") else " "
        candidate = f"{current}{joiner}{sentence}" if current else sentence
        if current and count_tokens(candidate) > budget:
            pieces.append(current)
            current = sentence
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def chunk_markdown(markdown: str, budget: int) -> list[tuple[list[str], str]]:
    """Return ``(heading path, chunk text)`` pairs of at most about ``budget`` tokens.

    Paragraphs of one section are packed together up to the budget; a chunk
    never spans two sections, so each chunk's heading path describes it.
    """
    chunks: list[tuple[list[str], str]] = []
    for section in sections(markdown):
        chunks.extend(pack_paragraphs(section.headings, section.paragraphs, budget))
    return chunks


def pack_paragraphs(headings: list[str], paragraphs: list[str], budget: int) -> list[tuple[list[str], str]]:
    """The paragraphs of one section packed into ``(headings, chunk text)`` pairs of at most
    about ``budget`` tokens; a paragraph over budget is split by sentences."""
    chunks: list[tuple[list[str], str]] = []
    current = ""
    for paragraph in paragraphs:
        for piece in (_split_long(paragraph, budget) if count_tokens(paragraph) > budget else [paragraph]):
            candidate = f"{current}\n\n{piece}" if current else piece
            if current and count_tokens(candidate) > budget:
                chunks.append((headings, current))
                current = piece
            else:
                current = candidate
    if current:
        chunks.append((headings, current))
    return chunks


def detect_lang(text: str) -> str:
    """'zh' when CJK characters make up a good share of the text, else 'en'."""
    cjk = len(_CJK.findall(text))
    words = len(_WORD.findall(text))
    return "zh" if cjk and cjk >= words * 0.5 else "en"
