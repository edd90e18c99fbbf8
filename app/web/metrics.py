"""Prometheus metrics through prometheus_client, right with several gunicorn workers.

Under gunicorn each worker is a process of its own, and a scrape reaches one of them; a
per-process count would show a random worker's share. ``shopqa serve`` therefore runs
prometheus_client in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, see shopqa.server):
every worker writes its values to files there and ``/metrics`` sums them. Without that
variable (the Flask test client, ``shopqa ask``) the values live in this app's own registry.
"""
from __future__ import annotations

import os

BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """The service's counters, histograms and the LLM queue gauge, on a registry of its own."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("shopqa_requests_total", "HTTP requests", ["endpoint", "method", "status"],
                                registry=r)
        self.request_seconds = Histogram("shopqa_request_seconds", "HTTP request latency", ["endpoint"],
                                         buckets=BUCKETS, registry=r)
        self.answer_seconds = Histogram("shopqa_answer_seconds", "Answer latency by answer path", ["path"],
                                        buckets=BUCKETS, registry=r)
        self.answers = Counter("shopqa_answers_total", "Answers by route and path", ["route", "path"], registry=r)
        self.handoffs = Counter("shopqa_handoffs_total", "Conversations handed to a person", ["reason"], registry=r)
        self.abstentions = Counter("shopqa_abstentions_total", "Answers that said I don't know", registry=r)
        self.llm_rejected = Counter("shopqa_llm_rejected_total", "Requests refused because the LLM queue was full",
                                    registry=r)
        # livesum: the sum over the workers alive now (a dead worker's requests hold nothing).
        self.llm_queue = Gauge("shopqa_llm_queue_depth", "Requests holding an LLM queue place",
                               multiprocess_mode="livesum", registry=r)
        self.llm_capacity = Gauge("shopqa_llm_queue_capacity", "LLM queue places", multiprocess_mode="livesum",
                                  registry=r)

    def render(self) -> bytes:
        """The text exposition format: every worker's values when in multiprocess mode."""
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        if not self.multiprocess_dir:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)
        return generate_latest(registry)
