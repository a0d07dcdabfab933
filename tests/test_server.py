"""`ledger-mock serve` against clients on a raw socket, the way real clients and bad networks send: a body in one
write, in pieces, chunked; a body that never finishes arriving, one trickled in, one cut short, one over the limit;
a server stopped with a body still arriving; a second server on a taken port. Each runs with the app on granian's
own thread and on a pool (`--threads`)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import pytest
import requests

from mock_server.cli import provider_credentials
from tests.served import Served
from tests.wire import Connection, Http2, chunk

LIST = "/count/partners/journal-entries"


@pytest.fixture(scope="module", params=[1, 2], ids=["one thread", "a pool"])
def served(request):
    with Served("--providers", "count,codat", "--body-timeout", "1", "--threads", str(request.param)) as server:
        server.threads = request.param
        yield server


def _codat(served: Served) -> bytes:
    return provider_credentials("codat", served.base)["authorization"].encode()


def _create_company(served: Served) -> bytes:
    return (b"POST /codat/companies HTTP/1.1\r\nHost: x\r\nAuthorization: " + _codat(served)
            + b"\r\nContent-Type: application/json\r\n")


def _company_names(served: Served) -> list[str]:
    listed = requests.get(served.base + "/codat/companies?pageSize=100",
                          headers={"Authorization": _codat(served).decode()}, timeout=10)
    assert listed.status_code == 200, listed.text
    return [company["name"] for company in listed.json()["results"]]


# How a client may send a body: the rest of the header block, then the body, each item one write.
SHAPES: dict[str, Callable[[bytes], list[bytes]]] = {
    "in one write": lambda body: [b"Content-Length: %d\r\n\r\n" % len(body) + body],
    "in pieces": lambda body: [b"Content-Length: %d\r\n\r\n" % len(body), body[:5], body[5:-3], body[-3:]],
    "chunked": lambda body: [b"Transfer-Encoding: chunked\r\n\r\n", chunk(body[:5]), chunk(body[5:-3]),
                             chunk(body[-3:]), b"0\r\n\r\n"],
    "chunked in one write": lambda body: [b"Transfer-Encoding: chunked\r\n\r\n" + chunk(body) + b"0\r\n\r\n"],
}


@pytest.mark.parametrize("shape", SHAPES)
def test_a_body_arrives_whole_however_it_is_sent_and_the_connection_serves_on(served, shape):
    name = f"Whole {shape} {served.threads}"
    connection = Connection(served)
    connection.send(_create_company(served), *SHAPES[shape](json.dumps({"name": name}).encode()), pause=0.1)
    status, company = connection.answer()
    assert (status, company["name"]) == (200, name)
    connection.send(b"GET /codat/companies/" + company["id"].encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: "
                    + _codat(served) + b"\r\n\r\n")
    assert connection.answer() == (200, company)  # the same connection, kept alive, answers the next request
    connection.close()
    assert _company_names(served).count(name) == 1


@pytest.mark.parametrize("shape", ["in one write", "chunked"])
def test_a_body_cut_short_is_never_run(served, shape):
    """Once: a chunked body whose client went away before its last chunk ran as if it were whole. Here the
    JSON itself is complete: only the HTTP framing says the body is not."""
    name = f"Cut {shape} {served.threads}"
    body = json.dumps({"name": name}).encode()
    parts = SHAPES[shape](body)
    if shape == "chunked":
        parts = parts[:-1]  # no last chunk
    else:
        parts = [b"Content-Length: %d\r\n\r\n" % (len(body) + 1) + body]  # one byte missing
    connection = Connection(served)
    connection.send(_create_company(served), *parts)
    time.sleep(0.2)
    connection.sock.shutdown(socket.SHUT_WR)  # the client is done sending
    status, error = connection.answer()
    assert (status, error["statusCode"], error["service"]) == (400, 400, "PublicApi")  # Codat's envelope
    connection.close()
    assert name not in _company_names(served)


def test_an_http2_body_streamed_without_a_length_arrives_whole(served):
    """HTTP/2 lets a request stream its body with no content-length (curl -T - does, ending with an empty DATA
    frame); the mock once answered such a request as if it had no body."""
    name = f"Streamed over HTTP 2 {served.threads}"
    body = json.dumps({"name": name}).encode()
    auth = [("authorization", _codat(served).decode())]
    connection = Http2(served)
    company = json.loads(connection.request("POST", "/codat/companies",
                                            [*auth, ("content-type", "application/json")], [body[:6], body[6:], b""]))
    assert company["name"] == name
    assert json.loads(connection.request("GET", "/codat/companies/" + company["id"], auth, [])) == company
    connection.close()
    assert _company_names(served).count(name) == 1


def test_concurrent_clients_each_get_the_answer_to_their_own_body(served):
    """Bodies complete on granian's thread in whatever order they arrive: each answer must still be to its own
    request, and every acknowledged create is kept, once."""
    def client(number: int) -> list[tuple[str, str]]:
        session, seen = requests.Session(), []
        for i in range(5):
            name = f"Concurrent {number}-{i} {served.threads}"
            created = session.post(served.base + "/codat/companies", json={"name": name},
                                   headers={"Authorization": _codat(served).decode()}, timeout=10)
            assert session.get(served.base + "/_mock/clock", timeout=10).status_code == 200
            seen.append((name, created.json()["name"]))
        return seen

    with ThreadPoolExecutor(8) as pool:
        answered = [pair for seen in pool.map(client, range(8)) for pair in seen]
    assert all(sent == got for sent, got in answered)
    names = _company_names(served)
    assert all(names.count(sent) == 1 for sent, _ in answered)


def test_a_body_that_never_arrives_holds_up_nobody(served):
    """Once: `Content-Length: 10`, one byte sent and the socket left open hung every other request."""
    stalled = [Connection(served) for _ in range(20)]
    for connection in stalled:
        connection.send(b"POST " + LIST.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 10\r\n\r\n{")
    started = time.monotonic()
    for i in range(20):
        assert requests.get(served.base + "/_mock/clock", timeout=2).status_code == 200
        assert requests.get(served.base + LIST, timeout=2).status_code == 401  # answered: unsigned
    name = f"Beside the stalled {served.threads}"
    created = requests.post(served.base + "/codat/companies", json={"name": name},
                            headers={"Authorization": _codat(served).decode()}, timeout=2)
    assert (created.status_code, created.json()["name"]) == (200, name)  # a body of its own arrives meanwhile
    assert time.monotonic() - started < 5
    status, body = stalled[0].answer()  # after --body-timeout, in COUNT's envelope
    assert status == 408 and body["status"] == "error" and body["statusCode"] == 408
    for connection in stalled:
        connection.close()


def test_a_chunked_body_trickled_in_is_refused_at_its_deadline(served):
    """A chunk earns time in proportion to its size (a second per MiB): a byte every 50 ms earns nearly
    nothing, so the body is refused at --body-timeout, not when the client chooses to stop."""
    connection = Connection(served)
    connection.send(_create_company(served) + b"Transfer-Encoding: chunked\r\n\r\n")
    started = time.monotonic()
    while not connection.answered(0.05) and time.monotonic() - started < 5:
        connection.send(chunk(b" "))
    elapsed = time.monotonic() - started
    status, error = connection.answer()
    assert (status, error["statusCode"], error["service"]) == (408, 408, "PublicApi")
    assert 0.9 < elapsed < 3
    connection.close()


def test_a_chunked_body_over_the_limit_is_refused_not_cut(served):
    def chunks():
        for _ in range(40):
            yield b"x" * 65536
    refused = requests.post(served.base + LIST, data=chunks(), headers={"Content-Type": "application/json"},
                            timeout=30)
    assert refused.status_code == 413 and refused.json()["statusCode"] == 413
    declared = Connection(served)
    declared.send(b"POST " + LIST.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
    status, body = declared.answer()
    assert status == 413 and body["error"] == "payload_too_large"
    declared.close()


def test_a_body_still_arriving_does_not_hold_up_stopping():
    """Once: SIGTERM waited for the slowest client's body deadline (30 s by default) before the server exited."""
    with Served("--providers", "codat") as server:
        stalled = Connection(server)
        stalled.send(_create_company(server) + b"Content-Length: 10\r\n\r\n{")
        time.sleep(0.2)
        started = time.monotonic()
        os.killpg(server.process.pid, signal.SIGTERM)
        assert server.process.wait(timeout=15) == 0
        assert time.monotonic() - started < 5
        status, error = stalled.answer()
        assert (status, error["statusCode"], error["service"]) == (503, 503, "PublicApi")
        stalled.close()


def test_a_client_that_stops_reading_holds_a_stop_no_longer_than_the_stop_timeout():
    """Once: an HTTP/2 client that answered a request, then kept its connection and read nothing more, held SIGTERM
    for good (granian's graceful stop waits for the acknowledgement of the PING that follows its GOAWAY)."""
    with Served("--providers", "codat", "--stop-timeout", "1") as server:
        idle = Http2(server)
        assert json.loads(idle.request("GET", "/_mock/clock", [], []))
        started = time.monotonic()
        os.killpg(server.process.pid, signal.SIGTERM)
        assert server.process.wait(timeout=15) == 0
        assert 0.9 < time.monotonic() - started < 5
        assert "still open 1 s into the stop" in server.printed()
        idle.close()


def test_a_second_server_on_a_taken_port_refuses_to_start(served):
    """Once: it started, and the kernel split requests between two servers with different states."""
    second = subprocess.run([sys.executable, "-m", "mock_server.cli", "serve", "--port", str(served.port)],
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 1 and "already in use" in second.stderr
    assert "Traceback" not in second.stderr
