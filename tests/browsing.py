"""What the browser tests share: Debian's Chromium, its flags and where screenshots go.

The ``browser`` and ``page`` fixtures are in conftest.py; Chromium comes from
scripts/install-browser.sh, which `make test` runs; without it browser tests are skipped."""
from __future__ import annotations

import shutil

from realserver import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = REPO / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def login(page, base: str, target: str, user: str = "alice", password: str = "s3cret") -> None:
    """Log in through the form that guards ``target`` and land on it."""
    page.goto(f"{base}{target}")
    assert "/login" in page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("#login-button")
    page.wait_for_url(f"{base}{target}")
