"""The request pipeline: one per spec operation, the same for every provider and for the admin API.

    auth (provider) -> faults -> parameters and body (compiled validators) -> handler -> JSON in the provider's
    envelope -> the write log (for a change), and the journal

Spec operations run straight from the WSGI entry (`Front`); Flask serves the rest: the inspector's pages and the
unknown routes and methods. Every failure on the way, including 404/405/413, is rendered by the provider whose
mount the path falls under, so clients never see an HTML error page, and nothing a request carries reaches a
500: a 500 here is a bug in the mock, logged with its traceback.
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, urlencode

import orjson
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request
from werkzeug.wsgi import get_content_length

from . import admin, faults, fidelity, persistence
from .bodies import read_json, read_yaml
from .errors import ApiError, excerpt
from .journal import REDACTED, SECRET, Exchange, may_name_a_secret
from .ledger import LedgerError
from .mock import REPLAY, Mock
from .persistence import Unwritable
from .providers import Call, Provider
from .routes import Routes
from .spec import Operation

log = logging.getLogger("ledger_mock")
access = logging.getLogger("ledger_mock.access")

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 408: "request_timeout", 413: "payload_too_large", 414: "uri_too_long",
               415: "unsupported_media_type", 431: "headers_too_large"}
# Operations that replace state whole: they wait for every other request and pass alone (mock.Gate), and write
# the log themselves (an import with the records it brings, a reset without what it undid, ...).
WORLD = frozenset({(admin.NAME, "importState"), (admin.NAME, "reset"), (admin.NAME, "loadFixtures"),
                   (admin.NAME, "deleteTenant")})
LARGE_BODIES = frozenset({(admin.NAME, "importState"), (admin.NAME, "loadFixtures")})
# Faults are the operator's instruments for this process, not state: a `times: 1` rule replayed after a restart
# would fire again. They are neither written to the log nor exported.
UNRECORDED = frozenset({(admin.NAME, "addFault"), (admin.NAME, "deleteFault"), (admin.NAME, "clearFaults")})


class Front:
    """The WSGI entry. A spec operation runs straight through its pipeline; anything else (the inspector's
    pages, unknown routes) goes on to Flask.

    Flask's request machinery (contexts, signals, response processing) costs more than a whole list request
    does without it: under granian a trivial Flask view serves about 7k requests/s, a plain WSGI callable 50k.
    The pipeline needs none of it, so it gets a plain werkzeug request."""

    def __init__(self, mock: Mock, flask: Callable, routes: Routes,
                 pipelines: Mapping[str, Callable[[Request, dict], "Answer"]], limits: Mapping[str, int]):
        self.mock, self.flask, self.routes, self.pipelines, self.limits = mock, flask, routes, pipelines, limits

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        # Not registered in the environ: that would make request and environ a cycle, and every request would
        # then wait in the oldest generation for a full collection, which took tens of milliseconds.
        request = Request(environ, populate_request=False)
        try:
            endpoint, path_args = self.routes.match(request.path, request.method)
        except NotFound:  # an inspector page, or a 404 rendered by http_error
            return (not_mocked(self.mock, request) or self.flask)(environ, start_response)
        except MethodNotAllowed as exc:
            return (not_mocked(self.mock, request)
                    or http_error(self.mock, request.path, exc.code, exc.valid_methods))(environ, start_response)
        request.max_content_length = self.limits[endpoint]
        try:
            response = self.pipelines[endpoint](request, path_args)
        except HTTPException as exc:  # a body over the limit (413)
            response = http_error(self.mock, request.path, exc.code or 500)
        except Exception:
            response = unexpected(self.mock, request)
        return response(environ, start_response)

    def body_limit(self, path: str, method: str) -> int:
        """The most body bytes a request to `path` may carry (the server reads bodies before the app runs)."""
        try:
            endpoint, _ = self.routes.match(path, method)
        except (NotFound, MethodNotAllowed):
            return self.mock.config.max_body_bytes
        return self.limits[endpoint]


def http_error(mock: Mock, path: str, status: int, allowed: Any = None) -> "Answer":
    """A refusal before any operation ran (no route, wrong method, body too large or too slow), in the envelope
    of the provider whose mount `path` falls under."""
    headers = {"Allow": ", ".join(sorted(allowed))} if allowed else {}
    message = {400: "The request body did not arrive as its headers declare it.", 404: "Route not found.",
               405: "Method not allowed.", 408: "The request body did not arrive in time.",
               413: "The request body is too large.", 503: "The server is stopping."
               }.get(status, HTTP_STATUS_CODES.get(status, "Error") + ".")
    error = ApiError(status, _HTTP_CODES.get(status, "error"), message, headers=headers)
    return _error_response(_renderer(mock, path), error, mock.runtime.request_ids.uuid(), None, path)


def not_mocked(mock: Mock, request: Request) -> "Answer | None":
    """A 501 in the provider's envelope for an operation the real provider has and this mock does not serve (its
    departures ledger lists them), so a client can tell "not mocked" from "not found"."""
    mount = mock.mount_at(request.path)
    if mount is None:
        return None
    prefix, name = mount
    missing = fidelity.load(name).unmocked(request.method, request.path[len(prefix):])
    if missing is None:
        return None
    error = ApiError(501, "not_mocked", f"{missing.method} {missing.path} ({missing.title}) is an operation of the "
                                        f"real API that ledger-mock does not mock; see /_mock/fidelity/{name}.")
    return _error_response(mock.providers[name], error, mock.runtime.request_ids.uuid(), None, request.path)


def unexpected(mock: Mock, request: Request) -> "Answer":
    log.exception("unhandled error on %s %s", request.method, request.path)
    error = ApiError(500, "internal_error", "Something went wrong.")
    return _error_response(_renderer(mock, request.path), error, mock.runtime.request_ids.uuid(), None,
                           request.path)


def pipeline(mock: Mock, name: str, current: Callable[[], Provider], operation: Operation):
    """The request pipeline for one operation; `current` finds the provider now (a reset replaces it)."""
    world = (name, operation.id) in WORLD
    changes = operation.changes
    recorded = changes and not world and (name, operation.id) not in UNRECORDED
    kept_headers = {name: environ_key(name) for name in (
        *persistence.KEPT_HEADERS, *(h for h in operation.header_names if not SECRET.search(h)))}
    clock, ids = mock.runtime.clock, mock.runtime.ids
    prefix = mock.prefix_of(name)  # mounts are fixed when the mock is made
    # What the real provider does with input it does not know: refuse it, or ignore it (and the mock warns).
    ledger = None if name == admin.NAME else fidelity.load(name)
    ignores_query, ignores_body = (ledger is not None and ledger.unknown_query == "ignore",
                                   ledger is not None and ledger.unknown_body == "ignore")
    strict = mock.runtime.config.refuse_ignored

    def run(request: Request, path_args: dict[str, str]) -> Answer:
        # Read only what the request says it sends (RFC 9112 section 6.3): asking the server for the body of a
        # GET is a round trip to its I/O thread, 7% of a list request. (request.content_length, read the way it
        # is but without building werkzeug's view of the headers for it.)
        environ = request.environ
        has_body = get_content_length(environ) or "HTTP_TRANSFER_ENCODING" in environ
        raw_body = request.get_data() if has_body else b""
        replay = REPLAY.get()
        at, seed, who = replay or (clock.now(), ids.next_seed(), None)
        if world:
            with mock.gate.alone(), mock.write_lock, clock.pinned(at), ids.stream(seed):
                call = Call(operation, request, mock.runtime.request_ids.uuid(), raw_body, path=path_args,
                            replaying=replay is not None, who=who,
                            strict=strict and replay is None)
                call.own_record = lambda: as_record(request, raw_body, at, seed, call)
                return handle(request, path_args, call)
        mock.gate.enter()
        try:
            with (mock.write_lock if changes else nullcontext()), clock.pinned(at), ids.stream(seed):
                if recorded and replay is None:
                    try:
                        mock.writes.ready()
                    except Unwritable as exc:  # refused before anything changed
                        return _unavailable(current(), exc, request.path)
                call = Call(operation, request, mock.runtime.request_ids.uuid(), raw_body, path=path_args,
                            replaying=replay is not None, who=who,
                            strict=strict and replay is None)
                response = handle(request, path_args, call)
                if recorded and response.status_code < 400 and replay is None:
                    response = persist(request, raw_body, at, seed, call, response)
            return response
        finally:
            mock.gate.leave()

    def as_record(request: Request, raw_body: bytes, at: datetime, seed: int, call: Call) -> dict[str, Any]:
        """The change as the log keeps it: who made it instead of their credentials, the query parameters the
        operation reads, and the body less the values of undeclared fields that look secret."""
        query = request.query_string.decode("latin-1")
        if query:  # what the operation reads: an unknown parameter may be someone's secret
            query = urlencode([(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
                               if k in operation.query_names])
        environ = request.environ
        headers = {header: value for header, key in kept_headers.items() if (value := environ.get(key)) is not None}
        return persistence.record(request.method, request.path[len(prefix):], query, headers,
                                  _kept_body(raw_body, call), at.isoformat(), seed, provider=name,
                                  operation=operation.id, tenant=_tenant_of(call), who=current().who(call))

    def _kept_body(raw_body: bytes, call: Call) -> bytes:
        if not operation.has_body:
            return b""  # nothing the operation reads, so nothing to keep
        if name == admin.NAME or not isinstance(call.body, dict):
            return raw_body  # posted fixtures are state, secrets and all
        if not may_name_a_secret(raw_body):
            return raw_body
        kept, changed = _undeclared_secrets_out(call.body, operation.body_names)
        if not changed:
            return raw_body
        if (call.request.mimetype or "").lower() == "application/x-www-form-urlencoded":
            return urlencode(kept).encode()
        return orjson.dumps(kept, default=_json_default)

    def persist(request: Request, raw_body: bytes, at: datetime, seed: int, call: Call, response: Answer) -> Answer:
        try:
            mock.writes.append(as_record(request, raw_body, at, seed, call))
        except Unwritable as exc:
            log.error("could not make %s %s durable: %s", request.method, request.path, exc)
            mock.recover(None if name == admin.NAME else name)
            return _unavailable(current(), exc, request.path)
        mock.checkpoint_if_due()
        return response

    def _unavailable(provider: Provider, exc: Unwritable, path: str) -> Answer:
        error = ApiError(503, "service_unavailable", f"The mock could not make this change durable ({exc}); "
                                                     "nothing was changed.", headers={"Retry-After": "5"})
        return _error_response(provider, error, mock.runtime.request_ids.uuid(), None, path)

    def handle(request: Request, path_args: dict[str, str], call: Call) -> Answer:
        provider = current()
        started = time.perf_counter()
        request_id, replaying = call.request_id, call.replaying
        counted = None if replaying or name == admin.NAME or not mock.config.coverage else mock.coverage.watch()
        try:
            if call.who is not None:  # a replay: the change was authorised when it first ran
                provider.assume(call, call.who)
            else:
                provider.authenticate(call)
            if name != admin.NAME and not replaying:
                mock.faults.apply(name, operation.id, _tenant_of(call), request.environ.get(_FAULT_KEY))
            query = _query(request)
            undeclared = operation.undeclared_query(query)
            if undeclared and not ignores_query:
                operation.refuse_undeclared_query(undeclared)
            if undeclared:
                call.warn(_ignored("query parameter", undeclared, operation.id))
            found = operation.read_parameters(path_args, query, request.headers)
            call.path, call.query, call.headers = found["path"], found["query"], found["header"]
            if operation.has_body:
                call.body = _read_body(request, operation, call,
                                        "schema" if name == admin.NAME else "drop" if ignores_body else "refuse")
            reply = provider.dispatch(call)
        except ApiError as error:
            checked = None if isinstance(error, faults.InjectedFault) else operation
            if counted is not None and checked is None:
                counted.injected = True
            response = _error_response(provider, error, request_id, checked, request.path)
        except LedgerError as error:
            response = _error_response(provider, provider.ledger_error(error), request_id, operation,
                                       request.path)
        else:
            status, payload, headers = reply if len(reply) == 3 else (*reply, {})
            response = _json_response(status, payload, headers, operation)
        if call.warnings:
            response.headers.extend(("X-Ledger-Mock-Warning", _header_safe(w)) for w in _shown(call.warnings))
        tenant = _tenant_of(call)
        if counted is not None:
            mock.coverage.record(counted, name, tenant, operation.id, response.status_code, call.query, call.body,
                                 response.body)
        if not replaying:
            _account(mock, name, operation, request, call, response, started, tenant)
        return response

    return run


@lru_cache(maxsize=256)  # clients send the same few names on every request; a flood of new ones only churns it
def environ_key(header: str) -> str:
    """Where WSGI keeps a header (PEP 3333): `X-Client-Id` under HTTP_X_CLIENT_ID, Content-Type without HTTP_."""
    key = header.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key


_FAULT_KEY = environ_key(faults.HEADER)


def _query(request: Request) -> dict[str, list[str]]:
    """`request.args.to_dict(flat=False)`, parsed the way werkzeug parses it (invalid bytes stay percent-encoded),
    without building the MultiDict only to copy it out again."""
    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(request.query_string.decode(), keep_blank_values=True, errors="werkzeug.url_quote"):
        query.setdefault(key, []).append(value)
    return query


def _undeclared_secrets_out(value: Any, declared: frozenset[str]) -> tuple[Any, bool]:
    """`value` with what sits under a secret-looking name the schema does not declare replaced: no handler reads
    it, so the log has no reason to keep it."""
    if isinstance(value, dict):
        out, changed = {}, False
        for key, item in value.items():
            if key not in declared and SECRET.search(key):
                out[key], changed = REDACTED, True
            else:
                out[key], inner = _undeclared_secrets_out(item, declared)
                changed = changed or inner
        return out, changed
    if isinstance(value, list):
        pairs = [_undeclared_secrets_out(item, declared) for item in value]
        return [item for item, _ in pairs], any(changed for _, changed in pairs)
    if isinstance(value, int) and not -(1 << 63) <= value < 1 << 64:  # beyond what orjson writes: as sent
        return orjson.Fragment(str(value).encode()), False
    return value, False


def _tenant_of(call: Call) -> str | None:
    tenant = call.tenant if isinstance(call.tenant, str) else getattr(call.tenant, "id", None)
    return None if tenant is None else str(tenant)


def _account(mock: Mock, name: str, operation: Operation, request: Request, call: Call, response: Answer,
             started: float, tenant: str | None) -> None:
    """One structured log line per request, and the journal entry a failing CI job fetches."""
    elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
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
        "duration_ms": elapsed_ms, **({"warnings": call.warnings} if call.warnings else {})},
        Exchange.of_request(request.environ, call.raw_body, request.environ.get("CONTENT_TYPE")),
        Exchange.of(response.headers, response.body, Answer.content_type))


def _renderer(mock: Mock, path: str) -> Provider | None:
    if path == admin.PREFIX or path.startswith(admin.PREFIX + "/"):
        return mock.admin
    return mock.provider_at(path)


def _read_body(request: Request, operation: Operation, call: Call, undeclared: str) -> Any:
    raw = call.raw_body
    if not raw.strip():
        if operation.body_required:
            raise ApiError(400, "validation_error", "A JSON request body is required.")
        return None
    media_type = (request.mimetype or "").lower()
    if media_type not in operation.body_media_types:
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type must be {' or '.join(operation.body_media_types)}, not "
                       f"{excerpt(media_type) or 'missing'}.")
    if media_type == "application/x-www-form-urlencoded":  # OAuth token endpoints (RFC 6749 section 4)
        body: Any = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    elif media_type.endswith("yaml"):  # fixtures posted to the admin API
        body = read_yaml(raw)
    else:
        body = read_json(raw)
    call.ignored = operation.check_body(body, undeclared=undeclared)
    if call.ignored:
        call.warn(_ignored("body field", call.ignored, operation.id))
    return body


def _ignored(kind: str, names: list[str], operation_id: str, shown: int = 10) -> str:
    """One warning for all the names the client sent: a fuzzer's hundred fields are one bounded line."""
    listed = ", ".join(f"`{excerpt(n, 40)}`" for n in names[:shown])
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    one = len(names) == 1
    return (f"{kind}{'' if one else 's'} {listed}{more}: not read by {operation_id}; the provider ignores "
            f"{'it' if one else 'them'}")


def _shown(warnings: list[str], most: int = 40) -> list[str]:
    """The warnings sent as headers. Clients give up on a response with too many (Python's http.client past 100
    headers, Node past 16 KiB of them): 40 of at most 300 characters stay within both; the journal has them all."""
    if len(warnings) <= most:
        return warnings
    return [*warnings[:most - 1], f"{len(warnings) - most + 1} more warnings: see this request in /_mock/journal"]


def _header_safe(text: str, limit: int = 300) -> str:
    """A warning as a header value: printable ASCII, one line, bounded (names in it came from the client)."""
    text = "".join(c if " " <= c <= "~" else f"\\u{ord(c):04x}" for c in text)
    return text if len(text) <= limit else text[:limit] + "..."


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
