"""Catalogue answers from the product graph alone (no model, no retrieval): whether two
products fit together, a product's price and stock, any attribute it declares, what fits or goes
with it, and two or three products side by side.

Each answer is given only for products the question names unmistakably; a fact about a
look-alike is a wrong fact, so an ambiguous name gets a question back instead.
"""
from __future__ import annotations

import re

import networkx as nx

from shopqa.ingest.chunking import count_tokens
from shopqa.ingest.tokenize import _EN_STOP

from shopqa.catalogue import links, products
from shopqa.catalogue.products import COMPAT, Mention, ProductMatcher, _FILLER, _QUESTION_WORDS
from shopqa.catalogue.catalogue import Catalogue, label
from shopqa.catalogue.fit_lists import INTO, WHICH, FitLists
from shopqa.catalogue.replies import CatalogueReply, stock_note, stock_status
from shopqa.catalogue.search import ProductSearch
from shopqa.catalogue.search_request import REQUEST

# Words that ask for two products side by side.
COMPARE = re.compile(r"\b(difference|differences|differ|compare|compared|comparison|vs\.?|versus|better|"
                     r"which (?:one|is)|or the)\b|区别|不同|差别|对比|比较|哪个更|哪款更|哪个好|还是", re.I)
# A request about money or service around products, not for a product: no search answers it.
NOT_A_SEARCH = re.compile(r"\b(discounts?|coupons?|promo|promotions?|vouchers?|codes?|warranty|guarantee|returns?|"
                          r"refunds?|exchange|repair|assembly|install(?:ation)?)\b|折扣|优惠|打折|优惠券|保修|退货|退款|"
                          r"换货|维修|安装", re.I)
# Words about suiting a need; they ask nothing an attribute answer leaves out.
_SUITS = frozenset("适合 适用 suitable suit suits good".split())
# A story with a question in it ("it came yesterday ... what do you need from me?") is the
# help center's to answer, not a catalogue lookup's.
LOOKUP_TOKENS = 40
# Demonstratives and measure words ("这根", "那款") say nothing about what is asked.
_DEMONSTRATIVE = re.compile(r"^[这那哪该此][个款件根条只台双把张套瓶支种]?$")


class CatalogueAnswers:
    """Catalogue answers over one index generation's graph and catalogue."""

    def __init__(self, graph: nx.Graph, catalogue: Catalogue, matcher: ProductMatcher, prompts):
        self.graph = graph
        self.catalogue = catalogue
        self.matcher = matcher
        self.prompts = prompts
        self.search = ProductSearch(catalogue, matcher, graph)
        self.fit_lists = FitLists(graph, catalogue, matcher, self.search, prompts)

    def answer(self, question: str, mentions: list[Mention], lang: str, from_history: bool = False
               ) -> CatalogueReply | None:
        """The catalogue's answer to ``question`` about the ``mentions``, or None when the
        catalogue alone does not answer it (then retrieval and the help center do)."""
        if not mentions:
            return self.find(question, lang)
        if from_history and self.search.refers_back(question):
            refined = self.search.refine(question, [m.sku for m in mentions])
            if refined is not None:  # "cheaper?", "那有没有大一点的？"
                return self._search_reply(refined, lang)
        sure = [m for m in mentions if from_history or self.matcher.is_sure(m, question)]
        if count_tokens(question) > LOOKUP_TOKENS:
            return None
        which = bool(WHICH.search(question))
        if which:
            listed = self.fit_lists.reply(question, sure, lang)
            if listed:
                return listed
        if len(sure) >= 2 and (COMPAT.search(question) or INTO.search(question)) and not COMPARE.search(question):
            reply = self._compat(sure, lang)
            if reply:
                return reply
        ambiguous = [m for m in sure if m.alternatives and not from_history]
        if len(ambiguous) == 1 == len(sure):
            reply = self._same_for_all(question, ambiguous[0], lang)
            if reply:
                return reply
        if ambiguous and (self.matcher.asks_only_price_or_stock(question, [m.sku for m in sure])
                          or self._asks_attributes(question, ambiguous[0].sku)):
            return self._clarify(ambiguous[0], lang)
        if 1 <= len(sure) == len(mentions) <= 3:
            skus = [m.sku for m in sure]
            if len(sure) >= 2 and COMPARE.search(question):
                return self._compare(question, skus, lang)
            if self.matcher.asks_only_price_or_stock(question, skus):
                return self._price_stock(skus, lang)
            if len(sure) == 1:
                reply = self._attributes(question, sure[0].sku, lang)
                if reply:
                    return reply
        listed = None if which else self.fit_lists.reply(question, sure, lang)  # asked above already
        if listed:
            return listed
        if from_history and (len(mentions) > 1 or self.search.parse(question).limits):
            # "in black?" after a list of products, "那250克的呢？" after one: the same kind,
            # described further.
            refined = self.search.refine(question, [m.sku for m in mentions])
            if refined is not None:
                return self._search_reply(refined, lang)
        return self.find(question, lang, sure)

    def find(self, question: str, lang: str, sure: list[Mention] | None = None, requested: bool = False
             ) -> CatalogueReply | None:
        """Products matching a request with constraints ("a velvet sofa under £1,000"), from
        the catalogue search; None when the message is not such a request. ``requested`` says
        the message was already routed as a request for products (the recommend route)."""
        if products.OTHER_COST.search(question) or NOT_A_SEARCH.search(question):
            return None
        asks = bool(REQUEST.search(question)) or requested
        request = self.search.parse(REQUEST.sub(" ", question))
        if not (asks or request.bounded):
            return None
        results = self.search.search(request)
        if not request.constrained:
            # Without a limit, only a request all of whose words describe the product found
            # ("a smart plug for my air conditioner", not "a size chart for jeans").
            top = results[0].sku if results else None
            if top is None or any(w not in self.search.kind[top] | self.search.like[top] for w in request.words):
                return None
        return self._search_reply(request, lang, results)

    def _search_reply(self, request, lang: str, results: list | None = None) -> CatalogueReply | None:
        """The search's results (``results``, or searched here) as a reply ("From our catalogue,
        matching ...: X (SKU): 949.00 GBP, in stock"), or that nothing matches all of the request."""
        results = self.search.search(request) if results is None else results
        msg = self.prompts.message
        if not results:
            if not request.constrained or not [w for w in request.words if w in self.search.kind_words]:
                return None
            wanted = ", ".join(limit.text for limit in request.limits) or (
                msg("in_stock", lang) if request.in_stock else "")
            return CatalogueReply(msg("search_none", lang, wanted=wanted), [], "search",
                                  {"request": request.words})
        sep = "；" if lang == "zh" else "; "
        items = []
        for r in results:
            p = self.catalogue.products[r.sku]
            why = [*r.why, stock_status(self.prompts, p.in_stock, lang)]
            items.append(msg("search_item", lang, name=p.name, sku=r.sku, why=", ".join(why)))
        end = "。" if lang == "zh" else "."
        return CatalogueReply(f"{msg('search_intro', lang)} {sep.join(items)}{end}", [r.sku for r in results],
                              "search", {"request": request.words})

    def _same_for_all(self, question: str, mention: Mention, lang: str) -> CatalogueReply | None:
        """For a name several products share ("the Marlow bed": double, king, super king), the
        attributes asked when all of them have the same value; None when they differ."""
        options = [mention.sku, *mention.alternatives]
        keys, rest = self.catalogue.asked(question, mention.sku)
        if not keys or self._leftover(rest, options) > 1:
            return None
        values = [[self.catalogue.products[s].attributes.get(k) for k in keys[:4]] for s in options]
        if any(v != values[0] for v in values[1:]):
            return None
        reply = self._attributes(question, mention.sku, lang)
        if reply is None:
            return None
        first = self.catalogue.products[mention.sku]
        names = " / ".join(f"{self.catalogue.products[s].name} ({s})" for s in options)
        reply.text = reply.text.replace(f"{first.name} ({first.sku})", names, 1).replace(
            f"{first.name}（{first.sku}）", names, 1)
        reply.skus = options
        return reply

    def unlisted(self, question: str, mentions: list[Mention], from_history: bool = False) -> tuple[str, str] | None:
        """``(sku, what)`` when the question asks one named product for an attribute its
        catalogue row does not give ("Where is the Summit parka made?" with no origin listed) and
        asks nothing else; the caller says so unless the help center has it."""
        sure = [m for m in mentions if from_history or self.matcher.is_sure(m, question)]
        if len(sure) != 1 or len(mentions) != 1 or count_tokens(question) > LOOKUP_TOKENS:
            return None
        found = self.catalogue.unlisted(question, sure[0].sku)
        if found is None or self._leftover(found[1], [sure[0].sku]) > 0 or products.OTHER_COST.search(question):
            return None
        return sure[0].sku, found[0].name

    # -- kinds of answers -------------------------------------------------------------------
    def _price_stock(self, skus: list[str], lang: str) -> CatalogueReply:
        msg = self.prompts.message
        lines = []
        for sku in skus:
            p = self.catalogue.products[sku]
            lines.append(msg("product_card", lang, name=p.name, sku=sku, price=f"{p.price:.2f}", currency=p.currency,
                             stock=stock_status(self.prompts, p.in_stock, lang)))
        return CatalogueReply(" ".join(lines), skus, "price_stock")

    def _asks_attributes(self, question: str, sku: str) -> bool:
        keys, _ = self.catalogue.asked(question, sku)
        return bool(keys)

    def _attributes(self, question: str, sku: str, lang: str) -> CatalogueReply | None:
        """"Ashby Oak 2-Door Wardrobe (OK-WRD-ASH2): height 195 cm." for the attributes asked,
        when the question asks nothing else the catalogue cannot say."""
        keys, rest = self.catalogue.asked(question, sku)
        if not keys or self._leftover(rest, [sku]) > 1 or products.OTHER_COST.search(rest):
            return None  # "how long is delivery for the cable" asks about delivery, not length
        p = self.catalogue.products[sku]
        facts = [self.prompts.message("attribute_fact", lang, label=label(k), value=self.catalogue.display(sku, k))
                 for k in keys[:4]]
        sep = "；" if lang == "zh" else "; "
        text = self.prompts.message("attribute_answer", lang, name=p.name, sku=sku, facts=sep.join(facts))
        return CatalogueReply(text, [sku], "attribute", {"attributes": keys[:4]})

    def _compare(self, question: str, skus: list[str], lang: str) -> CatalogueReply:
        """Two or three products side by side: price, stock and the attributes asked (or all
        they share)."""
        asked: list[str] = []
        for sku in skus:
            for key in self.catalogue.asked(question, sku)[0]:
                if key not in asked:
                    asked.append(key)
        shared = [k for k in self.catalogue.products[skus[0]].attributes
                  if all(k in self.catalogue.products[s].attributes for s in skus)]
        keys = [k for k in asked if k in shared] or shared[:5]
        msg = self.prompts.message
        sep = "；" if lang == "zh" else "; "
        items = []
        for sku in skus:
            p = self.catalogue.products[sku]
            facts = [msg("price_fact", lang, price=f"{p.price:.2f}", currency=p.currency),
                     stock_status(self.prompts, p.in_stock, lang)]
            facts += [msg("attribute_fact", lang, label=label(k), value=self.catalogue.display(sku, k)) for k in keys]
            items.append(msg("compare_item", lang, name=p.name, sku=sku, facts=", ".join(facts)))
        return CatalogueReply(f"{msg('compare_intro', lang)} {sep.join(items)}.", skus, "compare", {"attributes": keys})

    def _compat(self, mentions: list[Mention], lang: str) -> CatalogueReply | None:
        """Whether the first two named products fit together, with what fits instead; None when
        the catalogue links neither of them to anything (then it cannot say)."""
        g = self.graph
        first, second = mentions[0].sku, mentions[1].sku
        if not any(links.fits(g, s) or links.fits_reverse(g, s) for s in (first, second)):
            return None
        # The accessory is the one that is not a main product of the other ("case fits phone").
        acc, main = (first, second) if links.fits(g, first) else (second, first)
        node = lambda s: g.nodes[f"product:{s}"]  # noqa: E731
        msg = self.prompts.message
        values = dict(accessory=node(acc)["name"], accessory_sku=acc, product=node(main)["name"], product_sku=main)
        if links.compatible(g, acc, main):
            return CatalogueReply(msg("compat_yes", lang, **values), [acc, main], "compat")
        text = msg("compat_no", lang, **values)
        # Name what it does fit among products like the one asked about (phones for a phone).
        fits = [s for s in links.fits(g, acc) if node(s)["category"] == node(main)["category"]]
        if fits:
            text += " " + msg("compat_fits", lang, items=", ".join(f"{node(s)['name']} ({s})" for s in fits))
        alternatives = links.compatible_alternatives(g, main, acc)
        if alternatives:
            text += " " + msg("compat_alternatives", lang, product=node(main)["name"],
                              items=", ".join(stock_note(self.catalogue, self.prompts, s, lang)
                                              for s in alternatives))
        return CatalogueReply(text, [acc, main], "compat")

    def _clarify(self, mention: Mention, lang: str) -> CatalogueReply:
        options = [mention.sku, *mention.alternatives][:4]
        sep = "；" if lang == "zh" else "; "
        items = sep.join(f"{self.catalogue.products[s].name} ({s})" for s in options)
        return CatalogueReply(self.prompts.message("clarify_product", lang, items=items), options, "clarify")

    # -- helpers ----------------------------------------------------------------------------
    def _leftover(self, text: str, skus: list[str]) -> int:
        """How many words of ``text`` are neither the products' names nor filler: words that ask
        for something the catalogue answer would not say."""
        named: set[str] = set()
        for sku in skus:  # the name and category words, read once per generation, and the SKU
            named |= self.matcher.words.get(sku, set()) | self.search.kind[sku] | set(self.matcher.tokens(sku))
        return len([t for t in self.matcher.tokens(text) if t not in named and t not in _FILLER and t not in _EN_STOP
                    and t not in _QUESTION_WORDS and t not in _SUITS and not t.isdigit() and len(t) > 1
                    and not _DEMONSTRATIVE.match(t)])
