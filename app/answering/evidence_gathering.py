"""Gathering the evidence for a question: the products it names (or a follow-up inherits),
retrieval over the standalone query, the context passages within the token budget, and
their answer candidates, scored and weighed for the answer/partial/abstain decision."""
from __future__ import annotations

from shopqa.ingest.chunking import count_tokens, detect_lang

from shopqa.answering import candidates as cands
from shopqa.answering import rewrite
from shopqa.answering.answer_records import Evidence
from shopqa.answering.candidate_sentences import sentence_vectors
from shopqa.answering.retrieval import Hit, fuse
from shopqa.catalogue import products


class EvidenceGathering:
    """The retrieval half of :class:`~shopqa.answering.answer.Answerer` (a mixin: it reads the
    answerer's index, retriever, matcher, catalogue answers, thresholds, model and budgets)."""

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

    def previous_products(self, history: list[dict]) -> list[products.Mention]:
        """The products of the latest turn that named or showed any."""
        for turn in reversed(history):
            skus = (turn.get("meta") or {}).get("products") or []
            if skus:
                return [products.Mention(s, self.matcher.products.get(s, {}).get("name", s), 1.0, 0)
                        for s in skus if s in self.matcher.products]
        return []

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

    def _embed_cached(self, texts: list[str]):
        """Passage vectors of ``texts``, each sentence embedded once per index generation."""
        return sentence_vectors(self.index, texts)
