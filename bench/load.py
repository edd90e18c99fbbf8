"""Load benchmark: N concurrent clients for S seconds against the real server (`shopqa serve`).

Two phases, each printed with requests/s, latency p50/p95 and status counts:
  curated   - the shop's FAQ questions (no LLM): throughput and p95
  generated - open questions that need the LLM: how the bounded LLM queue behaves (p95 of
              the answered ones, the answer paths: a full queue answers extractively, path
              extractive_busy, instead of a 503)
Any 5xx other than the documented 503 is a failure and is counted separately.

    python bench/load.py                                  # starts a server on ./indexes
    python bench/load.py --url http://127.0.0.1:8080      # an already running server
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

OPEN = ["How long does standard shipping to Germany take?", "What does the warranty on the X300 cover?",
        "How do I make a warranty claim for broken earbuds?", "Can I pay with a bank transfer?",
        "退货运费谁来承担？", "国际快递需要几天？", "Is the leather case waterproof?", "How do I reset my password?"]


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


def phase(url: str, questions: list[str], clients: int, seconds: float) -> dict:
    stop = time.monotonic() + seconds
    lat, status, paths = [], Counter(), Counter()
    lock = threading.Lock()

    def worker(n: int):
        i = n
        while time.monotonic() < stop:
            body = json.dumps({"message": questions[i % len(questions)]}).encode()
            i += clients
            req = urllib.request.Request(url + "/api/chat", data=body, headers={"Content-Type": "application/json",
                                                                                "X-Forwarded-For": f"10.0.0.{n}"})
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(req, timeout=300) as resp:
                    path = json.loads(resp.read()).get("path", "?")
                    code = resp.status
            except urllib.error.HTTPError as exc:
                code = exc.code
                if code == 503:
                    time.sleep(min(5, int(exc.headers.get("Retry-After", "1"))))  # a polite client
            except OSError:
                code = 0
            with lock:
                status[code] += 1
                if code == 200:
                    lat.append((time.perf_counter() - t0) * 1000)
                    paths[path] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    total = sum(status.values())
    return {"requests": total, "ok_per_s": status[200] / wall, "p50_ms": pct(lat, 0.5), "p95_ms": pct(lat, 0.95),
            "status": dict(status), "paths": dict(paths), "rate_503": status[503] / total if total else 0.0,
            "other_5xx": sum(v for k, v in status.items() if k >= 500 and k != 503) + status[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server; default: start one on --index-dir")
    parser.add_argument("--index-dir", default=str(REPO / "indexes"))
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()

    server = None
    url = args.url
    if not url:
        from realserver import RealServer

        var = Path(tempfile.mkdtemp(prefix="shopqa-load-"))
        # A rate limit far above the load, so the numbers show the server, not the limiter.
        server = RealServer({"SHOPQA_INDEX_DIR": args.index_dir, "SHOPQA_DATA_DIR": str(var),
                             "SHOPQA_RATE_LIMIT_PER_MINUTE": "100000", "SHOPQA_TRUST_PROXY": "true"}, var / "server.log")
        server.wait_ready()
        url = server.base
    try:
        conn = sqlite3.connect(Path(args.index_dir) / json.loads((Path(args.index_dir) / "manifest.json").read_text())[
            "generation"] / "store.sqlite")
        faqs = [r[0] for r in conn.execute(
            "SELECT json_extract(meta, '$.question') FROM units WHERE type = 'faq' ORDER BY id LIMIT 40")]
        print(f"machine: {os.cpu_count()} cores | {args.clients} clients x {args.seconds:.0f} s | {url} | "
              f"{time.strftime('%Y-%m-%d')}")
        for name, questions in (("curated", faqs), ("generated", OPEN)):
            r = phase(url, questions, args.clients, args.seconds)
            print(f"{name:<10} {r['requests']:>5} requests  {r['ok_per_s']:6.1f} ok/s  p50 {r['p50_ms']:7.0f} ms  "
                  f"p95 {r['p95_ms']:7.0f} ms  503 rate {r['rate_503']:.1%}  other 5xx/errors {r['other_5xx']}  "
                  f"status {r['status']}  paths {r['paths']}", flush=True)
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    main()
