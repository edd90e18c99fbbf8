"""Route each customer message before anything is retrieved, then answer or hand off.

Per message: intent and sentiment (one embedding serves both); then, in this order:
1. a session already handed to a person stays with the person;
2. an order flow waiting for an answer (order number, email, yes/no, new address) gets it;
3. handoff when the customer asks for a person, sentiment is strongly negative, or a
   complaint comes with negative sentiment;
4. the intent's route: order tools, recommendations, chit-chat, out of scope, feedback, or
   the knowledge answer pipeline (graph / curated / generated / extractive / abstained);
5. handoff after two abstentions in a row, or when an order action needs staff.
Negative sentiment switches the generation prompt and opens the reply with an apology.
Every turn is stored with its route, intent, sentiment, answer path, sources and latency.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ingest.chunking import detect_lang
from ingest.embedders import Embedder

from app.answering import rewrite
from app.answering.answer import Answerer
from app.conversations import ConversationStore
from app.routing.injection import looks_like_injection
from app.routing.intents import IntentClassifier, IntentResult
from app.text.long_message import the_ask
from app.ordering.order_flow import ORDER_TASKS, OrderFlow
from app.ordering.order_slots import extract_order_id, is_bare_slot
from app.ordering.orders import SQLiteOrderStore
from app.text.prompts import Prompts
from app.text.questions import asks_question
from app.catalogue.recommend import Recommender
from app.routing.route_gate import RouteGate
from app.routing import route_gate
from app.routing.sentiment import Sentiment, SentimentClassifier
from app.handoff.tickets import TicketStore

log = logging.getLogger("shopqa.assistant")
# Words that ask for a person outright; with them a less certain human_agent intent still hands off.
ASKS_FOR_PERSON = re.compile(r"\b(human|real person|someone|somebody|agent|representative|operator|staff member)\b|"
                             r"人工|真人|客服人员|转接", re.IGNORECASE)
HANDOFF_CONFIDENCE = 0.5
THANKS = re.compile(r"\b(thanks?|thank you|thx|ty|cheers)\b|谢谢|多谢|感谢", re.IGNORECASE)
ABSTAINED = "abstained"


@dataclass
class Reply:
    """The answer to one customer message and how it was reached."""

    session_id: str
    answer: str
    path: str
    route: str
    lang: str
    intent: dict[str, Any]
    sentiment: dict[str, Any]
    sources: list[dict[str, Any]] = field(default_factory=list)
    handoff: dict[str, Any] | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of `shopqa ask --json` and the chat API."""
        return {"session_id": self.session_id, "answer": self.answer, "path": self.path, "route": self.route,
                "intent": self.intent, "sentiment": self.sentiment, "sources": self.sources,
                "handoff": self.handoff, "lang": self.lang, "timings_ms": self.timings_ms, **self.details}


class Assistant:
    """The conversation-level pipeline; cheap to build per request from warm components."""

    def __init__(self, embedder: Embedder, answerer: Answerer, intents: IntentClassifier,
                 sentiment: SentimentClassifier, orders: SQLiteOrderStore, tickets: TicketStore,
                 conversations: ConversationStore, prompts: Prompts, gate: RouteGate | None = None):
        self.embedder = embedder
        self.answerer = answerer
        self.intents = intents
        self.sentiment = sentiment
        self.orders = orders
        self.flow = OrderFlow(orders, prompts)
        self.tickets = tickets
        self.conversations = conversations
        self.prompts = prompts
        self.recommender = Recommender(answerer.index.graph)
        # Route with evidence (app/routing/route_gate.py): fitted for one embedder, absent for others.
        self.gate = gate

    def handle(self, message: str, session_id: str | None = None,
               on_token: Callable[[str], None] | None = None, history: list[dict] | None = None) -> Reply:
        """Answer one customer message in its session (created when ``session_id`` is None or new).

        ``history`` (oldest first, ``role``/``text``) replaces the stored conversation, for
        clients that keep it themselves (the OpenAI-compatible endpoint).
        """
        start = time.perf_counter()
        session_id = self.conversations.ensure_session(session_id)
        # One turn at a time per session: read, answer and store before the next message reads.
        with self.conversations.turn(session_id):
            return self._turn(message, session_id, on_token, history, start)

    def _turn(self, message: str, session_id: str, on_token: Callable[[str], None] | None,
              history: list[dict] | None, start: float) -> Reply:
        history = history if history is not None else self.conversations.history(session_id)
        state = self.conversations.state(session_id)
        lang = detect_lang(message)
        # A long message is routed and answered by its ask (app/text/long_message.py); its mood,
        # the stored conversation and any ticket keep the whole of it.
        ask = the_ask(message)
        vector = self.embedder.embed_queries([ask])
        intent = self.intents.predict(ask, vector)
        mood = self.sentiment.predict(message, vector if ask == message else None)
        injection = looks_like_injection(message)
        if injection:
            # Its imperative tone reads as strongly negative; it is neither a mood nor a complaint.
            mood = Sentiment("neutral", 0.0, False)
            log.warning("prompt injection attempt declined (session %s)", session_id)
        if is_bare_slot(message):
            # An order number, an email or a yes carries no mood and no language of its own:
            # keep talking in the language the customer used before.
            mood = Sentiment("neutral", 0.0, False)
            lang = next((h.get("lang") for h in reversed(history) if h.get("role") == "customer" and h.get("lang")),
                        lang)
        routed_ms = round((time.perf_counter() - start) * 1000, 2)

        reply = self._route(ask, session_id, history, state, lang, intent, mood, on_token, vector,
                            injection=injection)
        if ask != message:
            reply.details["ask"] = ask
        reply.timings_ms = {"routing": routed_ms, **reply.timings_ms}
        if reply.handoff is not None:
            self._hand_off(reply, session_id, history, message, intent, mood, lang)
        reply.timings_ms["total"] = round((time.perf_counter() - start) * 1000, 2)
        self.conversations.save_state(session_id, state)
        self._record(session_id, message, reply, intent, mood)
        return reply

    # -- routing ---------------------------------------------------------------------------
    def gate_features(self, message: str, vector, intent: IntentResult | None = None) -> tuple[dict, list]:
        """The route gate's features for a message (and its retrieval hits): what the shop's
        knowledge says about it beside what the intent model says."""
        intent = intent or self.intents.predict(message, vector)
        answerer = self.answerer
        hits = answerer.retriever.search(message, k=8, vector=vector[0], lang=detect_lang(message))
        faq = answerer.index.question_search(vector[0], 1)
        route = "complaint" if intent.intent == "complaint" else intent.route
        names = bool(answerer.matcher.find(message)) or answerer.matcher.names_category(message)
        features = route_gate.features(message, route, intent.confidence, intent.similarity,
                                       self.intents.oos_threshold, hits, faq[0][1] if faq else None,
                                       answerer.index, answerer.thresholds.abstain, answerer.thresholds.curated,
                                       names)
        return features, hits

    def _knowledge_first(self, message: str, vector, intent: IntentResult) -> tuple[bool, float | None]:
        """Whether the shop's own knowledge should answer a message the intent model routed
        elsewhere, by the fitted gate; ``(False, None)`` without a gate."""
        if self.gate is None or vector is None:
            return False, None
        features, _ = self.gate_features(message, vector, intent)
        return self.gate.prefers_knowledge(features)

    def _curated_faq(self, vector) -> bool:
        """True when one of the shop's FAQ questions matches the message above the curated threshold."""
        if vector is None:
            return False
        matches = self.answerer.index.question_search(vector[0], 1)
        return bool(matches) and matches[0][1] >= self.answerer.thresholds.curated

    def _rescue(self, message: str, intent: IntentResult) -> IntentResult:
        """An out-of-scope verdict overruled for a message that names the shop's own orders or
        products: it is about the shop however it is phrased ("order status RL-50001"), so the
        model's best in-scope intent is taken instead."""
        shapes = self.orders.id_shapes()
        names_order = bool(shapes) and extract_order_id(message, shapes) is not None
        # A catalogue category ("a tent for two") is as much the shop's as a product name.
        names_product = bool(self.answerer.matcher.find(message)) or self.answerer.matcher.names_category(message)
        if not (names_order or names_product):
            return intent
        in_scope = [name for name, _ in intent.alternatives if name != "out_of_scope"]
        if names_order:
            # An order number makes it an order task; without one in the top guesses, a status question.
            best = next((n for n in in_scope if n in ORDER_TASKS), "order_status")
        else:
            # A product named with an order-ish phrasing ("can I order the X300?") is a product question.
            best = next((n for n in in_scope if n not in ORDER_TASKS), "product_question")
            if self.intents.taxonomy[best]["route"] in ("order", "out_of_scope"):
                best = "product_question"
        meta = self.intents.taxonomy[best]
        confidence = dict(intent.alternatives).get(best, 0.0)
        return IntentResult(best, meta["coarse"], meta["route"], confidence, intent.similarity, intent.alternatives)

    def _route(self, message: str, session_id: str, history: list[dict], state: dict, lang: str,
               intent: IntentResult, mood: Sentiment, on_token, vector=None, injection: bool = False) -> Reply:
        msg = self.prompts.message
        base = dict(session_id=session_id, lang=lang, intent=intent.as_dict(), sentiment=mood.as_dict())

        ticket = self.tickets.open_for(session_id)
        if ticket:  # a person owns the conversation now; the bot stays out of it
            return Reply(answer=msg("handoff_existing", lang, ticket=ticket["ref"]), path="handoff", route="handoff",
                         handoff={"reason": ticket["reason"], "ticket": ticket["ref"], "existing": True}, **base)

        if injection:  # declined politely; not a question, not for a person
            return Reply(answer=msg("out_of_scope", lang), path="out_of_scope", route="out_of_scope", **base,
                         details={"guard": "prompt_injection"})
        # Route with evidence: a message the intent model sends away from the shop's knowledge
        # is searched first, and the fitted gate weighs what the shop's passages say.
        knowledge_first, gate_p = False, None
        if intent.route != "knowledge" or intent.intent == "complaint":
            knowledge_first, gate_p = self._knowledge_first(message, vector, intent)
            if gate_p is not None:
                base["intent"] = {**base["intent"], "knowledge_p": round(gate_p, 4)}
        asks_person = bool(ASKS_FOR_PERSON.search(message))
        if intent.intent == "human_agent" and (asks_person or (intent.confidence >= HANDOFF_CONFIDENCE
                                                               and not knowledge_first)):
            return self._handoff_reply("customer_asked", base)
        # An upset customer goes to a person. One who also asks something the shop answers
        # ("how many days do i have to report it") gets that answer now as well, not only a
        # wait; one who only vents or demands ("今天必须给我个说法！") gets the person.
        question = asks_question(message)
        upset = ("strong_negative_sentiment" if mood.strongly_negative else
                 "complaint_negative" if intent.coarse == "complaint" and mood.label == "negative"
                 and not (knowledge_first and question) else None)
        if upset:
            if question and extract_order_id(message, self.orders.id_shapes()) is None:
                reply = self._knowledge(message, history, lang, base, mood, on_token, vector)
                if reply.path not in (ABSTAINED, "partial"):
                    reply.handoff = {"reason": upset, "answered": True}
                    return self._tone(reply, mood, lang)
            return self._handoff_reply(upset, base)

        if intent.intent == "out_of_scope":
            intent = self._rescue(message, intent)
            base["intent"] = {**intent.as_dict(), **({"rescued_from": "out_of_scope"}
                                                     if intent.intent != "out_of_scope" else {}),
                              **({"knowledge_p": round(gate_p, 4)} if gate_p is not None else {})}

        last = next((h for h in reversed(history) if h.get("role") == "assistant"), None)
        # "and for PayPal?": an elliptical follow-up continues the previous (knowledge) topic;
        # its few words say little about intent.
        follows_up = bool(last and last.get("route") in ("knowledge", "recommend") and rewrite.needs_context(message)
                          and not THANKS.search(message) and intent.confidence < HANDOFF_CONFIDENCE)
        # The order tools keep priority when the message names an order or a flow awaits an
        # answer; a policy question about orders ("can I add items after ordering?") that the
        # shop's passages answer goes to the knowledge instead. The flow decides; it owns its state.
        if self.flow.takes(state, message, intent.intent, knowledge_first=knowledge_first, follows_up=follows_up):
            step = self.flow.handle(session_id, message, intent.intent, state, lang)
            verified = self.flow.verified(state)
            reply = Reply(answer=step.text, path="order_tool", route="order", **base,
                          details={"order_step": step.step, "order_action": step.action,
                                   "order_id": step.order_id if step.order_id in verified else None})
            if step.handoff_reason:
                reply.handoff = {"reason": step.handoff_reason}
            return self._tone(reply, mood, lang)
        self.flow.step_aside(state)  # the customer moved on: the flow's pending question is dropped

        route = "knowledge" if follows_up else intent.route
        if route == "handoff":  # an unsure human_agent guess ("when is support open?"): answer it
            route = "knowledge"
        if route == "feedback" and asks_question(message):
            # A question is not feedback ("Do you offer a student discount?" got "thank you
            # for your feedback"): the shop's knowledge answers it or says it does not know.
            route = "knowledge"
        if route != "knowledge" and knowledge_first:
            route = "knowledge"
            base["intent"] = {**base["intent"], "overruled_by": "evidence"}
        if route in ("recommend", "out_of_scope") and self._curated_faq(vector):
            # The shop's own FAQ answers it verbatim ("What does gift wrap cost?"), whatever the
            # intent model guessed: an FAQ match above the curated threshold is the stronger signal.
            route = "knowledge"
            base["intent"] = {**base["intent"], "overruled_by": "faq"}
        if route == "recommend":
            reply = self._recommend(message, state, lang, base, vector, history)
        elif route == "chitchat":
            key = "thanks" if THANKS.search(message) else "greeting"
            reply = Reply(answer=msg(key, lang), path="chitchat", route="chitchat", **base)
        elif route == "out_of_scope":
            reply = Reply(answer=msg("out_of_scope", lang), path="out_of_scope", route="out_of_scope", **base)
        elif route == "feedback":
            reply = Reply(answer=msg("feedback_thanks", lang), path="feedback", route="feedback", **base)
        else:
            reply = self._knowledge(message, history, lang, base, mood, on_token, vector)
        return self._tone(reply, mood, lang)

    def _knowledge(self, message: str, history: list[dict], lang: str, base: dict, mood: Sentiment,
                   on_token, vector=None) -> Reply:
        result = self.answerer.answer(message, history, on_token=on_token, upset=mood.label == "negative",
                                      message_vector=None if vector is None else vector[0])
        reply = Reply(answer=result.answer, path=result.path, route="knowledge", sources=result.sources,
                      timings_ms=dict(result.timings_ms), **base,
                      details={"standalone_query": result.standalone, "confidence": round(result.confidence, 4),
                               "products": result.products, "grounding_failures": result.grounding})
        if result.path == ABSTAINED and history and history[-1].get("role") == "assistant" \
                and history[-1].get("path") == ABSTAINED:
            reply.handoff = {"reason": "abstained_twice"}
        return reply

    def _recommend(self, message: str, state: dict, lang: str, base: dict, vector=None,
                   history: list[dict] | None = None) -> Reply:
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

    # -- handoff and tone ------------------------------------------------------------------
    def _handoff_reply(self, reason: str, base: dict) -> Reply:
        return Reply(answer="", path="handoff", route="handoff", handoff={"reason": reason}, **base)

    def _tone(self, reply: Reply, mood: Sentiment, lang: str) -> Reply:
        if mood.label == "negative" and reply.answer and reply.route != "handoff":
            reply.answer = f"{self.prompts.message('apology', lang)} {reply.answer}"
        return reply

    def _hand_off(self, reply: Reply, session_id: str, history: list[dict], message: str, intent: IntentResult,
                  mood: Sentiment, lang: str) -> None:
        if reply.handoff.get("existing"):
            return
        conversation = [{"role": h["role"], "text": h["text"]} for h in history] + [{"role": "customer", "text": message}]
        if reply.answer:
            conversation.append({"role": "assistant", "text": reply.answer})
        ticket = self.tickets.create(session_id, conversation, reply.handoff["reason"], intent.intent,
                                     mood.as_dict(), lang)
        notice = self.prompts.message("handoff", lang, ticket=ticket["ref"])
        # Chinese sentences follow each other without a space ("…订单。已为您转接…").
        joiner = "" if lang == "zh" else " "
        reply.answer = f"{reply.answer}{joiner}{notice}".strip()
        reply.handoff.update({"ticket": ticket["ref"], "summary": ticket["summary"], "webhook": ticket.get("webhook")})

    def _record(self, session_id: str, message: str, reply: Reply, intent: IntentResult, mood: Sentiment) -> None:
        common = dict(route=reply.route, intent=intent.intent, sentiment=mood.label, score=mood.score, lang=reply.lang)
        self.conversations.add(session_id, "customer", message, standalone=reply.details.get("standalone_query"),
                               meta={"products": reply.details.get("products", [])}, **common)
        self.conversations.add(session_id, "assistant", reply.answer, path=reply.path, sources=reply.sources,
                               timings=reply.timings_ms, latency_ms=reply.timings_ms.get("total"),
                               meta={"handoff": reply.handoff, "order_step": reply.details.get("order_step")},
                               **common)
