"""Word overlap across English and Chinese through shared concepts (app/text/bridge.py)."""
from __future__ import annotations

from shopqa.text.bridge import Bridge
from shopqa.ingest.tokenize import tokenize


def toks(text: str) -> set[str]:
    return set(tokenize(text))


def test_a_question_and_a_passage_in_two_languages_share_concepts():
    bridge = Bridge()
    weight = lambda t: 2.0  # noqa: E731
    covered, missing = bridge.coverage(weight, toks("whats the warranty on the earbuds"), toks("耳机保修一年"))
    assert covered == 1.0 and missing == 0.0
    # A passage about something else covers nothing; a word outside the list counts half, unmatched.
    assert bridge.coverage(weight, toks("Do you ship to Hong Kong?"), toks("我们支持支付宝付款"))[0] == 0.0
    covered, missing = bridge.coverage(weight, toks("Do you ship to Mars?"), toks("目前只配送中国大陆地区"))
    assert 0.5 < covered < 1.0 and missing == 1.0
    # Codes and numbers are written alike in both languages.
    assert bridge.coverage(weight, toks("Is the AP400 filter in stock?"), toks("AP400 滤网有货"))[0] == 1.0
    assert bridge.coverage(weight, toks("hello there"), toks("你好")) is None


def test_translate_gives_the_other_language_forms_for_keyword_search():
    bridge = Bridge()
    assert "patch test" in bridge.translate("斑贴测试要连续做几天？", "en")
    assert "保修" in bridge.translate("whats the warranty on the earbuds", "zh")
    assert bridge.translate("hello there", "zh") == ""


def test_a_shop_adds_its_own_terms(tmp_path):
    extra = tmp_path / "bilingual_terms.txt"
    extra.write_text("# ours\nEvergreen | 常青\n", encoding="utf-8")
    assert Bridge().translate("Evergreen perks", "zh") == ""
    assert Bridge(extra=extra).translate("Evergreen perks", "zh") == "常青"
