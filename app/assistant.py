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

from shopqa.ingest.chunking import detect_lang
from shopqa.ingest.embedders import Embedder

from shopqa.answering import rewrite
from shopqa.answering.answer import Answerer
from shopqa.conversations import ConversationStore
from shopqa.routing.injection import looks_like_injection
from shopqa.routing.intents import IntentClassifier, IntentResult
from shopqa.text.long_message import the_ask
from shopqa.ordering.order_flow import ORDER_TASKS, OrderFlow
from shopqa.ordering.order_slots import extract_order_id, is_bare_slot
from shopqa.ordering.orders import SQLiteOrderStore
from shopqa.text.prompts import Prompts
from shopqa.text.questions import asks_question
from shopqa.catalogue.recommend import Recommender
from shopqa.routing.route_gate import RouteGate
from shopqa.routing import route_gate
from shopqa.routing.sentiment import Sentiment, SentimentClassifier
from shopqa.handoff.tickets import TicketStore

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


@dataclass
class Turn:
    """One customer message on its way through the router: what was read from it once, and what
    the routing stages decide. Each stage of ``Assistant._route`` reads and adds to it."""

    message: str  # the ask of a long message, else the message
    session_id: str
    history: list[dict]
    state: dict  # the session's dialogue state (the order flow owns state["order"])
    lang: str
    intent: IntentResult
    mood: Sentiment
    vector: Any  # the message's query embedding, shape (1, dim)
    on_token: Callable[[str], None] | None = None
    injection: bool = False
    base: dict = field(default_factory=dict)  # the Reply fields every route shares
    knowledge_first: bool = False  # the route gate: the shop's passages should answer it
    gate_p: float | None = None
    follows_up: bool = False  # an elliptical follow-up of a knowledge answer


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

        reply = self._route(Turn(ask, session_id, history, state, lang, intent, mood, vector, on_token, injection))
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

    def _route(self, turn: Turn) -> Reply:
        """The routing stages in order; the first that answers the turn wins."""
        turn.base = dict(session_id=turn.session_id, lang=turn.lang, intent=turn.intent.as_dict(),
                         sentiment=turn.mood.as_dict())
        for stage in (self._held_by_person, self._declined, self._weigh_evidence, self._for_a_person,
                      self._read_context, self._order_tools):
            reply = stage(turn)
            if reply is not None:
                return reply
        return self._tone(self._answer_by_route(turn, self._choose_route(turn)), turn.mood, turn.lang)

    # -- the routing stages ------------------------------------------------------------------
    def _held_by_person(self, turn: Turn) -> Reply | None:
        """A person owns the conversation now: the bot stays out of it."""
        ticket = self.tickets.open_for(turn.session_id)
        if not ticket:
            return None
        return Reply(answer=self.prompts.message("handoff_existing", turn.lang, ticket=ticket["ref"]), path="handoff",
                     route="handoff", handoff={"reason": ticket["reason"], "ticket": ticket["ref"], "existing": True},
                     **turn.base)

    def _declined(self, turn: Turn) -> Reply | None:
        """An injection attempt is declined politely; not a question, not for a person."""
        if not turn.injection:
            return None
        return Reply(answer=self.prompts.message("out_of_scope", turn.lang), path="out_of_scope",
                     route="out_of_scope", **turn.base, details={"guard": "prompt_injection"})

    def _weigh_evidence(self, turn: Turn) -> None:
        """Route with evidence: a message the intent model sends away from the shop's knowledge
        is searched first, and the fitted gate weighs what the shop's passages say."""
        intent = turn.intent
        if intent.route != "knowledge" or intent.intent == "complaint":
            turn.knowledge_first, turn.gate_p = self._knowledge_first(turn.message, turn.vector, intent)
            if turn.gate_p is not None:
                turn.base["intent"] = {**turn.base["intent"], "knowledge_p": round(turn.gate_p, 4)}
        return None

    def _for_a_person(self, turn: Turn) -> Reply | None:
        """An explicit ask for a person, or an upset customer, goes to a person. One who also asks
        something the shop answers ("how many days do i have to report it") gets that answer now
        as well, not only a wait; one who only vents or demands ("今天必须给我个说法！") gets the person."""
        intent, mood, message = turn.intent, turn.mood, turn.message
        asks_person = bool(ASKS_FOR_PERSON.search(message))
        if intent.intent == "human_agent" and (asks_person or (intent.confidence >= HANDOFF_CONFIDENCE
                                                               and not turn.knowledge_first)):
            return self._handoff_reply("customer_asked", turn.base)
        question = asks_question(message)
        upset = ("strong_negative_sentiment" if mood.strongly_negative else
                 "complaint_negative" if intent.coarse == "complaint" and mood.label == "negative"
                 and not (turn.knowledge_first and question) else None)
        if not upset:
            return None
        if question and extract_order_id(message, self.orders.id_shapes()) is None:
            reply = self._knowledge(message, turn.history, turn.lang, turn.base, mood, turn.on_token, turn.vector)
            if reply.path not in (ABSTAINED, "partial"):
                reply.handoff = {"reason": upset, "answered": True}
                return self._tone(reply, mood, turn.lang)
        return self._handoff_reply(upset, turn.base)

    def _read_context(self, turn: Turn) -> None:
        """An out-of-scope verdict for a message naming the shop's orders or products is
        overruled; an elliptical follow-up of a knowledge answer is marked as one."""
        if turn.intent.intent == "out_of_scope":
            intent = turn.intent = self._rescue(turn.message, turn.intent)
            turn.base["intent"] = {**intent.as_dict(), **({"rescued_from": "out_of_scope"}
                                                          if intent.intent != "out_of_scope" else {}),
                                   **({"knowledge_p": round(turn.gate_p, 4)} if turn.gate_p is not None else {})}
        last = next((h for h in reversed(turn.history) if h.get("role") == "assistant"), None)
        # "and for PayPal?": an elliptical follow-up continues the previous (knowledge) topic;
        # its few words say little about intent.
        turn.follows_up = bool(last and last.get("route") in ("knowledge", "recommend")
                               and rewrite.needs_context(turn.message) and not THANKS.search(turn.message)
                               and turn.intent.confidence < HANDOFF_CONFIDENCE)
        return None

    def _order_tools(self, turn: Turn) -> Reply | None:
        """The order tools keep priority when the message names an order or a flow awaits an
        answer; a policy question about orders ("can I add items after ordering?") that the
        shop's passages answer goes to the knowledge instead. The flow decides; it owns its state."""
        state = turn.state
        if not self.flow.takes(state, turn.message, turn.intent.intent, knowledge_first=turn.knowledge_first,
                               follows_up=turn.follows_up):
            self.flow.step_aside(state)  # the customer moved on: the flow's pending question is dropped
            return None
        step = self.flow.handle(turn.session_id, turn.message, turn.intent.intent, state, turn.lang)
        verified = self.flow.verified(state)
        reply = Reply(answer=step.text, path="order_tool", route="order", **turn.base,
                      details={"order_step": step.step, "order_action": step.action,
                               "order_id": step.order_id if step.order_id in verified else None})
        if step.handoff_reason:
            reply.handoff = {"reason": step.handoff_reason}
        return self._tone(reply, turn.mood, turn.lang)

    def _choose_route(self, turn: Turn) -> str:
        """The route of a message no earlier stage took: the intent's, overruled towards the
        shop's knowledge by a follow-up, a question, the evidence gate or a curated FAQ."""
        route = "knowledge" if turn.follows_up else turn.intent.route
        if route == "handoff":  # an unsure human_agent guess ("when is support open?"): answer it
            route = "knowledge"
        if route == "feedback" and asks_question(turn.message):
            # A question is not feedback ("Do you offer a student discount?" got "thank you
            # for your feedback"): the shop's knowledge answers it or says it does not know.
            route = "knowledge"
        if route != "knowledge" and turn.knowledge_first:
            route = "knowledge"
            turn.base["intent"] = {**turn.base["intent"], "overruled_by": "evidence"}
        if route in ("recommend", "out_of_scope") and self._curated_faq(turn.vector):
            # The shop's own FAQ answers it verbatim ("What does gift wrap cost?"), whatever the
            # intent model guessed: an FAQ match above the curated threshold is the stronger signal.
            route = "knowledge"
            turn.base["intent"] = {**turn.base["intent"], "overruled_by": "faq"}
        return route

    def _answer_by_route(self, turn: Turn, route: str) -> Reply:
        """The reply of the chosen route."""
        msg, lang, base = self.prompts.message, turn.lang, turn.base
        if route == "recommend":
            return self._recommend(turn.message, turn.state, lang, base, turn.vector, turn.history)
        if route == "chitchat":
            key = "thanks" if THANKS.search(turn.message) else "greeting"
            return Reply(answer=msg(key, lang), path="chitchat", route="chitchat", **base)
        if route == "out_of_scope":
            return Reply(answer=msg("out_of_scope", lang), path="out_of_scope", route="out_of_scope", **base)
        if route == "feedback":
            return Reply(answer=msg("feedback_thanks", lang), path="feedback", route="feedback", **base)
        return self._knowledge(turn.message, turn.history, lang, base, turn.mood, turn.on_token, turn.vector)

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
