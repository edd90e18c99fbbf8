"""Split articles along headings and paragraphs, with Chinese-aware sentence splitting."""
from __future__ import annotations

import re
from dataclasses import dataclass

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
_CJK_OR_PUNCT = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\uffef]")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’.-][A-Za-z0-9]+)*")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# Sentence ends: CJK punctuation needs no following space; Latin punctuation does.
_SENTENCE_END = re.compile(r"(?<=[。！？；!?])\s*|(?<=[.;:])\s+(?=\S)")


def count_tokens(text: str) -> int:
    """Approximate model tokens: one per CJK character, about 1.3 per Latin word."""
    return len(_CJK.findall(text)) + int(len(_WORD.findall(text)) * 1.3 + 0.5)


def split_sentences(text: str) -> list[str]:
    """Split a paragraph into sentences, for Chinese (。！？) and Latin (. ! ?) text."""
    parts = [p.strip() for p in _SENTENCE_END.split(text)]
    return [p for p in parts if p]


@dataclass
class Section:
    """The text under one heading, with the path of headings above it."""

    headings: list[str]
    paragraphs: list[str]


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
            current = Section([t for _, t in path], [])
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
        current = ""
        for paragraph in section.paragraphs:
            for piece in (_split_long(paragraph, budget) if count_tokens(paragraph) > budget else [paragraph]):
                candidate = f"{current}\n\n{piece}" if current else piece
                if current and count_tokens(candidate) > budget:
                    chunks.append((section.headings, current))
                    current = piece
                else:
                    current = candidate
        if current:
            chunks.append((section.headings, current))
    return chunks


def detect_lang(text: str) -> str:
    """'zh' when CJK characters make up a good share of the text, else 'en'."""
    cjk = len(_CJK.findall(text))
    words = len(_WORD.findall(text))
    return "zh" if cjk and cjk >= words * 0.5 else "en"
