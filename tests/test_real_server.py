"""The real server over HTTP with the real packaged models: chat JSON and SSE, the OpenAI client, staff API."""
from __future__ import annotations

import json
import urllib.request

import pytest

from shopqa.web.auth import token_digest
from realserver import RealServer

pytestmark = pytest.mark.slow
TOKEN = "e2e-staff-token"


@pytest.fixture(scope="module")
def server(e5_index, tmp_path_factory):
    var = tmp_path_factory.mktemp("server-var")
    with RealServer({"SHOPQA_INDEX_DIR": str(e5_index), "SHOPQA_DATA_DIR": str(var),
                     "SHOPQA_STAFF_TOKENS": json.dumps([token_digest(TOKEN)]), "SHOPQA_THREADS": "4",
                     "SHOPQA_WORKERS": "2"},
                    var / "server.log") as srv:
        yield srv


def post(url: str, body: dict, headers: dict | None = None, timeout: float = 300):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    return urllib.request.urlopen(req, timeout=timeout)


def test_chat_json_and_sse_over_http(server):
    with post(server.base + "/api/chat", {"message": "Do you accept PayPal?"}) as resp:
        data = json.load(resp)
    assert data["path"] == "curated" and data["route"] == "knowledge"
    with post(server.base + "/api/chat", {"message": "What are your support team's opening hours?"},
              {"Accept": "text/event-stream"}) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        body = resp.read().decode()
    blocks = [b for b in body.split("\n\n") if b.strip()]
    kinds = [b.split("\n")[0] for b in blocks]
    assert kinds[-1] == "event: done" and "event: token" in kinds
    done = json.loads(blocks[-1].split("data: ", 1)[1])
    # The answerability model may hedge on the tiny shop's one-sentence contact page (partial):
    # still the fact, quoted and cited, over the same stream.
    assert done["path"] in ("generated", "extractive", "partial") and "9:00-18:00" in done["answer"]
    assert any(s["file"] == "docs/contact.txt" for s in done["sources"])


def test_openai_python_client(server):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=server.base + "/v1", api_key="unused", timeout=300)
    reply = client.chat.completions.create(model="shopqa", messages=[{"role": "user", "content": "Do you accept PayPal?"}])
    assert reply.choices[0].message.content == "Yes, we accept PayPal, Visa and Mastercard."
    stream = client.chat.completions.create(model="shopqa", stream=True,
                                            messages=[{"role": "user", "content": "支持支付宝付款吗？"}])
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "支持，支付宝和微信支付都可以使用。"


def test_handoff_reaches_staff_api_and_reply_reaches_customer(server):
    with post(server.base + "/api/chat", {"message": "我要找人工客服"}) as resp:
        data = json.load(resp)
    assert data["handoff"] and data["handoff"]["ticket"] in data["answer"]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    req = urllib.request.Request(server.base + "/api/staff/handoffs", headers=auth)
    with urllib.request.urlopen(req, timeout=30) as resp:
        tickets = json.load(resp)["handoffs"]
    ticket = next(t for t in tickets if t["session_id"] == data["session_id"])
    assert ticket["lang"] == "zh"
    with post(f"{server.base}/api/staff/handoffs/{ticket['id']}/reply", {"text": "您好，我是客服小李。"}, auth):
        pass
    with urllib.request.urlopen(f"{server.base}/api/chat/{data['session_id']}/messages", timeout=30) as resp:
        messages = json.load(resp)["messages"]
    assert messages[-1]["role"] == "agent" and messages[-1]["text"] == "您好，我是客服小李。"
    with urllib.request.urlopen(server.base + "/metrics", timeout=30) as resp:
        assert "shopqa_handoffs_total" in resp.read().decode()


def _count(metrics: str, line_start: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith(line_start))


def test_metrics_sum_every_worker(server):
    """Two gunicorn workers: whichever one a scrape reaches, it reports both workers' requests."""
    with urllib.request.urlopen(server.base + "/readyz", timeout=30) as resp:
        assert json.load(resp)["backends"] == {"index": "faiss", "state": "sqlite", "llm": "local", "limits": "local"}
    line = 'shopqa_requests_total{endpoint="/healthz",method="GET",status="200"}'
    for _ in range(20):
        urllib.request.urlopen(server.base + "/healthz", timeout=30).close()
    seen = set()
    for _ in range(6):
        with urllib.request.urlopen(server.base + "/metrics", timeout=30) as resp:
            seen.add(_count(resp.read().decode(), line))
    # Per-process counters would show each worker's share (about 10 each), varying by scrape.
    assert seen == {20.0}, seen
