"""The records of one customer turn: the ``Turn`` the router works on and the ``Reply`` it returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from shopqa.routing.intents import IntentResult
from shopqa.routing.sentiment import Sentiment


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

