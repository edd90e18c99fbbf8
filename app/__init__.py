"""The shopqa service and command line. ``create_app`` builds the Flask app (see shopqa.web)."""
from __future__ import annotations


def create_app(settings=None, resources=None):
    """Flask app factory; heavy resources load in a warm-up, not at import."""
    from shopqa.web import create_app as _create

    return _create(settings, resources)
