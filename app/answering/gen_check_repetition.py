"""Generated-answer check for repetition: a sentence said twice, or a phrase looped more often
than the passages have it."""
from __future__ import annotations

from collections import Counter

from shopqa.answering.gen_check_text import CJK, AnswerSentence, units_of
from shopqa.ingest.tokenize import tokenize


def repetition(sentences: list[AnswerSentence], passages: list[str]) -> list[str]:
    """The same sentence twice, or a phrase looped more often than the passages have it."""
    reasons: list[str] = []
    seen: set[str] = set()
    for s in sentences:
        key = "".join(units_of(s.plain))
        if len(key) >= 8 and key in seen:
            reasons.append(f"repeats the sentence {s.plain[:60]!r}")
            break
        seen.add(key)
    per_sentence = [units_of(s.plain) for s in sentences]
    units = [u for us in per_sentence for u in us]
    cjk_share = sum(1 for u in units if CJK.match(u)) / max(1, len(units))
    # A CJK unit is one character, a Latin unit a word: phrases are measured in both.
    short_n, long_n = (4, 8) if cjk_share > 0.5 else (3, 6)
    suspects: dict[tuple[str, ...], int] = {}
    for n, limit in ((short_n, 3), (long_n, 2)):
        # Within sentences: the end of one quoted sentence and the start of the next is no phrase.
        counts = Counter(tuple(us[i:i + n]) for us in per_sentence for i in range(len(us) - n + 1))
        suspects.update({g: c for g, c in counts.items() if c >= limit})
    # One word (a product name) said over and over.
    for unit, c in Counter(u for u in units if len(u) > 1 and not u.isdigit()).items():
        if c >= 5 and tokenize(unit):  # not "the" or "and"
            suspects[(unit,)] = c
    if not suspects:
        return reasons
    # Grounded text repeats what its passages repeat ("1-3 个工作日 ... 4-7 个工作日"); only more
    # than the context has is the model looping. The context is counted only when needed.
    context = "\x1f" + "\x1f".join(units_of("\n".join(passages))) + "\x1f"
    worst = None
    for gram, count in sorted(suspects.items(), key=lambda kv: (-kv[1], -len(kv[0]))):
        if count > context.count("\x1f" + "\x1f".join(gram) + "\x1f"):
            worst = (gram, count)
            break
    if worst:
        sep = "" if all(CJK.match(u) for u in worst[0]) else " "
        reasons.append(f"repeats {sep.join(worst[0])!r} {worst[1]} times")
    return reasons
