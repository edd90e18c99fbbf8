"""Run the Flask app under gunicorn with threads (the production server)."""
from __future__ import annotations

from shopqa.settings import Settings


def run_gunicorn(settings: Settings) -> None:
    """Serve until stopped; each worker warms up its own models once."""
    from gunicorn.app.base import BaseApplication

    from shopqa import create_app

    class _App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{settings.host}:{settings.port}")
            self.cfg.set("workers", settings.workers)
            self.cfg.set("threads", settings.threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("timeout", 120)
            self.cfg.set("accesslog", "-")

        def load(self):
            return create_app(settings)

    _App().run()
