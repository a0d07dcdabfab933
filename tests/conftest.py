from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mock_server.app import create_app
from mock_server.config import Config

FROZEN = datetime(2025, 2, 15, 12, 0, tzinfo=UTC)
# The vendors' published specs, beside the checkout as CI lays it out (never copied into openapi/).
VENDOR_SPECS = Path(__file__).resolve().parents[2] / "shared" / "vendor-specs"


@pytest.fixture
def make_app():
    """Apps validate every response against their spec (strict), start at a frozen time, and have rate
    limits off unless a test turns them on."""
    def make(**overrides):
        settings = {"frozen_time": FROZEN, "validate_responses": True, "rate_limiting": False, **overrides}
        return create_app(Config(**settings))
    return make


@pytest.fixture
def app(make_app):
    return make_app()


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
