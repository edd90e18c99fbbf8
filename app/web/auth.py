"""Staff access: logins with hashed passwords or bearer tokens, and CSRF protection for forms.

Customers use the chat API and the widget without logging in. Internal pages (/search,
/console, /dashboard) and the staff API need either a login (a signed session cookie) or an
``Authorization: Bearer <token>`` header whose SHA-256 is listed in ``staff_tokens``. Every
state-changing request made with the session cookie must carry the session's CSRF token (a
form field ``csrf_token`` or an ``X-CSRF-Token`` header); bearer-token requests carry no
cookie, so they need none.

Accounts come from the config's ``staff_users`` and from shopqa's own store (made through the
first-run ``/setup`` link or ``shopqa staff add``); on a name in both, the config's wins. Failed
logins are limited per account and per client (shopqa.staff.login_guard), and every login,
failure and lockout is logged to ``shopqa.auth`` with the name and client, never the password.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
import time

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, session, url_for
from werkzeug.security import check_password_hash, generate_password_hash

from shopqa.staff.accounts import MIN_PASSWORD, AccountError, validate
from shopqa.staff.login_guard import LoginGuard, make_login_guard
from shopqa.staff.setup_token import SetupTokens, setup_needed
from shopqa.web.chat import client_key

bp = Blueprint("auth", __name__)
log = logging.getLogger("shopqa.auth")


@bp.record_once
def _make_guard(state) -> None:
    """One failed-login counter per app (per worker, or shared through Redis)."""
    state.app.extensions["shopqa_login_guard"] = make_login_guard(state.app.config["SHOPQA_SETTINGS"])


def token_digest(token: str) -> str:
    """What ``staff_tokens`` stores for a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token() -> str:
    """The session's CSRF token (created on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _bearer_staff() -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    digest = token_digest(header[7:].strip())
    settings = current_app.config["SHOPQA_SETTINGS"]
    if any(hmac.compare_digest(digest, t.lower()) for t in settings.staff_tokens):
        return "token"
    return None


def current_staff() -> str | None:
    """The logged-in staff member (or 'token'), if any."""
    return _bearer_staff() or session.get("staff")


def _csrf_ok() -> bool:
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    return bool(session.get("csrf")) and hmac.compare_digest(sent, session["csrf"])


def staff_required(api: bool):
    """Decorator: staff only; for ``api`` routes 401 JSON, for pages a redirect to /login."""
    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            who = current_staff()
            if who is None:
                if api:
                    return jsonify(error="unauthorized", message="log in at /login or send a staff bearer token"), 401
                # The query too: a shared /search?q= or /console?session= link survives the login.
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if request.method not in ("GET", "HEAD", "OPTIONS") and who != "token" and not _csrf_ok():
                return jsonify(error="csrf", message="missing or wrong CSRF token; reload the page"), 403
            g.staff = who
            return view(*args, **kwargs)
        return inner
    return wrap


def _guard() -> LoginGuard:
    return current_app.extensions["shopqa_login_guard"]


def _accounts():
    return current_app.extensions["shopqa"].staff_accounts()


def _password_ok(user: str, password: str) -> bool:
    """The config's account when the name is there (it wins), else the stored one."""
    stored = current_app.config["SHOPQA_SETTINGS"].staff_users.get(user) or _accounts().password_hash(user)
    if stored is None:
        # Hash anyway: a fast "no" would tell a guesser which names exist.
        if "shopqa_dummy_hash" not in current_app.extensions:
            current_app.extensions["shopqa_dummy_hash"] = generate_password_hash(secrets.token_hex(16))
        check_password_hash(current_app.extensions["shopqa_dummy_hash"], password)
        return False
    return check_password_hash(stored, password)


def _start_session(user: str) -> None:
    session.clear()
    session["staff"] = user
    session.permanent = True  # so PERMANENT_SESSION_LIFETIME (session_lifetime_minutes) applies


def _locked_message(wait: int) -> str:
    until = time.strftime("%H:%M UTC", time.gmtime(time.time() + wait))
    minutes = max(1, -(-wait // 60))
    return (f"Too many failed logins for this account or from this address. "
            f"Try again in {minutes} minute{'s' if minutes > 1 else ''} (after {until}).")


def _login_page(error: str, status: int, locked: int = 0):
    settings = current_app.config["SHOPQA_SETTINGS"]
    configured = bool(settings.staff_users) or _accounts().count() > 0
    page = render_template("login.html", error=error, csrf=csrf_token(), configured=configured, locked=locked)
    headers = {"Retry-After": str(locked)} if locked else {}
    return page, status, headers


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The staff login form, limited per account and per client."""
    if request.method == "GET":
        return _login_page("", 200)
    if not _csrf_ok():
        return _login_page("The form expired; please try again.", 401)
    user, client = request.form.get("username", "")[:200], client_key()
    wait = _guard().locked(user, client)
    if wait:
        log.warning("login refused, locked: user=%r client=%s retry_after=%ds", user, client, wait)
        return _login_page(_locked_message(wait), 429, locked=wait)
    if _password_ok(user, request.form.get("password", "")):
        _guard().succeeded(user)
        log.info("login ok: user=%r client=%s", user, client)
        _start_session(user)
        target = request.args.get("next") or "/console"
        # Only a path on this site (browsers read "/\\host" as "//host", another site).
        local = target.startswith("/") and not target.startswith(("//", "/\\"))
        return redirect(target if local else "/console")
    wait = _guard().failed(user, client)
    log.warning("login failed: user=%r client=%s", user, client)
    if wait:
        log.warning("login locked: user=%r client=%s for %ds", user, client, wait)
        return _login_page("Wrong username or password. " + _locked_message(wait), 401)
    return _login_page("Wrong username or password.", 401)


def _setup_page(status: int, error: str = "", token: str = "", done: bool = False, name: str = ""):
    return render_template("setup.html", error=error, csrf=csrf_token(), token=token, done=done,
                           name=name, min_password=MIN_PASSWORD), status


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """First-run setup: the one-time link ``shopqa serve`` printed creates the first account."""
    settings, store = current_app.config["SHOPQA_SETTINGS"], _accounts()
    if not setup_needed(settings, store):
        return _setup_page(410, done=True)  # an account exists: the link does nothing any more
    tokens = SetupTokens(store)
    token = request.values.get("token", "")
    if not tokens.valid(token):
        return _setup_page(403, "This setup link is not valid or has expired. Restart `shopqa serve` for a new "
                                "one (it is printed in the log), or run `shopqa staff add NAME`.")
    if request.method == "GET":
        return _setup_page(200, token=token)
    name, password = request.form.get("username", "").strip(), request.form.get("password", "")
    if not _csrf_ok():
        return _setup_page(400, "The form expired; please try again.", token, name=name)
    if password != request.form.get("password2", ""):
        return _setup_page(400, "The two passwords differ.", token, name=name)
    try:
        validate(name, password, set(settings.staff_users))
        if not tokens.consume(token):
            return _setup_page(403, "This setup link was just used or has expired.")
        store.add(name, password, set(settings.staff_users), only_if_empty=True)
    except AccountError as exc:
        if store.count():
            return _setup_page(410, done=True)
        return _setup_page(400, str(exc), token, name=name)
    tokens.clear()
    log.info("first staff account created through the setup link: user=%r client=%s", name, client_key())
    _start_session(name)
    return redirect("/console")


@bp.post("/logout")
def logout():
    """End the staff session."""
    if _csrf_ok():
        session.clear()
    return redirect(url_for("auth.login"))
