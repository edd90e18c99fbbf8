"""Each answer path over the tiny shop, with the hash embedder and LLM test doubles."""
from __future__ import annotations

import pytest

from shopqa.answering.answer import Answerer, Thresholds
from shopqa.text.prompts import Prompts
from shopqa.answering.rewrite import needs_context, standalone
from doubles import CannedLLM, CopyingLLM
from shopqa.ingest.chunking import count_tokens
from shopqa.ingest.index import ShopIndex

THRESHOLDS = Thresholds(curated=0.9, abstain=0.05)


@pytest.fixture(scope="module")
def index(tiny_index, hash_embedder):
    return ShopIndex(tiny_index, hash_embedder)


def make(index, llm=None, thresholds=THRESHOLDS):
    return Answerer(index, llm, Prompts(), thresholds)


def test_curated_answer_is_verbatim_and_skips_the_llm(index):
    llm = CannedLLM("should not be used [1].")
    result = make(index, llm).answer("Do you accept PayPal?")
    assert result.path == "curated" and result.answer == "Yes, we accept PayPal, Visa and Mastercard."
    assert result.sources[0]["file"] == "faqs/general.csv" and llm.prompts == []


def test_curated_answers_a_question_that_also_names_a_product(index):
    # The FAQ names no catalogue thing, so naming the X200 does not make it another product's FAQ.
    result = make(index, thresholds=Thresholds(curated=0.5, abstain=0.05)).answer("Do you accept PayPal for the X200?")
    assert result.path == "curated" and result.answer == "Yes, we accept PayPal, Visa and Mastercard."


def test_curated_prefers_the_customers_language(index):
    result = make(index).answer("保修期多长？")
    assert result.path == "curated" and result.answer == "配件保修12个月，手机保修24个月。" and result.lang == "zh"


def test_generated_answer_cites_the_right_source(index):
    llm = CopyingLLM()
    result = make(index, llm).answer("How many months of warranty do the X200 and X300 phones carry?")
    assert result.path == "generated", result.grounding
    assert "24 month warranty" in result.answer and "[" in result.answer
    assert [s["file"] for s in result.sources] == ["docs/warranty.html"]
    system, user = llm.prompts[0]
    assert "only the numbered passages" in system and "Passages:" in user and "[1]" in user


def test_focused_context_keeps_citations_on_the_right_source(index):
    llm = CopyingLLM()
    answerer = Answerer(index, llm, Prompts(), THRESHOLDS, focus_tokens=60)
    result = answerer.answer("How many months of warranty do the X200 and X300 phones carry?")
    assert result.path == "generated", result.grounding
    assert [s["file"] for s in result.sources] == ["docs/warranty.html"]
    context = llm.prompts[0][1].split("Passages:\n", 1)[1].split("\nQuestion:", 1)[0]
    assert count_tokens(context) <= 60 + 10  # the [n] markers are not in the budget
    with pytest.raises(ValueError):
        Answerer(index, llm, Prompts(), THRESHOLDS, focus_tokens=-1)


def test_grounding_failure_falls_back_to_extractive(index):
    llm = CannedLLM("Refunds take 60 days and are paid in bitcoin [1].")
    result = make(index, llm).answer("How long does a refund to my card take after a return?")
    assert result.path == "extractive"
    assert any("60" in reason for reason in result.grounding)
    assert "60 days" not in result.answer and "5-7 business days" in result.answer
    assert result.sources and all(f"[{s['ref']}]" in result.answer for s in result.sources)


def test_generation_stops_at_the_first_ungrounded_sentence(index):
    class Counting(CannedLLM):
        def stream(self, system, user, max_tokens=256):
            self.yielded = 0
            for piece in super().stream(system, user, max_tokens):
                self.yielded += 1
                yield piece

    llm = Counting("Refunds take 60 days [1]. " + "Then we also send a voucher for the trouble. " * 30)
    result = make(index, llm).answer("How long does a refund to my card take after a return?")
    assert result.path == "extractive" and any("60" in reason for reason in result.grounding)
    assert llm.yielded <= 6  # the first sentence and the piece that closed it, not 270 words


def test_model_that_does_not_know_is_not_an_answer(index):
    result = make(index, CannedLLM("I'm sorry, I don't know.")).answer("When does support answer on weekdays?")
    assert result.path == "extractive" and "9:00-18:00" in result.answer


def test_abstains_below_confidence(index):
    result = make(index, CannedLLM("The capital is Ulaanbaatar [1]."), Thresholds(curated=0.9, abstain=0.99)).answer(
        "What is the capital of Mongolia?")
    assert result.path == "abstained" and "colleague" in result.answer and result.sources == []


def test_abstains_in_chinese(index):
    result = make(index, None, Thresholds(curated=0.99, abstain=0.99)).answer("蒙古的首都是哪里？")
    assert result.path == "abstained" and "人工客服" in result.answer


@pytest.mark.parametrize("question,yes", [
    ("Does the X200 case fit the X300?", False),
    ("Does the X300 case fit my X300?", True),
    ("X200的手机壳能用在X300上吗？", False),
])
def test_compatibility_from_the_graph(index, question, yes):
    llm = CannedLLM("should not be used")
    result = make(index, llm).answer(question)
    assert result.path == "graph" and llm.prompts == []
    assert result.answer.startswith(("Yes", "可以") if yes else ("No", "不可以"))
    if not yes:
        # The alternative for the X300 is named with its price and stock, from the catalogue.
        assert "TP-CASE-X300" in result.answer and "21.90 USD" in result.answer
    assert {s["type"] for s in result.sources} == {"product"}


@pytest.mark.parametrize("question,expected", [
    ("How much is the X300 phone?", ["Tiny X300 phone (TP-X300) costs 449.00 USD and is in stock."]),
    ("Is the X300 silicone case in stock?", ["TP-CASE-X300", "21.90 USD", "out of stock"]),
    ("X200 手机多少钱？", ["TP-X200", "299.00 USD"]),
])
def test_price_and_stock_from_the_catalogue(index, question, expected):
    llm = CannedLLM("It costs 5 USD.")  # never asked: catalogue facts come from the catalogue
    result = make(index, llm).answer(question)
    assert result.path == "graph" and llm.prompts == [], result
    assert all(e in result.answer for e in expected), result.answer
    assert result.sources and {s["type"] for s in result.sources} == {"product"}


@pytest.mark.parametrize("question", ["How much is the X900 phone?", "How much is the case?"])
def test_no_price_for_a_product_not_named_unmistakably(index, question):
    # X900 is not in the catalogue (a look-alike X200/X300 phone must not get its price), and
    # "the case" fits two products.
    result = make(index, CannedLLM("x")).answer(question)
    assert result.path != "graph"


def test_shipping_cost_is_not_a_product_price(index):
    # "How much" about shipping names a product but asks about the shop's shipping fees.
    result = make(index, CannedLLM("x")).answer("How much is shipping for the X200 phone?")
    assert result.path != "graph"


def test_follow_up_uses_the_conversation(index):
    history = [{"role": "customer", "text": "How long do refunds take?", "standalone": "How long do refunds take?",
                "meta": {}},
               {"role": "assistant", "text": "5-7 business days."}]
    assert needs_context("and for PayPal?") and needs_context("那运费呢？") and not needs_context(
        "How long does shipping to Europe take?")
    # A Chinese question that names nothing leans on the conversation; one that names its subject does not.
    assert needs_context("一般几天能到？") and not needs_context("寄到新疆要运费吗？") and not needs_context("退款多久能到账？")
    assert standalone("and for PayPal?", history) == "How long do refunds take? and for PayPal?"
    result = make(index).answer("and for PayPal?", history)
    assert result.standalone.startswith("How long do refunds take?")


def test_follow_up_keeps_the_product(index):
    history = [{"role": "customer", "text": "Does the X300 case fit the X300?", "meta": {"products": ["TP-CASE-X300"]}}]
    result = make(index).answer("is it in stock?", history)
    assert result.products == ["TP-CASE-X300"] and "TP-CASE-X300" in result.standalone


def test_context_budget_and_validation(index):
    answerer = Answerer(index, None, Prompts(), THRESHOLDS, context_tokens=100)
    hits = answerer.retriever.search("refund return warranty shipping", k=6)
    kept = answerer._budget(hits, [])
    from shopqa.ingest.chunking import count_tokens
    assert kept and (len(kept) == 1 or sum(count_tokens(h.unit.text) for h in kept) <= 100)
    with pytest.raises(ValueError):
        Answerer(index, None, Prompts(), THRESHOLDS, top_k=0)
    with pytest.raises(ValueError):
        Thresholds(curated=2.0, abstain=0.1)


def test_fuse_ranks_units_found_by_both_queries_first():
    from shopqa.answering.retrieval import Hit, fuse
    from shopqa.ingest.index import UnitRow

    def unit(i):
        return UnitRow(i, f"k{i}", "doc", "docs/a.md", f"t{i}", "", 0, "en", "text", {})
    a = [Hit(unit(1), 0.0, dense_rank=1), Hit(unit(2), 0.0, dense_rank=2)]
    b = [Hit(unit(3), 0.0, keyword_rank=1), Hit(unit(2), 0.0, keyword_rank=2)]
    fused = fuse([a, b])
    assert [h.unit.id for h in fused] == [2, 1, 3]  # in both lists beats first in one
    assert fused[0].dense_rank == 2 and fused[0].keyword_rank is None  # reasons from its best list
    with pytest.raises(ValueError):
        fuse([a], rrf_k=0)


def test_a_price_card_only_for_a_question_about_the_products_own_price(index):
    answerer = make(index)
    assert answerer.matcher.asks_only_price_or_stock("How much is the X300?", ["TP-X300"])
    # A service or another thing asked about: the product's own price does not answer it.
    assert not answerer.matcher.asks_only_price_or_stock(
        "My repair shop wants 40 dollars to engrave the X300, can you do it cheaper?", ["TP-X300"])
    assert not answerer.matcher.asks_only_price_or_stock("How much would engraving my initials on the X300 cost?",
                                                         ["TP-X300"])


def test_prompt_templates_are_filled_completely_or_not_at_all():
    prompts = Prompts()
    assert prompts.template("answer_user").placeholders == {"context", "history", "language", "question"}
    text = prompts.render("answer_user", context="Refunds take 5 days. [1]", history="", question="How long?",
                          language="English")
    assert "Refunds take 5 days. [1]" in text and "{" not in text
    with pytest.raises(KeyError, match="missing"):  # a forgotten value is an error, not an empty gap
        prompts.render("answer_user", context="x")
