"""A long message is routed and answered by its ask; its mood and the record keep all of it."""
from __future__ import annotations

import pytest

from shopqa.text.long_message import the_ask
from shopqa.resources import Resources
from shopqa.settings import Settings

STORY = ("I bought a few things from you last spring for a hiking trip with my brother, and we walked "
         "about twelve miles a day along the ridge in mostly fine weather. ") * 5


def test_short_messages_are_read_whole():
    message = "I bought a case last week. It cracked. Can I return it?"
    assert the_ask(message) is message


def test_the_question_sentences_of_a_long_message():
    ask = the_ask(STORY + "Anyway, my question is: do you accept PayPal? Thanks a lot for reading all this.")
    assert ask.endswith("do you accept PayPal?") and "twelve miles" not in ask and "Thanks" not in ask


def test_without_a_question_the_last_sentences():
    ask = the_ask(STORY + "I would like to know the refund time for PayPal.")
    assert ask.endswith("I would like to know the refund time for PayPal.") and len(ask) <= 300
    assert ask.count("twelve miles") == 1  # one sentence of the story before it, not five


def test_chinese_long_message():
    story = "去年春天我在你们店里买了一些东西，和我哥哥一起去山里徒步，天气大多不错，我们每天走二十公里左右。" * 10
    assert the_ask(story + "请问退货要自己付运费吗？谢谢！") == "请问退货要自己付运费吗？"


def test_limits_are_checked():
    with pytest.raises(ValueError):
        the_ask("x", long_chars=10, ask_chars=20)


def test_assistant_answers_the_ask_and_keeps_the_whole_message(tiny_index, hash_embedder, tmp_path):
    res = Resources(Settings(index_dir=tiny_index, data_dir=tmp_path / "var", llm_enabled=False),
                    embedder=hash_embedder)
    res.warm_up(llm=False)
    message = STORY + "Anyway, my question is: do you accept PayPal?"
    reply = res.assistant().handle(message)
    assert reply.details["ask"].endswith("do you accept PayPal?") and "twelve" not in reply.details["ask"]
    assert reply.details["standalone_query"] == reply.details["ask"]
    stored = res.conversations().messages(reply.session_id)[0]
    assert stored["role"] == "customer" and stored["text"] == message
    short = res.assistant().handle("Do you accept PayPal?")
    assert "ask" not in short.details
