"""Prompt templates and fixed customer-facing messages, read from the prompts/ folder."""
from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from shopqa.paths import PROMPTS

PROMPTS_DIR = PROMPTS
LANG_NAMES = {"en": "English", "zh": "Simplified Chinese"}


@dataclass(frozen=True)
class Template:
    """A prompt file with ``{placeholders}``; filling it checks that every one is given."""

    name: str
    text: str

    @property
    def placeholders(self) -> frozenset[str]:
        """The names the template needs."""
        return frozenset(field for _, field, _, _ in string.Formatter().parse(self.text) if field)

    def format(self, **values: object) -> str:
        """The template filled in; a missing or unexpected value is an error, not a silent gap."""
        missing, extra = self.placeholders - values.keys(), values.keys() - self.placeholders
        if missing or extra:
            raise KeyError(f"prompt {self.name}: missing {sorted(missing)}, unexpected {sorted(extra)}")
        return self.text.format(**values)


class Prompts:
    """All templates and fixed messages of one prompts folder."""

    def __init__(self, directory: Path = PROMPTS_DIR):
        self.directory = Path(directory)
        if not (self.directory / "answer_system.txt").is_file():
            raise FileNotFoundError(f"{self.directory}: prompts folder without answer_system.txt")
        with open(self.directory / "messages.toml", "rb") as fh:
            self._messages = tomllib.load(fh)

    @lru_cache(maxsize=32)
    def template(self, name: str) -> Template:
        """The template in ``prompts/<name>.txt``."""
        return Template(name, (self.directory / f"{name}.txt").read_text(encoding="utf-8"))

    def render(self, name: str, **values: str) -> str:
        """Fill in a template."""
        return self.template(name).format(**values)

    def message(self, key: str, lang: str, **values: object) -> str:
        """A fixed message in the customer's language (English when that language has none)."""
        table = self._messages.get(lang) or self._messages["en"]
        text = table.get(key) or self._messages["en"][key]
        return text.format(**values) if values else text
