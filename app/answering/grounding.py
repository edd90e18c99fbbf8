"""Grounding check for generated answers, and the sentence gate that streams only grounded text.

A generated answer passes only if it cites passages that exist, every sentence shares
enough content words with the passages it cites (or, uncited, with the whole context),
and every number, price, duration, SKU and date it states appears in the context. The extractive
answer that replaces a failed one is chosen in :mod:`shopqa.answering.passage_sentences`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from shopqa.answering.passage_sentences import (  # noqa: F401 - re-exported for callers
    CONTEXT_WEIGHT, _with_labels, extractive, focus, plain, prefer, rank_sentences)
from shopqa.ingest.chunking import split_sentences
from shopqa.ingest.tokenize import codes, tokenize

_CITATION = re.compile(r"\[(\d{1,2})\]")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
# Refusals and meta-talk are not answers, whatever the context says.
_REFUSAL = re.compile(r"i don'?t know|i do not know|i'?m (?:sorry|unable)|i cannot|unable to provide|as an ai|"
                      r"不知道|无法回答|抱歉", re.I)


_LABEL = re.compile(r"^(?:answer|a|答案?)\s*[:：]\s*", re.I)
# Echoes of the prompt's own layout: the model is reciting, not answering.
_SCAFFOLD = re.compile(r"^\s*\[\d+\]\s|^\s*(?:passages?|question|answer|context|customer question|example)\s*[:：]",
                       re.I | re.M)


@dataclass
class GroundingResult:
    """Whether an answer is grounded, why not, and the answer with its citations."""

    ok: bool
    reasons: list[str] = field(default_factory=list)
    cited: list[int] = field(default_factory=list)
    answer: str = ""


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def check(answer: str, passages: list[str], min_support: float = 0.5) -> GroundingResult:
    """Check ``answer`` against ``passages`` (cited as [1]..[n]).

    A sentence without a citation is attributed to the passage that supports it best
    (small models often copy the right sentence but drop the bracket); if none supports
    it well enough, the answer fails.
    """
    reasons: list[str] = []
    # The few-shot prompt ends examples with "Answer: ..."; a model that repeats the label
    # is answering, not reciting, so the label goes before the checks.
    text = _LABEL.sub("", answer.strip(), count=1).strip()
    if not text:
        return GroundingResult(False, ["empty answer"])
    if _REFUSAL.search(text):
        return GroundingResult(False, ["the model refused or did not know"])
    if _SCAFFOLD.search(text):
        return GroundingResult(False, ["the answer recites the prompt layout"])
    bad = sorted({int(n) for n in _CITATION.findall(text) if not 1 <= int(n) <= len(passages)})
    if bad:
        reasons.append(f"cites passages that do not exist: {bad}")
    context = "\n".join(passages)
    context_numbers = _numbers(context)
    context_codes = set(codes(context))
    passage_tokens = [set(tokenize(p)) for p in passages]
    cited: set[int] = set()
    out: list[str] = []
    for sentence in _sentences_with_citations(text):
        plain = re.sub(r"\s+([.!?。！？,，])", r"\1", _CITATION.sub(" ", sentence)).strip()
        plain = re.sub(r"\s{2,}", " ", plain)
        sentence_cites = [int(n) for n in _CITATION.findall(sentence) if 1 <= int(n) <= len(passages)]
        for number in _numbers(plain) - context_numbers:
            reasons.append(f"number {number!r} is not in the context")
        for code in set(codes(plain)) - context_codes:
            if any(ch.isdigit() for ch in code) and code not in context.lower():
                reasons.append(f"code {code!r} is not in the context")
        words = set(tokenize(plain))
        if len(words) < 2:
            out.append(plain)
            continue
        if not sentence_cites:
            best = max(range(len(passages)), key=lambda i: len(words & passage_tokens[i]), default=None)
            if best is not None:
                sentence_cites = [best + 1]
        marks = "".join(f"[{n}]" for n in dict.fromkeys(sentence_cites))
        end = plain[-1] if plain[-1] in ".!?。！？" else ""
        sentence = f"{plain[:len(plain) - len(end)].rstrip()} {marks}{end}" if marks else plain
        support = set().union(*(passage_tokens[n - 1] for n in sentence_cites)) if sentence_cites else set()
        share = len(words & support) / len(words)
        if share < min_support:
            reasons.append(f"sentence not supported by the context ({share:.0%} of its words): {plain[:80]!r}")
        cited.update(sentence_cites)
        out.append(sentence)
    if not cited and not reasons:
        reasons.append("no sentence could be attributed to a passage")
    joiner = "" if re.search(r"[\u4e00-\u9fff]", text) else " "
    return GroundingResult(not reasons, reasons, sorted(cited), joiner.join(out).strip())


def _sentences_with_citations(text: str) -> list[str]:
    """Split into sentences, keeping a citation that follows the full stop with its sentence."""
    text = re.sub(r"([.!?。！？])\s*((?:\[\d{1,2}\]\s*)+)", r" \2\1 ", text)
    return split_sentences(text)



_BOUNDARY = re.compile(r"(?:[.!?](?=\s)|[。！？])(?:\s*\[\d{1,2}\])*")


class SentenceGate:
    """Stream a generated answer sentence by sentence, and only while it passes the check.

    Tokens are buffered until a sentence ends; the answer so far is then checked against the
    passages and, if grounded, its new part is emitted. The first sentence that fails closes
    the gate: nothing unsupported ever reaches the customer, and the final answer (generated
    or the extractive fallback) replaces what was streamed. ``failed`` then holds the check's
    reasons, so the caller can stop generating: the answer is lost either way.
    """

    def __init__(self, passages: list[str], emit):
        self.passages = passages
        self.emit = emit
        self.buffer = ""
        self.sent = ""
        self.checked = 0
        self.open = True
        self.failed: list[str] = []

    def feed(self, piece: str) -> None:
        """Take the next piece of generated text."""
        self.buffer += piece
        if not self.open:
            return
        ends = [m.end() for m in _BOUNDARY.finditer(self.buffer, self.checked) if m.end() > self.checked]
        for end in ends:  # one sentence at a time, so a bad later sentence cannot hold back a good one
            self.checked = end
            result = check(self.buffer[:end], self.passages)
            if not result.ok:
                self.open, self.failed = False, result.reasons
                return
            if not result.answer.startswith(self.sent):
                # The check re-read earlier sentences differently (e.g. the joiner changed when
                # Chinese text appeared): stop streaming, but let the final check decide.
                self.open = False
                return
            delta = result.answer[len(self.sent):]
            self.sent = result.answer
            if delta:
                self.emit(delta)
