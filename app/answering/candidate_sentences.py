"""The candidate sentences of a passage (what may be quoted as an answer) and their embeddings,
cached once per index generation."""
from __future__ import annotations

import re

import numpy as np

from shopqa.ingest.chunking import split_sentences

# Sentences shorter than this are labels or debris, not facts.
MIN_CHARS = 8
SENTENCE_CHARS = 200  # a sentence's first 200 characters carry its meaning (long log lines cost tokens)


def sentence_vectors(index, texts: list[str]) -> np.ndarray:
    """Passage vectors of ``texts`` by the index's embedder, each sentence embedded once per
    index generation (the cache lives with the loaded index and goes with it)."""
    cache = getattr(index, "_sentence_vectors", None)
    if cache is None:
        cache = index._sentence_vectors = {}
    missing = [t for t in dict.fromkeys(texts) if t not in cache]
    if missing:
        vectors = np.asarray(index.embedder.embed_passages([t[:SENTENCE_CHARS] for t in missing]))
        if len(cache) > 200_000:  # bounded: a huge shop keeps only recent sentences
            cache.clear()
        cache.update(zip(missing, vectors))
    return np.stack([cache[t] for t in texts])


def warm_sentences(index, limit: int = 20_000, batch: int = 64) -> int:
    """Embed the candidate sentences of the index's units ahead of the first questions (run in
    a background thread after warm-up: the first answers then cost no sentence embedding)."""
    texts: list[str] = []
    for text, unit_type, title in index.unit_texts():
        texts.extend(unit_sentences(text, unit_type, title or ""))
        if len(texts) >= limit:
            break
    for start in range(0, len(texts), batch):
        sentence_vectors(index, texts[start:start + batch])
    return len(texts)


def unit_sentences(text: str, unit_type: str, title: str) -> list[str]:
    """A unit's candidates as quoted: a product card's facts name their product ("color: Forest
    Green" alone says nothing of which product it is)."""
    out = passage_sentences(text, unit_type)
    if unit_type == "product" and title:
        out = [s if title.lower() in s.lower() else f"{title}: {s}" for s in out]
    return out


def passage_sentences(text: str, unit_type: str) -> list[str]:
    """The candidate sentences of one passage body (its title line dropped).

    A past chat's customer turns are never candidates: only what the shop's agent said can
    answer another customer. An FAQ's answer stays whole (it is one curated fact).
    """
    body = text.split("\n", 1)[1] if "\n" in text else text
    if unit_type in ("faq", "chat"):
        # "Q: ...\nA: ..." and "Customer: ...\nAgent: ...": only the shop's side is a candidate.
        reply = re.search(r"(?:^|\n)(?:A|Agent):\s*(.*)", text, re.S)
        if reply is None:
            return []
        if unit_type == "faq":
            return [reply.group(1).replace("\n", " ").strip()]
        body = reply.group(1)
    from shopqa.answering.grounding import _with_labels  # the label-joining rule ("Price: 34.00 USD") is grounding's

    return [s for s in _with_labels(split_sentences(body.replace("\n", " "))) if len(s) >= MIN_CHARS]
