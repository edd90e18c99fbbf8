"""Chunking, tokenising, redaction and BM25 on their own."""
from __future__ import annotations

import pytest

from shopqa.ingest.chunking import chunk_markdown, count_tokens, detect_lang, split_sentences
from shopqa.ingest.keyword import KeywordIndex
from shopqa.ingest.redact import drop_salutation_name, redact
from shopqa.ingest.tokenize import stem, tokenize


def test_chinese_and_english_sentences():
    assert split_sentences("你好。我要退货！可以吗？Yes. Fine!") == ["你好。", "我要退货！", "可以吗？", "Yes.", "Fine!"]


def test_chunks_respect_budget_and_sections():
    body = "# T\n\n## A\n" + "退货政策很简单。" * 60 + "\n\n## B\nShort.\n"
    chunks = chunk_markdown(body, 100)
    assert all(count_tokens(text) <= 110 for _, text in chunks)
    assert chunks[-1] == (["T", "B"], "Short.") and len(chunks) >= 5
    assert "".join(t for h, t in chunks if h == ["T", "A"]) == "退货政策很简单。" * 60


def test_run_on_sentence_is_cut():
    chunks = chunk_markdown("word " * 1000, 100)
    assert len(chunks) >= 9 and all(count_tokens(t) <= 110 for _, t in chunks)


def test_detect_lang():
    assert detect_lang("我的X200什么时候发货") == "zh" and detect_lang("When does my X200 ship?") == "en"


def test_tokens_keep_skus_and_segment_chinese():
    tokens = tokenize("LX-CASE-X200 适用于X300吗? Returns shipping")
    assert "lx-case-x200" in tokens and "x200" in tokens and "x300" in tokens
    assert "适用" in tokens and "return" in tokens and "ship" in tokens
    assert "吗" not in tokens and stem("batteries") == "battery"


@pytest.mark.parametrize("text,expected", [
    ("mail anna.k@example.com now", "mail [EMAIL] now"),
    ("call +86 138 0013 8000 please", "call [PHONE] please"),
    ("call (415) 555-0132", "call [PHONE]"),
    ("手机13800138000", "手机[PHONE]"),
    ("card 4111 1111 1111 1111 ok", "card [CARD] ok"),
    ("order LM-100231 and tracking 1234567890123", "order LM-100231 and tracking 1234567890123"),
])
def test_redaction(text, expected):
    assert redact(text) == expected


def test_bm25_ranks_and_validates():
    idx = KeywordIndex.build([10, 20, 30], [tokenize("refund policy refund"), tokenize("shipping times"),
                                            tokenize("退货 退款 政策")])
    assert [i for i, _ in idx.search("refund")] == [10]
    assert idx.search("退款")[0][0] == 30 and idx.search("nothing matches") == []
    with pytest.raises(ValueError):
        KeywordIndex.build([1], [["a"]], b=2.0)


def test_underlined_titles_are_headings():
    chunks = chunk_markdown("Resetting your password\n=======================\n\nIntro.\n\nSteps\n-----\n\nClick reset.\n", 100)
    assert chunks == [(["Resetting your password"], "Intro."), (["Resetting your password", "Steps"], "Click reset.")]
    assert chunk_markdown("a list\n\n- item\n---\n", 100)[0][1].startswith("a list")


@pytest.mark.parametrize("plural,singular", [("cases", "case"), ("purchases", "purchase"), ("uses", "use"),
                                             ("boxes", "box"), ("watches", "watch"), ("addresses", "address"),
                                             ("phones", "phone"), ("chargers", "charger")])
def test_plurals_meet_their_singular(plural, singular):
    assert stem(plural) == stem(singular)


@pytest.mark.parametrize("text,expected", [
    ("Hi Sophie, unfortunately not: the case only fits the X200.", "Hi, unfortunately not: the case only fits the X200."),
    ("Dear Mr. Chen, your refund is on its way.", "Dear, your refund is on its way."),
    ("Hello Anna! It shipped today.", "Hello! It shipped today."),
    ("王先生您好！订单已发货。", "您好！订单已发货。"),
    ("Hi, the X200 case fits.", "Hi, the X200 case fits."),
    ("Hi there, it ships today.", "Hi there, it ships today."),
    ("Hello again! It shipped.", "Hello again! It shipped."),
])
def test_agent_greetings_lose_the_customer_name(text, expected):
    assert drop_salutation_name(text) == expected
