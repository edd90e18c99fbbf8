"""Optional cross-encoder reranking of retrieved hits (any local sentence-transformers CrossEncoder)."""
from __future__ import annotations

from pathlib import Path

from shopqa.answering.retrieval import Hit


class CrossEncoderReranker:
    """Re-scores the top hits with a cross-encoder; loaded in ``warm_up``."""

    def __init__(self, folder: str | Path, top_n: int = 20):
        self.folder = Path(folder).expanduser()
        if not (self.folder / "config.json").is_file():
            raise FileNotFoundError(f"{self.folder}: not a cross-encoder model folder (no config.json)")
        if top_n < 1:
            raise ValueError("top_n must be >= 1")
        self.top_n = top_n
        self._model = None

    def warm_up(self) -> None:
        """Load the model from its folder, offline."""
        if self._model is None:
            import os

            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import CrossEncoder

            self._model = CrossEncoder(str(self.folder), device="cpu")

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        """The first ``top_n`` hits reordered by cross-encoder score; the rest keep their order."""
        if not hits:
            return hits
        self.warm_up()
        head, tail = hits[: self.top_n], hits[self.top_n:]
        scores = self._model.predict([(query, h.unit.text) for h in head])
        order = sorted(range(len(head)), key=lambda i: -float(scores[i]))
        return [head[i] for i in order] + tail
