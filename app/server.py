"""Run the Flask app under gunicorn with threads (the production server)."""
from __future__ import annotations

import os
import shutil
import tempfile

from shopqa.settings import Settings


def run_gunicorn(settings: Settings) -> None:
    """Serve until stopped; each worker warms up its own models once.

    Metrics run in prometheus_client's multiprocess mode: each worker writes its values to
    files in one folder and a scrape of any worker sums them. The folder must be set before
    prometheus_client is first imported and must start empty, so it is made here, per server.
    """
    from gunicorn.app.base import BaseApplication

    own_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        own_dir = tempfile.mkdtemp(prefix="shopqa-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_dir

    from shopqa import create_app

    def child_exit(server, worker):  # a dead worker's live gauges no longer count
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    class _App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{settings.host}:{settings.port}")
            self.cfg.set("workers", settings.workers)
            self.cfg.set("threads", settings.threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("timeout", 120)
            self.cfg.set("accesslog", "-")
            self.cfg.set("child_exit", child_exit)
            # gunicorn >= 25.1 opens a control socket at one fixed path per user; two servers on
            # one box (replicas, tests) would take it from each other. shopqa does not use it.
            if "control_socket_disable" in self.cfg.settings:
                self.cfg.set("control_socket_disable", True)

        def load(self):
            return create_app(settings)

    try:
        _App().run()
    finally:
        if own_dir:
            shutil.rmtree(own_dir, ignore_errors=True)
