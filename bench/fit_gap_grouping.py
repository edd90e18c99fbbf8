"""Fit the FAQ-gap grouping threshold on public paraphrase data, check it on the dev shops, and
time the grouping; writes the threshold into app/data/gap_grouping.json.

Public data: CLINC150 and Bitext label each utterance with its intent; utterances of one intent
are paraphrases of one request, so "same intent = same group". A gap list is simulated by
drawing K intents and M utterances of each; pair precision / recall are counted over all pairs
of the draw (a pair is predicted together when both land in one group). The threshold is
fitted on CLINC150's ``val`` split: the lowest threshold (most recall) whose pair precision is
at least MIN_PRECISION, because merging two different questions costs more than splitting one
(an agent answers a group once; a split group only shows twice). It is scored on CLINC150
``test`` and on Bitext, which were not used to fit.

Dev shops: every case of ../shared/dev-shops/*/questions.jsonl is a different question; the
script lists the pairs the fitted threshold would merge (first turns of the non-order cases,
per shop).

Speed: N gap questions (drawn from CLINC150 test, some asked several times) through
``group_gaps``: the dashboard's first view (at most EMBED_BUDGET new texts embedded while it
waits, the rest in the background), cold until every text is embedded, warm (every vector in
memory) and after a restart (the vectors read back from the cache file kept in data_dir).

    .venv/bin/python bench/fit_gap_grouping.py [--embedder e5-small] [--write]
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
OUT = REPO / "bench" / "out" / "gap-grouping"
sys.path.insert(0, str(REPO / "bench"))

from shopqa.handoff.faq_gaps import GROUPING, VectorCache, group_gaps, group_vectors, grouping_threshold  # noqa: E402
from shopqa.ingest.embedders import make_embedder  # noqa: E402
from shopqa.web.stats import EMBED_BUDGET  # noqa: E402

GRID = [round(0.30 + 0.005 * i, 3) for i in range(139)]  # 0.30 .. 0.99
MIN_PRECISION = 0.99


class DiskCache(VectorCache):
    """The bench's vectors, also kept in bench/out/gap-grouping/<embedder>.npz between runs."""

    def __init__(self, embedder):
        super().__init__(embedder, limit=1_000_000)
        self.file = OUT / (embedder.id.replace(":", "_").replace("/", "_") + ".npz")
        if self.file.exists():
            found = np.load(self.file, allow_pickle=False)
            self._vectors.update(zip(found["texts"].tolist(), found["vectors"]))

    def save(self) -> None:
        OUT.mkdir(parents=True, exist_ok=True)
        texts = list(self._vectors)
        np.savez(self.file, texts=np.array(texts), vectors=np.vstack([self._vectors[t] for t in texts]))


def clinc(split: str) -> list[tuple[str, str]]:
    """(text, intent) of a CLINC150 split, out-of-scope rows left out."""
    data = json.loads((SHARED / "datasets" / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    return [(t, i) for t, i in data[split] if i != "oos"]


def bitext() -> list[tuple[str, str]]:
    """(utterance, intent) of the Bitext sample."""
    with open(SHARED / "datasets" / "bitext" / "bitext_customer_service_8k.csv", encoding="utf-8") as fh:
        return [(r["utterance"], r["intent"]) for r in csv.DictReader(fh)]


def draws(rows: list[tuple[str, str]], k: int, m: int, n: int, seed: int) -> list[list[tuple[str, str]]]:
    """``n`` simulated gap lists of ``k`` intents x ``m`` distinct utterances."""
    rng = random.Random(seed)
    by_intent: dict[str, list[str]] = {}
    for text, intent in rows:
        by_intent.setdefault(intent, []).append(text)
    out = []
    for _ in range(n):
        chosen = rng.sample(sorted(by_intent), min(k, len(by_intent)))
        sample = [(t, i) for i in chosen for t in rng.sample(sorted(set(by_intent[i])), min(m, len(set(by_intent[i]))))]
        rng.shuffle(sample)
        out.append(sample)
    return out


def pair_counts(labels: list[int], truth: list[str]) -> tuple[int, int, int]:
    """(true positive, predicted, actual) pair counts."""
    pred = np.asarray(labels)[:, None] == np.asarray(labels)[None, :]
    gold = np.asarray(truth)[:, None] == np.asarray(truth)[None, :]
    upper = np.triu(np.ones_like(pred, dtype=bool), 1)
    return int((pred & gold & upper).sum()), int((pred & upper).sum()), int((gold & upper).sum())


def scores(samples, cache: VectorCache, thresholds) -> dict[float, dict[str, float]]:
    """Pooled pair precision, recall, F1 and F0.5 per threshold over the samples."""
    totals = {t: [0, 0, 0] for t in thresholds}
    for sample in samples:
        vectors = cache.vectors([t for t, _ in sample])
        truth = [i for _, i in sample]
        for t in thresholds:
            tp, pred, gold = pair_counts(group_vectors(vectors, t), truth)
            totals[t][0] += tp
            totals[t][1] += pred
            totals[t][2] += gold
    out = {}
    for t, (tp, pred, gold) in totals.items():
        p = tp / pred if pred else 1.0
        r = tp / gold if gold else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        f05 = 1.25 * p * r / (0.25 * p + r) if p + r else 0.0
        out[t] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4), "f05": round(f05, 4)}
    return out


def dev_shop_merges(cache: VectorCache, threshold: float) -> tuple[int, list[tuple[str, str, str]]]:
    """Cases checked, and the pairs of different cases that one group would hold."""
    checked, merges = 0, []
    for questions in sorted((SHARED / "dev-shops").glob("*/questions.jsonl")):
        cases = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines() if line.strip()]
        # First turns of the question cases (order cases go on with e-mail addresses, not questions).
        texts = list(dict.fromkeys(" ".join(c["turns"][0].split()) for c in cases if c["kind"] != "order"))
        checked += len(texts)
        labels = group_vectors(cache.vectors(texts), threshold)
        for a in range(len(texts)):
            for b in range(a + 1, len(texts)):
                if labels[a] == labels[b]:
                    merges.append((questions.parent.name, texts[a], texts[b]))
    return checked, merges


def speed(embedder, threshold: float, n: int, runs: int = 5) -> dict[str, float]:
    """Median ms of ``group_gaps`` over ``n`` gaps, cold (nothing cached) and warm."""
    rng = random.Random(7)
    pool = [t for t, _ in clinc("test")]
    texts = [rng.choice(pool) for _ in range(n)]  # repeats: some questions are asked several times
    gaps = [{"question": t, "session_id": hashlib.md5(f"{k}".encode()).hexdigest(), "lang": "en", "when": 1e9 + k}
            for k, t in enumerate(texts)]
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "faq-gap-vectors.sqlite"
        cache = VectorCache(embedder, store)
        t0 = time.perf_counter()
        first_view = group_gaps(gaps, cache, threshold, budget=EMBED_BUDGET)  # the dashboard's first view
        first_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        cache.wait()
        groups = group_gaps(gaps, cache, threshold)
        cold = first_ms + (time.perf_counter() - t0) * 1000
        read_ms = _read_speed(Path(tmp), texts, runs)
        warm, restart = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            group_gaps(gaps, cache, threshold)
            warm.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            group_gaps(gaps, VectorCache(embedder, store), threshold)  # a restarted service: vectors from the file
            restart.append((time.perf_counter() - t0) * 1000)
    return {"n": n, "distinct": len(set(texts)), "groups": len(groups),
            f"first_view_ms_budget_{EMBED_BUDGET}": round(first_ms),
            "first_view_pending": sum(1 for g in first_view if g["pending"]), "cold_all_embedded_ms": round(cold),
            "warm_ms_median": round(statistics.median(warm), 1), "read_and_count_ms_median": read_ms,
            "after_restart_ms_median": round(statistics.median(restart), 1)}


def _read_speed(tmp: Path, texts: list[str], runs: int) -> float:
    """Median ms of the dashboard's counting pass (``stats.dashboard``: read the conversation
    store's rows and collect the gaps) over ``texts`` asked and abstained, one session each."""
    from shopqa.conversations import ConversationStore
    from shopqa.web.stats import dashboard

    store = ConversationStore(tmp / "conversations.sqlite")
    rows = []
    for k, text in enumerate(texts):
        base = {"session_id": f"s{k}", "created": time.time(), "lang": "en", "sources": "[]", "timings": "{}",
                "meta": "{}", "intent": "shipping_delivery"}
        rows.append({**base, "role": "customer", "text": text, "path": None, "latency_ms": None})
        rows.append({**base, "role": "assistant", "text": "I could not find that.", "path": "abstained",
                     "latency_ms": 100.0})
    from shopqa.conversations import MESSAGES

    with store.engine.begin() as conn:
        conn.execute(MESSAGES.insert(), rows)
    timings = []
    for _ in range(runs):
        t0 = time.perf_counter()
        assert len(dashboard(store)["gaps"]) == len(texts)
        timings.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(timings), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embedder", default="e5-small")
    ap.add_argument("--k", type=int, default=40, help="intents per simulated gap list")
    ap.add_argument("--m", type=int, default=6, help="utterances per intent")
    ap.add_argument("--draws", type=int, default=8)
    ap.add_argument("--n-speed", type=int, default=2000)
    ap.add_argument("--speed-only", action="store_true", help="only time the grouping at the stored threshold")
    ap.add_argument("--write", action="store_true", help="write the threshold into app/data/gap_grouping.json")
    args = ap.parse_args()

    embedder = make_embedder(args.embedder)
    embedder.warm_up()
    if args.speed_only:
        print(f"speed ({embedder.id}, threshold {grouping_threshold(embedder.id)}): "
              f"{speed(embedder, grouping_threshold(embedder.id), args.n_speed)}")
        return
    cache = DiskCache(embedder)
    fit_samples = draws(clinc("val"), args.k, args.m, args.draws, seed=1)
    fit = scores(fit_samples, cache, GRID)
    best = min((t for t in GRID if fit[t]["precision"] >= MIN_PRECISION), default=GRID[-1])
    print(f"embedder {embedder.id}: fitted on CLINC150 val ({args.draws} draws of {args.k} intents x {args.m}); "
          f"the lowest threshold with pair precision >= {MIN_PRECISION}")
    for t in GRID:
        if abs(t - best) <= 0.026:
            merged = len(dev_shop_merges(cache, t)[1])
            print(f"  t={t:.3f} {fit[t]} dev-shop merged pairs {merged}{'  <- chosen' if t == best else ''}")
    held = {"clinc150_test": scores(draws(clinc("test"), args.k, args.m, args.draws, seed=2), cache, [best])[best],
            "bitext": scores(draws(bitext(), 20, args.m * 2, args.draws, seed=3), cache, [best])[best]}
    print(f"held out at {best}: {held}")
    cache.save()
    checked, merges = dev_shop_merges(cache, best)
    print(f"dev shops: {checked} distinct questions, {len(merges)} merged pair(s) of different cases")
    for shop, a, b in merges:
        print(f"  [{shop}] {a!r} ~ {b!r}")
    timing = speed(embedder, best, args.n_speed)
    print(f"speed: {timing}")
    if args.write:
        table = json.loads(GROUPING.read_text(encoding="utf-8")) if GROUPING.exists() else {}
        table.setdefault("_comment", "FAQ-gap grouping thresholds per embedder id, fitted by bench/fit_gap_grouping.py.")
        table.setdefault("default", {"threshold": 0.9})
        table[embedder.id] = {"threshold": best, "fit": {"clinc150_val": fit[best], **held,
                                                         "dev_shop_questions": checked,
                                                         "dev_shop_merged_pairs": len(merges)}}
        GROUPING.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {GROUPING}")


if __name__ == "__main__":
    main()
