"""The Chatwoot agent bot end to end against a fake Chatwoot API on loopback.

The webhook payloads are shaped like Chatwoot's own: ``Message#webhook_data`` merged with
``event`` (chatwoot/chatwoot app/models/message.rb; app/listeners/agent_bot_listener.rb sends it
to Agent Bots), senders as ``{"id", "name", "type": "contact" | "user" | "agent_bot"}``
(Contact/User/AgentBot#webhook_data), the conversation's push data with its display ``id`` and
``status``. The fake answers the two calls the bot makes, as documented at
developers.chatwoot.com/api-reference: ``POST /api/v1/accounts/{account_id}/conversations/
{conversation_id}/messages`` (``content``, ``message_type``, ``private``; header
``api_access_token``) and ``POST .../conversations/{conversation_id}/toggle_status``
(``{"status": "open"}``); see also chatwoot.com/hc/user-guide "How to use webhooks?".
"""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shopqa import create_app
from shopqa.integrations.chatwoot_outbox import ChatwootStore
from shopqa.resources import Resources
from shopqa.settings import Settings
from shopqa.web.auth import token_digest

HOOK_TOKEN = "hook-secret-1"
BOT_TOKEN = "bot-access-token"
STAFF = "staff-token-cw"
STAFF_AUTH = {"Authorization": f"Bearer {STAFF}"}


class FakeChatwoot:
    """A real HTTP server answering Chatwoot's message and toggle_status calls; records each call.

    ``fail_with`` set to a status makes every call fail with it (Chatwoot down) until reset."""

    def __init__(self, port: int = 0):
        self.calls: list[dict] = []
        self.fail_with: int | None = None
        self.failures = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with fake._lock:
                    if fake.fail_with:
                        fake.failures += 1
                        status, out = fake.fail_with, {"error": "down"}
                    else:
                        fake.calls.append({"path": self.path, "token": self.headers.get("api_access_token"),
                                           "body": body, "at": time.perf_counter()})
                        status, out = 200, {"id": len(fake.calls), **body}
                data = json.dumps(out).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict]:
        """The calls once there are at least ``count`` of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.calls) >= count:
                    return list(self.calls)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} calls to the fake Chatwoot, got {self.calls}")


def message_event(message_id: int, content: str, conversation_id: int | None = None, status: str = "pending",
                  message_type: str = "incoming", private: bool = False, sender_type: str = "contact",
                  account_id: int = 3) -> dict:
    """A ``message_created`` event as Chatwoot sends it to an Agent Bot (by default in a
    conversation of its own: the tests share one conversation store)."""
    conversation_id = message_id if conversation_id is None else conversation_id
    sender = {"id": 41, "name": "Ann Buyer", "type": sender_type}
    if sender_type == "contact":
        sender.update(avatar="", account={"id": account_id, "name": "Tiny Shop"})
    return {
        "event": "message_created", "id": message_id, "content": content, "created_at": "2026-11-30T05:00:00.000Z",
        "message_type": message_type, "content_type": "text", "content_attributes": {}, "private": private,
        "source_id": None, "additional_attributes": {}, "sender": sender,
        "inbox": {"id": 2, "name": "Website"}, "account": {"id": account_id, "name": "Tiny Shop"},
        "conversation": {"id": conversation_id, "inbox_id": 2, "status": status, "channel": "Channel::WebWidget",
                         "can_reply": True, "additional_attributes": {}, "labels": [], "unread_count": 1,
                         "contact_inbox": {"id": 11, "contact_id": 41, "inbox_id": 2, "source_id": "abc"},
                         "meta": {"sender": sender, "assignee": None}, "messages": [],
                         "timestamp": 1764478800, "created_at": 1764478790},
    }


def wait_until(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def fake():
    server = FakeChatwoot()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shared_res(tiny_index, hash_embedder, tmp_path_factory):
    """One warmed-up pipeline for the module (warming up takes seconds); each test's app keeps
    its Chatwoot tables in a data_dir of its own."""
    res = Resources(Settings(index_dir=tiny_index, data_dir=tmp_path_factory.mktemp("cw-shared"),
                             embedder=hash_embedder.id, llm_enabled=False), embedder=hash_embedder)
    res.warm_up(llm=False)
    return res


@pytest.fixture
def make_app(tiny_index, hash_embedder, tmp_path, shared_res):
    apps = []

    def build(chatwoot_url: str, **overrides):
        settings = Settings(**{**dict(index_dir=tiny_index, data_dir=tmp_path / "var", embedder=hash_embedder.id,
                                      llm_enabled=False, staff_tokens=[token_digest(STAFF)],
                                      chatwoot_url=chatwoot_url, chatwoot_bot_token=BOT_TOKEN,
                                      chatwoot_webhook_token=HOOK_TOKEN, chatwoot_timeout=2.0), **overrides})
        res = shared_res
        if overrides.get("abstain_threshold") is not None:
            res = Resources(settings, embedder=hash_embedder)
            res.warm_up(llm=False)
        app = create_app(settings, resources=res)
        worker = app.extensions["shopqa_chatwoot"].worker() if chatwoot_url else None
        if worker is not None:
            worker.sweep_seconds = 0.2  # the tests should not wait the production 5 s for a retry
            worker.client.backoff = 0.01
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["shopqa_chatwoot"].close()


def hook(client, event: dict, token: str | None = HOOK_TOKEN):
    return client.post("/integrations/chatwoot/webhook" + (f"?token={token}" if token else ""), json=event)


def test_an_ordinary_question_is_answered_in_the_conversation(fake, make_app):
    app = make_app(fake.url)
    client = app.test_client()
    resp = hook(client, message_event(101, "Do you accept PayPal?"))
    assert resp.status_code == 202 and resp.json == {"accepted": True, "session_id": "chatwoot-3-101"}
    [call] = fake.wait_for(1)
    assert call["path"] == "/api/v1/accounts/3/conversations/101/messages" and call["token"] == BOT_TOKEN
    assert call["body"] == {"content": "Yes, we accept PayPal, Visa and Mastercard.", "message_type": "outgoing",
                            "private": False}
    # The conversation is shopqa's too: the console shows it under the Chatwoot conversation's session.
    messages = client.get("/api/staff/conversations/chatwoot-3-101", headers=STAFF_AUTH).json["messages"]
    assert [m["role"] for m in messages] == ["customer", "assistant"] and messages[0]["text"] == "Do you accept PayPal?"
    wait_until(lambda: client.get("/api/staff/chatwoot/outbox?status=sent", headers=STAFF_AUTH).json["items"])
    assert client.get("/api/staff/chatwoot/outbox", headers=STAFF_AUTH).json["items"] == []


def test_a_reply_with_web_sources_links_them(fake, make_app):
    app = make_app(fake.url, abstain_threshold=-1.0)  # the hash embedder is unsure; quote the passage anyway
    hook(app.test_client(), message_event(102, "How long is the return window?"))
    [call] = fake.wait_for(1)
    assert "30 days" in call["body"]["content"]
    assert call["body"]["content"].endswith("Source: https://tiny.example/help/returns")


def test_a_handoff_leaves_a_private_note_then_opens_the_conversation(fake, make_app):
    app = make_app(fake.url)
    assert hook(app.test_client(), message_event(103, "I want to talk to a human agent please")).status_code == 202
    note, reply, toggle = fake.wait_for(3)
    assert note["path"] == reply["path"] == "/api/v1/accounts/3/conversations/103/messages"
    assert note["body"]["private"] is True and note["body"]["message_type"] == "outgoing"
    text = note["body"]["content"]
    assert "ticket T-" in text and "Reason: customer_asked" in text and "Intent: human_agent" in text
    assert "Sentiment: " in text and 'Summary: customer_asked; intent human_agent: "I want to talk' in text
    assert reply["body"]["private"] is False and "ticket T-" in reply["body"]["content"]
    assert toggle["path"] == "/api/v1/accounts/3/conversations/103/toggle_status"
    assert toggle["body"] == {"status": "open"}
    assert note["at"] < reply["at"] < toggle["at"]
    # An agent resolves it in Chatwoot: shopqa's ticket closes, so the bot answers there again.
    resolved = {"event": "conversation_resolved", "id": 103, "status": "resolved", "account": {"id": 3}}
    assert hook(app.test_client(), resolved).json["session_id"] == "chatwoot-3-103"
    assert app.extensions["shopqa"].tickets().open_for("chatwoot-3-103") is None


def test_a_repeated_delivery_gets_one_reply(fake, make_app):
    app = make_app(fake.url)
    client = app.test_client()
    event = message_event(104, "Do you accept PayPal?")
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(hook(app.test_client(), event))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results) == [200, 200, 200, 202]
    assert all(r.json["ignored"].startswith("duplicate delivery") for r in results if r.status_code == 200)
    fake.wait_for(1)
    assert hook(client, event).json == {"ignored": "duplicate delivery of message 104"}
    time.sleep(0.5)  # long enough for a second reply to arrive, were one sent
    assert len(fake.calls) == 1


@pytest.mark.parametrize("token,header", [(None, None), ("wrong", None), (None, "wrong"), (HOOK_TOKEN + "x", None)])
def test_a_bad_or_missing_token_gets_401(fake, make_app, token, header):
    app = make_app(fake.url)
    client = app.test_client()
    resp = client.post("/integrations/chatwoot/webhook" + (f"?token={token}" if token else ""),
                       json=message_event(105, "Do you accept PayPal?"),
                       headers={"X-Shopqa-Token": header} if header else {})
    assert resp.status_code == 401 and resp.json["error"] == "unauthorized" and "token" in resp.json["message"]
    assert client.get("/api/staff/chatwoot/outbox?status=all", headers=STAFF_AUTH).json["waiting"] == []


def test_the_header_token_is_accepted(fake, make_app):
    app = make_app(fake.url)
    resp = app.test_client().post("/integrations/chatwoot/webhook", json=message_event(106, "Do you accept PayPal?"),
                                  headers={"X-Shopqa-Token": HOOK_TOKEN})
    assert resp.status_code == 202 and fake.wait_for(1)


@pytest.mark.parametrize("event,reason", [
    (message_event(107, "Thanks!", message_type="outgoing", sender_type="user"), "outgoing message"),
    (message_event(108, "customer is a VIP", private=True, message_type="outgoing", sender_type="user"),
     "private note"),
    (message_event(109, "Yes, we accept PayPal.", message_type="outgoing", sender_type="agent_bot"),
     "the bot's own message"),
    (message_event(110, "Do you accept PayPal?", status="open"), "conversation is open, not pending"),
    (message_event(111, "Do you accept PayPal?", status="resolved"), "conversation is resolved, not pending"),
    ({**message_event(112, "hi"), "event": "message_updated"}, "event 'message_updated' is not answered"),
    (message_event(113, "   "), "no text"),
])
def test_events_that_are_not_for_the_bot_are_ignored(fake, make_app, event, reason):
    app = make_app(fake.url)
    resp = hook(app.test_client(), event)
    assert resp.status_code == 200 and resp.json == {"ignored": reason}
    time.sleep(0.3)
    assert fake.calls == []


def test_not_configured_and_bad_payloads_say_what_to_do(fake, make_app):
    off = make_app("", chatwoot_bot_token="", chatwoot_webhook_token="").test_client()
    resp = hook(off, message_event(114, "hi"))
    assert resp.status_code == 503 and resp.json["error"] == "chatwoot_not_configured"
    assert "SHOPQA_CHATWOOT_URL" in resp.json["message"] and "SHOPQA_CHATWOOT_WEBHOOK_TOKEN" in resp.json["message"]
    client = make_app(fake.url).test_client()
    bad = hook(client, {**message_event(115, "hi"), "conversation": "7"})
    assert bad.status_code == 400 and bad.json["error"] == "bad_payload"
    assert client.post(f"/integrations/chatwoot/webhook?token={HOOK_TOKEN}", data=b"nope",
                       content_type="application/json").json["error"] == "bad_json"
    assert client.get("/api/staff/chatwoot/outbox").status_code == 401


def test_chatwoot_down_the_reply_waits_in_the_outbox_and_arrives(fake, make_app):
    app = make_app(fake.url)
    client = app.test_client()
    fake.fail_with = 500
    assert hook(client, message_event(116, "Do you accept PayPal?")).status_code == 202

    def listed():
        items = client.get("/api/staff/chatwoot/outbox", headers=STAFF_AUTH).json["items"]
        return items if items and items[0]["attempts"] >= 1 else None

    [item] = wait_until(listed)
    assert item["status"] == "pending" and "HTTP 500" in item["last_error"] and item["kind"] == "message"
    assert item["body"]["content"] == "Yes, we accept PayPal, Visa and Mastercard." and fake.failures >= 3
    fake.fail_with = None  # Chatwoot is back: the sweeper's next retry delivers it, once
    [call] = fake.wait_for(1)
    assert call["body"]["content"] == "Yes, we accept PayPal, Visa and Mastercard."
    wait_until(lambda: client.get("/api/staff/chatwoot/outbox", headers=STAFF_AUTH).json["items"] == [])
    time.sleep(0.5)
    assert len(fake.calls) == 1


def test_a_handoff_keeps_its_order_while_chatwoot_is_down(fake, make_app):
    app = make_app(fake.url)
    fake.fail_with = 502
    hook(app.test_client(), message_event(117, "I want to talk to a human agent please"))
    client = app.test_client()
    wait_until(lambda: len(client.get("/api/staff/chatwoot/outbox", headers=STAFF_AUTH).json["items"]) == 3
               and fake.failures >= 3)
    fake.fail_with = None
    calls = fake.wait_for(3)
    assert [c["body"].get("private") for c in calls] == [True, False, None]
    assert calls[2]["body"] == {"status": "open"}


def test_chatwoot_not_listening_then_a_restart_delivers_what_was_stored(make_app, tmp_path):
    down = FakeChatwoot()
    url = down.url
    down.stop()  # nothing listens on the port now: connection refused
    app = make_app(url)
    client = app.test_client()
    assert hook(client, message_event(118, "Do you accept PayPal?")).status_code == 202
    wait_until(lambda: [i for i in client.get("/api/staff/chatwoot/outbox", headers=STAFF_AUTH).json["items"]
                        if "ConnectionError" in (i["last_error"] or "")])
    app.extensions["shopqa_chatwoot"].close()  # the server stops with the reply unsent
    back = FakeChatwoot(port=int(url.rsplit(":", 1)[1]))
    try:
        make_app(url)  # a new process on the same state: its first sweep sends the stored reply
        [call] = back.wait_for(1)
        assert call["body"]["content"] == "Yes, we accept PayPal, Visa and Mastercard."
    finally:
        back.stop()


def test_an_answer_that_fails_is_retried_then_handed_to_a_person(fake, make_app, monkeypatch):
    app = make_app(fake.url)
    worker = app.extensions["shopqa_chatwoot"].worker()
    tries = []

    def broken(text, session_id):
        tries.append(session_id)
        raise RuntimeError("index unreadable")

    worker.answer = broken
    monkeypatch.setattr("shopqa.integrations.chatwoot_worker.retry_delay", lambda attempts: 0.02)
    hook(app.test_client(), message_event(119, "Do you accept PayPal?"))
    note, toggle = fake.wait_for(2)
    assert len(tries) == worker.max_attempts and note["body"]["private"] is True
    assert "could not answer" in note["body"]["content"] and toggle["body"] == {"status": "open"}


def replicas_share_one_answer_per_message(one: ChatwootStore, two: ChatwootStore) -> None:
    """Two stores on one database stand for two replicas: a message is accepted and claimed once,
    its calls are claimed once, and an unsent call stays listed until it is marked sent."""
    accepted: list[bool] = []
    threads = [threading.Thread(target=lambda s=s: accepted.append(s.accept("3:9", 3, 9, 9, "hi")))
               for s in (one, two) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(accepted) == [False] * 7 + [True]
    assert one.claim_inbound("3:9", 60)["content"] == "hi" and two.claim_inbound("3:9", 60) is None
    one.answer("3:9", [{"kind": "message", "account_id": 3, "conversation_id": 9, "path": "/x",
                        "body": {"content": "hello", "private": False}}])
    assert two.stale_inbound() == [] and two.waiting() == []
    [item] = two.unsent()
    assert two.claim(item["id"], 60) and not one.claim(item["id"], 60)
    two.mark_failed(item["id"], "HTTP 502", retry=True)
    [listed] = one.items()
    assert listed["status"] == "pending" and listed["attempts"] == 1 and listed["body"]["content"] == "hello"
    assert not one.claim(item["id"], 60)  # not due yet: the backoff holds it
    one.mark_sent(item["id"])
    assert one.items() == [] and two.items(("sent",))[0]["attempts"] == 2


def test_the_store_dedupes_across_replicas_on_sqlite(tmp_path):
    replicas_share_one_answer_per_message(ChatwootStore(tmp_path / "cw.sqlite"), ChatwootStore(tmp_path / "cw.sqlite"))


@pytest.mark.slow
def test_the_store_dedupes_across_replicas_on_postgres():
    from engines import PostgresServer
    from shopqa.storage.engine import database_engine

    with PostgresServer() as server:
        engines = [database_engine(server.url, pool_size=4) for _ in range(2)]
        try:
            replicas_share_one_answer_per_message(ChatwootStore(engine=engines[0]), ChatwootStore(engine=engines[1]))
        finally:
            for engine in engines:
                engine.dispose()


@pytest.mark.slow
def test_real_server_answers_and_escalates_an_angry_customer(e5_index, tmp_path):
    from realserver import RealServer

    fake = FakeChatwoot()
    var = tmp_path / "var"
    env = {"SHOPQA_INDEX_DIR": str(e5_index), "SHOPQA_DATA_DIR": str(var), "SHOPQA_CHATWOOT_URL": fake.url,
           "SHOPQA_CHATWOOT_BOT_TOKEN": BOT_TOKEN, "SHOPQA_CHATWOOT_WEBHOOK_TOKEN": HOOK_TOKEN,
           "SHOPQA_STAFF_TOKENS": json.dumps([token_digest(STAFF)]), "SHOPQA_THREADS": "4", "SHOPQA_WORKERS": "2"}
    try:
        with RealServer(env, tmp_path / "server.log") as srv:
            def post(event, token=HOOK_TOKEN):
                req = urllib.request.Request(f"{srv.base}/integrations/chatwoot/webhook?token={token}",
                                             data=json.dumps(event).encode(), method="POST",
                                             headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=60) as resp:
                        return resp.status, json.load(resp)
                except urllib.error.HTTPError as exc:
                    return exc.code, json.load(exc)

            assert post(message_event(201, "Do you accept PayPal?", conversation_id=21), token="nope")[0] == 401
            # Two workers: each delivery may land on either, the database keeps it to one answer.
            codes = sorted(post(message_event(201, "Do you accept PayPal?", conversation_id=21))[0] for _ in range(3))
            assert codes == [200, 200, 202]
            [answer] = fake.wait_for(1, timeout=120)
            assert answer["body"]["content"] == "Yes, we accept PayPal, Visa and Mastercard."
            angry = "你们太差劲了！手机壳用了两天就裂了，客服也不回消息，我非常生气！"
            assert post(message_event(202, angry, conversation_id=22))[0] == 202
            calls = [c for c in fake.wait_for(4, timeout=120) if "/conversations/22/" in c["path"]]
            note, toggle = calls[0], calls[-1]
            assert note["body"]["private"] is True and "Sentiment: negative" in note["body"]["content"]
            assert "Reason: " in note["body"]["content"] and "ticket T-" in note["body"]["content"]
            assert toggle["path"].endswith("/conversations/22/toggle_status") and toggle["body"] == {"status": "open"}
            time.sleep(1.0)
            assert len(fake.calls) == 4
    finally:
        fake.stop()
