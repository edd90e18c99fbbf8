"""The order tools as a multi-turn flow: collect the order number and email, verify, then act.

Nothing about an order is said before the customer has given an order number *and* the
email on that order in this session. A wrong pair fails the same way whether or not the order
exists; the fifth failure locks verification for the session (a logged risk signal) and hands
the customer to a person. Cancelling and changing the address need an explicit "yes" turn and
are refused once the order has shipped. Item changes go to staff.

A new address given with the request ("... RL-50003 to 99 Lake Rd, Austin", "新地址：…") is
remembered and offered for confirmation right after verification. A reply that cannot be an
address ("yes", "ok", "好", a single word) is never offered for confirmation: the customer is
asked again. Customers only ever see texts from ``prompts/messages.toml``, never an internal
reason such as an ``OrderError``'s message.

The flow's state (task, collected slots, verified orders, what it is waiting for) lives in
the conversation store, so it works across CLI calls and server processes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from shopqa.ordering.order_slots import EMAIL, extract_order_id, find_new_address, is_bare_slot, wants_yes, clean_address, \
    looks_like_address, ADDRESS_WORDS
from shopqa.ordering.order_records import ADDRESS_CHANGEABLE, CANCELLABLE, Order, OrderError, OrderStore
from shopqa.text.prompts import Prompts

ORDER_TASKS = ("order_status", "cancel_order", "change_order")


# The flow's questions that only a yes or no (or the address asked for) answers.
CONFIRMING = ("confirm_cancel", "confirm_address", "new_address")


@dataclass
class OrderSession:
    """The order flow's state in one session; only :class:`OrderFlow` changes it. Stored in
    the session state under ``"order"`` (same keys as these fields)."""

    verified: list[str] = field(default_factory=list)  # order ids this session proved it owns
    awaiting: str | None = None  # the question the flow asked last: order_id, email, confirm_* or new_address
    task: str | None = None  # order_status, cancel_order or change_order
    request: str | None = None  # the message that asked for the task
    order_id: str | None = None
    email: str | None = None
    address_hint: str | None = None  # a new address given with the request, for after verification
    new_address: str | None = None  # the address waiting for a yes
    address_retries: int = 0

    @classmethod
    def of(cls, state: dict[str, Any]) -> "OrderSession":
        """The flow state stored in a session's ``state``."""
        stored = state.get("order") or {}
        return cls(**{k: v for k, v in stored.items() if k in cls.__dataclass_fields__})

    def save(self, state: dict[str, Any]) -> None:
        """Write it back into the session's ``state``."""
        state["order"] = asdict(self)


@dataclass
class FlowReply:
    """What the flow says, and what it did."""

    text: str
    step: str
    handoff_reason: str | None = None
    order_id: str | None = None
    action: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class OrderFlow:
    """One turn of the order flow at a time."""

    def __init__(self, store: OrderStore, prompts: Prompts):
        self.store = store
        self.prompts = prompts

    def takes(self, state: dict[str, Any], message: str, intent: str | None, knowledge_first: bool = False,
              follows_up: bool = False) -> bool:
        """Whether this turn belongs to the order tools: the flow waits for a confirmation or an
        address; or for an order number or email that the message gives; or the message asks for
        an order task and names an order, or no published passage answers it better
        (``knowledge_first``: "can I add items to an order after placing it?" is a policy
        question), and is not an elliptical follow-up of a knowledge answer."""
        awaiting = OrderSession.of(state).awaiting
        names_order = extract_order_id(message, self.store.id_shapes()) is not None
        takes_slot = awaiting in ("order_id", "email") and (names_order or "@" in message or intent in ORDER_TASKS)
        return (awaiting in CONFIRMING or takes_slot
                or (intent in ORDER_TASKS and not follows_up and (names_order or not knowledge_first)))

    def step_aside(self, state: dict[str, Any]) -> None:
        """The customer moved on to something else: drop the pending question."""
        flow = OrderSession.of(state)
        if flow.awaiting:
            flow.awaiting = None
            flow.save(state)

    def verified(self, state: dict[str, Any]) -> list[str]:
        """The order ids this session has proved it owns."""
        return OrderSession.of(state).verified

    def handle(self, session_id: str, message: str, intent: str | None, state: dict[str, Any], lang: str) -> FlowReply:
        """Advance the flow with ``message``; ``state`` is updated in place."""
        flow = OrderSession.of(state)
        try:
            return self._step(session_id, message, intent, flow, state, lang)
        finally:
            flow.save(state)

    def _step(self, session_id: str, message: str, intent: str | None, flow: OrderSession, state: dict[str, Any],
              lang: str) -> FlowReply:
        msg = self.prompts.message
        awaiting = flow.awaiting
        # A bare order number or email answers the flow's question; the intent model's guess
        # for it ("order status") must not replace the task the customer asked for ("cancel").
        if intent in ORDER_TASKS and awaiting not in CONFIRMING \
                and not (flow.task and is_bare_slot(message)):
            if flow.task != intent:
                flow.request = message
                flow.address_hint = None
            flow.task = intent
        task = flow.task or "order_status"

        # Confirmation turns come first: they are answered with yes or no, nothing else.
        if awaiting in ("confirm_cancel", "confirm_address"):
            return self._confirm(session_id, message, flow, lang)
        if awaiting == "new_address":
            return self._take_address(message, flow, lang)

        if self.store.locked(session_id):
            flow.awaiting = None
            return FlowReply(msg("verify_locked", lang), "locked", handoff_reason="verification_locked")

        self._read_slots(message, task, flow)
        if not flow.order_id:
            flow.awaiting = "order_id"
            return FlowReply(msg("ask_order_id", lang), "ask_order_id")
        if flow.order_id not in flow.verified:
            if not flow.email:
                flow.awaiting = "email"
                return FlowReply(msg("ask_email", lang), "ask_email")
            order = self.store.verify(session_id, flow.order_id, flow.email)
            if order is None:
                flow.order_id = flow.email = None
                if self.store.locked(session_id):
                    flow.awaiting = None
                    return FlowReply(msg("verify_locked", lang), "locked", handoff_reason="verification_locked")
                flow.awaiting = "order_id"
                left = self.store.max_failures - self.store.failures(session_id)
                key = "verify_failed_one" if left == 1 else "verify_failed"
                return FlowReply(msg(key, lang, left=left), "verify_failed")
            flow.verified.append(order.order_id)
            state["customer_email"] = order.email  # a verified customer: personalised suggestions may use it
        order = self.store.get(flow.order_id)
        flow.awaiting = None
        if task == "cancel_order":
            return self._offer_cancel(order, flow, lang)
        if task == "change_order":
            return self._offer_change(order, flow, message, lang)
        return FlowReply(self.describe(order, lang), "status", order_id=order.order_id, action="status",
                         data={"status": order.status})

    def _read_slots(self, message: str, task: str, flow: OrderSession) -> None:
        """Keep the order number and email the message gives (and, for an address change, the new
        address given with the request)."""
        slots = message
        if task == "change_order":
            # "... RL-50003 to 99 Lake Rd, Austin, TX 78702": keep the address for after verification,
            # and do not read an order number out of it.
            hint = find_new_address(message)
            if hint:
                flow.address_hint = hint[0]
                slots = f"{message[:hint[1]]} {message[hint[2]:]}"
        found_id = extract_order_id(slots, self.store.id_shapes())
        found_email = EMAIL.search(slots)
        if found_id:
            flow.order_id = found_id
        if found_email:
            flow.email = found_email.group(0).lower()

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

    def _offer_cancel(self, order: Order, flow: OrderSession, lang: str) -> FlowReply:
        msg = self.prompts.message
        status = msg(f"status_{order.status}", lang)
        if order.status not in CANCELLABLE:
            return FlowReply(msg("cannot_cancel", lang, order_id=order.order_id, status=status), "cannot_cancel",
                             order_id=order.order_id, action="cancel_refused", data={"status": order.status})
        flow.awaiting = "confirm_cancel"
        return FlowReply(msg("confirm_cancel", lang, order_id=order.order_id, items=", ".join(order.items),
                             status=status), "confirm_cancel", order_id=order.order_id)

    def _offer_change(self, order: Order, flow: OrderSession, message: str, lang: str) -> FlowReply:
        msg = self.prompts.message
        hint = _take(flow, "address_hint")  # for this order only, whatever happens next
        request = " ".join([flow.request or "", message])
        if not hint and not ADDRESS_WORDS.search(request):
            return FlowReply(msg("change_needs_staff", lang), "change_items", handoff_reason="order_change_needs_staff",
                             order_id=order.order_id)
        if order.status not in ADDRESS_CHANGEABLE:
            return FlowReply(msg("cannot_change", lang, order_id=order.order_id, status=msg(f"status_{order.status}", lang)),
                             "cannot_change", order_id=order.order_id, action="change_refused",
                             data={"status": order.status})
        if hint:  # given with the request (find_new_address checked it): confirm it straight away
            return self._offer_address(order.order_id, hint, flow, lang)
        flow.awaiting = "new_address"
        return FlowReply(msg("ask_new_address", lang, order_id=order.order_id), "ask_new_address",
                         order_id=order.order_id)

    def _offer_address(self, order_id: str, address: str, flow: OrderSession, lang: str) -> FlowReply:
        flow.new_address = address
        flow.awaiting = "confirm_address"
        return FlowReply(self.prompts.message("confirm_address", lang, order_id=order_id, address=address),
                         "confirm_address", order_id=order_id)

    def _take_address(self, message: str, flow: OrderSession, lang: str) -> FlowReply:
        """The answer to "what is the new address?": an address to confirm, or asked again."""
        msg = self.prompts.message
        order_id = flow.order_id
        found = find_new_address(message)  # "please change it to 9 New Road, Berlin"
        address = found[0] if found else clean_address(message)
        if looks_like_address(address):
            flow.address_retries = 0
            return self._offer_address(order_id, address, flow, lang)
        # "no", "never mind", "算了" keep the address; so does a second reply that is no address
        # either (the customer has moved on, and must not stay stuck in this question).
        retries = flow.address_retries
        if wants_yes(message) is False or retries >= 1:
            flow.awaiting = None
            flow.address_retries = 0
            return FlowReply(msg("address_kept", lang, order_id=order_id), "address_kept", order_id=order_id)
        flow.address_retries = retries + 1
        return FlowReply(msg("address_invalid", lang, order_id=order_id), "address_invalid", order_id=order_id)

    def _confirm(self, session_id: str, message: str, flow: OrderSession, lang: str) -> FlowReply:
        msg = self.prompts.message
        awaiting, order_id = flow.awaiting, flow.order_id
        answer = wants_yes(message)
        flow.awaiting = None
        if awaiting == "confirm_cancel":
            if answer is not True:
                return FlowReply(msg("cancel_kept", lang, order_id=order_id), "cancel_kept", order_id=order_id)
            try:
                self.store.cancel(session_id, order_id)
            except OrderError as exc:
                order = self.store.get(order_id)
                if exc.code != "not_cancellable" or order is None:
                    return self._failed(order_id, "cancel_refused", lang)
                return FlowReply(msg("cannot_cancel", lang, order_id=order_id, status=msg(f"status_{order.status}", lang)),
                                 "cannot_cancel", order_id=order_id, action="cancel_refused")
            return FlowReply(msg("cancelled", lang, order_id=order_id), "cancelled", order_id=order_id, action="cancel")
        address = _take(flow, "new_address") or ""
        if answer is not True:
            return FlowReply(msg("address_kept", lang, order_id=order_id), "address_kept", order_id=order_id)
        try:
            order = self.store.change_address(session_id, order_id, address)
        except OrderError as exc:  # the store's reason is for the log, not for the customer
            if exc.code == "address_too_short":
                flow.awaiting = "new_address"
                return FlowReply(msg("address_invalid", lang, order_id=order_id), "address_invalid",
                                 order_id=order_id, action="change_refused")
            order = self.store.get(order_id)
            if exc.code != "not_changeable" or order is None:
                return self._failed(order_id, "change_refused", lang)
            return FlowReply(msg("cannot_change", lang, order_id=order_id, status=msg(f"status_{order.status}", lang)),
                             "cannot_change", order_id=order_id, action="change_refused",
                             data={"status": order.status})
        return FlowReply(msg("address_changed", lang, order_id=order_id, address=order.address), "address_changed",
                         order_id=order_id, action="change_address")

    def _failed(self, order_id: str, action: str, lang: str) -> FlowReply:
        """An action the store refused for a reason the customer cannot fix here: a person takes over."""
        return FlowReply(self.prompts.message("order_action_failed", lang, order_id=order_id), "action_failed",
                         order_id=order_id, action=action, handoff_reason="order_change_needs_staff")


def _take(flow: OrderSession, name: str) -> str | None:
    """A one-use slot's value, cleared."""
    value = getattr(flow, name)
    setattr(flow, name, None)
    return value
