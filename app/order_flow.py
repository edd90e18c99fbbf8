"""The order tools as a multi-turn flow: collect the order number and email, verify, then act.

Nothing about an order is said before the customer has given an order number *and* the
email on that order in this session. A wrong pair fails the same way whether or not the order
exists; the fifth failure locks verification for the session (a logged risk signal) and hands
the customer to a person. Cancelling and changing the address need an explicit "yes" turn and
are refused once the order has shipped. Item changes go to staff.

The flow's state (task, collected slots, verified orders, what it is waiting for) lives in
the conversation store, so it works across CLI calls and server processes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .orders import ADDRESS_CHANGEABLE, CANCELLABLE, Order, OrderError, SQLiteOrderStore, normalise_id, shape
from .prompts import Prompts

ORDER_TASKS = ("order_status", "cancel_order", "change_order")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Order numbers: letters-digits codes (LM-100231, A1043) or long digit runs, optionally after '#'.
ORDER_ID = re.compile(r"(?<![A-Za-z0-9@.\-])#?\s?([A-Za-z]{1,5}-?\d{3,}(?:-\d+)?|\d{5,})(?![A-Za-z0-9@\-])")
YES = re.compile(r"^\s*(?:(?:yes|y|yeah|yep|sure|ok|okay|confirm(?:ed)?|please do|do it|go ahead)\b|是|对|好|确认|确定|可以|嗯)",
                 re.IGNORECASE)
NO = re.compile(r"^\s*(?:(?:no|n|nope|don'?t|do not|keep it|never ?mind)\b|否|不|别|算了)", re.IGNORECASE)
ADDRESS_WORDS = re.compile(r"address|ship(ping)? to|deliver(y)? to|地址|收货", re.IGNORECASE)


@dataclass
class FlowReply:
    """What the flow says, and what it did."""

    text: str
    step: str
    handoff_reason: str | None = None
    order_id: str | None = None
    action: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def wants_yes(text: str) -> bool | None:
    """True for a confirmation, False for a refusal, None for anything else."""
    if NO.match(text):
        return False
    if YES.match(text):
        return True
    return None


def extract_order_id(text: str, shapes: set[str] | None = None) -> str | None:
    """The first thing in ``text`` that looks like an order number (emails aside).

    With ``shapes`` (those of the shop's real order ids) a candidate of another shape, such as
    a product code, is passed over.
    """
    cleaned = EMAIL.sub(" ", text)
    candidates = [normalise_id(m.group(1)) for m in ORDER_ID.finditer(cleaned)]
    if shapes:
        candidates = [c for c in candidates if shape(c) in shapes] or candidates[:0]
    return candidates[0] if candidates else None


def is_bare_slot(text: str) -> bool:
    """True for a message that only gives an order number, an email or a yes/no.

    Such messages carry no sentiment of their own (the classifiers see an email address as
    noise), so the router does not read a mood into them.
    """
    rest = ORDER_ID.sub(" ", EMAIL.sub(" ", text))
    words = re.findall(r"[A-Za-z]+|[\u4e00-\u9fff]", rest)
    if wants_yes(text) is not None and len(words) <= 3:
        return True
    return len(words) <= 2 and rest != text


class OrderFlow:
    """One turn of the order flow at a time."""

    def __init__(self, store: SQLiteOrderStore, prompts: Prompts):
        self.store = store
        self.prompts = prompts

    def active(self, state: dict[str, Any]) -> bool:
        """True while the flow waits for an answer from the customer."""
        return bool((state.get("order") or {}).get("awaiting"))

    def handle(self, session_id: str, message: str, intent: str | None, state: dict[str, Any], lang: str) -> FlowReply:
        """Advance the flow with ``message``; ``state`` is updated in place."""
        flow = state.setdefault("order", {"verified": []})
        msg = self.prompts.message
        if intent in ORDER_TASKS and not (flow.get("awaiting") or "").startswith("confirm"):
            if flow.get("task") != intent:
                flow["request"] = message
            flow["task"] = intent
        task = flow.get("task") or "order_status"
        awaiting = flow.get("awaiting")

        # Confirmation turns come first: they are answered with yes or no, nothing else.
        if awaiting in ("confirm_cancel", "confirm_address"):
            return self._confirm(session_id, message, flow, lang)
        if awaiting == "new_address":
            address = message.strip()
            flow["new_address"] = address
            flow["awaiting"] = "confirm_address"
            return FlowReply(msg("confirm_address", lang, order_id=flow["order_id"], address=address), "confirm_address",
                             order_id=flow["order_id"])

        if self.store.locked(session_id):
            flow["awaiting"] = None
            return FlowReply(msg("verify_locked", lang), "locked", handoff_reason="verification_locked")

        found_id = extract_order_id(message, self.store.id_shapes())
        found_email = EMAIL.search(message)
        if found_id:
            flow["order_id"] = found_id
        if found_email:
            flow["email"] = found_email.group(0).lower()
        if not flow.get("order_id"):
            flow["awaiting"] = "order_id"
            return FlowReply(msg("ask_order_id", lang), "ask_order_id")
        if flow["order_id"] not in flow["verified"]:
            if not flow.get("email"):
                flow["awaiting"] = "email"
                return FlowReply(msg("ask_email", lang), "ask_email")
            order = self.store.verify(session_id, flow["order_id"], flow["email"])
            if order is None:
                flow["order_id"] = flow["email"] = None
                if self.store.locked(session_id):
                    flow["awaiting"] = None
                    return FlowReply(msg("verify_locked", lang), "locked", handoff_reason="verification_locked")
                flow["awaiting"] = "order_id"
                left = self.store.max_failures - self.store.failures(session_id)
                return FlowReply(msg("verify_failed", lang, left=left), "verify_failed")
            flow["verified"].append(order.order_id)
            state["customer_email"] = order.email  # a verified customer: personalised suggestions may use it
        order = self.store.get(flow["order_id"])
        flow["awaiting"] = None
        if task == "cancel_order":
            return self._offer_cancel(order, flow, lang)
        if task == "change_order":
            return self._offer_change(order, flow, message, lang)
        return FlowReply(self.describe(order, lang), "status", order_id=order.order_id, action="status",
                         data={"status": order.status})

    # -- the tasks -------------------------------------------------------------------------
    def describe(self, order: Order, lang: str) -> str:
        """A verified customer's view of the order."""
        msg = self.prompts.message
        text = msg("order_status", lang, order_id=order.order_id, items=", ".join(order.items),
                   placed_at=order.placed_at, status=msg(f"status_{order.status}", lang))
        if order.status in ("shipped", "delivered") and order.tracking:
            text += " " + msg("order_shipped_detail", lang, shipped_at=order.shipped_at or "-",
                              carrier=order.carrier or "-", tracking=order.tracking)
        return text

    def _offer_cancel(self, order: Order, flow: dict, lang: str) -> FlowReply:
        msg = self.prompts.message
        status = msg(f"status_{order.status}", lang)
        if order.status not in CANCELLABLE:
            return FlowReply(msg("cannot_cancel", lang, order_id=order.order_id, status=status), "cannot_cancel",
                             order_id=order.order_id, action="cancel_refused", data={"status": order.status})
        flow["awaiting"] = "confirm_cancel"
        return FlowReply(msg("confirm_cancel", lang, order_id=order.order_id, items=", ".join(order.items),
                             status=status), "confirm_cancel", order_id=order.order_id)

    def _offer_change(self, order: Order, flow: dict, message: str, lang: str) -> FlowReply:
        msg = self.prompts.message
        request = " ".join([flow.get("request") or "", message])
        if not ADDRESS_WORDS.search(request):
            return FlowReply(msg("change_needs_staff", lang), "change_items", handoff_reason="order_change_needs_staff",
                             order_id=order.order_id)
        if order.status not in ADDRESS_CHANGEABLE:
            return FlowReply(msg("cannot_change", lang, order_id=order.order_id, status=msg(f"status_{order.status}", lang)),
                             "cannot_change", order_id=order.order_id, action="change_refused",
                             data={"status": order.status})
        flow["awaiting"] = "new_address"
        return FlowReply(msg("ask_new_address", lang, order_id=order.order_id), "ask_new_address",
                         order_id=order.order_id)

    def _confirm(self, session_id: str, message: str, flow: dict, lang: str) -> FlowReply:
        msg = self.prompts.message
        awaiting, order_id = flow["awaiting"], flow["order_id"]
        answer = wants_yes(message)
        flow["awaiting"] = None
        if awaiting == "confirm_cancel":
            if answer is not True:
                return FlowReply(msg("cancel_kept", lang, order_id=order_id), "cancel_kept", order_id=order_id)
            try:
                self.store.cancel(session_id, order_id)
            except OrderError:
                order = self.store.get(order_id)
                return FlowReply(msg("cannot_cancel", lang, order_id=order_id, status=msg(f"status_{order.status}", lang)),
                                 "cannot_cancel", order_id=order_id, action="cancel_refused")
            return FlowReply(msg("cancelled", lang, order_id=order_id), "cancelled", order_id=order_id, action="cancel")
        address = flow.pop("new_address", "")
        if answer is not True:
            return FlowReply(msg("address_kept", lang, order_id=order_id), "address_kept", order_id=order_id)
        try:
            order = self.store.change_address(session_id, order_id, address)
        except OrderError as exc:
            return FlowReply(str(exc), "cannot_change", order_id=order_id, action="change_refused",
                             handoff_reason="order_change_needs_staff")
        return FlowReply(msg("address_changed", lang, order_id=order_id, address=order.address), "address_changed",
                         order_id=order_id, action="change_address")
