"""Helpers for the serve tests: ``lstmkit serve`` started as a real process on a free port.

``launch(run_dir, log_path, *flags)`` starts ``python -m lstmkit serve RUN --port 0`` (stdout and
stderr into ``log_path``); ``Server.wait_ready()`` reads the port from the start-up log line and
waits for ``GET /health``; ``Server.wait()`` returns the exit code (after the test's SIGTERM).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

_URL = re.compile(r"serving a \w+ model on (http://127\.0\.0\.1:\d+)")


@dataclass
class Server:
    proc: subprocess.Popen
    log_path: Path
    url: str = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 120.0) -> Server:
        deadline = time.monotonic() + timeout
        while not self.url:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise RuntimeError(f"lstmkit serve exited with {code}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"lstmkit serve did not start in {timeout} s:\n{self.log()}")
            found = _URL.search(self.log())
            if found:
                self.url = found.group(1)
            else:
                time.sleep(0.1)
        while True:  # the socket listens from the log line on; /health answers once it runs
            try:
                if httpx.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"/health did not answer in {timeout} s:\n{self.log()}")
            time.sleep(0.1)

    def wait(self, timeout: float = 20.0) -> int:
        """The exit code (the process is killed if it does not end in time)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def launch(run_dir: Path, log_path: Path, *flags: str) -> Server:
    """Start ``lstmkit serve`` (not waiting for it: several can start side by side)."""
    cmd = [sys.executable, "-m", "lstmkit", "serve", str(run_dir), "--port", "0", *flags]
    log = log_path.open("wb")
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()  # the child holds its own descriptor
    return Server(proc, log_path)


@pytest.fixture(scope="session")
def serve_launch():
    """``launch`` for tests; every server still running at the end of the session is killed."""
    started: list[Server] = []

    def start(run_dir: Path, log_path: Path, *flags: str) -> Server:
        server = launch(run_dir, log_path, *flags)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()
