"""Every operation of every spec that takes a body answers the same however its body is framed on the wire.

Three `ledger-mock serve` processes start alike (fixtures, seed, frozen clock, admin token) and get the same
requests in the same order, each with its bodies framed one way: HTTP/1.1 with Content-Length in one write;
HTTP/1.1 chunked, in pieces written apart; HTTP/2 without a length, in DATA frames that end with an empty one (as
curl streams). The requests are the hostile suite's plausibly valid baselines (tests/test_hostile.py), so most
change state, and a server that misread a body would answer differently from then on: a 400 for a body missing
or cut, or ids shifted by a change it did not make. The answers must be the same bytes, each server's own address
aside."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from mock_server.app import create_app
from mock_server.config import Config
from tests.conftest import FROZEN
from tests.served import Served
from tests.test_hostile import ADMIN_TOKEN, MOUNTS, SPECS, Mock, escaped
from tests.wire import Connection, Http2, chunk

SETTINGS = ("--freeze-time", FROZEN.strftime("%Y-%m-%dT%H:%M:%S"), "--no-rate-limit", "--admin-token", ADMIN_TOKEN,
            "--log-level", "warning")


def _pieces(body: bytes) -> list[bytes]:
    third = max(1, len(body) // 3)
    return [piece for piece in (body[:third], body[third:2 * third], body[2 * third:]) if piece]


def _head(served: Served, method: str, target: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{served.port}", *(f"{k}: {v}" for k, v in headers.items())]
    return "\r\n".join(lines).encode("latin-1") + b"\r\n"


@pytest.fixture(scope="module")
def probes():
    """Per operation with a body: its baseline request, as method, target and headers (credentials included)."""
    mock = Mock(create_app(Config(frozen_time=FROZEN, rate_limiting=False, admin_token=ADMIN_TOKEN)))
    made = []
    for name, spec in SPECS.items():
        for op in spec.operations.values():
            if not op.has_body:
                continue
            probe = mock.baseline(name, op)
            path = re.sub(r"\{(\w+)\}", lambda m: probe.path[m.group(1)].decode(), MOUNTS[name] + op.path)
            query = "&".join(f"{quote(k)}={escaped(v)}" for k, v in probe.query.items())
            headers = {**mock.credentials(name, True, op.method, path, probe.body), "Content-Type": "application/json"}
            made.append(pytest.param(op.method, path + ("?" + query if query else ""), headers, probe.body,
                                     id=f"{name}-{op.id}"))
    return made


def test_every_body_answers_the_same_however_it_is_framed(probes):
    answers: dict[str, list[bytes]] = {"length": [], "chunked": [], "http2": []}
    with Served(*SETTINGS) as length, Served(*SETTINGS) as chunked, Served(*SETTINGS) as http2:
        in_one, in_chunks, streamed = Connection(length), Connection(chunked), Http2(http2)
        try:
            for param in probes:
                method, target, headers, body = param.values
                in_one.send(_head(length, method, target, {**headers, "Content-Length": str(len(body))}) + b"\r\n" + body)
                in_chunks.send(_head(chunked, method, target, {**headers, "Transfer-Encoding": "chunked"}) + b"\r\n",
                               *map(chunk, _pieces(body)), b"0\r\n\r\n", pause=0.005)
                for how, connection in (("length", in_one), ("chunked", in_chunks)):
                    status, answer = connection.raw_answer()
                    answers[how].append(b"%d " % status + answer)
                answers["http2"].append(streamed.request(method, target, list(headers.items()),
                                                         [*_pieces(body), b""]))
        finally:
            for connection in (in_one, in_chunks, streamed):
                connection.close()
        servers = {"length": length, "chunked": chunked, "http2": http2}
        for how, served in servers.items():
            answers[how] = [a.replace(served.base.encode(), b"{base}") for a in answers[how]]
    ids = [param.id for param in probes]
    assert len(ids) > 20
    for i, param_id in enumerate(ids):
        assert answers["chunked"][i] == answers["length"][i], (param_id, answers["chunked"][i][:300],
                                                               answers["length"][i][:300])
        assert answers["http2"][i] == answers["length"][i].partition(b" ")[2], (param_id, answers["http2"][i][:300],
                                                                                answers["length"][i][:300])
    accepted = [param_id for param_id, answer in zip(ids, answers["length"]) if answer.startswith(b"2")]
    assert len(accepted) > len(ids) // 2, f"most baselines should be accepted; these were: {accepted}"
