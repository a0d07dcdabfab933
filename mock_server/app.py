"""Application factory: one route per operation of each provider's spec, one request pipeline for all.

    auth (provider) -> parameters and body (compiled validators) -> handler -> JSON in the provider's envelope

The operations run straight from the WSGI entry (`_Front`); Flask serves the rest: the inspector's pages and
the unknown routes and methods. Every failure on the way, including 404/405/413, is rendered by the provider
whose mount the path falls under, so clients never see an HTML error page.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from contextlib import nullcontext
from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl

import orjson
from flask import Flask, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

from . import admin, data_dir, faults, persistence, providers
from .clock import Clock, IdGenerator
from .config import Config
from .errors import ApiError
from .faults import Faults
from .fixtures import load_fixtures
from .journal import Exchange, RequestJournal
from .ledger import LedgerError
from .persistence import FORMAT, StateFileError, WriteLog, body_of
from .providers import Call, Provider, Runtime
from .routes import Routes
from .spec import Operation, Spec, check_handlers, read_json

log = logging.getLogger("ledger_mock")
access = logging.getLogger("ledger_mock.access")

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


class Mock:
    """The running mock: its providers (rebuilt from fixtures on reset), the request journal and the faults.

    Views look their provider up here on every call, so a reset swaps whole provider states atomically.
    """

    def __init__(self, config: Config, selected: tuple[str, ...], fixtures: Mapping[str, Any]):
        self.config = config
        self.fixtures = fixtures
        self.runtime = Runtime(config, Clock(config.frozen_time), IdGenerator(config.seed),
                               IdGenerator(None if config.seed is None else config.seed + 1))
        self.journal = RequestJournal()
        self.writes = WriteLog(config.state_file)
        self.write_lock = threading.RLock()  # changes apply and reach the write log in one order
        self.faults = Faults(self.runtime.clock, self.runtime.request_ids, config.seed)
        for raw in (fixtures.get("_mock") or {}).get("faults", []):
            self.faults.add(raw)
        self.specs: dict[str, Spec] = {}
        self.providers: dict[str, Provider] = {}
        self.mounts: dict[str, str] = {}  # prefix -> provider name
        for name in selected:
            provider = self._build(name)
            self.mounts["" if name == config.root_provider else f"/{name}"] = name
            self.providers[name] = provider

    def _build(self, name: str, fixtures: Mapping[str, Any] | None = None) -> Provider:
        cls = providers.load(name)
        provider = cls(self.runtime, (fixtures or self.fixtures).get(name) or {})
        if name not in self.specs:
            spec = Spec(data_dir("openapi") / cls.spec_file, validate_responses=self.config.validate_responses)
            check_handlers(spec, cls.handlers, name)
            self.specs[name] = spec
        provider.spec = self.specs[name]
        return provider

    def reset(self, name: str | None = None, tenant: str | None = None) -> list[str]:
        """Back to the fixtures: everything (ids restarting as at startup), one provider, or one tenant (its
        provider rebuilt and every other tenant's changes applied again).

        The write log is rewritten to match, keeping the operator's own settings (clock, faults, posted
        fixtures), so it always says what the state is and a reset is never itself replayed."""
        records = self.writes.records
        if tenant is not None:
            if tenant not in {t.id for t in self.providers[name].tenants()}:
                raise ApiError(404, "not_found", f"No tenant {tenant!r} in {name}.")
            remaining = [r for r in records if not (r.get("provider") == name and r.get("tenant") == tenant)]
        else:
            remaining = [r for r in records if r.get("provider") == admin.NAME and not _creates_tenant_of(r, name)
                         or name is not None and r.get("provider") not in (name, admin.NAME)]
        gc.unfreeze()  # what this drops may have been frozen by the server (server._freeze_survivors)
        names = [name] if name else list(self.providers)
        previous = dict(self.providers)
        if name is None:
            self.runtime.ids.reseed(self.config.seed)
            self.journal.clear()
        with self.runtime.ids.main_stream():  # as at startup
            for each in names:
                self.providers[each] = self._build(each)
        if tenant is not None:
            try:
                self.replay(self.app, [r for r in remaining if r.get("provider") == name
                                       or _creates_tenant_of(r, name)])
            except StateFileError as exc:
                self.providers.update(previous)
                raise ApiError(409, "conflict", f"Tenant {tenant} cannot be reset: {exc}") from None
        self.writes.rewrite(remaining)
        return [f"{name}/{tenant}"] if tenant is not None else names

    def replay(self, app: Flask, records: list[dict[str, Any]]) -> None:
        """Re-run recorded changes through the pipeline, each at its instant and with its id stream."""
        if not records:
            return  # before the test client, whose import alone is a twentieth of startup
        client = app.test_client()
        for number, entry in enumerate(records, 1):
            token = _REPLAY.set((datetime.fromisoformat(entry["at"]), entry["seed"]))
            try:
                response = client.open(entry["path"], method=entry["method"], query_string=entry["query"],
                                       headers=entry["headers"], data=body_of(entry))
            finally:
                _REPLAY.reset(token)
            if response.status_code >= 400:
                raise StateFileError(f"replaying record {number} ({entry['method']} {entry['path']}) answered "
                                     f"{response.status_code}, not the success it had: {response.get_data()[:300]!r}")

    def export(self) -> dict[str, Any]:
        return {"format": FORMAT, "seed": self.config.seed,
                "fixtures": orjson.loads(orjson.dumps(self.fixtures, default=str, option=orjson.OPT_NON_STR_KEYS)),
                "records": list(self.writes.records)}

    def load_fixtures(self, document: Mapping[str, Any]) -> list[str]:
        """New seed data for the providers the document names; each is rebuilt from it."""
        unknown = sorted(set(document) - set(self.providers) - {"_mock"})
        if unknown:
            raise ApiError(400, "validation_error", f"No such provider served: {', '.join(unknown)}; served: "
                                                    f"{', '.join(self.providers)}.")
        candidate = {**self.fixtures, **document}
        names = [name for name in document if name in self.providers]
        built = {name: self._build(name, candidate) for name in names}  # all or nothing
        gc.unfreeze()  # as in reset: what this replaces must be collectable
        self.fixtures = candidate
        self.providers.update(built)
        for raw in (document.get("_mock") or {}).get("faults", []):
            self.faults.add(raw)
        return names

    def load(self, app: Flask, document: Mapping[str, Any]) -> None:
        """Replace the whole state with an exported one."""
        if document.get("format") != FORMAT:
            raise ApiError(400, "validation_error", f"`format` must be {FORMAT!r}.")
        with self.write_lock:
            self.fixtures = {**self.fixtures, **document.get("fixtures", {})}
            self.reset()
            self.writes.rewrite([])  # the imported records are the whole log, the operator's settings included
            records = document.get("records", [])
            self.replay(app, records)
            for entry in records:  # the imported changes are this state's log from now on
                self.writes.append(entry)

    def prefix_of(self, name: str) -> str:
        return next(prefix for prefix, mounted in self.mounts.items() if mounted == name)

    def provider_at(self, path: str) -> Provider | None:
        best = None
        for prefix, name in self.mounts.items():
            if (path == prefix or path.startswith(prefix + "/") or prefix == "") and (
                    best is None or len(prefix) > len(best[0])):
                best = (prefix, name)
        return self.providers[best[1]] if best else None


def create_app(config: Config | None = None) -> Flask:
    config = config or Config()
    app = Flask("ledger_mock")
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    found = providers.names()
    selected = config.providers or tuple(found)
    unknown = set(selected) - set(found) | ({config.root_provider} - set(selected) if config.root_provider else set())
    if unknown:
        raise ValueError(f"unknown provider(s): {', '.join(sorted(unknown))}; available: {', '.join(found)}")
    mock = Mock(config, tuple(selected), load_fixtures(config.fixtures, (*selected, "_mock")))
    app.extensions["ledger_mock"] = mock

    routes, pipelines = Routes(), {}

    def mount(prefix: str, name: str, spec: Spec, current: Callable[[], Provider]) -> None:
        for operation in spec.operations.values():
            endpoint = f"{name}.{operation.id}"
            routes.add(prefix + operation.path, operation.method, endpoint)
            pipelines[endpoint] = _pipeline(mock, name, current, operation)

    for prefix, name in mock.mounts.items():
        mount(prefix, name, mock.specs[name], lambda name=name: mock.providers[name])
    admin.mount(app, mock)
    mount(admin.PREFIX, admin.NAME, mock.admin.spec, lambda: mock.admin)
    app.register_error_handler(HTTPException, lambda exc: _http_error(mock, request.path, exc))
    app.register_error_handler(Exception, lambda exc: _unexpected(mock, request))
    app.wsgi_app = _Front(mock, app.wsgi_app, routes, pipelines)  # Flask's documented place for middleware
    mock.app = app

    mock.replay(app, mock.writes.open())  # last: replaying serves requests, so the app must be complete
    return app


_REPLAY: ContextVar[tuple[datetime, int] | None] = ContextVar("replay", default=None)


def _creates_tenant_of(entry: Mapping[str, Any], name: str | None) -> bool:
    """A recorded `POST /_mock/tenants` for provider `name` (for any provider when `name` is None)."""
    if entry.get("operation") != "createTenant":
        return False
    try:
        posted = orjson.loads(body_of(entry) or b"{}").get("provider")
    except orjson.JSONDecodeError:
        return False
    return name is None or posted == name
# These rewrite the write log themselves: an import with the records it brings, a reset without what it undid.
_NOT_RECORDED = {(admin.NAME, "importState"), (admin.NAME, "reset")}


class _Front:
    """The WSGI entry. A spec operation runs straight through its pipeline; anything else (the inspector's
    pages, unknown routes) goes on to Flask.

    Flask's request machinery (contexts, signals, response processing) costs more than a whole list request
    does without it: under granian a trivial Flask view serves about 7k requests/s, a plain WSGI callable 50k.
    The pipeline needs none of it, so it gets a plain werkzeug request."""

    def __init__(self, mock: Mock, flask: Callable, routes: Routes,
                 pipelines: Mapping[str, Callable[[Request, dict], Answer]]):
        self.mock, self.flask, self.routes, self.pipelines = mock, flask, routes, pipelines

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        # Not registered in the environ: that would make request and environ a cycle, and the journal keeps
        # the environ (through the headers), so every request would wait in the oldest generation for a full
        # collection, which then took tens of milliseconds.
        request = Request(environ, populate_request=False)
        try:
            endpoint, path_args = self.routes.match(request.path, request.method)
        except NotFound:  # an inspector page, or a 404 rendered by _http_error
            return self.flask(environ, start_response)
        except MethodNotAllowed as exc:
            return _http_error(self.mock, request.path, exc)(environ, start_response)
        request.max_content_length = self.mock.config.max_body_bytes
        try:
            response = self.pipelines[endpoint](request, path_args)
        except HTTPException as exc:  # a body over the limit (413)
            response = _http_error(self.mock, request.path, exc)
        except Exception:
            response = _unexpected(self.mock, request)
        return response(environ, start_response)


def _http_error(mock: Mock, path: str, exc: HTTPException) -> Answer:
    headers = {"Allow": ", ".join(sorted(exc.valid_methods))} if getattr(exc, "valid_methods", None) else {}
    message = {404: "Route not found.", 405: "Method not allowed."}.get(exc.code or 500, exc.description)
    error = ApiError(exc.code or 500, _HTTP_CODES.get(exc.code or 500, "error"), message, headers=headers)
    return _error_response(_renderer(mock, path), error, mock.runtime.request_ids.uuid(), None, path)


def _unexpected(mock: Mock, request: Request) -> Answer:
    log.exception("unhandled error on %s %s", request.method, request.path)
    error = ApiError(500, "internal_error", "Something went wrong.")
    return _error_response(_renderer(mock, request.path), error, mock.runtime.request_ids.uuid(), None,
                           request.path)


def _pipeline(mock: Mock, name: str, current: Callable[[], Provider], operation: Operation):
    """The request pipeline for one operation; `current` finds the provider now (a reset replaces it)."""
    changes = operation.method not in ("GET", "HEAD", "OPTIONS") and (name, operation.id) not in _NOT_RECORDED
    clock, ids = mock.runtime.clock, mock.runtime.ids

    def run(request: Request, path_args: dict[str, str]) -> Answer:
        # Read only what the request says it sends (RFC 9112 section 6.3): asking the server for the body of a
        # GET is a round trip to its I/O thread, 7% of a list request.
        has_body = request.content_length or "Transfer-Encoding" in request.headers
        raw_body = request.get_data() if has_body else b""
        replay = _REPLAY.get()
        at, seed = replay or (clock.now(), ids.next_seed())
        with (mock.write_lock if changes else nullcontext()), clock.pinned(at), ids.stream(seed):
            response, tenant = handle(request, path_args, raw_body, replay is not None)
            if changes and response.status_code < 400 and replay is None:
                mock.writes.append(persistence.record(
                    request.method, request.path, request.query_string, request.headers, raw_body,
                    at.isoformat(), seed, provider=name, operation=operation.id, tenant=tenant))
        return response

    def handle(request: Request, path_args: dict[str, str], raw_body: bytes,
               replaying: bool) -> tuple[Answer, str | None]:
        provider = current()
        started = time.perf_counter()
        request_id = mock.runtime.request_ids.uuid()
        call = Call(operation, request, request_id, raw_body, path=path_args)
        try:
            provider.authenticate(call)
            if name != admin.NAME and not replaying:
                mock.faults.apply(name, operation.id, _tenant_of(call), request.headers.get(faults.HEADER))
            found = operation.read_parameters(path_args, request.args.to_dict(flat=False), request.headers)
            call.path, call.query, call.headers = found["path"], found["query"], found["header"]
            if operation.has_body:
                call.body = _read_body(request, operation, call.raw_body)
            reply = provider.dispatch(call)
        except ApiError as error:
            checked = None if isinstance(error, faults.InjectedFault) else operation
            response = _error_response(provider, error, request_id, checked, request.path)
        except LedgerError as error:
            response = _error_response(provider, provider.ledger_error(error), request_id, operation,
                                       request.path)
        else:
            status, payload, headers = reply if len(reply) == 3 else (*reply, {})
            response = _json_response(status, payload, headers, operation)
        if not replaying:
            _account(mock, name, operation, request, call, response, started)
        return response, _tenant_of(call)

    return run


def _tenant_of(call: Call) -> str | None:
    tenant = getattr(call.tenant, "id", None)
    return None if tenant is None else str(tenant)


def _account(mock: Mock, name: str, operation: Operation, request: Request, call: Call, response: Answer,
             started: float) -> None:
    """One structured log line per request, and the journal entry a failing CI job fetches."""
    elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
    tenant = _tenant_of(call)
    if access.isEnabledFor(logging.INFO):
        access.info(orjson.dumps({"method": request.method, "path": request.path, "provider": name,
                                  "operation": operation.id, "tenant": tenant, "status": response.status_code,
                                  "duration_ms": elapsed_ms, "request_id": call.request_id}).decode())
    if name == admin.NAME:
        return
    mock.journal.record({
        "at": mock.runtime.clock.now().isoformat(), "request_id": call.request_id, "provider": name,
        "operation": operation.id, "tenant": tenant, "method": request.method, "path": request.path,
        "query": request.query_string.decode("utf-8", "replace"), "status": response.status_code,
        "duration_ms": elapsed_ms},
        Exchange.of(request.headers, call.raw_body, request.content_type),
        Exchange.of(response.headers, response.body, Answer.content_type))


def _renderer(mock: Mock, path: str) -> Provider | None:
    if path == admin.PREFIX or path.startswith(admin.PREFIX + "/"):
        return mock.admin
    return mock.provider_at(path)


def _read_body(request: Request, operation: Operation, raw: bytes) -> Any:
    if not raw.strip():
        if operation.body_required:
            raise ApiError(400, "validation_error", "A JSON request body is required.")
        return None
    media_type = (request.mimetype or "").lower()
    if media_type not in operation.body_media_types:
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type must be {' or '.join(operation.body_media_types)}, not "
                       f"{media_type or 'missing'}.")
    if media_type == "application/x-www-form-urlencoded":  # OAuth token endpoints (RFC 6749 section 4)
        body: Any = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    elif media_type.endswith("yaml"):  # fixtures posted to the admin API
        import yaml  # only here: importing PyYAML is a tenth of startup

        try:
            body = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ApiError(400, "validation_error", f"Malformed YAML body: {exc}.") from None
    else:
        body = read_json(raw)
    operation.check_body(body)
    return body


def _error_response(provider: Provider | None, error: ApiError, request_id: str,
                    operation: Operation | None, path: str) -> Answer:
    if provider is None:
        payload = {"error": error.code, "message": error.message}
    else:
        payload = provider.render_error(error, request_id, path)
    return _json_response(error.status, payload, error.headers, operation)


def _json_response(status: int, payload: Any, headers: Mapping[str, str], operation: Operation | None) -> Answer:
    body = orjson.dumps(payload, default=_json_default)
    if operation is not None and operation.response_validators:
        problem = operation.response_problem(status, orjson.loads(body))  # what is sent, cached parts included
        if problem:
            log.error("%s broke its own spec: %s", operation.id, problem)
            body, status = orjson.dumps({"error": "response_violates_spec", "message": problem}), 500
    return Answer(status, body, headers)


class Answer:
    """A JSON answer, written straight to WSGI. Werkzeug's Response (a header object, a body iterator, handling
    for what a JSON answer never has) cost a tenth of a list request. Flask takes it as a WSGI app."""

    __slots__ = ("status_code", "body", "headers")
    content_type = "application/json"

    def __init__(self, status: int, body: bytes, headers: Mapping[str, str]):
        self.status_code, self.body = status, body
        self.headers = [("Content-Type", self.content_type), *headers.items()]
        if status != 204:  # RFC 9110 section 8.6: never on a 204
            self.headers.append(("Content-Length", str(len(body))))

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        start_response(f"{self.status_code} {HTTP_STATUS_CODES.get(self.status_code, 'unknown').upper()}",
                       self.headers)
        return [] if self.status_code == 204 or environ["REQUEST_METHOD"] == "HEAD" else [self.body]


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value).encode())  # exact digits, never through float
    raise TypeError(f"cannot serialise {type(value).__name__}")
