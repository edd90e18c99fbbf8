"""The index folder's generations: ``gen-NNNNNN`` folders, the live one named by the manifest,
half-written ``.tmp-`` ones that were never live, and the pruning of old ones."""
from __future__ import annotations

import shutil
from pathlib import Path

GEN_PREFIX = "gen-"
TMP_PREFIX = ".tmp-"
KEEP_GENERATIONS = 2  # the live one and the one before, for readers that still hold it


def next_free_number(index_dir: Path) -> int:
    """After --rebuild or on a fresh folder, never reuse a generation name a reader may hold."""
    numbers = [int(p.name[len(GEN_PREFIX):]) for p in index_dir.glob(f"{GEN_PREFIX}*") if p.name[len(GEN_PREFIX):].isdigit()]
    return max(numbers, default=0) + 1


def remove_leftovers(index_dir: Path) -> None:
    """Half-written generations of an ingest that was killed; they were never live."""
    for path in index_dir.glob(f"{TMP_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)


def prune(index_dir: Path, live: str) -> None:
    """Keep the live generation and the one before it."""
    gens = sorted(p for p in index_dir.glob(f"{GEN_PREFIX}*") if p.is_dir() and p.name != live)
    for path in gens[: max(0, len(gens) - (KEEP_GENERATIONS - 1))]:
        shutil.rmtree(path, ignore_errors=True)
