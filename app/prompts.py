"""Prompt templates and fixed customer-facing messages, read from the prompts/ folder."""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from langchain_core.prompts import PromptTemplate

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"
LANG_NAMES = {"en": "English", "zh": "Simplified Chinese"}


class Prompts:
    """All templates of one prompts folder; LangChain PromptTemplates validate the placeholders."""

    def __init__(self, directory: Path = PROMPTS_DIR):
        self.directory = Path(directory)
        if not (self.directory / "answer_system.txt").is_file():
            raise FileNotFoundError(f"{self.directory}: prompts folder without answer_system.txt")
        with open(self.directory / "messages.toml", "rb") as fh:
            self._messages = tomllib.load(fh)

    @lru_cache(maxsize=32)
    def template(self, name: str) -> PromptTemplate:
        """The template in ``prompts/<name>.txt``."""
        return PromptTemplate.from_template((self.directory / f"{name}.txt").read_text(encoding="utf-8"))

    def render(self, name: str, **values: str) -> str:
        """Fill in a template."""
        return self.template(name).format(**values)

    def message(self, key: str, lang: str, **values: object) -> str:
        """A fixed message in the customer's language (English when that language has none)."""
        table = self._messages.get(lang) or self._messages["en"]
        text = table.get(key) or self._messages["en"][key]
        return text.format(**values) if values else text
