"""``shopqa ingest``: parse a shop folder, diff it against the live index by content hash,
embed only what changed, and swap in a complete new index generation atomically."""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from . import dense, graph, manifest, store
from .embedders import Embedder, make_embedder
from .generations import GEN_PREFIX, TMP_PREFIX, next_free_number, prune, remove_leftovers
from .keyword import KeywordIndex
from .lock import IngestLock
from .records import SOURCE_TYPES, Problem, SourceRecord
from .scan import scan
from .tokenize import TOKENIZER_VERSION, tokenize


class StrictFailure(Exception):
    """``--strict`` and the input has problems; nothing was changed."""

    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} input problem(s); nothing was changed (--strict)")
        self.problems = problems


@dataclass
class IngestReport:
    """What an ingest did, for the summary and for tests."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    embedded_units: int = 0
    records: dict[str, int] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    skipped_records: int = 0
    files: int = 0
    embed_seconds: float = 0.0
    wall_seconds: float = 0.0
    generation: str = ""
    swapped: bool = False

    @property
    def chunks_per_second(self) -> float:
        """Embedding throughput of this run (0 when nothing was embedded)."""
        return self.embedded_units / self.embed_seconds if self.embed_seconds > 0 else 0.0


@dataclass
class IngestOptions:
    """How to ingest; validated here so a bad value fails before any work."""

    shop_dir: Path
    index_dir: Path
    embedder: str = "e5-small"
    rebuild: bool = False
    strict: bool = False
    max_file_bytes: int = 20_000_000
    chunk_tokens: int = 220
    batch_size: int = 32
    progress: bool = False
    # FAQ files read as part of the shop from outside its folder (the FAQs staff publish from
    # the dashboard, data_dir/faqs/published.jsonl); their records' source is published/faqs/NAME.
    extra_faq_files: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        self.shop_dir, self.index_dir = Path(self.shop_dir), Path(self.index_dir)
        self.extra_faq_files = tuple(Path(p) for p in self.extra_faq_files)
        if not self.shop_dir.is_dir():
            raise FileNotFoundError(f"{self.shop_dir}: shop folder not found (expected docs/, faqs/, chats/, "
                                    "catalog/, orders/, intents/ inside)")
        for path in self.extra_faq_files:
            if not path.is_file():
                raise FileNotFoundError(f"{path}: extra FAQ file not found")
        if self.batch_size < 1 or self.chunk_tokens < 32 or self.max_file_bytes < 1:
            raise ValueError("batch_size >= 1, chunk_tokens >= 32 and max_file_bytes >= 1 are required")


def _bar(enabled: bool, desc: str, unit: str, total: int | None = None):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=False, dynamic_ncols=True)


def run(opts: IngestOptions, embedder: Embedder | None = None,
        on_phase: Callable[[str], None] = lambda phase: None) -> IngestReport:
    """Ingest ``opts.shop_dir`` into ``opts.index_dir``; see the module docstring.

    ``embedder`` may be passed in (tests, benchmarks) instead of built from ``opts.embedder``.
    ``on_phase`` is told each phase name ("parse", "embed", "write", "swap") as it starts.
    """
    started = time.perf_counter()
    embedder = embedder or make_embedder(opts.embedder, batch_size=opts.batch_size)
    report = IngestReport()
    opts.index_dir.mkdir(parents=True, exist_ok=True)
    with IngestLock(opts.index_dir):
        remove_leftovers(opts.index_dir)
        try:
            old = manifest.read(opts.index_dir)
        except manifest.IndexUnusable:
            old = None  # an older format or a damaged manifest: build from scratch
        if old and not opts.rebuild:
            manifest.check_embedder(old, embedder.id, opts.index_dir)
        if opts.rebuild:
            old = None

        on_phase("parse")
        files_bar = _bar(opts.progress, "parsing", "file")
        result = scan(opts.shop_dir, max_bytes=opts.max_file_bytes, chunk_tokens=opts.chunk_tokens,
                      progress=lambda it: _track(files_bar, it), extra_faq_files=opts.extra_faq_files)
        files_bar.close()
        report.problems, report.skipped_records, report.files = result.problems, result.skipped_records, result.files
        if opts.strict and result.problems:
            raise StrictFailure(result.problems)

        new_records = {r.key: r for r in result.records}
        old_records: dict[str, Any] = old["records"] if old else {}
        changed = [k for k, r in new_records.items() if k in old_records and old_records[k]["hash"] != r.content_hash]
        added = [k for k in new_records if k not in old_records]
        removed = [k for k in old_records if k not in new_records]
        unchanged = [k for k in new_records if k in old_records and k not in set(changed)]
        report.added, report.changed, report.removed, report.unchanged = len(added), len(changed), len(removed), len(unchanged)
        for rtype in SOURCE_TYPES:
            report.records[rtype] = sum(1 for r in result.records if r.type == rtype)
            report.units[rtype] = sum(len(r.units) for r in result.records if r.type == rtype)

        # An index tokenized by an older tokenizer is rebuilt even when no file changed (its
        # keyword tokens are recomputed; nothing is re-embedded).
        if old and not (added or changed or removed) and old.get("tokenizer") == TOKENIZER_VERSION:
            report.generation = old["generation"]
            report.wall_seconds = time.perf_counter() - started
            return report  # nothing to do: the live index already matches the folder

        _build(opts, embedder, old, new_records, added + changed, changed + removed, unchanged, report, on_phase)
    report.wall_seconds = time.perf_counter() - started
    return report


def _track(bar, iterable):
    for item in iterable:
        yield item
        bar.update(1)


def _build(opts: IngestOptions, embedder: Embedder, old: dict[str, Any] | None, records: dict[str, SourceRecord],
           to_embed: list[str], to_drop: list[str], unchanged: list[str], report: IngestReport,
           on_phase: Callable[[str], None]) -> None:
    """Write a complete new generation beside the live one, then make it live."""
    index_dir = opts.index_dir
    number = int(old["generation"][len(GEN_PREFIX):]) + 1 if old else next_free_number(index_dir)
    generation = f"{GEN_PREFIX}{number:06d}"
    tmp = index_dir / f"{TMP_PREFIX}{generation}"
    tmp.mkdir()
    try:
        conn = store.create(tmp / "store.sqlite")
        faiss_index, question_index, next_id = _carry_over(conn, index_dir, old, to_drop, unchanged)
        rows, record_units, next_id = _number_units(old, records, to_embed, unchanged, next_id)

        on_phase("embed")
        faiss_index, question_index, dim = _embed(opts, embedder, old, rows, conn, faiss_index, question_index,
                                                  report)

        on_phase("write")
        product_graph = _write_files(tmp, conn, records, faiss_index, question_index)

        on_phase("swap")
        final = index_dir / generation
        tmp.rename(final)
        manifest.fsync_path(index_dir)
        new_manifest = {
            "format_version": manifest.FORMAT_VERSION,
            "tokenizer": TOKENIZER_VERSION,
            "generation": generation,
            "embedder": {"id": embedder.id, "dim": int(dim)},
            "counts": {t: {"records": report.records[t], "units": report.units[t]} for t in SOURCE_TYPES},
            "graph": {"nodes": product_graph.number_of_nodes(), "edges": graph.edge_counts(product_graph)},
            "records": {k: {"type": records[k].type, "source": records[k].source, "hash": records[k].content_hash,
                            "units": record_units[k]} for k in sorted(records)},
            "next_id": next_id,
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "shop_dir": str(opts.shop_dir.resolve()),
        }
        manifest.write_atomic(index_dir / manifest.MANIFEST, new_manifest)
        report.generation, report.swapped = generation, True
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a kill -9 leaves it; the next ingest removes it
        raise
    prune(index_dir, generation)


def _carry_over(conn, index_dir: Path, old: dict[str, Any] | None, to_drop: list[str], unchanged: list[str]):
    """The live generation's units of the unchanged records, and its vector indexes without the
    dropped units; ``(None, None, 1)`` when there is no live generation to build on."""
    old_dir = index_dir / old["generation"] if old else None
    if old_dir is None:
        return None, None, 1
    store.copy_units(conn, old_dir / "store.sqlite", unchanged)
    if old.get("tokenizer") != TOKENIZER_VERSION:
        store.retokenize(conn, tokenize)
    faiss_index = dense.load(old_dir / "dense.faiss")
    question_index = dense.load(old_dir / "questions.faiss")
    dropped = [uid for key in to_drop for uid in old["records"][key]["units"]]
    dense.remove(faiss_index, dropped)
    dense.remove(question_index, dropped)
    return faiss_index, question_index, old["next_id"]


def _number_units(old: dict[str, Any] | None, records: dict[str, SourceRecord], to_embed: list[str],
                  unchanged: list[str], next_id: int) -> tuple[list[dict[str, Any]], dict[str, list[int]], int]:
    """Assign stable ids to the new units; unchanged records keep theirs. The store rows to
    embed, every record's unit ids, and the next free id."""
    rows: list[dict[str, Any]] = []
    record_units: dict[str, list[int]] = {k: old["records"][k]["units"] for k in unchanged} if old else {}
    for key in sorted(to_embed):
        rec = records[key]
        record_units[key] = []
        for unit in rec.units:
            rows.append({"id": next_id, "record_key": key, "type": rec.type, "source": rec.source,
                         "title": unit.title, "url": unit.url, "position": unit.position, "lang": unit.lang,
                         "text": unit.text, "tokens": tokenize(unit.text), "meta": unit.meta})
            record_units[key].append(next_id)
            next_id += 1
    return rows, record_units, next_id


def _embed(opts: IngestOptions, embedder: Embedder, old: dict[str, Any] | None, rows: list[dict[str, Any]], conn,
           faiss_index, question_index, report: IngestReport):
    """Embed the new units into the vector indexes (new ones on a fresh build) and the store;
    the indexes and their dimension."""
    if rows or faiss_index is None:
        embedder.warm_up()
    dim = embedder.dim if (rows or faiss_index is None) else old["embedder"]["dim"]
    if faiss_index is None:
        faiss_index, question_index = dense.new_index(dim), dense.new_index(dim)
    elif faiss_index.d != dim:
        raise manifest.EmbedderMismatch(f"the index has dimension {faiss_index.d} but embedder "
                                        f"{embedder.id!r} gives {dim}; rebuild with --rebuild")
    bar = _bar(opts.progress, "embedding", "chunk", total=len(rows))
    t0 = time.perf_counter()
    for start in range(0, len(rows), opts.batch_size):
        batch = rows[start:start + opts.batch_size]
        vectors = embedder.embed_passages([r["text"] for r in batch])
        dense.add(faiss_index, (r["id"] for r in batch), vectors)
        # FAQ questions get a query-side vector of their own: curated answers compare the
        # customer's question with the FAQ's question, not with the whole Q/A text.
        faqs = [r for r in batch if r["type"] == "faq"]
        if faqs:
            dense.add(question_index, (r["id"] for r in faqs),
                      embedder.embed_queries([r["meta"]["question"] for r in faqs]))
        store.insert_units(conn, batch)
        bar.update(len(batch))
    bar.close()
    report.embed_seconds = time.perf_counter() - t0
    report.embedded_units = len(rows)
    return faiss_index, question_index, dim


def _write_files(tmp: Path, conn, records: dict[str, SourceRecord], faiss_index, question_index):
    """Products and orders into the store, then the vector, keyword and graph files, all synced;
    the product graph."""
    store.insert_products(conn, (r.data for r in records.values() if r.type == "product"))
    store.insert_orders(conn, ((r.data, r.source) for r in records.values() if r.type == "order"))
    conn.commit()
    ids, tokens = store.all_tokens(conn)
    conn.close()
    if len(ids) != faiss_index.ntotal:
        raise RuntimeError(f"internal error: {len(ids)} units but {faiss_index.ntotal} vectors; "
                           "the previous index may be damaged, run with --rebuild")
    dense.save(faiss_index, tmp / "dense.faiss")
    dense.save(question_index, tmp / "questions.faiss")
    KeywordIndex.build(ids, tokens).save(tmp)
    product_graph = graph.build(records.values())
    graph.save(product_graph, tmp / "graph.json")
    for path in tmp.iterdir():
        manifest.fsync_path(path)
    return product_graph
