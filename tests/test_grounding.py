"""The grounding check and the extractive fallback on their own."""
from __future__ import annotations

import pytest

from shopqa.answering.grounding import check, extractive, focus, plain, prefer, rank_sentences
from shopqa.ingest.chunking import count_tokens

P = ["Return policy > Window\nYou can return any item within 30 days of delivery. Items must be unused.",
     "Shipping\nEU orders arrive in 7-12 business days. Express takes 3-5 days."]


def test_supported_and_cited_passes():
    result = check("You can return items within 30 days of delivery [1].", P)
    assert result.ok and result.cited == [1] and result.answer.endswith("[1].")


def test_uncited_supported_sentence_is_attributed():
    result = check("EU orders arrive in 7-12 business days.", P)
    assert result.ok and result.cited == [2] and result.answer == "EU orders arrive in 7-12 business days [2]."


def test_wrong_number_fails():
    result = check("You can return items within 60 days [1].", P)
    assert not result.ok and any("'60'" in r for r in result.reasons)


def test_unsupported_sentence_fails_even_if_cited():
    result = check("Returns are free for everyone forever [1].", P)
    assert not result.ok and "not supported" in result.reasons[0]


def test_bad_citation_refusal_and_recital_fail():
    assert "do not exist" in check("You can return any item within 30 days [7].", P).reasons[0]
    assert not check("I'm sorry, I cannot help with that.", P).ok
    assert not check("[1] Return policy > Window", P).ok
    assert not check("Question: how long? Answer: 30 days", P).ok
    assert not check("   ", P).ok


def test_extractive_picks_matching_sentences_in_order():
    picked = extractive("how many business days for EU orders?", P)
    assert picked[0] == (2, "EU orders arrive in 7-12 business days.")


def test_leading_answer_label_is_dropped():
    result = check("Answer: EU orders arrive in 7-12 business days [2].", P)
    assert result.ok and result.answer == "EU orders arrive in 7-12 business days [2]."


def test_extractive_uses_meaning_across_languages():
    passages = ["Returns\nShipping is free over 59 USD. You can return any item within 30 days of delivery."]
    lexical = extractive("退货期限是多少天？", passages, max_sentences=1)
    # A stand-in for the embedder: it knows that the question is about the return window.
    meaning = lambda q, sentences: [1.0 if "return" in s else 0.0 for s in sentences]  # noqa: E731
    picked = extractive("退货期限是多少天？", passages, max_sentences=1, similarity=meaning)
    assert picked == [(1, "You can return any item within 30 days of delivery.")]
    assert lexical != picked


def test_sentence_gate_streams_only_grounded_sentences():
    from shopqa.answering.grounding import SentenceGate

    out: list[str] = []
    gate = SentenceGate(["Refunds take 5-7 business days.", "Support answers Monday to Friday."], out.append)
    for piece in ["Refunds take 5-7 ", "business days [1]. Support", " answers Monday to Friday [2]. ",
                  "Refunds cost 99 dollars. Support answers Monday to Friday [2]."]:
        gate.feed(piece)
    assert "".join(out) == "Refunds take 5-7 business days [1]. Support answers Monday to Friday [2]."
    assert not gate.open


def test_focus_keeps_the_best_sentences_within_budget():
    passages = P + ["Gift cards\nGift cards never expire. They cannot be exchanged for cash. "
                    "They work in every store and online."]
    ranked = rank_sentences("How many days do I have to return an item?", passages)
    out = focus(passages, ranked, budget_tokens=24)
    assert out[0].startswith("Return policy > Window\n") and "within 30 days" in out[0]
    assert out[2] == ""  # nothing about gift cards fits or matters
    assert sum(count_tokens(text) for text in out) <= 24
    # Everything that is shown is a sentence of its passage, in document order.
    whole = focus(passages, ranked, budget_tokens=1000)
    assert whole[2].split("\n", 1)[1] == passages[2].split("\n", 1)[1]
    # The budget is counted by the model's tokenizer when given one: dearer tokens, fewer sentences.
    dear = focus(passages, ranked, budget_tokens=40, count=lambda text: 2 * count_tokens(text))
    assert sum(2 * count_tokens(text) for text in dear) <= 40
    assert sum(map(len, dear)) < sum(map(len, focus(passages, ranked, budget_tokens=40)))
    with pytest.raises(ValueError):
        focus(passages, ranked, 0)


def test_extractive_prefers_published_passages_over_past_chats():
    passages = [
        "Customer: I'm a Bronze member, bought boots 2 months ago, can I still return them?\n"
        "Agent: Bronze members can return within 90 days of purchase, so yes, you are still within the window.",
        "Returns\nBronze members can return items within 90 days of purchase. Silver members have 180 days.",
    ]
    question = "I'm a Bronze member and bought boots 5 months ago. Can I still return them?"
    ranked = rank_sentences(question, passages)
    assert ranked[0][1] == 1  # the chat's conclusion matches the question best...
    picked = extractive(question, passages, ranked=prefer(ranked, {2}))
    assert picked and all(p == 2 for p, _ in picked)  # ...but the article states the rule
    # With nothing close in the published passages, the chat is still used.
    weak = ["Customer: where is the warehouse?\nAgent: Our warehouse was closed from 1 to 7 October for the holiday.",
            "Shipping\nWe ship with DHL."]
    r = rank_sentences("Was the warehouse closed in October?", weak)
    assert prefer(r, {2}) == r
    with pytest.raises(ValueError):
        prefer(r, {2}, ratio=0)


@pytest.mark.parametrize("raw,clean", [
    ("- **Bronze members** can return items within 90 days.", "Bronze members can return items within 90 days."),
    ("1. Start at [our returns page](https://shop.example/returns) with your order number.",
     "Start at our returns page with your order number."),
    ("## Refunds take 5-7 business days.", "Refunds take 5-7 business days."),
    ("Prices are 3 * 2 = 6 USD and 5 * 4 = 20 USD.", "Prices are 3 * 2 = 6 USD and 5 * 4 = 20 USD."),
    ("退货期限为 **30 天**。", "退货期限为 30 天。"),
    ("A: Orders over 75 USD ship free.", "Orders over 75 USD ship free."),
    ("A: 目前我们只发货到美国本土和加拿大。", "目前我们只发货到美国本土和加拿大。"),
])
def test_quoted_sentences_lose_their_markdown(raw, clean):
    assert plain(raw) == clean


def test_extractive_answers_quote_without_markdown():
    passage = "Returns\n- **Bronze members** can return items within 90 days of purchase."
    assert extractive("How long can Bronze members return items?", [passage]) == [
        (1, "Bronze members can return items within 90 days of purchase.")]


def test_labels_stay_with_their_values():
    card = ("Beacon 200 Headlamp (SKU RL-LAMP-200)\nBrand: Ridgeline. Category: lighting.\n"
            "Price: 34.00 USD (in stock).\nCompatible with: RL-FOOT-2P, RL-STAKE-8.")
    sentences = {r[3] for r in rank_sentences("price", [card])}
    assert "Price: 34.00 USD (in stock)." in sentences and "Compatible with: RL-FOOT-2P, RL-STAKE-8." in sentences
    assert "34.00 USD (in stock)." not in sentences and "Price:" not in sentences


def test_a_follow_up_message_leads_the_ranking():
    passages = ["Refunds\nRefunds take 5-7 business days to arrive.",
                "Payments\nPayPal refunds go back to your PayPal balance."]
    query = "How long do refunds take? and for PayPal?"
    assert rank_sentences(query, passages)[0][1] == 1  # the earlier question's words win alone...
    assert rank_sentences(query, passages, message="and for PayPal?")[0][1] == 2  # ...the new ask leads


def test_extractive_quotes_the_sentence_the_answer_runs_on_into():
    passages = ["Shipping\nStandard shipping within the US takes 3-5 business days. We ship to Canada (7-12 "
                "business days). We do not ship to other countries at the moment. Gift wrap costs 4.95 USD."]
    ranked = rank_sentences("Do you ship to China?", passages,
                            similarity=lambda q, sents: [1.0 if "Canada" in s else 0.0 for s in sents])
    picked = [s for _, s in extractive("Do you ship to China?", passages, max_sentences=1, ranked=ranked)]
    assert picked == ["We ship to Canada (7-12 business days).", "We do not ship to other countries at the moment."]
    ranked = rank_sentences("How much is gift wrap?", passages)
    picked = [s for _, s in extractive("How much is gift wrap?", passages, max_sentences=1, ranked=ranked)]
    assert picked == ["Gift wrap costs 4.95 USD."]  # the last sentence: nothing runs on from it


def test_meaning_is_measured_for_the_best_sentences_by_words_only():
    passages = ["Shipping\nWe ship to Canada. Shipping is free over 75 USD. Shipping takes 3-5 days. "
                "Our warehouse is in Denver."]
    asked: list[list[str]] = []

    def similarity(question, sentences):
        asked.append(sentences)
        return [1.0 if "Canada" in s else 0.0 for s in sentences]

    ranked = rank_sentences("Do you ship abroad?", passages, similarity=similarity, meaning_top=2)
    assert len(asked) == 1 and len(asked[0]) == 2 and not any("Denver" in s for s in asked[0])
    assert ranked[0][3] == "We ship to Canada."
    # Without a limit every sentence is measured (across languages, words say nothing).
    asked.clear()
    rank_sentences("Do you ship abroad?", passages, similarity=similarity)
    assert len(asked[0]) == 4


def test_a_sentence_ending_in_a_colon_is_quoted_with_what_follows():
    passages = ["Returns\nThe return window depends on your membership level: Gold members get unlimited time. "
                "Silver members get 6 months."]
    picked = [s for _, s in extractive("What is the return window?", passages, max_sentences=1)]
    assert picked == ["The return window depends on your membership level:", "Gold members get unlimited time."]
