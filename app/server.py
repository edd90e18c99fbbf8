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
            _show_shopqa_logs()
            return create_app(settings)

    _announce_setup(settings)
    try:
        _App().run()
    finally:
        if own_dir:
            shutil.rmtree(own_dir, ignore_errors=True)


def _announce_setup(settings: Settings) -> None:
    """Print the one-time setup link while no staff account exists. Done here, once, before the
    workers fork, so one link is printed however many workers there are; the token's digest is
    in the state database, so whichever worker gets the request can check it."""
    import sys

    from sqlalchemy.exc import SQLAlchemyError

    from shopqa.staff.setup_token import announce_setup

    try:
        line = announce_setup(settings)
    except (SQLAlchemyError, OSError) as exc:  # the workers report a broken database in /readyz
        line = f"Could not check for staff accounts ({type(exc).__name__}); no setup link printed"
    if line:
        print(line, file=sys.stderr, flush=True)


def _show_shopqa_logs() -> None:
    """shopqa's own log lines (logins and lockouts, chat events) on stderr beside gunicorn's, in
    each worker. Without a handler Python prints only warnings, unformatted; a deployment that
    configures logging itself keeps its own handlers."""
    import logging

    ours = logging.getLogger("shopqa")
    if logging.getLogger().handlers or ours.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
                                           "%Y-%m-%d %H:%M:%S %z"))
    ours.addHandler(handler)
