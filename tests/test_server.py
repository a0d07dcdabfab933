"""`ledger-mock serve` against clients that misbehave on the socket: a body that never finishes arriving, a body
over the limit, a second server on a taken port."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest
import requests

from tests.served import Served

LIST = "/count/partners/journal-entries"


@pytest.fixture(scope="module")
def served():
    with Served("--providers", "count", "--body-timeout", "1") as server:
        yield server


def _raw(served, request: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    sock.sendall(request)
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(head.split()[1]), json.loads(rest[:length] or b"null")


def test_a_body_that_never_arrives_holds_up_nobody(served):
    """Once: `Content-Length: 10`, one byte sent and the socket left open hung every other request."""
    stalled = [_raw(served, b"POST " + LIST.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            b"Content-Length: 10\r\n\r\n{") for _ in range(20)]
    started = time.monotonic()
    for _ in range(20):
        assert requests.get(served.base + "/_mock/clock", timeout=2).status_code == 200
        assert requests.get(served.base + LIST, timeout=2).status_code == 401  # answered: unsigned
    assert time.monotonic() - started < 5
    status, body = _answer(stalled[0])  # after --body-timeout, in COUNT's envelope
    assert status == 408 and body["status"] == "error" and body["statusCode"] == 408
    for sock in stalled:
        sock.close()


def test_a_chunked_body_over_the_limit_is_refused_not_cut(served):
    def chunks():
        for _ in range(40):
            yield b"x" * 65536
    refused = requests.post(served.base + LIST, data=chunks(), headers={"Content-Type": "application/json"},
                            timeout=30)
    assert refused.status_code == 413 and refused.json()["statusCode"] == 413
    declared = _raw(served, b"POST " + LIST.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
    status, body = _answer(declared)
    assert status == 413 and body["error"] == "payload_too_large"
    declared.close()


def test_a_second_server_on_a_taken_port_refuses_to_start(served):
    """Once: it started, and the kernel split requests between two servers with different states."""
    second = subprocess.run([sys.executable, "-m", "mock_server.cli", "serve", "--port", str(served.port)],
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 1 and "already in use" in second.stderr
    assert "Traceback" not in second.stderr
