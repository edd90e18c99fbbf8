"""Answer candidates, the learned scorer and answerability decision, and the route gate (fast)."""
from __future__ import annotations

import pytest

from shopqa.answering import candidates
from shopqa.routing import route_gate
from shopqa.answering.answer import Answerer, Thresholds
from shopqa.answering.answer_model import AnswerModel, Logistic, fit_logistic
from shopqa.answering.candidate_sentences import passage_sentences
from shopqa.answering.candidates import asks, holds, select
from shopqa.text.prompts import Prompts
from doubles import CannedLLM
from shopqa.ingest.index import ShopIndex

THRESHOLDS = Thresholds(curated=0.99, abstain=0.05)


@pytest.fixture(scope="module")
def index(tiny_index, hash_embedder):
    return ShopIndex(tiny_index, hash_embedder)


def test_what_a_question_asks_for_and_what_a_sentence_holds():
    assert "price" in asks("How much is express shipping?") and "price" in asks("运费多少钱？")
    assert "duration" in asks("How long do refunds take?") and "duration" in asks("退款要几天？")
    assert "temperature" in asks("What temperature should I wash it at?")
    assert "measure" in asks("LT-CC240 这根线有多长") and "measure" in asks("How wide is the sofa?")
    assert {"price", "duration"} <= holds("Canada: Delivery time 5-10 business days; Shipping $19.95.")
    assert "measure" in holds("长度 2 米") and "temperature" not in holds("长度 2 米")
    assert "temperature" in holds("Wash at 30°C at most.") and not holds("Turn it inside out.") - {"count"}


def test_only_the_shops_side_of_faqs_and_chats_is_a_candidate():
    assert passage_sentences("Q: How long?\nA: Within 30 days. Unused items only.", "faq") == [
        "Within 30 days. Unused items only."]  # an FAQ answer stays whole
    chat = passage_sentences("Customer: I paid 45 dollars for shipping, is that right?\nAgent: Standard shipping "
                             "costs 6.95 USD. Orders over 75 USD ship free.", "chat")
    assert chat == ["Standard shipping costs 6.95 USD.", "Orders over 75 USD ship free."]
    assert not any("45" in c for c in chat)


def test_select_quotes_the_best_and_drops_the_weak_in_document_order():
    ranked = [(0.9, 2, 0, "Refunds take 5 business days."), (0.6, 1, 3, "Refunds go to the original card."),
              (0.2, 1, 0, "We love our customers.")]
    assert select("How long do refunds take?", ranked) == [(1, "Refunds go to the original card."),
                                                          (2, "Refunds take 5 business days.")]


def test_logistic_validates_and_scores():
    with pytest.raises(ValueError):
        Logistic(("a",), (0.0,), (0.0,), (1.0,), 0.0)
    model = fit_logistic([{"a": 0.0}, {"a": 0.1}, {"a": 0.9}, {"a": 1.0}], [0, 0, 1, 1], ("a",))
    assert model.probability({"a": 1.0}) > 0.5 > model.probability({"a": 0.0})
    assert Logistic.from_dict(model.as_dict()) == model


def _model(answerable_bias: float) -> AnswerModel:
    """A scorer that trusts shared key terms and a decision that reads the best candidate."""
    scorer = Logistic(candidates.FEATURES, tuple(0.0 for _ in candidates.FEATURES),
                      tuple(1.0 for _ in candidates.FEATURES),
                      tuple(4.0 if f in ("lex", "type_match") else 0.0 for f in candidates.FEATURES), -2.0)
    decision = Logistic(candidates.ANSWERABILITY, tuple(0.0 for _ in candidates.ANSWERABILITY),
                        tuple(1.0 for _ in candidates.ANSWERABILITY),
                        tuple(0.0 for _ in candidates.ANSWERABILITY), answerable_bias)
    return AnswerModel(scorer, decision, answer_at=0.7, partial_at=0.4)


def test_answerability_decides_answer_partial_or_abstain(index):
    question = "How many months of warranty do the X200 and X300 phones carry?"
    answered = Answerer(index, None, Prompts(), THRESHOLDS, model=_model(3.0)).answer(question)
    assert answered.path == "extractive" and "24" in answered.answer
    partial = Answerer(index, None, Prompts(), THRESHOLDS, model=_model(0.0)).answer(question)
    assert partial.path == "partial" and partial.answer.startswith("I couldn't find exactly that")
    assert "colleague" in partial.answer and partial.sources
    refused = Answerer(index, CannedLLM("never [1]."), Prompts(), THRESHOLDS, model=_model(-3.0)).answer(question)
    assert refused.path == "abstained"


def test_partial_answers_do_not_call_the_llm(index):
    llm = CannedLLM("The warranty is 24 months [1].")
    result = Answerer(index, llm, Prompts(), THRESHOLDS, model=_model(0.0)).answer(
        "How many months of warranty do the X200 and X300 phones carry?")
    assert result.path == "partial" and llm.prompts == []


def test_route_gate_features_read_evidence_and_intent(index):
    from shopqa.answering.retrieval import HybridRetriever

    hits = HybridRetriever(index).search("warranty months phones", k=5)
    f = route_gate.features("How many months of warranty do phones carry?", "out_of_scope", 0.4, 0.8, 0.7, hits,
                            None, index, 0.05, 0.9, False)
    assert set(route_gate.FEATURES) <= set(f) and f["route_out_of_scope"] == 1.0 and f["is_question"] == 1.0
    assert f["context_cov"] > 0.5 and f["request"] == 0.0
    g = route_gate.features("I need to cancel my order", "order", 0.9, 0.8, 0.7, hits, None, index, 0.05, 0.9, False)
    assert g["request"] == 1.0 and g["context_cov"] < f["context_cov"]


def test_a_generation_that_drops_the_found_fact_is_not_that_fact(index):
    best = candidates.Candidate(1, 0, "The X200 and X300 phones carry a 24 month warranty.", "doc", score=0.9)
    other = candidates.Candidate(1, 1, "Accessories carry 12 months.", "doc", score=0.2)
    question = "How long is the warranty on the X300?"
    assert Answerer._leaves_out("The X200 and X300 phones carry a warranty [1].", [best, other], question)
    assert not Answerer._leaves_out("The X300 phone carries a 24 month warranty [1].", [best, other], question)
    assert Answerer._leaves_out("Anything [1].", [], question) == []


def _hit(text: str, dense: float = 0.5):
    from shopqa.answering.retrieval import Hit
    from shopqa.ingest.index import UnitRow

    return Hit(UnitRow(0, "doc:x", "doc", "x.md", "", "", 0, "en", text, {}), 1.0, dense_score=dense)


def test_a_follow_up_keeps_the_earlier_subject_not_its_question_words(index):
    # "and how long does it take to arrive?" after "How much is shipping to Australia?": the
    # follow-up's own words and the earlier subject weigh half each; "how much" lends nothing.
    message = "and how long does it take to arrive?"
    out = candidates.build("How much is shipping to Australia? " + message,
                           [_hit("Australia: shipping S$18.90; delivery 5-9 business days."),
                            _hit("Singapore parcels take 1-3 business days.")], index, None, None, 0.05, message=message)
    lex = {c.text.split()[0]: c.features["lex"] for c in out}
    assert lex["Australia:"] == pytest.approx(0.5)  # all of the subject, none of "long / take / arrive"
    assert lex["Australia:"] > lex["Singapore"]


def test_an_elliptical_follow_up_asks_what_the_earlier_question_asked(index):
    # "那 AP400 的呢？" asks nothing by itself: it asks the earlier "多久换一次" about the AP400.
    out = candidates.build("AP200 的滤网多久换一次？ 那 AP400 的呢？", [_hit("AP400：建议更换周期 每 4 个月。")],
                           index, None, None, 0.05, message="那 AP400 的呢？")
    assert out[0].features["type_match"] == 1.0


def test_a_follow_up_that_asks_something_new_stays_with_the_earlier_subject():
    from types import SimpleNamespace

    from shopqa.text.bridge import Bridge

    idf = {"australia": 3.0, "ship": 1.0, "delivery": 1.0}
    weights = SimpleNamespace(vocab=idf, weight=lambda t: idf.get(t, 6.0))
    hits = [_hit(t) for t in ("Q: 寄到中国大陆要多久？ A: 发货后 6-10 个工作日送达。",
                              "Rates: Australia: delivery 5-9 business days. Singapore: 1-3 business days.",
                              "寄往澳大利亚的大额订单由收件人缴纳税费。")]
    texts = [h.unit.text for h in hits]
    about = candidates._about_subject(weights, Bridge(), "How much is shipping to Australia?",
                                      {"long", "take", "arrive"}, "and how long does it take to arrive?", hits, texts)
    assert about == [False, True, True]  # the subject named in English or in Chinese ("澳大利亚")
    # "And for Hong Kong?" asks nothing of its own: it changes the subject, every passage stays.
    assert candidates._about_subject(weights, Bridge(), "How much is shipping to Australia?", {"hong", "kong"},
                                     "And for Hong Kong?", hits, texts) == [True, True, True]
