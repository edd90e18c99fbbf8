"""The Flask app over the tiny index: health, readiness and retrieval-only search."""
from __future__ import annotations

import pytest

from shopqa import create_app
from shopqa.resources import Resources
from shopqa.settings import Settings


@pytest.fixture
def client(tiny_index, hash_embedder):
    settings = Settings(index_dir=tiny_index, embedder=hash_embedder.id)
    res = Resources(settings, embedder=hash_embedder)
    res.warm_up()
    return create_app(settings, resources=res).test_client()


def test_health_and_ready(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["embedder"]["id"] == "hash:128"


def test_not_ready_without_index(tmp_path, hash_embedder):
    settings = Settings(index_dir=tmp_path / "none", embedder=hash_embedder.id)
    res = Resources(settings, embedder=hash_embedder)
    res.warm_up()
    client = create_app(settings, resources=res).test_client()
    resp = client.get("/readyz")
    assert resp.status_code == 503 and "shopqa ingest" in resp.json["message"]


def test_search_hybrid_with_reasons(client):
    resp = client.get("/api/search?q=refund+business+days&k=3")
    assert resp.status_code == 200
    hits = resp.json["hits"]
    assert hits and {"title", "source", "snippet", "score", "type", "dense_rank", "keyword_rank"} <= set(hits[0])
    assert any("5-7 business days" in h["snippet"] for h in hits)
    assert any(h["dense_rank"] and h["keyword_rank"] for h in hits)


def test_search_filters_and_errors(client):
    products = client.get("/api/search?q=X300+case&type=product").json["hits"]
    assert products and all(h["type"] == "product" for h in products)
    assert client.get("/api/search?q=").status_code == 400
    assert client.get("/api/search?q=x&type=bogus").json["error"] == "bad_type"
    assert client.get("/api/search?q=x&k=abc").status_code == 400


def test_reload_after_new_generation(shop_copy, tmp_path, hash_embedder):
    from shopdata import do_ingest

    index_dir = tmp_path / "idx"
    do_ingest(shop_copy, index_dir, hash_embedder)
    res = Resources(Settings(index_dir=index_dir, embedder=hash_embedder.id), embedder=hash_embedder)
    res.warm_up()
    old = res.index()
    (shop_copy / "faqs/new.jsonl").write_text('{"question": "Do you sell gift cards?", "answer": "Yes, from 10 USD."}\n')
    do_ingest(shop_copy, index_dir, hash_embedder)
    assert res.index().generation != old.generation and res.index().keyword_search("gift cards", 1)
    assert old.keyword_search("refund", 1)  # a request holding the old generation still works


def test_a_generation_is_built_and_its_sentences_embedded_once(tiny_index, hash_embedder, tmp_path, monkeypatch):
    # Warm-up builds the live generation; embedding its answer candidates in the background
    # twice (as a bug once did) halved the speed of every request while it ran.
    embedded = []
    monkeypatch.setattr(Resources, "_warm_sentences", lambda self, index: embedded.append(index.generation))
    res = Resources(Settings(index_dir=tiny_index, data_dir=tmp_path / "var", llm_enabled=False),
                    embedder=hash_embedder)
    res.warm_up(llm=False)
    first = res.generation()
    res.assistant(), res.answerer(), res.index()
    assert embedded == [first.id] and res.generation() is first


def test_workers_starting_together_share_one_generated_secret_key(tmp_path):
    """Without secret_key set, every gunicorn worker must read the same generated key, or a
    login made on one worker is rejected by the next."""
    import threading

    from shopqa.web import _secret_key

    settings = Settings(data_dir=tmp_path / "var")
    keys, barrier = [], threading.Barrier(8)

    def start():
        barrier.wait()
        keys.append(_secret_key(settings))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1 and keys[0] == (tmp_path / "var" / "secret_key").read_text()
    assert [p.name for p in (tmp_path / "var").iterdir()] == ["secret_key"]
