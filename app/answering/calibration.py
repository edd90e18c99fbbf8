"""Calibrated thresholds per embedder (written by bench/calibrate.py from public data)."""
from __future__ import annotations

import json

from shopqa.answering.answer import Thresholds
from shopqa.settings import Settings
from shopqa.paths import DATA

CALIBRATION = DATA / "calibration.json"


def thresholds_for(embedder_id: str, settings: Settings | None = None) -> Thresholds:
    """Settings override the calibrated values; an uncalibrated embedder gets conservative defaults."""
    table = json.loads(CALIBRATION.read_text(encoding="utf-8"))
    found = table.get(embedder_id) or table["default"]
    curated = settings.curated_threshold if settings and settings.curated_threshold is not None else found["curated"]
    abstain = settings.abstain_threshold if settings and settings.abstain_threshold is not None else found["abstain"]
    return Thresholds(curated=curated, abstain=abstain)


def routing_for(embedder_id: str, settings: Settings | None = None) -> dict[str, float]:
    """Out-of-scope and strong-negative thresholds for the embedder (settings override)."""
    table = json.loads(CALIBRATION.read_text(encoding="utf-8"))
    found = {**table["default"].get("routing", {}), **(table.get(embedder_id) or {}).get("routing", {})}
    oos = settings.oos_threshold if settings and settings.oos_threshold is not None else found.get("oos", -1.0)
    strong = (settings.strong_negative if settings and settings.strong_negative is not None
              else found.get("strong_negative", -0.6))
    return {"oos": float(oos), "strong_negative": float(strong)}
