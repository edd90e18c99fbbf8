"""FAQ gaps: the questions the assistant could not answer, grouped by meaning.

A gap is a customer message whose reply abstained (path ``abstained``; a second abstention in a
row also hands off with reason ``abstained_twice``, which is the same reply path). Paraphrases of
one question ("do you ship to Iceland?", "can I get delivery to Iceland") become one group with
the shop's own embedder: most asked first, so the list is the shop owner's to-do list of FAQs.

Grouping is greedy, in order of how often a text was asked: each distinct text joins a group
only when it is at least the threshold similar (cosine) to every member of it, else it starts a
group (and, being the most asked of its group, is the group's representative). The threshold is
calibrated per embedder on public paraphrase data by bench/fit_gap_grouping.py and read from
app/data/gap_grouping.json.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from sqlalchemy import Column, LargeBinary, MetaData, Table, Text, select
from sqlalchemy.exc import SQLAlchemyError

from shopqa.paths import DATA
from shopqa.storage.engine import store_engine

log = logging.getLogger("shopqa.faq_gaps")
META = MetaData()
# The vectors of the gap questions, so a restart does not embed every question again.
VECTORS = Table("gap_vectors", META, Column("embedder", Text, primary_key=True), Column("text", Text, primary_key=True),
                Column("vector", LargeBinary, nullable=False))

GROUPING = DATA / "gap_grouping.json"
NO_ANSWER_REASONS = {"abstained_twice"}  # handoffs whose reason is that nothing answered the question
ABSTAINED = "abstained"
FULL_MATRIX_MAX = 4000


def grouping_threshold(embedder_id: str) -> float:
    """The calibrated cosine threshold for ``embedder_id`` (the file's default for others)."""
    table = json.loads(GROUPING.read_text(encoding="utf-8"))
    found = table.get(embedder_id) or table["default"]
    return float(found["threshold"])


def is_gap(assistant_row: dict[str, Any]) -> bool:
    """True when this assistant reply means the question went unanswered."""
    if assistant_row.get("path") == ABSTAINED:
        return True
    handoff = (assistant_row.get("meta") or {}).get("handoff") or {}
    return handoff.get("reason") in NO_ANSWER_REASONS


def collect(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The unanswered questions in conversation-store rows (in id order): one per ask, with the
    session, language and time of the customer's message."""
    last_customer: dict[str, dict[str, Any]] = {}
    gaps: list[dict[str, Any]] = []
    for r in rows:
        if r["role"] == "customer":
            last_customer[r["session_id"]] = r
        elif r["role"] == "assistant" and is_gap(r):
            q = last_customer.pop(r["session_id"], None)  # popped: a reminder reply does not count it twice
            if q is not None and q["text"].strip():
                gaps.append({"question": " ".join(q["text"].split()), "session_id": r["session_id"],
                             "lang": q.get("lang") or r.get("lang") or "", "when": float(q["created"])})
    return gaps


class VectorCache:
    """Query vectors per distinct text for one embedder, so each question is embedded once
    (bounded in memory: the least recently used texts are dropped beyond ``limit``). With
    ``path`` they are also kept in that SQLite file, so a restart embeds nothing again."""

    def __init__(self, embedder, path: Path | None = None, limit: int = 50_000, batch: int = 64):
        self.embedder, self.limit, self.batch = embedder, limit, batch
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._engine = store_engine(path, None, META) if path is not None else None
        self._loaded = path is None
        self._warming: threading.Thread | None = None

    def __len__(self) -> int:
        return len(self._vectors)

    def _load(self) -> None:
        """The stored vectors of this embedder, once; called with ``self._lock`` held."""
        self._loaded = True
        query = select(VECTORS.c.text, VECTORS.c.vector).where(VECTORS.c.embedder == self.embedder.id)
        with self._engine.connect() as conn:
            for text, blob in conn.execute(query.limit(self.limit)):
                self._vectors[text] = np.frombuffer(blob, dtype=np.float32)

    def _store(self, texts: list[str], vectors: np.ndarray) -> None:
        rows = [{"embedder": self.embedder.id, "text": t, "vector": v.astype(np.float32).tobytes()}
                for t, v in zip(texts, vectors)]
        try:
            with self._engine.begin() as conn:
                conn.execute(VECTORS.insert().prefix_with("OR IGNORE"), rows)
        except SQLAlchemyError as exc:  # only a cache: the dashboard still works, it embeds again later
            log.warning("cannot store FAQ-gap vectors: %s", exc)

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts`` (rows in the same order), embedding only unseen texts."""
        with self._lock:
            if not self._loaded:
                self._load()
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        for start in range(0, len(missing), self.batch):
            part = missing[start:start + self.batch]
            found = np.asarray(self.embedder.embed_queries(part), dtype=np.float32)
            if self._engine is not None:
                self._store(part, found)
            with self._lock:
                self._vectors.update(zip(part, found))
        with self._lock:
            out = [self._vectors[t] for t in texts]
            for t in texts:
                self._vectors.move_to_end(t)
            while len(self._vectors) > self.limit:
                self._vectors.popitem(last=False)
        if not out:
            return np.zeros((0, 1), dtype=np.float32)
        return np.vstack(out)

    def within_budget(self, texts: Sequence[str], budget: int) -> tuple[list[str], list[str]]:
        """Embed at most ``budget`` unseen texts now (the first ones: the most asked) and the
        rest in a background thread; the texts that have vectors now, and those still pending.
        A page that shows the gaps stays fast however many new questions came in."""
        with self._lock:
            if not self._loaded:
                self._load()
            missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        now, later = missing[:budget], missing[budget:]
        if now:
            self.vectors(now)
        if later:
            self._warm(later)
        pending = set(later)
        return [t for t in texts if t not in pending], [t for t in texts if t in pending]

    def _warm(self, texts: list[str]) -> None:
        with self._lock:
            if self._warming is not None and self._warming.is_alive():
                return  # one at a time; the next page view hands over what is still missing
            self._warming = threading.Thread(target=self.vectors, args=(texts,), name="faq-gap-vectors", daemon=True)
            self._warming.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the background embedding (tests, benchmarks)."""
        thread = self._warming
        if thread is not None:
            thread.join(timeout)


def group_vectors(vectors: np.ndarray, threshold: float) -> list[int]:
    """Greedy complete-linkage grouping of unit ``vectors`` taken in the given order (most asked
    first): a row joins the group it is most similar to on average among the groups whose every
    member is at least ``threshold`` similar to it, else it starts a group. The group number of
    each row. (Complete linkage: no chains of "A like B like C" that put A and C together.)"""
    n = len(vectors)
    labels = np.zeros(n, dtype=np.int64)
    # All similarities in one matrix product while that fits in memory (4,000 texts: 64 MB).
    matrix = vectors @ vectors.T if n <= FULL_MATRIX_MAX else None
    groups = 0
    for i in range(n):
        if groups:
            sims = matrix[i, :i] if matrix is not None else vectors[:i] @ vectors[i]
            blocked = np.zeros(groups, dtype=bool)
            blocked[labels[:i][sims < threshold]] = True  # a group with any member too far away
            fits = np.flatnonzero(~blocked)
            if len(fits):
                mean = np.bincount(labels[:i], weights=sims, minlength=groups) / np.bincount(labels[:i], minlength=groups)
                labels[i] = fits[int(np.argmax(mean[fits]))]
                continue
        labels[i] = groups
        groups += 1
    return labels.tolist()


def group_gaps(gaps: list[dict[str, Any]], cache: VectorCache, threshold: float, limit: int | None = None,
               sessions_per_group: int = 20, budget: int | None = None) -> list[dict[str, Any]]:
    """``gaps`` (from ``collect``) grouped by meaning, most asked first: per group the
    representative question, count, languages, first and last seen, sessions and variants.
    With ``budget``, at most that many new texts are embedded now; the others are grouped by
    their exact wording only (``pending``) until their vectors are ready."""
    by_text: dict[str, list[dict[str, Any]]] = {}
    for gap in gaps:
        by_text.setdefault(gap["question"], []).append(gap)
    # Most asked first (then most recent), so a group's first member is its most asked wording.
    texts = sorted(by_text, key=lambda t: (-len(by_text[t]), -max(g["when"] for g in by_text[t]), t))
    ready, pending = (texts, []) if budget is None else cache.within_budget(texts, budget)
    labels = group_vectors(cache.vectors(ready), threshold) if ready else []
    members: dict[int, list[str]] = {}
    for text, label in zip(ready, labels):
        members.setdefault(label, []).append(text)
    groups = [_summary(wordings, by_text, sessions_per_group) for wordings in members.values()]
    groups += [{**_summary([t], by_text, sessions_per_group), "pending": True} for t in pending]
    groups.sort(key=lambda g: (-g["count"], -g["last_seen"]))
    return groups[:limit] if limit else groups


def _summary(wordings: list[str], by_text: dict[str, list[dict[str, Any]]], sessions_per_group: int) -> dict[str, Any]:
    asks = [g for t in wordings for g in by_text[t]]
    asks.sort(key=lambda g: -g["when"])
    sessions = list(dict.fromkeys(g["session_id"] for g in asks))
    return {"question": wordings[0], "count": len(asks),
            "langs": sorted({g["lang"] for g in asks if g["lang"]}),
            "first_seen": min(g["when"] for g in asks), "last_seen": asks[0]["when"],
            "sessions": sessions[:sessions_per_group], "session_count": len(sessions),
            "variants": [{"question": t, "count": len(by_text[t])} for t in wordings[:10]],
            "variant_count": len(wordings), "pending": False}
