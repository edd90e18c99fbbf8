"""The recommend route's reply: a catalogue search when the request names a kind of product or
a limit, else suggestions from the product graph."""
from __future__ import annotations

from shopqa.answering.answer import Answerer
from shopqa.catalogue.recommend import Recommender
from shopqa.text.prompts import Prompts
from shopqa.turn import Reply


class RecommendRoute:
    """Answers the messages routed to ``recommend``; cheap to build from warm components."""

    def __init__(self, answerer: Answerer, prompts: Prompts):
        self.answerer = answerer
        self.prompts = prompts
        self.recommender = Recommender(answerer.index.graph)

    def reply(self, message: str, state: dict, lang: str, base: dict, vector=None,
              history: list[dict] | None = None) -> Reply:
        """The recommendations (or a catalogue search's results) for one message."""
        msg = self.prompts.message
        # A request with a kind of product or a limit ("500元以内的空气净化器") is a catalogue
        # search, and "有没有便宜点的" refines the last one; graph similarity only suggests
        # when neither.
        catalogue = self.answerer.catalogue_answers
        found = None
        if history and catalogue.search.refers_back(message):
            shown = self.answerer.previous_products(history)
            if shown:
                found = catalogue.answer(message, shown, lang, from_history=True)
        found = found or catalogue.find(message, lang, requested=True)
        if found is not None:
            return Reply(answer=found.text, path="recommend", route="recommend", **base,
                         sources=self.answerer.card_sources(found.skus),
                         details={"recommendations": found.skus, "search": found.details, "products": found.skus})
        mentions = self.answerer.matcher.find(message)
        hits = self.answerer.retriever.search(message, k=8, lang=lang, vector=None if vector is None else vector[0])
        found = [h.unit.record_key.split(":", 1)[1] for h in hits if h.unit.type == "product"]
        # "a case for my X300": the category is that of the best product hit that is not named.
        named = {m.sku for m in mentions}
        wanted = next((self.recommender.graph.nodes[f"product:{s}"]["category"] for s in found if s not in named
                       and f"product:{s}" in self.recommender.graph), None) if named else None
        picks = self.recommender.recommend(named, email=state.get("customer_email"), search=found,
                                           category=wanted, k=4)
        if not picks:
            return Reply(answer=msg("recommend_none", lang), path="recommend", route="recommend", **base)
        items = [msg("recommend_item", lang, name=p.name, sku=p.sku, price=f"{p.price:.2f}", currency=p.currency,
                     stock=msg("in_stock" if p.in_stock else "out_of_stock", lang)) for p in picks]
        sep = "；" if lang == "zh" else "; "
        return Reply(answer=f"{msg('recommend_intro', lang)} {sep.join(items)}.", path="recommend",
                     route="recommend", **base, details={"recommendations": [p.as_dict() for p in picks]})
