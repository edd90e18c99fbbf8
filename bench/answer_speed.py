"""Answer-speed benchmark: shopqa beside a plain LangChain RetrievalQA, in one run, same models.

Prints, on the index given (default: the sample shop in ./indexes, e5-small, packaged SmolLM2):
  - curated-answer latency p50/p95 (target p50 < 50 ms)
  - retrieval latency p50/p95 (target p50 < 30 ms on a 10k-chunk index: pass --big-index DIR)
  - time to first token p50 for generated answers (target < 1.5 s)
  - generation tokens/s vs llama-cpp-python called directly on the same prompts (target >= 0.95x)
  - end-to-end p50 vs langchain_classic RetrievalQA built on the same embedder, vectors and GGUF
    (target: shopqa at most 0.5x)

    python bench/answer_speed.py
    python bench/answer_speed.py --big-index bench/out/cache/generated-10000-e5-small --rounds 3
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shopqa.evals.baseline import build_retrieval_qa  # noqa: E402

# Benchmark inputs (customer questions about the sample shop), not results.
FAQ_QUESTIONS_LIMIT = 30
OPEN_QUESTIONS = [
    "How long does standard shipping to Germany take?",
    "What is your return window for unopened items?",
    "Which payment methods can I use on the website?",
    "How do I request a VAT invoice for my order?",
    "What does the warranty on the X300 cover?",
    "Can I change the delivery address after ordering?",
    "How do I reset my password?",
    "Is there a student discount and how do I get it?",
    "退货运费谁来承担？",
    "国际快递需要几天？",
    "How do I make a warranty claim for broken earbuds?",
    "Do gift cards expire?",
]


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


class RecordingLLM:
    """Wraps shopqa's LLM to time the first token and count tokens, and to keep the prompts."""

    def __init__(self, inner):
        self.inner = inner
        self.id = inner.id
        self.calls: list[dict] = []

    def warm_up(self) -> None:
        self.inner.warm_up()

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def stream(self, system: str, user: str, max_tokens: int = 256):
        start = time.perf_counter()
        record = {"system": system, "user": user, "max_tokens": max_tokens, "first": None, "pieces": 0}
        try:
            for piece in self.inner.stream(system, user, max_tokens):
                if record["first"] is None:
                    record["first"] = time.perf_counter() - start
                record["pieces"] += 1
                yield piece
        finally:  # also when shopqa stops a generation that failed the grounding check
            record["total"] = time.perf_counter() - start
            self.calls.append(record)


def direct_tokens_per_s(llama, call: dict) -> float:
    """llama-cpp-python alone on the same chat prompt and as many tokens: tokens per second after the first."""
    start = time.perf_counter()
    first, pieces = None, 0
    for chunk in llama.create_chat_completion(
            messages=[{"role": "system", "content": call["system"]}, {"role": "user", "content": call["user"]}],
            max_tokens=call["max_tokens"], temperature=0.0, stream=True):
        if chunk["choices"][0]["delta"].get("content"):
            if first is None:
                first = time.perf_counter()
            pieces += 1
            if pieces >= call["pieces"]:
                break  # as many tokens as shopqa generated (it stops at a failed grounding check)
    end = time.perf_counter()
    return (pieces - 1) / (end - first) if first and pieces > 1 and end > first else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", default=str(REPO / "indexes"))
    parser.add_argument("--big-index", help="a ~10k-chunk index for the retrieval latency target")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the question sets")
    parser.add_argument("--skip-baseline", action="store_true", help="do not run the LangChain RetrievalQA")
    args = parser.parse_args()

    from shopqa.resources import Resources
    from shopqa.answering.retrieval import HybridRetriever
    from shopqa.settings import Settings
    from shopqa.ingest.index import ShopIndex

    settings = Settings(index_dir=args.index_dir)
    res = Resources(settings)
    res.warm_up()
    if res.error:
        sys.exit(f"cannot load: {res.error}")
    res.llm = RecordingLLM(res.llm)
    answerer = res.answerer()
    index = answerer.index
    print(f"machine: {os.cpu_count()} cores | index {index.index_dir} ({index.dense.ntotal} chunks) | "
          f"embedder {index.manifest['embedder']['id']} | LLM {res.llm.id} | {time.strftime('%Y-%m-%d')}")

    # 1. curated answers: the shop's own FAQ questions, asked as written.
    questions = [r[0] for r in index.db().execute(
        "SELECT json_extract(meta, '$.question') FROM units WHERE type = 'faq' ORDER BY id LIMIT ?",
        (FAQ_QUESTIONS_LIMIT,))]
    curated_ms, paths = [], []
    for _ in range(args.rounds):
        for q in questions:
            t0 = time.perf_counter()
            a = answerer.answer(q)
            curated_ms.append((time.perf_counter() - t0) * 1000)
            paths.append(a.path)
    print(f"curated answers     p50 {pct(curated_ms, .5):7.1f} ms  p95 {pct(curated_ms, .95):7.1f} ms  "
          f"({paths.count('curated')}/{len(paths)} took the curated path; target p50 < 50 ms)")

    # 2. retrieval latency
    big = ShopIndex(Path(args.big_index), index.embedder) if args.big_index else index
    retriever = HybridRetriever(big)
    retrieval_ms = []
    for _ in range(args.rounds):
        for q in OPEN_QUESTIONS + questions[:10]:
            t0 = time.perf_counter()
            retriever.search(q, k=8)
            retrieval_ms.append((time.perf_counter() - t0) * 1000)
    print(f"retrieval           p50 {pct(retrieval_ms, .5):7.1f} ms  p95 {pct(retrieval_ms, .95):7.1f} ms  "
          f"on {big.dense.ntotal} chunks (target p50 < 30 ms on 10k)")

    # 3. generated answers: TTFT and tokens/s, then llama-cpp-python directly on the same prompts.
    res.llm.calls.clear()
    e2e_ms, paths = [], []
    for _ in range(args.rounds):
        for q in OPEN_QUESTIONS:
            t0 = time.perf_counter()
            a = answerer.answer(q)
            e2e_ms.append((time.perf_counter() - t0) * 1000)
            paths.append(a.path)
    calls = [c for c in res.llm.calls if c["first"] is not None]
    ttft = [c["first"] * 1000 for c in calls]
    ours_tps = [(c["pieces"] - 1) / (c["total"] - c["first"]) for c in calls if c["pieces"] > 1]
    llama = res.llm.inner.llama
    direct_tps = [direct_tokens_per_s(llama, c) for c in calls[: len(OPEN_QUESTIONS)]]
    print(f"time to first token p50 {pct(ttft, .5):7.1f} ms  p95 {pct(ttft, .95):7.1f} ms  "
          f"over {len(calls)} LLM calls (target p50 < 1500 ms)")
    ratio = statistics.median(ours_tps) / statistics.median(direct_tps) if ours_tps and direct_tps else float("nan")
    print(f"generation tokens/s shopqa {statistics.median(ours_tps):6.1f}  direct llama-cpp "
          f"{statistics.median(direct_tps):6.1f}  ratio {ratio:.2f} (target >= 0.95)")
    print(f"end-to-end shopqa   p50 {pct(e2e_ms, .5):7.1f} ms  p95 {pct(e2e_ms, .95):7.1f} ms  "
          f"paths: {', '.join(f'{p} {paths.count(p)}' for p in sorted(set(paths)))}")

    # 4. the plain LangChain RetrievalQA on the same questions
    if not args.skip_baseline:
        qa = build_retrieval_qa(index, index.embedder, str(res.llm.inner.model_path), settings.max_answer_tokens,
                                os.cpu_count() or 1)
        qa.invoke({"query": OPEN_QUESTIONS[0]})  # warm-up, as shopqa's warm-up did
        base_ms = []
        for _ in range(args.rounds):
            for q in OPEN_QUESTIONS:
                t0 = time.perf_counter()
                qa.invoke({"query": q})
                base_ms.append((time.perf_counter() - t0) * 1000)
        print(f"end-to-end RetrievalQA p50 {pct(base_ms, .5):7.1f} ms  p95 {pct(base_ms, .95):7.1f} ms")
        print(f"shopqa / RetrievalQA p50 ratio {pct(e2e_ms, .5) / pct(base_ms, .5):.2f} (target <= 0.5)")


if __name__ == "__main__":
    main()
