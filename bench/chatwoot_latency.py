"""Chatwoot agent bot latency: from the webhook POST to the reply arriving at a fake Chatwoot.

Starts the real server (`shopqa serve`, the real embedder and routing models, LLM off: curated
answers never need it) on an index of the sample shop, points its agent bot at a fake Chatwoot
API on loopback (the one tests/test_chatwoot.py uses), and posts the shop's FAQ questions as
Chatwoot ``message_created`` webhooks one after another, each in a new pending conversation.
Prints p50/p95 of webhook -> reply (target from issue 17: p50 < 200 ms) and of the webhook's
own acknowledgement.

    python bench/chatwoot_latency.py                    # ./indexes (the sample shop), N = 40
    python bench/chatwoot_latency.py --n 100 --index-dir /path/to/index
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

TOKEN = "bench-hook-token"


def faqs(index_dir: Path, limit: int = 80) -> list[tuple[str, str]]:
    """(question, curated answer) pairs of the index's FAQs."""
    generation = json.loads((index_dir / "manifest.json").read_text())["generation"]
    conn = sqlite3.connect(index_dir / generation / "store.sqlite")
    rows = conn.execute("SELECT json_extract(meta, '$.question'), json_extract(meta, '$.answer') FROM units "
                        "WHERE type = 'faq' ORDER BY id LIMIT ?", (limit,)).fetchall()
    return [(q, a) for q, a in rows if q and a]


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def post(url: str, event: dict) -> int:
    req = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        resp.read()
        return resp.status


def reply_to(fake, conversation_id: int, timeout: float = 120) -> dict:
    """The first public message the fake Chatwoot received in one conversation."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in list(fake.calls):
            if call["path"].endswith(f"/conversations/{conversation_id}/messages") and not call["body"]["private"]:
                return call
        time.sleep(0.002)
    raise RuntimeError(f"no reply in conversation {conversation_id}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", default=str(REPO / "indexes"))
    parser.add_argument("--n", type=int, default=40, help="timed webhooks (after 5 warm-up ones)")
    args = parser.parse_args()

    from realserver import RealServer
    from test_chatwoot import FakeChatwoot, message_event

    pairs = faqs(Path(args.index_dir))
    fake = FakeChatwoot()
    var = Path(tempfile.mkdtemp(prefix="shopqa-chatwoot-bench-"))
    env = {"SHOPQA_INDEX_DIR": args.index_dir, "SHOPQA_DATA_DIR": str(var), "SHOPQA_LLM_ENABLED": "false",
           "SHOPQA_CHATWOOT_URL": fake.url, "SHOPQA_CHATWOOT_BOT_TOKEN": "bench-bot-token",
           "SHOPQA_CHATWOOT_WEBHOOK_TOKEN": TOKEN}
    try:
        with RealServer(env, var / "server.log") as srv:
            hook = f"{srv.base}/integrations/chatwoot/webhook?token={TOKEN}"
            total, acks, curated = [], [], []
            for i in range(args.n + 5):
                question, answer = pairs[i % len(pairs)]
                start = time.perf_counter()
                status = post(hook, message_event(1000 + i, question, conversation_id=1000 + i))
                acked = time.perf_counter()
                call = reply_to(fake, 1000 + i)
                assert status == 202, status
                if i < 5:
                    continue  # warm-up: first requests load lazily built parts
                total.append((call["at"] - start) * 1000)
                acks.append((acked - start) * 1000)
                if call["body"]["content"].startswith(answer):
                    curated.append(total[-1])
    finally:
        fake.stop()
    print(f"machine: {os.cpu_count()} cores | {time.strftime('%Y-%m-%d')} | index {args.index_dir} | LLM off")
    print(f"webhook -> reply at Chatwoot  n={len(total)}  p50 {statistics.median(total):6.1f} ms  "
          f"p95 {percentile(total, 95):6.1f} ms  max {max(total):6.1f} ms  (target p50 < 200 ms)")
    print(f"webhook acknowledged (202)    n={len(acks)}  p50 {statistics.median(acks):6.1f} ms  "
          f"p95 {percentile(acks, 95):6.1f} ms")
    print(f"replies that are the curated FAQ answer: {len(curated)}/{len(total)}, their webhook -> reply "
          f"p50 {statistics.median(curated):6.1f} ms  p95 {percentile(curated, 95):6.1f} ms" if curated else
          "no reply was a curated FAQ answer")


if __name__ == "__main__":
    main()
