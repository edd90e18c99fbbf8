"""What the shop's own knowledge says about a message, beside the intent model's guess: the
route gate's features, a curated FAQ match, and the rescue of a wrong out-of-scope verdict."""
from __future__ import annotations

from shopqa.ingest.chunking import detect_lang

from shopqa.answering.answer import Answerer
from shopqa.ordering.order_flow import ORDER_TASKS
from shopqa.ordering.order_slots import extract_order_id
from shopqa.ordering.order_records import OrderStore
from shopqa.routing import route_gate
from shopqa.routing.intents import IntentClassifier, IntentResult


def gate_features(answerer: Answerer, intents: IntentClassifier, message: str, vector,
                  intent: IntentResult | None = None) -> tuple[dict, list]:
    """The route gate's features for a message (and its retrieval hits): what the shop's
    knowledge says about it beside what the intent model says."""
    intent = intent or intents.predict(message, vector)
    hits = answerer.retriever.search(message, k=8, vector=vector[0], lang=detect_lang(message))
    faq = answerer.index.question_search(vector[0], 1)
    route = "complaint" if intent.intent == "complaint" else intent.route
    names = bool(answerer.matcher.find(message)) or answerer.matcher.names_category(message)
    features = route_gate.features(message, route, intent.confidence, intent.similarity,
                                   intents.oos_threshold, hits, faq[0][1] if faq else None,
                                   answerer.index, answerer.thresholds.abstain, answerer.thresholds.curated,
                                   names)
    return features, hits


def curated_faq(answerer: Answerer, vector) -> bool:
    """True when one of the shop's FAQ questions matches the message above the curated threshold."""
    if vector is None:
        return False
    matches = answerer.index.question_search(vector[0], 1)
    return bool(matches) and matches[0][1] >= answerer.thresholds.curated


def rescue(answerer: Answerer, intents: IntentClassifier, orders: OrderStore, message: str,
           intent: IntentResult) -> IntentResult:
    """An out-of-scope verdict overruled for a message that names the shop's own orders or
    products: it is about the shop however it is phrased ("order status RL-50001"), so the
    model's best in-scope intent is taken instead."""
    shapes = orders.id_shapes()
    names_order = bool(shapes) and extract_order_id(message, shapes) is not None
    # A catalogue category ("a tent for two") is as much the shop's as a product name.
    names_product = bool(answerer.matcher.find(message)) or answerer.matcher.names_category(message)
    if not (names_order or names_product):
        return intent
    in_scope = [name for name, _ in intent.alternatives if name != "out_of_scope"]
    if names_order:
        # An order number makes it an order task; without one in the top guesses, a status question.
        best = next((n for n in in_scope if n in ORDER_TASKS), "order_status")
    else:
        # A product named with an order-ish phrasing ("can I order the X300?") is a product question.
        best = next((n for n in in_scope if n not in ORDER_TASKS), "product_question")
        if intents.taxonomy[best]["route"] in ("order", "out_of_scope"):
            best = "product_question"
    meta = intents.taxonomy[best]
    confidence = dict(intent.alternatives).get(best, 0.0)
    return IntentResult(best, meta["coarse"], meta["route"], confidence, intent.similarity, intent.alternatives)
