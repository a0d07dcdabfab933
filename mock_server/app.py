"""Application factory: one Flask route per operation of each provider's spec, one request pipeline for all.

    auth (provider) -> parameters and body (compiled validators) -> handler -> JSON in the provider's envelope

Every failure on the way, including Flask's own 404/405/413, is rendered by the provider whose mount the
path falls under, so clients never see an HTML error page.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from typing import Any, Mapping
from urllib.parse import parse_qsl

import orjson
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from . import data_dir
from .clock import Clock, IdGenerator
from .config import Config
from .errors import ApiError
from .fixtures import load_fixtures
from .ledger import LedgerError
from . import providers
from .providers import Call, Provider, Runtime
from .spec import Operation, Spec, check_handlers, read_json

log = logging.getLogger("ledger_mock")

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


def create_app(config: Config | None = None) -> Flask:
    config = config or Config()
    app = Flask("ledger_mock")
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.url_map.converters["not_one_of"] = _NotOneOf
    runtime = Runtime(config, Clock(config.frozen_time), IdGenerator(config.seed),
                      IdGenerator(None if config.seed is None else config.seed + 1))
    found = providers.names()
    selected = config.providers or tuple(found)
    unknown = set(selected) - set(found) | ({config.root_provider} - set(selected) if config.root_provider else set())
    if unknown:
        raise ValueError(f"unknown provider(s): {', '.join(sorted(unknown))}; available: {', '.join(found)}")
    fixtures = load_fixtures(config.fixtures, selected)

    mounts: dict[str, Provider] = {}
    for name in selected:
        provider = providers.load(name)(runtime, fixtures.get(name) or {})
        spec = Spec(data_dir("openapi") / provider.spec_file, validate_responses=config.validate_responses)
        check_handlers(spec, provider.handlers, name)
        provider.spec = spec
        prefix = "" if name == config.root_provider else f"/{name}"
        mounts[prefix] = provider
        rules = spec.flask_rules()
        for operation in spec.operations.values():
            app.add_url_rule(prefix + rules[operation.path], endpoint=f"{name}.{operation.id}",
                             view_func=_view(provider, operation), methods=[operation.method],
                             provide_automatic_options=False)

    app.extensions["ledger_mock"] = {"runtime": runtime, "providers": {p.name: p for p in mounts.values()},
                                     "mounts": mounts}

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        provider = _provider_for(mounts, request.path)
        headers = {"Allow": ", ".join(sorted(exc.valid_methods))} if getattr(exc, "valid_methods", None) else {}
        message = {404: "Route not found.", 405: "Method not allowed."}.get(exc.code or 500, exc.description)
        error = ApiError(exc.code or 500, _HTTP_CODES.get(exc.code or 500, "error"), message, headers=headers)
        return _error_response(provider, error, runtime.request_ids.uuid(), None)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        error = ApiError(500, "internal_error", "Something went wrong.")
        return _error_response(_provider_for(mounts, request.path), error, runtime.request_ids.uuid(), None)

    return app


class _NotOneOf(BaseConverter):
    """A path segment that is anything but the given static names (see Spec.flask_rules)."""

    def __init__(self, url_map: Any, *excluded: str):
        super().__init__(url_map)
        self.regex = "(?!(?:%s)$)[^/]+" % "|".join(re.escape(word) for word in excluded)


def _view(provider: Provider, operation: Operation):
    runtime = provider.runtime

    def view(**path_args: str) -> Response:
        request_id = runtime.request_ids.uuid()
        try:
            call = Call(operation, request, request_id, request.get_data(cache=True))
            provider.authenticate(call)
            found = operation.read_parameters(path_args, request.args.to_dict(flat=False), request.headers)
            call.path, call.query, call.headers = found["path"], found["query"], found["header"]
            if operation.has_body:
                call.body = _read_body(operation, call.raw_body)
            reply = provider.dispatch(call)
        except ApiError as error:
            return _error_response(provider, error, request_id, operation)
        except LedgerError as error:
            return _error_response(provider, provider.ledger_error(error), request_id, operation)
        status, payload, headers = reply if len(reply) == 3 else (*reply, {})
        return _json_response(status, payload, headers, operation)

    view.__name__ = f"{provider.name}_{operation.id}"
    return view


def _read_body(operation: Operation, raw: bytes) -> Any:
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
    else:
        body = read_json(raw)
    operation.check_body(body)
    return body


def _error_response(provider: Provider | None, error: ApiError, request_id: str,
                    operation: Operation | None) -> Response:
    if provider is None:
        payload = {"error": error.code, "message": error.message}
    else:
        payload = provider.render_error(error, request_id)
    return _json_response(error.status, payload, error.headers, operation)


def _json_response(status: int, payload: Any, headers: Mapping[str, str], operation: Operation | None) -> Response:
    if operation is not None and operation.response_validators:
        problem = operation.response_problem(status, payload)
        if problem:
            log.error("%s broke its own spec: %s", operation.id, problem)
            payload, status = {"error": "response_violates_spec", "message": problem}, 500
    return Response(orjson.dumps(payload, default=_json_default), status=status, headers=headers,
                    mimetype="application/json")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value).encode())  # exact digits, never through float
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _provider_for(mounts: Mapping[str, Provider], path: str) -> Provider | None:
    best = None
    for prefix, provider in mounts.items():
        if (path == prefix or path.startswith(prefix + "/") or prefix == "") and (
                best is None or len(prefix) > len(best[0])):
            best = (prefix, provider)
    return best[1] if best else None
