"""The ask inside a long message: what routing and retrieval should read.

A customer who writes a long story before the question ("I bought a jacket last spring for a
trip with my brother ... my question is: how long do I have to return it?") buries the ask:
embedded whole, the message means the story, and the answer follows the story. A person
reading it answers the question, so routing and retrieval read the question sentences (or, with
none, the last sentences, where people put what they want). Sentiment, the stored conversation
and any ticket keep the whole message.
"""
from __future__ import annotations

from shopqa.ingest.chunking import split_sentences

# Messages up to this length are read whole: a few sentences of context help retrieval.
LONG_CHARS = 400
# How much of a long message is kept as its ask (about two or three sentences).
ASK_CHARS = 300
_QUESTION_END = ("?", "？")


def the_ask(message: str, long_chars: int = LONG_CHARS, ask_chars: int = ASK_CHARS) -> str:
    """``message`` itself when it is short; otherwise its question sentences, or its last
    sentences when it asks nothing, cut to about ``ask_chars`` from the end."""
    if ask_chars < 1 or long_chars < ask_chars:
        raise ValueError(f"need 1 <= ask_chars <= long_chars, got {ask_chars} and {long_chars}")
    text = message.strip()
    if len(text) <= long_chars:
        return message
    sentences = [s for line in text.splitlines() for s in split_sentences(line)]
    picked = [s for s in sentences if s.rstrip().endswith(_QUESTION_END)] or sentences
    kept: list[str] = []
    used = 0
    for sentence in reversed(picked):  # the last ones first: the ask usually ends the message
        if kept and used + len(sentence) > ask_chars:
            break
        kept.insert(0, sentence)
        used += len(sentence)
    ask = " ".join(kept)
    return ask if len(ask) <= ask_chars else ask[-ask_chars:]
