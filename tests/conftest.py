"""Fixtures: a tiny real shop and its index, built once per session."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from shopdata import write_shop  # noqa: E402

from shopqa.ingest.embedders import HashEmbedder  # noqa: E402
from shopqa.ingest.pipeline import IngestOptions, run  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"


@pytest.fixture(scope="session", autouse=True)
def shared_embedding_cache(tmp_path_factory):
    """One cache of example embeddings for the whole run (servers started by tests inherit it),
    so the classifiers' examples are embedded once per embedder, not once per test."""
    import os

    path = tmp_path_factory.mktemp("embedding-cache")
    old = os.environ.get("SHOPQA_CACHE_DIR")
    os.environ["SHOPQA_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("SHOPQA_CACHE_DIR", None)
    else:
        os.environ["SHOPQA_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def tiny_shop(tmp_path_factory) -> Path:
    """The tiny shop, read-only for tests (copy it with ``shop_copy`` to mutate)."""
    return write_shop(tmp_path_factory.mktemp("tiny-shop"))


@pytest.fixture
def shop_copy(tiny_shop, tmp_path) -> Path:
    """A private copy of the tiny shop that a test may edit."""
    return Path(shutil.copytree(tiny_shop, tmp_path / "shop"))


@pytest.fixture(scope="session")
def hash_embedder() -> HashEmbedder:
    """The fast lexical test double."""
    return HashEmbedder(128)


@pytest.fixture(scope="session")
def tiny_index(tiny_shop, hash_embedder, tmp_path_factory) -> Path:
    """The tiny shop ingested with the hash embedder (read-only for tests)."""
    index_dir = tmp_path_factory.mktemp("tiny-index")
    run(IngestOptions(shop_dir=tiny_shop, index_dir=index_dir, embedder=hash_embedder.id), embedder=hash_embedder)
    return index_dir


@pytest.fixture(scope="session")
def e5_embedder():
    """The real packaged multilingual embedder, loaded once."""
    from shopqa.ingest.embedders import E5SmallEmbedder

    emb = E5SmallEmbedder()
    emb.warm_up()
    return emb


@pytest.fixture(scope="session")
def e5_index(tiny_shop, e5_embedder, tmp_path_factory) -> Path:
    """The tiny shop ingested with the real e5-small embedder."""
    index_dir = tmp_path_factory.mktemp("e5-index")
    run(IngestOptions(shop_dir=tiny_shop, index_dir=index_dir, embedder="e5-small"), embedder=e5_embedder)
    return index_dir



@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium under Playwright, once per session (skipped without it)."""
    from browsing import ARGS, CHROMIUM, SHOTS

    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (run scripts/install-browser.sh)")
    SHOTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh browser context and page (own cookies) for one test."""
    context = browser.new_context()
    pg = context.new_page()
    pg.set_default_timeout(120_000)
    yield pg
    context.close()
