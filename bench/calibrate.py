"""Calibrate shopqa's decision thresholds on public data and write app/data/calibration.json.

Curated-answer threshold (question-to-FAQ-question cosine), from paraphrase data:
Bitext (customer service) and CLINC150 (150 intents). One utterance per intent plays the
FAQ question; a third of the intents get no FAQ at all (their questions must not be answered
from an FAQ). Other utterances are the customers' questions. A curated answer is right when
the matched FAQ has the question's intent. The threshold is the lowest similarity at which
curated answers are right at least ``--precision`` of the time, on each data set (the larger
of the two is kept).

Abstain threshold (retrieval confidence = max dense cosine of the top hits), from TechQA:
the technotes are ingested as a help center; the threshold keeps abstentions on answerable
questions at or under ``--max-false-abstain`` and is reported with the abstain rate it gets
on the 96 unanswerable questions. WixQA's answerable questions check it on another domain.

    python bench/calibrate.py                      # both embedders, writes calibration.json
    python bench/calibrate.py --embedders e5-small --dry-run
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATASETS = REPO.parent / "shared" / "datasets"
CALIBRATION = REPO / "app" / "data" / "calibration.json"


def bitext_intents() -> dict[str, list[str]]:
    """Bitext utterances grouped by intent."""
    groups: dict[str, list[str]] = defaultdict(list)
    with open(DATASETS / "bitext" / "bitext_customer_service_8k.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            groups[row["intent"]].append(row["utterance"].strip())
    return groups


def clinc_intents() -> dict[str, list[str]]:
    """CLINC150 in-scope test utterances grouped by intent."""
    data = json.loads((DATASETS / "clinc150" / "data_full.json").read_text())
    groups: dict[str, list[str]] = defaultdict(list)
    for text, intent in data["test"]:
        groups[intent].append(text)
    return groups


def curated_threshold(embedder, groups: dict[str, list[str]], precision: float, per_intent: int,
                      seed: int = 0) -> dict:
    """The lowest FAQ-match similarity whose curated answers reach ``precision``."""
    rng = random.Random(seed)
    intents = sorted(groups)
    rng.shuffle(intents)
    with_faq = set(intents[: len(intents) * 2 // 3])
    faq_intents, faq_texts, queries, query_intents = [], [], [], []
    for intent in sorted(groups):
        utterances = list(dict.fromkeys(groups[intent]))
        rng.shuffle(utterances)
        if intent in with_faq:
            faq_intents.append(intent)
            faq_texts.append(utterances[0])
        for text in utterances[1: 1 + per_intent]:
            queries.append(text)
            query_intents.append(intent)
    faq_vectors = embedder.embed_queries(faq_texts)
    query_vectors = np.vstack([embedder.embed_queries(queries[i:i + 64]) for i in range(0, len(queries), 64)])
    sims = query_vectors @ faq_vectors.T
    best = sims.argmax(axis=1)
    score = sims[np.arange(len(queries)), best]
    right = np.array([faq_intents[b] == qi for b, qi in zip(best, query_intents)])
    answerable = np.array([qi in with_faq for qi in query_intents])
    order = np.argsort(-score)
    # Sweep thresholds from high to low; keep the lowest one whose precision holds.
    chosen = float(score.max()) + 1e-6
    correct = 0
    for n, i in enumerate(order, start=1):
        correct += int(right[i])
        if correct / n >= precision:
            chosen = float(score[i])
    taken = score >= chosen
    return {
        "threshold": round(chosen, 4),
        "precision": round(float(right[taken].mean()) if taken.any() else 1.0, 4),
        "coverage_of_answerable": round(float((taken & right & answerable).sum() / max(1, answerable.sum())), 4),
        "wrong_on_no_faq": round(float((taken & ~answerable).sum() / max(1, (~answerable).sum())), 4),
        "queries": len(queries), "faqs": len(faq_texts),
    }


def abstain_threshold(spec: str, max_false_abstain: float, limit: int | None) -> dict:
    """Confidence threshold from TechQA (answerable vs unanswerable), checked on WixQA."""
    import importlib.util

    # bench/datasets.py, loaded by path: "datasets" may also be an installed package's name.
    spec_ = importlib.util.spec_from_file_location("bench_datasets", REPO / "bench" / "datasets.py")
    bench_datasets = importlib.util.module_from_spec(spec_)
    sys.modules["bench_datasets"] = bench_datasets  # dataclasses look their module up here
    spec_.loader.exec_module(bench_datasets)

    from shopqa.answering.retrieval import HybridRetriever
    from shopqa.ingest.embedders import make_embedder
    from shopqa.ingest.index import ShopIndex

    embedder = make_embedder(spec)
    out: dict = {}
    confidences: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for corpus in ("techqa", "wixqa"):
        index_dir = bench_datasets.ensure_index(corpus, spec, embedder)
        questions = bench_datasets.load_corpus(corpus).questions
        idx = ShopIndex(index_dir, embedder)
        retriever = HybridRetriever(idx)
        questions = questions[:limit] if limit else questions
        conf, answerable = [], []
        for q in questions:
            hits = retriever.search(q.question, k=8)
            conf.append(max((h.dense_score or 0.0) for h in hits[:5]) if hits else 0.0)
            answerable.append(q.answerable)
        confidences[corpus] = (np.array(conf), np.array(answerable))
    conf, answerable = confidences["techqa"]
    wconf, wans = confidences["wixqa"]
    # The highest threshold that abstains on at most max_false_abstain of the answerable
    # questions of *each* help center: a threshold fitted to one domain alone over-abstains on
    # the other (TechQA's alone refused a quarter of WixQA's answerable questions).
    threshold = min(float(np.quantile(conf[answerable], max_false_abstain)),
                    float(np.quantile(wconf[wans], max_false_abstain)))
    out["threshold"] = round(threshold, 4)
    # What the threshold is for: questions a shop's help center cannot be about (CLINC150 oos).
    oos = json.loads((DATASETS / "clinc150" / "data_full.json").read_text())["oos_test"]
    oos = [text for text, _ in oos][: (limit or 300)]
    oos_conf = []
    for corpus in ("wixqa", "techqa"):
        idx = ShopIndex(bench_datasets.index_dir(corpus, spec), embedder)
        retriever = HybridRetriever(idx)
        for text in oos:
            hits = retriever.search(text, k=8)
            oos_conf.append(max((h.dense_score or 0.0) for h in hits[:5]) if hits else 0.0)
    out["clinc_oos_abstain"] = round(float((np.array(oos_conf) < threshold).mean()), 4)
    out["techqa_abstain_unanswerable"] = round(float((conf[~answerable] < threshold).mean()), 4) if (~answerable).any() else None
    out["techqa_abstain_answerable"] = round(float((conf[answerable] < threshold).mean()), 4)
    out["wixqa_abstain_answerable"] = round(float((wconf[wans] < threshold).mean()), 4)
    out["confidence_quartiles"] = {
        "techqa_answerable": [round(float(x), 3) for x in np.quantile(conf[answerable], [0.25, 0.5, 0.75])],
        "techqa_unanswerable": [round(float(x), 3) for x in np.quantile(conf[~answerable], [0.25, 0.5, 0.75])]
        if (~answerable).any() else [],
        "wixqa": [round(float(x), 3) for x in np.quantile(wconf, [0.25, 0.5, 0.75])],
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedders", default="e5-small,sentence-transformers:all-MiniLM-L6-v2")
    parser.add_argument("--precision", type=float, default=0.95, help="required precision of curated answers")
    parser.add_argument("--per-intent", type=int, default=16, help="customer questions per intent")
    parser.add_argument("--max-false-abstain", type=float, default=0.08,
                        help="share of answerable TechQA questions the abstain threshold may refuse")
    parser.add_argument("--skip-abstain", action="store_true", help="only calibrate the curated threshold")
    parser.add_argument("--limit", type=int, help="questions per corpus for the abstain threshold (quick runs)")
    parser.add_argument("--dry-run", action="store_true", help="print, do not write calibration.json")
    args = parser.parse_args()

    from shopqa.ingest.embedders import make_embedder

    table = json.loads(CALIBRATION.read_text(encoding="utf-8"))
    for spec in args.embedders.split(","):
        embedder = make_embedder(spec)
        embedder.warm_up()
        t0 = time.perf_counter()
        entry: dict = {"curated_detail": {}}
        for name, groups in (("bitext", bitext_intents()), ("clinc150", clinc_intents())):
            entry["curated_detail"][name] = curated_threshold(embedder, groups, args.precision, args.per_intent)
        entry["curated"] = max(d["threshold"] for d in entry["curated_detail"].values())
        if not args.skip_abstain:
            detail = abstain_threshold(spec, args.max_false_abstain, args.limit)
            entry["abstain"], entry["abstain_detail"] = detail["threshold"], detail
        else:
            entry["abstain"] = table.get(embedder.id, table["default"])["abstain"]
        entry["calibrated"] = time.strftime("%Y-%m-%d")
        print(json.dumps({embedder.id: entry}, indent=1), f"\n({time.perf_counter() - t0:.0f} s)", flush=True)
        table[embedder.id] = {**table.get(embedder.id, {}), **entry}  # keep other keys (routing)
    if not args.dry_run:
        CALIBRATION.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {CALIBRATION.relative_to(REPO)}")


if __name__ == "__main__":
    main()
