"""The index in Postgres (pgvector + a tsvector of shopqa's tokens) on a real embedded Postgres:
published whole or not at all, searched in SQL exactly as the FAISS/BM25 files are searched in
Python, and served by Resources with no index files and no shop folder."""
from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from engines import PostgresServer
from shopdata import do_ingest
from shopqa.answering.retrieval import HybridRetriever
from shopqa.answering.term_weights import TermWeights
from shopqa.cli import cli
from shopqa.ingest import manifest, pg_publish
from shopqa.ingest.index import ShopIndex
from shopqa.ingest.pg_index import PgShopIndex, live_number
from shopqa.ingest.pg_schema import tsvector_literal
from shopqa.resources import Resources
from shopqa.settings import Settings
from shopqa.storage.engine import database_engine

pytestmark = pytest.mark.slow

QUERIES = ["How long do refunds take?", "退货要多久", "Does the X200 case fit my X300?", "保修期多长？",
           "warranty on phones 手机保修", "TP-CHG-30", "do you ship to Canada", "支持支付宝吗", "xyzzy"]


@pytest.fixture(scope="module")
def pg():
    with PostgresServer() as server:
        engine = database_engine(server.url)
        yield server.url, engine
        engine.dispose()


def _fresh(engine) -> None:
    """Start a test from an empty database (the tests publish generations of their own)."""
    with engine.begin() as conn:
        for (schema,) in conn.execute(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'shopqa_gen_%'")):
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        conn.execute(text("DROP TABLE IF EXISTS shopqa_index_live, shopqa_index_generations"))


def test_publish_copies_every_unit_and_is_idempotent(pg, e5_index, e5_embedder, tmp_path):
    _, engine = pg
    _fresh(engine)
    done = pg_publish.publish(engine, e5_index)
    files = ShopIndex(e5_index, e5_embedder)
    assert done.published and done.name == "shopqa_gen_000001"
    assert done.chunks == sum(c["units"] for c in files.manifest["counts"].values())
    again = pg_publish.publish(engine, e5_index)
    assert (again.published, again.name) == (False, done.name)
    index = PgShopIndex(engine, e5_embedder, tmp_path)
    assert index.backend == "pgvector" and index.generation == "shopqa_gen_000001"
    assert index.document_frequencies() == files.document_frequencies()
    assert sorted(index.order_rows()) == sorted(files.order_rows())
    assert index.product("TP-CHG-30") == files.product("TP-CHG-30")
    assert index.first_unit("product:TP-X300") == files.first_unit("product:TP-X300")
    assert list(index.unit_texts()) == list(files.unit_texts())
    assert sorted(index.graph.edges) == sorted(files.graph.edges)
    # The shop files the service reads from a folder arrive from Postgres, not from the shop.
    assert (Path(index.manifest["shop_dir"]) / "chats" / "2026.jsonl").read_bytes() == \
        (Path(files.manifest["shop_dir"]) / "chats" / "2026.jsonl").read_bytes()


def test_sql_retrieval_ranks_exactly_as_faiss_and_bm25(pg, e5_index, e5_embedder, tmp_path):
    _, engine = pg
    _fresh(engine)
    pg_publish.publish(engine, e5_index)
    files, index = ShopIndex(e5_index, e5_embedder), PgShopIndex(engine, e5_embedder, tmp_path)
    compared = 0
    for query in QUERIES:
        vector = files.embed_query(query)
        assert [u for u, _ in index.dense_search(vector, 10)] == [u for u, _ in files.dense_search(vector, 10)]
        assert [u for u, _ in index.question_search(vector, 3)] == [u for u, _ in files.question_search(vector, 3)]
        got, want = index.keyword_search(query, 10), files.keyword_search(query, 10)
        assert [u for u, _ in got] == [u for u, _ in want]
        assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-5)
        for mode in ("hybrid", "dense", "keyword"):
            for types in (None, {"faq"}, {"doc", "product"}):
                want = HybridRetriever(files).search(query, k=8, mode=mode, types=types)
                got = HybridRetriever(index).search(query, k=8, mode=mode, types=types)
                assert [(h.unit.id, h.dense_rank, h.keyword_rank) for h in got] == \
                    [(h.unit.id, h.dense_rank, h.keyword_rank) for h in want], (query, mode, types)
                assert [h.score for h in got] == pytest.approx([h.score for h in want])
                compared += len(want)
    assert compared > 300
    assert TermWeights.of(index).weight("refunds") == pytest.approx(TermWeights.of(files).weight("refunds"))


def test_tsvector_keeps_skus_chinese_words_and_quotes_whole():
    literal = tsvector_literal(["tp-chg-30", "保修", "保修", "o'neil", "back\\slash"])
    assert literal == "'tp-chg-30':1 '保修':1,2 'o''neil':1 'back\\\\slash':1"


def test_a_failed_publish_leaves_the_live_generation_and_no_schema(pg, e5_index, monkeypatch):
    _, engine = pg
    _fresh(engine)
    pg_publish.publish(engine, e5_index)
    found = manifest.read(e5_index)
    monkeypatch.setattr(pg_publish, "source_stamp", lambda m: "another build")

    def broken(conn, schema, folder, shop_dir):
        conn.execute(text(f"CREATE TABLE {schema}.half (x int)"))
        raise OSError("disk full")

    monkeypatch.setattr(pg_publish, "_copy_generation", broken)
    with pytest.raises(OSError):
        pg_publish.publish(engine, e5_index)
    assert live_number(engine) == 1
    with engine.connect() as conn:
        schemas = conn.execute(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'shopqa_gen_%'")).scalars().all()
    assert schemas == ["shopqa_gen_000001"] and found["generation"]


def test_the_service_reads_postgres_only_and_switches_generations_atomically(pg, tiny_shop, e5_embedder, tmp_path):
    url, engine = pg
    _fresh(engine)
    shop = Path(shutil.copytree(tiny_shop, tmp_path / "shop"))
    build = tmp_path / "build"
    do_ingest(shop, build, e5_embedder)
    pg_publish.publish(engine, build)
    on_disk = Resources(Settings(index_dir=build, data_dir=tmp_path / "d1", llm_enabled=False), embedder=e5_embedder,
                        llm=None)
    on_disk.warm_up(llm=False)
    # A replica: no index folder and no shop folder, only the database.
    replica = Resources(Settings(index_dir=tmp_path / "nothing-here", data_dir=tmp_path / "d2", llm_enabled=False,
                                 database_url=url), embedder=e5_embedder, llm=None)
    replica.warm_up(llm=False)
    assert replica.error is None and replica.index().backend == "pgvector"
    questions = ["How long do refunds take?", "保修期多长？", "Does the X200 case fit my X300?",
                 "What does the TP-CHG-30 cost?", "Where is my order T-1002?", "我要找人工客服"]
    for n, question in enumerate(questions):
        want = on_disk.assistant().handle(question, f"disk-{n}").as_dict()
        got = replica.assistant().handle(question, f"pg-{n}").as_dict()
        assert (got["answer"], got["path"], [s["id"] for s in got["sources"]]) == \
            (want["answer"], want["path"], [s["id"] for s in want["sources"]]), question
    assert not (tmp_path / "nothing-here").exists()

    # A new generation: readers see the old one or the new one, whole, never a mix.
    with open(shop / "faqs" / "general.csv", "a", encoding="utf-8") as fh:
        fh.write('"How long is the warranty on refurbished phones?","Refurbished phones carry a 7-month warranty.",'
                 'warranty,,en\n')
    do_ingest(shop, build, e5_embedder)
    seen, errors, stop = set(), [], threading.Event()

    def read():
        while not stop.is_set():
            try:
                index = PgShopIndex(engine, e5_embedder, tmp_path / "reader")
                hits = HybridRetriever(index).search("refurbished phones", k=3, types={"faq"})
                seen.add((index.generation, any("7-month" in h.unit.text for h in hits)))
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert pg_publish.publish(engine, build).name == "shopqa_gen_000002"
        deadline = time.time() + 30
        while ("shopqa_gen_000002", True) not in seen and not errors and time.time() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        reader.join(60)
    assert errors == [] and seen == {("shopqa_gen_000001", False), ("shopqa_gen_000002", True)}
    assert replica.reload_if_changed(wait=True) and replica.index().generation == "shopqa_gen_000002"
    reply = replica.assistant().handle("How long is the warranty on refurbished phones?", "pg-new").as_dict()
    assert "7-month" in reply["answer"], reply
    # Old generations go: the live one and the one before stay.
    do_ingest(shop, build, e5_embedder, rebuild=True)
    pg_publish.publish(engine, build)
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT number FROM shopqa_index_generations ORDER BY number")).scalars().all()
    assert kept == [2, 3]
    assert replica.reload_if_changed(wait=True) and replica.index().generation == "shopqa_gen_000003"
    # The replica's copies of the shop files: this generation's and the one before, no older.
    assert sorted(p.name for p in (tmp_path / "d2" / "generations").iterdir()) == \
        ["shopqa_gen_000002", "shopqa_gen_000003"]


def test_shopqa_ingest_publishes_when_a_database_is_set(pg, tiny_shop, tmp_path, monkeypatch):
    url, engine = pg
    _fresh(engine)
    monkeypatch.setenv("SHOPQA_DATABASE_URL", url)
    result = CliRunner().invoke(cli, ["ingest", str(tiny_shop), "--index-dir", str(tmp_path / "idx"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Postgres: shopqa_gen_000001 is live" in result.output
    with engine.connect() as conn:
        stored = json.loads(conn.execute(text("SELECT manifest FROM shopqa_index_generations")).scalar_one())
    assert stored["published_as"] == "shopqa_gen_000001" and stored["keyword"]["n"] > 0
    monkeypatch.setenv("SHOPQA_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    result = CliRunner().invoke(cli, ["ingest", str(tiny_shop), "--index-dir", str(tmp_path / "idx"), "--quiet"])
    assert result.exit_code == 5 and "could not be published to Postgres" in result.output
