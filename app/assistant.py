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
from typing import Callable

from shopqa.ingest.chunking import detect_lang
from shopqa.ingest.embedders import Embedder

from shopqa.answering import rewrite
from shopqa.answering.answer import Answerer
from shopqa.conversations import ConversationStore
from shopqa.routing.injection import looks_like_injection
from shopqa.routing.intents import IntentClassifier, IntentResult
from shopqa.text.long_message import the_ask
from shopqa.ordering.order_flow import OrderFlow
from shopqa.ordering.order_slots import extract_order_id, is_bare_slot
from shopqa.ordering.order_records import OrderStore
from shopqa.text.prompts import Prompts
from shopqa.text.questions import asks_question
from shopqa.recommend_route import RecommendRoute
from shopqa import route_evidence
from shopqa.routing.route_gate import RouteGate
from shopqa.routing.sentiment import Sentiment, SentimentClassifier
from shopqa.handoff.tickets import TicketStore
from shopqa.turn import Reply, Turn
from shopqa.turn_storage import open_ticket, record_turn

log = logging.getLogger("shopqa.assistant")
# Words that ask for a person outright; with them a less certain human_agent intent still hands off.
ASKS_FOR_PERSON = re.compile(r"\b(human|real person|someone|somebody|agent|representative|operator|staff member)\b|"
                             r"人工|真人|客服人员|转接", re.IGNORECASE)
HANDOFF_CONFIDENCE = 0.5
THANKS = re.compile(r"\b(thanks?|thank you|thx|ty|cheers)\b|谢谢|多谢|感谢", re.IGNORECASE)
ABSTAINED = "abstained"


class Assistant:
    """The conversation-level pipeline; cheap to build per request from warm components."""

    def __init__(self, embedder: Embedder, answerer: Answerer, intents: IntentClassifier,
                 sentiment: SentimentClassifier, orders: OrderStore, tickets: TicketStore,
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
        self.recommend_route = RecommendRoute(answerer, prompts)
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
            open_ticket(self.tickets, self.prompts, reply, session_id, history, message, intent, mood, lang)
        reply.timings_ms["total"] = round((time.perf_counter() - start) * 1000, 2)
        self.conversations.save_state(session_id, state)
        record_turn(self.conversations, session_id, message, reply, intent, mood)
        return reply

    # -- routing ---------------------------------------------------------------------------
    def gate_features(self, message: str, vector, intent: IntentResult | None = None) -> tuple[dict, list]:
        """The route gate's features for a message (and its retrieval hits): what the shop's
        knowledge says about it beside what the intent model says."""
        return route_evidence.gate_features(self.answerer, self.intents, message, vector, intent)

    def _knowledge_first(self, message: str, vector, intent: IntentResult) -> tuple[bool, float | None]:
        """Whether the shop's own knowledge should answer a message the intent model routed
        elsewhere, by the fitted gate; ``(False, None)`` without a gate."""
        if self.gate is None or vector is None:
            return False, None
        features, _ = self.gate_features(message, vector, intent)
        return self.gate.prefers_knowledge(features)

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
            intent = turn.intent = route_evidence.rescue(self.answerer, self.intents, self.orders, turn.message, turn.intent)
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
        if route in ("recommend", "out_of_scope") and route_evidence.curated_faq(self.answerer, turn.vector):
            # The shop's own FAQ answers it verbatim ("What does gift wrap cost?"), whatever the
            # intent model guessed: an FAQ match above the curated threshold is the stronger signal.
            route = "knowledge"
            turn.base["intent"] = {**turn.base["intent"], "overruled_by": "faq"}
        return route

    def _answer_by_route(self, turn: Turn, route: str) -> Reply:
        """The reply of the chosen route."""
        msg, lang, base = self.prompts.message, turn.lang, turn.base
        if route == "recommend":
            return self.recommend_route.reply(turn.message, turn.state, lang, base, turn.vector, turn.history)
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

    # -- handoff and tone ------------------------------------------------------------------
    def _handoff_reply(self, reason: str, base: dict) -> Reply:
        return Reply(answer="", path="handoff", route="handoff", handoff={"reason": reason}, **base)

    def _tone(self, reply: Reply, mood: Sentiment, lang: str) -> Reply:
        if mood.label == "negative" and reply.answer and reply.route != "handoff":
            reply.answer = f"{self.prompts.message('apology', lang)} {reply.answer}"
        return reply
