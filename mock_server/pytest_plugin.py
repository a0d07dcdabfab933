"""pytest plugin: test your own client code against ledger-mock.

Installed with ledger-mock and registered through the `pytest11` entry point, so any project that has
ledger-mock installed gets these fixtures (nothing happens until a test asks for one):

    def test_posts_an_entry(ledger_mock_tenant, ledger_mock_clock, ledger_mock_faults):
        creds = ledger_mock_tenant("count")          # a fresh, isolated COUNT workspace for this test
        ledger_mock_clock.freeze("2025-01-31T12:00:00Z")
        ledger_mock_faults.add(provider="count", operation="createJournalEntry", status=503, times=1)
        my_client = MyClient(creds["base_url"], creds["client_id"], creds["client_secret"], creds["access_token"])
        ...

Where the mock runs:

* `--ledger-mock-url URL` (or `LEDGER_MOCK_URL`, or the `ledger_mock_url` ini key; in that order) points the
  fixtures at an already running `ledger-mock serve`; `--ledger-mock-admin-token` / `LEDGER_MOCK_ADMIN_TOKEN` /
  `ledger_mock_admin_token` is its admin token, when it has one.
* Otherwise one mock per test session is started in-process on a free loopback port (werkzeug's threaded
  server in a daemon thread; provider rate limits off; the embedded default fixtures) and stopped at the end.

At the end of a session that used these fixtures, a line per provider the tests exercised says how much of its
API they covered (`ledger-mock coverage` has the details); `--ledger-mock-coverage=FILE` writes the report
(`.json`, `.md`, `.html` or `.xml` for JUnit, by its suffix) and `--ledger-mock-cov-fail-under=N` fails the
session when a provider's coverage is under N percent.

Every helper talks HTTP to `ledger_mock.url` (the `/_mock` admin API, see openapi/admin.yaml), so tests behave
the same against either. The server's state is shared by the whole session: prefer `ledger_mock_tenant` (fresh
books per test) over the fixture tenants, and the function-scoped `ledger_mock_clock` / `ledger_mock_faults`,
which undo their changes after the test, over `ledger_mock.admin.clock` / `.faults`, which do not.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

import pytest

URL_ENV = "LEDGER_MOCK_URL"
TOKEN_ENV = "LEDGER_MOCK_ADMIN_TOKEN"


class LedgerMockError(RuntimeError):
    """An admin call the mock refused; `status` and `body` are its answer."""

    def __init__(self, method: str, path: str, status: int, body: Any):
        super().__init__(f"ledger-mock {method} {path} -> {status}: {body}")
        self.status, self.body = status, body


class Admin:
    """The `/_mock` admin API of one server: `clock`, `faults`, `reset()`, `journal()`, `tenant()`,
    `credentials()`, `coverage()`."""

    def __init__(self, url: str, token: str | None = None):
        import requests

        self.url = url.rstrip("/")
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"
        self.clock = Clock(self)
        self.faults = Faults(self)
        self._credentials: dict[str, dict[str, Any]] = {}

    def call(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        """One admin request (`path` under /_mock); the decoded JSON answer, or LedgerMockError."""
        response = self.http.request(method, f"{self.url}/_mock{path}", json=json, params=params, timeout=30)
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise LedgerMockError(method, path, response.status_code, body)
        return body

    def reset(self, provider: str | None = None) -> list[str]:
        """Put one provider, or all of them, back to the fixtures (all: ids restart, journal emptied)."""
        return self.call("POST", "/reset", {"provider": provider} if provider else None)["reset"]

    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        """Recent requests, newest first; filters: provider, tenant, operation, status, limit."""
        return self.call("GET", "/journal", params={k: v for k, v in filters.items() if v is not None})["entries"]

    def coverage(self, provider: str | None = None, tenant: str | None = None) -> dict[str, Any]:
        """What requests exercised of each provider's API since its last reset (GET /_mock/coverage)."""
        return self.call("GET", "/coverage", params={k: v for k, v in (("provider", provider), ("tenant", tenant))
                                                     if v is not None})

    def tenant(self, provider: str, name: str | None = None) -> dict[str, Any]:
        """A fresh, isolated tenant: credentials as `ledger-mock credentials --provider P` prints, plus `tenant`."""
        return self.call("POST", "/tenants", {"provider": provider, **({"name": name} if name else {})})

    def credentials(self, provider: str) -> dict[str, Any]:
        """The default fixtures' credentials for `provider` (assumes the server runs the embedded fixtures with
        providers under /<provider>). Its books are shared by every test: prefer `tenant()`."""
        if provider not in self._credentials:
            from .cli import provider_credentials

            self._credentials[provider] = provider_credentials(provider, self.url)
        return dict(self._credentials[provider])


def _iso(moment: datetime | str) -> str:
    return moment if isinstance(moment, str) else moment.isoformat()


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Clock:
    """The mock's clock (every provider reads it: token expiry, signature freshness, timestamps)."""

    def __init__(self, admin: Admin):
        self.admin = admin

    def state(self) -> dict[str, Any]:
        """`{"now": "...Z", "frozen": bool}` as the server reports it."""
        return self.admin.call("GET", "/clock")

    def now(self) -> datetime:
        """The mock's current time (timezone-aware UTC); sign COUNT requests with this, not time.time()."""
        return _parse(self.state()["now"])

    def _post(self, **body: Any) -> datetime:
        return _parse(self.admin.call("POST", "/clock", body)["now"])

    def freeze(self, at: datetime | str | None = None) -> datetime:
        """Stop the clock, at `at` (datetime or ISO 8601) or at the current mock time."""
        return self._post(frozen=True, **({"now": _iso(at)} if at is not None else {}))

    def unfreeze(self) -> datetime:
        """Let the clock run on from the current mock time."""
        return self._post(frozen=False)

    def set(self, at: datetime | str) -> datetime:
        """Move the clock to `at`, frozen or not."""
        return self._post(now=_iso(at))

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward (backward when negative)."""
        return self._post(advanceSeconds=seconds)


class Faults:
    """Injected faults: latency, forced errors in the provider's own error body, rate limits (FaultIn in
    openapi/admin.yaml: provider, operation, tenant, latency_ms, status, message, rate, limit, window_s, times)."""

    def __init__(self, admin: Admin):
        self.admin = admin

    def add(self, **rule: Any) -> str:
        """Add a rule; its id."""
        return self.admin.call("POST", "/faults", rule)["id"]

    def remove(self, fault_id: str) -> None:
        self.admin.call("DELETE", f"/faults/{fault_id}")

    def list(self) -> list[dict[str, Any]]:
        return self.admin.call("GET", "/faults")["faults"]

    def clear(self) -> None:
        """Remove every rule."""
        self.admin.call("DELETE", "/faults")


class LedgerMock:
    """The session's mock: `url` (the server root; providers under /<provider>) and `admin` helpers."""

    def __init__(self, url: str, admin_token: str | None = None):
        self.url = url.rstrip("/")
        self.admin_token = admin_token
        self.admin = Admin(self.url, admin_token)

    def __repr__(self) -> str:
        return f"LedgerMock({self.url!r})"


# -- options and fixtures -------------------------------------------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ledger-mock", "ledger-mock (test against the accounting API mock)")
    group.addoption("--ledger-mock-url", dest="ledger_mock_url", metavar="URL",
                    help=f"Use this running `ledger-mock serve` (else ${URL_ENV}, else one started in-process)")
    group.addoption("--ledger-mock-admin-token", dest="ledger_mock_admin_token", metavar="TOKEN",
                    help=f"Its admin token (else ${TOKEN_ENV})")
    group.addoption("--ledger-mock-coverage", dest="ledger_mock_coverage", metavar="FILE",
                    help="Write what the tests exercised of each provider's API here (.json, .md, .html, .xml)")
    group.addoption("--ledger-mock-cov-fail-under", dest="ledger_mock_cov_fail_under", metavar="N", type=float,
                    help="Fail the session when a provider the tests exercised is covered under N percent")
    parser.addini("ledger_mock_url", "URL of a running `ledger-mock serve` (else one is started in-process)")
    parser.addini("ledger_mock_admin_token", "Admin token of that server")


def _setting(config: pytest.Config, name: str, env: str) -> str | None:
    return config.getoption(name) or os.environ.get(env) or config.getini(name) or None


@pytest.fixture(scope="session")
def ledger_mock(pytestconfig: pytest.Config) -> Iterator[LedgerMock]:
    """The mock for this session: the running server given by --ledger-mock-url, or one started in-process."""
    url = _setting(pytestconfig, "ledger_mock_url", URL_ENV)
    if url:
        mock = LedgerMock(url, _setting(pytestconfig, "ledger_mock_admin_token", TOKEN_ENV))
        try:
            mock.admin.clock.state()  # fail here, with the reason, rather than in every test
        except LedgerMockError as exc:
            raise pytest.UsageError(f"ledger-mock at {url} refused the admin API: {exc}") from None
        except OSError as exc:
            raise pytest.UsageError(f"ledger-mock at {url} is not reachable: {exc}") from None
        yield mock
        _keep_coverage(pytestconfig, mock)
        return
    server, url = _start_in_process()
    try:
        mock = LedgerMock(url)
        yield mock
        _keep_coverage(pytestconfig, mock)
    finally:
        server.shutdown()
        server.server_close()


# -- client coverage ------------------------------------------------------------------------------------------

_COVERAGE = pytest.StashKey[dict]()
_SUFFIX_FORMATS = {".json": "json", ".md": "md", ".html": "html", ".htm": "html", ".xml": "junit"}


def _keep_coverage(config: pytest.Config, mock: LedgerMock) -> None:
    """The server's coverage report, fetched before an in-process server stops; reported at the session's end."""
    try:
        config.stash[_COVERAGE] = mock.admin.coverage()
    except (LedgerMockError, OSError) as exc:  # the tests' outcome stands; the summary says why it is missing
        config.stash[_COVERAGE] = {"error": str(exc), "providers": []}


def _exercised(report: dict) -> list[dict]:
    return [p for p in report.get("providers", []) if p["covered"]]


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    report = config.stash.get(_COVERAGE, None)
    if report is None:
        return
    target = config.getoption("ledger_mock_coverage")
    if target:
        from pathlib import Path

        from .coverage import render

        path = Path(target)
        path.write_text(render({**report, "providers": _exercised(report)},
                               _SUFFIX_FORMATS.get(path.suffix.lower(), "json")), encoding="utf-8")
    threshold = config.getoption("ledger_mock_cov_fail_under")
    if threshold is not None and session.exitstatus == 0:
        from .coverage import lowest

        if lowest(report) < threshold:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    report = config.stash.get(_COVERAGE, None)
    if report is None:
        return
    from .coverage import lowest, summary_line

    terminalreporter.section("ledger-mock client coverage")
    if report.get("error"):
        terminalreporter.write_line(f"not available: {report['error']}")
    for provider in _exercised(report):
        terminalreporter.write_line(summary_line(provider))
    target = config.getoption("ledger_mock_coverage")
    if target:
        terminalreporter.write_line(f"report written to {target}")
    threshold = config.getoption("ledger_mock_cov_fail_under")
    if threshold is not None and lowest(report) < threshold:
        terminalreporter.write_line(f"FAIL: coverage {lowest(report):.2f}% is under "
                                    f"--ledger-mock-cov-fail-under {threshold:g}%", red=True)


def _start_in_process() -> tuple[Any, str]:
    import logging
    import threading

    from werkzeug.serving import make_server

    from .app import create_app
    from .config import Config

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # an access line per request drowns failures
    app: dict[str, Any] = {}
    # Bind first (port 0: a free one), then build the app with the real address as its public base URL.
    server = make_server("127.0.0.1", 0, lambda environ, start: app["wsgi"](environ, start), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app["wsgi"] = create_app(Config(rate_limiting=False, public_base_url=url))
    threading.Thread(target=server.serve_forever, name="ledger-mock", daemon=True).start()
    return server, url


@pytest.fixture
def ledger_mock_tenant(ledger_mock: LedgerMock) -> Callable[..., dict[str, Any]]:
    """Factory: `ledger_mock_tenant("count", name=None)` -> a fresh isolated tenant's credentials, for this test
    (seeded like the first fixture tenant; no other test sees its books)."""
    return ledger_mock.admin.tenant


@pytest.fixture
def ledger_mock_clock(ledger_mock: LedgerMock) -> Iterator[Clock]:
    """The mock's clock for this test; afterwards it is frozen or running as before, at the time it would
    have shown had the test not touched it."""
    clock = Clock(ledger_mock.admin)
    before, started = clock.state(), time.monotonic()
    yield clock
    then, after = _parse(before["now"]), clock.state()
    if before["frozen"]:
        if after != before:
            clock.admin.call("POST", "/clock", {"frozen": True, "now": _iso(then)})
        return
    expected = then + timedelta(seconds=time.monotonic() - started)
    if after["frozen"] or abs(_parse(after["now"]) - expected) > timedelta(seconds=1):
        clock.admin.call("POST", "/clock", {"frozen": False, "now": _iso(expected)})


class _TestFaults(Faults):
    """Faults that remembers what this test added, to take exactly that away afterwards."""

    def __init__(self, admin: Admin):
        super().__init__(admin)
        self.added: list[str] = []

    def add(self, **rule: Any) -> str:
        fault_id = super().add(**rule)
        self.added.append(fault_id)
        return fault_id

    def undo(self) -> None:
        for fault_id in self.added:
            try:
                self.remove(fault_id)
            except LedgerMockError as exc:
                if exc.status != 404:  # a `times` rule retires itself, and clear() takes all
                    raise


@pytest.fixture
def ledger_mock_faults(ledger_mock: LedgerMock) -> Iterator[Faults]:
    """Fault rules for this test: `add(**rule) -> id`, `remove(id)`, `list()`, `clear()`; every rule added
    through it is removed after the test."""
    faults = _TestFaults(ledger_mock.admin)
    yield faults
    faults.undo()
