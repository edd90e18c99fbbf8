"""Catalogue answers from the product graph alone (no model, no retrieval): whether two
products fit together, a product's price and stock, any attribute it declares, what fits or goes
with it, and two or three products side by side.

Each answer is given only for products the question names unmistakably; a fact about a
look-alike is a wrong fact, so an ambiguous name gets a question back instead.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import networkx as nx

from shopqa.ingest.chunking import count_tokens
from shopqa.ingest.tokenize import _EN_STOP

from shopqa.catalogue import products
from shopqa.catalogue.products import COMPAT, Mention, ProductMatcher, _FILLER, _QUESTION_WORDS
from shopqa.catalogue.catalogue import Catalogue, label
from shopqa.catalogue.search import REQUEST, ProductSearch

# Words that ask for what goes with a product: accessories, spares, refills, care products.
LIST = re.compile(r"\b(accessor(?:y|ies)|add-?ons?|extras|spares?|replacements?|refills?|go(?:es)? with|"
                  r"pair(?:s)? with|to look after|look after|care for|recharge)\b|"
                  r"配件|附件|搭配|配套|替换|补充装|周边|耗材", re.I)
# Words that ask which things (not whether one thing): "which laces fit", "还有别的滤网能用吗".
WHICH = re.compile(r"\b(which|what|any|anything|other|others|else)\b|哪些|哪个|哪款|哪种|什么|有没有|别的|其他|其它",
                   re.I)
# Words that ask for two products side by side.
COMPARE = re.compile(r"\b(difference|differences|differ|compare|compared|comparison|vs\.?|versus|better|"
                     r"which (?:one|is)|or the)\b|区别|不同|差别|对比|比较|哪个更|哪款更|哪个好|还是", re.I)
# A request about money or service around products, not for a product: no search answers it.
NOT_A_SEARCH = re.compile(r"\b(discounts?|coupons?|promo|promotions?|vouchers?|codes?|warranty|guarantee|returns?|"
                          r"refunds?|exchange|repair|assembly|install(?:ation)?)\b|折扣|优惠|打折|优惠券|保修|退货|退款|"
                          r"换货|维修|安装", re.I)
# The verb between the kind asked and the product it is for ("which laces *fit* the boot").
_RELATION = re.compile(r"\b(fits?|fitting|works? (?:with|on|in)|go(?:es)? (?:with|on|in)|compatible with|suits?|"
                       r"to (?:recharge|charge|clean|look after|care for)|recharges?|for (?:my|the|a|an|this|that))\b|"
                       r"适用于|适合|能用在|可以用在|能配|配", re.I)
# Words that ask for something other than what was named.
OTHER = re.compile(r"\b(other|others|else|another|alternatives?|instead)\b|别的|其他|其它|还有|替代", re.I)
# Words about suiting a need; they ask nothing an attribute answer leaves out.
_SUITS = frozenset("适合 适用 suitable suit suits good".split())
# Compatibility asked without the usual words: "can I pour the refill into the bottle?".
INTO = re.compile(r"\b(?:pour|put|fill|zip|zips|clip|clips|screw|attach|use|fit|go|goes|refill)\b[^.?!]{0,40}?"
                  r"\b(?:into|in|inside|on|onto)\b|\binto\b|装在|装进|装到|放进|用在|装得", re.I)
# A story with a question in it ("it came yesterday ... what do you need from me?") is the
# help center's to answer, not a catalogue lookup's.
LOOKUP_TOKENS = 40
# Demonstratives and measure words ("这根", "那款") say nothing about what is asked.
_DEMONSTRATIVE = re.compile(r"^[这那哪该此][个款件根条只台双把张套瓶支种]?$")


@dataclass
class CatalogueReply:
    """A catalogue answer: its text, the products it cites (in order) and its kind."""

    text: str
    skus: list[str]
    kind: str
    details: dict = field(default_factory=dict)


class CatalogueAnswers:
    """Catalogue answers over one index generation's graph and catalogue."""

    def __init__(self, graph: nx.Graph, catalogue: Catalogue, matcher: ProductMatcher, prompts):
        self.graph = graph
        self.catalogue = catalogue
        self.matcher = matcher
        self.prompts = prompts
        self.search = ProductSearch(catalogue, matcher, graph)

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
            listed = self._list(question, sure, lang)
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
        listed = None if which else self._list(question, sure, lang)  # asked above already
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
            why = [*r.why, self._stock(p.in_stock, lang)]
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
                             stock=self._stock(p.in_stock, lang)))
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
            facts = [msg("price_fact", lang, price=f"{p.price:.2f}", currency=p.currency), self._stock(p.in_stock, lang)]
            facts += [msg("attribute_fact", lang, label=label(k), value=self.catalogue.display(sku, k)) for k in keys]
            items.append(msg("compare_item", lang, name=p.name, sku=sku, facts=", ".join(facts)))
        return CatalogueReply(f"{msg('compare_intro', lang)} {sep.join(items)}.", skus, "compare", {"attributes": keys})

    def _list(self, question: str, mentions: list[Mention], lang: str) -> CatalogueReply | None:
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
                linked = [s for s in products.fits_reverse(self.graph, main.sku) if s != main.sku]
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
                for main in products.fits(self.graph, m.sku):
                    alternatives = [s for s in products.compatible_alternatives(self.graph, main, m.sku)
                                    if s not in named]
                    if alternatives:
                        return self._list_reply(main, alternatives, lang)
        options = []
        for m in mentions:
            linked = [s for s in products.fits_reverse(self.graph, m.sku) if s not in named and s != m.sku]
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
                and not products.fits(self.graph, mentions[0].sku) \
                and not products.fits_reverse(self.graph, mentions[0].sku):
            main = self.catalogue.products[mentions[0].sku]
            return CatalogueReply(self.prompts.message("list_none", lang, product=main.name, product_sku=main.sku),
                                  [main.sku], "list")
        return None

    def _in_stock_first(self, question: str, chosen: list[str]) -> list[str]:
        """In stock first; only those in stock when the question asks for stock and some are."""
        chosen = sorted(chosen, key=lambda s: (not self.catalogue.products[s].in_stock, s))
        if products.STOCK.search(question) and any(self.catalogue.products[s].in_stock for s in chosen):
            chosen = [s for s in chosen if self.catalogue.products[s].in_stock]
        return chosen

    def _words(self, text: str) -> set[str]:
        return {t for t in self.matcher.tokens(text) if t not in _EN_STOP and t not in _FILLER
                and t not in _QUESTION_WORDS and len(t) >= 2}

    def _list_reply(self, main_sku: str, chosen: list[str], lang: str) -> CatalogueReply:
        main = self.catalogue.products[main_sku]
        sep = "；" if lang == "zh" else "; "
        items = sep.join(self._stock_note(s, lang) for s in chosen[:6])
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

    def _compat(self, mentions: list[Mention], lang: str) -> CatalogueReply | None:
        """Whether the first two named products fit together, with what fits instead; None when
        the catalogue links neither of them to anything (then it cannot say)."""
        g = self.graph
        first, second = mentions[0].sku, mentions[1].sku
        if not any(products.fits(g, s) or products.fits_reverse(g, s) for s in (first, second)):
            return None
        # The accessory is the one that is not a main product of the other ("case fits phone").
        acc, main = (first, second) if products.fits(g, first) else (second, first)
        node = lambda s: g.nodes[f"product:{s}"]  # noqa: E731
        msg = self.prompts.message
        values = dict(accessory=node(acc)["name"], accessory_sku=acc, product=node(main)["name"], product_sku=main)
        if products.compatible(g, acc, main):
            return CatalogueReply(msg("compat_yes", lang, **values), [acc, main], "compat")
        text = msg("compat_no", lang, **values)
        # Name what it does fit among products like the one asked about (phones for a phone).
        fits = [s for s in products.fits(g, acc) if node(s)["category"] == node(main)["category"]]
        if fits:
            text += " " + msg("compat_fits", lang, items=", ".join(f"{node(s)['name']} ({s})" for s in fits))
        alternatives = products.compatible_alternatives(g, main, acc)
        if alternatives:
            text += " " + msg("compat_alternatives", lang, product=node(main)["name"],
                              items=", ".join(self._stock_note(s, lang) for s in alternatives))
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

    def _stock(self, in_stock: bool, lang: str) -> str:
        return self.prompts.message("in_stock" if in_stock else "out_of_stock", lang)

    def _stock_note(self, sku: str, lang: str) -> str:
        p = self.catalogue.products[sku]
        if lang == "zh":
            return f"{p.name}（{sku}，{p.price:.2f} {p.currency}，{self._stock(p.in_stock, lang)}）"
        return f"{p.name} ({sku}, {p.price:.2f} {p.currency}, {self._stock(p.in_stock, lang)})"
