"""Clients that speak HTTP on a raw socket, written from the RFCs rather than from any library: for the tests
that send what libraries never would (bodies in pieces, cut short, trickled) or that no installed library
speaks (HTTP/2 without TLS)."""

from __future__ import annotations

import json
import select
import socket
import time

from tests.served import Served


def chunk(data: bytes) -> bytes:
    """`data` as one chunk of a chunked body (RFC 9112 section 7.1)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


class Connection:
    """One keep-alive connection, written raw and read one answer at a time."""

    def __init__(self, served: Served):
        self.sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        self.file = self.sock.makefile("rb")

    def send(self, *parts: bytes, pause: float = 0.0) -> None:
        for i, part in enumerate(parts):
            if i and pause:
                time.sleep(pause)
            self.sock.sendall(part)

    def answered(self, wait: float) -> bool:
        return bool(select.select([self.sock], [], [], wait)[0])

    def answer(self) -> tuple[int, dict | None]:
        status, body = self.raw_answer()
        return status, json.loads(body or b"null")

    def raw_answer(self) -> tuple[int, bytes]:
        status_line = self.file.readline()
        assert status_line, "the server closed the connection without an answer"
        length = 0
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return int(status_line.split()[1]), self.file.read(length)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class Http2:
    """HTTP/2 with prior knowledge, written from RFC 9113 and RFC 7541: one connection, a request per stream,
    header fields sent as literals (no table, no Huffman), the answer's DATA read back (its header block is not
    decoded: a stranger's HPACK decoder is more code than these tests need)."""

    def __init__(self, served: Served):
        self.sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + self.frame(0x4, 0, 0, b""))  # preface, SETTINGS
        self.authority, self.stream = f"127.0.0.1:{served.port}", -1

    @staticmethod
    def frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
        return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload

    @staticmethod
    def literal(text: str) -> bytes:
        """A string literal, not Huffman-coded: its length as a 7-bit prefix integer (RFC 7541 5.1), then it."""
        data, length, prefix = text.encode("latin-1"), len(text.encode("latin-1")), b""
        if length < 127:
            return bytes([length]) + data
        prefix, length = b"\x7f", length - 127
        while length >= 128:
            prefix, length = prefix + bytes([length % 128 + 128]), length // 128
        return prefix + bytes([length]) + data

    def request(self, method: str, path: str, headers: list[tuple[str, str]], data: list[bytes]) -> bytes:
        """The answer's body to a request on the next stream; `data` are the request body's DATA frames, the last
        one ending the stream (none: its HEADERS ends it)."""
        self.stream += 2
        stream = self.stream
        fields = [(":method", method), (":scheme", "http"), (":path", path), (":authority", self.authority), *headers]
        block = b"".join(b"\x00" + self.literal(name.lower()) + self.literal(value) for name, value in fields)
        self.sock.sendall(self.frame(0x1, 0x4 | (0 if data else 0x1), stream, block))  # HEADERS, END_HEADERS
        for i, payload in enumerate(data):
            self.sock.sendall(self.frame(0x0, 0x1 if i == len(data) - 1 else 0, stream, payload))
        body = b""
        while True:
            head = self.file.read(9)
            length, kind, flags, on = int.from_bytes(head[:3], "big"), head[3], head[4], int.from_bytes(head[5:], "big")
            payload = self.file.read(length)
            assert kind not in (0x3, 0x7), f"the server reset the stream or the connection: {payload!r}"
            if kind == 0x4 and not flags & 0x1:
                self.sock.sendall(self.frame(0x4, 0x1, 0, b""))  # acknowledge its SETTINGS
            if kind == 0x0 and length:  # the window it used, given back: answers may be larger than it
                increment = length.to_bytes(4, "big")
                self.sock.sendall(self.frame(0x8, 0, 0, increment) + self.frame(0x8, 0, on, increment))
            if on == stream and kind in (0x0, 0x1):
                body += payload if kind == 0x0 else b""
                if flags & 0x1:
                    return body

    def close(self) -> None:
        self.file.close()
        self.sock.close()
