"""Application factory: the mock's state (mock.Mock), one pipeline per operation of each provider's spec and of
the admin API (pipeline.py), Flask for the inspector and the unknown routes."""

from __future__ import annotations

from typing import Callable

from flask import Flask, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from . import admin, providers, ui
from .config import Config
from .fixtures import load_fixtures
from .mock import Mock
from .pipeline import LARGE_BODIES, Answer, Front, http_error, pipeline, unexpected
from .providers import Provider
from .routes import Routes
from .spec import Spec


def create_app(config: Config | None = None) -> Flask:
    config = config or Config()
    app = Flask("ledger_mock")
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    mock = app.extensions["ledger_mock"] = create_mock(config)

    routes, pipelines, limits = Routes(), {}, {}

    def mount(prefix: str, name: str, spec: Spec, current: Callable[[], Provider]) -> None:
        for operation in spec.operations.values():
            endpoint = f"{name}.{operation.id}"
            routes.add(prefix + operation.path, operation.method, endpoint, operation.greedy)
            pipelines[endpoint] = pipeline(mock, name, current, operation)
            limits[endpoint] = config.max_import_bytes if (name, operation.id) in LARGE_BODIES \
                else config.max_body_bytes

    for prefix, name in mock.mounts.items():
        mount(prefix, name, mock.specs[name], lambda name=name: mock.providers[name])
    mount(admin.PREFIX, admin.NAME, mock.admin.spec, lambda: mock.admin)
    ui.mount(app, mock)

    def refuse(exc: HTTPException):
        if exc.code == 404 and mock.mount_at(request.path) is None and not request.path.startswith(admin.PREFIX):
            return _missed_prefix(mock, routes, request.path, request.method)  # outside every provider
        return http_error(mock, request.path, exc.code or 500, getattr(exc, "valid_methods", None))

    app.register_error_handler(HTTPException, refuse)
    app.register_error_handler(Exception, lambda exc: unexpected(mock, request))
    mock.front = app.wsgi_app = Front(mock, app.wsgi_app, routes, pipelines, limits)  # Flask's place for middleware

    mock.replay(mock.pending)  # last: replaying serves requests, so the app must be complete
    mock.pending = []
    mock.checkpoint_if_due()  # a long replay now is a long restart next time
    return app


def create_mock(config: Config) -> Mock:
    """The books and the admin API without an app: building an app compiles its routes with `ast.parse`, which
    CPython 3.11 cannot run on two threads at once (SystemError "AST constructor recursion depth mismatch",
    gh-106905), and clients ask for credentials (`cli.provider_credentials`) from threads of their own."""
    selected = config.providers or tuple(providers.names())
    unknown = {name for name in selected if not providers.is_provider(name)} | (
        {config.root_provider} - set(selected) if config.root_provider else set())
    if unknown:
        raise ValueError(f"unknown provider(s): {', '.join(sorted(unknown))}; "
                         f"available: {', '.join(providers.names())}")
    mock = Mock(config, tuple(selected), load_fixtures(config.fixtures, (*selected, admin.NAME)))
    mock.admin = admin.Admin(mock)
    return mock


def _missed_prefix(mock: Mock, routes: Routes, path: str, method: str) -> Answer:
    """A 404 for a path under no provider's mount, naming the path a client most likely meant: its own path
    under the mount where it is a route, else under the mount whose spec has paths starting like it."""
    import orjson

    def route(candidate: str) -> bool:
        try:
            routes.match(candidate, method)
        except MethodNotAllowed:
            return True
        except NotFound:
            return False
        return True

    first = "/" + path.lstrip("/").split("/", 1)[0]
    guess = next((prefix + path for prefix in mock.mounts if route(prefix + path)), None) or next(
        (prefix + path for prefix, name in mock.mounts.items() if first != "/" and any(
            op.path == first or op.path.startswith(first + "/") for op in mock.specs[name].operations.values())),
        None)
    body = {"error": "not_found", "message": f"No route {path} on this server: every provider is served under its "
                                              f"own prefix ({', '.join(mock.mounts)}); GET / lists them."}
    if guess:
        body["hint"] = f"did you mean {guess}?"
    return Answer(404, orjson.dumps(body), {})
