"""Small real test doubles behind the LLM interface."""
from __future__ import annotations

import re
from typing import Iterator


class CannedLLM:
    """Always answers the same text, streamed word by word; records the prompts it saw."""

    id = "canned"

    def __init__(self, text: str):
        self.text = text
        self.prompts: list[tuple[str, str]] = []

    def warm_up(self) -> None:
        """Nothing to load."""

    def stream(self, system: str, user: str, max_tokens: int = 256) -> Iterator[str]:
        self.prompts.append((system, user))
        for word in re.findall(r"\S+\s*", self.text):
            yield word


class CopyingLLM(CannedLLM):
    """Answers with the first sentence of the passage that shares most words with the question, cited."""

    def __init__(self):
        super().__init__("")

    def stream(self, system: str, user: str, max_tokens: int = 256) -> Iterator[str]:
        self.prompts.append((system, user))
        question = set(re.findall(r"\w+", user.rsplit("Question:", 1)[-1].lower()))
        context = user.split("Passages:\n", 1)[1].split("\nQuestion:", 1)[0].split("\nConversation so far:", 1)[0]
        passages = []
        for block in re.split(r"\n(?=\[\d+\] )", context):
            number, _, rest = block.partition("] ")
            passages.append((number.lstrip("["), rest.split("\n", 1)[-1]))  # drop the title line
        number, body = max(passages, key=lambda p: len(question & set(re.findall(r"\w+", p[1].lower()))))
        sentence = re.split(r"(?<=[.!?。])\s", body.strip())[0].rstrip(".")
        yield from re.findall(r"\S+\s*", f"{sentence} [{number}].")
