"""Whether a message asks something, in English or Chinese: a question mark, or a question's
shape without one ("how many days do i have to report it", "想问下到底哪些情况不保修").

Used where a question and a statement take different paths: an upset customer who asks
something gets the answer (and a person), one who only vents gets a person.
"""
from __future__ import annotations

import re

# An interrogative word opening a clause ("... leaked into the box. how many days do i have").
_EN_OPENING = re.compile(r"(?:^|[.!;:,]\s*|\b(?:and|but|so|or)\s+)(how|what|whats|what's|when|where|which|who|why|"
                         r"can|could|do|does|did|is|are|was|were|will|would|should|may|shall)\b", re.I)
# Question phrases anywhere ("i want to know how much", "wondering whether").
_EN_INNER = re.compile(r"\b(how (?:much|many|long|often|do|does|can|to)|is it possible|wondering|"
                       r"want to know|like to know|any idea)\b", re.I)
# Chinese question particles and words; not 什么 alone, which also scolds ("卖的什么垃圾").
_ZH = re.compile(r"[吗呢嘛][\s。！!，,]*$|[吗呢][，,。]|多少|几[天个次号点种]|哪[些个里儿款种]|怎么|怎样|如何|是否|能不能|"
                 r"可不可以|可以吗|有没有|为什么|为啥|想问|请问|想知道")


def asks_question(text: str) -> bool:
    """True when ``text`` asks something rather than only stating or demanding."""
    return bool("?" in text or "？" in text or _EN_OPENING.search(text) or _EN_INNER.search(text)
                or _ZH.search(text.strip()))
