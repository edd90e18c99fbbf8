"""Heavy components shared by all requests: the embedder and the loaded index.

Loaded once in ``warm_up`` and swapped atomically when a new index generation appears,
so requests in flight keep the generation they started with.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from ingest import manifest
from ingest.embedders import Embedder, make_embedder
from ingest.index import ShopIndex
from ingest.records import Problem
from ingest.tokenize import tokenize

from .answer import Answerer
from .answer_model import AnswerModel
from . import route_gate
from .assistant import Assistant
from .calibration import routing_for, thresholds_for
from .conversations import ConversationStore
from .intents import IntentClassifier, bundled_examples, shop_examples
from .orders import SQLiteOrderStore
from .review_polarity import ReviewPolarity
from .sentiment import SentimentClassifier
from .tickets import TicketStore
from .llm import LLM, LlamaCppLLM, LLMError
from .catalogue.catalogue import Catalogue
from .products import ProductMatcher, load_glossary
from .rerank import CrossEncoderReranker
from .prompts import Prompts
from .settings import Settings

log = logging.getLogger("shopqa.resources")


class Resources:
    """The process's models and index; thread-safe."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, llm: LLM | None = None,
                 prompts: Prompts | None = None):
        self.settings = settings
        self.embedder = embedder or make_embedder(settings.embedder, batch_size=settings.embed_batch_size)
        self.llm = llm if llm is not None else (
            LlamaCppLLM(settings.llm_model_path or None, n_ctx=settings.llm_context,
                        n_threads=settings.llm_threads or None) if settings.llm_enabled else None)
        self.prompts = prompts or Prompts()
        self._index: ShopIndex | None = None
        self._matcher: tuple[str, ProductMatcher, Catalogue] | None = None
        self._conversations: ConversationStore | None = None
        self._tickets: TicketStore | None = None
        self._orders: tuple[str, SQLiteOrderStore] | None = None
        self._classifiers: tuple[str, IntentClassifier, SentimentClassifier] | None = None
        self.reranker = CrossEncoderReranker(settings.reranker) if settings.reranker else None
        self._lock = threading.Lock()
        self._fit_lock = threading.Lock()  # one fit of the classifiers per generation, not one per thread
        self.error: str | None = None

    def warm_up(self, llm: bool = True) -> None:
        """Load the embedder, the index and (unless ``llm`` is False) the LLM.

        Errors are remembered for /readyz instead of crashing the server.
        """
        try:
            self.embedder.warm_up()
            self._index = ShopIndex(Path(self.settings.index_dir), self.embedder)
            self.answerer().matcher.find("预热 warm-up")  # loads jieba's dictionaries now, not on a request
            tokenize("预热")
            self.classifiers()  # fits intent and sentiment models (embeddings cached in data_dir/cache)
            self._warm_sentences(self._index)
            self.orders()
            if self.reranker is not None:
                self.reranker.warm_up()
            if llm and self.llm is not None:
                self.llm.warm_up()
            self.error = None
        except (manifest.IndexUnusable, LLMError, OSError) as exc:
            self.error = str(exc)

    def conversations(self) -> ConversationStore:
        """The conversation store in data_dir (created on first use)."""
        with self._lock:
            if self._conversations is None:
                self._conversations = ConversationStore(Path(self.settings.data_dir) / "conversations.sqlite")
        return self._conversations

    def tickets(self) -> TicketStore:
        """Handoff tickets in data_dir (created on first use)."""
        with self._lock:
            if self._tickets is None:
                self._tickets = TicketStore(Path(self.settings.data_dir) / "tickets.sqlite",
                                            self.settings.handoff_webhook_url, self.settings.handoff_webhook_timeout)
        return self._tickets

    def orders(self) -> SQLiteOrderStore:
        """The mutable order store in data_dir, synced with the live index's orders once per generation."""
        index = self.index()
        with self._lock:
            if self._orders is None:
                store = SQLiteOrderStore(Path(self.settings.data_dir) / "orders.sqlite",
                                         self.settings.max_verification_failures)
                self._orders = ("", store)
            if self._orders[0] != index.generation:
                self._orders[1].sync_from_index(index.db())
                self._orders = (index.generation, self._orders[1])
        return self._orders[1]

    def classifiers(self) -> tuple[IntentClassifier, SentimentClassifier]:
        """Intent and sentiment models fitted on the bundled and the shop's examples (per generation)."""
        index = self.index()
        with self._fit_lock:
            if self._classifiers is None or self._classifiers[0] != index.generation:
                self._classifiers = self._fit(index)
        return self._classifiers[1], self._classifiers[2]

    def _fit(self, index: ShopIndex) -> tuple[str, IntentClassifier, SentimentClassifier]:
        """Fit both classifiers for one index generation (the shop's own examples may have changed)."""
        shop = Path(index.manifest.get("shop_dir", ""))
        problems: list[Problem] = []
        examples = bundled_examples() + (shop_examples(shop, problems) if shop.is_dir() else [])
        # The fit skips these rows; ingest reported them too, but intents/ may have been edited
        # since, and the log is where the service's operator looks.
        for problem in problems:
            log.warning("intent examples: %s", problem)
        limits = routing_for(index.manifest["embedder"]["id"], self.settings)
        cache = self.settings.cache_path
        intents = IntentClassifier(self.embedder, examples, limits["oos"], cache_dir=cache).fit()
        mood = SentimentClassifier(self.embedder, strong_threshold=limits["strong_negative"], cache_dir=cache,
                                   polarity=ReviewPolarity(embedder_id=self.embedder.id)).fit()
        return index.generation, intents, mood

    def assistant(self) -> Assistant:
        """The routing pipeline over the live index."""
        intents, mood = self.classifiers()
        return Assistant(self.embedder, self.answerer(), intents, mood, self.orders(), self.tickets(),
                         self.conversations(), self.prompts, gate=self._fitted()[1])

    def answerer(self) -> Answerer:
        """An answer pipeline over the live index (the product matcher is cached per generation)."""
        index = self.index()
        if self._matcher is None or self._matcher[0] != index.generation:
            extra = Path(index.manifest.get("shop_dir", "")) / "glossary.json"
            matcher = ProductMatcher(index.graph, load_glossary(extra))
            self._matcher = (index.generation, matcher, Catalogue(index.graph, matcher.tokens))
        return Answerer(index, self.llm, self.prompts, thresholds_for(index.manifest["embedder"]["id"], self.settings),
                        matcher=self._matcher[1], context_tokens=self.settings.context_tokens,
                        max_answer_tokens=self.settings.max_answer_tokens, reranker=self.reranker,
                        focus_tokens=self.settings.focus_tokens, model=self._fitted()[0],
                        catalogue=self._matcher[2])

    def _fitted(self):
        """The answer model and route gate fitted for this embedder (loaded once), or None each."""
        if not hasattr(self, "_fitted_models"):
            self._fitted_models = (AnswerModel.for_embedder(self.embedder.id, self.settings.answer_model or None),
                                   route_gate.for_embedder(self.embedder.id, self.settings.route_gate or None))
        return self._fitted_models

    def _warm_sentences(self, index: ShopIndex) -> None:
        """Embed the index's answer candidates in the background (once per generation), when the
        learned answer model will read their meaning: the first questions then wait for none."""
        if self._fitted()[0] is None:
            return
        from .candidates import warm_sentences

        def run() -> None:
            try:
                count = warm_sentences(index)
                log.info("answer candidates embedded for generation %s: %d sentences", index.generation, count)
            except Exception:  # noqa: BLE001 - a warm-up optimisation; requests embed on demand
                log.exception("embedding answer candidates in the background failed")

        threading.Thread(target=run, name="warm-sentences", daemon=True).start()

    @property
    def ready(self) -> bool:
        """True when an index is loaded."""
        return self._index is not None

    def index(self) -> ShopIndex:
        """The live index, reloading first if ingest has swapped in a new generation."""
        self.reload_if_changed()
        if self._index is None:
            raise manifest.IndexUnusable(self.error or "index not loaded")
        return self._index

    def reload_if_changed(self) -> bool:
        """Load the newest generation if the manifest names a different one; True if reloaded."""
        current = manifest.read(Path(self.settings.index_dir))
        if current is None or (self._index is not None and current["generation"] == self._index.generation):
            return False
        with self._lock:
            if self._index is not None and current["generation"] == self._index.generation:
                return False
            fresh = ShopIndex(Path(self.settings.index_dir), self.embedder)
            self._index, self.error = fresh, None  # the old one stays usable by requests holding it
        self._warm_sentences(fresh)
        return True
