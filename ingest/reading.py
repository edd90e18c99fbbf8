"""Read shop files as text, refusing binary, empty, oversized and non-UTF-8 files clearly."""
from __future__ import annotations

import codecs
from pathlib import Path

from .records import InputError


def read_text(path: Path, max_bytes: int) -> str:
    """Return the file's text, or raise InputError saying what is wrong and how to fix it.

    UTF-8 (with or without BOM) and UTF-16 with a BOM are accepted; anything
    else is rejected rather than guessed, because a wrong guess silently
    corrupts prices and names.
    """
    size = path.stat().st_size
    if size == 0:
        raise InputError("empty file; add content or remove it")
    if size > max_bytes:
        raise InputError(
            f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit; "
            "split it or raise SHOPQA_MAX_FILE_MB"
        )
    raw = path.read_bytes()
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"broken UTF-16 text at byte {exc.start}; re-save the file as UTF-8") from exc
    if b"\x00" in raw[:8192]:
        raise InputError("binary file (contains NUL bytes); only text files are ingested")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "re-save the file as UTF-8 (e.g. `iconv -f GBK -t UTF-8`)",
            line=line,
        ) from exc
    if not text.strip():
        raise InputError("file holds only white space; add content or remove it")
    return text
