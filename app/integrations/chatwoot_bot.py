"""The Chatwoot agent bot's decisions: which events to answer, and what to send back for a reply.

Payload fields follow Chatwoot's ``Message#webhook_data`` (what an Agent Bot receives for
``message_created``): ``event``, ``id``, ``content``, ``message_type`` ("incoming", "outgoing",
"activity", "template"), ``private``, ``sender`` (``type`` "contact", "user" or "agent_bot"),
``conversation`` (its ``id`` is the display id the API paths use; ``status``) and ``account``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shopqa.integrations.chatwoot_client import messages_path, toggle_status_path

# How many source links a reply carries at most (a chat message, not a bibliography).
MAX_LINKS = 3


class BadPayload(ValueError):
    """The webhook body lacks what every message event has (ids of account, conversation, message)."""


@dataclass(frozen=True)
class Incoming:
    """A customer's message the bot should answer."""

    account_id: int
    conversation_id: int
    message_id: int
    content: str

    @property
    def key(self) -> str:
        """The dedupe key: one answer per Chatwoot message."""
        return f"{self.account_id}:{self.message_id}"

    @property
    def session_id(self) -> str:
        """The shopqa session of the Chatwoot conversation (shows in shopqa's console)."""
        return session_for(self.account_id, self.conversation_id)


def session_for(account_id: int, conversation_id: int) -> str:
    """The shopqa session id of one Chatwoot conversation."""
    return f"chatwoot-{account_id}-{conversation_id}"


def _id(value: Any, what: str) -> int:
    """Chatwoot sends ids as numbers (its docs sometimes show strings): a positive int either way."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadPayload(f"'{what}' must be a number, got {value!r}") from None
    if number < 0:
        raise BadPayload(f"'{what}' must not be negative")
    return number


def account_id_of(payload: dict[str, Any]) -> int:
    """The account of an event: ``account.id``, else the conversation's ``account_id``."""
    account = payload.get("account") if isinstance(payload.get("account"), dict) else {}
    conversation = payload.get("conversation") if isinstance(payload.get("conversation"), dict) else payload
    value = account.get("id", conversation.get("account_id", payload.get("account_id")))
    if value is None:
        messages = conversation.get("messages") or [{}]
        value = messages[0].get("account_id") if isinstance(messages[0], dict) else None
    return _id(value, "account.id")


def triage(payload: dict[str, Any], max_chars: int) -> Incoming | str:
    """The message to answer, or why the event is ignored (a short reason for the 200 response)."""
    event = payload.get("event")
    if event != "message_created":
        return f"event {event!r} is not answered"
    if payload.get("private"):
        return "private note"
    sender = payload.get("sender") if isinstance(payload.get("sender"), dict) else {}
    if sender.get("type") == "agent_bot":
        return "the bot's own message"
    if payload.get("message_type") not in ("incoming", 0):
        return f"{payload.get('message_type')} message"
    conversation = payload.get("conversation")
    if not isinstance(conversation, dict):
        raise BadPayload("'conversation' must be an object")
    if conversation.get("status") != "pending":
        return f"conversation is {conversation.get('status')}, not pending"
    content = payload.get("content")
    content = content.replace("\x00", "").strip() if isinstance(content, str) else ""
    if not content:
        return "no text"
    return Incoming(account_id_of(payload), _id(conversation.get("id"), "conversation.id"),
                    _id(payload.get("id"), "id"), content[:max_chars])


def _links(sources: list[dict[str, Any]]) -> list[str]:
    """The web addresses among a reply's sources, once each (file paths mean nothing to customers)."""
    links: list[str] = []
    for source in sources or []:
        url = str(source.get("source") or "")
        if url.startswith(("http://", "https://")) and url not in links:
            links.append(url)
    return links[:MAX_LINKS]


def customer_text(reply: dict[str, Any]) -> str:
    """The reply as one chat message: the answer, then its source links on one line."""
    text = (reply.get("answer") or "").strip()
    links = _links(reply.get("sources") or [])
    if text and links:
        text += "\n\n" + ("Source: " if len(links) == 1 else "Sources: ") + " · ".join(links)
    return text


def handoff_note(reply: dict[str, Any], ticket: dict[str, Any] | None) -> str:
    """The private note for the agents: ticket, reason, intent, sentiment, language and summary."""
    handoff = reply.get("handoff") or {}
    sentiment = reply.get("sentiment") or {}
    score = sentiment.get("score")
    mood = f"{sentiment.get('label', '-')}" + (f" ({score:+.2f})" if isinstance(score, (int, float)) else "")
    ref = handoff.get("ticket") or (ticket or {}).get("ref")
    summary = handoff.get("summary") or (ticket or {}).get("summary") or "-"
    lines = [f"shopqa handed this conversation to a person{f' (ticket {ref})' if ref else ''}.",
             f"Reason: {handoff.get('reason', '-')}",
             f"Intent: {(reply.get('intent') or {}).get('name', '-')}",
             f"Sentiment: {mood}",
             f"Language: {reply.get('lang', '-')}",
             f"Summary: {summary}"]
    if handoff.get("existing"):
        lines.insert(1, "The customer wrote again while the ticket is open.")
    return "\n".join(lines)


def _message(msg: Incoming, content: str, private: bool) -> dict[str, Any]:
    return {"kind": "note" if private else "message", "account_id": msg.account_id,
            "conversation_id": msg.conversation_id, "path": messages_path(msg.account_id, msg.conversation_id),
            "body": {"content": content, "message_type": "outgoing", "private": private}}


def _open(msg: Incoming) -> dict[str, Any]:
    return {"kind": "toggle_status", "account_id": msg.account_id, "conversation_id": msg.conversation_id,
            "path": toggle_status_path(msg.account_id, msg.conversation_id), "body": {"status": "open"}}


def reply_actions(msg: Incoming, reply: dict[str, Any], ticket: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The calls to Chatwoot for one reply, in order. A handoff first leaves the agents a private
    note, then tells the customer, then opens the conversation so it reaches the agents' inbox."""
    actions: list[dict[str, Any]] = []
    if reply.get("handoff"):
        actions.append(_message(msg, handoff_note(reply, ticket), private=True))
    text = customer_text(reply)
    if text:
        actions.append(_message(msg, text, private=False))
    if reply.get("handoff"):
        actions.append(_open(msg))
    return actions


def failure_actions(msg: Incoming, error: str) -> list[dict[str, Any]]:
    """When shopqa cannot answer at all, a person should: a private note saying why, then open."""
    note = f"shopqa could not answer this message ({error[:200]}); please take over."
    return [_message(msg, note, private=True), _open(msg)]
