"""An OpenAI-compatible LLM server (llama.cpp's server, vLLM, Ollama) as shopqa's LLM.

LangChain's ``ChatOpenAI`` is the client: it speaks the chat-completions protocol of all of
them, streams, and retries a failed request before any token has arrived (the OpenAI client
retries connection errors and 5xx responses, never a stream that has begun). What it does not
do is give up on a stream that has started and then gone quiet (servers keep sending SSE
pings, which reset the socket's read timeout), so the idle timeout between two pieces is
checked here as well.

Whatever goes wrong on the server's side becomes :class:`LLMUnavailable`, a kind of
``LLMBusy``: the answerer then quotes the passages it found (the extractive answer) instead
of failing the customer, and the grounding check applies to generated text unchanged.
"""
from __future__ import annotations

import logging
import queue
import threading
from typing import Iterator

from shopqa.models.llm import STOP, LLMBusy, LLMError

log = logging.getLogger("shopqa.llm")
_END = object()  # the stream ended normally


class LLMUnavailable(LLMBusy):
    """The LLM server could not be reached, failed, or went silent mid-answer."""

    def __init__(self, message: str):
        super().__init__(message, retry_after=10)


class RemoteLLM:
    """Streams chat completions from an OpenAI-compatible server at ``base_url``."""

    backend = "remote"

    def __init__(self, base_url: str, model: str = "default", api_key: str = "", connect_timeout: float = 3.0,
                 idle_timeout: float = 20.0, temperature: float = 0.0, retries: int = 1):
        if not base_url.startswith(("http://", "https://")):
            raise LLMError(f"{base_url!r}: the LLM server URL must start with http:// or https:// "
                           "(fix SHOPQA_LLM_BASE_URL)")
        if connect_timeout <= 0 or idle_timeout <= 0 or retries < 0:
            raise ValueError("timeouts must be > 0 and retries >= 0")
        self.base_url = base_url.rstrip("/")
        self.model, self.api_key = model or "default", api_key
        self.connect_timeout, self.idle_timeout = connect_timeout, idle_timeout
        self.temperature, self.retries = temperature, retries
        self.id = f"remote:{self.model}"
        self._chat = None

    def _client(self):
        if self._chat is None:
            import httpx
            from langchain_openai import ChatOpenAI

            # The read timeout is the longest wait for the next bytes of the stream.
            self._chat = ChatOpenAI(base_url=self.base_url, api_key=self.api_key or "none", model=self.model,
                                    temperature=self.temperature, streaming=True, max_retries=self.retries,
                                    timeout=httpx.Timeout(self.idle_timeout, connect=self.connect_timeout))
        return self._chat

    def warm_up(self) -> None:
        """Build the client and check that the server answers (a warning, not a failure, when it
        does not: answers are quoted until it comes back)."""
        client = self._client()
        try:
            client.root_client.with_options(max_retries=0, timeout=self.connect_timeout + 2).models.list()
        except Exception as exc:  # noqa: BLE001  (any transport or HTTP error means "not reachable now")
            log.warning("LLM server %s not reachable yet (%s); answers are quoted until it is",
                        self.base_url, type(exc).__name__)

    def stream(self, system: str, user: str, max_tokens: int = 256) -> Iterator[str]:
        """Yield the answer piece by piece; raise LLMUnavailable when the server fails or goes
        quiet for ``idle_timeout`` seconds.

        The HTTP stream is read on a thread of its own: SSE keep-alive comments reset the
        socket's read timeout without yielding a piece, so only a wait on the pieces themselves
        can see that a stream has stalled. A stalled reader is left to end with its stream.
        """
        from langchain_core.messages import HumanMessage, SystemMessage

        pieces: queue.Queue = queue.Queue()
        stop = threading.Event()

        def read() -> None:
            try:
                for chunk in self._client().stream([SystemMessage(system), HumanMessage(user)], stop=STOP,
                                                   max_tokens=max_tokens):
                    if stop.is_set():
                        break
                    if isinstance(chunk.content, str) and chunk.content:
                        pieces.put(chunk.content)
                pieces.put(_END)
            except Exception as exc:  # noqa: BLE001  (openai/httpx errors of every kind)
                pieces.put(exc)

        threading.Thread(target=read, name="shopqa-llm-stream", daemon=True).start()
        try:
            while True:
                try:
                    item = pieces.get(timeout=self.idle_timeout)
                except queue.Empty:
                    raise LLMUnavailable(f"{self.base_url}: no answer text for {self.idle_timeout:g} s") from None
                if item is _END:
                    return
                if isinstance(item, Exception):
                    log.warning("LLM server %s failed: %s", self.base_url, type(item).__name__)
                    raise LLMUnavailable(f"{self.base_url}: the LLM server failed ({type(item).__name__})") from item
                yield item
        finally:
            stop.set()  # the reader stops at its next piece (the answerer may stop early)


def make_llm(settings):
    """The LLM the settings ask for: a server at ``llm_base_url``, else the local GGUF, else None."""
    from shopqa.models.llm import LlamaCppLLM

    if not settings.llm_enabled:
        return None
    if settings.llm_base_url:
        return RemoteLLM(settings.llm_base_url, settings.llm_model, settings.llm_api_key,
                         settings.llm_connect_timeout, settings.llm_idle_timeout)
    return LlamaCppLLM(settings.llm_model_path or None, n_ctx=settings.llm_context,
                       n_threads=settings.llm_threads or None)
