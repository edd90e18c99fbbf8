"""Recognise products named in a question (SKUs, model numbers, names), and the words that ask
for catalogue facts (compatibility, price, stock) answered from the product graph and the store,
never from a model; how the graph links products is in ``links``."""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from shopqa.ingest.tokenize import _CJK_RUN, _EN_STOP, _jieba, stem
from shopqa.paths import DATA

from shopqa.catalogue.links import accessory_of

GLOSSARY = DATA / "glossary.json"
_WORDS = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*|[\u3400-\u9fff]+")
# Words that ask whether things fit together.
COMPAT = re.compile(r"\b(fit|fits|compatible|compatibility|work with|works with|suitable|use with)\b|"
                    r"适用|兼容|能用|能不能用|可以用|适配|合适|配得上|装得上", re.I)


# Words that ask what a product costs, or whether it can be bought now.
PRICE = re.compile(r"\b(price|prices|priced|cost|costs|how much|expensive|cheap|cheaper)\b|"
                   r"多少钱|价格|价钱|售价|几块钱|多钱|贵不贵|便宜", re.I)
STOCK = re.compile(r"\b(in stock|out of stock|available|availability|sold out|restock|restocked|back in stock)\b|"
                   r"有货|有没有货|没货|缺货|库存|现货|还有吗|有卖|能买到|卖完", re.I)
# ...unless the cost asked about is not the product's own (shipping, duties, repairs, fees).
OTHER_COST = re.compile(r"\b(ship|shipping|shipped|delivery|deliver|postage|return|returns|refund|warranty|repair|"
                        r"fee|fees|tax|taxes|customs|duty|duties|gift wrap|wrapping|discount|discounts|coupon|"
                        r"voucher|trade-in|trade in|credit|installments?)\b|"
                        r"运费|邮费|快递费|配送|退货|退款|保修|维修|关税|税|手续费|包装费|折扣|优惠|抵扣|以旧换新|分期", re.I)


def asks_price_or_stock(text: str) -> bool:
    """True for a question about a product's own price or availability (not shipping or fees)."""
    return bool(PRICE.search(text) or STOCK.search(text)) and not OTHER_COST.search(text)


# Words that ask nothing of their own in a price question ("do you have", "please", "请问").
_FILLER = frozenset("please tell know want like would need get buy sell one ones thing item product products guy guys "
                    "hi hello hey thanks currently right now still much many 请问 一下 你们 现在 还 这个 那个 多少 钱 "
                    "一个 买 卖 有 吗 呢 的 了 是".split())


# Category words too general to say a message is about this shop ("I'm at home").
_GENERIC_CATEGORY = frozenset("accessories accessory other others misc miscellaneous general home new sale sales "
                              "gift gifts all more extras extra various goods items products".split())
# Words customers use *about* products; never anchors even when a product name contains them.
_QUESTION_WORDS = frozenset("compatible compatibility fit fits work works use price cost stock available buy sell "
                            "order ship shipping return refund warranty much many".split())


@dataclass
class Mention:
    """A product recognised in the question."""

    sku: str
    name: str
    score: float
    start: int  # token position of the mention, for ordering
    # Other products the same words name equally well ("the Kyusu teapot" with a 300 ml and a
    # 500 ml one): a fact about either could be a fact about the wrong one.
    alternatives: list[str] = field(default_factory=list)


def load_glossary(extra: Path | None = None) -> dict[str, list[str]]:
    """The built-in Chinese->English product-noun glossary, plus a shop's own if given."""
    table = {k: v for k, v in json.loads(GLOSSARY.read_text(encoding="utf-8")).items() if not k.startswith("_")}
    if extra and extra.is_file():
        table.update({k: v for k, v in json.loads(extra.read_text(encoding="utf-8")).items() if not k.startswith("_")})
    return table


class ProductMatcher:
    """Finds the catalogue's products named in a question, by full or partial name, model code
    or SKU, in either language of a bilingual name.

    Each product's name is read the way questions are read (jieba and the glossary for Chinese),
    and its words weigh by how rare they are in the catalogue. The best-matching product takes
    the question's words it matched (the nearest occurrences, within a few words of each other),
    then the next product is sought among the words left: in "will the Harbury 2-seater cover fit
    my Harbury 3-seater sofa?" the cover takes "Harbury 2-seater cover" and the sofa the rest.
    Between products that match equally, the one whose name has fewer other words wins (the
    "tent", not the "tent footprint"); when even that ties, the mention lists the others as
    ``alternatives``, for the caller to ask which one was meant.
    """

    def __init__(self, graph: nx.Graph, glossary: dict[str, list[str]] | None = None, window: int = 2):
        if window < 1:
            raise ValueError("window must be >= 1")
        self.glossary = glossary if glossary is not None else load_glossary()
        self.window = window
        self.graph = graph
        self._seg = None
        self.products: dict[str, dict] = {}
        self.words: dict[str, set[str]] = {}
        self.name_words: dict[str, set[str]] = {}
        self.code_index: dict[str, set[str]] = {}
        word_index: dict[str, set[str]] = {}
        for _, data in graph.nodes(data=True):
            if data.get("type") != "product":
                continue
            sku = data["sku"]
            self.products[sku] = data
            name = {t for t in self._tokens(data["name"]) if t not in _EN_STOP and t.strip()}
            words = name | {stem(w) for w in _WORDS.findall(f"{data['name']} {data['category']}".lower())} | set(
                self._tokens(str(data["category"])))
            self.name_words[sku] = name
            self.words[sku] = words | {sku.lower()}
            for code in {sku.lower(), *_codes(data["name"].lower()), *_codes(sku.lower().replace("-", " "))}:
                self.code_index.setdefault(code, set()).add(sku)
            for w in words:
                word_index.setdefault(w, set()).add(sku)
        # Category words ("tents", "sleeping bags"), stemmed, to tell shop questions from others.
        self.category_words = {stem(w) for d in self.products.values()
                               for w in re.findall(r"[a-z]+|[\u3400-\u9fff]+", str(d.get("category", "")).lower())
                               if len(w) >= 3 and w not in _EN_STOP and w not in _GENERIC_CATEGORY}
        self.category_words |= {t for d in self.products.values() for t in self._tokens(str(d.get("category", "")))
                                if len(t) >= 2 and t not in _EN_STOP and t not in _GENERIC_CATEGORY}
        total = max(1, len(self.products))
        self.weight = {w: math.log(1 + total / len(skus)) for w, skus in word_index.items()}
        limit = max(2, len(self.products) // 20)
        self.rare = {w: skus for w, skus in word_index.items()
                     if len(skus) <= limit and len(w) >= 3 and w not in self.code_index and not w.isdigit()
                     and w not in _EN_STOP and w not in _QUESTION_WORDS}
        # A product is named by a code, or by name words that few products share jointly, one of
        # them not a category word ("Elmstead armchair", not "sofas").
        self.word_index = word_index
        self.common = max(3, int(0.15 * total))
        self._ignore = _EN_STOP | _QUESTION_WORDS | _FILLER

    def _segmenter(self):
        if self._seg is None:
            import jieba

            _jieba()  # sets jieba's log level before the private tokenizer loads its dictionary
            seg = jieba.Tokenizer()
            for word in self.glossary:
                seg.add_word(word, freq=100000)  # glossary words win over jieba's own splits
            self._seg = seg
        return self._seg

    def tokens(self, text: str) -> list[str]:
        """``text`` as the matcher reads it: lower-cased, stemmed, Chinese segmented by jieba
        and mapped through the glossary."""
        return self._tokens(text)

    def _tokens(self, text: str) -> list[str]:
        out: list[str] = []
        for tok in _WORDS.findall(text.lower()):
            if _CJK_RUN.fullmatch(tok):
                for w in self._segmenter().lcut(tok):
                    out.extend(self.glossary.get(w, [w]))
            else:
                out.append(tok)
        return [stem(t) for t in out]

    def find(self, text: str) -> list[Mention]:
        """Products named in ``text``, in the order they are mentioned."""
        tokens = self._tokens(text)
        positions: dict[str, list[int]] = {}
        for i, t in enumerate(tokens):
            positions.setdefault(t, []).append(i)
        used: set[int] = set()
        mentions: list[Mention] = []
        while True:
            free = {t: [i for i in ps if i not in used] for t, ps in positions.items()}
            free = {t: ps for t, ps in free.items() if ps}
            # Candidates come from the question's rarest catalogue words (and its codes).
            known = sorted((t for t in free if t in self.word_index and t not in self._ignore),
                           key=lambda t: len(self.word_index[t]))
            candidates: set[str] = set()
            for t in free:
                candidates |= self.code_index.get(t, set())
            for t in [t for t in known if t not in self.category_words][:3]:
                candidates |= self.word_index[t]
            scored = []
            for sku in candidates:
                match = self._match(sku, free)
                if match is not None:
                    scored.append((match[0], sku, match[1]))
            if not scored:
                break
            scored.sort(key=lambda x: (x[0], x[1]), reverse=True)
            # Named equally well, a product beats its own accessory ("RV7 Pro" is the robot, not
            # the RV7 Pro dust bags): the accessory's name borrows the product's.
            top = [x for x in scored if x[0][:2] == scored[0][0][:2]]
            skus = {x[1] for x in top}
            mains = [x for x in top if not set(accessory_of(self.graph, x[1])) & skus]
            if mains and len(mains) < len(top):
                scored = mains + [x for x in scored if x not in mains]
            rank, best, taken = scored[0]
            if any(m.sku == best for m in mentions):
                break
            # Equally named: same code status, word mass and number of other name words.
            ties = sorted(sku for r, sku, _ in scored[1:] if r[:3] == rank[:3]
                          and best not in accessory_of(self.graph, sku))
            exact = best.lower() in {tokens[i] for i in taken}
            score = 10.0 if exact else float(len(taken))
            mentions.append(Mention(best, self.products[best]["name"], score, min(taken), ties))
            used |= set(taken)
        return sorted(mentions, key=lambda m: m.start)

    def _mass(self, sku: str, word: str) -> float:
        """What a matched word says about ``sku``: its rarity, halved when only the product's
        category has it (the name says what a product is; "耳机" files the ear tips under
        earbud accessories, but they are not earbuds)."""
        weight = self.weight.get(word, 0.0)
        return weight if word in self.name_words[sku] or sku in self.code_index.get(word, ()) else weight / 2

    def _match(self, sku: str, free: dict[str, list[int]]):
        """How well ``sku``'s words match the free words: ``(rank, positions taken)``, or None
        when no code or distinctive word of it is among them."""
        words = [w for w in self.words[sku] if w in free and w not in self._ignore]
        codes = [w for w in words if sku in self.code_index.get(w, ())]
        if codes:
            keys = codes
        else:
            keys = [w for w in words if w not in self.category_words and not w.isdigit()]
            if not keys:
                return None
            joint = set.intersection(*(self.word_index[w] for w in words if w in self.word_index))
            if len(joint) > self.common or (len(words) == 1 and words[0] not in self.rare):
                return None  # too many products share these words; one common word names none
        span_limit = max(4, 2 * self.window)
        best = None
        anchor_word = max(keys, key=lambda w: (self.weight.get(w, 0.0), w))
        for anchor in free[anchor_word]:
            taken, mass = [anchor], self._mass(sku, anchor_word)
            for w in words:
                if w == anchor_word:
                    continue
                near = min(free[w], key=lambda i: (abs(i - anchor), i))
                if abs(near - anchor) <= span_limit:
                    taken.append(near)
                    mass += self._mass(sku, w)
            span = max(taken) - min(taken)
            if best is None or (mass, -span) > (best[0], -best[1]):
                best = (mass, span, taken)
        mass, span, taken = best
        code = bool(codes)
        name_mass = sum(self.weight.get(w, 0.0) for w in self.name_words[sku]) or 1.0
        covered = sum(self.weight.get(w, 0.0) for w in words if w in self.name_words[sku]) / name_mass
        extra = len(self.name_words[sku]) - len([w for w in words if w in self.name_words[sku]])
        return (code, round(mass, 6), -extra, round(covered, 6), -span), sorted(taken)

    def is_sure(self, mention: Mention, text: str) -> bool:
        """True when ``text`` names the mentioned product unmistakably: by one of its codes (SKU,
        model number) or by at least two of its name words, and names no model the catalogue
        lacks ("the Expedition Pack 55L" is not the Daypack 30L, though both are packs)."""
        tokens = self._tokens(text)
        unknown = [t for t in tokens if t not in self.word_index and t not in self.code_index
                   and re.search(r"\d", t) and re.search(r"[a-z]", t)]
        if unknown:
            return False
        return mention.score >= 2 or any(mention.sku in self.code_index.get(t, ()) for t in tokens)

    def catalogue_terms(self, text: str) -> set[str]:
        """The catalogue's category words, distinctive name words and model codes in ``text``."""
        return {t for t in self._tokens(text) if t in self.category_words or t in self.rare or t in self.code_index}

    def names_other_things(self, text: str, other: str) -> bool:
        """True when ``text`` and ``other`` each name catalogue things the other does not
        ("Is the X200 case waterproof?" against "Is the X300 case waterproof?"): then an answer
        about one is not an answer about the other, however alike the two sentences read."""
        mine, theirs = self.catalogue_terms(text), self.catalogue_terms(other)
        return bool(mine - theirs) and bool(theirs - mine)

    def asks_only_price_or_stock(self, text: str, skus: list[str]) -> bool:
        """A price or stock question about the named products and nothing else.

        "How much is the Summit parka?" is; "my tailor wants $25 to hem the jeans, do you do it
        cheaper?", "how much would embroidering the shirt cost?" and "which laces are in stock and
        fit the boots?" are not: they ask about a service or other things, which the catalogue's
        price of the named product does not answer.
        """
        if not asks_price_or_stock(text):
            return False
        # The name and category as the question's words are read (jieba, glossary): the product's words.
        named: set[str] = set().union(*(self.words.get(sku, set()) for sku in skus))
        rest = STOCK.sub(" ", PRICE.sub(" ", text))
        leftover = [t for t in self._tokens(rest) if t not in named and t not in _FILLER and t not in _EN_STOP
                    and not t.isdigit() and t not in _QUESTION_WORDS - {"fit", "fits", "work", "works"}]
        return len(leftover) <= 1

    def names_category(self, text: str) -> bool:
        """True when ``text`` names one of the catalogue's categories ("a tent", "手机壳" via the glossary)."""
        return bool(self.category_words & set(self._tokens(text)))


def _codes(text: str) -> set[str]:
    """Model-number tokens in a product name: words with both letters and digits (x200, 65w)."""
    return {w for w in re.findall(r"[a-z0-9]+", text) if re.search(r"\d", w) and re.search(r"[a-z]", w)}
