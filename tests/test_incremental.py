"""Incremental ingest by content hash, removal, rebuild, the lock and crash safety."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from shopqa.ingest import manifest
from shopqa.ingest.embedders import HashEmbedder
from shopqa.ingest.index import ShopIndex
from shopqa.ingest.lock import IngestLock, LockHeld
from shopdata import do_ingest

HERE = Path(__file__).parent


class CountingEmbedder(HashEmbedder):
    """Counts what it is asked to embed."""

    def __init__(self, dim=128):
        super().__init__(dim)
        self.seen: list[str] = []

    def embed_passages(self, texts):
        self.seen.extend(texts)
        return super().embed_passages(texts)


def _all_unit_keys(index_dir, emb):
    idx = ShopIndex(index_dir, emb)
    try:
        return {r[0] for r in idx.db().execute("SELECT record_key FROM units")}, idx
    finally:
        pass


def test_unchanged_reingest_embeds_nothing(shop_copy, tmp_path):
    emb = CountingEmbedder()
    first = do_ingest(shop_copy, tmp_path / "idx", emb)
    assert first.swapped and first.added == first.records["doc"] + 5 + 3 + 5 + 3
    emb.seen.clear()
    again = do_ingest(shop_copy, tmp_path / "idx", emb)
    assert (again.added, again.changed, again.removed) == (0, 0, 0)
    assert emb.seen == [] and not again.swapped and again.generation == first.generation


def test_an_older_tokenizer_is_refreshed_without_reembedding(shop_copy, tmp_path, caplog):
    emb = CountingEmbedder()
    index_dir = tmp_path / "idx"
    first = do_ingest(shop_copy, index_dir, emb)
    # Pretend the index was written by the previous tokenizer ("cases" -> "cas").
    db = ShopIndex(index_dir, emb).directory / "store.sqlite"
    import sqlite3
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE units SET tokens = 'stale'")
    data = json.loads((index_dir / "manifest.json").read_text())
    data.pop("tokenizer")
    (index_dir / "manifest.json").write_text(json.dumps(data))
    caplog.set_level("WARNING", logger="shopqa.index")
    ShopIndex(index_dir, emb)
    assert "run `shopqa ingest` once" in caplog.text
    emb.seen.clear()
    again = do_ingest(shop_copy, index_dir, emb)
    assert again.swapped and again.generation != first.generation and emb.seen == []
    idx = ShopIndex(index_dir, emb)
    assert "stale" not in {r[0] for r in idx.db().execute("SELECT tokens FROM units")}
    assert idx.keyword_search("refund business days", 3)  # the keyword index works on fresh tokens


def test_edited_faq_reembeds_only_that_faq(shop_copy, tmp_path):
    emb = CountingEmbedder()
    index_dir = tmp_path / "idx"
    do_ingest(shop_copy, index_dir, emb)
    old_ids = json.loads((index_dir / "manifest.json").read_text())["records"]
    emb.seen.clear()
    path = shop_copy / "faqs/general.csv"
    path.write_text(path.read_text().replace("free of charge until the order ships", "free until it ships"))
    report = do_ingest(shop_copy, index_dir, emb)
    assert (report.added, report.changed, report.removed) == (0, 1, 0)
    assert len(emb.seen) == 1 and "free until it ships" in emb.seen[0]
    new = json.loads((index_dir / "manifest.json").read_text())["records"]
    changed = [k for k in new if new[k]["units"] != old_ids[k]["units"]]
    assert len(changed) == 1 and changed[0].startswith("faq:faqs/general.csv#")
    idx = ShopIndex(index_dir, emb)
    hits = idx.keyword_search("cancel order free until it ships", 3)
    assert idx.units([hits[0][0]])[hits[0][0]].meta["answer"] == "Yes, free until it ships."
    assert idx.dense.ntotal == sum(len(r["units"]) for r in new.values())


def test_deleted_file_leaves_every_index_and_the_graph(shop_copy, tmp_path, hash_embedder):
    index_dir = tmp_path / "idx"
    do_ingest(shop_copy, index_dir, hash_embedder)
    before = json.loads((index_dir / "manifest.json").read_text())
    gone_ids = [u for k, r in before["records"].items() if r["source"] == "catalog/more.jsonl" for u in r["units"]]
    assert gone_ids
    (shop_copy / "catalog/more.jsonl").unlink()
    report = do_ingest(shop_copy, index_dir, hash_embedder)
    assert report.removed == 2
    idx = ShopIndex(index_dir, hash_embedder)
    assert idx.units(gone_ids) == {}
    remaining = {int(i) for i in idx.keyword.ids}
    assert not remaining & set(gone_ids)
    # Reconstructing a removed id from FAISS fails; a remaining one works.
    with pytest.raises(RuntimeError):
        idx.dense.reconstruct(gone_ids[0])
    assert idx.dense.reconstruct(int(next(iter(remaining)))).shape == (128,)
    assert not idx.graph.has_node("product:TP-CHG-30") and not idx.graph.has_node("product:TP-CASE-X300")
    assert all(not k.startswith("product:TP-CHG") for k in idx.manifest["records"])
    assert idx.keyword_search("30W USB-C charger", 5) == [] or all(
        u.source != "catalog/more.jsonl" for u in idx.units([i for i, _ in idx.keyword_search("charger", 5)]).values())


def test_rebuild_starts_from_scratch(shop_copy, tmp_path, hash_embedder):
    index_dir = tmp_path / "idx"
    do_ingest(shop_copy, index_dir, hash_embedder)
    report = do_ingest(shop_copy, index_dir, hash_embedder, rebuild=True)
    assert report.swapped and report.added == sum(report.records.values()) and report.changed == 0
    assert report.generation == "gen-000002"
    # Old generations are pruned down to the live one and the one before.
    do_ingest(shop_copy, index_dir, hash_embedder, rebuild=True)
    assert sorted(p.name for p in index_dir.glob("gen-*")) == ["gen-000002", "gen-000003"]


def test_embedder_mismatch_is_one_clear_error(tiny_index):
    with pytest.raises(manifest.EmbedderMismatch) as info:
        ShopIndex(tiny_index, HashEmbedder(64))
    message = str(info.value)
    assert "'hash:128'" in message and "'hash:64'" in message and "--rebuild" in message


def test_ingest_with_another_embedder_needs_rebuild(shop_copy, tmp_path, hash_embedder):
    index_dir = tmp_path / "idx"
    do_ingest(shop_copy, index_dir, hash_embedder)
    with pytest.raises(manifest.EmbedderMismatch):
        do_ingest(shop_copy, index_dir, HashEmbedder(64))
    assert do_ingest(shop_copy, index_dir, HashEmbedder(64), rebuild=True).swapped
    assert ShopIndex(index_dir, HashEmbedder(64)).dense.d == 64


def test_lock_stops_a_second_ingest_and_names_the_holder(shop_copy, tmp_path, hash_embedder):
    index_dir = tmp_path / "idx"
    with IngestLock(index_dir):
        with pytest.raises(LockHeld) as info:
            do_ingest(shop_copy, index_dir, hash_embedder)
    assert f"pid {os.getpid()}" in str(info.value) and ".ingest.lock" in str(info.value)
    assert do_ingest(shop_copy, index_dir, hash_embedder).swapped  # released afterwards


def test_lock_held_by_another_process_cli_exit_code(shop_copy, tmp_path):
    index_dir = tmp_path / "idx"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, %r)\n"
        "from shopqa.ingest.lock import IngestLock\n"
        "with IngestLock(%r):\n    print('held', flush=True); time.sleep(30)\n") % (str(HERE.parent), str(index_dir))],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        cli = subprocess.run([sys.executable, "-m", "shopqa.cli", "ingest", str(shop_copy), "--index-dir",
                              str(index_dir), "--embedder", "hash:128", "-q"], capture_output=True, text=True,
                             cwd=HERE.parent)
        assert cli.returncode == 4
        assert f"pid {holder.pid}" in cli.stderr and "another ingest is running" in cli.stderr
    finally:
        holder.kill()
        holder.wait()


def test_killed_ingest_leaves_the_previous_index_loadable(shop_copy, tmp_path, hash_embedder):
    index_dir = tmp_path / "idx"
    do_ingest(shop_copy, index_dir, hash_embedder)
    manifest_before = (index_dir / "manifest.json").read_bytes()
    proc = subprocess.Popen([sys.executable, str(HERE / "slow_ingest.py"), str(shop_copy), str(index_dir)],
                            stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.strip() == "embed":
                break
        time.sleep(1.5)  # a couple of batches into embedding
        assert list(index_dir.glob(".tmp-gen-*")), "the new generation is built beside the live one"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert (index_dir / "manifest.json").read_bytes() == manifest_before
    idx = ShopIndex(index_dir, hash_embedder)
    assert idx.keyword_search("refund", 3) and idx.dense.ntotal > 0
    assert idx.dense_search("refund business days", 3)
    # The next ingest clears the leftover and works (the kernel released the dead holder's lock).
    do_ingest(shop_copy, index_dir, hash_embedder, rebuild=True)
    assert not list(index_dir.glob(".tmp-gen-*"))


def test_ctrl_c_cleans_up_and_keeps_old_index(shop_copy, tmp_path, hash_embedder):
    index_dir = tmp_path / "idx"
    do_ingest(shop_copy, index_dir, hash_embedder)
    before = (index_dir / "manifest.json").read_bytes()

    class Interrupting(HashEmbedder):
        def embed_passages(self, texts):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        do_ingest(shop_copy, index_dir, Interrupting(128), rebuild=True)
    assert (index_dir / "manifest.json").read_bytes() == before
    assert not list(index_dir.glob(".tmp-gen-*"))
    assert ShopIndex(index_dir, hash_embedder).dense.ntotal > 0


def test_vectors_match_a_fresh_embedding(tiny_index, hash_embedder):
    idx = ShopIndex(tiny_index, hash_embedder)
    uid = int(idx.keyword.ids[0])
    unit = idx.units([uid])[uid]
    assert np.allclose(idx.dense.reconstruct(uid), hash_embedder.embed_passages([unit.text])[0], atol=1e-6)
