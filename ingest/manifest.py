"""``indexes/manifest.json``: the single atomic commit point of an index.

The manifest names the generation folder that holds the index files. Writing a
new manifest (temp file, fsync, rename) is what makes a new build live, so a
crash before that leaves the previous index complete and loadable.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

FORMAT_VERSION = 2  # 2: questions.faiss holds FAQ question vectors
MANIFEST = "manifest.json"


class IndexUnusable(Exception):
    """The index cannot be used as asked; the message says why and how to fix it."""


class EmbedderMismatch(IndexUnusable):
    """The index was built with another embedder than the one configured."""


def read(index_dir: Path) -> dict[str, Any] | None:
    """The live manifest, or None when the folder holds no index yet."""
    path = index_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            manifest = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexUnusable(f"{path}: unreadable manifest ({exc}); rebuild with `shopqa ingest SHOP --rebuild`") from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexUnusable(f"{path}: index format {manifest.get('format_version')} is not {FORMAT_VERSION}; "
                          "rebuild with `shopqa ingest SHOP --rebuild`")
    return manifest


def write_atomic(path: Path, data: Any) -> None:
    """Write JSON so readers see either the old file or the new one, never a torn one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; readers may run as another user
        os.replace(tmp, path)
        fsync_path(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fsync_path(path: Path) -> None:
    """Flush a file, or a directory (making a rename inside it durable), to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_embedder(manifest: dict[str, Any], embedder_id: str, index_dir: Path) -> None:
    """Fail with one clear message when the index was built by another embedder."""
    built = manifest["embedder"]
    if built["id"] != embedder_id:
        raise EmbedderMismatch(
            f"the index in {index_dir} was built with embedder {built['id']!r} (dim {built['dim']}), "
            f"but the settings ask for {embedder_id!r}. Set SHOPQA_EMBEDDER={built['id']} to use this index, "
            f"or rebuild it: shopqa ingest SHOP_DIR --index-dir {index_dir} --rebuild"
        )
