"""Providers. A built-in one is a package here exposing `PROVIDER`, a `Provider` subclass, with its spec and
departures ledger in openapi/ and its fixtures in fixtures/. Any installed distribution adds one through the entry
point group `ledger_mock.providers` (name = the provider's name, value = a module exposing `PROVIDER`, or the
class itself), keeping its files under its class's `home`. docs/plugins.md describes the interface.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping

from werkzeug.wrappers import Request

from .. import data_dir
from ..clock import Clock, IdGenerator
from ..config import Config
from ..errors import ApiError, validation_error
from ..ledger import LedgerError
from ..spec import Operation, Spec

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint


@dataclass
class Runtime:
    """What every provider shares: configuration, the clock and the id generators."""

    config: Config
    clock: Clock
    ids: IdGenerator
    request_ids: IdGenerator


@dataclass
class Call:
    """One request as a handler sees it: validated parameters and body, plus who is calling."""

    operation: Operation
    request: Request
    request_id: str
    raw_body: bytes
    path: dict[str, Any] = field(default_factory=dict)  # as in the URL until the parameters are read
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    tenant: Any = None  # set by the provider's authenticate()
    principal: Any = None
    replaying: bool = False  # a recorded change run again (start, reset, import): checked when it first ran
    who: dict[str, Any] | None = None  # for a replay: who made the change (Provider.who), instead of credentials
    own_record: Callable[[], dict[str, Any]] | None = None  # this request as the write log keeps it
    strict: bool = False  # `serve --strict`: what the provider would ignore is refused instead
    warnings: list[str] = field(default_factory=list)  # sent back in X-Ledger-Mock-Warning headers
    ignored: list[str] = field(default_factory=list)  # body fields the provider ignores, dropped from `body`

    def warn(self, message: str) -> None:
        """Tell the client about something the real provider would silently ignore; under --strict, refuse the
        request instead (a 400), so call it before changing anything."""
        if self.strict:
            raise validation_error(f"{message} (refused: the mock runs with --strict).")
        if len(self.warnings) < MAX_WARNINGS:  # the journal keeps them: bounded like everything it keeps
            self.warnings.append(message)


MAX_WARNINGS = 200
Reply = tuple  # (status, payload) or (status, payload, headers)


@dataclass(frozen=True)
class Tenant:
    """A tenant as the operator sees it (inspector, admin API): whatever the provider calls it, it has books."""

    id: str
    name: str
    book: Any  # ledger.Book


def handles(operation_id: str) -> Callable[[Callable], Callable]:
    """Marks a Provider method as the handler of one spec operation."""
    def mark(method: Callable) -> Callable:
        method.operation_id = operation_id  # type: ignore[attr-defined]
        return method
    return mark


class FixturesLack(LookupError):
    """The fixtures define nothing to do this from (no token to give as credentials, no tenant to seed a new one
    like): the admin API answers 409 with the message, the command line prints it."""


class Provider:
    name: ClassVar[str]
    spec_file: ClassVar[str]  # file name under openapi/
    # A plug-in's folder holding openapi/<spec_file>, openapi/<name>.fidelity.yaml and fixtures/<name>.yaml;
    # None for the built-in providers, whose files are the project's openapi/ and fixtures/.
    home: ClassVar[Path | None] = None
    handlers: ClassVar[dict[str, str]] = {}  # operationId -> method name, filled from @handles
    spec: Spec  # set when the app mounts the provider

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # From every class it is made of, so a provider may keep its handlers in mixins by resource (COUNT does).
        cls.handlers = {fn.operation_id: name for klass in reversed(cls.__mro__) for name, fn in vars(klass).items()
                        if hasattr(fn, "operation_id")}

    def __init__(self, runtime: Runtime, fixtures: Mapping[str, Any]):
        self.runtime = runtime
        self.clock = runtime.clock
        self.ids = runtime.ids

    def authenticate(self, call: Call) -> None:
        """Check credentials for `call.operation.security`, setting call.tenant; raise ApiError to refuse."""
        raise NotImplementedError

    def render_error(self, error: ApiError, request_id: str, path: str) -> dict[str, Any]:
        """The provider's own error body for `error`, answering a request for `path`."""
        raise NotImplementedError

    def who(self, call: Call) -> dict[str, Any]:
        """Who an authenticated call is, as plain data and without credentials (ids of the tenant and of the
        caller): the write log keeps this instead of the credentials, and a replay `assume`s it."""
        return {}

    def assume(self, call: Call, who: dict[str, Any]) -> None:
        """Set `call.tenant` and `call.principal` from what `who` gave, as authenticate() did when it first
        ran; raise ApiError when they no longer exist."""

    def ledger_error(self, error: LedgerError) -> ApiError:
        """How a broken ledger rule reaches the wire; a 400 named after the rule unless overridden."""
        return ApiError(400, error.code, error.message)

    def credentials(self, base_url: str) -> dict[str, Any]:
        """Ready-to-use credentials of the default fixtures, for scripts and people; FixturesLack when they
        define none usable."""
        raise NotImplementedError

    def tenants(self) -> list[Tenant]:
        """Every tenant with its books, for the inspector and the admin API."""
        raise NotImplementedError

    def create_tenant(self, base_url: str, name: str | None = None) -> dict[str, Any]:
        """A fresh tenant, isolated from every other, seeded like the fixtures' first one (its chart of accounts
        and reference data), with new credentials for it in the shape `credentials()` returns, plus `tenant`
        (the id the journal and the inspector use for it). FixturesLack, before anything changes, when the
        fixtures define nothing to seed it like."""
        raise NotImplementedError

    def swap_tenant(self, tenant: str, other: Provider) -> None:
        """Exchange tenant `tenant`'s state with `other`'s, a provider of this class built from the same fixtures
        (plus the tenant's creation) that holds the tenant as it began: how one tenant is reset without replaying
        every other tenant's history. It must move everything a request made as that tenant can change (what
        the write log files under the tenant) and nothing else; calling it twice puts both back. A provider
        without it has the whole provider rebuilt on a tenant reset."""
        raise NotImplementedError

    def settle(self) -> None:
        """Bring work that completes on the mock clock (Codat's pending pushes) up to now, as any read would.
        For readers outside the API: the inspector, and tests comparing states."""

    def dispatch(self, call: Call) -> Reply:
        return getattr(self, self.handlers[call.operation.id])(call)

    @classmethod
    def files(cls, kind: str) -> Path:
        """Where this provider's `openapi` or `fixtures` files are."""
        return cls.home / kind if cls.home is not None else data_dir(kind)

    @classmethod
    def spec_path(cls) -> Path:
        return cls.files("openapi") / cls.spec_file


ENTRY_POINTS = "ledger_mock.providers"


@dataclass(frozen=True)
class Source:
    """Where a provider comes from: `module` (or `module:Class`) and the distribution that installed it."""

    name: str
    target: str
    origin: str  # "built-in", or "<distribution> <version>"


@lru_cache(maxsize=None)
def built_in() -> dict[str, Source]:
    return {info.name: Source(info.name, f"{__name__}.{info.name}", "built-in")
            for info in pkgutil.iter_modules(__path__) if info.ispkg}


@lru_cache(maxsize=None)
def sources() -> dict[str, Source]:
    """Every provider, built-in first, without importing any (a server for one provider loads only that one).
    A plug-in cannot take a built-in provider's name: it is left out (`ledger-mock providers` says so).
    Reading the installed distributions' entry points costs tens of milliseconds of start-up, so what asks only
    about built-in providers (`serve --providers count`) never does (`is_provider`, `load`)."""
    found = dict(built_in())
    for point in plugin_entry_points():
        found.setdefault(point.name, Source(point.name, point.value, origin(point)))
    return dict(sorted(found.items()))


def is_provider(name: str) -> bool:
    return name in built_in() or name in sources()


def plugin_entry_points() -> list[EntryPoint]:
    from importlib.metadata import entry_points  # a twentieth of a second of start-up: only when asked

    return sorted(entry_points(group=ENTRY_POINTS), key=lambda point: point.name)


def origin(point: EntryPoint) -> str:
    dist = point.dist
    return f"{dist.name} {dist.version}" if dist is not None else "an entry point"


def names() -> list[str]:
    return list(sources())


def load(name: str) -> type[Provider]:
    source = built_in().get(name) or sources()[name]
    module, _, attribute = source.target.partition(":")
    loaded = importlib.import_module(module)
    provider = getattr(loaded, attribute or "PROVIDER", None)
    if not (isinstance(provider, type) and issubclass(provider, Provider)):
        raise LookupError(f"{source.target} ({source.origin}) exposes no Provider subclass as "
                          f"{attribute or 'PROVIDER'}")
    return provider
