"""Catalogue answers and product search from the catalogue alone (issue 14): product
resolution, attribute answers in both languages, lists, comparison, search with constraints,
refinement and the question back when a name fits two products.

The catalogue below is an outdoor shop written for these tests, not any dev shop.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopqa.catalogue.answers import CatalogueAnswers
from shopqa.catalogue.catalogue import Catalogue, label
from shopqa.catalogue.units import number, quantities, value_quantity
from shopqa.catalogue.products import ProductMatcher
from shopqa.text.prompts import Prompts
from shopqa.ingest.graph import build
from shopqa.ingest.sources import catalog

ROWS = [
    {"sku": "TR-TENT2", "name": "Trailhead 2 Tent", "category": "tents", "price": 289, "in_stock": True,
     "attributes": {"weight_kg": 1.6, "sleeps": 2}, "accessories": ["TR-FOOT2"]},
    {"sku": "TR-FOOT2", "name": "Trailhead 2 Tent Footprint", "category": "tent accessories", "price": 39,
     "in_stock": True, "attributes": {"weight_g": 210}, "compatible_with": ["TR-TENT2"]},
    {"sku": "TR-TENT3", "name": "Trailhead 3 Tent", "category": "tents", "price": 349, "in_stock": True,
     "attributes": {"weight_kg": 2.3, "sleeps": 3}},
    {"sku": "KY-POT-300", "name": "Kyusu Teapot 300 ml", "category": "teaware", "price": 45, "in_stock": True,
     "attributes": {"material": "Tokoname clay"}},
    {"sku": "KY-POT-500", "name": "Kyusu Teapot 500 ml", "category": "teaware", "price": 55, "in_stock": True,
     "attributes": {"material": "Tokoname clay"}},
    {"sku": "EM-LITE", "name": "Ember Lite Stove", "category": "stoves", "price": 59, "in_stock": True,
     "attributes": {"weight_g": 85, "output_w": 2600},
     "description": "Boils a litre of water in three minutes on any camping trip."},
    {"sku": "EM-MAX", "name": "Ember Max Stove", "category": "stoves", "price": 89, "in_stock": False,
     "attributes": {"weight_g": 210, "output_w": 3500}},
    {"sku": "GL-BOT", "name": "Glacier Bottle 1.5 L / 冰川水瓶 1.5升", "category": "bottles", "price": 25,
     "in_stock": False, "attributes": {"capacity": "1.5 L", "made_in": "Norway"}},
    {"sku": "SD-RUN", "name": "Stride Running Earbuds / 跑步耳机", "category": "earbuds", "price": 129,
     "in_stock": True, "attributes": {"battery_life": "8 h", "waterproof": "IPX5"}, "accessories": ["SD-TIP"]},
    {"sku": "SD-PRO", "name": "Stride Pro Earbuds / 降噪耳机", "category": "earbuds", "price": 259,
     "in_stock": True, "attributes": {"battery_life": "10 h", "waterproof": "IPX4"}},
    {"sku": "NB-BAG5", "name": "Nimbus 5 Sleeping Bag", "category": "sleeping bags", "price": 149, "in_stock": True,
     "attributes": {"comfort_temperature": "-5°C"}},
    {"sku": "NB-BAG12", "name": "Nimbus 12 Sleeping Bag", "category": "sleeping bags", "price": 219, "in_stock": True,
     "attributes": {"comfort_temperature": "-12°C"}},
    {"sku": "SD-TIP", "name": "Stride Foam Ear Tips / 耳塞套", "category": "earbud accessories", "price": 15,
     "in_stock": True, "compatible_with": ["SD-RUN"]},
]


@pytest.fixture(scope="module")
def shop():
    lines = []
    for row in ROWS:
        lines.append(json.dumps({"brand": "Trail", "currency": "USD", "description": row.get("description", f"The {row['name']}."),
                                 "compatible_with": [], "accessories": [], **row}, ensure_ascii=False))
    records, problems = catalog.parse(Path("catalog/products.jsonl"), "catalog/products.jsonl",
                                      "\n".join(lines) + "\n", 200)
    assert not problems
    graph = build(records)
    matcher = ProductMatcher(graph)
    cat = Catalogue(graph, matcher.tokens)
    return CatalogueAnswers(graph, cat, matcher, Prompts())


def ask(shop, text, lang="en"):
    reply = shop.answer(text, shop.matcher.find(text), lang)
    assert reply is not None, text
    return reply


def test_units_read_values_and_questions():
    assert [(q.dimension, q.base) for q in quantities("under 2 kg")] == [("mass", 2000)]
    assert [(q.dimension, q.base) for q in quantities("想买个两万毫安的充电宝")] == [("charge", 20000)]
    assert [(q.dimension, q.base) for q in quantities("1.2 L and 800 ml")] == [("volume", 1200), ("volume", 800)]
    # a sign only where it is one: "10-20㎡" is a range ending in 20, not minus 20
    assert quantities("rated to -10°C")[0].value == -10 and quantities("10-20㎡")[0].value == 20
    assert value_quantity("210", "width_cm").base == 2100 and value_quantity("USB-C×2", "ports") is None
    assert number("1,500") == 1500 and number("五百") == 500 and number("两万") == 20000 and number("abc") is None
    assert label("weight_kg") == "weight" and label("fill_power") == "fill power"


def test_category_word_decides_between_look_alike_names(shop):
    # "tent" names the tent; the footprint's name contains the tent's, plus a word not asked for.
    reply = ask(shop, "How much is the Trailhead 2 tent?")
    assert reply.kind == "price_stock" and reply.skus == ["TR-TENT2"] and "289.00" in reply.text


def test_attribute_answers_with_value_and_unit_in_both_languages(shop):
    reply = ask(shop, "How heavy is the Ember Max stove?")
    assert reply.kind == "attribute" and "210 g" in reply.text and "EM-MAX" in reply.text
    zh = ask(shop, "冰川水瓶能装多少水？", "zh")
    assert zh.kind == "attribute" and "1.5 L" in zh.text and "GL-BOT" in zh.text
    assert "Norway" in ask(shop, "Where is the Glacier Bottle made?").text


def test_attribute_question_with_another_ask_is_left_to_the_help_center(shop):
    text = "How heavy is the Ember Max stove and can I take it on a plane with a gas canister?"
    assert shop.answer(text, shop.matcher.find(text), "en") is None


def test_a_name_two_products_share_gets_a_question_back(shop):
    reply = ask(shop, "How much is the Kyusu teapot?")
    assert reply.kind == "clarify" and set(reply.skus) == {"KY-POT-300", "KY-POT-500"}
    # ...unless the fact asked is the same for both.
    same = ask(shop, "What is the Kyusu teapot made of?")
    assert same.kind == "attribute" and "Tokoname clay" in same.text and "KY-POT-500" in same.text


def test_list_of_what_fits_a_product(shop):
    reply = ask(shop, "What accessories go with the Stride Running Earbuds?")
    assert reply.kind == "list" and reply.skus == ["SD-RUN", "SD-TIP"] and "15.00 USD" in reply.text
    tent = ask(shop, "Which footprint fits the Trailhead 2 tent?")
    assert tent.kind == "list" and "TR-FOOT2" in tent.skus


def test_comparison_side_by_side(shop):
    reply = ask(shop, "What's the difference between the Ember Lite stove and the Ember Max stove?")
    assert reply.kind == "compare" and reply.skus == ["EM-LITE", "EM-MAX"]
    assert "85 g" in reply.text and "210 g" in reply.text and "currently out of stock" in reply.text


def test_search_with_a_quantity_limit_in_another_unit(shop):
    reply = ask(shop, "I'm looking for a tent under 2 kg")
    assert reply.kind == "search" and reply.skus == ["TR-TENT2"] and "1.6 kg" in reply.text


def test_search_in_chinese_with_a_price_limit(shop):
    reply = ask(shop, "有没有150元以内的耳机？", "zh")
    assert reply.kind == "search" and reply.skus == ["SD-RUN"]  # not the ear tips, not the 259 pair


def test_superlative_and_nothing_matching(shop):
    assert ask(shop, "Which is the lightest stove you sell?").skus[0] == "EM-LITE"
    none = ask(shop, "Do you have a tent under $100?")
    assert none.kind == "search" and none.skus == [] and "$100" in none.text


def test_not_a_product_search(shop):
    for text in ("What's a women's US 8 in EU shoe size?", "Is there a discount on tents over $300?",
                 "How long does shipping take for a tent?"):
        found = shop.matcher.find(text)
        reply = shop.answer(text, found, "en")
        assert reply is None or reply.kind != "search", text


def test_a_refinement_turn_narrows_what_was_shown(shop):
    shown = ask(shop, "I need earbuds under $300")
    assert shown.kind == "search" and set(shown.skus) == {"SD-RUN", "SD-PRO"}
    previous = [shop.matcher.find("Stride Pro Earbuds")[0]]  # as the conversation remembers them
    cheaper = shop.answer("有没有便宜点的？", previous, "zh", from_history=True)
    assert cheaper.kind == "search" and cheaper.skus == ["SD-RUN"]
    none = shop.answer("any cheaper ones?", [shop.matcher.find("Stride Running Earbuds")[0]], "en", from_history=True)
    assert none.kind == "search" and none.skus == []


def test_an_attribute_word_in_a_question_about_a_service_is_not_an_attribute_answer(shop):
    for text in ("How long is delivery for the Glacier Bottle?", "How much is shipping for the Ember Max stove?"):
        reply = shop.answer(text, shop.matcher.find(text), "en")
        assert reply is None, (text, reply)


def test_follow_ups_about_what_was_shown(shop):
    tent = shop.matcher.find("Trailhead 2 Tent")[:1]
    # An attribute of the one product shown is answered as such, not searched again.
    heavy = shop.answer("how heavy is it?", tent, "en", from_history=True)
    assert heavy.kind == "attribute" and "1.6" in heavy.text
    shown = ask(shop, "I want a stove under $100")
    assert set(shown.skus) == {"EM-LITE", "EM-MAX"}
    lighter = shop.answer("any lighter?", [shop.matcher.find("Ember Max Stove")[0]], "en", from_history=True)
    assert lighter.kind == "search" and lighter.skus == ["EM-LITE"] and "85 g" in lighter.text


def test_an_attribute_the_catalogue_does_not_give_is_named_as_missing(shop):
    text = "Where is the Trailhead 2 Tent made?"
    assert shop.answer(text, shop.matcher.find(text), "en") is None  # not answered from the catalogue...
    assert shop.unlisted(text, shop.matcher.find(text)) == ("TR-TENT2", "origin")  # ...and known to be missing
    listed = "Where is the Glacier Bottle made?"
    assert shop.unlisted(listed, shop.matcher.find(listed)) is None and "Norway" in ask(shop, listed).text
    assert shop.unlisted("Where is the Trailhead 2 Tent made and how fast do you ship it?",
                         shop.matcher.find("Trailhead 2 Tent")) is None


def test_the_other_size_of_a_product_just_named(shop):
    named = shop.matcher.find("How much is the Kyusu Teapot 300 ml?")
    assert [m.sku for m in named] == ["KY-POT-300"]
    other = shop.answer("and the 500 ml one?", named, "en", from_history=True)
    assert other.kind == "search" and other.skus[0] == "KY-POT-500" and "55.00" in other.text


def test_a_product_described_instead_of_named(shop):
    reply = ask(shop, "I need something to boil water on a camping trip")
    assert reply.kind == "search" and reply.skus == ["EM-LITE"]
    # A help-center request that happens to share a word is not a product search.
    text = "I need to change the address on my order"
    reply = shop.answer(text, shop.matcher.find(text), "en")
    assert reply is None or reply.kind != "search"


def test_a_sleeping_bag_rated_to_a_temperature(shop):
    reply = ask(shop, "I'm looking for a sleeping bag rated to -10°C")
    assert reply.kind == "search" and reply.skus == ["NB-BAG12"] and "-12°C" in reply.text
