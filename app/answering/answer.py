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

import functools
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from shopqa.ingest.chunking import count_tokens, detect_lang
from shopqa.ingest.index import ShopIndex
from shopqa.ingest.tokenize import tokenize

from shopqa.answering import candidates as cands
from shopqa.answering import generation_check
from shopqa.answering import grounding
from shopqa.catalogue import products
from shopqa.answering import rewrite
from shopqa.answering.answer_model import ABSTAIN, ANSWER, PARTIAL, AnswerModel
from shopqa.answering.candidates import select
from shopqa.catalogue.answers import CatalogueAnswers
from shopqa.catalogue.catalogue import Catalogue
from shopqa.models.llm import LLM, LLMBusy
from shopqa.text.prompts import LANG_NAMES, Prompts
from shopqa.answering.retrieval import Hit, HybridRetriever, fuse

# Same-language sentences ranked by meaning as well as shared words: the best this many by
# shared words are embedded (about 15 ms each on two cores); across languages, all are.
MEANING_TOP = 12
# The path of an extractive answer given because the model was busy (queue full).
EXTRACTIVE_BUSY = "extractive_busy"
SENTENCE_CHARS = cands.SENTENCE_CHARS


@dataclass
class Thresholds:
    """Calibrated decision thresholds (cosine similarities of the index's embedder)."""

    curated: float
    abstain: float

    def __post_init__(self) -> None:
        if not (-1 <= self.abstain <= 1 and -1 <= self.curated <= 1):
            raise ValueError(f"thresholds are cosine similarities in [-1, 1]: {self}")


@dataclass
class Answer:
    """The reply and how it was made."""

    answer: str
    path: str
    lang: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    standalone: str = ""
    confidence: float = 0.0
    products: list[str] = field(default_factory=list)
    grounding: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of `shopqa ask --json` and the chat API."""
        return {"answer": self.answer, "path": self.path, "sources": self.sources, "lang": self.lang,
                "timings_ms": self.timings_ms, "standalone_query": self.standalone,
                "confidence": round(self.confidence, 4), "products": self.products,
                "grounding_failures": self.grounding}


@dataclass
class Evidence:
    """What retrieval found for one question, before anything is said."""

    question: str
    query: str
    lang: str
    mentions: list
    vector: Any
    hits: list[Hit]
    faq_matches: list[tuple[int, float]]
    confidence: float
    context_hits: list[Hit] = field(default_factory=list)
    candidates: list[cands.Candidate] = field(default_factory=list)
    from_history: bool = False  # the products were named in an earlier turn, not this one
    earlier: str | None = None  # the earlier question a follow-up leans on


class _Timer:
    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.last = self.start
        self.marks: dict[str, float] = {}

    def mark(self, name: str) -> None:
        now = time.perf_counter()
        self.marks[name] = round((now - self.last) * 1000, 2)
        self.last = now

    def done(self) -> dict[str, float]:
        self.marks["total"] = round((time.perf_counter() - self.start) * 1000, 2)
        return self.marks


def _source(hit: Hit, number: int | None = None) -> dict[str, Any]:
    u = hit.unit
    snippet = u.text.split("\n", 1)[-1][:240]
    out = {"id": u.id, "title": u.title, "source": u.url or u.source, "file": u.source, "type": u.type,
           "snippet": snippet, "score": round(hit.score, 5)}
    if number is not None:
        out["ref"] = number
    return out


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars].rsplit(" ", 1)[0] + " ..."


class Answerer:
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

    # -- the pipeline ---------------------------------------------------------------------
    def mentions(self, question: str, history: list[dict]) -> tuple[list[products.Mention], bool]:
        """The products ``question`` names, or for a follow-up ("is it in stock?", "有没有便宜点的")
        those of the conversation so far; and whether they came from the conversation."""
        found = self.matcher.find(question)
        if not found and (rewrite.needs_context(question) or self.catalogue_answers.search.refers_back(question)):
            found = self.previous_products(history)
            return found, bool(found)
        return found, False

    def gather(self, question: str, history: list[dict] | None = None, message_vector=None,
               with_candidates: bool | None = None,
               mentions: tuple[list[products.Mention], bool] | None = None) -> Evidence:
        """Retrieve for ``question`` (with the conversation so far): hits, FAQ matches, the
        context passages and their answer candidates (features only, not yet scored; built
        when there is a model, or when ``with_candidates`` says so). ``mentions`` is
        :meth:`mentions` of the question when the caller already has it."""
        history = history or []
        lang = detect_lang(question)
        mentions, from_history = mentions if mentions is not None else self.mentions(question, history)
        query = rewrite.standalone(question, history, [m.sku for m in mentions])
        # The router already embedded the message; a standalone query equal to it needs no second pass.
        vector = (message_vector if message_vector is not None and query == question
                  else self.index.embed_query(query))
        k = max(self.top_k, 8)
        hits = self.retriever.search(query, k=k, vector=vector, lang=lang)
        faq_matches = self.index.question_search(vector, 3)
        if query != question:
            # A follow-up may change the topic ("那运费呢？" after a product): the message is also
            # searched alone and both lists are fused, so the earlier turn adds context without
            # drowning the new question.
            own = message_vector if message_vector is not None else self.index.embed_query(question)
            # Curated FAQs still match the standalone only: "and for PayPal?" alone would match
            # "Do you accept PayPal?", which is not what was asked.
            hits = fuse([hits, self.retriever.search(question, k=k, vector=own, lang=lang)])[:k]
        if self.reranker is not None:
            hits = self.reranker.rerank(query, hits)
        confidence = max((h.dense_score or 0.0) for h in hits[:5]) if hits else 0.0
        found = Evidence(question, query, lang, mentions, vector, hits, faq_matches, confidence,
                         from_history=from_history,
                         earlier=rewrite.earlier(question, history) if query != question else None)
        if hits:
            found.context_hits = self._budget(hits[: self.top_k], mentions)
            if with_candidates or (with_candidates is None and self.model is not None):
                self.add_candidates(found)
        return found

    def add_candidates(self, found: Evidence) -> None:
        """The context passages' answer candidates with their features (not yet scored)."""
        follow_up = found.query != found.question
        found.candidates = cands.build(found.query, found.context_hits, self.index, self._embed_cached, found.vector,
                                       self.thresholds.abstain, message=found.question if follow_up else None,
                                       earlier=found.earlier)

    def assess(self, found: Evidence) -> tuple[str, float, dict[str, float]]:
        """Score the candidates and decide: ``(answer|partial|abstain, P(answerable), evidence)``."""
        model = self.model
        for c in found.candidates:
            c.score = model.score(c.features)
        faq = found.faq_matches[0][1] if found.faq_matches else None
        evidence = cands.question_features(found.query, found.candidates, [h.unit.text for h in found.context_hits],
                                           [h.dense_score for h in found.hits], self.index,
                                           self.thresholds.abstain, self.thresholds.curated, faq,
                                           message=found.question if found.query != found.question else None)
        decision, p = model.decide(evidence)
        return decision, p, evidence

    def answer(self, question: str, history: list[dict] | None = None,
               on_token: Callable[[str], None] | None = None, upset: bool = False,
               message_vector=None) -> Answer:
        """Answer ``question`` given the conversation so far (oldest first).

        The stages, each a method below: the catalogue answers from the graph alone; otherwise
        retrieval (``gather``), an attribute the product card lacks, a curated FAQ, the
        answer/partial/abstain decision, the LLM's grounded phrasing, and the quoted sentences.
        ``upset`` (negative sentiment) switches the generation prompt to answer_user_upset;
        ``message_vector`` is the question's query embedding if the caller already has it.
        """
        history = history or []
        timer = _Timer()
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
                        lang: str, timer: "_Timer") -> Answer | None:
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

    def _unlisted(self, found: Evidence, base: dict, timer: "_Timer") -> Answer | None:
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

    def _curated_answer(self, found: Evidence, base: dict, timer: "_Timer") -> Answer | None:
        """A curated FAQ above the calibrated threshold, verbatim (path ``curated``)."""
        curated = self._curated(found.faq_matches, found.lang, found.question)
        if not curated:
            return None
        text, source = curated
        return Answer(text, "curated", sources=[source], timings_ms=timer.done(), **base)

    def _decide(self, found: Evidence, base: dict, timer: "_Timer") -> str:
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

    def _generated(self, found: Evidence, history: list[dict], ranked, on_token, upset: bool, base: dict,
                   timer: "_Timer") -> tuple[Answer | None, list[str], bool]:
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
            sources = [_source(shown[n - 1][0], n) for n in check.cited]
            return Answer(check.answer, "generated", sources=sources, timings_ms=timer.done(), **base), [], False
        failures = ["the answer model was busy"] if busy else (check.reasons if check is not None else gate.failed)
        return None, failures, busy

    def _quoted(self, found: Evidence, decision: str, ranked, failures: list[str], busy: bool, base: dict,
                timer: "_Timer") -> Answer:
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
        return Answer(text, path, sources=[_source(context_hits[p - 1], p) for p in cited],
                      timings_ms=timer.done(), grounding=failures, **base)

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

    def _embed_cached(self, texts: list[str]):
        """Passage vectors of ``texts``, each sentence embedded once per index generation."""
        return cands.sentence_vectors(self.index, texts)

    # -- the steps ------------------------------------------------------------------------
    def _similarity(self, query_vector, sentences: list[str]) -> list[float]:
        """Cosine of the query (its embedding) with each sentence, by the index's embedder."""
        # A sentence's first 200 characters carry its meaning; technotes' long log lines would
        # otherwise cost hundreds of tokens each.
        vectors = self.index.embedder.embed_passages([s[:SENTENCE_CHARS] for s in sentences])
        return (vectors @ query_vector).tolist()

    def _focus(self, passages: list[str], ranked: Callable[[], list]) -> list[str]:
        """The passages cut to their best sentences (``ranked()``), or whole when focusing is off (0)."""
        if not self.focus_tokens:
            return list(passages)
        # The budget is in the model's own tokens when it can count them (CJK costs differ a lot).
        return grounding.focus(passages, ranked(), self.focus_tokens,
                               count=getattr(self.llm, "count_tokens", None) or count_tokens)

    def previous_products(self, history: list[dict]) -> list[products.Mention]:
        """The products of the latest turn that named or showed any."""
        for turn in reversed(history):
            skus = (turn.get("meta") or {}).get("products") or []
            if skus:
                return [products.Mention(s, self.matcher.products.get(s, {}).get("name", s), 1.0, 0)
                        for s in skus if s in self.matcher.products]
        return []

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
            card = self.index.db().execute("SELECT id, text, source FROM units WHERE record_key = ?",
                                           (f"product:{sku}",)).fetchone()
            if card:
                sources.append({"id": card["id"], "title": self.index.graph.nodes[f"product:{sku}"]["name"],
                                "source": card["source"], "file": card["source"], "type": "product",
                                "snippet": card["text"][:240], "score": 1.0, "ref": len(sources) + 1})
        return sources

    def _budget(self, hits: list[Hit], mentions: list[products.Mention]) -> list[Hit]:
        """Keep passages, best first, within the context token budget; product cards of named products first."""
        chosen: list[Hit] = []
        used = 0
        named = {f"product:{m.sku}" for m in mentions}
        ordered = sorted(hits, key=lambda h: h.unit.record_key not in named)
        for hit in ordered:
            cost = count_tokens(hit.unit.text)
            if used + cost > self.context_tokens and chosen:
                continue
            chosen.append(hit)
            used += cost
        return chosen

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
