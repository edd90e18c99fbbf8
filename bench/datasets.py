"""Public benchmark corpora as shop folders, and cached indexes over them.

Shared by ``bench/eval_retrieval.py`` and ``bench/eval_answers.py``.

The datasets are read from ``../shared/datasets`` (relative to the repository) and never
copied into the repository: each corpus is written as a shop folder under
``bench/out/corpora/<name>/docs/`` (git-ignored), one Markdown article per gold document,
with YAML front matter (``title``, ``lang`` and, when known, ``url``) and the article text as
body. The article file ``docs/<safe id>.md`` becomes the record key ``doc:docs/<safe id>.md``
in the index, which is how questions name their gold documents.

* ``wixqa``  - WixQA expert slice: 160 questions, the 173 distinct gold help-center articles
  (the first line of an article's text is its title). Every question is answerable.
* ``techqa`` - TechQA RAG-eval sample: 480 questions, 96 of them unanswerable; the corpus is
  every distinct technote found in the contexts (by filename), the gold of an answerable
  question is its context filenames.

``ensure_index(corpus, embedder_spec)`` ingests a corpus into
``bench/out/cache/<corpus>-<embedder slug>/``; ingest is incremental, so a second call on an
unchanged corpus returns at once.
"""
from __future__ import annotations

import ast
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
OUT = REPO / "bench" / "out"
CORPORA_DIR = OUT / "corpora"
CACHE_DIR = OUT / "cache"
LOCK_WAIT_SECONDS = 3600  # ensure_index waits this long for another process ingesting the same index

WIXQA_FILE = DATASETS / "wixqa" / "wixqa_public_rag_sample.jsonl"
TECHQA_FILE = DATASETS / "techqa" / "techqa_rag_eval_sample.jsonl"

CORPORA = ("wixqa", "techqa")
# The four dev shops (../shared/dev-shops), which the answer model and route gate are fitted on.
DEV_SHOPS_DIR = REPO.parent / "shared" / "dev-shops"
DEV_SHOPS = ("apparel-en", "electronics-zh", "skincare-bilingual", "furniture-en")
# Short names accepted on the command line -> embedder specs of shopqa.ingest.embedders.make_embedder.
EMBEDDERS = {"e5-small": "e5-small", "minilm": "sentence-transformers:all-MiniLM-L6-v2"}


@dataclass
class Document:
    """One gold document of a corpus, as it is written into the shop folder."""

    gold_id: str       # the dataset's own id (WixQA article id, TechQA technote filename)
    title: str
    body: str
    url: str = ""

    @property
    def filename(self) -> str:
        """``<safe id>.md``: the id with anything outside ``[A-Za-z0-9._-]`` replaced."""
        stem = re.sub(r"\.txt$", "", self.gold_id)
        return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") + ".md"

    @property
    def record_key(self) -> str:
        """The key ingest gives this article (``doc:docs/<file>``)."""
        return f"doc:docs/{self.filename}"


@dataclass
class Question:
    """A benchmark question with its gold record keys and the expert answer."""

    id: str
    question: str
    answer: str
    gold: list[str] = field(default_factory=list)   # record keys, e.g. "doc:docs/<safe id>.md"
    answerable: bool = True


@dataclass
class Corpus:
    """A corpus written as a shop folder, plus its questions."""

    name: str
    shop_dir: Path
    questions: list[Question]
    record_keys: dict[str, str]   # gold id -> record key

    @property
    def answerable(self) -> list[Question]:
        """The questions that have gold documents."""
        return [q for q in self.questions if q.answerable]


# -- reading the datasets --------------------------------------------------------------------
def _rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: dataset not found (expected the shared public datasets in "
                                f"{DATASETS}; see its README.md)")
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _as_bool(value: Any) -> bool:
    """TechQA's ``is_impossible`` is "True"/"False" in some exports and a JSON bool in others."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _as_list(value: Any) -> list[Any]:
    """A list that may arrive JSON-encoded (or as a Python repr) inside a string."""
    if isinstance(value, list):
        return value
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = ast.literal_eval(text)
        if not isinstance(parsed, list):
            raise ValueError(f"expected a list, got {type(parsed).__name__}: {text[:80]!r}")
        return parsed
    raise ValueError(f"expected a list, got {type(value).__name__}")


def _wixqa_documents_and_questions() -> tuple[list[Document], list[Question]]:
    docs: dict[str, Document] = {}
    questions: list[Question] = []
    for row in _rows(WIXQA_FILE):
        for ctx in _as_list(row.get("contexts")):
            if ctx["id"] in docs:
                continue
            first, _, rest = ctx["text"].partition("\n")
            title = (ctx.get("title") or first).strip()
            # The first line repeats the title; it becomes the article's heading instead.
            body = rest if first.strip() == title else ctx["text"]
            docs[ctx["id"]] = Document(ctx["id"], title, body.strip(), ctx.get("url") or "")
        questions.append(Question(id=row["id"], question=row["question"], answer=row["answer"],
                                  gold=list(row["article_ids"]), answerable=True))
    return list(docs.values()), questions


_TECHNOTE = re.compile(r"^\s*Title:\s*(?P<title>.*?)\s*\n\s*(?:Text:\s*\n)?(?P<body>.*)\Z", re.S)


def _technote(filename: str, text: str) -> Document:
    """``Title: ... - United States\\n\\nText:\\n...`` -> title and body."""
    match = _TECHNOTE.match(text)
    if not match:
        return Document(filename, filename.rsplit(".", 1)[0], text.strip())
    title = re.sub(r"\s+-\s+United States\s*$", "", match.group("title")).strip() or filename
    return Document(filename, title, match.group("body").strip())


def _techqa_documents_and_questions() -> tuple[list[Document], list[Question]]:
    docs: dict[str, Document] = {}
    questions: list[Question] = []
    for row in _rows(TECHQA_FILE):
        contexts = _as_list(row.get("contexts"))
        for ctx in contexts:
            docs.setdefault(ctx["filename"], _technote(ctx["filename"], ctx["text"]))
        answerable = not _as_bool(row.get("is_impossible")) and bool(contexts)
        questions.append(Question(id=row["id"], question=row["question"].strip(), answer=row.get("answer") or "",
                                  gold=list(dict.fromkeys(c["filename"] for c in contexts)) if answerable else [],
                                  answerable=answerable))
    return list(docs.values()), questions


_LOADERS = {"wixqa": _wixqa_documents_and_questions, "techqa": _techqa_documents_and_questions}


# -- writing shop folders --------------------------------------------------------------------
def _markdown(doc: Document) -> str:
    front = [f"title: {json.dumps(doc.title, ensure_ascii=False)}", "lang: en"]  # a JSON string is valid YAML
    if doc.url:
        front.append(f"url: {json.dumps(doc.url)}")
    return "---\n" + "\n".join(front) + "\n---\n" + f"# {doc.title}\n\n{doc.body}\n"


def write_shop(name: str, documents: Iterable[Document], root: Path = CORPORA_DIR) -> Path:
    """Write ``documents`` as ``<root>/<name>/docs/*.md``; return the shop folder.

    Files whose content is unchanged are not rewritten and stale ``.md`` files are removed,
    so the folder always holds exactly this corpus.
    """
    shop = root / name
    docs_dir = shop / "docs"
    docs_dir.mkdir(parents=True, exist_ok=True)
    wanted: dict[str, str] = {}
    for doc in documents:
        if doc.filename in wanted:
            raise ValueError(f"{name}: two documents map to {doc.filename}; make the safe ids unique")
        wanted[doc.filename] = _markdown(doc)
    for path in docs_dir.glob("*.md"):
        if path.name not in wanted:
            path.unlink()
    for filename, text in wanted.items():
        path = docs_dir / filename
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            tmp = docs_dir / f".{filename}.{os.getpid()}.tmp"  # hidden, so a concurrent ingest skips it
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
    return shop


def load_corpus(name: str) -> Corpus:
    """Write corpus ``name`` (wixqa or techqa) as a shop folder and return it with its questions.

    Question gold ids are translated to record keys; the questions are also saved as
    ``bench/out/corpora/<name>-questions.jsonl`` for inspection.
    """
    if name not in _LOADERS:
        raise ValueError(f"unknown corpus {name!r}; known: {', '.join(CORPORA)}")
    documents, questions = _LOADERS[name]()
    keys = {d.gold_id: d.record_key for d in documents}
    for q in questions:
        missing = [g for g in q.gold if g not in keys]
        if missing:
            raise ValueError(f"{name} question {q.id}: gold documents {missing} are not in the corpus")
        q.gold = [keys[g] for g in q.gold]
    shop = write_shop(name, documents)
    listing = CORPORA_DIR / f"{name}-questions.jsonl"
    tmp = listing.with_name(f".{listing.name}.{os.getpid()}.tmp")  # atomic: other benchmarks may read it
    tmp.write_text("".join(json.dumps(asdict(q), ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
    os.replace(tmp, listing)
    return Corpus(name=name, shop_dir=shop, questions=questions, record_keys=keys)


def wixqa() -> tuple[Path, list[Question]]:
    """The WixQA corpus as ``(shop_dir, questions)``."""
    corpus = load_corpus("wixqa")
    return corpus.shop_dir, corpus.questions


def techqa() -> tuple[Path, list[Question]]:
    """The TechQA corpus as ``(shop_dir, questions)``."""
    corpus = load_corpus("techqa")
    return corpus.shop_dir, corpus.questions


# -- indexes ----------------------------------------------------------------------------------
def embedder_spec(name: str) -> str:
    """A command-line embedder name (``e5-small``, ``minilm``) or any full spec -> the spec."""
    return EMBEDDERS.get(name, name)


def embedder_label(spec: str) -> str:
    """Short display name: ``minilm`` for the packaged all-MiniLM-L6-v2, else the spec."""
    for short, full in EMBEDDERS.items():
        if full == spec:
            return short
    return spec


def embedder_slug(spec: str) -> str:
    """A folder-safe name for an embedder spec."""
    return re.sub(r"[^a-z0-9]+", "-", embedder_label(spec).lower()).strip("-")


def index_dir(corpus: str, spec: str) -> Path:
    """Where the index of ``corpus`` built with embedder ``spec`` is cached."""
    return CACHE_DIR / f"{corpus}-{embedder_slug(spec)}"


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ensure_index(corpus: str | Corpus, embedder_name: str, embedder: Any = None) -> Path:
    """Ingest ``corpus`` with the embedder into its cache folder (incrementally); return the folder.

    ``embedder_name`` is ``e5-small``, ``minilm`` or a full spec; ``embedder`` may be a ready
    ``shopqa.ingest.embedders`` object to reuse (its id must match). Progress goes to stderr: the
    phases, the ingest progress bars when stderr is a terminal, and a one-line summary. When
    another process is ingesting the same cached index, this waits for it.
    """
    from shopqa.ingest import manifest
    from shopqa.ingest.lock import LockHeld
    from shopqa.ingest.pipeline import IngestOptions, run

    corpus = load_corpus(corpus) if isinstance(corpus, str) else corpus
    spec = embedder_spec(embedder_name)
    target = index_dir(corpus.name, spec)
    rebuild = False
    try:
        found = manifest.read(target)
        if found and found.get("embedder", {}).get("id") not in (None, (embedder.id if embedder else spec)):
            rebuild = True  # a folder built by another embedder (should not happen: one folder per embedder)
    except manifest.IndexUnusable:
        rebuild = True       # an older index format: start again
    opts = IngestOptions(shop_dir=corpus.shop_dir, index_dir=target, embedder=spec, rebuild=rebuild,
                         progress=sys.stderr.isatty())
    _log(f"index {corpus.name} with {embedder_label(spec)} -> {target.relative_to(REPO)}")
    waited = 0.0
    while True:  # another benchmark may be ingesting the same cached index: wait for it
        try:
            report = run(opts, embedder=embedder,
                         on_phase=lambda phase: _log(f"  {corpus.name}/{embedder_label(spec)}: {phase}"))
            break
        except LockHeld as exc:
            if waited >= LOCK_WAIT_SECONDS:
                raise
            if not waited:
                _log(f"  {exc}; waiting up to {LOCK_WAIT_SECONDS // 60} min")
            time.sleep(5)
            waited += 5
    if report.problems:
        for p in report.problems[:10]:
            _log(f"  problem: {p}")
    if report.embedded_units:
        _log(f"  {report.added} added, {report.changed} changed, {report.removed} removed; embedded "
             f"{report.embedded_units} chunks in {report.embed_seconds:.0f} s "
             f"({report.chunks_per_second:.1f} chunks/s), wall {report.wall_seconds:.0f} s")
    else:
        _log(f"  up to date ({report.unchanged} documents, {report.wall_seconds:.2f} s)")
    return target


def machine_line() -> str:
    """``machine: N cores, python X.Y.Z, YYYY-MM-DD`` as printed by every benchmark."""
    import platform

    return f"machine: {os.cpu_count()} cores, python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"


def main() -> None:
    """``python bench/datasets.py [CORPUS...]``: write the shop folders and print their sizes."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpora", nargs="*", default=list(CORPORA), help="corpora to write (default: all)")
    parser.add_argument("--index", metavar="EMBEDDER", help="also build/update the cached index with this "
                        "embedder (e5-small, minilm or a full spec)")
    args = parser.parse_args()
    for name in args.corpora:
        corpus = load_corpus(name)
        print(f"{name}: {len(corpus.record_keys)} documents, {len(corpus.questions)} questions "
              f"({len(corpus.answerable)} answerable) in {corpus.shop_dir}")
        if args.index:
            ensure_index(corpus, args.index)


if __name__ == "__main__":
    # As a script, bench/ is sys.path[0]; ingest and app live at the repository root.
    sys.path[0] = str(REPO)
    main()
