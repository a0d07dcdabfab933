"""Durable state as a write log: every accepted change is appended (and fsynced) before its response goes out,
and replayed through the same request pipeline at start.

One mechanism for every provider: a record is the request itself (method, path, the headers and query
parameters the operation reads, body) with the instant it ran at and the seed of its id stream, so replaying
it rebuilds exactly the state it made, whatever provider it went to; export and import of the whole state are
the fixtures plus these records.

Each line is `<crc32 hex> <json>`. A torn last line (a write interrupted before it was acknowledged) or a
damaged line anywhere is reported at start with its line and byte offset; nothing is dropped silently. The
file is the owner's alone (mode 0600): it holds the credentials the recorded requests carried.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import orjson

FORMAT = "ledger-mock-state/2"
# Never a credential: a replay assumes who made the change (the record's `who`) instead of authenticating again.
KEPT_HEADERS = ("content-type", "idempotency-key", "x-idempotency-key", "x-ia-api-param-entity")
FIELDS = {"at": str, "seed": int, "provider": str, "operation": str, "method": str, "path": str, "query": str,
          "headers": dict, "body": str}
METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE", "GET"})
MODE = 0o600


class StateFileError(Exception):
    pass


class Unwritable(Exception):
    """The log cannot take a record now (deleted directory, read-only or full disk): nothing was acknowledged."""


def record(method: str, path: str, query: str, headers: dict[str, str], body: bytes, at: str, seed: int, *,
           provider: str, operation: str, tenant: str | None, who: Mapping[str, Any]) -> dict[str, Any]:
    """`headers`: the ones the change needs again (KEPT_HEADERS and those its operation declares), never a
    credential: a replay assumes `who` made it instead of authenticating again."""
    return {"v": 2, "at": at, "seed": seed, "provider": provider, "operation": operation, "tenant": tenant,
            "who": dict(who), "method": method, "path": path, "query": query, "headers": headers,
            "body": base64.b64encode(body).decode() if body else ""}


def problem(entry: Any) -> str | None:
    """Why `entry` is not a record this version can replay, or None."""
    if not isinstance(entry, dict):
        return "a record is a JSON object"
    for name, kind in FIELDS.items():
        if not isinstance(entry.get(name), kind) or kind is int and isinstance(entry.get(name), bool):
            return f"`{name}` must be a {kind.__name__}"
    tenant = entry.get("tenant")
    if tenant is not None and not isinstance(tenant, str):
        return "`tenant` must be a string or null"
    if "who" in entry and not isinstance(entry["who"], dict):
        return "`who` must be an object"
    if entry["method"] not in METHODS:
        return f"`method` {entry['method']!r} is not one a change is made with"
    if not entry["path"].startswith("/"):
        return "`path` must start with /"
    if not 0 <= entry["seed"] < 1 << 63:
        return "`seed` must be between 0 and 2^63 - 1"
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in entry["headers"].items()):
        return "`headers` maps names to strings"
    try:
        at = datetime.fromisoformat(entry["at"])
    except ValueError:
        return f"`at` {entry['at'][:40]!r} is not an ISO 8601 instant"
    if at.tzinfo is None:
        return "`at` needs a UTC offset"
    try:
        body_of(entry)
    except (binascii.Error, ValueError):
        return "`body` is not base64"
    return None


def check(records: Any, where: str = "records") -> list[dict[str, Any]]:
    """`records`, upgraded, if every one is replayable, else StateFileError naming the first that is not."""
    if not isinstance(records, list):
        raise StateFileError(f"`{where}` must be a list of records")
    for number, entry in enumerate(records, 1):
        found = problem(entry)
        if found:
            raise StateFileError(f"record {number} of `{where}`: {found}")
    return [upgrade(entry) for entry in records]


class WriteLog:
    """The records of this state, in memory and (with a path) on disk.

    In memory the records are JSON lines, compressed a block at a time: as dicts they cost more than the state
    they made (1.8 KB for a journal entry against 1.3 KB for the entry itself), and a block of similar lines
    compresses about tenfold. Only resets and exports read them back, and both are rare.

    A record reaches memory only once it is on disk. If the file was deleted or replaced under a running server,
    the next append writes the whole log there again first (every record is still in memory), so nothing
    acknowledged depends on a file that is gone."""

    BLOCK = 1 << 16  # bytes of records per compressed block: about 100 creates, or three bulk creates of 100

    def __init__(self, path: Path | None = None):
        self.path = path
        self.header: dict[str, Any] = {"format": FORMAT, "seed": 0, "fixtures": {}}  # what the records build on
        self._blocks: list[bytes] = []  # zlib-compressed, newline-separated JSON records
        self._recent: list[bytes] = []  # the block being filled, uncompressed
        self._recent_size, self._count = 0, 0  # bytes in `_recent`; records in all
        self._lock = threading.Lock()
        self._fd: int | None = None
        # What is on disk, as a checkpoint names the log it was taken at: bytes written and their CRC-32.
        self.size, self.crc = 0, 0

    @property
    def records(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self._lines()]

    def _lines(self) -> list[bytes]:
        with self._lock:
            blocks, recent = list(self._blocks), list(self._recent)
        return [line for block in blocks for line in zlib.decompress(block).split(b"\n")] + recent

    def __len__(self) -> int:
        return self._count

    def open(self, header: dict[str, Any], checkpoint: Any = None) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
        """The header (the fixtures and seed the records build on: the file's own, else `header`), the records
        in the file still to replay, and whether `checkpoint` (checkpoint.Found) covers the ones before them;
        then append to the file from here on."""
        kept = None
        if checkpoint is not None:
            kept = checkpoint.log() if self._starts_with(checkpoint.size, checkpoint.crc) else \
                checkpoint.ignore("it does not match the log (rewritten since by a reset or an import)")
        if kept is not None:
            (self.header, self._blocks, self._recent), start = kept, checkpoint.size
            self._recent_size, self._count = sum(map(len, self._recent)), checkpoint.records
            found, data = _read(self.path, start, checkpoint.records + 2)[1:]
            self.crc = checkpoint.crc
        else:
            found_header, found, data = _read(self.path) if self.path and self.path.exists() else (None, [], b"")
            self.header, start, self.crc = found_header or header, 0, 0
        for entry in found:
            self._add(_encode(entry))
        self.size, self.crc = start + len(data), zlib.crc32(data, self.crc)  # what read() read: all there is
        if self.path:
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, MODE)
                os.fchmod(self._fd, MODE)
                if not os.fstat(self._fd).st_size:
                    self._write(_line(_encode(self.header)))
            except (OSError, Unwritable) as exc:
                raise StateFileError(f"{self.path}: cannot be written ({getattr(exc, 'strerror', None) or exc}); "
                                     f"the state file must be writable by the server") from None
        return self.header, found, kept is not None

    def _starts_with(self, size: int, crc: int) -> bool:
        try:
            return self.path is not None and os.path.getsize(self.path) >= size and _crc_of(self.path, size) == crc
        except OSError:
            return False

    def blocks(self) -> tuple[dict[str, Any], list[bytes], list[bytes]]:
        """The header and the records as kept in memory, for a checkpoint (taken holding the write lock)."""
        return self.header, list(self._blocks), list(self._recent)

    def append(self, entry: dict[str, Any]) -> None:
        """On disk (fsynced), then in memory; Unwritable when it cannot be made durable, and then neither."""
        encoded = _encode(entry)
        with self._lock:
            if self._fd is not None:
                self._write(_line(encoded))
            self._add(encoded)

    def ready(self) -> None:
        """Unwritable unless the next append can be made durable, as far as can be told before trying: the file
        is still the one on the path (recreated if it was deleted or replaced) and the disk has room."""
        if self._fd is None:
            return
        with self._lock:
            if not self._still_ours():
                self._recreate()
            try:
                room = os.fstatvfs(self._fd)
            except OSError as exc:
                raise Unwritable(f"{self.path}: {exc.strerror}") from None
            if room.f_bavail * room.f_frsize < 1 << 20:
                raise Unwritable(f"{self.path}: less than 1 MiB left on its disk")

    def _write(self, line: bytes) -> None:
        if not self._still_ours():
            self._recreate()
        size = os.fstat(self._fd).st_size
        try:
            os.write(self._fd, line)
            os.fsync(self._fd)
        except OSError as exc:
            try:
                os.ftruncate(self._fd, size)  # no torn record left behind for the next start to trip on
            except OSError:
                pass
            raise Unwritable(f"{self.path}: {exc.strerror}") from None
        self.size, self.crc = size + len(line), zlib.crc32(line, self.crc)

    def _still_ours(self) -> bool:
        try:
            on_path, open_file = os.stat(self.path), os.fstat(self._fd)
        except OSError:
            return False
        return open_file.st_nlink > 0 and (on_path.st_dev, on_path.st_ino) == (open_file.st_dev, open_file.st_ino)

    def _recreate(self) -> None:
        """The file on the path is not the one we append to (deleted or replaced): write the whole log there."""
        import logging

        logging.getLogger("ledger_mock").warning("%s was deleted or replaced while serving; writing the whole "
                                                 "log there again", self.path)
        self._replace_file(self.header, self._lines_unlocked())

    def rewrite(self, records: list[dict[str, Any]], header: dict[str, Any] | None = None) -> None:
        """Replace the log (and its header, when given): written aside, fsynced, renamed over the old file and
        the directory fsynced, so a crash leaves the old log or the new one, never half of either. Unwritable if
        it cannot be done, and then the old log stays, on disk and in memory."""
        encoded = [_encode(entry) for entry in records]
        with self._lock:
            if self._fd is not None:
                self._replace_file(header or self.header, encoded)
            self._keep(encoded)
            self.header = header or self.header

    def _replace_file(self, header: dict[str, Any], encoded: list[bytes]) -> None:
        assert self.path is not None
        aside = self.path.with_name(self.path.name + ".new")
        try:
            fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, MODE)
            size, crc = 0, 0
            try:
                with os.fdopen(fd, "wb", closefd=False) as handle:
                    for line in (_line(_encode(header)), *(_line(line) for line in encoded)):
                        handle.write(line)
                        size, crc = size + len(line), zlib.crc32(line, crc)
                    handle.flush()
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(aside, self.path)
            _fsync_directory(self.path.parent)
            fresh = os.open(self.path, os.O_WRONLY | os.O_APPEND, MODE)
        except OSError as exc:
            try:
                aside.unlink()
            except OSError:
                pass
            raise Unwritable(f"{self.path}: {exc.strerror}") from None
        if self._fd is not None:
            os.close(self._fd)
        self._fd = fresh
        self.size, self.crc = size, crc

    def _lines_unlocked(self) -> list[bytes]:
        return [line for block in self._blocks for line in zlib.decompress(block).split(b"\n")] + self._recent

    def _keep(self, encoded: list[bytes]) -> None:
        self._blocks, self._recent, self._recent_size, self._count = [], [], 0, 0
        for line in encoded:
            self._add(line)

    def _add(self, encoded: bytes) -> None:
        self._recent.append(encoded)
        self._recent_size += len(encoded)
        self._count += 1
        if self._recent_size >= self.BLOCK:
            self._blocks.append(zlib.compress(b"\n".join(self._recent), 1))
            self._recent, self._recent_size = [], 0

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _fsync_directory(directory: Path) -> None:
    """A rename is durable only once the directory that holds the name is on disk too."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _encode(entry: Mapping[str, Any]) -> bytes:
    # A copy of exactly the encoded size: orjson's own result keeps an allocation up to ten times larger behind
    # it, and the records of a block stay uncompressed until it fills (100 MiB of bulk creates at 100k entries).
    return memoryview(orjson.dumps(entry)).tobytes()


def _line(encoded: bytes) -> bytes:
    return b"%08x " % zlib.crc32(encoded) + encoded + b"\n"


def _crc_of(path: Path, size: int) -> int:
    """CRC-32 of the first `size` bytes of the file, read a mebibyte at a time."""
    crc = 0
    with open(path, "rb") as handle:
        left = size
        while left > 0:
            chunk = handle.read(min(left, 1 << 20))
            if not chunk:
                break
            crc, left = zlib.crc32(chunk, crc), left - len(chunk)
    return crc


def read(path: Path, start: int = 0, first_line: int = 1) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The header (None in files written before there were headers) and every record of a state file, from byte
    `start` (line `first_line`) on; StateFileError naming the line, the byte offset and what to do when one is
    torn, damaged or not a record this version can replay."""
    return _read(path, start, first_line)[:2]


def _read(path: Path, start: int = 0, first_line: int = 1) -> tuple[dict[str, Any] | None, list[dict[str, Any]], bytes]:
    """`read`, and the bytes read (a log opening goes on from their size and CRC)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            data = handle.read()
    except OSError as exc:
        raise StateFileError(f"{path}: cannot be read ({exc.strerror})") from None
    header, records, offset = None, [], start
    for number, line in enumerate(data.split(b"\n"), first_line):
        end = offset + len(line)
        if not line:
            if end < start + len(data):
                raise StateFileError(f"{path}: line {number} (byte {offset}) is empty; the file is damaged")
            break
        if end >= start + len(data):  # no newline after it: the write was cut off before it was acknowledged
            raise StateFileError(
                f"{path}: the last record (line {number}, bytes {offset}-{end}) is incomplete: a write was "
                f"interrupted before its response was sent. Nothing acknowledged is in it; to start without "
                f"it, run `truncate -s {offset} {path}`.")
        checksum, _, body = line.partition(b" ")
        try:
            if int(checksum, 16) != zlib.crc32(body):
                raise ValueError("checksum mismatch")
            entry = orjson.loads(body)
        except ValueError as exc:
            raise StateFileError(f"{path}: line {number} (byte {offset}) is damaged ({exc}); refusing to start "
                                 f"rather than lose or invent state") from None
        if number == 1 and isinstance(entry, dict) and "format" in entry:
            found = header_problem(entry)
            header = entry
        else:
            found = problem(entry)
            records.append(upgrade(entry))
        if found:
            raise StateFileError(f"{path}: line {number} (byte {offset}) is not one this version can replay "
                                 f"({found}); refusing to start rather than lose or invent state") from None
        offset = end + 1
    return header, records, data


def header_problem(header: Mapping[str, Any]) -> str | None:
    if header.get("format") != FORMAT:
        return f"the header's format is {str(header.get('format'))[:40]!r}, not {FORMAT!r}"
    seed = header.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 1 << 63):
        return "the header's `seed` must be a whole number from 0 to 2^63 - 1, or null"
    if not isinstance(header.get("fixtures"), dict):
        return "the header's `fixtures` must be a mapping"
    try:
        at = datetime.fromisoformat(header.get("at") or "")
    except (TypeError, ValueError):
        return "the header's `at` must be an ISO 8601 instant"
    if at.tzinfo is None:
        return "the header's `at` needs a UTC offset"
    return None


def upgrade(entry: dict[str, Any]) -> dict[str, Any]:
    """A record as this version writes it. Records from before version 2 hold the path with the mount the
    server had then (`/count/partners/...`; `/partners/...` under --root-provider); version 2 holds the path
    below the provider's mount, so a log replays whatever the mounts are now."""
    if entry.get("v") == 2:
        return entry
    mount = "/_mock" if entry["provider"] == "_mock" else f"/{entry['provider']}"
    path = entry["path"]
    if path.startswith(mount + "/"):
        path = path[len(mount):]
    return {**entry, "path": path, "v": 2}


def body_of(entry: Mapping[str, Any]) -> bytes:
    return base64.b64decode(entry["body"], validate=True) if entry["body"] else b""
