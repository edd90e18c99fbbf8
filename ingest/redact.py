"""Redact emails, phone numbers and payment card numbers before anything is stored or embedded."""
from __future__ import annotations

import re

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Card candidates: 13-19 digits, optionally grouped by spaces or dashes; confirmed by Luhn.
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_PHONES = [
    re.compile(r"\+\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,4}"),  # international
    re.compile(r"\(\d{3}\)\s?\d{3}[\s.-]\d{4}"),  # (415) 555-0132
    re.compile(r"(?<!\d)\d{3}[.-]\d{3}[.-]\d{4}(?!\d)"),  # 415-555-0132
    re.compile(r"(?<!\d)1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)"),  # Chinese mobile 138 0013 8000
]


# An agent's greeting that names the customer ("Hi Sophie,", "Dear Mr. Chen,", "王先生您好，"):
# past chats are quoted to *other* customers, so the name goes and the greeting stays.
_SALUTATION = re.compile(
    r"^(?P<greet>hi|hello|hey|dear|good (?:morning|afternoon|evening))\s+"
    r"(?P<who>(?:(?:mr|mrs|ms|miss|dr)\.?\s+)?[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)(?P<end>\s*[,!.:])", re.IGNORECASE)
_SALUTATION_ZH = re.compile(r"^[\u4e00-\u9fff]{1,3}(?:先生|女士|小姐)(?:[，,]\s*)?(?=您好|你好)")


def drop_salutation_name(text: str) -> str:
    """``text`` without the customer's name in its opening greeting ("Hi Sophie, ..." -> "Hi, ...")."""
    match = _SALUTATION.match(text)
    if match and match.group("who")[0].isupper():  # a name, not "Hi there," or "Hello again!"
        return f"{match.group('greet')}{match.group('end').strip()}{text[match.end():]}"
    return _SALUTATION_ZH.sub("", text)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[CARD]" if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group(0)


def redact(text: str) -> str:
    """Replace PII with ``[EMAIL]``, ``[CARD]`` and ``[PHONE]`` placeholders."""
    text = _EMAIL.sub("[EMAIL]", text)
    text = _CARD.sub(_card, text)
    for pattern in _PHONES:
        text = pattern.sub("[PHONE]", text)
    return text
