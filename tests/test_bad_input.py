"""Malformed input is reported as path:line: problem and skipped; the rest is ingested."""
from __future__ import annotations

import json

import pytest

from shopqa.ingest.pipeline import StrictFailure
from shopqa.ingest.scan import scan
from shopdata import do_ingest


def _problems(shop, **kw):
    result = scan(shop, max_bytes=kw.get("max_bytes", 20_000_000), chunk_tokens=220)
    return [str(p) for p in result.problems], result


def test_bad_csv_rows_and_missing_fields(shop_copy):
    with open(shop_copy / "faqs/general.csv", "a", encoding="utf-8") as fh:
        fh.write('too,many,fields,here,x,y\n,"an answer without question",,,\n"Open quote,answer\n')
    problems, result = _problems(shop_copy)
    assert any(p.startswith("faqs/general.csv:5: row has 6 fields") for p in problems)
    assert any(p.startswith("faqs/general.csv:6: missing required field(s) question") for p in problems)
    # The good rows are still there.
    assert sum(1 for r in result.records if r.source == "faqs/general.csv") == 3


def test_invalid_json_line_and_wrong_types(shop_copy):
    with open(shop_copy / "catalog/more.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"sku": "BROKEN", \n')
        fh.write(json.dumps({"sku": "P-1", "name": "n", "category": "c", "brand": "b", "price": "cheap",
                             "currency": "USD", "description": "d"}) + "\n")
        fh.write("[1, 2]\n")
    problems, _ = _problems(shop_copy)
    assert any(p.startswith("catalog/more.jsonl:3: invalid JSON") for p in problems)
    assert any(p.startswith("catalog/more.jsonl:4: price 'cheap'") for p in problems)
    assert any(p.startswith("catalog/more.jsonl:5: each line must be a JSON object") for p in problems)


@pytest.mark.parametrize("name,content,expected", [
    ("docs/empty.md", b"", "empty file"),
    ("docs/blank.md", b"  \n\n ", "only white space"),
    ("docs/latin1.txt", "caf\u00e9 menu\n".encode("latin-1"), "not UTF-8 text (byte 0xe9"),
    ("docs/image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
    ("docs/manual.pdf", b"%PDF-1.4", "unknown extension '.pdf'"),
    ("random/thing.md", b"# hi", "unknown folder 'random'"),
    ("notes.txt", b"hello", "file outside the known folders"),
])
def test_unreadable_files_are_reported(shop_copy, name, content, expected):
    path = shop_copy / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    problems, _ = _problems(shop_copy)
    assert any(p.startswith(name) and expected in p for p in problems), problems


def test_utf8_bom_and_utf16_are_read(shop_copy):
    (shop_copy / "docs/bom.md").write_bytes("\ufeff# BOM article\n\nText with a BOM.".encode("utf-8"))
    (shop_copy / "docs/utf16.txt").write_text("UTF-16 article about 退货.", encoding="utf-16")
    problems, result = _problems(shop_copy)
    assert problems == []
    titles = {r.data.get("title") for r in result.records if r.type == "doc"}
    assert {"BOM article", "utf16"} <= titles


def test_oversized_file(shop_copy):
    (shop_copy / "docs/big.txt").write_text("word " * 5000)
    problems, _ = _problems(shop_copy, max_bytes=10_000)
    assert any(p.startswith("docs/big.txt: file is") and "over the" in p and "SHOPQA_MAX_FILE_MB" in p
               for p in problems)


def test_duplicates_and_unknown_references(shop_copy):
    with open(shop_copy / "catalog/products.csv", "a", encoding="utf-8") as fh:
        fh.write("TP-X200,Dup phone,Phones,Tiny,1,USD,dup,true,NOPE-1,,,\n")
    with open(shop_copy / "orders/orders.csv", "a", encoding="utf-8") as fh:
        fh.write("T-1004,cy@example.com,shipped,2026-10-09,TP-X200;GHOST,,,,,1\n")
        fh.write("T-1005,cy@example.com,teleported,2026-10-09,TP-X200,,,,,1\n")
        fh.write("T-1006,cy@example.com,pending,yesterday,TP-X200,,,,,1\n")
    problems, result = _problems(shop_copy)
    assert any(p.startswith("catalog/products.csv:5: duplicate product 'TP-X200' (first at catalog/products.csv:2)")
               for p in problems)
    assert any(p.startswith("orders/orders.csv:5: unknown SKU(s) GHOST in items; link dropped") for p in problems)
    assert any(p.startswith("orders/orders.csv:6: status 'teleported'") for p in problems)
    assert any(p.startswith("orders/orders.csv:7: 'yesterday' is not an ISO date") for p in problems)
    order = next(r for r in result.records if r.key == "order:T-1004")
    assert order.data["items"] == ["TP-X200"]


def test_bad_front_matter_and_bad_chat(shop_copy):
    (shop_copy / "docs/bad.md").write_text("---\ntitle: [unclosed\n---\n# Hi\n\ntext\n")
    with open(shop_copy / "chats/2026.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "c-9", "messages": [{"role": "robot", "text": "hi"}]}) + "\n")
        fh.write(json.dumps({"messages": []}) + "\n")
    problems, _ = _problems(shop_copy)
    assert any(p.startswith("docs/bad.md:") and "invalid YAML front matter" in p for p in problems)
    assert any(p.startswith("chats/2026.jsonl:4: message 1 needs 'role'") for p in problems)
    assert any(p.startswith("chats/2026.jsonl:5: a conversation needs an 'id'") for p in problems)


def test_bad_records_are_skipped_and_the_rest_ingested(shop_copy, tmp_path, hash_embedder):
    (shop_copy / "faqs/broken.jsonl").write_text('{"question": "ok?", "answer": "yes"}\n{nope}\n')
    report = do_ingest(shop_copy, tmp_path / "idx", hash_embedder)
    assert report.swapped and report.records["faq"] == 6
    assert [str(p) for p in report.problems] == ["faqs/broken.jsonl:2: invalid JSON (Expecting property name "
                                                 "enclosed in double quotes at column 2); skipped"]
    assert report.skipped_records == 1


def test_strict_fails_before_touching_the_old_index(shop_copy, tmp_path, hash_embedder):
    index_dir = tmp_path / "idx"
    do_ingest(shop_copy, index_dir, hash_embedder)
    before = (index_dir / "manifest.json").read_bytes()
    (shop_copy / "faqs/general.csv").write_text("question,answer\nnew question,new answer\n,broken\n")
    with pytest.raises(StrictFailure) as info:
        do_ingest(shop_copy, index_dir, hash_embedder, strict=True)
    assert [str(p) for p in info.value.problems][0].startswith("faqs/general.csv:3: missing required field")
    assert (index_dir / "manifest.json").read_bytes() == before
    assert not list(index_dir.glob(".tmp-*"))
