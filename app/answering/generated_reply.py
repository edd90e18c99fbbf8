"""The generated reply: the LLM phrases the best sentences of the context, streamed through
the grounding gate and checked before it is given (path ``generated``)."""
from __future__ import annotations

import re
from typing import Callable

from shopqa.ingest.chunking import count_tokens
from shopqa.ingest.tokenize import tokenize

from shopqa.answering import generation_check
from shopqa.answering import grounding
from shopqa.answering.answer_records import Answer, Evidence, Timer, hit_source
from shopqa.models.llm import LLMBusy
from shopqa.text.prompts import LANG_NAMES


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars].rsplit(" ", 1)[0] + " ..."


class GeneratedReply:
    """The generation stage of :class:`~shopqa.answering.answer.Answerer` (a mixin: it reads the
    answerer's llm, prompts, focus and answer token budgets)."""

    def _generated(self, found: Evidence, history: list[dict], ranked, on_token, upset: bool, base: dict,
                   timer: Timer) -> tuple[Answer | None, list[str], bool]:
        """The LLM phrases the best sentences (path ``generated``); ``(None, why not, busy)``
        when the generation is rejected or the model is busy."""
        question, query, lang, context_hits = found.question, found.query, found.lang, found.context_hits
        passages = [h.unit.text for h in context_hits]
        # The model sees only the best sentences (prompt evaluation dominates time to first
        # token); citations and the grounding check refer to exactly what it saw.
        shown = ([(h, text) for h, text in zip(context_hits, self._focus(passages, ranked)) if text]
                 or list(zip(context_hits, passages)))  # no rankable sentence: show the passages
        seen = [text for _, text in shown]
        # Only sentences that already pass the grounding check are streamed, and generation
        # stops at the first sentence that fails: the extractive answer replaces it anyway.
        gate = grounding.SentenceGate(seen, on_token or (lambda _: None))
        busy = False
        try:
            generated = self._generate(question, query, history, seen, lang, gate, upset)
        except LLMBusy:
            # Busy is not an answer: the passages are here, so quote them at once instead
            # of refusing the customer (the path says the model was skipped).
            busy = True
            generated = ""
        timer.mark("generation")
        check = grounding.check(generated, seen) if not (gate.failed or busy) else None
        if check is not None and check.ok:
            customer = [h["text"] for h in history if h.get("role") == "customer"] + [question]
            extra = generation_check.problems(check.answer, question, seen, customer)
            extra += self._leaves_out(check.answer, found.candidates, question)
            if extra:
                check.ok, check.reasons = False, extra
        timer.mark("grounding")
        if check is not None and check.ok:
            sources = [hit_source(shown[n - 1][0], n) for n in check.cited]
            return Answer(check.answer, "generated", sources=sources, timings_ms=timer.done(), **base), [], False
        failures = ["the answer model was busy"] if busy else (check.reasons if check is not None else gate.failed)
        return None, failures, busy

    @staticmethod
    def _leaves_out(answer: str, candidates: list, question: str) -> list[str]:
        """The model only phrases what was found: a generation that drops the best candidate's
        fact (its numbers, or most of its words) is not that fact, however well grounded."""
        if not candidates:
            return []
        best = max(candidates, key=lambda c: c.score)
        said = set(tokenize(answer))
        words = set(tokenize(best.text)) - set(tokenize(question))
        numbers = set(re.findall(r"(?<![A-Za-z\d.,])\d+(?:[.,]\d+)?(?![A-Za-z\d])", best.text))  # not "X200"
        missing = [n for n in numbers if n not in answer]
        if missing or (words and len(words & said) / len(words) < 0.5):
            return [f"leaves out the best-supported fact: {best.text[:80]!r}"]
        return []

    def _focus(self, passages: list[str], ranked: Callable[[], list]) -> list[str]:
        """The passages cut to their best sentences (``ranked()``), or whole when focusing is off (0)."""
        if not self.focus_tokens:
            return list(passages)
        # The budget is in the model's own tokens when it can count them (CJK costs differ a lot).
        return grounding.focus(passages, ranked(), self.focus_tokens,
                               count=getattr(self.llm, "count_tokens", None) or count_tokens)

    def _generate(self, question: str, query: str, history: list[dict], passages: list[str], lang: str,
                  gate: grounding.SentenceGate, upset: bool = False) -> str:
        language = LANG_NAMES.get(lang, "English")
        context = "\n".join(f"[{i}] {p}" for i, p in enumerate(passages, start=1))
        # Earlier turns are cut short: every prompt token delays the first answer token.
        turns = [f"{'Customer' if h['role'] == 'customer' else 'Assistant'}: {_clip(h['text'], 200)}"
                 for h in history[-4:]]
        history_text = ("Conversation so far:\n" + "\n".join(turns) + "\n") if turns else ""
        system = self.prompts.render("answer_system")
        user = self.prompts.render("answer_user_upset" if upset else "answer_user", context=context, history=history_text, question=question,
                                   language=language)
        pieces: list[str] = []
        stream = self.llm.stream(system, user, self.max_answer_tokens)
        try:
            for piece in stream:
                pieces.append(piece)
                gate.feed(piece)
                if gate.failed:
                    break
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()  # frees the model (and its queue slot) at once, not at garbage collection
        return re.sub(r"\s+\n", "\n", "".join(pieces)).strip()
