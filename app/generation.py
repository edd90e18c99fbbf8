"""Everything derived from one index generation, built once and swapped as one.

A generation is what one `shopqa ingest` wrote: the index with its manifest, and what the
service derives from it — the calibrated thresholds for its embedder, the product matcher and
catalogue, the intent and sentiment classifiers fitted with the shop's own examples. Building
them costs seconds; a request only takes the live bundle, once, and uses it throughout, so an
ingest that lands mid-request cannot pair one generation's index with another's matcher.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from shopqa.ingest.embedders import Embedder
from shopqa.ingest.index import ShopIndex
from shopqa.ingest.records import Problem

from shopqa.answering.answer import Thresholds
from shopqa.answering.calibration import routing_for, thresholds_for
from shopqa.catalogue.catalogue import Catalogue
from shopqa.routing.intents import IntentClassifier, bundled_examples, shop_examples
from shopqa.catalogue.products import ProductMatcher, load_glossary
from shopqa.routing.review_polarity import ReviewPolarity
from shopqa.routing.sentiment import SentimentClassifier
from shopqa.settings import Settings

log = logging.getLogger("shopqa.generation")


@dataclass(frozen=True)
class Generation:
    """One index generation and the components derived from it (immutable; replaced whole)."""

    index: ShopIndex
    thresholds: Thresholds
    matcher: ProductMatcher
    catalogue: Catalogue
    intents: IntentClassifier
    sentiment: SentimentClassifier

    @property
    def id(self) -> str:
        """The generation's name in the manifest."""
        return self.index.generation

    @classmethod
    def build(cls, index: ShopIndex, embedder: Embedder, settings: Settings) -> "Generation":
        """Derive everything from a loaded index generation (seconds)."""
        shop = Path(index.manifest.get("shop_dir", ""))
        embedder_id = index.manifest["embedder"]["id"]
        matcher = ProductMatcher(index.graph, load_glossary(shop / "glossary.json"))
        matcher.find("预热 warm-up")  # loads jieba's dictionaries now, not on a request
        intents, sentiment = _classifiers(embedder, shop, embedder_id, settings)
        return cls(index, thresholds_for(embedder_id, settings), matcher, Catalogue(index.graph, matcher.tokens),
                   intents, sentiment)


def _classifiers(embedder: Embedder, shop: Path, embedder_id: str,
                 settings: Settings) -> tuple[IntentClassifier, SentimentClassifier]:
    """Intent and sentiment models fitted on the bundled and the shop's own examples (the shop's
    intents/ may have changed with the generation)."""
    problems: list[Problem] = []
    examples = bundled_examples() + (shop_examples(shop, problems) if shop.is_dir() else [])
    # The fit skips these rows; ingest reported them too, but intents/ may have been edited
    # since, and the log is where the service's operator looks.
    for problem in problems:
        log.warning("intent examples: %s", problem)
    limits = routing_for(embedder_id, settings)
    cache = settings.cache_path
    intents = IntentClassifier(embedder, examples, limits["oos"], cache_dir=cache).fit()
    mood = SentimentClassifier(embedder, strong_threshold=limits["strong_negative"], cache_dir=cache,
                               polarity=ReviewPolarity(embedder_id=embedder.id)).fit()
    return intents, mood
