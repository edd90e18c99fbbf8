"""Two replicas behind nginx on Postgres, Redis and the LLM server (scripts/cluster.sh), end to end.

The cluster is started once for this module with a small shop and stopped at the end; every
test talks HTTP to the replicas or to nginx, as a shop's customers and staff would.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engines import need_binary
from shopdata import write_shop
from shopqa.storage.engine import postgres_url

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
EXTRA_ORDERS = "".join(f"T-{n},cy{n}@example.com,pending,2026-10-{n - 2000:02d},TP-X300,,,,{n} Hill Rd,449.00\n"
                       for n in range(2001, 2009))


def _env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    need_binary("redis-server"), need_binary("nginx")
    shop = write_shop(tmp_path_factory.mktemp("cluster") / "shop")
    with open(shop / "orders" / "orders.csv", "a", encoding="utf-8") as fh:
        fh.write(EXTRA_ORDERS)
    up = subprocess.run(["bash", "scripts/cluster.sh", "up", str(shop)], cwd=ROOT, capture_output=True, text=True,
                        timeout=900)
    if up.returncode != 0:
        subprocess.run(["bash", "scripts/cluster.sh", "down"], cwd=ROOT, capture_output=True)
        pytest.fail(f"cluster.sh up failed:\n{up.stderr[-4000:]}")
    env = _env(ROOT / "var" / "cluster.env")
    env["replicas"] = env["REPLICA_URLS"].split(",")
    env["shop"] = shop
    try:
        yield env
    finally:
        down = subprocess.run(["bash", "scripts/cluster.sh", "down"], cwd=ROOT, capture_output=True, text=True)
        assert down.returncode == 0, down.stderr
        assert not (ROOT / "var" / "cluster.env").exists()


def call(url: str, body: dict | None = None, headers: dict | None = None, timeout: float = 120):
    """(status, JSON) of a GET or a JSON POST."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def chat(base: str, message: str, session: str, **headers) -> dict:
    status, reply = call(base + "/api/chat", {"message": message, "session_id": session}, headers)
    assert status == 200, (status, reply)
    return reply


def database(cluster):
    return create_engine(postgres_url(cluster["SHOPQA_DATABASE_URL"]))


def test_readyz_names_the_shared_backends(cluster):
    for base in cluster["replicas"] + [cluster["FRONT_URL"]]:
        status, ready = call(base + "/readyz")
        assert status == 200
        assert ready["backends"] == {"index": "pgvector", "state": "postgres", "llm": "remote", "limits": "redis"}
        assert ready["generation"] == "shopqa_gen_000001"
    # The replicas read the index from Postgres: their index folders were never made.
    assert not list((ROOT / "var" / "cluster").glob("replica-*/indexes"))


def test_order_verification_started_on_one_replica_finishes_on_the_other(cluster):
    one, two = cluster["replicas"]
    assert chat(one, "I want to cancel my order T-1002", "alt-1")["order_step"] == "ask_email"
    assert chat(two, "bob@example.com", "alt-1")["order_step"] == "confirm_cancel"
    done = chat(one, "yes", "alt-1")
    assert done["order_step"] == "cancelled" and done["order_action"] == "cancel"
    with database(cluster).connect() as conn:
        assert conn.execute(text("SELECT status FROM orders WHERE order_id = 'T-1002'")).scalar() == "cancelled"


def test_a_handoff_on_one_replica_is_listed_by_the_other(cluster):
    one, two = cluster["replicas"]
    reply = chat(one, "I want to talk to a human agent please", "handoff-1")
    assert reply["handoff"] and reply["handoff"]["ticket"]
    status, listed = call(two + "/api/staff/handoffs", headers={"Authorization": f"Bearer {cluster['STAFF_TOKEN']}"})
    assert status == 200
    assert any(t["session_id"] == "handoff-1" for t in listed["handoffs"])


def test_the_rate_limit_is_shared_by_the_replicas(cluster):
    one, two = cluster["replicas"]
    limit = int(cluster["RATE_LIMIT_PER_MINUTE"])
    assert limit <= 60
    client = {"X-Forwarded-For": "203.0.113.77"}  # one client, whichever replica it reaches
    statuses = [call((one, two)[i % 2] + "/api/chat", {"message": "Do you accept PayPal?"}, client)[0]
                for i in range(limit + 1)]
    assert statuses[:limit] == [200] * limit and statuses[limit] == 429


def test_answers_stream_through_nginx(cluster):
    req = urllib.request.Request(cluster["FRONT_URL"] + "/api/chat", method="POST",
                                 data=json.dumps({"message": "What are your support team's opening hours?"}).encode(),
                                 headers={"Content-Type": "application/json", "Accept": "text/event-stream"})
    with urllib.request.urlopen(req, timeout=300) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        body = resp.read().decode()
    blocks = [b for b in body.split("\n\n") if b.strip()]
    assert blocks[-1].startswith("event: done")
    done = json.loads(blocks[-1].split("data: ", 1)[1])
    assert "9:00-18:00" in done["answer"] and done["sources"]


def test_concurrent_duplicate_order_actions_apply_once(cluster):
    """Two sessions verified for one order say "yes" to its cancellation at the same moment, one on
    each replica: the order is cancelled once and the action log holds one cancellation."""
    one, two = cluster["replicas"]
    for session in ("dup-a", "dup-b"):
        chat(one, "please cancel order T-2001", session)
        assert chat(two, "cy2001@example.com", session)["order_step"] == "confirm_cancel"
    replies: dict[str, dict] = {}
    start = threading.Barrier(2)

    def confirm(base, session):
        start.wait()
        replies[session] = chat(base, "yes", session)

    threads = [threading.Thread(target=confirm, args=(one, "dup-a")), threading.Thread(target=confirm, args=(two, "dup-b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    steps = sorted(r["order_step"] for r in replies.values())
    # Both customers hear the truth: cancelled (a duplicate that raced is collapsed onto the first),
    # or already cancelled when the other one had finished first.
    assert steps[0] == "cancelled" and steps[1] in ("cancelled", "cannot_cancel"), steps
    with database(cluster).connect() as conn:
        applied = conn.execute(text("SELECT count(*) FROM order_actions WHERE order_id = 'T-2001' "
                                    "AND action = 'cancel' AND ok = 1")).scalar()
    assert applied == 1


def test_a_new_generation_goes_live_while_requests_succeed(cluster):
    shop = Path(cluster["shop"])
    with open(shop / "faqs" / "general.csv", "a", encoding="utf-8") as fh:
        fh.write('"How long is the warranty on refurbished phones?","Refurbished phones carry a 7-month warranty.",warranty,,en\n')
    failures, done = [], threading.Event()

    def keep_asking():
        while not done.is_set():
            status, _ = call(cluster["FRONT_URL"] + "/api/chat", {"message": "Do you accept PayPal?"},
                             {"X-Forwarded-For": "203.0.113.90"})
            if status != 200:
                failures.append(status)
            time.sleep(0.2)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        env = {**os.environ, "SHOPQA_INDEX_DIR": cluster["INDEX_DIR"],
               "SHOPQA_DATABASE_URL": cluster["SHOPQA_DATABASE_URL"]}
        ingest = subprocess.run([str(ROOT / ".venv" / "bin" / "shopqa"), "ingest", str(shop), "--quiet"], env=env,
                                capture_output=True, text=True, timeout=600)
        assert ingest.returncode == 0, ingest.stderr
        assert "Postgres: shopqa_gen_000002 is live" in ingest.stdout
        for base in cluster["replicas"]:
            # Each replica notices the new live generation in Postgres and builds it in the
            # background, answering from the old one meanwhile; then it swaps.
            deadline = time.time() + 240
            while call(base + "/readyz")[1]["generation"] != "shopqa_gen_000002":
                assert time.time() < deadline, "the replica never switched to the new generation"
                time.sleep(1)
            reply = chat(base, "How long is the warranty on refurbished phones?", f"gen-{base[-5:]}",
                         **{"X-Forwarded-For": "203.0.113.91"})
            assert "7-month" in reply["answer"], reply
    finally:
        done.set()
        asker.join(60)
    assert failures == []


def test_killing_a_replica_mid_conversation_loses_nothing(cluster):
    one, two = cluster["replicas"]
    assert chat(two, "I want to cancel my order T-2002", "kill-1")["order_step"] == "ask_email"
    assert chat(two, "cy2002@example.com", "kill-1")["order_step"] == "confirm_cancel"
    pid = int((ROOT / "var" / "cluster" / "pids" / "replica-2.pid").read_text())
    subprocess.run(["pkill", "-KILL", "-P", str(pid)], check=False)  # its workers, then the master:
    os.kill(pid, signal.SIGKILL)  # no clean shutdown at all
    done = chat(one, "yes", "kill-1")
    assert done["order_step"] == "cancelled"
    status, transcript = call(one + "/api/staff/conversations/kill-1",
                              headers={"Authorization": f"Bearer {cluster['STAFF_TOKEN']}"})
    assert status == 200 and len([m for m in transcript["messages"] if m["role"] == "customer"]) == 3
    # nginx keeps serving through the replica that is left.
    assert all(call(cluster["FRONT_URL"] + "/healthz")[0] == 200 for _ in range(4))
