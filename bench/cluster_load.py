"""Two replicas behind nginx (scripts/cluster.sh) beside one replica on SQLite/FAISS, same box.

Prints, for 16 clients asking the shop's curated FAQ questions for S seconds each:
  single    one `shopqa serve` on SQLite and FAISS (the default deployment)
  cluster   nginx -> two replicas on Postgres (index and state), Redis and the LLM server
  kill      the cluster again, with replica 2 killed (SIGKILL) a third of the way in
with requests/s, p50/p95 and status counts. On a 2-core box expect no speed-up: the point is
that nothing breaks (no 5xx), and that a killed replica costs only the requests it was serving.

    python bench/cluster_load.py [--shop examples/sample-shop] [--seconds 30] [--clients 16]
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from load import phase  # noqa: E402


def faq_questions(index_dir: Path) -> list[str]:
    """The curated questions of the live generation (the same set bench/load.py asks)."""
    import json
    import sqlite3

    generation = json.loads((index_dir / "manifest.json").read_text())["generation"]
    conn = sqlite3.connect(index_dir / generation / "store.sqlite")
    return [r[0] for r in conn.execute(
        "SELECT json_extract(meta, '$.question') FROM units WHERE type = 'faq' ORDER BY id LIMIT 40")]


def kill_replica(pid: int) -> None:
    """SIGKILL a replica's gunicorn master and its workers at once: no clean shutdown at all."""
    subprocess.run(["pkill", "-KILL", "-P", str(pid)], check=False)
    os.kill(pid, signal.SIGKILL)


def show(name: str, r: dict) -> None:
    print(f"{name:<8} {r['requests']:>5} requests  {r['ok_per_s']:6.1f} ok/s  p50 {r['p50_ms']:6.0f} ms  "
          f"p95 {r['p95_ms']:6.0f} ms  5xx/errors {r['other_5xx'] + r['status'].get(503, 0)}  status {r['status']}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shop", default=str(REPO / "examples" / "sample-shop"))
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    from realserver import RealServer

    # A per-client limit far above the load (each bench client has its own address), so the
    # numbers show the service, not the limiter; the cluster tests check the limit itself.
    env = {**os.environ, "CLUSTER_RATE_LIMIT": "100000"}
    up = subprocess.run(["bash", "scripts/cluster.sh", "up", args.shop], cwd=REPO, env=env, text=True,
                        capture_output=True)
    if up.returncode:
        sys.exit(up.stderr)
    try:
        cluster = dict(line.split("=", 1) for line in (REPO / "var" / "cluster.env").read_text().splitlines())
        index_dir = Path(cluster["INDEX_DIR"])
        questions = faq_questions(index_dir)
        print(f"machine: {os.cpu_count()} cores | {args.clients} clients x {args.seconds:.0f} s | curated questions "
              f"({len(questions)}) | {time.strftime('%Y-%m-%d')}", flush=True)
        var = Path(tempfile.mkdtemp(prefix="shopqa-single-"))
        with RealServer({"SHOPQA_INDEX_DIR": str(index_dir), "SHOPQA_DATA_DIR": str(var),
                         "SHOPQA_RATE_LIMIT_PER_MINUTE": "100000", "SHOPQA_TRUST_PROXY": "true"},
                        var / "server.log") as single:
            show("single", phase(single.base, questions, args.clients, args.seconds))
        show("cluster", phase(cluster["FRONT_URL"], questions, args.clients, args.seconds))
        pid = int((REPO / "var" / "cluster" / "pids" / "replica-2.pid").read_text())
        killer = threading.Timer(args.seconds / 3, kill_replica, args=(pid,))
        killer.start()
        show("kill", phase(cluster["FRONT_URL"], questions, args.clients, args.seconds))
        killer.join()
    finally:
        subprocess.run(["bash", "scripts/cluster.sh", "down"], cwd=REPO, capture_output=True)


if __name__ == "__main__":
    main()
