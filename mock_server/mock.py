"""The running mock: its providers (built from fixtures), the write log that makes their changes durable, the
clock, the faults, the request journal and client coverage, and the operations that replace state whole (reset,
fixtures, import, tenant deletion; each also forgets the coverage of what it replaced).

Ordering. Every request passes the `Gate` together with the others; a world operation (reset, fixtures load,
import, tenant deletion) waits until they are out and passes alone, so no request ever sees half of one. Changes
also take `write_lock`, so they apply and reach the write log in one order. A world operation runs all or
nothing: if anything fails (a record that does not replay, a log that cannot be written), everything it touched
is put back as it was and the caller gets an error.
"""

from __future__ import annotations

import gc
import logging
import threading
import zlib
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterator, Mapping

import orjson

from . import providers
from .clock import Clock, IdGenerator, check_range
from .config import Config
from .coverage import Coverage
from .errors import ApiError
from .faults import FaultError, Faults
from .journal import RequestJournal
from .checkpoint import Checkpoints, Found
from .persistence import FORMAT, StateFileError, Unwritable, WriteLog, body_of, check
from .providers import Provider, Runtime
from .spec import Spec, check_handlers

# (instant, seed, who) of the record being replayed; None for a live request. `who` is None for records from
# before version 2, which carry their credentials instead.
REPLAY: ContextVar[tuple[datetime, int, dict | None] | None] = ContextVar("replay", default=None)

# The operator's API (admin.py) is served like a provider under this name and prefix; its changes are recorded
# and replayed like any provider's.
ADMIN = "_mock"
ADMIN_PREFIX = "/_mock"


class Gate:
    """Requests pass together; a world operation waits until they are out and passes alone (new requests wait
    behind it, so it is never starved). Re-entrant: a request or world operation replaying records runs them as
    requests inside itself. `enter`/`leave` rather than a context manager: this runs on every request."""

    def __init__(self) -> None:
        self._state = threading.Condition(threading.Lock())
        self._inside = 0
        self._alone: int | None = None  # the thread passing alone
        self._waiting = 0
        self._mine = threading.local()  # how deep this thread is inside

    def enter(self) -> None:
        mine = self._mine
        depth = getattr(mine, "depth", 0)
        mine.depth = depth + 1
        if depth or self._alone == threading.get_ident():
            return
        with self._state:
            while self._alone is not None or self._waiting:
                self._state.wait()
            self._inside += 1

    def leave(self) -> None:
        mine = self._mine
        mine.depth -= 1
        if mine.depth or self._alone == threading.get_ident():
            return
        with self._state:
            self._inside -= 1
            if not self._inside:
                self._state.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        me = threading.get_ident()
        if self._alone == me:
            yield
            return
        if getattr(self._mine, "depth", 0):
            raise RuntimeError("a world operation cannot start inside a request")
        with self._state:
            self._waiting += 1
            while self._alone is not None or self._inside:
                self._state.wait()
            self._waiting -= 1
            self._alone = me
        try:
            yield
        finally:
            with self._state:
                self._alone = None
                self._state.notify_all()


class Mock:
    def __init__(self, config: Config, selected: tuple[str, ...], fixtures: Mapping[str, Any]):
        self.config = config
        self.runtime = Runtime(config, Clock(config.frozen_time), IdGenerator(config.seed),
                               IdGenerator(None if config.seed is None else config.seed + 1))
        self.journal = RequestJournal()
        self.coverage = Coverage()  # what clients exercised of each provider, since its last reset
        self.gate = Gate()
        self.write_lock = threading.RLock()
        self.faults = Faults(self.runtime.clock, self.runtime.ids, config.seed)
        self.writes = WriteLog(config.state_file)
        self.checkpoints = Checkpoints(config, selected) if config.state_file and config.checkpoint_every else None
        found = self.checkpoints.find() if self.checkpoints else None
        # What the log starts from: the fixtures and seed the state file was begun with (a state file does not
        # depend on how the server is started later), else the configuration's. As JSON has them either way.
        # `pending`: the records to replay, those after the checkpoint when one covers the rest.
        header, self.pending, resumed = self.writes.open(
            {"format": FORMAT, "seed": config.seed, "fixtures": _jsonable(fixtures),
             "at": self.runtime.clock.now().isoformat()}, found)
        self.seed: int | None = header["seed"]
        self.base_fixtures: Mapping[str, Any] = header["fixtures"]
        # When the fixtures were first built: every rebuild (restart, reset, import) builds them at this instant
        # again, so their timestamps and the lifetimes counted from them come out the same.
        self.built_at = datetime.fromisoformat(header.get("at") or self.runtime.clock.now().isoformat())
        self.fixtures = self.base_fixtures  # plus what POST /_mock/fixtures loaded since
        if self.seed != config.seed:
            self.runtime.ids.reseed(self.seed)
        self._initial_clock = self.runtime.clock.state()
        self.created: dict[tuple[str, str], str] = {}  # (provider, tenant id) of tenants made by the admin API
        self.front: Callable[[dict, Callable], Any] | None = None  # the WSGI entry that replays run through
        self.specs: dict[str, Spec] = {}
        self.providers: dict[str, Provider] = {}
        self.mounts: dict[str, str] = {}  # prefix -> provider name
        self._add_fixture_faults(self.fixtures)
        for name in selected:
            self.mounts["" if name == config.root_provider else f"/{name}"] = name
            self.providers[name] = self._build(name)
        self.admin: Provider | None = None  # the operator's API (admin.Admin), set by the app that serves this
        if resumed:
            self._resume(found)

    def _resume(self, found: Found) -> None:
        """The state the checkpoint holds, or (when it cannot be read) every record of the log to replay."""
        state = found.state(self)
        if state is None:
            self.pending = self.writes.records
            return
        logging.getLogger("ledger_mock").info("%s: the state after %d changes; replaying the %d after them",
                                              found.path, found.records, len(self.pending))
        self.providers.update(state["providers"])
        self.created, self.fixtures = state["created"], state["fixtures"]
        self.runtime.clock.restore(state["clock"])
        self.runtime.ids.restore(state["ids"])
        self.faults.restore(state["faults"])
        self.checkpoints.mark = found.records

    def checkpoint_if_due(self) -> None:
        """Called holding the write lock, after a change reached the log."""
        if self.checkpoints and self.checkpoints.due(len(self.writes)):
            self.checkpoints.take(self)

    @property
    def replaying(self) -> bool:
        return REPLAY.get() is not None

    def _build(self, name: str, fixtures: Mapping[str, Any] | None = None) -> Provider:
        """A provider built from fixtures, drawing ids from a stream of its own: its fixtures get the same ids
        whichever other providers are served, and again after a reset."""
        cls = providers.load(name)
        stream = None if self.seed is None else zlib.crc32(f"{self.seed}:{name}".encode())
        with self.runtime.ids.stream(stream), self.runtime.clock.pinned(self.built_at):
            provider = cls(self.runtime, (fixtures or self.fixtures).get(name) or {})
        if name not in self.specs:
            spec = Spec(cls.spec_path(), validate_responses=self.config.validate_responses)
            check_handlers(spec, cls.handlers, name)
            self.specs[name] = spec
        provider.spec = self.specs[name]
        return provider

    def _add_fixture_faults(self, fixtures: Mapping[str, Any], *, base: bool = True) -> None:
        """The fixtures' fault rules. The base fixtures' get ids of their own (`fixture-1`, ...) that a recorded
        DELETE can name whenever the log is replayed; posted ones draw theirs from the request's id stream."""
        section = fixtures.get("_mock") or {}
        raws = section.get("faults", []) if isinstance(section, Mapping) else None
        if not isinstance(raws, list):
            raise FaultError("`_mock.faults` must be a list of fault rules")
        for number, raw in enumerate(raws, 1):
            self.faults.add(raw, f"fixture-{number}" if base else None)

    # -- world operations -----------------------------------------------------------------------------------

    @contextmanager
    def _all_or_nothing(self) -> Iterator[None]:
        """Everything a world operation may change, put back as it was when the operation fails."""
        saved = (self.fixtures, self.base_fixtures, self.seed, self.built_at, dict(self.providers),
                 dict(self.created), self.runtime.clock.state(), self.faults.state(), self.runtime.ids.state())
        try:
            yield
        except BaseException:
            (self.fixtures, self.base_fixtures, self.seed, self.built_at, kept, created, clock, faults, ids) = saved
            self.providers.clear()
            self.providers.update(kept)
            self.created = created
            self.runtime.clock.restore(clock)
            self.faults.restore(faults)
            self.runtime.ids.restore(ids)
            raise

    def reset(self, name: str | None = None, tenant: str | None = None) -> list[str]:
        """Back to the fixtures: everything (ids restarting as at startup), one provider, or one tenant (the
        others kept as they are).

        The write log is rewritten to match, keeping the operator's own settings (clock, faults, posted
        fixtures) and the changes of providers not served now, so it always says what the state is and a reset
        is never itself replayed."""
        with self.gate.alone(), self.write_lock:
            if tenant is not None:
                if tenant not in {str(t.id) for t in self.providers[name].tenants()}:
                    raise ApiError(404, "not_found", f"No tenant {tenant!r} in {name}.")
                self._reset_tenant(name, tenant)
                self.coverage.reset(name, tenant)
                return [f"{name}/{tenant}"]
            names = [name] if name else list(self.providers)
            remaining = [r for r in self.writes.records if _belongs(r) not in names]
            with self._all_or_nothing():
                gc.unfreeze()  # what this drops may have been frozen by the server (server.freeze_survivors)
                if name is None:
                    self.runtime.ids.reseed(self.seed)
                for each in names:
                    self.providers[each] = self._build(each)
                self.created = {k: v for k, v in self.created.items() if k[0] not in names}
                self._rewrite(remaining)
            if name is None:
                self.journal.clear()
            self.coverage.reset(name)
            return names

    def delete_tenant(self, tenant: str, name: str | None = None) -> dict[str, str]:
        """Forget a tenant made through the admin API, with every change made in it."""
        with self.gate.alone(), self.write_lock:
            found = [(p, t) for (p, t) in self.created if t == tenant and name in (None, p)]
            if not found:
                fixture = any(str(t.id) == tenant for p, served in self.providers.items() if name in (None, p)
                              for t in served.tenants())
                if fixture:
                    raise ApiError(409, "conflict", f"Tenant {tenant!r} comes from the fixtures; only tenants made "
                                                    "with POST /_mock/tenants can be deleted (reset it instead).")
                raise ApiError(404, "not_found", f"No tenant {tenant!r} was made with POST /_mock/tenants.")
            if len(found) > 1:
                raise ApiError(409, "conflict", f"Tenant id {tenant!r} exists in several providers; name one with "
                                                "`?provider=`.")
            provider, _ = found[0]
            self._rebuild(provider, lambda r: _belongs(r) == provider and r.get("tenant") == tenant,
                          f"Tenant {tenant} cannot be deleted")
            self.coverage.reset(provider, tenant)
            return {"provider": provider, "tenant": tenant}

    def _reset_tenant(self, name: str, tenant: str) -> None:
        """Tenant `tenant` of provider `name` as it began, every other tenant untouched. The tenant is built
        again alone (its provider's fixtures, plus the record that made it when the admin API did) and swapped in
        (`Provider.swap_tenant`), so the cost does not grow with the other tenants' history; a provider that
        cannot swap a tenant is rebuilt whole instead. Either way the log loses the tenant's changes."""
        live = self.providers[name]

        def dropped(record: dict[str, Any]) -> bool:
            return record["provider"] == name and record.get("tenant") == tenant

        if type(live).swap_tenant is Provider.swap_tenant:
            self._rebuild(name, dropped, f"Tenant {tenant} cannot be reset")
            return
        remaining = [r for r in self.writes.records if not dropped(r)]
        with self._all_or_nothing():
            fresh = self._build(name)
            made = [r for r in remaining if r["provider"] == ADMIN and r.get("tenant") == tenant
                    and _belongs(r) == name]
            if made:
                self.providers[name] = fresh
                try:
                    self.replay(made)
                except StateFileError as exc:
                    raise ApiError(409, "conflict", f"Tenant {tenant} cannot be reset: {exc}") from None
                finally:
                    self.providers[name] = live
            if tenant not in {str(t.id) for t in fresh.tenants()}:  # made again under another id: rebuild whole
                self._rebuild(name, dropped, f"Tenant {tenant} cannot be reset")
                return
            live.swap_tenant(tenant, fresh)
            try:
                self._rewrite(remaining)
            except BaseException:
                live.swap_tenant(tenant, fresh)  # back as it was
                raise

    def _rebuild(self, name: str, dropped: Callable[[dict[str, Any]], bool], failure: str) -> None:
        """Provider `name` built again from its fixtures with every change of it the log keeps, less `dropped`."""
        remaining = [r for r in self.writes.records if not dropped(r)]
        with self._all_or_nothing():
            gc.unfreeze()
            self.providers[name] = self._build(name)
            self.created = {k: v for k, v in self.created.items() if k[0] != name}
            try:
                self.replay([r for r in remaining if _belongs(r) == name])
            except StateFileError as exc:
                raise ApiError(409, "conflict", f"{failure}: {exc}") from None
            self._rewrite(remaining)

    def load_fixtures(self, document: Mapping[str, Any], record: dict[str, Any] | None) -> list[str]:
        """New seed data for the providers the document names; each is rebuilt from it, all or nothing. The log
        keeps `record` (this request) in place of every earlier change of those providers."""
        with self.gate.alone(), self.write_lock:
            installed = set(providers.names())
            unknown = sorted(str(n) for n in set(document) - installed - {"_mock"})
            if unknown:
                raise ApiError(400, "validation_error", f"No such provider: {', '.join(unknown)}; installed: "
                                                        f"{', '.join(sorted(installed))}.")
            shapeless = sorted(n for n, section in document.items() if not isinstance(section, (dict, type(None))))
            if shapeless:
                raise ApiError(400, "validation_error", f"The fixtures of {', '.join(shapeless)} must be a mapping.")
            names = [name for name in document if name in self.providers]
            candidate = {**self.fixtures, **document}
            with self._all_or_nothing():
                try:
                    built = {name: self._build(name, candidate) for name in names}
                    self._add_fixture_faults(document, base=False)
                except Exception as exc:  # a fixtures document can be wrong in any way at all
                    raise ApiError(400, "validation_error", f"These fixtures cannot be loaded: {_reason(exc)}.") \
                        from None
                gc.unfreeze()  # as in reset: what this replaces must be collectable
                self.fixtures = candidate
                self.providers.update(built)
                self.created = {k: v for k, v in self.created.items() if k[0] not in names}
                if record is not None:
                    self._rewrite([r for r in self.writes.records if _belongs(r) not in names] + [record])
            for name in names:
                self.coverage.reset(name)
            return names

    def load(self, document: Mapping[str, Any]) -> int:
        """Replace the whole state, in memory and on disk, with an exported one; or change nothing."""
        with self.gate.alone(), self.write_lock:
            if document.get("format") not in (FORMAT, "ledger-mock-state/1"):
                raise ApiError(400, "validation_error", f"`format` must be {FORMAT!r}.")
            fixtures, seed = document.get("fixtures", {}), document.get("seed", self.seed)
            if not isinstance(fixtures, dict) or seed is not None and (
                    not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 1 << 63):
                raise ApiError(400, "validation_error", "`fixtures` must be a mapping and `seed` a whole number "
                                                        "from 0 to 2^63 - 1, or null.")
            try:
                records = check(document.get("records", []))
            except StateFileError as exc:
                raise ApiError(400, "validation_error", f"This state cannot be imported: {exc}.") from None
            at = document.get("at")
            try:
                built_at = datetime.fromisoformat(at) if isinstance(at, str) else self.runtime.clock.now()
                check_range(built_at)
            except ValueError:
                raise ApiError(400, "validation_error", "`at` must be an ISO 8601 instant from 1970 up to 9000.") \
                    from None
            with self._all_or_nothing():
                self.base_fixtures = _jsonable({**self.fixtures, **fixtures})
                self.seed, self.built_at = seed, built_at
                try:
                    self.start_over()
                except Exception as exc:
                    raise ApiError(400, "validation_error", f"These fixtures cannot be loaded: {_reason(exc)}.") \
                        from None
                try:
                    self.replay(records)
                except StateFileError as exc:
                    raise ApiError(422, "unprocessable", f"This state cannot be imported: {exc}.") from None
                self._rewrite(records, header=self._header())
            self.journal.clear()
            self.coverage.reset()
            return len(records)

    def start_over(self) -> None:
        """The state the log begins from: its fixtures built, the clock as configured, ids from the seed, no
        tenants made. (Faults are the operator's instruments, not state: they stay as they are.)"""
        gc.unfreeze()
        self.fixtures = self.base_fixtures
        self.runtime.clock.restore(self._initial_clock)
        self.runtime.ids.reseed(self.seed)
        self.created = {}
        for name in list(self.providers):
            self.providers[name] = self._build(name)

    def recover(self, name: str | None) -> None:
        """After a change could not be made durable: provider `name` (every one, for an admin change) back to
        what the log holds, so what was not acknowledged is not kept either. Called by the request that failed,
        still holding the write lock, so no other change can build on it meanwhile."""
        with self.write_lock:
            if name is None:
                self.start_over()
                self.replay(self.writes.records)
            else:
                self.providers[name] = self._build(name)
                self.created = {k: v for k, v in self.created.items() if k[0] != name}
                self.replay([r for r in self.writes.records if _belongs(r) == name])

    def _rewrite(self, records: list[dict[str, Any]], header: dict[str, Any] | None = None) -> None:
        try:
            self.writes.rewrite(records, header)
        except Unwritable as exc:
            raise ApiError(503, "service_unavailable", f"The state file cannot be written ({exc}); nothing was "
                                                       "changed.") from None
        if self.checkpoints:  # the last checkpoint names a log that is gone: the next is due as soon as it fills
            self.checkpoints.mark = 0
            self.checkpoint_if_due()

    def _header(self) -> dict[str, Any]:
        return {"format": FORMAT, "seed": self.seed, "fixtures": _jsonable(self.base_fixtures),
                "at": self.built_at.isoformat()}

    def export(self) -> dict[str, Any]:
        with self.write_lock:
            return {**self._header(), "records": self.writes.records}

    # -- replay ---------------------------------------------------------------------------------------------

    def replay(self, records: list[dict[str, Any]]) -> None:
        """Re-run recorded changes through the pipeline, each at its instant and with its id stream. Changes of
        providers not served now are skipped (and kept in the log for a server that serves them)."""
        if not records:
            return  # before importing werkzeug.test, a twentieth of startup
        from werkzeug.test import EnvironBuilder

        for number, entry in enumerate(records, 1):
            name = entry["provider"]
            if name != ADMIN and name not in self.providers:
                continue
            environ = EnvironBuilder(path=self.prefix_of(name) + entry["path"], method=entry["method"],
                                     query_string=entry["query"], headers=entry["headers"],
                                     data=body_of(entry)).get_environ()
            answer: list[Any] = []
            token = REPLAY.set((datetime.fromisoformat(entry["at"]), entry["seed"], entry.get("who")))
            try:
                body = b"".join(self.front(environ, lambda status, headers, *_: answer.append(status)))
            finally:
                REPLAY.reset(token)
            status = int(answer[0].split(" ", 1)[0])
            if status >= 400:
                raise StateFileError(f"replaying record {number} ({entry['method']} {entry['path']} of {name}) "
                                     f"answered {status}, not the success it had: {body[:300]!r}")

    # -- where things are -----------------------------------------------------------------------------------

    def prefix_of(self, name: str) -> str:
        if name == ADMIN:
            return ADMIN_PREFIX
        return next(prefix for prefix, mounted in self.mounts.items() if mounted == name)

    def provider_at(self, path: str) -> Provider | None:
        mount = self.mount_at(path)
        return self.providers[mount[1]] if mount else None

    def mount_at(self, path: str) -> tuple[str, str] | None:
        """(prefix, provider name) of the mount `path` falls under, the longest prefix winning."""
        best = None
        for prefix, name in self.mounts.items():
            if (path == prefix or path.startswith(prefix + "/") or prefix == "") and (
                    best is None or len(prefix) > len(best[0])):
                best = (prefix, name)
        return best


def _belongs(entry: Mapping[str, Any]) -> str | None:
    """The provider whose state a record changes (a recorded tenant creation changes its provider's), or None
    for the operator's own settings (clock, faults, fixtures)."""
    if entry["provider"] != ADMIN:
        return entry["provider"]
    if entry["operation"] != "createTenant":
        return None
    try:
        posted = orjson.loads(body_of(entry) or b"{}")
    except orjson.JSONDecodeError:
        return None
    return posted.get("provider") if isinstance(posted, dict) else None


def _jsonable(fixtures: Mapping[str, Any]) -> dict[str, Any]:
    """Fixtures as JSON has them (YAML dates become strings; numbers stay numbers), so the state file and
    exports carry them, and an export imported and exported again is the same document. An integer beyond 64
    bits is refused: no JSON reader a client uses carries it back."""
    try:
        return orjson.loads(orjson.dumps(fixtures, default=_plain_json, option=orjson.OPT_NON_STR_KEYS))
    except orjson.JSONEncodeError as exc:
        raise ApiError(400, "validation_error", f"These fixtures cannot be stored: {exc}.") from None


def _plain_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value).encode())
    return str(value)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        return exc.message.rstrip(".")
    if isinstance(exc, KeyError):
        return f"missing or malformed {exc}"
    return str(exc).rstrip(".") or type(exc).__name__
