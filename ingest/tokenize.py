"""Tokens for the keyword index: jieba for Chinese, light stemming for English, SKUs kept whole."""
from __future__ import annotations

import logging
import re
from functools import lru_cache

# SKU and model-number shapes: LX-CASE-X200, X200, 65W, A2403, USB-C. Kept whole *and* split,
# so "X200" matches "LX-X200" and "lx-x200" matches exactly.
_CODE = re.compile(r"[A-Za-z0-9]+(?:[-_/.][A-Za-z0-9]+)+|[A-Za-z]+\d[A-Za-z0-9]*|\d+[A-Za-z]+[A-Za-z0-9]*")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[a-z0-9]+")
_EN_STOP = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been being it its this that "
    "these those i me my we our you your he she they them their do does did can could would should will shall "
    "may might must have has had not no so than too very just about into over also any all there here what which "
    "who whom how when where why".split()
)
_ZH_STOP = frozenset("的 了 吗 呢 吧 啊 是 我 你 他 她 它 们 我们 你们 在 有 和 与 及 就 都 也 还 要 会 能 可以 请 请问 怎么 什么 一个 这个 那个 这 那 么 呀".split())


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # jieba prints its dictionary loading to stderr otherwise
    jieba.initialize()
    return jieba


# Recorded in each index's manifest: ingest re-tokenizes an index built by an older version
# (no re-embedding). 2: "cases" stems to "case", not "cas" (also uses, purchases, releases).
TOKENIZER_VERSION = 2


def stem(word: str) -> str:
    """A deliberately light English stemmer: plurals and common verb endings."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, repl, min_len in (("ies", "y", 5), ("sses", "ss", 5), ("ing", "", 6), ("ed", "", 5), ("es", "", 5),
                                  ("s", "", 4)):
        if word.endswith(suffix) and len(word) >= min_len and not word.endswith("ss"):
            # "boxes", "watches", "dishes", "quizzes" lose "es"; "cases", "uses", "purchases"
            # lose only "s" (far more of them than "buses" or "lenses", which then keep an "e").
            if suffix == "es" and not word[:-2].endswith(("x", "ch", "sh", "z")):  # "-sses" went above
                continue
            base = word[: len(word) - len(suffix)] + repl
            # shipping -> shipp -> ship, so it meets "ship" and "shipped"
            if suffix in ("ing", "ed") and len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]
            return base
    return word


def codes(text: str) -> list[str]:
    """SKU / model-number looking strings in ``text``, lower-cased."""
    return [m.group(0).lower() for m in _CODE.finditer(text) if any(ch.isdigit() for ch in m.group(0))
            or "-" in m.group(0)]


def tokenize(text: str) -> list[str]:
    """Index tokens of a mixed Chinese/English text."""
    tokens = codes(text)
    lowered = text.lower()
    for run in _CJK_RUN.findall(lowered):
        tokens.extend(t for t in _jieba().lcut_for_search(run) if t.strip() and t not in _ZH_STOP)
    for word in _WORD.findall(_CJK_RUN.sub(" ", lowered)):
        if word not in _EN_STOP:
            tokens.append(stem(word))
    return tokens
