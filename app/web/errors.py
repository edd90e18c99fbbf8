"""JSON errors with a stable ``error`` code and a human ``message``."""
from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

# What customers read when something fails on our side. Exception text can name files, hosts
# or data, so it goes to the log (log.exception) and never into a response.
INTERNAL_MESSAGE = "Sorry, something went wrong on our side. Please try again in a moment."
LLM_MESSAGE = "Sorry, the assistant cannot answer right now. Please try again in a moment."
NOT_READY_MESSAGE = "The assistant is not available right now. Please try again in a moment."


class ApiError(Exception):
    """An error answered as JSON with its HTTP status (and headers such as Retry-After)."""

    def __init__(self, code: str, message: str, status: int, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code, self.message, self.status, self.headers = code, message, status, headers or {}

    def body(self) -> dict[str, str]:
        """The JSON body."""
        return {"error": self.code, "message": self.message}


def register(app: Flask) -> None:
    """Install the JSON error handlers."""
    @app.errorhandler(ApiError)
    def _api(exc: ApiError):
        return jsonify(exc.body()), exc.status, exc.headers

    @app.errorhandler(413)
    def _too_large(_exc):
        limit = app.config["SHOPQA_SETTINGS"].max_body_kb
        return jsonify(error="body_too_large", message=f"request bodies are limited to {limit} KiB"), 413

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return jsonify(error=code, message=exc.description or exc.name), exc.code

    @app.errorhandler(Exception)
    def _internal(exc: Exception):
        app.logger.exception("unhandled error")
        return jsonify(error="internal", message=INTERNAL_MESSAGE), 500
