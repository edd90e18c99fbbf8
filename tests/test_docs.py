"""The architecture page names real files (a newcomer follows it through the code)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_file_the_architecture_page_names_exists():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\b((?:app|ingest|prompts)/[\w/]*(?:\.\w+|/))", text))
    assert len(named) > 20
    assert sorted(p for p in named if not (ROOT / p).exists()) == []
