"""FAQ gaps: unanswered questions grouped by meaning, published as FAQs through an incremental
ingest; the console's ticket filters and search; /search?q= links."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner
from werkzeug.security import generate_password_hash

from shopqa import create_app
from shopqa.cli import cli
from shopqa.handoff import faq_gaps
from shopqa.handoff.faq_publish import read_published, write_faq
from shopqa.handoff.tickets import TicketStore
from shopqa.ingest import manifest
from shopqa.ingest.pipeline import IngestOptions, run
from shopqa.resources import Resources
from shopqa.settings import Settings
from shopqa.web.auth import token_digest

import pytest

TOKEN = "gap-token-1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class CountingEmbedder:
    """A real embedder that counts the texts it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.id, self.texts = inner, inner.id, []

    def embed_queries(self, texts):
        self.texts.extend(texts)
        return self.inner.embed_queries(texts)


def _gap(question, session, when, lang="en"):
    return {"question": question, "session_id": session, "lang": lang, "when": when}


def test_paraphrases_group_and_different_questions_do_not(e5_embedder):
    """The calibrated e5 threshold puts paraphrases of one question in one group, most asked first."""
    gaps = [_gap("Do you ship to Iceland?", "s1", 100), _gap("Do you ship to Iceland?", "s2", 110),
            _gap("Do you deliver to Iceland?", "s3", 120), _gap("Can I get delivery to Iceland?", "s4", 130),
            _gap("Is there a student discount?", "s5", 140), _gap("你们可以开发票吗？", "s6", 150, "zh")]
    groups = faq_gaps.group_gaps(gaps, faq_gaps.VectorCache(e5_embedder),
                                 faq_gaps.grouping_threshold(e5_embedder.id))
    first = groups[0]
    assert first["question"] == "Do you ship to Iceland?" and first["count"] == 4, groups
    assert first["sessions"] == ["s4", "s3", "s2", "s1"] and (first["first_seen"], first["last_seen"]) == (100, 130)
    assert first["variant_count"] == 3 and len(groups) == 3
    assert not any("student" in v["question"] or "发票" in v["question"] for v in first["variants"])
    assert sum(g["count"] for g in groups) == 6
    student = next(g for g in groups if g["question"] == "Is there a student discount?")
    assert student["count"] == 1 and student["langs"] == ["en"]
    assert next(g for g in groups if "发票" in g["question"])["langs"] == ["zh"]


def test_each_distinct_question_is_embedded_once(hash_embedder, tmp_path):
    emb = CountingEmbedder(hash_embedder)
    cache = faq_gaps.VectorCache(emb, tmp_path / "vectors.sqlite")
    gaps = [_gap("Where is my parcel?", f"s{i}", i) for i in range(5)] + [_gap("Gift cards?", "g", 9)]
    first = faq_gaps.group_gaps(gaps, cache, 0.9)
    faq_gaps.group_gaps(gaps + [_gap("New one?", "n", 10)], cache, 0.9)
    assert sorted(emb.texts) == ["Gift cards?", "New one?", "Where is my parcel?"]
    # A restarted service reads the vectors back from the file: nothing is embedded again.
    again = CountingEmbedder(hash_embedder)
    assert faq_gaps.group_gaps(gaps, faq_gaps.VectorCache(again, tmp_path / "vectors.sqlite"), 0.9) == first
    assert again.texts == []


def test_a_page_embeds_at_most_its_budget_and_the_rest_in_the_background(hash_embedder):
    emb = CountingEmbedder(hash_embedder)
    cache = faq_gaps.VectorCache(emb)
    gaps = [_gap(f"question number {i}?", f"s{i}-{k}", i) for i in range(5) for k in range(5 - i)]
    first = faq_gaps.group_gaps(gaps, cache, 0.99, budget=2)
    assert [g["pending"] for g in first] == [False, False, True, True, True]
    assert [g["question"] for g in first][:2] == ["question number 0?", "question number 1?"]  # most asked first
    cache.wait(60)
    assert len(emb.texts) == 5
    assert not any(g["pending"] for g in faq_gaps.group_gaps(gaps, cache, 0.99, budget=2))
    assert len(emb.texts) == 5


def test_collect_counts_abstentions_and_no_answer_handoffs_only():
    rows = [
        {"role": "customer", "session_id": "a", "text": "Do you ship to Mars?", "lang": "en", "created": 1.0},
        {"role": "assistant", "session_id": "a", "path": "abstained", "meta": {}, "lang": "en", "created": 1.1},
        {"role": "customer", "session_id": "a", "text": "Mars delivery??", "lang": "en", "created": 2.0},
        {"role": "assistant", "session_id": "a", "path": "handoff", "created": 2.1,
         "meta": {"handoff": {"reason": "abstained_twice"}}},
        {"role": "customer", "session_id": "b", "text": "I want a human", "lang": "en", "created": 3.0},
        {"role": "assistant", "session_id": "b", "path": "handoff", "created": 3.1,
         "meta": {"handoff": {"reason": "customer_asked"}}},
        {"role": "customer", "session_id": "c", "text": "PayPal?", "lang": "en", "created": 4.0},
        {"role": "assistant", "session_id": "c", "path": "curated", "meta": {}, "created": 4.1},
    ]
    assert [g["question"] for g in faq_gaps.collect(rows)] == ["Do you ship to Mars?", "Mars delivery??"]


def test_ingest_reads_extra_faq_files(shop_copy, tmp_path, hash_embedder):
    published = tmp_path / "var" / "faqs" / "published.jsonl"
    write_faq(published, "Do you ship to Iceland?", "Yes, in 5-7 days.", "en", "alice")
    write_faq(published, "do you ship to  Iceland?", "Yes, in 4-6 days.", None, "bob")  # same question: replaced
    assert [r["answer"] for r in read_published(published)] == ["Yes, in 4-6 days."]
    index_dir = tmp_path / "idx"
    opts = dict(shop_dir=shop_copy, index_dir=index_dir, embedder=hash_embedder.id)
    report = run(IngestOptions(**opts, extra_faq_files=(published,)), embedder=hash_embedder)
    records = manifest.read(index_dir)["records"]
    keys = [k for k, r in records.items() if r["source"] == "published/faqs/published.jsonl"]
    assert report.swapped and len(keys) == 1 and keys[0].startswith("faq:published/faqs/published.jsonl#")
    again = run(IngestOptions(**opts), embedder=hash_embedder)  # without the file its FAQ goes away
    assert again.removed == 1
    with pytest.raises(FileNotFoundError, match="extra FAQ file"):
        IngestOptions(**opts, extra_faq_files=(tmp_path / "missing.jsonl",))


def test_cli_ingest_keeps_published_faqs(shop_copy, tmp_path, monkeypatch):
    data_dir = tmp_path / "var"
    write_faq(data_dir / "faqs" / "published.jsonl", "Do you ship to Iceland?", "Yes.", "en", "alice")
    monkeypatch.setenv("SHOPQA_DATA_DIR", str(data_dir))
    out = CliRunner().invoke(cli, ["ingest", str(shop_copy), "--index-dir", str(tmp_path / "idx"),
                                   "--embedder", "hash:128"])
    assert out.exit_code == 0, out.output
    sources = {r["source"] for r in manifest.read(tmp_path / "idx")["records"].values()}
    assert "published/faqs/published.jsonl" in sources


@pytest.fixture(scope="module")
def private_service(tiny_shop, hash_embedder, tmp_path_factory):
    """A service over a private index of the tiny shop (publishing re-ingests it): app, resources, root."""
    root = tmp_path_factory.mktemp("publish")
    shop = shutil.copytree(tiny_shop, root / "shop")
    index_dir = root / "idx"
    run(IngestOptions(shop_dir=shop, index_dir=index_dir, embedder=hash_embedder.id), embedder=hash_embedder)
    settings = Settings(index_dir=index_dir, data_dir=root / "var", embedder=hash_embedder.id,
                        staff_users={"alice": generate_password_hash("s3cret")}, staff_tokens=[token_digest(TOKEN)],
                        abstain_threshold=0.999, curated_threshold=0.9, oos_threshold=-1)
    res = Resources(settings, embedder=hash_embedder)
    res.warm_up(llm=False)
    app = create_app(settings, resources=res)
    return app, res, root


def test_staff_api_groups_gaps_and_publishing_makes_them_curated(private_service):
    app, res, _ = private_service
    client = app.test_client()
    question = "Do you ship parcels to Iceland?"
    for wording in (question, question, "do you ship parcels to iceland", "Which rugs are machine washable?"):
        reply = client.post("/api/chat", json={"message": wording}).json
        assert reply["path"] == "abstained", reply
    assert client.get("/api/staff/faq-gaps").status_code == 401
    report = client.get("/api/staff/faq-gaps", headers=AUTH).json
    assert report["questions"] == 4 and report["group_count"] == 2
    top = report["groups"][0]
    assert top["question"] == question and top["count"] == 3 and top["langs"] == ["en"] and not top["published"]
    assert len(top["sessions"]) == 3 and top["first_seen"] <= top["last_seen"]
    session = top["sessions"][0]
    assert client.get(f"/api/staff/conversations/{session}", headers=AUTH).json["messages"][0]["text"]
    html = client.get("/dashboard", headers=AUTH).data.decode()
    assert f'href="/console?session={session}"' in html and 'class="gap-count">3<' in html

    assert client.post("/api/staff/faq-gaps/publish", json={"question": question, "answer": "x"}).status_code == 401
    # A logged-in agent needs the CSRF token, like every other staff POST.
    client.post("/login", data={"username": "alice", "password": "s3cret",
                                "csrf_token": _csrf(client)})
    body = {"question": question, "answer": "Yes: Iceland takes 5-7 working days.", "lang": "en"}
    assert client.post("/api/staff/faq-gaps/publish", json=body).status_code == 403
    assert client.post("/api/staff/faq-gaps/publish", json={**body, "lang": "fr"},
                       headers={"X-CSRF-Token": _csrf(client)}).status_code == 400
    started = client.post("/api/staff/faq-gaps/publish", json=body, headers={"X-CSRF-Token": _csrf(client)})
    assert started.status_code == 202 and started.json["faq"]["question"] == question
    app.extensions["shopqa.faq_publisher"].wait(120)
    status = client.get("/api/staff/faq-gaps/publish").json
    assert status["state"] == "idle" and status["error"] is None and status["last"]["added"] == 1, status
    assert status["published"] == 1
    answer = client.post("/api/chat", json={"message": question}).json
    assert answer["path"] == "curated" and "5-7 working days" in answer["answer"], answer
    assert answer["sources"][0]["file"] == "published/faqs/published.jsonl"
    assert client.get("/api/staff/faq-gaps", headers=AUTH).json["groups"][0]["published"] is True


def test_publishing_while_an_ingest_runs_queues_one_more(private_service):
    app, res, root = private_service
    from shopqa.handoff.faq_publish import FaqPublisher

    publisher = FaqPublisher(res)
    publisher.publish("Do you ship to Iceland?", "Yes.", "en", "alice")
    publisher.publish("Do you sell gift cards?", "Yes, from 10 EUR.", "en", "alice")
    assert publisher.status()["state"] == "running"  # the first run is still going: the others queue one more
    publisher.publish("Is there a student discount?", "No.", "en", "alice")
    queued = publisher.status()
    assert queued["state"] == "running" and queued["queued"], queued  # one more run, not one per publish
    publisher.wait(300)  # the same thread runs the queued ingest before it ends
    status = publisher.status()
    assert status["state"] == "idle" and status["error"] is None and not status["queued"], status
    published = {r["question"] for r in read_published(publisher.path)}
    assert {"Do you ship to Iceland?", "Do you sell gift cards?", "Is there a student discount?"} <= published
    sources = [r["source"] for r in manifest.read(root / "idx")["records"].values()]
    assert sources.count("published/faqs/published.jsonl") == len(published)
    assert res.index().manifest["generation"] == manifest.read(root / "idx")["generation"]  # swapped in


def _csrf(client):
    html = client.get("/login").data.decode()
    return html.split('name="csrf-token" content="')[1].split('"')[0]


def test_ticket_filters_and_search(tmp_path):
    store = TicketStore(tmp_path / "tickets.sqlite")
    convo = lambda text: [{"role": "customer", "text": text}, {"role": "assistant", "text": "We ship worldwide."}]  # noqa: E731
    a = store.create("sess-aaa", convo("Where is my order 100_5%?"), "customer_asked", "order_status", None, "en")
    b = store.create("sess-bbb", convo("我的发票在哪里"), "strong_negative_sentiment", "complaint", None, "zh")
    store.close(a["id"])
    assert [t["id"] for t in store.list("open")] == [b["id"]]
    assert [t["id"] for t in store.list("closed")] == [a["id"]]
    assert [t["id"] for t in store.list(None)] == [b["id"], a["id"]]
    assert [t["id"] for t in store.list(None, query="ORDER 100_5%")] == [a["id"]]
    assert [t["id"] for t in store.list(None, query="发票")] == [b["id"]]
    assert [t["id"] for t in store.list(None, query="sess-bb")] == [b["id"]]
    assert [t["id"] for t in store.list(None, query=a["ref"])] == [a["id"]]
    assert store.list(None, query="worldwide") == []  # the bot's words are not the ticket's text
    assert store.list("open", query="order 100") == []
    assert store.list(None, query="100%") == []  # % is a character, not a wildcard


@pytest.fixture(scope="module")
def shared_client(tiny_index, hash_embedder, tmp_path_factory):
    """A service over the shared tiny index (these tests do not publish)."""
    settings = Settings(index_dir=tiny_index, data_dir=tmp_path_factory.mktemp("var"), embedder=hash_embedder.id,
                        staff_tokens=[token_digest(TOKEN)])
    res = Resources(settings, embedder=hash_embedder)
    res.warm_up(llm=False)
    return create_app(settings, resources=res).test_client()


def test_staff_handoffs_api_filters_and_console_page(shared_client):
    client = shared_client
    first = client.post("/api/chat", json={"message": "I want to talk to a human agent please"}).json
    second = client.post("/api/chat", json={"message": "Can I speak to a real person about my refund?"}).json
    tickets = client.get("/api/staff/handoffs?status=all", headers=AUTH).json["handoffs"]
    assert len(tickets) == 2 and all(t["lang"] == "en" and t["reason"] for t in tickets)
    close_id = next(t["id"] for t in tickets if t["session_id"] == first["session_id"])
    client.post(f"/api/staff/handoffs/{close_id}/close", headers=AUTH)
    assert [t["session_id"] for t in client.get("/api/staff/handoffs?status=closed", headers=AUTH).json["handoffs"]] \
        == [first["session_id"]]
    found = client.get("/api/staff/handoffs?status=all&q=refund", headers=AUTH).json["handoffs"]
    assert [t["session_id"] for t in found] == [second["session_id"]]
    assert client.get("/api/staff/handoffs?status=nope", headers=AUTH).status_code == 400
    page = client.get("/console", headers=AUTH).data.decode()
    assert 'id="queue-status"' in page and 'id="queue-q"' in page


def test_search_link_fills_the_box_escaped(shared_client):
    client = shared_client
    html = client.get('/search?q=PayPal"><script>x</script>&type=faq', headers=AUTH).data.decode()
    assert 'value="PayPal&#34;&gt;&lt;script&gt;x&lt;/script&gt;"' in html and "<script>x" not in html
    assert '<option value="faq" selected>' in html


def test_grouping_file_has_a_default_and_the_packaged_embedder():
    from shopqa.handoff.faq_gaps import GROUPING

    table = json.loads(GROUPING.read_text(encoding="utf-8"))
    assert 0 < table["default"]["threshold"] < 1 and "e5-small" in table
    assert faq_gaps.grouping_threshold("unknown-embedder") == table["default"]["threshold"]


def test_a_run_left_by_a_dead_process_reads_as_interrupted(tmp_path):
    from types import SimpleNamespace

    from shopqa.handoff.faq_publish import FaqPublisher

    publisher = FaqPublisher(SimpleNamespace(settings=SimpleNamespace(data_dir=tmp_path)))
    publisher.status_file.parent.mkdir(parents=True)
    publisher.status_file.write_text(json.dumps({"state": "running", "queued": True, "last": None, "error": None,
                                                 "pid": 99_999_999}))
    status = publisher.status()
    assert status["state"] == "idle" and "interrupted" in status["error"] and status["published"] == 0


def _publish_one(args):
    path, i = args
    write_faq(Path(path), f"Do you ship parcel number {i}?", f"Yes, parcel {i}.", "en", "test")


def test_workers_publishing_at_once_keep_every_faq(tmp_path):
    """gunicorn workers are processes: each rewrite of published.jsonl must see the others' rows."""
    import multiprocessing

    path = tmp_path / "faqs" / "published.jsonl"
    with multiprocessing.get_context("fork").Pool(6) as pool:
        pool.map(_publish_one, [(str(path), i) for i in range(60)])
    assert sorted(int(r["answer"].split()[-1].rstrip(".")) for r in read_published(path)) == list(range(60))
