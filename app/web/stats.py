"""Numbers for the dashboard, read from the conversation store."""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def dashboard(conversations, days: int = 14) -> dict[str, Any]:
    """Messages per day by intent, sentiment over time, rates, paths, latency and FAQ gaps."""
    since = time.time() - days * 86400
    rows = conversations.since(since)
    per_day_intent: dict[str, Counter] = defaultdict(Counter)
    sentiment_day: dict[str, list[float]] = defaultdict(list)
    paths: Counter = Counter()
    latencies: list[float] = []
    handoffs = abstained = replies = 0
    gaps: list[dict[str, Any]] = []
    last_customer: dict[str, Any] = {}
    for r in rows:
        day = time.strftime("%Y-%m-%d", time.gmtime(r["created"]))
        if r["role"] == "customer":
            last_customer[r["session_id"]] = r
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
                q = last_customer.get(r["session_id"])
                if q is not None:
                    gaps.append({"question": q["text"], "session_id": r["session_id"], "when": q["created"]})
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
    }
