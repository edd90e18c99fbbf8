"""Every input format parses into the records, units and data the contract promises."""
from __future__ import annotations

import json

from shopqa.ingest.scan import scan

LIMIT = 20_000_000


def _records(shop):
    result = scan(shop, max_bytes=LIMIT, chunk_tokens=220)
    return {r.key: r for r in result.records}, result


def test_markdown_front_matter_and_chunks(tiny_shop):
    records, _ = _records(tiny_shop)
    doc = records["doc:docs/returns.md"]
    assert doc.data["title"] == "Return policy"
    assert doc.data["url"] == "https://tiny.example/help/returns"
    assert doc.data["products"] == ["TP-X200"] and doc.data["tags"] == ["returns", "refunds"]
    assert [u.meta["headings"] for u in doc.units] == [["Return window"], ["Refunds"]]
    assert doc.units[0].text.startswith("Return policy > Return window\n")
    assert [u.position for u in doc.units] == [0, 1]


def test_title_defaults_to_heading_then_file_name(tiny_shop):
    records, _ = _records(tiny_shop)
    assert records["doc:docs/shipping-zh.md"].data["title"] == "配送说明"
    assert records["doc:docs/shipping-zh.md"].data["lang"] == "zh"
    # A plain-text article's short first line, set off by a blank line, is its title...
    contact = records["doc:docs/contact.txt"]
    assert contact.data["title"] == "Contact us"
    assert contact.units[0].text.split("\n", 1)[1].startswith("Our support team")  # ...not its first words


def test_txt_without_a_title_line_falls_back_to_the_file_name(tmp_path):
    from shopqa.ingest.sources import docs
    path = tmp_path / "shipping-info.txt"
    text = "We ship within 2 days.\n\nExpress is available.\n"
    path.write_text(text)
    records, _ = docs.parse(path, "docs/shipping-info.txt", text, 220)
    assert records[0].data["title"] == "shipping info"
    assert "We ship within 2 days." in records[0].units[0].text


def test_html_keeps_text_and_drops_script_and_style(tiny_shop):
    records, _ = _records(tiny_shop)
    html = records["doc:docs/warranty.html"]
    text = " ".join(u.text for u in html.units)
    assert html.data["title"] == "Warranty"
    assert "24 month warranty" in text and "12 month" in text
    assert "should never be indexed" not in text and "color:red" not in text


def test_faqs_from_csv_and_jsonl(tiny_shop):
    records, _ = _records(tiny_shop)
    faqs = [r for r in records.values() if r.type == "faq"]
    assert len(faqs) == 5
    paypal = next(r for r in faqs if r.data["question"] == "Do you accept PayPal?")
    assert paypal.units[0].meta["category"] == "payment"
    zh = next(r for r in faqs if r.data["question"] == "保修期多长？")
    assert zh.units[0].lang == "zh" and zh.units[0].meta["tags"] == ["warranty"]


def test_chats_redacted_and_only_resolved_yield_pairs(tiny_shop):
    records, _ = _records(tiny_shop)
    c1, c2 = records["chat:chats/2026.jsonl#c-1"], records["chat:chats/2026.jsonl#c-2"]
    assert len(c1.units) == 1 and c2.units == []
    everything = json.dumps([c1.data, c2.data, [u.text for u in c1.units]])
    assert "bob.smith@example.com" not in everything and "555 0132" not in everything
    assert "4111 1111 1111 1111" not in everything
    assert "[EMAIL]" in everything and "[PHONE]" in everything and "[CARD]" in everything
    assert "TP-CASE-X200 only fits the X200" in c1.units[0].text


def test_catalog_csv_attr_columns_and_jsonl_attributes(tiny_shop):
    records, _ = _records(tiny_shop)
    x200 = records["product:TP-X200"].data
    assert x200["price"] == 299.0 and x200["in_stock"] is True
    assert x200["accessories"] == ["TP-CASE-X200", "TP-CHG-30"] and x200["attributes"] == {"color": "black"}
    case = records["product:TP-CASE-X300"]
    assert case.data["in_stock"] is False and case.data["attributes"] == {"color": "blue"}
    assert "Price: 21.90 USD (out of stock)" in case.units[0].text


def test_orders_are_records_without_units(tiny_shop):
    records, _ = _records(tiny_shop)
    order = records["order:T-1001"]
    assert order.units == [] and order.data["items"] == ["TP-X300", "TP-CASE-X300", "TP-CHG-30"]
    assert order.data["email"] == "ann@example.com" and order.data["total"] == 494.90


def test_clean_shop_has_no_problems(tiny_shop):
    _, result = _records(tiny_shop)
    assert result.problems == []


INTENTS_CSV = "text,intent\nwhere is my parcel,order_status\nbuy me a jetpack,teleport\n,complaint\n"
INTENTS_JSONL = '{"text": "我要发票", "intent": "payment_invoice"}\n{"text": "hi", "intent": ""}\n'


def test_intents_folder_is_checked_not_indexed(shop_copy):
    (shop_copy / "intents").mkdir()
    (shop_copy / "intents/extra.csv").write_text(INTENTS_CSV, encoding="utf-8")
    (shop_copy / "intents/zh.jsonl").write_text(INTENTS_JSONL, encoding="utf-8")
    (shop_copy / "intents/old").mkdir()
    (shop_copy / "intents/old/more.csv").write_text("text,intent\nhello,greeting_chitchat\n", encoding="utf-8")
    records, result = _records(shop_copy)
    problems = [str(p) for p in result.problems]
    assert not any("unknown folder" in p for p in problems), problems
    assert problems[0].startswith("intents/old/more.csv: only files directly in intents/ are read")
    assert problems[1].startswith("intents/extra.csv:3: unknown intent 'teleport'; use one of: account,")
    assert problems[2].startswith("intents/extra.csv:4: missing 'text'")
    assert problems[3].startswith("intents/zh.jsonl:2: missing 'intent'")
    assert len(problems) == 4 and not any(r.source.startswith("intents/") for r in records.values())


def test_ingest_and_service_agree_on_intent_files(shop_copy):
    from shopqa.routing.intents import EXTENSIONS, shop_examples
    from shopqa.ingest.scan import PARSERS

    assert PARSERS["intents"].EXTENSIONS == EXTENSIONS
    (shop_copy / "intents").mkdir()
    (shop_copy / "intents/extra.csv").write_text(INTENTS_CSV, encoding="utf-8")
    (shop_copy / "intents/empty.csv").write_text("", encoding="utf-8")
    (shop_copy / "intents/.extra.csv.swp.csv").write_text("garbage", encoding="utf-8")  # hidden: neither reads it
    served: list = []
    examples = shop_examples(shop_copy, served)
    assert [(e.text, e.intent) for e in examples if e.source.startswith("intents/")] == [
        ("where is my parcel", "order_status")]
    _, result = _records(shop_copy)
    assert [(p.path, p.line) for p in result.problems] == [(p.path, p.line) for p in served] == [
        ("intents/empty.csv", None), ("intents/extra.csv", 3), ("intents/extra.csv", 4)]
