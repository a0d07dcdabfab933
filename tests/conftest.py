from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mock_server.app import create_app
from mock_server.config import Config


@pytest.fixture(scope="session", autouse=True)
def no_running_server_is_found(tmp_path_factory):
    """`ledger-mock credentials` looks for the last `serve` on this machine: the tests' own servers record
    themselves in a folder of the session's, and none a developer left running is found."""
    saved = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "XDG_CACHE_HOME", "LEDGER_MOCK_URL")}
    here = tmp_path_factory.mktemp("xdg")
    os.environ.update(XDG_RUNTIME_DIR=str(here / "run"), XDG_CACHE_HOME=str(here / "cache"))
    os.environ.pop("LEDGER_MOCK_URL", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


FROZEN = datetime(2025, 2, 15, 12, 0, tzinfo=UTC)
# The vendors' published specs, beside the checkout as CI lays it out (never copied into openapi/).
VENDOR_SPECS = Path(__file__).resolve().parents[2] / "shared" / "vendor-specs"


# The files whose tests take longest, longest first: run before the rest, so both workers are busy to the end
# rather than one finishing a contract run alone (worksteal splits the collection in two and steals from the
# ends of the queues). Whole files move, in their own order: module fixtures are still set up once. Not
# tests/test_contract_limits.py: it needs the harness to send 30 requests in a second, which it may not do
# beside a contract run.
LONGEST_FIRST = ("tests/test_contract.py", "tests/test_hostile.py", "tests/test_fidelity.py",
                 "tests/test_persistence.py", "tests/test_pytest_plugin.py")


def pytest_collection_modifyitems(items):
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


def pytest_configure(config):
    config.addinivalue_line("markers", "state_outside_the_api: the test changes a mock's state directly, not over "
                                       "HTTP, so its write log cannot rebuild that state (no replay check)")


@pytest.fixture
def make_app(request, tmp_path_factory):
    """Apps validate every response against their spec (strict), start at a frozen time, and have rate
    limits off unless a test turns them on.

    Every app keeps a write log, and when the test ends a second app is built from that log alone: it must hold
    exactly the state the first one ended with (tests/snapshot.py compares everything the providers hold). So
    every change any test makes through the API also proves that the log replays to what was acknowledged.
    Apps checkpoint every 100 changes; when one did, a third app starts from its last checkpoint and the log after
    it, and must hold that state too."""
    made = []

    def make(**overrides):
        settings = {"frozen_time": FROZEN, "validate_responses": True, "rate_limiting": False,
                    "checkpoint_every": 100, **overrides}
        if "state_file" not in overrides:
            settings["state_file"] = tmp_path_factory.mktemp("state") / "state.log"
        app = create_app(Config(**settings))
        if "state_file" not in overrides:
            made.append((app, settings))
        return app
    yield make
    if request.node.get_closest_marker("state_outside_the_api") or not _passed(request):
        return
    from tests.snapshot import differences, state_of

    for app, settings in made:
        lived = state_of(app)
        # Other settings than the app's, so its checkpoint (if any) is not used: the whole log is replayed.
        rebuilt = state_of(create_app(Config(**{**settings, "rate_limiting": not settings["rate_limiting"]})))
        found = differences(lived, rebuilt)
        assert not found, "the write log does not rebuild the state:\n" + "\n".join(found[:20])
        checkpoints = app.extensions["ledger_mock"].checkpoints
        checkpoints.wait()
        if checkpoints.path.exists():
            resumed = state_of(create_app(Config(**settings)))
            found = differences(lived, resumed)
            assert not found, "the checkpoint and the log after it do not rebuild the state:\n" + "\n".join(
                found[:20])


def _passed(request) -> bool:
    report = getattr(request.node, "rep_call", None)
    return report is not None and report.passed


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def app(make_app):
    return make_app()


def advance(app, seconds):
    """Move the mock clock as a user would, through the admin API (so the write log has it too)."""
    moved = app.test_client().post("/_mock/clock", json={"advanceSeconds": seconds})
    assert moved.status_code == 200, moved.get_json()


def runtime(app):
    return app.extensions["ledger_mock"].runtime


def provider(app, name):
    return app.extensions["ledger_mock"].providers[name]


@pytest.fixture
def live_server():
    """Serve an app over real HTTP on a free loopback port (for SDKs and clients that need a socket)."""
    import logging
    import threading

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access line per request drowns failures

    servers = []

    def start(app):
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
