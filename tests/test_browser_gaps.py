"""Browser tests of the FAQ gaps, against the real server with the real embedder: paraphrases of an
unanswerable question are grouped with counts on the dashboard; publishing a gap's answer from the
page makes the same question get the curated answer; /search?q= opens with results; the console
filters and searches its tickets."""
from __future__ import annotations

import json
import shutil
import urllib.request

import pytest
from werkzeug.security import generate_password_hash

from browsing import SHOTS, login
from realserver import RealServer
from shopqa.ingest.pipeline import IngestOptions, run

pytestmark = pytest.mark.slow

QUESTION = "Do you ship parcels to Iceland?"
PARAPHRASES = ("Can you ship my parcel to Iceland?", "Do you deliver to Iceland?")
OTHER = "Is there a student discount for teachers?"
ANSWER = "Yes: parcels to Iceland take 5-7 working days and cost 12 EUR."


@pytest.fixture(scope="module")
def server(tiny_shop, e5_embedder, tmp_path_factory):
    """A private index (publishing re-ingests it); every knowledge answer below the curated
    threshold abstains, so the questions above become FAQ gaps."""
    root = tmp_path_factory.mktemp("gaps")
    shop = shutil.copytree(tiny_shop, root / "shop")
    run(IngestOptions(shop_dir=shop, index_dir=root / "index", embedder="e5-small"), embedder=e5_embedder)
    users = json.dumps({"alice": generate_password_hash("s3cret")})
    env = {"SHOPQA_INDEX_DIR": str(root / "index"), "SHOPQA_DATA_DIR": str(root / "var"),
           "SHOPQA_STAFF_USERS": users, "SHOPQA_ABSTAIN_THRESHOLD": "0.999", "SHOPQA_OOS_THRESHOLD": "-1"}
    with RealServer(env, root / "server.log") as srv:
        yield srv


def ask(server, message: str) -> dict:
    """One customer message in a new session."""
    req = urllib.request.Request(server.base + "/api/chat", data=json.dumps({"message": message}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as resp:
        return json.load(resp)


def test_dashboard_groups_paraphrases_with_counts(server, page):
    replies = [ask(server, text) for text in (QUESTION, QUESTION, *PARAPHRASES, OTHER)]
    assert [r["path"] for r in replies] == ["abstained"] * 5, replies
    login(page, server.base, "/dashboard")
    first = page.locator("#gaps tr.gap").first
    assert first.locator(".gap-question").inner_text() == QUESTION
    assert first.locator(".gap-count").inner_text() == "4"
    assert "3 wordings" in first.inner_text()
    assert page.locator("#gaps tr.gap").count() == 2
    other = page.locator("#gaps tr.gap", has_text=OTHER)
    assert other.locator(".gap-count").inner_text() == "1"
    page.screenshot(path=str(SHOTS / "faq-gaps.png"), full_page=True)
    # The group's conversations are one click away, in the console.
    first.locator("a.gap-session").first.click()
    page.wait_for_url("**/console?session=*")
    page.locator("#transcript .msg.customer", has_text="Iceland").first.wait_for()


def test_publishing_a_gap_makes_the_question_curated(server, page):
    if not any(g["question"] == QUESTION for g in _gaps(server)):
        ask(server, QUESTION)  # this test alone: make the gap
    login(page, server.base, "/dashboard")
    row = page.locator("#gaps tr.gap", has_text=QUESTION).first
    row.locator("details.publish summary").click()
    row.locator(".publish-answer").fill(ANSWER)
    row.locator(".publish-send").click()
    page.locator("#publish-status[data-state=live]").wait_for(timeout=300_000)
    assert row.locator(".gap-published").count() == 1
    page.screenshot(path=str(SHOTS / "faq-gap-published.png"), full_page=True)
    reply = ask(server, QUESTION)
    assert reply["path"] == "curated" and ANSWER in reply["answer"], reply
    assert reply["sources"][0]["file"] == "published/faqs/published.jsonl"


def test_search_link_opens_with_results(server, page):
    login(page, server.base, "/search")
    page.goto(server.base + "/search?q=PayPal&type=faq")
    page.locator(".hit", has_text="PayPal").first.wait_for()
    assert page.input_value("#q") == "PayPal" and page.input_value("#type") == "faq"


def test_console_filters_and_searches_tickets(server, page):
    ticket = ask(server, "I want to talk to a human agent please")
    assert ticket["handoff"] and ticket["handoff"]["ticket"], ticket
    ref = ticket["handoff"]["ticket"]
    login(page, server.base, "/console")
    card = page.locator(".ticket", has_text=ref)
    card.wait_for()
    assert card.locator(".ticket-lang").inner_text() == "language: en"
    assert card.locator(".ticket-reason").inner_text().startswith("reason: ")
    page.fill("#queue-q", "no ticket says this")
    page.locator("#queue", has_text="No handoffs match.").wait_for()
    page.fill("#queue-q", ref)
    card.wait_for()
    assert page.locator(".ticket").count() == 1
    page.fill("#queue-q", "")
    page.select_option("#queue-status", "closed")
    page.locator("#queue", has_text="No closed handoffs.").wait_for()
    page.select_option("#queue-status", "all")
    card.wait_for()


def _gaps(server) -> list[dict]:
    """The FAQ gap groups, through the staff API with a fresh login."""
    import http.cookiejar

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(server.base + "/login", timeout=30).read().decode()
    token = html.split('name="csrf-token" content="')[1].split('"')[0]
    data = f"username=alice&password=s3cret&csrf_token={token}".encode()
    opener.open(urllib.request.Request(server.base + "/login", data=data), timeout=30)
    with opener.open(server.base + "/api/staff/faq-gaps", timeout=60) as resp:
        return json.load(resp)["groups"]
