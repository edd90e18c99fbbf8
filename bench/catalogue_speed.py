"""Catalogue speed: product resolution, catalogue answers and product search on a generated
catalogue (default 10,000 products, English and bilingual names), without the LLM or retrieval.

Prints the one-off build time per index generation (matcher, catalogue, search index) and, per
kind of question, p50/p95 latency over several rounds. Targets (issue 14): catalogue answers
p50 < 100 ms, product search p50 < 150 ms on 10,000 products.

    python bench/catalogue_speed.py
    python bench/catalogue_speed.py --products 2000 --rounds 5
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shopqa.catalogue.answers import CatalogueAnswers  # noqa: E402
from shopqa.catalogue.catalogue import Catalogue  # noqa: E402
from shopqa.catalogue.products import ProductMatcher  # noqa: E402
from shopqa.text.prompts import Prompts  # noqa: E402
from shopqa.ingest.graph import build  # noqa: E402
from shopqa.ingest.sources import catalog  # noqa: E402

# (category, Chinese name, head noun, attribute generator) for the generated catalogue.
KINDS = [
    ("tents", "帐篷", "Tent", lambda r: {"weight_kg": round(r.uniform(0.9, 4.5), 1), "sleeps": r.randint(1, 4)}),
    ("stoves", "炉子", "Stove", lambda r: {"weight_g": r.randint(60, 900), "output_w": r.randint(1500, 4000)}),
    ("earbuds", "耳机", "Earbuds", lambda r: {"battery_life": f"{r.randint(4, 12)} h", "waterproof": "IPX4"}),
    ("power banks", "充电宝", "Power Bank", lambda r: {"capacity": f"{r.choice([5000, 10000, 20000, 30000])}mAh"}),
    ("bottles", "水瓶", "Bottle", lambda r: {"capacity": f"{r.choice([500, 750, 1000, 1500])} ml"}),
    ("sofas", "沙发", "Sofa", lambda r: {"width_cm": r.randint(150, 260), "material": r.choice(["velvet", "linen"])}),
    ("jackets", "夹克", "Jacket", lambda r: {"material": r.choice(["down", "nylon", "wool"]), "sizes": "S, M, L"}),
    ("serums", "精华", "Serum", lambda r: {"volume_ml": r.choice([15, 30, 50]), "fragrance_free": r.random() < .5}),
]
WORDS = ("Alder Birch Cedar Dune Ember Fjord Glen Harbor Iris Juniper Kestrel Larch Moss Nordic Orca Pine Quill "
         "Ridge Summit Tundra Umber Vale Willow Yarrow Zephyr").split()


def generate(n: int, seed: int = 7) -> list[dict]:
    """``n`` products over the KINDS, with accessories linking some to others."""
    r = random.Random(seed)
    rows = []
    for i in range(n):
        category, zh, head, attrs = KINDS[i % len(KINDS)]
        line = f"{r.choice(WORDS)} {r.choice(WORDS)} {i}"
        name = f"{line} {head}" if i % 3 else f"{line} {head} / {zh} {i}"
        rows.append({"sku": f"G-{i:05d}", "name": name, "category": category, "brand": r.choice(WORDS),
                     "price": round(r.uniform(9, 900), 2), "currency": "USD", "in_stock": r.random() < .8,
                     "description": f"A {head.lower()} for every day.", "attributes": attrs(r),
                     "compatible_with": [], "accessories": []})
    for i in range(0, n - 8, 8):  # every eighth product gets the next two of another kind as accessories
        rows[i]["accessories"] = [rows[i + 1]["sku"], rows[i + 2]["sku"]]
    return rows


def questions(rows: list[dict], r: random.Random) -> dict[str, list[str]]:
    """Questions by kind, naming generated products."""
    picks = r.sample(rows, 12)
    name = lambda p: p["name"].split(" / ")[0]  # noqa: E731
    return {
        "price (named product)": [f"How much is the {name(p)}?" for p in picks[:4]],
        "attribute (named product)": [f"What is the material of the {name(p)}?" if "material" in p["attributes"]
                                      else f"How heavy is the {name(p)}?" for p in picks[4:8]],
        "list (accessories)": [f"What accessories go with the {name(rows[i])}?" for i in (0, 8, 16, 24)],
        "search (limits)": ["I'm looking for a tent under 2 kg", "有没有100元以内的耳机", "a velvet sofa under $500",
                            "想买个两万毫安的充电宝，200块以内"],
        "search (superlative)": ["the lightest stove you have", "续航最长的耳机是哪款？", "cheapest serum",
                                 "which is the biggest bottle"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--products", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    rows = generate(args.products)
    text = "\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n"
    t0 = time.perf_counter()
    records, problems = catalog.parse(Path("products.jsonl"), "products.jsonl", text, 200)
    graph = build(records)
    t1 = time.perf_counter()
    matcher = ProductMatcher(graph)
    t2 = time.perf_counter()
    answers = CatalogueAnswers(graph, Catalogue(graph, matcher.tokens), matcher, Prompts())
    t3 = time.perf_counter()
    print(f"{len(rows)} products ({len(problems)} problems): graph {t1 - t0:.1f} s, matcher {t2 - t1:.1f} s, "
          f"catalogue + search index {t3 - t2:.1f} s (once per index generation)")
    asked = questions(rows, random.Random(11))
    answers.answer("warm-up 预热", matcher.find("warm-up 预热"), "en")
    print(f"{'kind':28} {'p50 ms':>8} {'p95 ms':>8}  answered")
    for kind, texts in asked.items():
        times, answered = [], 0
        for _ in range(args.rounds):
            for q in texts:
                lang = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in q) else "en"
                start = time.perf_counter()
                reply = answers.answer(q, matcher.find(q), lang)
                times.append((time.perf_counter() - start) * 1000)
                answered += reply is not None
        times.sort()
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        print(f"{kind:28} {statistics.median(times):8.1f} {p95:8.1f}  {answered // args.rounds}/{len(texts)}")


if __name__ == "__main__":
    main()
