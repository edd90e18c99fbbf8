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

import re
from dataclasses import dataclass, field
from typing import Any

from .orders import (ADDRESS_CHANGEABLE, CANCELLABLE, MIN_ADDRESS_CHARS, Order, OrderError, SQLiteOrderStore,
                     normalise_id, shape)
from .prompts import Prompts

ORDER_TASKS = ("order_status", "cancel_order", "change_order")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Order numbers: letters-digits codes (LM-100231, A1043) or long digit runs, optionally after '#'.
ORDER_ID = re.compile(r"(?<![A-Za-z0-9@.\-])#?\s?([A-Za-z]{1,5}-?\d{3,}(?:-\d+)?|\d{5,})(?![A-Za-z0-9@\-])")
YES = re.compile(r"^\s*(?:(?:yes|y|yeah|yep|sure|ok|okay|confirm(?:ed)?|please do|do it|go ahead)\b|是|对|好|确认|确定|可以|嗯)",
                 re.IGNORECASE)
NO = re.compile(r"^\s*(?:(?:no|n|nope|don'?t|do not|keep it|never ?mind)\b|否|不|别|算了)", re.IGNORECASE)
ADDRESS_WORDS = re.compile(r"address|ship(ping)? to|deliver(y)? to|地址|收货", re.IGNORECASE)
# Where a message names the new address: "new address: ...", "change ... to ...", "ship it to ...",
# "新地址：...", "改成 ...". The first pattern that yields a plausible address wins.
NEW_ADDRESS = [re.compile(p, re.IGNORECASE | re.DOTALL) for p in (
    r"\bnew\s+(?:shipping\s+|delivery\s+)?address\s*(?:is|will\s+be|should\s+be|would\s+be)?\s*[:：]?\s*(?P<a>.+)",
    r"\b(?:change|update|correct|move|switch|set|edit|amend)\b.*?\b(?:to|into)\b\s*[:：]?\s*(?P<a>.+)",
    r"\b(?:ship|send|deliver|mail)\w*\b.*?\bto\b\s*[:：]?\s*(?P<a>.+)",
    r"新的?(?:收货|配送|送货|邮寄)?地址\s*(?:是|为|改为|改成)?\s*[:：]?\s*(?P<a>.+)",
    r"(?:改成|改为|改到|换成|换为|更改为|修改为|变更为|更新为|寄到|送到|发到|寄往)\s*[:：]?\s*(?P<a>.+)",
)]
# Where a captured address ends: the email or order number that follows it, or a courtesy.
ADDRESS_END = re.compile(
    r"[\s,;，；。.]*(?:\b(?:and\s+)?(?:my\s+)?e-?mail\b|[\w.+-]+@|\b(?:for|on|of|in)\s+(?:my\s+|the\s+)?order\b"
    r"|(?:我的)?邮箱|谢谢|多谢|\b(?:please|pls|thanks|thank\s+you|thx|instead)\b).*$",
    re.IGNORECASE | re.DOTALL)
ADDRESS_LEAD = re.compile(r"^(?:be|the\s+following|this|it\s+is|it's)\s*[:：]?\s+", re.IGNORECASE)
CJK = re.compile(r"[\u4e00-\u9fff]")
CN_ADDRESS_PART = re.compile(r"[省市区县镇乡村路街巷弄号楼栋室幢]")
# Words of a sentence, not of an address (which then has no house number either).
NOT_ADDRESS_WORDS = re.compile(
    r"\b(?:i|i'm|you|me|we|what|why|how|who|when|which|do|does|did|can|could|would|will|is|are|was|mean|want|need|"
    r"know|please|thanks|hello|hi|hey|order|email)\b|[?？]|吗|呢|什么|怎么|为什么|不知道", re.IGNORECASE)


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


def clean_address(text: str) -> str:
    """``text`` as an address: one line, without a trailing email, order reference or courtesy."""
    text = ADDRESS_END.sub("", " ".join(text.split()))
    return ADDRESS_LEAD.sub("", text).strip(" \t,;:!?\"'“”，；：！？。")


def looks_like_address(text: str) -> bool:
    """False for a reply that cannot be a full address: yes/no/ok/是/好, too short, an email,
    a bare number, or one word without any digits."""
    text = " ".join(text.split()).strip(" .,;:!。，！")
    if len(text.rstrip("?？")) < MIN_ADDRESS_CHARS or EMAIL.fullmatch(text):
        return False
    core = ORDER_ID.sub(" ", EMAIL.sub(" ", text))  # an order number or email is not part of an address
    has_digit = bool(re.search(r"\d", core))
    words = re.findall(r"[^\W\d_]+", CJK.sub(" ", core))  # words in alphabetic scripts
    cjk = len(CJK.findall(text))
    if not words and not cjk:
        return False  # digits and punctuation only
    if wants_yes(text) is not None and not has_digit:
        return False  # "yes please", "ok go ahead", "好的", "不用了"
    if not has_digit:  # a house number is missing: at least several words, none of a sentence
        if NOT_ADDRESS_WORDS.search(text):
            return False
        if cjk < 6 and len(words) < 2 or cjk and len(CN_ADDRESS_PART.findall(text)) < 2:
            return False
    return True


def find_new_address(text: str) -> tuple[str, int, int] | None:
    """The new address a message names ("... to 99 Lake Rd, Austin", "新地址：..."), with its span.

    Only a plausible address with a house number (or, in Chinese, a part such as 路/号/区)
    counts, so "I'm moving to Austin" names none.
    """
    for pattern in NEW_ADDRESS:
        for m in pattern.finditer(text):
            address = clean_address(m.group("a"))
            plausible = bool(re.search(r"\d", address)) or bool(CN_ADDRESS_PART.search(address))
            if address and plausible and looks_like_address(address):
                start = m.start("a")
                return address, start, start + len(m.group("a"))
    return None


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
        awaiting = flow.get("awaiting")
        # A bare order number or email answers the flow's question; the intent model's guess
        # for it ("order status") must not replace the task the customer asked for ("cancel").
        if intent in ORDER_TASKS and awaiting not in ("confirm_cancel", "confirm_address", "new_address") \
                and not (flow.get("task") and is_bare_slot(message)):
            if flow.get("task") != intent:
                flow["request"] = message
                flow.pop("address_hint", None)
            flow["task"] = intent
        task = flow.get("task") or "order_status"

        # Confirmation turns come first: they are answered with yes or no, nothing else.
        if awaiting in ("confirm_cancel", "confirm_address"):
            return self._confirm(session_id, message, flow, lang)
        if awaiting == "new_address":
            return self._take_address(message, flow, lang)

        if self.store.locked(session_id):
            flow["awaiting"] = None
            return FlowReply(msg("verify_locked", lang), "locked", handoff_reason="verification_locked")

        slots = message
        if task == "change_order":
            # "... RL-50003 to 99 Lake Rd, Austin, TX 78702": keep the address for after verification,
            # and do not read an order number out of it.
            hint = find_new_address(message)
            if hint:
                flow["address_hint"] = hint[0]
                slots = f"{message[:hint[1]]} {message[hint[2]:]}"
        found_id = extract_order_id(slots, self.store.id_shapes())
        found_email = EMAIL.search(slots)
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
                key = "verify_failed_one" if left == 1 else "verify_failed"
                return FlowReply(msg(key, lang, left=left), "verify_failed")
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
        hint = flow.pop("address_hint", None)  # for this order only, whatever happens next
        request = " ".join([flow.get("request") or "", message])
        if not hint and not ADDRESS_WORDS.search(request):
            return FlowReply(msg("change_needs_staff", lang), "change_items", handoff_reason="order_change_needs_staff",
                             order_id=order.order_id)
        if order.status not in ADDRESS_CHANGEABLE:
            return FlowReply(msg("cannot_change", lang, order_id=order.order_id, status=msg(f"status_{order.status}", lang)),
                             "cannot_change", order_id=order.order_id, action="change_refused",
                             data={"status": order.status})
        if hint:  # given with the request (find_new_address checked it): confirm it straight away
            return self._offer_address(order.order_id, hint, flow, lang)
        flow["awaiting"] = "new_address"
        return FlowReply(msg("ask_new_address", lang, order_id=order.order_id), "ask_new_address",
                         order_id=order.order_id)

    def _offer_address(self, order_id: str, address: str, flow: dict, lang: str) -> FlowReply:
        flow["new_address"] = address
        flow["awaiting"] = "confirm_address"
        return FlowReply(self.prompts.message("confirm_address", lang, order_id=order_id, address=address),
                         "confirm_address", order_id=order_id)

    def _take_address(self, message: str, flow: dict, lang: str) -> FlowReply:
        """The answer to "what is the new address?": an address to confirm, or asked again."""
        msg = self.prompts.message
        order_id = flow["order_id"]
        found = find_new_address(message)  # "please change it to 9 New Road, Berlin"
        address = found[0] if found else clean_address(message)
        if looks_like_address(address):
            flow.pop("address_retries", None)
            return self._offer_address(order_id, address, flow, lang)
        # "no", "never mind", "算了" keep the address; so does a second reply that is no address
        # either (the customer has moved on, and must not stay stuck in this question).
        retries = flow.get("address_retries", 0)
        if wants_yes(message) is False or retries >= 1:
            flow["awaiting"] = None
            flow.pop("address_retries", None)
            return FlowReply(msg("address_kept", lang, order_id=order_id), "address_kept", order_id=order_id)
        flow["address_retries"] = retries + 1
        return FlowReply(msg("address_invalid", lang, order_id=order_id), "address_invalid", order_id=order_id)

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
            except OrderError as exc:
                order = self.store.get(order_id)
                if exc.code != "not_cancellable" or order is None:
                    return self._failed(order_id, "cancel_refused", lang)
                return FlowReply(msg("cannot_cancel", lang, order_id=order_id, status=msg(f"status_{order.status}", lang)),
                                 "cannot_cancel", order_id=order_id, action="cancel_refused")
            return FlowReply(msg("cancelled", lang, order_id=order_id), "cancelled", order_id=order_id, action="cancel")
        address = flow.pop("new_address", "")
        if answer is not True:
            return FlowReply(msg("address_kept", lang, order_id=order_id), "address_kept", order_id=order_id)
        try:
            order = self.store.change_address(session_id, order_id, address)
        except OrderError as exc:  # the store's reason is for the log, not for the customer
            if exc.code == "address_too_short":
                flow["awaiting"] = "new_address"
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
