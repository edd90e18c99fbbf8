"""`shopqa eval intents|sentiment`: the routing models measured on public data.

Nothing here trains on the public rows it scores. Rows are split deterministically (by a
hash of the text) into a calibration part, used only by bench/calibrate_routing.py to choose
thresholds, and a test part, scored here.

- Intents: Bitext's 27 intents mapped onto shopqa's (``BITEXT_MAP``); macro-F1 on its test
  part. CLINC150's out-of-scope test rows measure rejection (recall), with in-scope accuracy
  on Bitext's test part (a rejected in-scope message counts as wrong).
- Sentiment: the VADER Amazon review snippets (mean rating >= 1 positive, <= -1 negative,
  the neutral band between excluded), UCI Amazon cell-phone reviews (0/1) and a fixed
  sample of the Chinese review sentences (neg.txt / pos.txt); binary accuracy by the sign
  of the score.
"""
from __future__ import annotations

import csv
import hashlib
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from shopqa.ingest.embedders import make_embedder

from shopqa.answering.calibration import routing_for
from shopqa.routing.intents import OUT_OF_SCOPE, IntentClassifier, bundled_examples
from shopqa.routing.review_polarity import ReviewPolarity
from shopqa.routing.sentiment import SentimentClassifier
from shopqa.settings import Settings
from shopqa.routing.vectors import cached_queries

BITEXT_MAP = {
    "cancel_order": "cancel_order", "check_cancellation_fee": "cancel_order",
    "change_order": "change_order", "change_shipping_address": "change_order",
    "track_order": "order_status", "place_order": "place_order",
    "check_invoice": "payment_invoice", "get_invoice": "payment_invoice",
    "check_payment_methods": "payment_invoice", "payment_issue": "payment_invoice",
    "check_refund_policy": "return_refund", "get_refund": "return_refund", "track_refund": "return_refund",
    "complaint": "complaint", "review": "feedback_suggestion",
    "contact_customer_service": "human_agent", "contact_human_agent": "human_agent",
    "create_account": "account", "delete_account": "account", "edit_account": "account",
    "recover_password": "account", "registration_problems": "account", "switch_account": "account",
    "newsletter_subscription": "account", "set_up_shipping_address": "account",
    "delivery_options": "shipping_delivery", "delivery_period": "shipping_delivery",
}
CALIBRATION_SHARE = 0.3  # of each public set, for choosing thresholds; the rest is the test part
ZH_SAMPLE = 1000  # Chinese sentences per class scored (the full set takes e5 ~20 min on 2 cores)


class DatasetMissing(Exception):
    """A public dataset file is not where it should be."""


def is_calibration(text: str) -> bool:
    """Deterministic split: about CALIBRATION_SHARE of rows are for calibration only."""
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF < CALIBRATION_SHARE


def _need(path: Path) -> Path:
    if not path.is_file():
        raise DatasetMissing(f"{path} not found; pass --datasets pointing at the shared datasets folder")
    return path


def bitext(datasets: Path) -> list[tuple[str, str]]:
    """(utterance, shopqa intent) for every Bitext row."""
    with open(_need(Path(datasets) / "bitext" / "bitext_customer_service_8k.csv"), encoding="utf-8") as fh:
        return [(r["utterance"].strip(), BITEXT_MAP[r["intent"]]) for r in csv.DictReader(fh)
                if r.get("intent") in BITEXT_MAP and r.get("utterance")]


def clinc_oos(datasets: Path, parts: tuple[str, ...]) -> list[str]:
    """CLINC150 out-of-scope utterances of the given parts (oos_train, oos_val, oos_test)."""
    data = json.loads(_need(Path(datasets) / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    return [text for part in parts for text, _ in data[part]]


def sentiment_sets(datasets: Path) -> dict[str, list[tuple[str, int]]]:
    """name -> [(text, 1 positive / 0 negative)], neutral rows excluded."""
    root = Path(datasets)
    vader = []
    for line in _need(root / "sentiment_en" / "amazonReviewSnippets_GroundTruth.txt").read_text(
            encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            score = float(parts[1])
            if abs(score) >= 1.0:
                vader.append((parts[2].strip(), int(score > 0)))
    uci = []
    for line in _need(root / "sentiment_en" / "uci_amazon_cells_labelled.txt").read_text(
            encoding="utf-8", errors="replace").splitlines():
        text, _, label = line.rpartition("\t")
        if text.strip() and label.strip() in ("0", "1"):
            uci.append((text.strip(), int(label)))
    zh = []
    for name, label in (("neg.txt", 0), ("pos.txt", 1)):
        lines = [x.strip() for x in _need(root / "sentiment_zh" / name).read_text(encoding="utf-8").splitlines()
                 if x.strip()]
        rng = random.Random(f"shopqa-{name}")  # a fixed sample, the same every run
        zh.extend((x[:300], label) for x in rng.sample(lines, min(ZH_SAMPLE, len(lines))))
    return {"vader_amazon_en": vader, "uci_amazon_en": uci, "reviews_zh": zh}


def _macro_f1(gold: list[str], pred: list[str]) -> tuple[float, dict[str, float]]:
    labels = sorted(set(gold))
    per = {}
    for lab in labels:
        tp = sum(g == p == lab for g, p in zip(gold, pred))
        fp = sum(p == lab and g != lab for g, p in zip(gold, pred))
        fn = sum(g == lab and p != lab for g, p in zip(gold, pred))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        per[lab] = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return float(np.mean(list(per.values()))), per


def _cache(settings: Settings) -> Path:
    return settings.cache_path / "eval"


def intent_model(settings: Settings, embedder=None) -> tuple[IntentClassifier, Any]:
    """The service's intent classifier (bundled examples, calibrated threshold) and its embedder."""
    embedder = embedder or make_embedder(settings.embedder, batch_size=settings.embed_batch_size)
    limits = routing_for(embedder.id, settings)
    model = IntentClassifier(embedder, bundled_examples(), limits["oos"],
                             cache_dir=settings.cache_path).fit()
    return model, embedder


def intents(settings: Settings, datasets: Path) -> dict[str, Any]:
    """Macro-F1 on Bitext's test part; CLINC150 oos recall and in-scope accuracy."""
    model, embedder = intent_model(settings)
    rows = [(t, lab) for t, lab in bitext(datasets) if not is_calibration(t)]
    oos = clinc_oos(datasets, ("oos_test",))
    texts = [t for t, _ in rows] + oos
    results = model.predict_vectors(cached_queries(embedder, texts, _cache(settings)), texts)
    in_pred = [r.intent for r in results[: len(rows)]]
    gold = [lab for _, lab in rows]
    macro, per = _macro_f1(gold, in_pred)
    oos_pred = [r.intent for r in results[len(rows):]]
    confusions = Counter((g, p) for g, p in zip(gold, in_pred) if g != p).most_common(8)
    return {"embedder": embedder.id, "oos_threshold": model.oos_threshold, "bitext_test_rows": len(rows),
            "macro_f1": round(macro, 4), "per_intent_f1": {k: round(v, 4) for k, v in per.items()},
            "in_scope_accuracy": round(float(np.mean([g == p for g, p in zip(gold, in_pred)])), 4),
            "in_scope_accepted": round(float(np.mean([p != OUT_OF_SCOPE for p in in_pred])), 4),
            "clinc_oos_rows": len(oos), "oos_recall": round(float(np.mean([p == OUT_OF_SCOPE for p in oos_pred])), 4),
            "top_confusions": [{"gold": g, "predicted": p, "count": c} for (g, p), c in confusions],
            "targets": {"macro_f1": 0.85, "oos_recall": 0.80, "in_scope_accuracy": 0.90}}


def sentiment_model(settings: Settings, embedder=None, lexical: bool = True) -> SentimentClassifier:
    """The service's sentiment classifier (``lexical=False``: without the Chinese review model)."""
    embedder = embedder or make_embedder(settings.embedder, batch_size=settings.embed_batch_size)
    limits = routing_for(embedder.id, settings)
    return SentimentClassifier(embedder, strong_threshold=limits["strong_negative"],
                               cache_dir=settings.cache_path,
                               polarity=ReviewPolarity(embedder_id=embedder.id) if lexical else None).fit()


def sentiment(settings: Settings, datasets: Path) -> dict[str, Any]:
    """Binary accuracy (sign of the score) on each public set's test part."""
    model = sentiment_model(settings)
    out: dict[str, Any] = {"embedder": model.model.embedder.id, "strong_negative": model.strong_threshold, "sets": {}}
    for name, rows in sentiment_sets(datasets).items():
        rows = [(t, y) for t, y in rows if not is_calibration(t)]
        texts = [t for t, _ in rows]
        scores = model.scores(cached_queries(model.model.embedder, texts, _cache(settings)), texts)
        gold = np.array([y for _, y in rows])
        pred = (scores > 0).astype(int)
        strong = scores <= model.strong_threshold
        out["sets"][name] = {
            "rows": len(rows), "accuracy": round(float((pred == gold).mean()), 4),
            "negative_recall": round(float(pred[gold == 0].__eq__(0).mean()), 4),
            "positive_recall": round(float(pred[gold == 1].__eq__(1).mean()), 4),
            "strong_negative_flagged": round(float(strong.mean()), 4),
            "strong_negative_precision": round(float((gold[strong] == 0).mean()), 4) if strong.any() else None}
    out["target_accuracy"] = 0.85
    return out


def format_intents(r: dict[str, Any]) -> str:
    """A readable report."""
    lines = [f"embedder {r['embedder']}  oos threshold {r['oos_threshold']:.4f}",
             f"Bitext test ({r['bitext_test_rows']} rows, 27 intents mapped onto shopqa's):",
             f"  macro-F1 {r['macro_f1']:.3f} (target >= 0.85)   in-scope accuracy {r['in_scope_accuracy']:.3f} "
             f"(target >= 0.90)   accepted as in scope {r['in_scope_accepted']:.3f}",
             f"CLINC150 oos_test ({r['clinc_oos_rows']} rows): oos recall {r['oos_recall']:.3f} (target >= 0.80)",
             "per-intent F1: " + ", ".join(f"{k} {v:.2f}" for k, v in r["per_intent_f1"].items()),
             "most frequent confusions: " + ", ".join(f"{c['gold']}->{c['predicted']} {c['count']}"
                                                      for c in r["top_confusions"])]
    return "\n".join(lines)


def format_sentiment(r: dict[str, Any]) -> str:
    """A readable report."""
    lines = [f"embedder {r['embedder']}  strong-negative threshold {r['strong_negative']:+.3f}",
             f"{'set':<18} {'rows':>6} {'accuracy':>9} {'neg rec':>8} {'pos rec':>8} {'strong %':>9} {'strong prec':>11}"]
    for name, s in r["sets"].items():
        prec = "-" if s["strong_negative_precision"] is None else f"{s['strong_negative_precision']:.3f}"
        lines.append(f"{name:<18} {s['rows']:>6} {s['accuracy']:>9.3f} {s['negative_recall']:>8.3f} "
                     f"{s['positive_recall']:>8.3f} {s['strong_negative_flagged'] * 100:>8.1f}% {prec:>11}")
    lines.append("target: accuracy >= 0.85 on vader_amazon_en and reviews_zh")
    # The shipped Chinese weights were trained on the rest of the corpus, so only this fixed
    # sample can score them; the recipe itself is scored on every sentence by cross-validation.
    lines.append("reviews_zh: the shipped weights on a fixed held-out sample; the training recipe on all "
                 "35,123 sentences: python bench/train_review_polarity.py --cross-validate (BENCHMARKS.md)")
    return "\n".join(lines)
