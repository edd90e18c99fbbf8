"""What a customer's reply to the order flow holds: an order number, an email, a yes or no,
a new address. Pure text functions, shared by the router (does this message answer the
flow?) and the flow itself (app/ordering/order_flow.py)."""
from __future__ import annotations

import re

from shopqa.ordering.order_records import MIN_ADDRESS_CHARS, normalise_id, shape

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
