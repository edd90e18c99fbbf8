"""Turn a follow-up ("and the black one?", "那运费呢？") into a standalone query.

The packaged LLMs are too weak to rewrite reliably, so the default is a rule: a short
message, or one that leans on the conversation (pronouns, "and ...", "呢"), is searched
together with the previous customer question and the products named earlier.
"""
from __future__ import annotations

import re
from functools import lru_cache

from shopqa.ingest.chunking import count_tokens

_FOLLOW_UP = re.compile(
    r"^\s*(and|also|what about|how about|but|or|same|then)\b|\b(it|its|it's|that|this|those|these|them|one|ones)\b|"
    r"^\s*(那|那么|还有|另外|这个|那个|它)|呢\s*[？?]?\s*$|[它这那]个?", re.I)


_CJK = re.compile(r"[\u4e00-\u9fff]")
# jieba's part-of-speech tags that name something: nouns (n, nr, ns, nz, vn ...), Latin words and codes.
_NAMING = ("n", "vn", "eng")


@lru_cache(maxsize=1024)
def needs_context(message: str) -> bool:
    """True when the message probably cannot be understood alone (asked several times per
    message, by the router and the answer stages; a Chinese message costs a part-of-speech pass)."""
    return bool(_FOLLOW_UP.search(message)) or count_tokens(message) <= 3 or _names_nothing(message)


def _names_nothing(message: str) -> bool:
    """A Chinese question that names nothing ("一般几天能到？", "保修多久？") leaves what it is
    about to the conversation; English says so with a pronoun, which _FOLLOW_UP reads."""
    if not _CJK.search(message):
        return False
    from shopqa.ingest.tokenize import _jieba

    _jieba()  # initialised once, quietly
    import jieba.posseg

    return not any(pair.flag.startswith(_NAMING) for pair in jieba.posseg.lcut(message))


def earlier(message: str, history: list[dict]) -> str | None:
    """The earlier question a follow-up leans on (its standalone form), or None when the
    message stands alone."""
    if not history or not needs_context(message):
        return None
    previous = [h for h in history if h["role"] == "customer"]
    if not previous:
        return None
    return previous[-1].get("standalone") or previous[-1]["text"]


def standalone(message: str, history: list[dict], products: list[str] | None = None) -> str:
    """The query to retrieve with: the message, plus the previous question when it is a follow-up."""
    last = earlier(message, history)
    if last is None:
        return message
    # Products already in the earlier query are not added again (follow-ups would pile them up).
    products = [p for p in products or [] if p.lower() not in last.lower()]
    extra = f" ({', '.join(products)})" if products else ""
    return f"{last}{extra} {message}".strip()
