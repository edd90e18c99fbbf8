"""Run an ingest with a deliberately slow embedder, printing each phase; used to kill one mid-way."""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shopqa.ingest.embedders import HashEmbedder  # noqa: E402
from shopqa.ingest.pipeline import IngestOptions, run  # noqa: E402


class SlowEmbedder(HashEmbedder):
    """The hash embedder, a second per batch: long enough to be killed while embedding."""

    def embed_passages(self, texts):
        time.sleep(1.0)
        return super().embed_passages(texts)


if __name__ == "__main__":
    shop, index_dir = Path(sys.argv[1]), Path(sys.argv[2])
    emb = SlowEmbedder(128)
    run(IngestOptions(shop_dir=shop, index_dir=index_dir, embedder=emb.id, batch_size=1, rebuild=True),
        embedder=emb, on_phase=lambda phase: print(phase, flush=True))
