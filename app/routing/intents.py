"""Intent classification: the taxonomy, its training examples and the in-scope check.

Examples come from three places, merged: the bundled English and Chinese examples written
for shopqa (app/data/intents.jsonl), the shop's own ``intents/*.jsonl|csv`` (columns
``text,intent``) and labelled turns mined from its chats (a conversation whose ``intent``
field, or one of whose ``tags``, names an intent contributes its first customer message).

A message is out of scope when the model says so or when its nearest in-scope example is
less similar than a threshold calibrated on public data (CLINC150's out-of-scope rows against
Bitext's in-scope ones; see bench/calibrate_routing.py and app/data/calibration.json).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from shopqa.ingest.chunking import detect_lang
from shopqa.ingest.embedders import Embedder
from shopqa.ingest.reading import read_text
from shopqa.ingest.records import InputError, Problem
from shopqa.ingest.sources.tabular import as_list, rows

from shopqa.routing.classify import EmbeddingClassifier
from shopqa.paths import DATA

OUT_OF_SCOPE = "out_of_scope"
# Weight of the character n-gram features beside the embedding, chosen on the calibration part
# of Bitext (macro-F1 0.84 -> 0.92 for e5-small with 1.0; see BENCHMARKS.md).
LEXICAL_WEIGHT = 1.0


def taxonomy() -> dict[str, dict[str, str]]:
    """Intent name -> {coarse, route, description}, from app/data/intent_taxonomy.json."""
    table = json.loads((DATA / "intent_taxonomy.json").read_text(encoding="utf-8"))
    return {k: v for k, v in table.items() if not k.startswith("_")}


@dataclass
class Example:
    """One labelled message."""

    text: str
    intent: str
    lang: str
    source: str


def bundled_examples() -> list[Example]:
    """The examples shipped with shopqa."""
    out = []
    for line in (DATA / "intents.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out.append(Example(row["text"], row["intent"], row.get("lang") or detect_lang(row["text"]), "bundled"))
    return out


# File types of the shop's intents/ folder. ingest's scan accepts and checks the same ones, so
# a file ingest passes is a file the service reads.
EXTENSIONS = (".csv", ".jsonl")


def _read(path: Path, rel: str, problems: list[Problem]) -> str:
    try:
        return read_text(path, 20_000_000)
    except InputError as exc:
        problems.append(Problem(rel, getattr(exc, "line", None), str(exc)))
        return ""


def intent_files(shop_dir: Path) -> list[Path]:
    """The files of the shop's ``intents/`` folder that the service reads, sorted.

    Only files directly in ``intents/`` with a known extension; hidden files (editor
    backups, .DS_Store) are left out, as ingest leaves them out.
    """
    folder = Path(shop_dir) / "intents"
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in EXTENSIONS]


def parse_examples(text: str, rel: str, suffix: str, problems: list[Problem]) -> list[Example]:
    """The examples in one ``intents/`` file (``text,intent`` rows of a .csv or .jsonl).

    A malformed row, a row without text and a row whose intent is not in the taxonomy are
    appended to ``problems`` as ``rel:line`` and skipped. ingest calls this too, so what
    ``shopqa ingest`` reports is exactly what the service skips.
    """
    names = set(taxonomy())
    out: list[Example] = []
    for line, row in rows(text, rel, suffix, problems):
        utterance, intent = str(row.get("text") or "").strip(), str(row.get("intent") or "").strip()
        if not utterance:
            problems.append(Problem(rel, line, "missing 'text'; skipped"))
        elif intent not in names:
            what = f"unknown intent {intent!r}" if intent else "missing 'intent'"
            problems.append(Problem(rel, line, f"{what}; use one of: {', '.join(sorted(names))}; skipped"))
        else:
            out.append(Example(utterance, intent, detect_lang(utterance), rel))
    return out


def shop_examples(shop_dir: Path, problems: list[Problem] | None = None) -> list[Example]:
    """The shop's own examples (intents/ folder) and labelled first turns of its chats.

    Problems in the intents/ files are appended to ``problems``; problems in chats are not,
    because ingest reports those.
    """
    problems = problems if problems is not None else []
    names = set(taxonomy())
    shop_dir = Path(shop_dir)
    out: list[Example] = []
    for path in intent_files(shop_dir):
        rel = path.relative_to(shop_dir).as_posix()
        try:
            out.extend(parse_examples(read_text(path, 20_000_000), rel, path.suffix.lower(), problems))
        except InputError as exc:  # an unreadable file or CSV header: report it, never fail the warm-up
            problems.append(Problem(rel, exc.line, f"{exc}; file skipped"))
    chats = shop_dir / "chats"
    for path in sorted(chats.glob("*.jsonl")) if chats.is_dir() else []:
        rel = str(path.relative_to(shop_dir))
        for _line, row in rows(_read(path, rel, []), rel, ".jsonl", []):  # chat problems are ingest's to report
            labels = [row.get("intent")] + as_list(row.get("tags"))
            intent = next((str(t) for t in labels if t and str(t) in names), None)
            first = next((m.get("text") for m in row.get("messages") or []
                          if isinstance(m, dict) and m.get("role") == "customer" and str(m.get("text") or "").strip()), None)
            if intent and first:
                out.append(Example(str(first).strip(), intent, detect_lang(str(first)), rel))
    return out


@dataclass
class IntentResult:
    """The intent of one message and how sure the model is."""

    intent: str
    coarse: str
    route: str
    confidence: float
    similarity: float
    alternatives: list[tuple[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON shape used by the CLI and the chat API."""
        return {"name": self.intent, "coarse": self.coarse, "confidence": round(self.confidence, 4),
                "similarity": round(self.similarity, 4),
                "alternatives": [{"name": n, "confidence": round(p, 4)} for n, p in self.alternatives]}


class IntentClassifier:
    """Logistic regression over the embedder (and character n-grams) plus a nearest-example in-scope check."""

    def __init__(self, embedder: Embedder, examples: Sequence[Example], oos_threshold: float = -1.0,
                 cache_dir: Path | None = None, lexical_weight: float = LEXICAL_WEIGHT):
        names = taxonomy()
        unknown = sorted({e.intent for e in examples} - set(names))
        if unknown:
            raise ValueError(f"examples use intents outside the taxonomy: {', '.join(unknown)}")
        if not -1.0 <= oos_threshold <= 1.0:
            raise ValueError(f"oos_threshold is a cosine similarity in [-1, 1], got {oos_threshold}")
        self.taxonomy = names
        self.examples = list(examples)
        self.oos_threshold = oos_threshold
        self.model = EmbeddingClassifier(embedder, [e.text for e in examples], [e.intent for e in examples],
                                         cache_dir=cache_dir, lexical_weight=lexical_weight)
        self._in_scope: np.ndarray | None = None

    def fit(self) -> "IntentClassifier":
        """Embed the examples and fit (call in a warm-up, not per request)."""
        self.model.fit()
        keep = np.array([e.intent != OUT_OF_SCOPE for e in self.examples])
        self._in_scope = self.model.vectors[keep]
        return self

    def similarity(self, vectors: np.ndarray) -> np.ndarray:
        """Cosine of each vector with its nearest in-scope example."""
        if self._in_scope is None:
            self.fit()
        return (np.atleast_2d(vectors) @ self._in_scope.T).max(axis=1)

    def predict_vectors(self, vectors: np.ndarray, texts: Sequence[str]) -> list[IntentResult]:
        """Intents of already-embedded messages (query embeddings of ``texts``)."""
        vectors = np.atleast_2d(vectors)
        probs = self.model.proba(vectors, texts)
        sims = self.similarity(vectors)
        results = []
        for row, sim in zip(probs, sims):
            order = np.argsort(-row)
            best = self.model.classes[order[0]]
            if sim < self.oos_threshold:
                best = OUT_OF_SCOPE
            meta = self.taxonomy[best]
            alternatives = [(self.model.classes[i], float(row[i])) for i in order[:3]]
            results.append(IntentResult(best, meta["coarse"], meta["route"], float(row[order[0]]), float(sim),
                                        alternatives))
        return results

    def predict(self, text: str, vector: np.ndarray | None = None) -> IntentResult:
        """The intent of one message."""
        if vector is None:
            vector = self.model.embed([text])
        return self.predict_vectors(vector, [text])[0]
