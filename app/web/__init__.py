"""Flask app factory: blueprints per area, resources warmed up once and shared across threads."""
from __future__ import annotations

from flask import Flask, jsonify

from ..resources import Resources
from ..settings import Settings


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> Flask:
    """Build the app; pass ``resources`` to share already-loaded models (tests)."""
    settings = settings or Settings.load()
    app = Flask(__name__)
    app.config["SHOPQA_SETTINGS"] = settings
    res = resources or Resources(settings)
    if resources is None:
        res.warm_up()
    app.extensions["shopqa"] = res

    from . import health, search

    app.register_blueprint(health.bp)
    app.register_blueprint(search.bp)

    @app.errorhandler(404)
    def _not_found(_exc):
        return jsonify(error="not_found", message="no such endpoint"), 404

    return app
