"""The contract harness, end to end, run as users run it (`ledger-mock contract ...` in a subprocess).

Clean: every provider, against a separately started `ledger-mock serve`, finds no drift. Drifted: the real
mock served from this test process with one thing broken must make the harness exit 1 and name the operation
and the difference in its report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests

from mock_server import providers
from mock_server.auth import hmac_signing
from mock_server.auth.oauth import TokenStore
from mock_server.ledger import Book
from mock_server.providers.aden import journal as aden_journal
from tests.conftest import provider

EXAMPLES = os.environ.get("LEDGER_MOCK_FUZZ_EXAMPLES", "8")


def cli(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "mock_server.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def served():
    """`ledger-mock serve` with every provider, rate limits off (a fuzz run is not a client to throttle)."""
    from tests.served import free_port
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "mock_server.cli", "serve", "--port", str(port),
                                "--no-rate-limit", "--log-level", "warning"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            requests.get(base + "/count/partners/tags", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    yield base
    process.terminate()
    process.wait(timeout=15)


def credentials_env(name, base):
    out = cli("credentials", "--provider", name, "--format", "env", "--base-url", base).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


@pytest.mark.parametrize("name", providers.names())
def test_every_provider_served_separately_has_no_drift(name, served, tmp_path):
    """Each provider's schemathesis suite through the harness: all default checks plus ours, stateful sequences
    along the spec's links, every request authenticated the way the provider requires."""
    result = cli("contract", "--provider", name, "--base-url", f"{served}/{name}", "--max-examples", EXAMPLES,
                 "--seed", "7", "--report", "drift.md", "--junit-xml", "junit.xml",
                 env=credentials_env(name, served), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    report = (tmp_path / "drift.md").read_text()
    assert "No drift" in report
    print(report[report.index("## Generated cases"):])  # cases per operation, for the record
    assert 'failures="0"' in (tmp_path / "junit.xml").read_text()


def test_default_target_is_an_in_process_mock_and_reports_are_written(tmp_path):
    result = cli("contract", "--provider", "count", "--include", "listTags", "--include", "createTag",
                 "--max-examples", "3", "--report", "drift.md", "--html-report", "drift.html",
                 "--junit-xml", "junit.xml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "No drift" in result.stdout and "/count" in result.stdout
    assert "| POST /partners/tags |" in (tmp_path / "drift.md").read_text()
    assert "No drift" in (tmp_path / "drift.html").read_text()
    assert "<testsuite" in (tmp_path / "junit.xml").read_text()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["drift.html", "drift.md", "junit.xml"]  # no .hypothesis


def test_missing_credentials_are_named():
    result = cli("contract", "--provider", "codat", "--base-url", "http://127.0.0.1:9/codat",
                 env={"LEDGER_MOCK_CODAT_API_KEY": ""})
    assert result.returncode == 2 and "LEDGER_MOCK_CODAT_API_KEY" in result.stderr


class Rewrite:
    """WSGI middleware: the mock with the JSON responses under one path changed."""

    def __init__(self, app, path_part, rewrite):
        self.app, self.path_part, self.rewrite = app, path_part, rewrite

    def __call__(self, environ, start_response):
        if self.path_part not in environ["PATH_INFO"]:
            return self.app(environ, start_response)
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
        body = b"".join(self.app(environ, capture))
        status, body = self.rewrite(environ["REQUEST_METHOD"], captured["status"], json.loads(body))
        payload = json.dumps(body).encode()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(status, headers + [("Content-Length", str(len(payload)))])
        return [payload]


def renamed(old, new):
    def rename(node):
        if isinstance(node, dict):
            return {(new if key == old else key): rename(value) for key, value in node.items()}
        return [rename(item) for item in node] if isinstance(node, list) else node
    return lambda method, status, body: (status, rename(body))


def created_as_200(method, status, body):
    return ("200 OK" if method == "POST" and status.startswith("201") else status), body


def non_authoritative(method, status, body):
    return ("203 Non-Authoritative Information" if method == "GET" and status.startswith("200") else status), body


def income_renamed(method, status, body):
    for row in (body.get("data") or {}).get("subTypes", []):
        if row["type"] == "Income":
            row["type"] = "Revenue"
    return status, body


def accept_any_token(monkeypatch):
    real = TokenStore.access
    monkeypatch.setattr(TokenStore, "access", lambda self, token, client_id=None: real(
        self, next(iter(self._by_access)), None))


def unbalanced_allowed(monkeypatch):
    monkeypatch.setattr(Book, "check_lines", lambda self, lines: None)
    monkeypatch.setattr(aden_journal, "check_balanced", lambda debits, credits: None)


def middleware(path_part, rewrite):
    return lambda app, monkeypatch: Rewrite(app, path_part, rewrite)


def patched(patch):
    return lambda app, monkeypatch: patch(monkeypatch) or app


# provider, kind of drift, how to plant it, operations to fuzz, operation the report must name, detail it must show
DRIFTS = [
    ("count", "renamed response field", middleware("/tags", renamed("name", "label")), ["listTags"],
     "GET /partners/tags", "label"),
    ("count", "changed status code", middleware("/tags", created_as_200), ["createTag"], "POST /partners/tags",
     "200"),
    ("count", "dropped enum value", middleware("/account-sub-types", income_renamed), ["listAccountSubTypes"],
     "GET /partners/account-sub-types", "Revenue"),
    ("count", "missing balance check", patched(unbalanced_allowed), ["listAccountSubTypes"],
     "POST /partners/journal-entries", "unbalanced"),
    ("count", "broken signature check", patched(lambda mp: mp.setattr(hmac_signing, "verify", lambda *a, **k: True)),
     ["listAccountSubTypes"], "GET /partners/chart-of-accounts", "signature"),
    ("intacct", "renamed response field", middleware("/general-ledger/account", renamed("href", "link")),
     ["listAccounts"], "GET /ia/api/v1/objects/general-ledger/account", "link"),
    ("intacct", "missing balance check", patched(unbalanced_allowed), ["listJournals"],
     "POST /ia/api/v1/workflows/general-ledger/journal-entry/submit", "unbalanced"),
    ("intacct", "broken token check", patched(accept_any_token), ["listJournals"],
     "GET /ia/api/v1/objects/general-ledger/account", "forged"),
    ("codat", "renamed response field", middleware("/companies", renamed("name", "companyName")),
     ["list-companies"], "GET /companies", "companyName"),
    ("codat", "changed status code", middleware("/companies", non_authoritative), ["list-companies"],
     "GET /companies", "203"),
    ("aden", "renamed response field", middleware("/accounts", renamed("account_name", "name")),
     ["listAccounts"], "GET /service/general-ledger/accounts", "account_name"),
    ("aden", "missing balance check", patched(unbalanced_allowed), ["listApprovalRules"],
     "POST /service/general-ledger/journal-entries", "unbalanced"),
]


@pytest.mark.parametrize("name, kind, plant, operations, operation, detail", DRIFTS,
                         ids=[f"{d[0]}: {d[1]}" for d in DRIFTS])
@pytest.mark.state_outside_the_api  # bends the provider to plant drift
def test_drift_is_reported_against_the_right_operation(name, kind, plant, operations, operation, detail, make_app,
                                                       live_server, monkeypatch, tmp_path):
    app = make_app(providers=(name,), validate_responses=False, frozen_time=None)
    creds = provider(app, name).credentials("")
    base = live_server(plant(app, monkeypatch)) + f"/{name}"
    args = ["contract", "--provider", name, "--base-url", base, "--max-examples", "3", "--no-stateful", "--seed", "1",
            "--report", "drift.md"]
    for op in operations:
        args += ["--include", op]
    env = {f"LEDGER_MOCK_{name.upper()}_{key.upper()}": value for key, value in creds.items()
           if isinstance(value, str)}
    result = cli(*args, env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    report = (tmp_path / "drift.md").read_text()
    section = report.split(f"## {operation}\n", 1)
    assert len(section) == 2, report[:3000]
    assert detail in section[1].split("\n## ", 1)[0], report[:3000]
    assert "Drift:" in result.stdout and operation in result.stdout
