"""Walk a shop folder, parse every file with the parser of its subfolder, and check cross-references."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .records import InputError, Problem, SourceRecord
from .sources import catalog, chats, docs, faqs, orders


class IntentExamples:
    """``intents/``: extra examples for the service's intent model, checked but not indexed.

    The service reads these files from the shop folder when it fits its classifiers
    (``app.intents.shop_examples``); nothing here is embedded. ingest still checks them so a
    bad row is reported as ``path:line`` and ``--strict`` fails on it, before the service
    silently skips it.
    """

    EXTENSIONS = (".csv", ".jsonl")  # the same as app.intents.EXTENSIONS
    FLAT = True  # the service reads only intents/*, so a file in a subfolder would be ignored

    @staticmethod
    def parse(path: Path, rel: str, text: str, chunk_tokens: int) -> tuple[list[SourceRecord], list[Problem]]:
        """No records; the problems of the rows the service would skip."""
        # The taxonomy and the row rules belong to the service; using its own parser means
        # ingest reports exactly the rows the service drops. Imported here, not at the top,
        # because only shops with an intents/ folder need it.
        from shopqa.routing.intents import parse_examples

        problems: list[Problem] = []
        parse_examples(text, rel, path.suffix.lower(), problems)
        return [], problems


# Subfolder -> parser (each has EXTENSIONS and parse()).
PARSERS = {"docs": docs, "faqs": faqs, "chats": chats, "catalog": catalog, "orders": orders,
           "intents": IntentExamples}
# Files at the top of a shop folder that are documentation for people, not data.
_IGNORED_TOP = {"readme", "readme.md", "readme.txt", "license", "license.md", "shopqa.toml"}


@dataclass
class ScanResult:
    """All records parsed from a shop folder, the problems found, and the files read."""

    records: list[SourceRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    skipped_records: int = 0


def list_files(shop_dir: Path) -> tuple[list[tuple[str, Path]], list[Problem]]:
    """Files to parse, as (subfolder, path), and problems for files that belong nowhere."""
    found: list[tuple[str, Path]] = []
    problems: list[Problem] = []
    for path in sorted(shop_dir.rglob("*")):
        rel = path.relative_to(shop_dir)
        if any(part.startswith(".") for part in rel.parts) or path.is_dir():
            continue  # hidden files (.DS_Store, editor swap files) and folders themselves
        if path.is_symlink() and not path.resolve().is_relative_to(shop_dir.resolve()):
            problems.append(Problem(str(rel), None, "symlink pointing outside the shop folder; not followed"))
            continue
        if len(rel.parts) == 1:
            if rel.name.lower() not in _IGNORED_TOP:
                problems.append(Problem(str(rel), None, "file outside the known folders "
                                        f"({', '.join(PARSERS)}); move it into one of them"))
            continue
        folder = rel.parts[0]
        parser = PARSERS.get(folder)
        if parser is None:
            problems.append(Problem(str(rel), None, f"unknown folder {folder!r}; known folders: {', '.join(PARSERS)}"))
        elif getattr(parser, "FLAT", False) and len(rel.parts) > 2:
            problems.append(Problem(str(rel), None, f"only files directly in {folder}/ are read; "
                                    f"move it up into {folder}/"))
        elif path.suffix.lower() not in parser.EXTENSIONS:
            problems.append(Problem(str(rel), None, f"unknown extension {path.suffix or '(none)'!r} in {folder}/; "
                                    f"expected {', '.join(parser.EXTENSIONS)}"))
        else:
            found.append((folder, path))
    return found, problems


EXTRA_FAQ_PREFIX = "published/faqs/"  # the source name of FAQ files read from outside the shop folder


def scan(shop_dir: Path, *, max_bytes: int, chunk_tokens: int,
         progress: Callable[[Iterable], Iterable] = lambda it: it,
         extra_faq_files: Iterable[Path] = ()) -> ScanResult:
    """Parse the whole shop folder, then ``extra_faq_files`` (FAQ files kept elsewhere, named
    ``published/faqs/<file name>`` in the records). Malformed records are reported and skipped,
    never fatal."""
    from .reading import read_text

    result = ScanResult()
    files, result.problems = list_files(shop_dir)
    named = [(folder, path, path.relative_to(shop_dir).as_posix()) for folder, path in files]
    named += [("faqs", Path(p), EXTRA_FAQ_PREFIX + Path(p).name) for p in extra_faq_files]
    for folder, path, rel in progress(named):
        result.files += 1
        try:
            text = read_text(path, max_bytes)
            records, problems = PARSERS[folder].parse(path, rel, text, chunk_tokens)
        except InputError as exc:
            result.problems.append(Problem(rel, exc.line, f"{exc}; file skipped"))
            continue
        result.records.extend(records)
        result.problems.extend(problems)
    _dedupe(result)
    _check_references(result)
    result.skipped_records = sum(1 for p in result.problems if p.message.endswith("skipped"))
    return result


def _dedupe(result: ScanResult) -> None:
    """The same key in two files (a SKU, an order id, a conversation id): keep the first."""
    first: dict[str, SourceRecord] = {}
    kept: list[SourceRecord] = []
    for record in result.records:
        if record.key in first:
            other = first[record.key]
            result.problems.append(Problem(record.source, record.line, f"duplicate {record.key.split(':', 1)[0]} "
                                   f"{record.key.split(':', 1)[1]!r} (first at {other.source}:{other.line}); skipped"))
            continue
        first[record.key] = record
        kept.append(record)
    result.records = kept


def _check_references(result: ScanResult) -> None:
    """Drop links to SKUs that are not in the catalogue, reporting each."""
    skus = {r.data["sku"] for r in result.records if r.type == "product"}
    for record in result.records:
        fields = {"product": ("compatible_with", "accessories"), "order": ("items",), "doc": ("products",)}
        for name in fields.get(record.type, ()):
            values = record.data.get(name) or []
            unknown = [v for v in values if v not in skus]
            if unknown:
                result.problems.append(Problem(record.source, record.line,
                                               f"unknown SKU(s) {', '.join(unknown)} in {name}; link dropped"))
                record.data[name] = [v for v in values if v in skus]
                if record.type == "product":
                    record.units[0].text = catalog.card(record.data)  # the card must not name dropped links
