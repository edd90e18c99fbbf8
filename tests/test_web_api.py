"""The HTTP API through Flask's test client: chat (JSON and SSE), OpenAI endpoint, staff, limits, metrics."""
from __future__ import annotations

import json
import logging
import threading

import pytest
from werkzeug.security import generate_password_hash

from shopqa import create_app
from shopqa.resources import Resources
from shopqa.settings import Settings
from shopqa.web.auth import token_digest
from shopqa.web.limits import LLMBusy, QueuedLLM
from doubles import CannedLLM, CopyingLLM

TOKEN = "test-token-123"


def make_client(tiny_index, hash_embedder, tmp_path, llm=None, **overrides):
    base = dict(index_dir=tiny_index, data_dir=tmp_path / "var", embedder=hash_embedder.id,
                staff_users={"alice": generate_password_hash("s3cret")}, staff_tokens=[token_digest(TOKEN)],
                abstain_threshold=-1.0, curated_threshold=0.9)
    settings = Settings(**{**base, **overrides})
    res = Resources(settings, embedder=hash_embedder, llm=llm)
    res.warm_up(llm=False)
    app = create_app(settings, resources=res)
    return app.test_client(), res


@pytest.fixture
def client(tiny_index, hash_embedder, tmp_path):
    return make_client(tiny_index, hash_embedder, tmp_path, llm=CopyingLLM())[0]


def events(body: bytes) -> list[tuple[str, dict]]:
    out = []
    for block in body.decode().strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_chat_json_shape(client):
    r = client.post("/api/chat", json={"message": "Do you accept PayPal?"})
    assert r.status_code == 200
    assert {"session_id", "answer", "path", "route", "intent", "sentiment", "sources", "handoff", "timings_ms"} <= set(r.json)
    assert r.json["path"] == "curated" and r.json["sources"][0]["file"] == "faqs/general.csv"


def test_chat_streams_grounded_tokens_then_done(client):
    r = client.post("/api/chat", json={"message": "How many months of warranty do the X200 and X300 phones carry?"},
                    headers={"Accept": "text/event-stream"})
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    evs = events(r.data)
    assert evs[-1][0] == "done" and all(kind == "token" for kind, _ in evs[:-1]) and len(evs) >= 2
    done = evs[-1][1]
    assert done["path"] == "generated", done
    streamed = "".join(e[1]["text"] for e in evs[:-1])
    assert streamed.strip() and done["answer"].startswith(streamed.strip()[:20])


def test_ungrounded_generation_is_never_streamed(tiny_index, hash_embedder, tmp_path):
    client, _ = make_client(tiny_index, hash_embedder, tmp_path,
                            llm=CannedLLM("Refunds take 60 days and are paid in bitcoin [1]. More text."))
    r = client.post("/api/chat", json={"message": "I returned an item, how long until the refund reaches my card?"},
                    headers={"Accept": "text/event-stream"})
    evs = events(r.data)
    assert "60 days" not in r.data.decode()
    assert evs[-1][1]["path"] == "extractive" and "5-7 business days" in evs[-1][1]["answer"]


@pytest.mark.parametrize("body,code,status", [
    (b"", "empty_body", 400), (b"not json", "bad_json", 400), (b"[1, 2]", "bad_json", 400),
    (b'{"message": ""}', "empty_message", 400), (b'{"message": 5}', "bad_message", 400),
    (b'{"message": "hi", "session_id": 7}', "bad_session", 400),
    (json.dumps({"message": "x" * 2001}).encode(), "message_too_long", 413),
])
def test_bad_input_gets_a_clear_json_error(client, body, code, status):
    r = client.post("/api/chat", data=body, content_type="application/json")
    assert r.status_code == status and r.json["error"] == code and r.json["message"]


def test_body_size_and_rate_limit(tiny_index, hash_embedder, tmp_path):
    client, _ = make_client(tiny_index, hash_embedder, tmp_path, max_body_kb=1, rate_limit_per_minute=2)
    big = client.post("/api/chat", data=json.dumps({"message": "a " * 900}), content_type="application/json")
    assert big.status_code == 413 and big.json["error"] == "body_too_large"
    codes = [client.post("/api/chat", json={"message": "hello"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    limited = client.post("/api/chat", json={"message": "hello"})
    assert limited.json["error"] == "rate_limited" and int(limited.headers["Retry-After"]) >= 1


class BlockingLLM(CannedLLM):
    def __init__(self):
        super().__init__("The X200 and X300 phones carry a 24 month warranty [1].")
        self.started, self.release = threading.Event(), threading.Event()

    def stream(self, system, user, max_tokens=256):
        self.started.set()
        self.release.wait(10)
        yield from super().stream(system, user, max_tokens)


def test_full_llm_queue_answers_extractively_instead_of_503(tiny_index, hash_embedder, tmp_path):
    blocking = BlockingLLM()
    client, res = make_client(tiny_index, hash_embedder, tmp_path, llm=blocking, llm_queue_depth=1)
    assert isinstance(res.llm, QueuedLLM)
    question = {"message": "How many months of warranty do the X200 and X300 phones carry?"}
    first: dict = {}
    worker = threading.Thread(target=lambda: first.update(r=client.post("/api/chat", json=question)))
    worker.start()
    assert blocking.started.wait(10)
    second = client.post("/api/chat", json=question)  # the only queue slot is taken
    blocking.release.set()
    worker.join(10)
    # Busy is not an answer: the passages were found, so they are quoted and the path says why.
    assert second.status_code == 200, second.json
    assert second.json["path"] == "extractive_busy" and "24" in second.json["answer"] and second.json["sources"]
    assert first["r"].status_code == 200 and first["r"].json["path"] != "extractive_busy"
    assert 'path="extractive_busy"' in client.get("/metrics").data.decode()


def test_queued_llm_times_out_instead_of_hanging():
    blocking = BlockingLLM()
    queued = QueuedLLM(blocking, depth=2, timeout=0.2)
    holder = threading.Thread(target=lambda: list(queued.stream("s", "u")))
    holder.start()
    assert blocking.started.wait(5)
    with pytest.raises(LLMBusy):
        list(queued.stream("s", "u"))
    blocking.release.set()
    holder.join(5)
    assert queued.in_use == 0


def test_openai_compatible_endpoint(client):
    body = {"model": "shopqa", "messages": [{"role": "system", "content": "be nice"},
                                            {"role": "user", "content": "Do you accept PayPal?"}]}
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200 and r.json["object"] == "chat.completion"
    assert r.json["choices"][0]["message"] == {"role": "assistant", "content": "Yes, we accept PayPal, Visa and Mastercard."}
    assert r.json["shopqa"]["path"] == "curated" and r.json["usage"]["total_tokens"] > 0
    s = client.post("/v1/chat/completions", json={**body, "stream": True})
    lines = [x for x in s.data.decode().split("\n\n") if x]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(x[6:]) for x in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "Yes, we accept PayPal, Visa and Mastercard."
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert client.post("/v1/chat/completions", json={"messages": []}).json["error"] == "bad_messages"


def test_staff_login_csrf_reply_close_and_faq(tiny_index, hash_embedder, tmp_path):
    client, res = make_client(tiny_index, hash_embedder, tmp_path)
    handoff = client.post("/api/chat", json={"message": "I want to talk to a human agent please"}).json
    assert handoff["handoff"]["reason"] == "customer_asked"
    sid = handoff["session_id"]
    assert client.get("/api/staff/handoffs").status_code == 401
    assert client.get("/console").status_code == 302
    page = client.get("/login").data.decode()
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    bad = client.post("/login", data={"username": "alice", "password": "nope", "csrf_token": csrf})
    assert bad.status_code == 401
    ok = client.post("/login", data={"username": "alice", "password": "s3cret", "csrf_token": csrf})
    assert ok.status_code == 302 and client.get("/console").status_code == 200
    tickets = client.get("/api/staff/handoffs").json["handoffs"]
    assert tickets[0]["session_id"] == sid and tickets[0]["intent"] == "human_agent"
    tid = tickets[0]["id"]
    no_csrf = client.post(f"/api/staff/handoffs/{tid}/reply", json={"text": "Hi, Alice here."})
    assert no_csrf.status_code == 403 and no_csrf.json["error"] == "csrf"
    console = client.get("/console").data.decode()
    token = console.split('name="csrf-token" content="')[1].split('"')[0]
    sent = client.post(f"/api/staff/handoffs/{tid}/reply", json={"text": "Hi, Alice here."},
                       headers={"X-CSRF-Token": token})
    assert sent.status_code == 200
    polled = client.get(f"/api/chat/{sid}/messages?after=0").json["messages"]
    assert polled[-1] == {**polled[-1], "role": "agent", "text": "Hi, Alice here."}
    faq = client.post("/api/staff/faq-candidates", json={"ticket_id": tid, "question": "Can I talk to a person?",
                                                          "answer": "Yes, write 'human' in the chat."},
                      headers={"X-CSRF-Token": token})
    assert faq.status_code == 201
    saved = (tmp_path / "var" / "faq-candidates.jsonl").read_text().splitlines()
    assert json.loads(saved[-1])["question"] == "Can I talk to a person?"
    assert client.post(f"/api/staff/handoffs/{tid}/close", headers={"X-CSRF-Token": token}).status_code == 200
    assert client.get("/api/staff/handoffs").json["handoffs"] == []
    # The assistant answers the session again once the handoff is closed.
    again = client.post("/api/chat", json={"message": "Do you accept PayPal?", "session_id": sid}).json
    assert again["path"] == "curated"


def test_bearer_token_staff_api_without_csrf(tiny_index, hash_embedder, tmp_path):
    client, _ = make_client(tiny_index, hash_embedder, tmp_path)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/api/staff/handoffs", headers=auth).status_code == 200
    assert client.get("/api/staff/handoffs", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/admin/reload", headers=auth).json["reloaded"] is False


def test_pages_escape_customer_text_and_dashboard_renders(tiny_index, hash_embedder, tmp_path):
    client, _ = make_client(tiny_index, hash_embedder, tmp_path, abstain_threshold=0.999, oos_threshold=-1)
    client.post("/api/chat", json={"message": "<script>alert('x')</script> what is the warranty on phones?"})
    client.post("/api/chat", json={"message": "Do you accept PayPal?"})
    client.post("/api/chat", headers={"Authorization": f"Bearer {TOKEN}"}, json={"message": "hello"})
    page = client.get("/dashboard", headers={"Authorization": f"Bearer {TOKEN}"})
    html = page.data.decode()
    assert page.status_code == 200 and "<script>alert" not in html
    assert html.count('class="chart"') == 3 and 'id="chart-intents"' in html and "<rect" in html
    if "&lt;script&gt;alert" not in html:  # the question reached the unanswered list only if it abstained
        assert "none" in html.split('id="gaps"')[1]
    assert client.get("/search", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_search_marks_terms_and_filters_language(client):
    hits = client.get("/api/search?q=refund&k=5").json["hits"]
    assert any("<mark>" in h["snippet_html"].lower() for h in hits)
    zh = client.get("/api/search?q=配送&lang=zh").json["hits"]
    assert zh and all(h["lang"] == "zh" for h in zh)
    assert client.get("/api/search?q=x&lang=fr").status_code == 400


def test_past_chats_are_searchable_by_staff_only(client):
    # Chats keep customers' names, order numbers and addresses (only emails, phones and cards
    # are redacted), so an anonymous client must not be able to search them.
    anon = client.get("/api/search?q=X300+case&k=20").json["hits"]
    assert anon and all(h["type"] != "chat" for h in anon)
    denied = client.get("/api/search?q=X300+case&type=chat")
    assert denied.status_code == 403 and denied.json["error"] == "staff_only"
    staff = client.get("/api/search?q=X300+case&type=chat", headers={"Authorization": f"Bearer {TOKEN}"})
    assert staff.status_code == 200 and staff.json["hits"]
    assert all(h["type"] == "chat" for h in staff.json["hits"])
    everything = client.get("/api/search?q=X300+case&k=20", headers={"Authorization": f"Bearer {TOKEN}"})
    assert any(h["type"] == "chat" for h in everything.json["hits"])


def test_metrics_openapi_and_logs_without_pii(client, caplog):
    caplog.set_level(logging.INFO, logger="shopqa")
    client.post("/api/chat", json={"message": "my email is bob@example.com, card 4111 1111 1111 1111, where is my order?"})
    client.post("/api/chat", json={"message": "I want to talk to a human agent please"})
    assert "bob@example.com" not in caplog.text and "4111" not in caplog.text
    assert any('"event": "chat"' in r.getMessage() for r in caplog.records)
    text = client.get("/metrics").data.decode()
    for name in ("shopqa_requests_total", "shopqa_answer_seconds_bucket", "shopqa_handoffs_total",
                 "shopqa_llm_queue_depth"):
        assert name in text
    spec = client.get("/openapi.json").json
    assert {"/api/chat", "/v1/chat/completions", "/api/search", "/metrics"} <= set(spec["paths"])
    assert client.get("/nope").json["error"] == "not_found"
    assert client.get("/api/chat").status_code == 405


def test_no_failed_request_while_an_ingest_swaps_the_index(shop_copy, hash_embedder, tmp_path):
    from shopdata import do_ingest

    index_dir = tmp_path / "idx"
    do_ingest(shop_copy, index_dir, hash_embedder)
    client, res = make_client(index_dir, hash_embedder, tmp_path, rate_limit_per_minute=100000)
    old = res.index().generation
    codes: list[int] = []
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            codes.append(client.post("/api/chat", json={"message": "Do you accept PayPal?"}).status_code)
            codes.append(client.get("/api/search?q=refund").status_code)

    workers = [threading.Thread(target=hammer) for _ in range(3)]
    for w in workers:
        w.start()
    (shop_copy / "faqs/new.jsonl").write_text('{"question": "Do you sell gift cards?", "answer": "Yes, from 10 USD."}\n')
    do_ingest(shop_copy, index_dir, hash_embedder)
    reloaded = client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}).json
    stop.set()
    for w in workers:
        w.join(30)
    assert reloaded["generation"] != old and res.index().generation != old
    assert codes and set(codes) == {200}


@pytest.mark.parametrize("kind,code", [("unexpected", "internal"), ("llm", "llm_error")])
def test_customers_never_see_exception_text(tiny_index, hash_embedder, tmp_path, monkeypatch, caplog, kind, code):
    from shopqa.models.llm import LLMError

    client, res = make_client(tiny_index, hash_embedder, tmp_path, llm=CopyingLLM())
    error = (RuntimeError("db password=hunter2 at /srv/shopqa/secret.sqlite") if kind == "unexpected" else
             LLMError("/srv/models/secret.gguf: cannot load this GGUF file (token hunter2)"))

    class Broken:
        def handle(self, *args, **kwargs):
            raise error

    monkeypatch.setattr(res, "assistant", lambda: Broken())
    caplog.set_level(logging.ERROR)
    plain = client.post("/api/chat", json={"message": "Do you accept PayPal?"})
    assert plain.status_code == 500 and plain.json["error"] == code and plain.json["message"]
    stream = client.post("/api/chat", json={"message": "Do you accept PayPal?"}, headers={"Accept": "text/event-stream"})
    assert stream.status_code == 200  # the stream has begun before the answer fails: the error is an event
    assert [(kind, body["error"]) for kind, body in events(stream.data)] == [("error", code)]
    oai = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "Do you accept PayPal?"}]})
    assert oai.status_code == 500 and oai.json["error"] == code
    for body in (plain.data, stream.data, oai.data):
        assert b"hunter2" not in body and b"/srv/" not in body
    assert "hunter2" in caplog.text  # staff still find the cause in the log


def test_not_ready_hides_the_index_path(hash_embedder, tmp_path):
    client, res = make_client(tmp_path / "secret-index-folder", hash_embedder, tmp_path)
    assert not res.ready and "secret-index-folder" in res.error
    for r in (client.post("/api/chat", json={"message": "hi"}), client.get("/api/search?q=refund")):
        assert r.status_code == 503 and r.json["error"] == "not_ready" and "secret-index-folder" not in r.data.decode()
