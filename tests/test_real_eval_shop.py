"""`shopqa eval shop` end to end on a dev shop: real ingest, real models and LLM, the real app."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
DEV_SHOP = REPO.parent / "shared" / "dev-shops" / "apparel-en"


def test_eval_shop_scores_a_dev_shop_as_a_new_user_would(tmp_path):
    assert DEV_SHOP.is_dir(), f"{DEV_SHOP} is missing: CI and developers have ../shared beside the repository"
    out = tmp_path / "report.json"
    shopqa = Path(sys.executable).with_name("shopqa")
    run = subprocess.run([str(shopqa), "eval", "shop", str(DEV_SHOP / "shop"), str(DEV_SHOP / "questions.jsonl"),
                          "--out", str(out)], capture_output=True, text=True, timeout=1800,
                         env={"PATH": "/usr/bin:/bin", "SHOPQA_DATA_DIR": str(tmp_path / "var"),
                              "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    summary = report["summary"]
    assert summary["cases"] == 54 and set(summary["by_kind"]) == {"answer", "abstain", "route", "order"}
    # Never invent facts, never leak an order before verification.
    assert summary["invented_numbers"] == 0 and summary["order_data_leaked"] == 0, run.stdout
    right, answerable = summary["by_kind"]["answer"]
    refused, unanswerable = summary["by_kind"]["abstain"]
    # Regression floors well under the measured numbers (BENCHMARKS.md), above the intent-only routing's.
    assert right / answerable >= 0.6 and refused / unanswerable >= 0.5, run.stdout
    # Catalogue questions are answered from the catalogue itself (issue 14): 14/14 measured.
    right, asked = summary["by_topic"]["answer/catalogue"]
    assert right / asked >= 0.85, run.stdout
    # The printed report names every failing case with its path and reply.
    failing = [r for r in report["results"] if not r["passed"]]
    assert all(f"- {r['id']} [{r['kind']}]" in run.stdout for r in failing)
    assert "right answers" in run.stdout and "by topic" in run.stdout


def test_eval_shop_names_the_bad_line_of_a_questions_file(tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"kind": "answer", "turns": ["hi"]}\n', encoding="utf-8")
    shopqa = Path(sys.executable).with_name("shopqa")
    run = subprocess.run([str(shopqa), "eval", "shop", str(DEV_SHOP / "shop"), str(questions)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and f"{questions}:1: answer cases need 'expect'" in run.stderr
