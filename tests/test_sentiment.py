"""Sentiment: the embedding model and the shipped Chinese review-polarity model it mixes in."""
from __future__ import annotations

import numpy as np
import pytest

from shopqa.routing.review_polarity import ReviewPolarity, cjk_share
from shopqa.routing.sentiment import SentimentClassifier


@pytest.fixture(scope="module")
def polarity():
    return ReviewPolarity()


def test_shipped_review_polarity_reads_chinese_reviews(polarity):
    # Written for this test, not corpus rows: the weights must generalise beyond their corpus.
    p = polarity.p_positive(["质量太差了，用了两天就坏了，非常失望", "做工粗糙，再也不会买了",
                             "物超所值，非常满意，下次还来", "很好用，包装也很精致，推荐"])
    assert (p[:2] < 0.5).all() and (p[2:] > 0.5).all(), p
    assert 0.0 <= polarity.weight <= 1.0


def test_cjk_share():
    assert cjk_share("Where is my order?") == 0.0
    assert cjk_share("我的订单") == 1.0
    assert cjk_share("my order 还没到") == pytest.approx(0.6)
    assert cjk_share("?!") == 0.0


def test_mixing_leaves_english_and_neutral_alone(hash_embedder, polarity):
    plain = SentimentClassifier(hash_embedder).fit()
    mixed = SentimentClassifier(hash_embedder, polarity=polarity).fit()
    texts = ["Great phone, love it", "这个手机壳质量太差了，非常失望"]
    vectors = hash_embedder.embed_queries(texts)
    before, after = plain.proba(vectors, texts), mixed.proba(vectors, texts)
    assert np.allclose(before[0], after[0])  # no Chinese: the embedding model decides alone
    assert np.isclose(before[1, 1], after[1, 1])  # P(neutral) is the embedding model's
    assert np.allclose(after.sum(axis=1), 1.0)
    assert after[1, 0] > before[1, 0]  # the review model says negative, and has its say
    assert mixed.predict(texts[1], vectors[1:]).score < plain.predict(texts[1], vectors[1:]).score


def test_texts_must_match_vectors(hash_embedder, polarity):
    model = SentimentClassifier(hash_embedder, polarity=polarity).fit()
    with pytest.raises(ValueError, match="2 texts for 1 vectors"):
        model.proba(hash_embedder.embed_queries(["a"]), ["a", "b"])


def test_vector_model_only_for_its_own_embedder(hash_embedder):
    # The file's second model reads e5-small vectors; any other embedder gets the lexical one.
    lexical = ReviewPolarity(embedder_id=hash_embedder.id)
    assert lexical.embedder_id is None and lexical.vector_coef is None
    assert lexical.p_positive(["非常失望"]).shape == (1,)
    with_vectors = ReviewPolarity(embedder_id="e5-small")
    assert with_vectors.embedder_id == "e5-small" and with_vectors.vector_coef is not None
    with pytest.raises(ValueError, match="one 384-dim vector per text"):
        with_vectors.p_positive(["非常失望"])
    # A review model for e5 vectors cannot be paired with another embedder.
    with pytest.raises(ValueError, match="reads e5-small vectors"):
        SentimentClassifier(hash_embedder, polarity=with_vectors)


def test_with_polarity_shares_the_fitted_model(hash_embedder, polarity):
    plain = SentimentClassifier(hash_embedder).fit()
    mixed = plain.with_polarity(polarity)
    assert mixed.model is plain.model and plain.polarity is None and mixed.polarity is polarity
    texts = ["这个手机壳质量太差了，非常失望"]
    vectors = hash_embedder.embed_queries(texts)
    fitted = SentimentClassifier(hash_embedder, polarity=polarity).fit()
    assert np.allclose(mixed.proba(vectors, texts), fitted.proba(vectors, texts))
    with pytest.raises(ValueError, match="reads e5-small vectors"):
        plain.with_polarity(ReviewPolarity(embedder_id="e5-small"))


def test_missing_weights_name_the_trainer(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_review_polarity"):
        ReviewPolarity(tmp_path / "nope.npz")
