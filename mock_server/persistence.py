"""Durable state as a write log: every accepted change is appended (and fsynced) before its response goes out,
and replayed through the same request pipeline at start.

One mechanism for every provider: a record is the request itself (method, path, headers, body) with the
instant it ran at and the seed of its id stream, so replaying it rebuilds exactly the state it made, whatever
provider it went to; export and import of the whole state are the fixtures plus these records.

Each line is `<crc32 hex> <json>`. A torn last line (a write interrupted before it was acknowledged) or a
damaged line anywhere is reported at start with its line and byte offset; nothing is dropped silently.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import zlib
from pathlib import Path
from typing import Any

import orjson

FORMAT = "ledger-mock-state/1"
KEPT_HEADERS = ("content-type", "authorization", "x-client-id", "x-timestamp", "x-signature", "idempotency-key",
                "x-idempotency-key", "x-ia-api-param-entity")


class StateFileError(Exception):
    pass


def record(method: str, path: str, query: bytes, headers: Any, body: bytes, at: str, seed: int, *,
           provider: str, operation: str, tenant: str | None) -> dict[str, Any]:
    return {"at": at, "seed": seed, "provider": provider, "operation": operation, "tenant": tenant,
            "method": method, "path": path, "query": query.decode("latin-1"),
            "headers": {name: value for name in KEPT_HEADERS if (value := headers.get(name)) is not None},
            "body": base64.b64encode(body).decode() if body else ""}


class WriteLog:
    """The records of this state, in memory and (with a path) on disk.

    In memory the records are JSON lines, compressed a block at a time: as dicts they cost more than the state
    they made (1.8 KB for a journal entry against 1.3 KB for the entry itself), and a block of similar lines
    compresses about tenfold. Only resets and exports read them back, and both are rare."""

    BLOCK = 256  # records per compressed block

    def __init__(self, path: Path | None = None):
        self.path = path
        self._blocks: list[bytes] = []  # zlib-compressed, newline-separated JSON records
        self._recent: list[bytes] = []  # the block being filled, uncompressed
        self._lock = threading.Lock()
        self._file = None

    @property
    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            blocks, recent = list(self._blocks), list(self._recent)
        lines = [line for block in blocks for line in zlib.decompress(block).split(b"\n")] + recent
        return [orjson.loads(line) for line in lines]

    def __len__(self) -> int:
        return len(self._blocks) * self.BLOCK + len(self._recent)

    def open(self) -> list[dict[str, Any]]:
        """The records already in the file (to replay), then append to it from here on."""
        found = read(self.path) if self.path and self.path.exists() else []
        self._keep(found)
        if self.path:
            self._file = open(self.path, "ab")
        return found

    def append(self, entry: dict[str, Any]) -> None:
        encoded = _encode(entry)
        with self._lock:
            self._add(encoded)
            if self._file is not None:
                self._file.write(_line(encoded))
                self._file.flush()
                os.fsync(self._file.fileno())

    def rewrite(self, records: list[dict[str, Any]]) -> None:
        """Replace the log (a tenant reset takes that tenant's changes out): written aside, fsynced, then
        renamed over the old file, so a crash leaves the old log or the new one, never half of either."""
        with self._lock:
            self._keep(records)
            if self._file is None:
                return
            aside = self.path.with_name(self.path.name + ".new")
            with open(aside, "wb") as handle:
                handle.writelines(_line(_encode(entry)) for entry in records)
                handle.flush()
                os.fsync(handle.fileno())
            self._file.close()
            os.replace(aside, self.path)
            self._file = open(self.path, "ab")

    def _keep(self, records: list[dict[str, Any]]) -> None:
        self._blocks, self._recent = [], []
        for entry in records:
            self._add(_encode(entry))

    def _add(self, encoded: bytes) -> None:
        self._recent.append(encoded)
        if len(self._recent) == self.BLOCK:
            self._blocks.append(zlib.compress(b"\n".join(self._recent), 1))
            self._recent = []


def _encode(entry: dict[str, Any]) -> bytes:
    # orjson keeps a 4 KiB allocation behind each short result: fine here, where a record stays uncompressed
    # only until its block of BLOCK fills.
    return orjson.dumps(entry)


def _line(encoded: bytes) -> bytes:
    return b"%08x " % zlib.crc32(encoded) + encoded + b"\n"


def read(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    records, offset = [], 0
    for number, line in enumerate(data.split(b"\n"), 1):
        end = offset + len(line)
        if not line:
            if end < len(data):
                raise StateFileError(f"{path}: line {number} (byte {offset}) is empty; the file is damaged")
            break
        if end >= len(data):  # no newline after it: the write was cut off before it was acknowledged
            raise StateFileError(
                f"{path}: the last record (line {number}, bytes {offset}-{end}) is incomplete: a write was "
                f"interrupted before its response was sent. Nothing acknowledged is in it; to start without "
                f"it, run `truncate -s {offset} {path}`.")
        checksum, _, body = line.partition(b" ")
        try:
            if int(checksum, 16) != zlib.crc32(body):
                raise ValueError("checksum mismatch")
            records.append(json.loads(body))
        except ValueError as exc:
            raise StateFileError(f"{path}: line {number} (byte {offset}) is damaged ({exc}); refusing to start "
                                 f"rather than lose or invent state") from None
        offset = end + 1
    return records


def body_of(entry: dict[str, Any]) -> bytes:
    return base64.b64decode(entry["body"]) if entry["body"] else b""
