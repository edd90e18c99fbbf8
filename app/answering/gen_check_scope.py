"""Generated-answer check for lost scope: a fact stated without the condition ("for Gold
members", "满199元") its passage sentence puts on it."""
from __future__ import annotations

from shopqa.answering.gen_check_pieces import Piece, passage_pieces
from shopqa.answering.gen_check_qualifiers import EN_ONLY, ZH_ONLY, Clause, Qualifier
from shopqa.answering.gen_check_text import CJK, AnswerSentence, number_set, unit_set


def _kept(q: Qualifier, have: set[str], have_numbers: set[str], have_text: str) -> bool:
    """Whether the answer (or what the customer said) keeps qualifier ``q``."""
    if q.only:
        # jieba joins "限" into the word after it ("限选"), so the restriction is looked for in the text.
        return bool(EN_ONLY.search(have_text) or ZH_ONLY.search(have_text))
    if q.numbers and q.numbers & have_numbers:
        return True
    if q.keys:
        # Chinese keys as substrings too: jieba may cut the answer's words differently.
        present = sum(1 for k in q.keys if k in have or (CJK.search(k) and k in have_text))
        return present >= q.need
    return not q.numbers


def _dropped(piece: Piece, words: set[str], numbers: set[str], have: set[str], have_numbers: set[str],
             have_text: str) -> list[Qualifier]:
    """The qualifiers over the part of ``piece`` that the answer sentence states and leaves out."""
    if not piece.scoped:
        return []
    if piece.row:
        covered = any((cell_tokens and cell_tokens <= words and (len(cell_tokens) >= 2 or cell_numbers))
                      or (cell_numbers and cell_numbers <= numbers)
                      for cell_tokens, cell_numbers in piece.distinct)
        return [q for q in piece.lead if not _kept(q, have, have_numbers, have_text)] if covered else []
    clauses = piece.clauses

    def covered(i: int, c: Clause) -> bool:
        hit = len(c.main & words)
        if not c.main or hit < min(2, len(c.main)) or hit < 0.5 * len(c.main):
            return False
        # Clauses of one sentence share words ("选 3 份免费小样，每种小样限选 1 份"): the answer
        # states a clause only if it has what sets that clause apart.
        return not c.own or len(c.own & words) >= 0.5 * len(c.own)

    applicable: list[Qualifier] = []
    any_covered = False
    for i, c in enumerate(clauses):
        if c.pure or not covered(i, c):
            continue
        any_covered = True
        applicable.extend(c.qualifiers)
        for other in clauses:
            if other.binds == i:
                applicable.extend(other.qualifiers)
    if any_covered:
        applicable.extend(piece.lead)
    return [q for q in dict.fromkeys(applicable) if not _kept(q, have, have_numbers, have_text)]


def dropped_conditions(sentences: list[AnswerSentence], passages: list[str], have: set[str], have_numbers: set[str],
           have_text: str) -> list[str]:
    """A fact stated without the condition its passage sentence puts on it."""
    reasons: list[str] = []
    all_pieces = [piece for n, p in enumerate(passages, start=1) for piece in passage_pieces(n, p)]
    for s in sentences:
        words = s.tokens
        if len(words) < 2:
            continue
        units = unit_set(s.plain)

        def candidates(pieces: list[Piece]) -> list[tuple[float, Piece]]:
            out = []
            for piece in pieces:
                # Words and characters first (a regex): jieba runs only on pieces that share a
                # good part of them, the few that can support the sentence.
                if len(units & unit_set(piece.text)) < 0.3 * len(units):
                    continue
                overlap = len(words & piece.tokens)
                if overlap >= 2 and overlap >= 0.5 * len(words):
                    # The passages the sentence cites come first; others can still support it.
                    out.append((overlap + (0.5 if piece.passage in s.cites else 0.0), piece))
            return out

        scored = candidates(all_pieces)
        if not scored:
            continue
        best = max(score for score, _ in scored)
        near = [piece for score, piece in scored if score >= best - 1.0]
        # Conservative: if any close match states the fact unconditionally, or with every
        # condition the answer kept, the sentence is supported as written.
        if not all(piece.scoped for piece in near):
            continue
        numbers = number_set(s.plain)
        drops = []
        for piece in near:
            drops.append(_dropped(piece, words, numbers, have, have_numbers, have_text))
            if not drops[-1]:
                break
        if all(drops):
            top = max(range(len(near)), key=lambda i: len(words & near[i].tokens))
            phrases = ", ".join(repr(q.phrase) for q in drops[top][:3])
            reasons.append(f"states {s.plain[:60]!r} without the condition {phrases} of passage [{near[top].passage}]")
    return reasons
