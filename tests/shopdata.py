"""A tiny, real, bilingual shop written by the tests (and malformed files to go with it)."""
from __future__ import annotations

import json
from pathlib import Path

DOCS = {
    "docs/returns.md": """---
title: Return policy
url: https://tiny.example/help/returns
tags: [returns, refunds]
products: [TP-X200]
lang: en
---
# Return policy

## Return window
You can return any item within 30 days of delivery. Items must be unused and in the original packaging.

## Refunds
Refunds go back to the original payment method within 5-7 business days after we inspect the return.
""",
    "docs/shipping-zh.md": """# 配送说明

## 配送时间
中国大陆订单1-3个工作日送达，满99元包邮。

## 国际配送
欧洲订单7-12个工作日送达。美国和加拿大订单6-10个工作日送达。
""",
    "docs/warranty.html": """<html><head><title>Warranty</title><style>.x{color:red}</style>
<script>var tracking = "should never be indexed";</script></head>
<body><h1>Warranty</h1><p>Accessories carry a 12 month warranty.</p>
<h2>Phones</h2><ul><li>The X200 and X300 phones carry a 24 month warranty.</li></ul></body></html>
""",
    "docs/contact.txt": "Contact us\n\nOur support team answers Monday to Friday, 9:00-18:00 Beijing time.\n",
}

FAQ_CSV = (
    "question,answer,category,tags,lang\n"
    '"How long do refunds take?","Refunds arrive within 5-7 business days after we receive the item.",returns,refund;returns,en\n'
    '"Do you accept PayPal?","Yes, we accept PayPal, Visa and Mastercard.",payment,,en\n'
    '"Can I cancel my order?","Yes, free of charge until the order ships.",orders,,en\n'
)
FAQ_JSONL = [
    {"question": "支持支付宝付款吗？", "answer": "支持，支付宝和微信支付都可以使用。", "category": "payment", "lang": "zh"},
    {"question": "保修期多长？", "answer": "配件保修12个月，手机保修24个月。", "tags": ["warranty"]},
]
CHATS = [
    {"id": "c-1", "resolved": True, "tags": ["compat"], "messages": [
        {"role": "customer", "text": "Does the X200 case fit my X300? Mail me at bob.smith@example.com or +1 415 555 0132"},
        {"role": "agent", "text": "No, the TP-CASE-X200 only fits the X200. For the X300 take TP-CASE-X300."}]},
    {"id": "c-2", "resolved": False, "tags": ["angry"], "messages": [
        {"role": "customer", "text": "THIS IS TERRIBLE, charge my card 4111 1111 1111 1111 back now"},
        {"role": "agent", "text": "I am sorry, let me get a colleague."}]},
    {"id": "c-3", "resolved": True, "messages": [
        {"role": "customer", "text": "我的订单什么时候发货？"},
        {"role": "agent", "text": "北京时间16:00前下单当天发货。"}]},
]
PRODUCTS_CSV = (
    "sku,name,category,brand,price,currency,description,in_stock,compatible_with,accessories,attr_color,attr_wattage\n"
    "TP-X200,Tiny X200 phone,Phones,Tiny,299,USD,A 6.1 inch phone.,true,,TP-CASE-X200;TP-CHG-30,black,\n"
    "TP-X300,Tiny X300 phone,Phones,Tiny,449,USD,A 6.7 inch phone.,true,,TP-CASE-X300;TP-CHG-30,black,\n"
    "TP-CASE-X200,X200 silicone case,Cases,Tiny,19.90,USD,Soft case for the X200.,true,TP-X200,,black,\n"
)
PRODUCTS_JSONL = [
    {"sku": "TP-CASE-X300", "name": "X300 silicone case", "category": "Cases", "brand": "Tiny", "price": 21.9,
     "currency": "USD", "description": "Soft case for the X300.", "in_stock": False,
     "attributes": {"color": "blue"}, "compatible_with": ["TP-X300"], "accessories": []},
    {"sku": "TP-CHG-30", "name": "30W USB-C charger", "category": "Chargers", "brand": "Volt", "price": 24.0,
     "currency": "USD", "description": "Fast charger for both phones.", "in_stock": True,
     "attributes": {"wattage": "30W"}, "compatible_with": ["TP-X200", "TP-X300"]},
]
ORDERS_CSV = (
    "order_id,email,status,placed_at,items,shipped_at,carrier,tracking,address,total\n"
    "T-1001,ann@example.com,shipped,2026-10-01,TP-X300;TP-CASE-X300;TP-CHG-30,2026-10-02,DHL,JD0001,1 Main St,494.90\n"
    "T-1002,bob@example.com,pending,2026-10-05,TP-X300;TP-CHG-30,,,,2 Side St,473.00\n"
    "T-1003,bob@example.com,delivered,2026-09-05,TP-X200;TP-CASE-X200,2026-09-06,SF,SF0002,2 Side St,318.90\n"
)


def write_shop(root: Path) -> Path:
    """Write the tiny shop under ``root`` and return it."""
    files = dict(DOCS)
    files["faqs/general.csv"] = FAQ_CSV
    files["faqs/zh.jsonl"] = "\n".join(json.dumps(r, ensure_ascii=False) for r in FAQ_JSONL) + "\n"
    files["chats/2026.jsonl"] = "\n".join(json.dumps(r, ensure_ascii=False) for r in CHATS) + "\n"
    files["catalog/products.csv"] = PRODUCTS_CSV
    files["catalog/more.jsonl"] = "\n".join(json.dumps(r) for r in PRODUCTS_JSONL) + "\n"
    files["orders/orders.csv"] = ORDERS_CSV
    files["README.md"] = "A tiny test shop.\n"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def do_ingest(shop: Path, index_dir: Path, embedder, **kw):
    """Run an ingest of ``shop`` into ``index_dir`` with the given embedder object."""
    from shopqa.ingest.pipeline import IngestOptions, run

    return run(IngestOptions(shop_dir=shop, index_dir=index_dir, embedder=embedder.id, **kw), embedder=embedder)
