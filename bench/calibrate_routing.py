"""Calibrate the routing thresholds on the calibration part of the public data.

Out-of-scope threshold: the in-scope check compares a message with its nearest bundled
in-scope intent example. In-scope messages are Bitext's calibration rows, out-of-scope ones
CLINC150's oos_train + oos_val rows (the oos_test rows are left for `shopqa eval intents`).
The threshold is the highest that still accepts at least ``--accept`` of the in-scope rows.

Strong-negative threshold (handoff on sentiment): the highest score at or below which at
least ``--precision`` of flagged reviews are negative, on the calibration parts of both the
English and the Chinese review sets (the stricter of the two is kept), never above -0.5.

    python bench/calibrate_routing.py                 # both embedders, writes calibration.json
    python bench/calibrate_routing.py --embedders e5-small --dry-run
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATASETS = REPO.parent / "shared" / "datasets"
CALIBRATION = REPO / "app" / "data" / "calibration.json"


def oos_threshold(model, embedder, datasets: Path, accept: float, cache: Path) -> dict:
    from shopqa.evals import evaluation as ev
    from shopqa.routing.vectors import cached_queries

    inside = [t for t, _ in ev.bitext(datasets) if ev.is_calibration(t)]
    outside = ev.clinc_oos(datasets, ("oos_train", "oos_val"))
    sims_in = model.similarity(cached_queries(embedder, inside, cache))
    sims_out = model.similarity(cached_queries(embedder, outside, cache))
    threshold = float(np.quantile(sims_in, 1 - accept))
    return {"threshold": round(threshold, 4), "in_scope_rows": len(inside), "oos_rows": len(outside),
            "in_scope_accepted": round(float((sims_in >= threshold).mean()), 4),
            "oos_rejected": round(float((sims_out < threshold).mean()), 4),
            "median_in": round(float(np.median(sims_in)), 4), "median_oos": round(float(np.median(sims_out)), 4)}


def strong_negative(model, datasets: Path, precision: float, cache: Path) -> dict:
    from shopqa.evals import evaluation as ev
    from shopqa.routing.vectors import cached_queries

    sets = ev.sentiment_sets(datasets)
    detail = {}
    for name in ("vader_amazon_en", "reviews_zh"):
        rows = [(t, y) for t, y in sets[name] if ev.is_calibration(t)]
        texts = [t for t, _ in rows]
        scores = model.scores(cached_queries(model.model.embedder, texts, cache), texts)
        gold = np.array([y for _, y in rows])
        best = -1.0
        for t in np.arange(-0.5, -1.0, -0.01):
            flagged = scores <= t
            if flagged.sum() >= 10 and (gold[flagged] == 0).mean() >= precision:
                best = float(t)
                break
        flagged = scores <= best
        detail[name] = {"threshold": round(best, 2), "rows": len(rows), "flagged": round(float(flagged.mean()), 4),
                        "precision": round(float((gold[flagged] == 0).mean()), 4) if flagged.any() else None}
    return {"threshold": min(d["threshold"] for d in detail.values()), "detail": detail}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedders", default="e5-small,sentence-transformers:all-MiniLM-L6-v2")
    parser.add_argument("--accept", type=float, default=0.97, help="share of in-scope messages that must pass")
    parser.add_argument("--precision", type=float, default=0.95, help="required precision of strong-negative flags")
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--dry-run", action="store_true", help="print, do not write calibration.json")
    args = parser.parse_args()

    from shopqa.evals.evaluation import intent_model, sentiment_model
    from shopqa.settings import Settings
    from shopqa.ingest.embedders import make_embedder

    table = json.loads(CALIBRATION.read_text(encoding="utf-8"))
    cache = REPO / "bench" / "out" / "cache" / "vectors"
    for spec in args.embedders.split(","):
        t0 = time.perf_counter()
        embedder = make_embedder(spec)
        embedder.warm_up()
        settings = Settings(embedder=spec, data_dir=REPO / "bench" / "out" / "var", oos_threshold=-1)
        model, _ = intent_model(settings, embedder)
        mood = sentiment_model(settings, embedder)
        oos = oos_threshold(model, embedder, args.datasets, args.accept, cache)
        strong = strong_negative(mood, args.datasets, args.precision, cache)
        routing = {"oos": oos["threshold"], "strong_negative": strong["threshold"],
                   "oos_detail": oos, "strong_negative_detail": strong["detail"],
                   "calibrated": time.strftime("%Y-%m-%d")}
        print(json.dumps({embedder.id: {"routing": routing}}, indent=1), f"\n({time.perf_counter() - t0:.0f} s)",
              flush=True)
        table.setdefault(embedder.id, {})["routing"] = routing
    if not args.dry_run:
        CALIBRATION.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {CALIBRATION.relative_to(REPO)}")


if __name__ == "__main__":
    main()
