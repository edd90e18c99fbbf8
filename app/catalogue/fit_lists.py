"""What fits or goes with a named product ("which laces fit the Ridge boots?", "还有别的滤网吗？"):
the products the graph links to it, of the kind the question names, in stock first."""
from __future__ import annotations

import re

import networkx as nx

from shopqa.ingest.tokenize import _EN_STOP

from shopqa.catalogue import links
from shopqa.catalogue.products import COMPAT, STOCK, Mention, ProductMatcher, _FILLER, _QUESTION_WORDS
from shopqa.catalogue.catalogue import Catalogue
from shopqa.catalogue.replies import CatalogueReply, stock_note
from shopqa.catalogue.search import ProductSearch

# Words that ask for what goes with a product: accessories, spares, refills, care products.
LIST = re.compile(r"\b(accessor(?:y|ies)|add-?ons?|extras|spares?|replacements?|refills?|go(?:es)? with|"
                  r"pair(?:s)? with|to look after|look after|care for|recharge)\b|"
                  r"配件|附件|搭配|配套|替换|补充装|周边|耗材", re.I)
# Words that ask which things (not whether one thing): "which laces fit", "还有别的滤网能用吗".
WHICH = re.compile(r"\b(which|what|any|anything|other|others|else)\b|哪些|哪个|哪款|哪种|什么|有没有|别的|其他|其它",
                   re.I)
# The verb between the kind asked and the product it is for ("which laces *fit* the boot").
_RELATION = re.compile(r"\b(fits?|fitting|works? (?:with|on|in)|go(?:es)? (?:with|on|in)|compatible with|suits?|"
                       r"to (?:recharge|charge|clean|look after|care for)|recharges?|for (?:my|the|a|an|this|that))\b|"
                       r"适用于|适合|能用在|可以用在|能配|配", re.I)
# Words that ask for something other than what was named.
OTHER = re.compile(r"\b(other|others|else|another|alternatives?|instead)\b|别的|其他|其它|还有|替代", re.I)
# Compatibility asked without the usual words: "can I pour the refill into the bottle?".
INTO = re.compile(r"\b(?:pour|put|fill|zip|zips|clip|clips|screw|attach|use|fit|go|goes|refill)\b[^.?!]{0,40}?"
                  r"\b(?:into|in|inside|on|onto)\b|\binto\b|装在|装进|装到|放进|用在|装得", re.I)


class FitLists:
    """Lists of what fits a named product, over one index generation's graph and catalogue."""

    def __init__(self, graph: nx.Graph, catalogue: Catalogue, matcher: ProductMatcher, search: ProductSearch,
                 prompts):
        self.graph = graph
        self.catalogue = catalogue
        self.matcher = matcher
        self.search = search
        self.prompts = prompts

    def reply(self, question: str, mentions: list[Mention], lang: str) -> CatalogueReply | None:
        """What fits or goes with a named product, in stock first, with price and stock."""
        if not (LIST.search(question) or ((COMPAT.search(question) or INTO.search(question))
                                            and WHICH.search(question))):
            return None
        # "Which footprint fits the Trailhead 2 tent?": the kind asked before the verb, the
        # product it is for after it.
        opening = re.match(r"\s*(?:which|what)\b(.*)", question, re.I | re.S)
        verb = _RELATION.search(opening.group(1)) if opening else None
        if verb:
            kind_part, product_part = opening.group(1)[:verb.start()], opening.group(1)[verb.end():]
            words = self._words(kind_part)
            for main in [m for m in self.matcher.find(product_part) if self.matcher.is_sure(m, product_part)]:
                linked = [s for s in links.fits_reverse(self.graph, main.sku) if s != main.sku]
                chosen = self._kind_asked(question, main.sku, linked, words) if linked else None
                if chosen:
                    return self._list_reply(main.sku, self._in_stock_first(question, chosen), lang)
        # "还有别的滤网": other than the ones named.
        other = bool(OTHER.search(question))
        named = {m.sku for m in mentions} if other else set()
        if other:
            # "the AP400 filter is sold out, any other filter?": the named product is itself the
            # accessory; what else of its kind fits the product it is for.
            for m in mentions:
                for main in links.fits(self.graph, m.sku):
                    alternatives = [s for s in links.compatible_alternatives(self.graph, main, m.sku)
                                    if s not in named]
                    if alternatives:
                        return self._list_reply(main, alternatives, lang)
        options = []
        for m in mentions:
            linked = [s for s in links.fits_reverse(self.graph, m.sku) if s not in named and s != m.sku]
            if linked:
                chosen = self._kind_asked(question, m.sku, linked)
                if chosen:
                    options.append((m, chosen))
        # The named product whose linked products are of the kind asked for is the main one.
        # A name several products share ("a king size mattress") describes the kind wanted, not
        # the product it is for.
        for m, chosen in sorted(options, key=lambda o: (bool(o[0].alternatives),
                                                        -self._kind_score(question, o[0].sku, o[1]))):
            return self._list_reply(m.sku, self._in_stock_first(question, chosen), lang)
        if len(mentions) == 1 and re.search(r"\baccessor(?:y|ies)\b|配件|附件", question, re.I) \
                and not links.fits(self.graph, mentions[0].sku) \
                and not links.fits_reverse(self.graph, mentions[0].sku):
            main = self.catalogue.products[mentions[0].sku]
            return CatalogueReply(self.prompts.message("list_none", lang, product=main.name, product_sku=main.sku),
                                  [main.sku], "list")
        return None

    def _in_stock_first(self, question: str, chosen: list[str]) -> list[str]:
        """In stock first; only those in stock when the question asks for stock and some are."""
        chosen = sorted(chosen, key=lambda s: (not self.catalogue.products[s].in_stock, s))
        if STOCK.search(question) and any(self.catalogue.products[s].in_stock for s in chosen):
            chosen = [s for s in chosen if self.catalogue.products[s].in_stock]
        return chosen

    def _words(self, text: str) -> set[str]:
        return {t for t in self.matcher.tokens(text) if t not in _EN_STOP and t not in _FILLER
                and t not in _QUESTION_WORDS and len(t) >= 2}

    def _list_reply(self, main_sku: str, chosen: list[str], lang: str) -> CatalogueReply:
        main = self.catalogue.products[main_sku]
        sep = "；" if lang == "zh" else "; "
        items = sep.join(stock_note(self.catalogue, self.prompts, s, lang) for s in chosen[:6])
        text = self.prompts.message("list_answer", lang, product=main.name, product_sku=main_sku, items=items)
        return CatalogueReply(text, [main_sku, *chosen[:6]], "list")

    def _kind_score(self, question: str, main: str, chosen: list[str]) -> int:
        """How many of the question's words name the kind of the ``chosen`` products."""
        words = self._kind_words(question, main)
        return max((len(words & self.search.kind[s]) for s in chosen), default=0)

    def _kind_words(self, question: str, main: str) -> set[str]:
        """The question's words that are not the ``main`` product's own name or category."""
        return self._words(question) - self.matcher.words.get(main, set())

    def _kind_asked(self, question: str, main: str, linked: list[str], words: set[str] | None = None
                    ) -> list[str] | None:
        """The linked products of the kind the question names ("laces", "滤网"), all of them
        when it names none; None when it names a kind that none of them is."""
        words = self._kind_words(question, main) if words is None else words
        if not words:
            return list(linked)
        scored = []
        for sku in linked:
            scored.append((len(words & self.search.kind[sku]), sku))
        best = max(score for score, _ in scored)
        if best == 0:
            # Words like "work" or "buy" name no kind: only a word that names some product's kind counts.
            return list(linked) if not (words & self.search.kind_words) else None
        return [sku for score, sku in scored if score == best]
