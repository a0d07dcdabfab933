"""`ledger-mock serve` as a user runs it, in a process of its own, for the tests that need the real server:
its HTTP runtime, its state file, signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """`args` come last, so a `--log-level` among them wins. With `output`, what the server prints goes to that
    file (a banner to read back), else to a pipe."""

    def __init__(self, *args: str, port: int | None = None, env: dict[str, str] | None = None,
                 cwd: Path | None = None, output: Path | None = None):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.output = output
        sink = output.open("wb") if output else subprocess.PIPE
        # Its own process group, so `kill -9` takes down whatever the server started.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mock_server.cli", "serve", "--port", str(self.port), "--log-level", "warning",
             *args], stdout=sink, stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=cwd)
        if output:
            sink.close()

    def printed(self) -> str:
        return self.output.read_text() if self.output else self.process.stdout.read().decode()

    def wait_up(self, timeout: float = 30) -> "Served":
        deadline = time.monotonic() + timeout
        while True:
            try:
                requests.get(self.base + "/_mock/clock", timeout=1)
                return self
            except requests.ConnectionError:
                if self.process.poll() is not None:
                    pytest.fail(f"server exited: {self.printed()}")
                if time.monotonic() > deadline:
                    self.kill()
                    pytest.fail("server did not start")
                time.sleep(0.05)

    def kill(self) -> None:
        """`kill -9` the whole group, then wait until nothing answers on the port any more."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        for _ in range(100):
            try:
                requests.get(self.base + "/_mock/clock", timeout=0.2)
                time.sleep(0.05)
            except requests.ConnectionError:
                return
        pytest.fail("the killed server still answers")

    def stop(self) -> None:
        """SIGTERM, as a service manager or CI stops it: a clean exit, 0 (not an abort from a runtime thread)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # granian shuts down gracefully on SIGTERM
            code = self.process.wait(timeout=15)
            assert code == 0, f"the server stopped by SIGTERM exited {code}"

    def __enter__(self) -> "Served":
        return self.wait_up()

    def __exit__(self, *exc: object) -> None:
        self.stop()
