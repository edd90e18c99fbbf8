"""Ranking passage sentences against a question, and choosing among them: the extractive answer
that replaces a failed generated one, and the focused passages a small model is prompted with."""
from __future__ import annotations

import re

from shopqa.ingest.chunking import count_tokens, split_sentences
from shopqa.ingest.tokenize import tokenize

_CJK = re.compile(r"[\u4e00-\u9fff]")
# How much an earlier turn's words count when ranking sentences for a follow-up.
CONTEXT_WEIGHT = 0.5
# Markdown that reads as noise in a chat bubble: list markers, headings, emphasis, links.
_MD_LEAD = re.compile(r"^\s*(?:[-*+•]\s+|\d{1,2}[.)]\s+|#{1,6}\s+|>\s*)+")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|`)(?=\S)(.+?)(?<=\S)\1")
_MD_LINK = re.compile(r"\[([^\]]+)\]\((?:https?://|/)[^)\s]*\)")
# An FAQ unit is indexed as "Q: question\nA: answer" (ingest/sources/faqs.py); quoted, its
# answer sentence should not start with the label.
_FAQ_ANSWER = re.compile(r"^A:\s+")


def rank_sentences(question: str, passages: list[str], similarity=None,
                   message: str | None = None, meaning_top: int | None = None) -> list[tuple[float, int, int, str]]:
    """Every sentence of the passages as ``(score, passage number, sentence number, sentence)``, best first.

    Sentences are scored by shared content words with the question (weighted by how rare
    they are in the passages), with a small bonus for coming from a higher-ranked passage.
    ``similarity(question, sentences) -> cosines`` (an embedder) adds meaning to the score:
    the answerer passes it when the question and the passages are in different languages,
    where shared words say nothing.

    ``message`` is the customer's own words when ``question`` is a follow-up rewritten with
    the conversation ("How long do refunds take? and for PayPal?"): the earlier turns' words
    then count half, so the new ask leads and the context helps.
    """
    own = set(tokenize(message)) if message else set()
    q = set(tokenize(question)) | own
    weight = {t: (1.0 if not message or t in own else CONTEXT_WEIGHT) for t in q}
    candidates: list[tuple[float, int, int, str]] = []
    df: dict[str, int] = {}
    sentences: list[tuple[int, int, str, set[str]]] = []
    for p_no, passage in enumerate(passages, start=1):
        body = passage.split("\n", 1)[1] if "\n" in passage else passage  # drop the title line
        for s_no, sentence in enumerate(_with_labels(split_sentences(body.replace("\n", " ")))):
            if len(sentence) < 8:
                continue
            toks = set(tokenize(sentence))
            sentences.append((p_no, s_no, sentence, toks))
            for t in toks:
                df[t] = df.get(t, 0) + 1
    n = max(1, len(sentences))
    lexical = [sum(weight[t] / (1 + df[t] / n) for t in toks & q) + 0.3 / p_no - 0.01 * s_no
               for p_no, s_no, _, toks in sentences]
    semantic = [0.0] * len(sentences)
    # Which sentences meaning is measured for: all of them, or the best ``meaning_top`` by
    # shared words (embedding every sentence of long articles costs about 15 ms a sentence).
    measured = (sorted(range(len(sentences)), key=lambda i: -lexical[i])[:meaning_top]
                if meaning_top is not None else list(range(len(sentences))))
    if similarity is not None and len(measured) > 1:
        # Meaning is measured against the whole rewritten query: a short follow-up alone
        # ("那运费呢？") is too little text for the embedder to rank sentences by.
        cos = [float(c) for c in similarity(question, [sentences[i][2] for i in measured])]
        # Multilingual embedders add a same-language bonus to every cosine; centring the
        # cosines within each language removes it, so meaning decides across languages.
        groups: dict[bool, list[float]] = {}
        for i, c in zip(measured, cos):
            groups.setdefault(bool(_CJK.search(sentences[i][2])), []).append(c)
        means = {k: sum(v) / len(v) for k, v in groups.items()}
        cos = [c - means[bool(_CJK.search(sentences[i][2]))] for i, c in zip(measured, cos)]
        low, high = min(cos), max(cos)
        # Rescaled to 0..2 within this answer: e5's cosines sit in a narrow band.
        for i, c in zip(measured, cos):
            semantic[i] = 2.0 * (c - low) / (high - low) if high > low else 0.0
    for (p_no, s_no, sentence, toks), words, meaning in zip(sentences, lexical, semantic):
        score = words + meaning
        candidates.append((score, p_no, s_no, sentence))
    candidates.sort(key=lambda c: -c[0])
    return candidates


def _with_labels(sentences: list[str]) -> list[str]:
    """Sentences with a short label ("Price:", "Compatible with:", "退货地址：") joined to what
    follows it: quoted alone, "34.00 USD (in stock)." or a bare list of SKUs says nothing."""
    out: list[str] = []
    for sentence in sentences:
        if out and out[-1].endswith((":", "：")) and len(out[-1].split()) <= 4 and len(out[-1]) <= 30:
            out[-1] = f"{out[-1]} {sentence}"
        else:
            out.append(sentence)
    return out


def extractive(question: str, passages: list[str], max_sentences: int = 3,
               max_chars: int = 600, similarity=None, ranked=None,
               passage_floor: bool = True) -> list[tuple[int, str]]:
    """The sentences of the passages that best match the question, as ``(passage number, sentence)``.

    ``ranked`` is :func:`rank_sentences` of the same question and passages, if already computed,
    or any ``(score, passage number, sentence number, sentence)`` list, best first (the learned
    scorer's probabilities: then ``passage_floor=False``, as the floor is for word scores).
    """
    candidates = ranked if ranked is not None else rank_sentences(question, passages, similarity)
    chosen: list[tuple[int, int, str]] = []
    used = 0
    top = candidates[0][0] if candidates else 0.0
    for score, p_no, s_no, sentence in candidates:
        # Stop at sentences much weaker than the best one: they add noise, not answers.
        if len(chosen) >= max_sentences or (chosen and ((passage_floor and score <= 0.3 / p_no)
                                                        or score < 0.5 * top)):
            break
        if used + len(sentence) > max_chars and chosen:
            continue
        chosen.append((p_no, s_no, sentence))
        used += len(sentence)
    # An answer often runs on into the next sentence ("We ship to Canada. We do not ship to
    # other countries."): it is quoted too when it shares a word with the question and fits,
    # and always after a sentence that ends in a colon, which promises what follows.
    by_position = {(p, s): sentence for _, p, s, sentence in candidates}
    words = set(tokenize(question))
    said = set().union(*(tokenize(c[2]) for c in chosen)) if chosen else set()
    for p_no, s_no, sentence in list(chosen):
        following = by_position.get((p_no, s_no + 1))
        toks = set(tokenize(following or ""))
        # Not when it repeats what is already quoted ("Orders over 75 USD ship free.").
        if following and (p_no, s_no + 1) not in {(c[0], c[1]) for c in chosen} \
                and (words & toks or sentence.rstrip().endswith((":", "："))) \
                and not toks <= said and used + len(following) <= max_chars:
            chosen.append((p_no, s_no + 1, following))
            used += len(following)
            said |= toks
    chosen.sort(key=lambda c: (c[0], c[1]))  # read in document order
    return [(p, plain(s)) for p, _, s in chosen]


def plain(sentence: str) -> str:
    """A sentence quoted from an article without its Markdown (list markers, emphasis, links),
    or from an FAQ without its "A:" label."""
    text = _MD_LINK.sub(r"\1", _MD_LEAD.sub("", _FAQ_ANSWER.sub("", sentence)))
    return _MD_EMPHASIS.sub(r"\2", text).strip()


def prefer(ranked: list[tuple[float, int, int, str]], preferred: set[int],
           ratio: float = 0.5) -> list[tuple[float, int, int, str]]:
    """``ranked`` cut to the sentences of the ``preferred`` passage numbers, when their best
    sentence scores at least ``ratio`` of the best overall; otherwise ``ranked`` unchanged.

    Past chats answer *one* customer ("so yes, you are still within the window"); quoted to
    another they can state a wrong conclusion. The shop's published articles, FAQs and product
    cards are preferred, and a chat is quoted only when they hold nothing close.
    """
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"ratio must be in (0, 1], got {ratio}")
    if not ranked:
        return ranked
    kept = [c for c in ranked if c[1] in preferred]
    return kept if kept and kept[0][0] >= ratio * ranked[0][0] else ranked


def focus(passages: list[str], ranked: list[tuple[float, int, int, str]], budget_tokens: int,
          count=count_tokens) -> list[str]:
    """Cut each passage down to its title and its best sentences, within ``budget_tokens`` in all.

    A small model evaluates every prompt token before its first output token (SmolLM2-135M:
    about 225 tokens/s on two cores), so the prompt gets the sentences most likely to hold the
    answer instead of whole passages. Sentences are taken best first (``ranked`` from
    :func:`rank_sentences`), each with the sentence after it when that still fits (answers often
    run over two sentences), and are put back in document order. A passage none of whose
    sentences made it comes back as ``""``. ``count(text) -> tokens`` should be the model's own
    tokenizer when there is one (SmolLM2 spends about two tokens on a Chinese character).
    """
    if budget_tokens < 1:
        raise ValueError(f"budget_tokens must be positive, got {budget_tokens}")
    by_position = {(p, s): sentence for _, p, s, sentence in ranked}
    titles = [p.split("\n", 1)[0] if "\n" in p else "" for p in passages]
    chosen: set[tuple[int, int]] = set()
    used = 0
    for _, p_no, s_no, _ in ranked:
        for key in ((p_no, s_no), (p_no, s_no + 1)):
            if key in chosen or key not in by_position:
                continue
            cost = count(by_position[key]) + (0 if any(c[0] == key[0] for c in chosen)
                                              else count(titles[key[0] - 1]))
            if used + cost > budget_tokens:
                continue
            chosen.add(key)
            used += cost
        if used >= budget_tokens:
            break
    out = []
    for p_no in range(1, len(passages) + 1):
        keys = sorted(s for p, s in chosen if p == p_no)
        if not keys:
            out.append("")
            continue
        body = " ".join(by_position[(p_no, s)] for s in keys)
        out.append(f"{titles[p_no - 1]}\n{body}" if titles[p_no - 1] else body)
    return out
