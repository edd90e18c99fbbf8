"""Keeping a finished turn: the ticket of a reply that hands off, and the turn's two rows in the
conversation store (route, intent, sentiment, answer path, sources and latency)."""
from __future__ import annotations

from shopqa.conversations import ConversationStore
from shopqa.handoff.tickets import TicketStore
from shopqa.routing.intents import IntentResult
from shopqa.routing.sentiment import Sentiment
from shopqa.text.prompts import Prompts
from shopqa.turn import Reply


def open_ticket(tickets: TicketStore, prompts: Prompts, reply: Reply, session_id: str, history: list[dict],
                message: str, intent: IntentResult, mood: Sentiment, lang: str) -> None:
    """Open a ticket for the person who takes over, and tell the customer its number in the reply
    (not again for a session a person already holds)."""
    if reply.handoff.get("existing"):
        return
    conversation = [{"role": h["role"], "text": h["text"]} for h in history] + [{"role": "customer", "text": message}]
    if reply.answer:
        conversation.append({"role": "assistant", "text": reply.answer})
    ticket = tickets.create(session_id, conversation, reply.handoff["reason"], intent.intent,
                            mood.as_dict(), lang)
    notice = prompts.message("handoff", lang, ticket=ticket["ref"])
    # Chinese sentences follow each other without a space ("…订单。已为您转接…").
    joiner = "" if lang == "zh" else " "
    reply.answer = f"{reply.answer}{joiner}{notice}".strip()
    reply.handoff.update({"ticket": ticket["ref"], "summary": ticket["summary"], "webhook": ticket.get("webhook")})


def record_turn(conversations: ConversationStore, session_id: str, message: str, reply: Reply,
                intent: IntentResult, mood: Sentiment) -> None:
    """Store the customer's message and the reply in the session's conversation."""
    common = dict(route=reply.route, intent=intent.intent, sentiment=mood.label, score=mood.score, lang=reply.lang)
    conversations.add(session_id, "customer", message, standalone=reply.details.get("standalone_query"),
                      meta={"products": reply.details.get("products", [])}, **common)
    conversations.add(session_id, "assistant", reply.answer, path=reply.path, sources=reply.sources,
                      timings=reply.timings_ms, latency_ms=reply.timings_ms.get("total"),
                      meta={"handoff": reply.handoff, "order_step": reply.details.get("order_step")},
                      **common)
