"""The quoted reply: the best sentences of the context quoted with their sources (paths
``extractive``, ``extractive_busy``, ``partial``), and the sentence ranking it draws on."""
from __future__ import annotations

import functools
from typing import Callable

from shopqa.answering import grounding
from shopqa.answering.answer_model import PARTIAL
from shopqa.answering.answer_records import Answer, Evidence, Timer, hit_source
from shopqa.answering.candidate_sentences import SENTENCE_CHARS
from shopqa.answering.candidates import select

# Same-language sentences ranked by meaning as well as shared words: the best this many by
# shared words are embedded (about 15 ms each on two cores); across languages, all are.
MEANING_TOP = 12
# The path of an extractive answer given because the model was busy (queue full).
EXTRACTIVE_BUSY = "extractive_busy"


class QuotedReply:
    """The extractive stage of :class:`~shopqa.answering.answer.Answerer` (a mixin: it reads the
    answerer's index and prompts)."""

    def _ranking(self, found: Evidence) -> Callable[[], list]:
        """``() -> [(score, passage, sentence number, sentence)]``, best first, computed once."""
        if found.candidates:
            scored = sorted(found.candidates, key=lambda c: -c.score)
            return functools.cache(lambda: [(c.score, c.p_no, c.s_no, c.text) for c in scored])
        # Ranked once, when first needed (focusing, or the extractive fallback): it embeds up to
        # MEANING_TOP sentences (every one across languages), which a generated answer shown
        # whole passages never needs.
        passages = [h.unit.text for h in found.context_hits]
        cross = any(h.unit.lang != found.lang for h in found.context_hits)
        query, question, vector = found.query, found.question, found.vector
        return functools.cache(lambda: grounding.rank_sentences(
            query, passages, similarity=lambda _, sentences: self._similarity(vector, sentences),
            message=question if query != question else None, meaning_top=None if cross else MEANING_TOP))

    def _similarity(self, query_vector, sentences: list[str]) -> list[float]:
        """Cosine of the query (its embedding) with each sentence, by the index's embedder."""
        # A sentence's first 200 characters carry its meaning; technotes' long log lines would
        # otherwise cost hundreds of tokens each.
        vectors = self.index.embedder.embed_passages([s[:SENTENCE_CHARS] for s in sentences])
        return (vectors @ query_vector).tolist()

    def _quoted(self, found: Evidence, decision: str, ranked, failures: list[str], busy: bool, base: dict,
                timer: Timer) -> Answer:
        """The best sentences quoted with their sources (paths ``extractive``, ``extractive_busy``,
        ``partial``), or abstain when none is worth quoting."""
        context_hits, lang, query = found.context_hits, found.lang, found.query
        published = {n for n, h in enumerate(context_hits, start=1) if h.unit.type != "chat"}
        if found.candidates:
            picked = select(query, grounding.prefer(ranked(), published))
        else:
            picked = grounding.extractive(query, [h.unit.text for h in context_hits],
                                          ranked=grounding.prefer(ranked(), published))
        if not picked:
            return Answer(self.prompts.message("abstain", lang), "abstained", timings_ms=timer.done(),
                          grounding=failures, **base)
        body = " ".join(f"{sentence} [{p}]" for p, sentence in picked)
        if decision == PARTIAL:
            # Not found exactly: say so plainly, quote what comes close, offer a person.
            text = f"{self.prompts.message('partial_intro', lang)} {body} {self.prompts.message('partial_offer', lang)}"
        else:
            text = f"{self.prompts.message('extractive_intro', lang)} {body}"
        cited = sorted({p for p, _ in picked})
        timer.mark("extractive")
        path = "partial" if decision == PARTIAL else EXTRACTIVE_BUSY if busy else "extractive"
        return Answer(text, path, sources=[hit_source(context_hits[p - 1], p) for p in cited],
                      timings_ms=timer.done(), grounding=failures, **base)
