"""How the generated-answer checks read text: tokens, numbers, repetition units, shared Markdown
patterns, and the answer cut into sentences with their citations."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from shopqa.ingest.chunking import split_sentences
from shopqa.ingest.tokenize import tokenize

CITATION = re.compile(r"\s*\[\d{1,2}\]")
_CITED = re.compile(r"\[(\d{1,2})\]")
NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Units for repetition: Latin words and numbers whole, CJK one character each (Chinese has no
# spaces, and a repeated product name is a repeated run of characters).
_UNIT = re.compile(r"[a-z0-9]+(?:['’.,-][a-z0-9]+)*|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
MD_LIST_OR_HEADING = re.compile(r"^\s*(?:[-*+•]\s+|\d{1,2}[.)]\s+|#{1,6}\s*|>\s*)")
LIST_ITEM = re.compile(r"^\s*(?:[-*+•]\s+|\d{1,2}[.)]\s+)")
MD_INLINE = re.compile(r"\*\*|__|`")


@dataclass
class AnswerSentence:
    """One sentence of a generated answer, with the passage numbers it cites."""

    plain: str  # without citations
    cites: list[int]
    tokens: set[str]


@lru_cache(maxsize=8192)
def token_set(text: str) -> frozenset[str]:
    """The tokens of ``text``, cached."""
    # Passages repeat across the checks of one answer (and the sentence gate checks the same
    # passages again and again), so tokenizing them once pays for itself.
    return frozenset(tokenize(text))


def number_set(text: str) -> set[str]:
    """The numbers in ``text``, without thousands separators or a trailing full stop."""
    return {n.replace(",", "").rstrip(".") for n in NUMBER.findall(text)}


def _plain(sentence: str) -> str:
    text = CITATION.sub(" ", sentence)
    text = re.sub(r"\s+([.!?。！？,，;；:：])", r"\1", text)
    return re.sub(r"\s{2,}", " ", text).strip()


def split_answer(text: str) -> list[AnswerSentence]:
    """The answer's sentences, each with the citations that follow it ("... days [1].")."""
    text = re.sub(r"([.!?。！？])\s*((?:\[\d{1,2}\]\s*)+)", r" \2\1 ", text)
    out: list[AnswerSentence] = []
    for line in text.splitlines():
        raws: list[str] = []
        for raw in split_sentences(line):
            # "Price: $42." is one statement; split at the colon, "$42." would read as a fragment.
            if raws and raws[-1].rstrip().endswith((":", "：")):
                raws[-1] = f"{raws[-1]} {raw}"
            else:
                raws.append(raw)
        for raw in raws:
            plain = _plain(raw)
            if plain or _CITED.search(raw):
                out.append(AnswerSentence(plain, [int(n) for n in _CITED.findall(raw)], set(token_set(plain))))
    return out


def units_of(text: str) -> list[str]:
    """Repetition units of ``text``: Latin words and numbers whole, CJK characters one each."""
    return _UNIT.findall(CITATION.sub(" ", text).lower())


@lru_cache(maxsize=8192)
def unit_set(text: str) -> frozenset[str]:
    """:func:`units_of` as a set, cached: passages are compared again and again."""
    return frozenset(units_of(text))
