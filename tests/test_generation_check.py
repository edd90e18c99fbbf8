"""shopqa.answering.generation_check: generated answers that pass grounding but are still not answers.

The fixtures are written for these tests (a made-up shop), in the layouts ingest gives
passages: "Title > Heading" then text, "Customer: ...\nAgent: ..." for chats, "Q: ...\nA: ..."
for FAQs, and table rows rendered as "Name: Header value; Header value."
"""
from __future__ import annotations

import pytest

from shopqa.answering.generation_check import problems
from shopqa.answering.grounding import check

SHIPPING = ("Shipping > Rates\nStandard shipping takes 3-5 business days. Orders over $75 ship free. "
            "Express shipping costs $15 and arrives the next business day.")
RETURNS = ("Returns\nReturns are accepted within 30 days of delivery. Final sale items can only be exchanged. "
           "If the item arrives damaged, we also refund the shipping cost.")
LOYALTY = ("Lumen Club > Tiers\nGold members get free express shipping on every order. "
           "Every member earns 1 point per $1 spent.")
LEAD_IN = "Lumen Club > Gold tier\nGold members get: free express shipping.\nGold members get: early access to sales."
RATES_TABLE = ("International shipping > Rates\nCanada: Delivery time 5-10 business days; Shipping $19.95.\n"
               "Australia: Delivery time 7-14 business days; Shipping $29.95.")
CHAT = ("Customer: I washed my merino sweater in hot water and now it has shrunk a lot.\n"
        "Agent: Merino should be hand washed in cold water and dried flat. Please send us a photo and we "
        "will look at a replacement.")
ZH_SHIPPING = "配送说明 > 运费\n订单满199元包邮，不满199元收取10元运费。顺丰配送一般 2-3 天送达。"
ZH_MEMBERS = "会员权益\n金卡会员享受免费上门取件服务。所有会员生日当月可领取一张优惠券。"
ZH_RETURNS = "退换货\n签收后 7 天内可以无理由退货。退款会在 3 个工作日内原路退回。仅限未拆封的商品参加以旧换新。"
ZH_PRODUCT = "星河修护面霜 50ml (SKU XH-50)\nPrice: 268.00 CNY (in stock).\n适合干性和敏感肌肤，早晚使用。"


def _grounded(answer: str, passages: list[str]) -> None:
    """The good answers here are ones the grounding check passes: this module comes after it."""
    assert check(answer, passages).ok, check(answer, passages).reasons


# -- good answers pass -------------------------------------------------------------------------
@pytest.mark.parametrize("answer, question, passages", [
    # Quoting the passage sentence, with its citation.
    ("Standard shipping takes 3-5 business days [1].", "How long does shipping take?", [SHIPPING]),
    # Reusing a few of the question's words is normal.
    ("Returns are accepted within 30 days of delivery [1].", "How many days do I have to return?", [RETURNS]),
    # A shortened sentence that keeps its condition.
    ("Orders over $75 ship free [1].", "Is shipping free?", [SHIPPING]),
    ("Gold members get free express shipping on every order [1].", "Do you have free express shipping?", [LOYALTY]),
    ("Gold members get free express shipping [1].", "What do Gold members get?", [LEAD_IN]),
    ("Shipping to Canada costs $19.95 [1].", "How much is shipping to Canada?", [RATES_TABLE]),
    ("We also refund the shipping cost if the item arrives damaged [1].", "Do you refund shipping?", [RETURNS]),
    # A fact without a condition next to one with a condition.
    ("Express shipping costs $15 and arrives the next business day [1].", "How much is express shipping?",
     [SHIPPING]),
    # Two sentences from two passages.
    ("Returns are accepted within 30 days of delivery [1]. Standard shipping takes 3-5 business days [2].",
     "How long do I have to return, and how long does shipping take?", [RETURNS, SHIPPING]),
    # The answer to a past chat: the agent's words.
    ("Merino should be hand washed in cold water and dried flat [1].", "How do I wash a merino sweater?", [CHAT]),
    ("订单满199元包邮 [1]。", "运费怎么算？", [ZH_SHIPPING]),
    ("退款会在 3 个工作日内原路退回 [1]。", "退款多久到账？", [ZH_RETURNS]),
    ("金卡会员享受免费上门取件服务 [1]。", "上门取件要钱吗？", [ZH_MEMBERS]),
    ("仅限未拆封的商品参加以旧换新 [1]。", "哪些商品可以以旧换新？", [ZH_RETURNS]),
    ("适合干性和敏感肌肤，早晚使用 [1]。", "星河修护面霜适合什么肤质？", [ZH_PRODUCT]),
    # Mixed: an English question answered from a Chinese passage, and the reverse.
    ("顺丰配送一般 2-3 天送达 [1]。", "How long does delivery take?", [ZH_SHIPPING]),
    ("Express shipping costs $15 and arrives the next business day [1].", "加急运费多少？", [SHIPPING]),
])
def test_good_answers_pass(answer, question, passages):
    _grounded(answer, passages)
    assert problems(answer, question, passages) == []


def test_yes_no_question_answered_with_its_own_words_passes():
    # "Do you ship to Canada?" - "We ship to Canada": a confirmation, not an echo.
    passages = ["Shipping > Countries\nWe ship to Canada and Australia."]
    assert problems("We ship to Canada [1].", "Do you ship to Canada?", passages) == []
    assert problems("Yes, we ship to Canada [1].", "ship to canada?", passages) == []


def test_condition_said_by_the_customer_counts_as_kept():
    answer = "Free express shipping on every order [1]."
    assert problems(answer, "Is express shipping free?", [LOYALTY])  # whose?
    assert problems(answer, "Is express shipping free for me?", [LOYALTY],
                    ["I'm a Gold member.", "Is express shipping free for me?"]) == []
    assert problems("包邮 [1]。", "满199元包邮吗？", [ZH_SHIPPING]) == []


def test_answer_label_and_uncited_sentence_are_tolerated():
    assert problems("Answer: Standard shipping takes 3-5 business days.", "How long does shipping take?",
                    [SHIPPING]) == []


def test_repetition_that_the_passages_have_is_not_a_loop():
    passage = ("Delivery > Times\nZone A takes 2 business days. Zone B takes 3 business days. "
               "Zone C takes 4 business days.")
    answer = "Zone A takes 2 business days [1]. Zone B takes 3 business days [1]. Zone C takes 4 business days [1]."
    assert problems(answer, "How long does delivery take?", [passage]) == []


def test_colon_label_with_a_price_is_not_a_fragment():
    passage = "Lumen Desk Lamp (SKU LM-1)\nPrice: 49.00 USD (in stock)."
    assert problems("Price: 49.00 USD [1].", "How much is the Lumen Desk Lamp?", [passage]) == []


# -- each kind of garbage is rejected ----------------------------------------------------------
def _rejected(answer, question, passages, expect, customer_texts=()):
    reasons = problems(answer, question, passages, list(customer_texts))
    assert reasons, f"{answer!r} passed"
    assert any(expect in r for r in reasons), reasons
    return reasons


def test_question_echoed_back():
    _rejected("星河修护面霜多少钱 [1]？", "星河修护面霜多少钱？", [ZH_PRODUCT], "question")
    # Without its question mark it is still the question.
    _rejected("星河修护面霜多少钱 [1]。", "星河修护面霜多少钱？", [ZH_PRODUCT], "repeats the customer's question")
    _rejected("How much does express shipping cost [1].", "How much does express shipping cost?", [SHIPPING],
              "question")


def test_customer_statement_echoed_back():
    _rejected("I'm looking for a wool sweater under $100 [1].", "I'm looking for a wool sweater under $100",
              [CHAT], "customer's own message")
    _rejected("refund time [1].", "refund time?", [RETURNS], "customer's own message")


def test_paraphrase_of_the_question():
    _rejected("Express shipping has a cost [1].", "How much does express shipping cost?", [SHIPPING],
              "restates the question")
    _rejected("The return window for final sale items bought online is short [1].",
              "What is the return window for final sale items bought online?", [RETURNS], "paraphrases")


def test_answer_that_is_a_question():
    _rejected("Can I return final sale items [1]?", "What about final sale items?", [RETURNS], "is a question")
    _rejected("Can I return final sale items [1].", "What about final sale items?", [RETURNS], "question")
    _rejected("可以七天无理由退货吗 [1]？", "退货规则是什么？", [ZH_RETURNS], "question")
    # The main sentence is a question; a short statement after it does not make it an answer.
    _rejected("How many days do I have to return an item after delivery [1]? Returns [1].",
              "What is your return policy?", [RETURNS], "main sentence is a question")


def test_repetition():
    _rejected("The Lumen Lamp, the Lumen Lamp, the Lumen Lamp, the Lumen Lamp, the Lumen Lamp [1].",
              "Which lamp do you recommend?", ["Lamps\nThe Lumen Lamp is our brightest desk lamp."], "repeats")
    _rejected("Orders over $75 ship free [1]. Orders over $75 ship free [1].", "Is shipping free?", [SHIPPING],
              "repeats the sentence")
    _rejected("订单满199元包邮，订单满199元包邮，订单满199元包邮 [1]。", "运费怎么算？", [ZH_SHIPPING], "repeats")


@pytest.mark.parametrize("answer", ["**$15** | [1]", "| 30 | [1]", "- 5 [1]", "Express shipping costs **$15 [1]."])
def test_markdown_fragments(answer):
    assert problems(answer, "How much is express shipping?", [SHIPPING])


def test_customer_turn_of_a_past_chat():
    _rejected("I washed my merino sweater in hot water and now it has shrunk a lot [1].",
              "Can I wash merino in hot water?", [CHAT], "customer's side")
    _rejected("Customer: I washed my merino sweater in hot water [1].", "How do I wash merino?", [CHAT],
              "customer's turn")
    zh_chat = "Customer: 我昨天买的蓝牙耳机左耳没有声音，能换一个吗？\nAgent: 签收 15 天内出现质量问题可以直接换新，请在订单页申请售后。"
    _rejected("我昨天买的蓝牙耳机左耳没有声音 [1]。", "耳机坏了怎么办？", [zh_chat], "customer's side")
    assert problems("签收 15 天内出现质量问题可以直接换新 [1]。", "耳机坏了怎么办？", [zh_chat]) == []


@pytest.mark.parametrize("answer, question, passages, condition", [
    ("Free express shipping on every order [1].", "Is express shipping free?", [LOYALTY], "Gold members"),
    ("Members get free express shipping on every order [1].", "Is express shipping free?", [LOYALTY], "Gold"),
    ("Standard shipping is free [1].", "Is shipping free?",
     ["Shipping\nStandard shipping is free on orders over $75."], "over $75"),
    ("Free standard shipping [1].", "Is shipping free?",
     ["Lumen Club\nMembers get free standard shipping."], "Members"),
    ("We also refund the shipping cost [1].", "Do you refund shipping?", [RETURNS], "If the item arrives damaged"),
    ("Final sale items can be exchanged [1].", "Can I exchange final sale items?", [RETURNS], "only"),
    # The row name of a rendered table, and a lead-in carried to a list item.
    ("Shipping $29.95 [1].", "How much is international shipping?", [RATES_TABLE], "Australia"),
    ("Free express shipping [1].", "Is express shipping free?", [LEAD_IN], "Gold members"),
    ("享受免费上门取件服务 [1]。", "上门取件要钱吗？", [ZH_MEMBERS], "金卡会员"),
    ("订单包邮 [1]。", "运费怎么算？", [ZH_SHIPPING], "满199元"),
    ("未拆封的商品参加以旧换新 [1]。", "哪些商品可以以旧换新？", [ZH_RETURNS], "仅限"),
])
def test_dropped_scope(answer, question, passages, condition):
    _grounded(answer, passages)
    reasons = _rejected(answer, question, passages, "without the condition")
    assert any(condition in r for r in reasons), reasons


def test_scope_of_another_clause_is_not_required():
    # "orders over $75" conditions free shipping, not the delivery time in its own sentence.
    passage = "Shipping\nOrders ship within 2 days, and orders over $75 ship free."
    assert problems("Orders ship within 2 days [1].", "When will my order ship?", [passage]) == []
    # An alternative ("or if ...") widens a fact; it is no condition on the first case.
    passage = "Delivery\nRebooking is free if you call a day ahead, or if we caused the delay."
    assert problems("Rebooking is free if you call a day ahead [1].", "Does rebooking cost anything?",
                    [passage]) == []
    # Politeness is not a condition.
    passage = "Receipts\nIf you like, email us a picture of the receipt and we will check it."
    assert problems("Email us a picture of the receipt and we will check it [1].", "Is my lamp still covered?",
                    [passage]) == []


def test_same_fact_stated_without_condition_elsewhere_passes():
    passages = [LOYALTY, "Shipping\nExpress shipping is free on every order this week."]
    assert problems("Express shipping is free on every order [2].", "Is express shipping free?", passages) == []


def test_empty_answer():
    assert problems("  [1] ", "Is shipping free?", [SHIPPING]) == ["empty answer"]


def test_scope_in_unrendered_layouts():
    # Indexes built before tables and lead-ins were rendered hold them raw; grounding.focus
    # also flattens a passage's lines into one.
    table = ("Shipping > Rates\n| Country | Shipping | Free from |\n|---|---|---|\n"
             "| Canada | $19.95 | $150 |\n| Australia | $29.95 | $200 |")
    flat = table.split("\n", 1)[0] + "\n" + " ".join(table.split("\n")[1:])
    lead_in = "Lumen Club > Gold tier\nGold members get:\n- free express shipping;\n- early access to sales."
    for passage in (table, flat):
        assert problems("Shipping to Canada is $19.95 [1].", "How much is shipping to Canada?", [passage]) == []
        _rejected("Shipping is $29.95 [1].", "How much is shipping?", [passage], "Australia")
    assert problems("Gold members get free express shipping [1].", "Is express shipping free?", [lead_in]) == []
    _rejected("Free express shipping [1].", "Is express shipping free?", [lead_in], "Gold members")
