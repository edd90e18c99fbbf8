"""Staff access: logins with hashed passwords or bearer tokens, and CSRF protection for forms.

Customers use the chat API and the widget without logging in. Internal pages (/search,
/console, /dashboard) and the staff API need either a login (a signed session cookie) or an
``Authorization: Bearer <token>`` header whose SHA-256 is listed in ``staff_tokens``. Every
state-changing request made with the session cookie must carry the session's CSRF token (a
form field ``csrf_token`` or an ``X-CSRF-Token`` header); bearer-token requests carry no
cookie, so they need none.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, session, url_for
from werkzeug.security import check_password_hash

bp = Blueprint("auth", __name__)


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
                return redirect(url_for("auth.login", next=request.path))
            if request.method not in ("GET", "HEAD", "OPTIONS") and who != "token" and not _csrf_ok():
                return jsonify(error="csrf", message="missing or wrong CSRF token; reload the page"), 403
            g.staff = who
            return view(*args, **kwargs)
        return inner
    return wrap


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The staff login form."""
    settings = current_app.config["SHOPQA_SETTINGS"]
    error = ""
    if request.method == "POST":
        if not _csrf_ok():
            error = "The form expired; please try again."
        else:
            user = request.form.get("username", "")
            stored = settings.staff_users.get(user)
            if stored and check_password_hash(stored, request.form.get("password", "")):
                session.clear()
                session["staff"] = user
                target = request.args.get("next") or "/console"
                return redirect(target if target.startswith("/") and not target.startswith("//") else "/console")
            error = "Wrong username or password."
    status = 401 if error else 200
    return render_template("login.html", error=error, csrf=csrf_token(),
                           configured=bool(settings.staff_users)), status


@bp.post("/logout")
def logout():
    """End the staff session."""
    if _csrf_ok():
        session.clear()
    return redirect(url_for("auth.login"))
