"""The LLM as an OpenAI-compatible server: llama-cpp-python's own server with the packaged GGUF."""
from __future__ import annotations

import http.server
import threading
import time

import pytest

from engines import LlamaServer
from realserver import free_port
from shopqa.answering.answer import Answerer
from shopqa.answering.calibration import thresholds_for
from shopqa.ingest.index import ShopIndex
from shopqa.models.llm import LLMError
from shopqa.models.remote_llm import LLMUnavailable, RemoteLLM, make_llm
from shopqa.settings import Settings
from shopqa.text.prompts import Prompts


def test_settings_choose_the_server_and_validate_its_url():
    assert make_llm(Settings(llm_base_url="http://127.0.0.1:1/v1")).backend == "remote"
    assert make_llm(Settings(llm_enabled=False)) is None
    with pytest.raises(LLMError, match="SHOPQA_LLM_BASE_URL"):
        RemoteLLM("ftp://example/v1")


def test_a_server_that_is_not_there_is_unavailable_not_an_error():
    llm = RemoteLLM(f"http://127.0.0.1:{free_port()}/v1", connect_timeout=0.5, retries=0)
    llm.warm_up()  # a warning only: answers are quoted until the server is back
    with pytest.raises(LLMUnavailable):
        list(llm.stream("system", "user"))


class _PingsOnly(http.server.BaseHTTPRequestHandler):
    """An SSE stream that starts and then sends nothing but keep-alive comments."""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        chunk = b'data: {"id":"1","object":"chat.completion.chunk","created":1,"model":"m",' \
                b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"}}]}\n\n'
        self.wfile.write(chunk)
        self.wfile.flush()
        for _ in range(100):
            time.sleep(0.1)
            self.wfile.write(b": ping\n\n")
            self.wfile.flush()

    def log_message(self, *args):
        pass


def test_a_stream_that_goes_quiet_is_cut_at_the_idle_timeout():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PingsOnly)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        llm = RemoteLLM(f"http://127.0.0.1:{server.server_port}/v1", idle_timeout=0.5, retries=0)
        pieces, start = [], time.monotonic()
        with pytest.raises(LLMUnavailable):
            for piece in llm.stream("system", "user"):
                pieces.append(piece)
        assert pieces == ["Hello"] and time.monotonic() - start < 6  # not the 10 s the server would go on
    finally:
        server.shutdown()


@pytest.mark.slow
def test_answers_through_the_llama_cpp_server_and_quoted_when_it_stops(e5_index, e5_embedder, tmp_path):
    with LlamaServer(tmp_path) as server:
        llm = RemoteLLM(server.url, "smollm2", idle_timeout=60)
        llm.warm_up()
        assert "".join(llm.stream("Answer in one short sentence.", "Say hello.", max_tokens=16)).strip()
        answerer = Answerer(ShopIndex(e5_index, e5_embedder), llm, Prompts(), thresholds_for("e5-small"),
                            focus_tokens=Settings().focus_tokens)
        question = "退货的运费由谁承担？需要多少天退款？"
        result = answerer.answer(question)
        # The server phrases; the grounding check decides as it does for the local model.
        assert result.path in ("generated", "extractive"), (result.path, result.answer)
        assert result.sources
    # The server is gone: the customer still gets the passages, quoted, not an error.
    after = answerer.answer(question)
    assert after.path == "extractive_busy" and after.sources, (after.path, after.answer)
