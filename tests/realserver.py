"""Start the real `shopqa serve` (gunicorn) on a free localhost port, for end-to-end tests."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A free TCP port on localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, timeout: float) -> None:
    """Terminate ``proc`` and wait for it; kill it if it is still up after ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class RealServer:
    """`python -m shopqa.cli serve` with the given SHOPQA_* environment, until ``stop``.

    As a context manager it waits until the server is ready and stops it on leaving.
    """

    def __init__(self, env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "shopqa.cli", "serve", "--port", str(self.port)],
                                     env={**os.environ, **env}, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 300) -> dict:
        """Block until /readyz answers 200; returns its JSON."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.log_path.read_text()[-3000:])
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=2) as resp:
                    return json.load(resp)
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("server never became ready: " + self.log_path.read_text()[-3000:])

    def __enter__(self) -> "RealServer":
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Terminate and wait (kill after 30 s)."""
        stop_process(self.proc, 30)
        self._log.close()
