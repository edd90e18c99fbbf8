"""Ingest benchmark: prints chunks/s per embedder, peak RSS, unchanged re-ingest cost and
pipeline overhead against the embedder's raw batch speed, all measured in one run.

    python bench/ingest.py                       # sample shop + generated 10k-chunk corpus, both embedders
    python bench/ingest.py --chunks 2000 --embedders e5-small

Each (embedder, corpus) pair runs in its own process so peak RSS is its own.
The generated corpus is built from the public WixQA and TechQA articles in
../shared/datasets (read there, never copied), cut into shop-like articles.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATASETS = REPO.parent / "shared" / "datasets"
EMBEDDERS = ["e5-small", "sentence-transformers:all-MiniLM-L6-v2"]


def _paragraphs() -> list[str]:
    """Real support-article paragraphs from the shared public datasets."""
    paras: list[str] = []
    for name, key in (("wixqa/wixqa_public_rag_sample.jsonl", None), ("techqa/techqa_rag_eval_sample.jsonl", None)):
        path = DATASETS / name
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts = _texts(row)
            for text in texts:
                paras.extend(p.strip() for p in text.split("\n") if len(p.strip()) > 80)
    if not paras:  # no shared data: fall back to generated sentences so the script still runs
        rng = random.Random(1)
        words = "order ship refund return warranty charger cable case phone battery invoice payment".split()
        paras = [" ".join(rng.choice(words) for _ in range(120)) for _ in range(2000)]
    return list(dict.fromkeys(paras))


def _texts(row: dict) -> list[str]:
    out = []
    for value in row.values():
        if isinstance(value, str) and len(value) > 400:
            out.append(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    out.extend(v for v in item.values() if isinstance(v, str) and len(v) > 400)
                elif isinstance(item, str) and len(item) > 400:
                    out.append(item)
    return out


def generate_corpus(root: Path, chunks: int) -> Path:
    """A shop folder whose docs/ yield about ``chunks`` chunks (one section per chunk)."""
    from shopqa.ingest.chunking import count_tokens

    paras = _paragraphs()
    rng = random.Random(42)
    docs = root / "docs"
    docs.mkdir(parents=True)
    made, n = 0, 0
    while made < chunks:
        sections = []
        for s in range(10):
            body, size = [], 0
            while size < 150:  # about one 220-token chunk per section
                p = rng.choice(paras)
                body.append(p)
                size += count_tokens(p)
            sections.append(f"## Section {s + 1}\n\n" + "\n\n".join(body)[:1400])
        (docs / f"article-{n:05d}.md").write_text(f"# Generated article {n}\n\n" + "\n\n".join(sections) + "\n")
        n += 1
        made += 10
    return root


def _raw(emb, texts: list[str], batch_size: int) -> float:
    """Seconds the embedder alone takes for ``texts`` in the pipeline's batch size."""
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch_size):
        emb.embed_passages(texts[i:i + batch_size])
    return time.perf_counter() - t0


def child(embedder_spec: str, shop: Path, raw_sample: int, keep: Path | None = None) -> dict:
    """Full ingest, unchanged re-ingest and raw embedding speed, in this process."""
    from shopqa.ingest.embedders import make_embedder
    from shopqa.ingest.pipeline import IngestOptions, run

    emb = make_embedder(embedder_spec)
    t0 = time.perf_counter()
    emb.warm_up()
    load_s = time.perf_counter() - t0
    from shopqa.ingest.scan import scan

    # The raw baseline brackets the pipeline run (half before, half after), so the
    # noise of this shared 2-core machine falls on both sides of the ratio alike.
    texts = [u.text for r in scan(shop, max_bytes=20_000_000, chunk_tokens=220).records for u in r.units]
    texts = random.Random(7).sample(texts, min(raw_sample, len(texts)))
    half = len(texts) // 2
    index_dir = keep or Path(tempfile.mkdtemp(prefix="shopqa-bench-idx-"))
    try:
        opts = IngestOptions(shop_dir=shop, index_dir=index_dir, embedder=emb.id)
        raw_s = _raw(emb, texts[:half], opts.batch_size)
        full = run(opts, embedder=emb)
        raw_s += _raw(emb, texts[half:], opts.batch_size)
        again = run(opts, embedder=emb)
        assert again.embedded_units == 0 and (again.added, again.changed, again.removed) == (0, 0, 0)
    finally:
        if keep is None:
            shutil.rmtree(index_dir, ignore_errors=True)
    return {
        "embedder": embedder_spec, "chunks": full.embedded_units, "model_load_s": round(load_s, 2),
        "full_s": round(full.wall_seconds, 2), "embed_s": round(full.embed_seconds, 2),
        "pipeline_chunks_per_s": round(full.embedded_units / full.wall_seconds, 2),
        "raw_chunks_per_s": round(len(texts) / raw_s, 2), "raw_sample": len(texts),
        "reingest_s": round(again.wall_seconds, 3),
        "reingest_fraction": round(again.wall_seconds / full.wall_seconds, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=10_000, help="size of the generated corpus (default 10000)")
    parser.add_argument("--embedders", default=",".join(EMBEDDERS), help="comma-separated embedder specs")
    parser.add_argument("--raw-sample", type=int, default=600, help="chunks embedded raw for the speed baseline")
    parser.add_argument("--shop", type=Path, default=REPO / "examples" / "sample-shop")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")
    parser.add_argument("--keep-index", type=Path,
                        help="keep each generated-corpus index under this folder (for bench/answer_speed.py)")
    parser.add_argument("--_child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        keep = Path(args._child[2]) if len(args._child) > 2 else None
        print(json.dumps(child(args._child[0], Path(args._child[1]), args.raw_sample, keep)))
        return

    work = Path(tempfile.mkdtemp(prefix="shopqa-bench-"))
    try:
        corpora = {"sample-shop": args.shop}
        if args.chunks > 0:
            corpora[f"generated-{args.chunks}"] = generate_corpus(work / "generated", args.chunks)
        print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}")
        header = (f"{'corpus':<18} {'embedder':<40} {'chunks':>6} {'full s':>8} {'pipe c/s':>9} {'raw c/s':>8} "
                  f"{'pipe/raw':>8} {'re-ingest s':>11} {'re/full':>8} {'RSS MB':>7}")
        if not args.json:
            print(header)
        for corpus, shop in corpora.items():
            for spec in args.embedders.split(","):
                keep = []
                if args.keep_index and corpus != "sample-shop":
                    slug = spec.replace(":", "-").replace("/", "-")
                    target = args.keep_index / f"{corpus}-{slug}"
                    shutil.rmtree(target, ignore_errors=True)
                    keep = [str(target)]
                proc = subprocess.run([sys.executable, __file__, "--raw-sample", str(args.raw_sample),
                                       "--_child", spec, str(shop), *keep], capture_output=True, text=True, cwd=REPO)
                if proc.returncode:
                    print(f"{corpus} {spec}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
                    continue
                r = json.loads(proc.stdout.strip().splitlines()[-1]) | {"corpus": corpus}
                if args.json:
                    print(json.dumps(r))
                    continue
                ratio = r["pipeline_chunks_per_s"] / r["raw_chunks_per_s"]
                print(f"{corpus:<18} {spec:<40} {r['chunks']:>6} {r['full_s']:>8.1f} {r['pipeline_chunks_per_s']:>9.1f} "
                      f"{r['raw_chunks_per_s']:>8.1f} {ratio:>8.2f} {r['reingest_s']:>11.3f} "
                      f"{r['reingest_fraction']:>8.4f} {r['peak_rss_mb']:>7.0f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
