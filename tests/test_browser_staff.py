"""Browser tests of staff access against the real `shopqa serve` (gunicorn, two workers): the
first-run setup link printed in the server's log, and the login lockout (counted in Redis).

Both servers use the tiny index with the hash embedder and no LLM: only the staff pages are
exercised. Screenshots go to ./screenshots."""
from __future__ import annotations

import json
import re
import secrets
import time

import pytest
from werkzeug.security import generate_password_hash

from browsing import SHOTS, login
from engines import RedisServer
from realserver import RealServer

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"


def server_env(index, var, **extra) -> dict[str, str]:
    # A fixed secret key: two workers starting together must not each generate their own.
    return {"SHOPQA_INDEX_DIR": str(index), "SHOPQA_DATA_DIR": str(var), "SHOPQA_EMBEDDER": "hash:128",
            "SHOPQA_LLM_ENABLED": "false", "SHOPQA_WORKERS": "2", "SHOPQA_SECRET_KEY": secrets.token_hex(16), **extra}


@pytest.fixture(scope="module")
def fresh_server(tiny_index, tmp_path_factory):
    """A server with no staff account at all."""
    var = tmp_path_factory.mktemp("setup-var")
    with RealServer(server_env(tiny_index, var), var / "server.log") as srv:
        yield srv


@pytest.fixture(scope="module")
def locking_server(tiny_index, tmp_path_factory):
    """A server with alice in the config, a one-minute login window and Redis shared by its workers."""
    var = tmp_path_factory.mktemp("lockout-var")
    with RedisServer(var) as redis:
        env = server_env(tiny_index, var, SHOPQA_STAFF_USERS=json.dumps({"alice": generate_password_hash("s3cret")}),
                         SHOPQA_LOGIN_WINDOW_MINUTES="1", SHOPQA_REDIS_URL=redis.url)
        with RealServer(env, var / "server.log") as srv:
            yield srv


def setup_link(server: RealServer) -> str:
    """The link `shopqa serve` printed in its log."""
    found = re.search(r"No staff account yet: open (http://\S+/setup\?token=[\w-]+)", server.log_path.read_text())
    assert found, server.log_path.read_text()[-2000:]
    return found.group(1)


def test_first_run_setup_through_the_printed_link(fresh_server, page):
    page.goto(fresh_server.base + "/login")
    assert "No staff account yet" in page.locator("#no-accounts").inner_text()
    link = setup_link(fresh_server)
    assert link.startswith(fresh_server.base + "/setup?token=")
    page.goto(link)
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.screenshot(path=str(SHOTS / "setup.png"), full_page=True)
    page.click("#setup-button")
    page.wait_for_url(fresh_server.base + "/console")
    assert "Log out bob" in page.locator("nav").inner_text()
    # The link worked once: now it answers 410 and says an account exists.
    again = page.goto(link)
    assert again.status == 410 and page.locator("#setup-done").is_visible()
    assert "setup link" in page.locator("#setup-done").inner_text()
    # bob logs in again like any staff member (whichever worker answers).
    page.context.clear_cookies()
    login(page, fresh_server.base, "/console", user="bob", password=PASSWORD)
    log = fresh_server.log_path.read_text()
    assert "first staff account created through the setup link: user='bob'" in log
    assert "login ok: user='bob' client=127.0.0.1" in log and PASSWORD not in log


def test_lockout_after_five_wrong_passwords(locking_server, page):
    page.goto(locking_server.base + "/login")
    for i in range(5):
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", f"guess-{i}")
        with page.expect_navigation() as nav:
            page.click("#login-button")
        assert nav.value.status == 401
        assert "Wrong username or password" in page.locator("#login-error").inner_text()
    # Locked (the counts are in Redis, as in production with several workers; that two processes
    # share them is shown in test_staff_accounts.py): even the right password is refused.
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "s3cret")
    with page.expect_navigation() as nav:
        page.click("#login-button")
    assert nav.value.status == 429
    retry_after = int(nav.value.headers["retry-after"])
    assert 1 <= retry_after <= 61
    message = page.locator("#login-error").inner_text()
    assert "Too many failed logins" in message and "Try again in 1 minute" in message
    page.screenshot(path=str(SHOTS / "login-locked.png"), full_page=True)
    for _ in range(3):  # every further try is refused while locked
        with page.expect_navigation() as nav:
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", "s3cret")
            page.click("#login-button")
        assert nav.value.status == 429
    assert "login refused, locked: user='alice'" in locking_server.log_path.read_text()
    assert "s3cret" not in locking_server.log_path.read_text() and "guess-" not in locking_server.log_path.read_text()
    # After the one-minute window the right password works again.
    time.sleep(retry_after + 1)
    login(page, locking_server.base, "/console")
