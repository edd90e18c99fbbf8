"""Flask app factory: blueprints per area, resources warmed up once and shared across threads."""
from __future__ import annotations

import logging
import os
import secrets
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from flask import Flask, g, request

from shopqa.resources import Resources
from shopqa.settings import Settings
from shopqa.web import errors
from shopqa.web.limits import QueuedLLM, make_limits
from shopqa.web.metrics import Metrics


def _secret_key(settings: Settings) -> str:
    """The configured key, or one generated once and kept in data_dir (so logins survive restarts)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        # Workers start together: the first hard link wins and every worker reads the winner's
        # key (a rename would let a later worker replace a key another one already holds).
        fd, tmp = tempfile.mkstemp(prefix=".secret_key.", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> Flask:
    """Build the app; pass ``resources`` to share already-loaded models (tests)."""
    settings = settings or Settings.load()
    app = Flask(__name__)
    app.config.update(SHOPQA_SETTINGS=settings, SECRET_KEY=_secret_key(settings),
                      MAX_CONTENT_LENGTH=settings.max_body_kb * 1024,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=settings.secure_cookies,
                      PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_lifetime_minutes))
    res = resources or Resources(settings)
    metrics = Metrics()
    limiter, slots = make_limits(settings)
    if res.llm is not None and not isinstance(res.llm, QueuedLLM):
        res.llm = QueuedLLM(res.llm, settings.llm_queue_depth, settings.request_timeout, slots=slots,
                            gauge=metrics.llm_queue)
    if isinstance(res.llm, QueuedLLM):
        metrics.llm_capacity.set(res.llm.depth)
    if resources is None:
        res.warm_up()
    app.extensions["shopqa"] = res
    app.extensions["shopqa_runtime"] = {"limiter": limiter, "metrics": metrics}
    logging.getLogger("shopqa").setLevel(logging.INFO)

    from shopqa.web import auth, chat, chatwoot, health, openai_compat, ops, pages, search, staff

    for module in (health, search, chat, openai_compat, staff, auth, pages, ops, chatwoot):
        app.register_blueprint(module.bp)
    errors.register(app)

    @app.before_request
    def _start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def _count(response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.requests.labels(endpoint=endpoint, method=request.method, status=str(response.status_code)).inc()
        metrics.request_seconds.labels(endpoint=endpoint).observe(time.perf_counter() - g.get("started", 0))
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    return app
