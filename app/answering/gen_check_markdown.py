"""Generated-answer check for Markdown debris: table pipes, stray emphasis, headings, and list
items or cells that are only numbers."""
from __future__ import annotations

import re

from shopqa.answering.gen_check_text import LIST_ITEM, MD_LIST_OR_HEADING, NUMBER, AnswerSentence

_MD_HEADING = re.compile(r"^\s*#{1,6}\s")
_EMPHASIS_NO_WORDS = re.compile(r"(\*\*|__)[^A-Za-z\u3400-\u9fff*_]*?\1")
_WORDY = re.compile(r"[A-Za-z]{2,}|[\u3400-\u4dbf\u4e00-\u9fff]")


def markdown(sentences: list[AnswerSentence], text: str) -> list[str]:
    """Table pipes, stray emphasis, headings, and list items or cells that are only numbers."""
    reasons: list[str] = []
    if "|" in text or "｜" in text:
        reasons.append("contains Markdown table cells ('|')")
    for marker in ("**", "__"):
        if text.count(marker) % 2:
            reasons.append(f"contains a stray Markdown {marker!r}")
    if _EMPHASIS_NO_WORDS.search(text):
        reasons.append("contains Markdown emphasis around a bare number")
    for line in text.splitlines():
        if _MD_HEADING.match(line):
            reasons.append(f"contains a Markdown heading: {line.strip()[:60]!r}")
            break
    for s in sentences:
        body = MD_LIST_OR_HEADING.sub("", s.plain)
        body = re.sub(r"[*_|`#>｜]", " ", body)
        # A "sentence" with digits but no word ("- 5", "$12", "30 |") is a fragment of a list or
        # a table; "30 days" or "满199元" has words and is a terse but real answer.
        if NUMBER.search(body) and not _WORDY.search(body):
            reasons.append(f"a fragment of numbers, not a sentence: {s.plain[:40]!r}")
            break
        if LIST_ITEM.match(s.plain) and len(_WORDY.findall(body)) < 2:
            reasons.append(f"a bare list item: {s.plain[:40]!r}")
            break
    return reasons
