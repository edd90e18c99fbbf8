"""Numbers for the dashboard, read from the conversation store, and its FAQ gaps."""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from shopqa.handoff import faq_gaps
from shopqa.handoff.faq_publish import published_file, read_published

GAP_CACHE = "shopqa.faq_gap_vectors"  # app.extensions key: the per-text vector cache of the gap questions
# New gap questions embedded while a page waits (about 1 s of CPU with e5-small); more are
# embedded in the background and grouped on a later view.
EMBED_BUDGET = 64


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def dashboard(conversations, days: int = 14) -> dict[str, Any]:
    """Messages per day by intent, sentiment over time, rates, paths, latency and FAQ gaps."""
    since = time.time() - days * 86400
    rows = list(conversations.since(since))  # read twice: the counts, then the FAQ gaps
    per_day_intent: dict[str, Counter] = defaultdict(Counter)
    sentiment_day: dict[str, list[float]] = defaultdict(list)
    paths: Counter = Counter()
    latencies: list[float] = []
    handoffs = abstained = replies = 0
    for r in rows:
        day = time.strftime("%Y-%m-%d", time.gmtime(r["created"]))
        if r["role"] == "customer":
            if r["intent"]:
                per_day_intent[day][r["intent"]] += 1
            if r["score"] is not None:
                sentiment_day[day].append(float(r["score"]))
        elif r["role"] == "assistant":
            replies += 1
            paths[r["path"] or "-"] += 1
            if r["latency_ms"] is not None:
                latencies.append(float(r["latency_ms"]))
            handoff = (r["meta"] or {}).get("handoff") or {}
            if handoff.get("reason") and not handoff.get("existing"):  # a new handoff, not a reminder
                handoffs += 1
            if r["path"] == "abstained":
                abstained += 1
    gaps = faq_gaps.collect(rows)
    days_sorted = sorted(set(per_day_intent) | set(sentiment_day))
    return {
        "days": days_sorted,
        "messages_by_day_intent": {d: dict(per_day_intent[d]) for d in days_sorted},
        "sentiment_by_day": {d: round(sum(v) / len(v), 3) for d, v in sentiment_day.items() if v},
        "replies": replies,
        "handoff_rate": round(handoffs / replies, 4) if replies else 0.0,
        "abstain_rate": round(abstained / replies, 4) if replies else 0.0,
        "paths": dict(paths.most_common()),
        "latency_ms": {"p50": _pct(latencies, 0.5), "p95": _pct(latencies, 0.95)},
        "unanswered": list(reversed(gaps))[:50],
        "gaps": gaps,
    }


def gap_groups(app, gaps: list[dict[str, Any]], limit: int | None = 100) -> list[dict[str, Any]]:
    """``gaps`` grouped by meaning with the shop's embedder, most asked first; a group whose
    question (or one of its wordings) has been published as an FAQ says so."""
    res = app.extensions["shopqa"]
    cache = app.extensions.get(GAP_CACHE)
    if cache is None or cache.embedder is not res.embedder:
        cache = app.extensions[GAP_CACHE] = faq_gaps.VectorCache(
            res.embedder, Path(res.settings.data_dir) / "faq-gap-vectors.sqlite")
    groups = faq_gaps.group_gaps(gaps, cache, faq_gaps.grouping_threshold(res.embedder.id), limit,
                                 budget=EMBED_BUDGET)
    published = {_norm(r.get("question", "")) for r in read_published(published_file(Path(res.settings.data_dir)))}
    for group in groups:
        group["published"] = any(_norm(v["question"]) in published for v in group["variants"])
    return groups


def faq_gap_report(app, days: int = 14, limit: int | None = 100) -> dict[str, Any]:
    """The FAQ gaps of the last ``days`` days, grouped (for the staff API)."""
    rows = app.extensions["shopqa"].conversations().since(time.time() - days * 86400)
    gaps = faq_gaps.collect(rows)
    groups = gap_groups(app, gaps, limit)
    return {"days": days, "questions": len(gaps), "group_count": len(groups), "groups": groups,
            "pending": sum(1 for g in groups if g["pending"])}


def _norm(text: str) -> str:
    return " ".join(str(text).lower().split())
