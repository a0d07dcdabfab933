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

FORMAT = "ledger-mock-state/1"
KEPT_HEADERS = {"content-type", "authorization", "x-client-id", "x-timestamp", "x-signature", "idempotency-key",
                "x-idempotency-key", "x-ia-api-param-entity"}


class StateFileError(Exception):
    pass


def record(method: str, path: str, query: bytes, headers: Any, body: bytes, at: str, seed: int, *,
           provider: str, operation: str, tenant: str | None) -> dict[str, Any]:
    return {"at": at, "seed": seed, "provider": provider, "operation": operation, "tenant": tenant,
            "method": method, "path": path, "query": query.decode("latin-1"),
            "headers": {k: v for k, v in headers.items() if k.lower() in KEPT_HEADERS},
            "body": base64.b64encode(body).decode() if body else ""}


class WriteLog:
    def __init__(self, path: Path | None = None):
        self.path = path
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._file = None

    def open(self) -> list[dict[str, Any]]:
        """The records already in the file (to replay), then append to it from here on."""
        found = read(self.path) if self.path and self.path.exists() else []
        self.records = list(found)
        if self.path:
            self._file = open(self.path, "ab")
        return found

    def append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.records.append(entry)
            if self._file is not None:
                self._file.write(_line(entry))
                self._file.flush()
                os.fsync(self._file.fileno())

    def rewrite(self, records: list[dict[str, Any]]) -> None:
        """Replace the log (a tenant reset takes that tenant's changes out): written aside, fsynced, then
        renamed over the old file, so a crash leaves the old log or the new one, never half of either."""
        with self._lock:
            self.records = list(records)
            if self._file is None:
                return
            aside = self.path.with_name(self.path.name + ".new")
            with open(aside, "wb") as handle:
                handle.writelines(_line(entry) for entry in records)
                handle.flush()
                os.fsync(handle.fileno())
            self._file.close()
            os.replace(aside, self.path)
            self._file = open(self.path, "ab")

    def clear(self) -> None:
        """Forget everything (a full reset or an import): the file restarts empty."""
        with self._lock:
            self.records.clear()
            if self._file is not None:
                self._file.truncate(0)
                self._file.flush()
                os.fsync(self._file.fileno())


def _line(entry: dict[str, Any]) -> bytes:
    line = json.dumps(entry, separators=(",", ":"), ensure_ascii=True).encode()
    return b"%08x " % zlib.crc32(line) + line + b"\n"


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
