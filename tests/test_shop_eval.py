"""`shopqa eval shop` scoring rules (fast): matching, invented numbers, abstaining, file errors."""
from __future__ import annotations

import json

import pytest

from shopqa.evals import shop_grading
from shopqa.evals.shop_cases import Case, CasesError, load_cases
from shopqa.evals.shop_grading import grade, has, matches, numbers_in


def test_numeric_alternatives_match_whole_numbers_only():
    assert has("Returns within 45 days.", "45")
    assert not has("Returns within 145 days.", "45")
    assert not has("It weighs 4.5 kg.", "45") and not has("It weighs 4.5 kg.", "5")
    assert has("Costs $5.95 to ship", "5.95") and not has("Costs $15.95", "5.95")
    assert has("Free over $75.", "75") and has("It costs 289.00 USD.", "289")
    assert has("Chest 42-44 in", "42-44") and not has("Chest 142-44 in", "42-44")
    assert has("We Ship To Canada", "ship to canada")  # text: case-insensitive substring


def test_matches_needs_one_alternative_of_every_list():
    assert matches("30 days, label $7.50", [["30", "thirty"], ["7.50"]])
    assert not matches("30 days", [["30", "thirty"], ["7.50"]])


def test_numbers_leave_out_citations_and_tickets():
    assert numbers_in("Within 30 days [2]. Ticket T-000012 opened.") == {"30"}
    assert numbers_in("1,500 ml for 75.00 USD") == {"1500", "75"}
    assert numbers_in("OK-TBL,899.00,GBP,180,90,76,Oak") == {"899", "180", "90", "76"}  # a CSV row


def test_grade_answer_rejects_invented_numbers_and_abstentions():
    case = Case(id="a", kind="answer", turns=["How long do refunds take?"], expect=[["5"]])
    known = {"5", "10"}
    assert grade(case, [{"answer": "Within 5 business days [1].", "path": "extractive"}], known)["passed"]
    made_up = grade(case, [{"answer": "Within 5 days, or 7 for PayPal.", "path": "generated"}], known)
    assert not made_up["passed"] and made_up["invented"] == ["7"]
    assert not grade(case, [{"answer": "5? I don't know.", "path": "abstained"}], known)["passed"]


def test_grade_abstain_accepts_a_plain_not_found():
    case = Case(id="b", kind="abstain", turns=["Do you have stores?"], forbid=["store in"])
    assert grade(case, [{"answer": "Sorry, I couldn't find that.", "path": "extractive"}], set())["passed"]
    assert grade(case, [{"answer": "x", "path": "out_of_scope"}], set())["passed"]
    assert not grade(case, [{"answer": "We have a store in Reno.", "path": "extractive"}], set())["passed"]


def test_grade_route_and_order():
    route = Case(id="r", kind="route", turns=["human please"], intent="human_agent", handoff=True)
    assert grade(route, [{"answer": "", "intent": {"name": "human_agent"}, "handoff": {"reason": "x"}}], set())["passed"]
    assert not grade(route, [{"answer": "", "intent": {"name": "human_agent"}, "handoff": None}], set())["passed"]
    order = Case(id="o", kind="order", turns=["status NT-1", "a@b.c"], forbid=["shipped"], expect=[["email"]])
    leaked = grade(order, [{"answer": "It shipped."}, {"answer": "Your email?"}], set())
    assert not leaked["passed"] and leaked["leaked"]


def test_load_cases_names_file_and_line(tmp_path):
    path = tmp_path / "q.jsonl"
    good = {"id": "a1", "kind": "answer", "turns": ["hi?"], "expect": [["x"]]}
    path.write_text(json.dumps(good) + "\n{bad json\n" + json.dumps({"kind": "route", "turns": ["x"]}) + "\n")
    with pytest.raises(CasesError) as err:
        load_cases(path)
    text = str(err.value)
    assert f"{path}:2: not valid JSON" in text and f"{path}:3: route cases need 'intent', 'handoff'" in text
    path.write_text(json.dumps(good) + "\n")
    assert load_cases(path)[0].expect == [["x"]]


def test_shop_numbers_reads_any_encoding(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_bytes("退货期限 7 天，运费 12.50 元".encode("gb18030"))
    (tmp_path / "catalog.csv").write_text("OK-WRD,999.00,GBP,100,60,195,Oak\n1,500 ml\n", encoding="utf-8")
    assert {"7", "12.5", "60", "195", "1500", "999"} <= shop_grading.shop_numbers(tmp_path)
