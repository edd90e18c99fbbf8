"""Heavy components shared by all requests: the embedder, the LLM and the live generation.

Loaded once in ``warm_up``; a new index generation is built whole in the background of the
request that notices it (app/generation.py) and swapped in as one reference, so requests in
flight keep the generation they started with.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Hashable

from sqlalchemy.exc import SQLAlchemyError

from shopqa.ingest import manifest
from shopqa.ingest.embedders import Embedder, make_embedder
from shopqa.ingest.index import ShopIndex
from shopqa.ingest.tokenize import tokenize

from shopqa.answering.answer import Answerer
from shopqa.answering.answer_model import AnswerModel
from shopqa.routing import route_gate
from shopqa.assistant import Assistant
from shopqa.conversations import ConversationStore
from shopqa.generation import Generation
from shopqa.index_source import FileIndexSource, PgIndexSource
from shopqa.ordering.orders import SqlOrderStore
from shopqa.handoff.tickets import TicketStore
from shopqa.models.llm import LLM, LLMError
from shopqa.models.remote_llm import make_llm
from shopqa.models.rerank import CrossEncoderReranker
from shopqa.text.prompts import Prompts
from shopqa.settings import Settings
from shopqa.storage.engine import database_error

log = logging.getLogger("shopqa.resources")


class Resources:
    """The process's models and live generation; thread-safe."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, llm: LLM | None = None,
                 prompts: Prompts | None = None):
        self.settings = settings
        self.embedder = embedder or make_embedder(settings.embedder, batch_size=settings.embed_batch_size)
        self.llm = llm if llm is not None else make_llm(settings)
        self.prompts = prompts or Prompts()
        self._live: Generation | None = None
        self._stamp: Hashable | None = None  # what the live generation was read from (index_source().stamp())
        self._state_engine = None
        self._source: FileIndexSource | PgIndexSource | None = None
        self._conversations: ConversationStore | None = None
        self._tickets: TicketStore | None = None
        self._staff_accounts = None  # shopqa.staff.accounts.StaffAccountStore, made on first use
        self._orders: tuple[str, SqlOrderStore] | None = None
        self.reranker = CrossEncoderReranker(settings.reranker) if settings.reranker else None
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()  # one generation built at a time, not one per thread
        self._fitted_models: tuple | None = None
        self.error: str | None = None

    def warm_up(self, llm: bool = True) -> None:
        """Load the embedder, the live generation and (unless ``llm`` is False) the LLM.

        Errors are remembered for /readyz instead of crashing the server.
        """
        try:
            self.embedder.warm_up()
            self.generation()  # builds the live generation and starts embedding its sentences
            tokenize("预热")
            # The stores make their tables now: a database problem shows in /readyz, not in a
            # customer's first message.
            self.orders()
            self.conversations()
            self.tickets()
            if self.reranker is not None:
                self.reranker.warm_up()
            if llm and self.llm is not None:
                self.llm.warm_up()
            self.error = None
        except (manifest.IndexUnusable, LLMError, OSError) as exc:
            self.error = str(exc)
        except SQLAlchemyError as exc:
            self.error = f"the state database cannot be used ({database_error(exc)}); check SHOPQA_DATABASE_URL"

    # -- the live generation -------------------------------------------------------------
    def generation(self) -> Generation:
        """The live generation, swapping in a newer one first if ingest has written it."""
        self.reload_if_changed()
        live = self._live
        if live is None:
            raise manifest.IndexUnusable(self.error or "index not loaded")
        return live

    def index(self) -> ShopIndex:
        """The live index."""
        return self.generation().index

    @property
    def ready(self) -> bool:
        """True when an index is loaded."""
        return self._live is not None

    def reload_if_changed(self, wait: bool = False) -> bool:
        """Build and swap in the newest generation if the manifest changed; True if swapped.

        One stat per call (with Postgres: one read a second); the manifest is parsed only when it changed. While one thread builds
        a new generation, the others keep answering from the live one (``wait``: wait for it)."""
        source = self.index_source()
        stamp = source.stamp(fresh=wait)
        if self._live is not None and stamp in (None, self._stamp):
            return False
        if not self._build_lock.acquire(blocking=wait or self._live is None):
            return False  # another thread is building it
        try:
            stamp = source.stamp()
            if self._live is not None and stamp in (None, self._stamp):
                return False
            # No live generation yet: building says what is missing and how to fix it.
            current = source.live_name() if self._live is not None else None
            if current is not None and current == self._live.id:
                self._stamp = stamp  # the manifest was rewritten for the same generation
                return False
            fresh = Generation.build(source.open(self.embedder), self.embedder, self.settings)
            # One assignment: requests holding the old generation keep using it.
            self._live, self._stamp, self.error = fresh, stamp, None
        finally:
            self._build_lock.release()
        self._warm_sentences(fresh.index)
        return True

    def index_source(self):
        """Where generations come from: Postgres when ``database_url`` is set, else index_dir."""
        if self._source is None:
            with self._lock:
                if self._source is None:
                    self._source = (PgIndexSource(self.state_engine(), Path(self.settings.data_dir) / "generations")
                                    if self.settings.database_url else FileIndexSource(Path(self.settings.index_dir)))
        return self._source

    # -- stores in data_dir ----------------------------------------------------------------
    def state_engine(self):
        """The shared Postgres engine when ``database_url`` is set (made once), else None: SQLite
        files in data_dir. Called under ``self._lock``."""
        if not self.settings.database_url:
            return None
        if self._state_engine is None:
            from shopqa.storage.engine import database_engine

            self._state_engine = database_engine(self.settings.database_url, pool_size=self.settings.threads + 4)
        return self._state_engine

    def conversations(self) -> ConversationStore:
        """The conversation store in data_dir (created on first use)."""
        with self._lock:
            if self._conversations is None:
                engine = self.state_engine()
                self._conversations = (ConversationStore(engine=engine) if engine is not None else
                                       ConversationStore(Path(self.settings.data_dir) / "conversations.sqlite"))
        return self._conversations

    def tickets(self) -> TicketStore:
        """Handoff tickets in data_dir (created on first use)."""
        with self._lock:
            if self._tickets is None:
                engine = self.state_engine()
                data = Path(self.settings.data_dir)
                self._tickets = TicketStore(None if engine is not None else data / "tickets.sqlite",
                                            self.settings.handoff_webhook_url, self.settings.handoff_webhook_timeout,
                                            engine=engine, faq_file=data / "faq-candidates.jsonl")
        return self._tickets

    def staff_accounts(self):
        """Staff accounts stored by shopqa (setup link, ``shopqa staff add``) in data_dir (created on first use)."""
        from shopqa.staff.accounts import StaffAccountStore

        with self._lock:
            if self._staff_accounts is None:
                engine = self.state_engine()
                self._staff_accounts = (StaffAccountStore(engine=engine) if engine is not None else
                                        StaffAccountStore(Path(self.settings.data_dir) / "staff.sqlite"))
        return self._staff_accounts

    def orders(self, live: Generation | None = None) -> SqlOrderStore:
        """The mutable order store in data_dir, synced with the live generation's orders once."""
        index = (live or self.generation()).index
        with self._lock:
            if self._orders is None:
                engine = self.state_engine()
                store = SqlOrderStore(None if engine is not None else Path(self.settings.data_dir) / "orders.sqlite",
                                      self.settings.max_verification_failures, engine=engine)
                self._orders = ("", store)
            if self._orders[0] != index.generation:
                self._orders[1].sync_from_index(index)
                self._orders = (index.generation, self._orders[1])
        return self._orders[1]

    # -- per request: cheap views over one generation ---------------------------------------
    def assistant(self) -> Assistant:
        """The routing pipeline over the live generation."""
        live = self.generation()
        return Assistant(self.embedder, self._answerer(live), live.intents, live.sentiment, self.orders(live),
                         self.tickets(), self.conversations(), self.prompts, gate=self._fitted()[1])

    def answerer(self) -> Answerer:
        """An answer pipeline over the live generation."""
        return self._answerer(self.generation())

    def _answerer(self, live: Generation) -> Answerer:
        return Answerer(live.index, self.llm, self.prompts, live.thresholds, matcher=live.matcher,
                        context_tokens=self.settings.context_tokens,
                        max_answer_tokens=self.settings.max_answer_tokens, reranker=self.reranker,
                        focus_tokens=self.settings.focus_tokens, model=self._fitted()[0], catalogue=live.catalogue)

    def _fitted(self):
        """The answer model and route gate fitted for this embedder (loaded once), or None each."""
        if self._fitted_models is None:
            self._fitted_models = (AnswerModel.for_embedder(self.embedder.id, self.settings.answer_model or None),
                                   route_gate.for_embedder(self.embedder.id, self.settings.route_gate or None))
        return self._fitted_models

    def _warm_sentences(self, index: ShopIndex) -> None:
        """Embed the index's answer candidates in the background (once per generation), when the
        learned answer model will read their meaning: the first questions then wait for none."""
        if self._fitted()[0] is None:
            return
        from shopqa.answering.candidates import warm_sentences

        def run() -> None:
            try:
                count = warm_sentences(index)
                log.info("answer candidates embedded for generation %s: %d sentences", index.generation, count)
            except Exception:  # noqa: BLE001 - a warm-up optimisation; requests embed on demand
                log.exception("embedding answer candidates in the background failed")

        threading.Thread(target=run, name="warm-sentences", daemon=True).start()
