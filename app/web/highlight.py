"""Mark the query's terms in a snippet, safely (the snippet is HTML-escaped first)."""
from __future__ import annotations

import re
from html import escape

from shopqa.ingest.tokenize import tokenize


def mark(snippet: str, query: str) -> str:
    """``snippet`` as HTML with every query term wrapped in <mark>; nothing else is markup."""
    terms = {t for t in tokenize(query) if len(t) > 1}  # single characters would mark half the text
    # Also the raw words as typed (tokenize stems English words: "refunds" -> "refund").
    terms |= {w.lower() for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9-]+|[\u4e00-\u9fff]+", query)}
    terms = sorted((t for t in terms if t), key=len, reverse=True)
    text = escape(snippet)
    if not terms:
        return text
    pattern = re.compile("|".join(re.escape(escape(t)) for t in terms), re.IGNORECASE)
    return pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", text)
