"""Checks for generated answers that pass the grounding check but are still not answers.

:func:`app.grounding.check` makes sure every word and number of a generated sentence is in the
passage it cites. A small model (SmolLM2-135M) can satisfy that and still say nothing useful:
it echoes or paraphrases the question, asks a question back, loops on a phrase, copies stray
Markdown table cells, quotes the *customer's* turn of a past chat, or copies a fact without the
condition it holds under ("free standard shipping" from "Gold members get free standard
shipping"). :func:`problems` names each of these, so the caller can fall back to the extractive
answer. Every check is lexical (tokens from :func:`shopqa.ingest.tokenize.tokenize`, jieba for Chinese)
and deliberately conservative: a good answer that quotes or shortens a passage sentence, with
its citation, passes.
"""
from __future__ import annotations

import re

from shopqa.answering.gen_check_dialogue import customer_turns
from shopqa.answering.gen_check_markdown import markdown
from shopqa.answering.gen_check_question import echo, question_shape
from shopqa.answering.gen_check_repetition import repetition
from shopqa.answering.gen_check_scope import dropped_conditions
from shopqa.answering.gen_check_text import CITATION, number_set, split_answer, token_set

__all__ = ["problems"]

# The few-shot prompt ends with "Answer:"; a model that repeats the label is still answering.
_ANSWER_LABEL = re.compile(r"^(?:answer|a|答案?)\s*[:：]\s*", re.I)


def problems(answer: str, question: str, passages: list[str], customer_texts: list[str] = ()) -> list[str]:
    """Why a generated ``answer`` is not a usable answer to ``question``; empty when it is.

    ``passages`` are the texts the model was shown, cited in the answer as [1], [2], ...;
    ``customer_texts`` are the customer's own messages in this conversation (the question
    included). The answer is assumed to have passed :func:`app.grounding.check`; these checks
    catch what that one cannot: the question echoed or paraphrased back, an answer that is a
    question, repetition loops, Markdown fragments, a past chat's customer turn quoted as the
    answer, and a fact stated without the condition ("for Gold members", "满199元") it holds under.
    Each reason is a short human-readable sentence.
    """
    text = _ANSWER_LABEL.sub("", (answer or "").strip(), count=1).strip()
    if not CITATION.sub("", text).strip():
        return ["empty answer"]
    customer = [t for t in customer_texts if t]
    sentences = split_answer(text)
    spoken = [s for s in sentences if s.plain]
    answer_tokens: set[str] = set().union(*(s.tokens for s in spoken)) if spoken else set()
    answer_numbers = number_set(CITATION.sub(" ", text))
    reasons: list[str] = []
    reasons += question_shape(spoken)
    reasons += echo(spoken, answer_tokens, answer_numbers, question or "", customer)
    reasons += repetition(spoken, passages)
    reasons += markdown(spoken, CITATION.sub(" ", text))
    reasons += customer_turns(spoken, passages)
    # What the customer said counts as kept scope: "As a Gold member, is shipping free?" is
    # answered by "Standard shipping is free [1]."
    asked = " ".join([question or "", *customer])
    have = answer_tokens | set(token_set(asked))
    have_numbers = answer_numbers | number_set(asked)
    reasons += dropped_conditions(spoken, passages, have, have_numbers, f"{CITATION.sub(' ', text)}\n{asked}".lower())
    return list(dict.fromkeys(reasons))
