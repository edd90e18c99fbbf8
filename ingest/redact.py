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
