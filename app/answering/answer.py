"""Answer a customer question, preferring in this order:

1. catalogue facts from the product graph (compatibility, price, stock): path ``graph``;
2. a curated FAQ answer, verbatim, when an FAQ question matches above the calibrated
   threshold (no LLM): path ``curated``;
3. ``abstained`` when retrieval confidence is below the calibrated threshold;
4. an LLM answer from the retrieved context that passes the grounding check: ``generated``;
5. otherwise the most relevant sentences of the top passages, cited: ``extractive``.

Every answer records its path, sources and stage timings.
"""
from __future__ import annotations

from typing import Callable

from shopqa.ingest.chunking import detect_lang
from shopqa.ingest.index import ShopIndex

from shopqa.answering import rewrite
from shopqa.answering.answer_model import ABSTAIN, ANSWER, AnswerModel
from shopqa.answering.answer_records import Answer, Evidence, Thresholds, Timer  # Thresholds re-exported for callers
from shopqa.answering.evidence_gathering import EvidenceGathering
from shopqa.answering.generated_reply import GeneratedReply
from shopqa.answering.quoted_reply import QuotedReply
from shopqa.answering.retrieval import HybridRetriever
from shopqa.catalogue import products
from shopqa.catalogue.answers import CatalogueAnswers
from shopqa.catalogue.catalogue import Catalogue
from shopqa.models.llm import LLM
from shopqa.text.prompts import Prompts


class Answerer(EvidenceGathering, GeneratedReply, QuotedReply):
    """The answer pipeline over one loaded index; cheap to build per request."""

    def __init__(self, index: ShopIndex, llm: LLM | None, prompts: Prompts, thresholds: Thresholds,
                 matcher: products.ProductMatcher | None = None, context_tokens: int = 1500,
                 max_answer_tokens: int = 200, top_k: int = 6, reranker=None, focus_tokens: int = 0,
                 model: AnswerModel | None = None, catalogue: Catalogue | None = None):
        if context_tokens < 100 or top_k < 1 or focus_tokens < 0:
            raise ValueError("context_tokens >= 100, top_k >= 1 and focus_tokens >= 0 are required")
        self.index = index
        self.llm = llm
        self.prompts = prompts
        self.thresholds = thresholds
        self.matcher = matcher or products.ProductMatcher(index.graph)
        # The catalogue as data (built once per index generation by Resources; here for tests).
        self.catalogue = catalogue or Catalogue(index.graph, self.matcher.tokens)
        self.catalogue_answers = CatalogueAnswers(index.graph, self.catalogue, self.matcher, prompts)
        self.retriever = HybridRetriever(index)
        self.context_tokens = context_tokens
        self.max_answer_tokens = max_answer_tokens
        self.top_k = top_k
        self.reranker = reranker
        self.focus_tokens = focus_tokens
        # The learned candidate scorer and answerability decision (fitted for one embedder);
        # without it, sentences are ranked by shared words and meaning and one similarity
        # threshold decides when to abstain.
        self.model = model

    def answer(self, question: str, history: list[dict] | None = None,
               on_token: Callable[[str], None] | None = None, upset: bool = False,
               message_vector=None) -> Answer:
        """Answer ``question`` given the conversation so far (oldest first).

        The stages, each a method here or in a mixin: the catalogue answers from the graph
        alone; otherwise retrieval (``gather``), an attribute the product card lacks, a curated
        FAQ, the answer/partial/abstain decision, the LLM's grounded phrasing, and the quoted
        sentences.
        ``upset`` (negative sentiment) switches the generation prompt to answer_user_upset;
        ``message_vector`` is the question's query embedding if the caller already has it.
        """
        history = history or []
        timer = Timer()
        named = self.mentions(question, history)
        lang = detect_lang(question)
        catalogue = self._from_catalogue(question, history, named, lang, timer)
        if catalogue is not None:
            return catalogue
        # Candidates cost embedding their sentences: built only once no earlier stage answered.
        found = self.gather(question, history, message_vector, mentions=named, with_candidates=False)
        timer.mark("retrieval")
        base = dict(lang=found.lang, standalone=found.query, confidence=found.confidence,
                    products=[m.sku for m in found.mentions])
        early = self._unlisted(found, base, timer) or self._curated_answer(found, base, timer)
        if early is not None:
            return early
        if self.model is not None and found.context_hits:
            self.add_candidates(found)
        decision = self._decide(found, base, timer)
        if not found.hits or decision == ABSTAIN:
            return Answer(self.prompts.message("abstain", found.lang), "abstained", timings_ms=timer.done(), **base)
        ranked = self._ranking(found)
        failures: list[str] = []
        busy = False
        if self.llm is not None and decision == ANSWER:
            generated, failures, busy = self._generated(found, history, ranked, on_token, upset, base, timer)
            if generated is not None:
                return generated
        return self._quoted(found, decision, ranked, failures, busy, base, timer)

    # -- the stages -------------------------------------------------------------------------
    def _from_catalogue(self, question: str, history: list[dict], named: tuple[list[products.Mention], bool],
                        lang: str, timer: Timer) -> Answer | None:
        """The catalogue's own answer (path ``graph``), before anything is retrieved."""
        mentions, from_history = named
        catalogue = self.catalogue_answers.answer(question, mentions, lang, from_history=from_history)
        if not catalogue:
            return None
        timer.mark("catalogue")
        # The products shown are what "cheaper?" or "does it come in black?" refers to next.
        return Answer(catalogue.text, "graph", sources=self.card_sources(catalogue.skus), lang=lang,
                      standalone=rewrite.standalone(question, history, [m.sku for m in mentions]),
                      confidence=1.0, products=catalogue.skus or [m.sku for m in mentions],
                      timings_ms=timer.done())

    def _unlisted(self, found: Evidence, base: dict, timer: Timer) -> Answer | None:
        """Asked for something the catalogue row does not give: unless a help-center passage
        speaks of it, say so instead of quoting the product card's other facts."""
        unlisted = self.catalogue_answers.unlisted(found.question, found.mentions, found.from_history)
        if not unlisted:
            return None
        sku, what = unlisted
        concept = self.catalogue.concepts[what]
        elsewhere = [h for h in found.context_hits if h.unit.record_key != f"product:{sku}"
                     and self.catalogue.mentions(concept, h.unit.text)]
        if elsewhere:
            return None
        p = self.catalogue.products[sku]
        text = self.prompts.message("attribute_unlisted", found.lang, name=p.name, sku=sku,
                                    what=what.replace("_", " "))
        return Answer(text, "abstained", sources=self.card_sources([sku]), timings_ms=timer.done(), **base)

    def _curated_answer(self, found: Evidence, base: dict, timer: Timer) -> Answer | None:
        """A curated FAQ above the calibrated threshold, verbatim (path ``curated``)."""
        curated = self._curated(found.faq_matches, found.lang, found.question)
        if not curated:
            return None
        text, source = curated
        return Answer(text, "curated", sources=[source], timings_ms=timer.done(), **base)

    def _decide(self, found: Evidence, base: dict, timer: Timer) -> str:
        """answer, partial or abstain: the fitted decision, or without a model the calibrated
        dense threshold (``base["confidence"]`` becomes P(answerable) when there is one)."""
        if self.model is not None and found.candidates:
            decision, p, _ = self.assess(found)
            base["confidence"] = p
            timer.mark("assess")
            return decision
        if self.model is not None or found.confidence < self.thresholds.abstain:
            return ABSTAIN
        return ANSWER

    # -- the steps ------------------------------------------------------------------------
    def _curated(self, matches: list[tuple[int, float]], lang: str, question: str) -> tuple[str, dict] | None:
        above = [(uid, score) for uid, score in matches if score >= self.thresholds.curated]
        if not above:
            return None
        units = self.index.units([uid for uid, _ in above])
        # An FAQ about another product or category is not this question's answer, however close
        # the wording ("Are the Summit boots waterproof?" for "Is the Trailhead tent waterproof?"):
        # its fact may not hold here, so the question goes to retrieval instead.
        above = [m for m in above if not self.matcher.names_other_things(question, units[m[0]].title)]
        if not above:
            return None
        # Among FAQs above the threshold, prefer one in the customer's language.
        ranked = sorted(above, key=lambda m: (units[m[0]].lang != lang, -m[1]))
        uid, score = ranked[0]
        unit = units[uid]
        source = {"id": uid, "title": unit.title, "source": unit.url or unit.source, "file": unit.source,
                  "type": "faq", "snippet": unit.meta["answer"][:240], "score": round(score, 5), "ref": 1}
        return unit.meta["answer"], source

    def card_sources(self, skus: list[str]) -> list[dict]:
        """The product cards of ``skus`` as cited sources, numbered in order."""
        sources = []
        for sku in skus:
            card = self.index.first_unit(f"product:{sku}")
            if card:
                sources.append({"id": card.id, "title": self.index.graph.nodes[f"product:{sku}"]["name"],
                                "source": card.source, "file": card.source, "type": "product",
                                "snippet": card.text[:240], "score": 1.0, "ref": len(sources) + 1})
        return sources
