"""Word overlap across English and Chinese, through concepts of customer-service vocabulary.

Within one language, how much of a question's key terms a passage covers is strong evidence
that it answers the question. Across languages the words never overlap, so that evidence was
read as neutral and cross-lingual answers rested on meaning alone. With a bilingual term list
(``app/data/bilingual_terms.txt``: "warranty, guarantee | 保修, 质保"), a question term and a
passage term that name one concept count as shared; terms outside the list (and codes and
numbers, written the same in both) are counted as they are.
"""
from __future__ import annotations

from pathlib import Path

from shopqa.ingest.tokenize import tokenize
from shopqa.paths import DATA

TERMS = DATA / "bilingual_terms.txt"
# Words that ask rather than name what is asked about.
ASKING = frozenset("what whats how when where which who why can could do does did is are was were will would "
                    "should may much many any 吗 呢 什么 怎么 怎样 哪 哪些 多少 几 是否 能否 可以 能".split())


class Bridge:
    """Concepts with their English and Chinese forms, each form as the tokenizer reads it."""

    def __init__(self, path: Path = TERMS, extra: Path | None = None):
        self.forms: list[list[tuple[str, ...]]] = []
        lines = path.read_text(encoding="utf-8").splitlines()
        if extra is not None and extra.is_file():
            lines += extra.read_text(encoding="utf-8").splitlines()
        self.sides: list[dict[str, list[str]]] = []  # per concept: {"en": phrases, "zh": phrases}
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#") or line.count("|") != 1:
                continue
            en, zh = ([p.strip() for p in side.split(",") if p.strip()] for side in line.split("|"))
            forms = [f for f in (tuple(tokenize(p)) for p in en + zh) if f]
            if forms and en and zh:
                self.forms.append(forms)
                self.sides.append({"en": en, "zh": zh})

    def concepts(self, tokens: set[str]) -> set[int]:
        """The concepts ``tokens`` mention (every token of one of a concept's forms present)."""
        return {i for i, forms in enumerate(self.forms) if any(set(f) <= tokens for f in forms)}

    def translate(self, text: str, lang: str) -> str:
        """The ``lang`` forms ("en" or "zh") of the concepts ``text`` mentions, as one keyword
        query ("斑贴测试要连续做几天？" -> "patch test day days ..."); "" when it mentions none."""
        return " ".join(p for i in sorted(self.concepts(set(tokenize(text)))) for p in self.sides[i].get(lang, []))

    def coverage(self, weight, question: set[str], found: set[str]) -> tuple[float, float] | None:
        """``(covered share, weight of the rarest uncovered)`` of the question's concepts (and
        its codes and numbers) in ``found``, weighted by ``weight`` (a term -> IDF function);
        None when the question has nothing that can be matched across the languages."""
        asked = self.concepts(question)
        literal = {t for t in question if any(ch.isdigit() for ch in t)}
        if not asked and not literal:
            return None
        have = self.concepts(found)
        items = [(min(weight(t) for f in self.forms[i] for t in f), i in have) for i in asked]
        items += [(weight(t), t in found) for t in literal]
        # Terms outside the list may be names written alike in both ("Bright C") or words the
        # list lacks ("Mars"): half their weight, covered only when found as they are.
        explained = {t for i in asked for f in self.forms[i] if set(f) <= question for t in f} | literal
        items += [(weight(t) / 2, t in found) for t in question - explained - ASKING]
        total = sum(w for w, _ in items) or 1.0
        covered = sum(w for w, ok in items if ok) / total
        missing = max((w for w, ok in items if not ok), default=0.0)
        return covered, missing


    def evidence(self, weight, unknown: float, terms: set[str], found: set[str], coverage: float,
                 rare_missing: float, other: list[bool], mixed: bool = False) -> tuple[float, float, bool]:
        """Coverage evidence read across languages: ``(coverage, rarest missing / unknown, still
        neutral)`` for question ``terms`` against the passages' ``found`` terms, given the
        same-language reading and, per passage, whether it is in the other language.

        When most passages are in the other language the concepts' reading replaces the
        same-language one (and without any concept to read, the evidence stays neutral). With
        ``mixed``, a minority of such passages also counts: the better of the two readings.
        """
        cross = bool(other) and sum(other) * 2 > len(other)
        bridged = self.coverage(weight, terms, found) if (any(other) if mixed else cross) else None
        if bridged is None:
            return coverage, rare_missing, cross
        if cross:
            return bridged[0], bridged[1] / unknown, False
        return max(coverage, bridged[0]), min(rare_missing, bridged[1] / unknown), False

    @classmethod
    def of(cls, index) -> "Bridge":
        """The bundled terms plus the shop's own ``bilingual_terms.txt``, read once per index
        generation and kept with it."""
        cached = getattr(index, "_bridge", None)
        if cached is None:
            shop = (getattr(index, "manifest", None) or {}).get("shop_dir", "")
            cached = cls(TERMS, Path(shop) / "bilingual_terms.txt" if shop else None)
            index._bridge = cached
        return cached
