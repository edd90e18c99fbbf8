"""Help-center tables, lead-in lists and scoping headings become sentences that stand alone."""
from __future__ import annotations

from pathlib import Path

from shopqa.ingest.chunking import split_sentences
from shopqa.ingest.facts import chunk_article, render_row
from shopqa.ingest.sources import docs


def _bodies(tmp_path: Path, name: str, text: str) -> list[str]:
    """The chunk texts an article is indexed with, without their title lines."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    records, _ = docs.parse(path, f"docs/{name}", text, 220)
    return [u.text.split("\n", 1)[1] for u in records[0].units]


def _sentences(bodies: list[str]) -> list[str]:
    # As the answerer reads a chunk: lines joined, then split into sentences.
    return [s for body in bodies for s in split_sentences(body.replace("\n", " "))]


SHIPPING_MD = """# International shipping

## Rates

Delivery times are counted from the day your order ships.

| Destination | Delivery time (after shipping) | Shipping |
|-------------|-------------------------------|----------|
| Canada | 5-10 business days | $19.95 |
| **United Kingdom** | 6-12 business days | `$24.95` |

Orders over $200 ship free.
"""


def test_markdown_table_rows_become_sentences_with_their_headers(tmp_path):
    bodies = _bodies(tmp_path, "shipping.md", SHIPPING_MD)
    text = "\n".join(bodies)
    assert "|" not in text
    sentences = _sentences(bodies)
    assert "Canada: Delivery time (after shipping) 5-10 business days; Shipping $19.95." in sentences
    # Inline Markdown in cells is dropped; the text around the table stays as it is.
    assert "United Kingdom: Delivery time (after shipping) 6-12 business days; Shipping $24.95." in sentences
    assert "Rates: Delivery times are counted from the day your order ships." in sentences  # heading label
    assert "Orders over $200 ship free." in sentences


def test_html_table_rows_become_sentences_with_their_headers(tmp_path):
    html = ("<html><head><title>Delivery</title></head><body><h1>Delivery charges</h1>"
            "<h2>By size band</h2><table><thead><tr><th>Size band</th><th>Standard delivery</th>"
            "<th>Two-person delivery</th></tr></thead><tbody>"
            "<tr><td>Small</td><td>£4.95<br>free over £75</td><td>Not needed</td></tr>"
            "<tr><td><strong>Large</strong></td><td>£39</td><td>£65</td></tr></tbody></table>"
            "<p>Prices include VAT.</p></body></html>")
    bodies = _bodies(tmp_path, "delivery.html", html)
    sentences = _sentences(bodies)
    assert "Small: Standard delivery £4.95, free over £75; Two-person delivery Not needed." in sentences
    assert "Large: Standard delivery £39; Two-person delivery £65." in sentences
    assert "Prices include VAT." in sentences
    assert "Small£4.95" not in " ".join(bodies)  # cells are no longer glued together


def test_key_value_and_empty_first_header_tables():
    assert render_row(["Size", "Chest"], ["S", "34-36 in"]) == "S: Chest 34-36 in."
    assert render_row(["Spec", "Value"], ["Weight", "2 kg"]) == "Weight: 2 kg."
    assert render_row(["", "Standard", "Express"], ["Price", "$5", "$15"]) == "Price: Standard $5; Express $15."
    # A bare number names nothing alone; a name too long for a label goes after the first header.
    assert render_row(["US", "EU", "UK"], ["7", "40", "6"]) == "US 7: EU 40; UK 6."
    long_name = "Skin Veil Cushion Refill 15g in 21 Light or 23 Natural"
    assert render_row(["Refill", "Fits"], [long_name, "any case"]) == f"Refill: {long_name}; Fits any case."
    assert render_row(["地区", "运费"], ["广东省内", "8 元"]) == "广东省内：运费 8 元。"


def test_table_rows_stay_one_sentence_each():
    row = "Canada: Delivery time (after shipping) 5-10 business days; Shipping $19.95."
    assert split_sentences(f"{row} {row}") == [row, row]
    zh = "新疆、西藏、青海：预计送达 5-7 天；运费 每单 15 元，不参与满额包邮。"
    assert split_sentences(zh + zh) == [zh, zh]
    # A long clause before a colon is no label: it still ends its sentence.
    assert split_sentences("The return window depends on your membership level: Gold members get more.") == [
        "The return window depends on your membership level:", "Gold members get more."]


def test_list_items_carry_their_lead_in(tmp_path):
    text = ("# Rewards\n\n## Tiers\n\nSpend $500 in a year and you become Gold. Gold members get:\n\n"
            "- free standard shipping;\n- 1.5 points per $1, and\n- early access to sales\n")
    bodies = _bodies(tmp_path, "rewards.md", text)
    sentences = _sentences(bodies)
    assert "Gold members get: free standard shipping." in sentences
    assert "Gold members get: 1.5 points per $1." in sentences
    assert "Gold members get: early access to sales." in sentences
    assert "Tiers: Spend $500 in a year and you become Gold." in sentences  # the heading labels it
    assert "Gold members get:" not in sentences and "- free standard shipping;" not in "\n".join(bodies)


def test_chinese_list_items_carry_their_lead_in(tmp_path):
    text = ("# 会员权益\n\n## 等级\n\n金卡会员享受：\n- 标准配送免运费；\n- 专属客服；\n- 生日礼券。\n\n"
            "普通会员按 1 倍累积积分。\n")
    sentences = _sentences(_bodies(tmp_path, "members.zh.md", text))
    assert "金卡会员享受：标准配送免运费。" in sentences
    assert "金卡会员享受：专属客服。" in sentences and "金卡会员享受：生日礼券。" in sentences
    assert "普通会员按 1 倍累积积分。" in sentences


def test_long_lead_ins_are_carried_only_when_they_stay_in_the_sentence():
    text = ("## Returns\n\nTo be accepted for a change-of-mind return, an item must be:\n\n"
            "- unused;\n- in its original packaging.\n")
    sentences = _sentences([t for _, t in chunk_article(text, 220)])
    assert "To be accepted for a change-of-mind return, an item must be — unused." in sentences
    # Items with labels of their own after a long lead-in: carrying it would split it off again.
    text = ("## Cancelling\n\nSofas are made to order, so different rules apply to them:\n\n"
            "- Within 7 days: cancel free of charge.\n- From day 8: a 25% charge applies.\n")
    chunk = chunk_article(text, 220)[0][1]
    assert "- Within 7 days: cancel free of charge." in chunk and chunk.count("different rules") == 1


def test_lists_without_lead_in_and_code_are_left_alone():
    text = ("## Tips\n\nKeep it dry.\n\n- Do not swim with it.\n- Never use a hair dryer.\n\n"
            "```\n| a | b |\n|---|---|\n```\n")
    chunk = chunk_article(text, 220)[0][1]
    assert "- Do not swim with it.\n- Never use a hair dryer." in chunk and "| a | b |\n|---|---|" in chunk


def test_a_short_section_under_a_short_heading_labels_its_first_sentence():
    text = ("# Shipping\n\nWe ship worldwide.\n\n## Gold members\n\nStandard shipping is free. Express costs $9.\n\n"
            "## Refunds\n\nRefunds take 5 days.\n\n## Is my order insured?\n\nYes, every parcel is insured.\n")
    chunks = dict((tuple(h), t) for h, t in chunk_article(text, 220))
    assert chunks[("Shipping",)] == "We ship worldwide."  # the article's title scopes nothing
    assert chunks[("Shipping", "Gold members")] == "Gold members: Standard shipping is free. Express costs $9."
    assert split_sentences(chunks[("Shipping", "Gold members")])[0] == "Gold members: Standard shipping is free."
    assert chunks[("Shipping", "Refunds")] == "Refunds take 5 days."  # the sentence says it already
    assert chunks[("Shipping", "Is my order insured?")] == "Yes, every parcel is insured."  # a question
    long_section = "## Gold members\n\n" + "Standard shipping is free for you. " * 30
    assert not chunk_article(long_section, 500)[0][1].startswith("Gold members:")


def test_a_chinese_heading_labels_with_a_full_width_colon():
    chunk = chunk_article("# 配送\n\n## 偏远地区\n\n每单加收 15 元运费。\n", 220)[0][1]
    assert chunk == "偏远地区：每单加收 15 元运费。"


def test_an_extractive_answer_quotes_the_whole_row():
    from shopqa.answering.grounding import extractive

    passages = ["International shipping > Rates\n" + chunk_article(SHIPPING_MD, 220)[0][1]]
    picked = [s for _, s in extractive("How much is shipping to Canada?", passages, max_sentences=1)]
    assert picked[0] == "Canada: Delivery time (after shipping) 5-10 business days; Shipping $19.95."
