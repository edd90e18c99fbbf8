"""Generated-answer check for quoted customer turns: a sentence copied from the customer's side
of a past chat (or an FAQ's question) instead of from its answer."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from shopqa.answering.gen_check_text import AnswerSentence, token_set, units_of

# Past chats are indexed as "Customer: ...\nAgent: ..." (ingest/sources/chats.py) and FAQs as
# "Q: ...\nA: ..." (ingest/sources/faqs.py). When the model is shown focused passages
# (grounding.focus) the first line is kept as a title and the agent's sentences follow it
# without their label, so unlabelled text after the first line is the answering side.
_ASKER = re.compile(r"^(?:customer|client|buyer|user|q|question|客户|顾客|买家|用户|问)$", re.I)
_TURN_LABEL = re.compile(r"(?:^|(?<=\s))(customer|client|buyer|user|agent|support|staff|assistant|q|a|question|answer|"
                         r"客户|顾客|买家|用户|客服|问|答)\s*[:：]\s*", re.I)
_DIALOGUE = re.compile(r"^\s*(?:customer|client|buyer|q|客户|顾客|买家|问)\s*[:：]", re.I | re.M)
_ASKER_LABEL_START = re.compile(r"^\s*(?:customer|client|buyer|客户|顾客|买家)\s*[:：]", re.I)


@dataclass(frozen=True)
class _Dialogue:
    """The asking and answering sides of a chat or FAQ passage, as tokens and adjacent pairs."""

    asker: frozenset[str]
    answerer: frozenset[str]
    asker_pairs: frozenset[tuple[str, str]]  # adjacent words (characters in Chinese) of each side
    answerer_pairs: frozenset[tuple[str, str]]


@lru_cache(maxsize=512)
def _dialogue(passage: str) -> _Dialogue | None:
    """The asking and answering sides of a chat ("Customer:/Agent:") or FAQ ("Q:/A:") passage."""
    if not _DIALOGUE.search(passage):
        return None
    lines = [line for line in passage.splitlines() if line.strip()]
    # Whole units label every turn; a focused one keeps the customer line as its title and
    # may have lost the agent's label with the agent's first sentence.
    labelled_answer = any(not _ASKER.match(m.group(1)) for line in lines[1:] for m in _TURN_LABEL.finditer(line))
    sides: dict[str, list[str]] = {"ask": [], "answer": []}
    role = None
    for i, line in enumerate(lines):
        matches = list(_TURN_LABEL.finditer(line))
        head = line[:matches[0].start()] if matches else line
        if head.strip():
            side = (role if labelled_answer else "answer") if i > 0 else role
            if side:
                sides[side].append(head)
        for j, m in enumerate(matches):
            role = "ask" if _ASKER.match(m.group(1)) else "answer"
            sides[role].append(line[m.end():matches[j + 1].start() if j + 1 < len(matches) else len(line)])
    if not sides["ask"]:
        return None
    ask, answer = " ".join(sides["ask"]), " ".join(sides["answer"])
    return _Dialogue(token_set(ask), token_set(answer), _pairs(ask), _pairs(answer))


def _pairs(text: str) -> frozenset[tuple[str, str]]:
    units = units_of(text)
    return frozenset(zip(units, units[1:]))


def customer_turns(sentences: list[AnswerSentence], passages: list[str]) -> list[str]:
    """A sentence taken from a past chat's customer turn (or an FAQ's question), not its answer."""
    reasons: list[str] = []
    # Parsed (and tokenized) only when a sentence cites the chat, or cites nothing.
    dialogues = [i for i, p in enumerate(passages, start=1) if _DIALOGUE.search(p)]
    for s in sentences:
        if _ASKER_LABEL_START.match(s.plain):
            reasons.append(f"quotes a customer's turn: {s.plain[:80]!r}")
            continue
        if not dialogues or len(s.tokens) < 3:
            continue
        cited = [n for n in s.cites if n in dialogues] or (dialogues if not s.cites else [])
        pairs = _pairs(s.plain)
        for n in cited:
            d = _dialogue(passages[n - 1])
            if d is None:
                continue
            asked = s.tokens & d.asker
            only_asked = asked - d.answerer
            only_answered = (s.tokens & d.answerer) - d.asker
            # Mostly the customer's words, and words only the customer used outweigh words only
            # the agent used: the model copied the question side of the chat.
            by_words = len(asked) >= 0.6 * len(s.tokens) and len(only_asked) >= 2 \
                and len(only_asked) > 2 * len(only_answered)
            # Or it runs along the customer's wording ("I just ordered a ... but I meant XL"),
            # whose telling words (I, my, but) are stop words to the tokenizer.
            by_wording = False
            if len(pairs) >= 3:
                from_asker = len(pairs & d.asker_pairs) / len(pairs)
                by_wording = from_asker >= 0.6 and from_asker >= len(pairs & d.answerer_pairs) / len(pairs) + 0.3
            if by_words or by_wording:
                reasons.append(f"quotes the customer's side of a past chat [{n}], not the answer: {s.plain[:80]!r}")
                break
    return reasons
