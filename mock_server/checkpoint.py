"""Checkpoints: the whole state as of a point in the write log, so a restart replays only the records after it.

The log stays the truth (exports, resets and imports read it as before); a checkpoint is a cache of replaying it,
kept beside the state file as `<state file>.checkpoint`:

- Taken every `--checkpoint-every` changes (and after a reset or import rewrites the log) by a forked child. The
  server, holding the write lock so no change is half made, pauses only for the fork: the child gets the memory
  copy-on-write, pickles the state, writes it aside, fsyncs it and renames it into place, so a kill at any moment
  leaves the old checkpoint or the new one, and never touches the log. One child at a time.
- Used at start only when it names the log exactly (the size and CRC-32 of the log bytes it covers), the same
  code (a CRC of the package's and the served providers' files) and the same settings (those that shape state).
  Otherwise it is ignored, with the reason logged, and the whole log is replayed as before.
- It is a pickle, so it is read only when this user owns it and nobody else can write it (the state file beside
  it is the owner's alone as well).
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import inspect
import io
import logging
import os
import pickle
import threading
import time
import zlib
from pathlib import Path
from typing import Any, Iterator

import orjson

from .wirecache import WireCache

Mock = Any  # mock.Mock, which imports this module
FORMAT = "ledger-mock-checkpoint/1"
# Settings a restart may change without changing what the state is (the log's header decides fixtures and seed;
# the rest are limits on requests or what is reported). Any other difference, and the whole log is replayed.
NOT_STATE = {"state_file", "checkpoint_every", "log_level", "fixtures", "seed", "admin_token", "coverage",
             "public_base_url", "max_body_bytes", "max_import_bytes", "body_timeout_s", "max_tenants"}
_LOCKS = {type(threading.Lock()): "lock", type(threading.RLock()): "rlock", threading.Condition: "condition",
          threading.Event: "event"}
_NEW_LOCK = {"lock": threading.Lock, "rlock": threading.RLock, "condition": threading.Condition,
             "event": threading.Event}

log = logging.getLogger("ledger_mock")


@dataclasses.dataclass
class Found:
    """A checkpoint on disk whose code and settings match this server's; whether it matches the log is the
    log's to check (persistence.WriteLog.open), from `size` and `crc`."""

    path: Path
    size: int  # bytes of the log it covers
    crc: int  # their CRC-32
    records: int
    payload: bytes  # two pickles: the log as kept in memory, then the state

    def log(self) -> tuple[dict[str, Any], list[bytes], list[bytes]] | None:
        """The log's header and records as the server kept them in memory (persistence.WriteLog.blocks)."""
        try:
            return pickle.Unpickler(io.BytesIO(self.payload)).load()
        except Exception as exc:  # a damaged checkpoint can fail in any way; the log is still there
            return self.ignore(str(exc))

    def ignore(self, why: str) -> None:
        log.warning("%s is ignored (%s); replaying the whole log", self.path, why)

    def state(self, mock: Mock) -> dict[str, Any] | None:
        stream = io.BytesIO(self.payload)
        try:
            pickle.Unpickler(stream).load()  # the log, already taken (an unpickler's memo spans its loads)
            unpickler = self._unpickler(stream, mock)
            enabled = gc.isenabled()
            gc.disable()  # millions of objects, none garbage: collecting while they arrive triples the time
            try:
                state = unpickler.load()
                # Straight into the oldest generation: else the first collection after this scans them all (0.25 s
                # at 100k entries) before the first request is answered, and the next one again.
                gc.freeze()
                gc.unfreeze()
                return state
            finally:
                if enabled:
                    gc.enable()
        except Exception as exc:
            return self.ignore(str(exc))
        finally:
            self.payload = b""

    @staticmethod
    def _unpickler(stream: io.BytesIO, mock: Mock) -> pickle.Unpickler:
        unpickler = pickle.Unpickler(stream)
        shared = {key: value for value, key in _shared(mock)}

        def persistent_load(key: Any) -> Any:
            if key[0] == "lock":
                return _NEW_LOCK[key[1]]()
            if key[0] == "cache":
                return WireCache(key[1])
            return shared[key]

        unpickler.persistent_load = persistent_load
        return unpickler


class Checkpoints:
    """The checkpoints of one state file: finding the last at start, taking the next when one is due."""

    def __init__(self, config: Any, selected: tuple[str, ...]):
        self.path = config.state_file.with_name(config.state_file.name + ".checkpoint")
        self.every = config.checkpoint_every
        self.code = f"{_fingerprint(selected)}:{_settings(config)}"
        self.mark = 0  # records in the log when the last checkpoint was taken
        self.child: int | None = None

    def find(self) -> Found | None:
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return None
        why = None
        if status.st_uid != os.getuid() or status.st_mode & 0o022:
            why = "it is not this user's alone, and a checkpoint is a pickle"
        else:
            with open(self.path, "rb") as handle:  # two reads: splitting one would copy the payload
                first, payload = handle.readline(), handle.read()
            try:
                head = orjson.loads(first)
            except orjson.JSONDecodeError:
                head = {}
            if head.get("format") != FORMAT:
                why = "it is not a checkpoint this version writes"
            elif head.get("code") != self.code:
                why = "it was taken by another version of the code or with other settings"
            elif head.get("payload_crc") != zlib.crc32(payload):
                why = "it is damaged"
            else:
                return Found(self.path, head["log_size"], head["log_crc"], head["records"], payload)
        log.warning("%s is ignored (%s); replaying the whole log", self.path, why)
        return None

    def due(self, records: int) -> bool:
        return records - self.mark >= self.every and not self._busy()

    def take(self, mock: Mock) -> None:
        """Fork a child that writes the state as it is now. Called holding the write lock, between changes."""
        # Taken here: they lock, and in the child a lock another thread held at the fork stays held.
        state = {"providers": dict(mock.providers), "created": dict(mock.created), "fixtures": mock.fixtures,
                 "clock": mock.runtime.clock.state(), "ids": mock.runtime.ids.state(), "faults": mock.faults.state()}
        head = {"format": FORMAT, "code": self.code, "log_size": mock.writes.size, "log_crc": mock.writes.crc,
                "records": len(mock.writes)}
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # the child: write, then leave without running anything of the parent's
            code = 1
            try:
                # Not the server's sockets: a child outliving a killed server would keep its port taken.
                os.closerange(3, os.sysconf("SC_OPEN_MAX"))
                gc.disable()
                self._write(head, mock.writes.blocks(), state, mock)
                code = 0
            except BaseException as exc:
                os.write(2, f"ledger-mock: the checkpoint could not be written: {exc!r}\n".encode())
            finally:
                os._exit(code)
        paused = (time.perf_counter() - started) * 1000
        self.child, self.mark = pid, head["records"]
        log.info("checkpoint of %d records started (pid %d); changes paused %.1f ms for the fork",
                 head["records"], pid, paused)

    def _write(self, head: dict[str, Any], kept_log: Any, state: dict[str, Any], mock: Mock) -> None:
        buffer = io.BytesIO()
        pickle.dump(kept_log, buffer, protocol=5)
        _Pickler(buffer, mock).dump(state)
        payload = buffer.getbuffer()
        head["payload_crc"] = zlib.crc32(payload)
        aside = self.path.with_name(self.path.name + ".new")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, orjson.dumps(head) + b"\n")
            for start in range(0, len(payload), 1 << 24):
                os.write(fd, payload[start:start + (1 << 24)])
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(aside, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def _busy(self) -> bool:
        """Whether the last child is still writing (reaping it, and saying so if it failed)."""
        if self.child is None:
            return False
        try:
            pid, status = os.waitpid(self.child, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.child, 0
        if pid == 0:
            return True
        if os.waitstatus_to_exitcode(status):
            log.warning("the checkpoint (pid %d) failed with %d; the log is whole, and the next is due in %d "
                        "changes", self.child, os.waitstatus_to_exitcode(status), self.every)
        self.child = None
        return False

    def wait(self) -> None:
        """Until the child is done (tests, and a server shutting down)."""
        if self.child is not None:
            try:
                os.waitpid(self.child, 0)
            except ChildProcessError:
                pass
            self.child = None


class _Pickler(pickle.Pickler):
    """Pickles the state, naming what is the server's machinery rather than state (the runtime, clock, id
    generators, specs) so the new server's own are put in its place; locks and caches are made new."""

    def __init__(self, file: Any, mock: Mock):
        super().__init__(file, protocol=5)
        self.shared = {id(value): key for value, key in _shared(mock)}

    def persistent_id(self, obj: Any) -> Any:
        key = self.shared.get(id(obj))
        if key is not None:
            return key
        kind = type(obj)
        if kind in _LOCKS:
            return ("lock", _LOCKS[kind])
        if kind is WireCache:
            return ("cache", obj.size)
        return None


def _shared(mock: Mock) -> Iterator[tuple[Any, tuple[str, ...]]]:
    runtime = mock.runtime
    yield from ((runtime, ("runtime",)), (runtime.config, ("config",)), (runtime.clock, ("clock",)),
                (runtime.ids, ("ids",)), (runtime.request_ids, ("request_ids",)))
    for name, spec in mock.specs.items():
        yield spec, ("spec", name)


@functools.lru_cache(maxsize=None)
def _fingerprint(selected: tuple[str, ...]) -> str:
    """A CRC of the code the state was made by: this package and each served provider's module and spec (read
    once a process: a test suite builds hundreds of apps, and its code does not change under it)."""
    from . import providers

    files = set(Path(__file__).parent.rglob("*.py"))
    for name in selected:
        cls = providers.load(name)
        files |= set(Path(inspect.getfile(cls)).parent.rglob("*.py"))
        spec = cls.spec_path()
        files |= {spec, spec.with_name(spec.stem + ".fidelity.yaml")}
    crc = zlib.crc32(",".join(sorted(selected)).encode())
    for path in sorted(files):
        if path.exists():
            crc = zlib.crc32(path.read_bytes(), zlib.crc32(str(path).encode(), crc))
    return f"{crc:08x}"


def _settings(config: Any) -> str:
    shaping = {k: v for k, v in dataclasses.asdict(config).items() if k not in NOT_STATE}
    return f"{zlib.crc32(repr(sorted(shaping.items())).encode()):08x}"
