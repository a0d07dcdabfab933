"""The contract harness, end to end: clean against the mock, and catching each kind of drift we plant.

Each drifted target is the real mock served from this test process with one thing broken; the harness runs
as users run it (`ledger-mock contract ...` in a subprocess) and must exit 1 naming the operation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mock_server import providers
from mock_server.auth import hmac_signing
from mock_server.ledger import Book
from tests.conftest import provider

CLEAN_EXAMPLES = os.environ.get("LEDGER_MOCK_FUZZ_EXAMPLES", "8")


def contract(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "mock_server.cli", "contract", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, cwd=cwd, timeout=600)


@pytest.mark.parametrize("name", providers.names())
def test_clean_mock_has_no_drift_and_writes_reports(name, tmp_path):
    """The schemathesis suite of every provider, through the harness: all default checks plus ours, stateful
    sequences along the spec's links, every request authenticated as the provider requires."""
    result = contract("--provider", name, "--max-examples", CLEAN_EXAMPLES, "--report", "drift.md",
                      "--html-report", "drift.html", "--junit-xml", "junit.xml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = (tmp_path / "drift.md").read_text()
    assert "No drift" in report and "## Generated cases per operation" in report
    print(report[report.index("## Generated cases"):])  # cases per operation, for the record
    assert "<testsuite" in (tmp_path / "junit.xml").read_text()
    assert "No drift" in (tmp_path / "drift.html").read_text()


class Rewrite:
    """WSGI middleware: the mock, with its JSON responses on one path rewritten."""

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


def rename_tag_name(method, status, body):
    def fix(tag):
        tag["label"] = tag.pop("name")
    data = body.get("data")
    if isinstance(data, dict) and "name" in data:
        fix(data)
    for tag in (data or {}).get("tags", []) if isinstance(data, dict) else []:
        fix(tag)
    return status, body


def created_as_200(method, status, body):
    return ("200 OK" if method == "POST" and status.startswith("201") else status), body


def income_renamed(method, status, body):
    for row in (body.get("data") or {}).get("subTypes", []):
        if row["type"] == "Income":
            row["type"] = "Revenue"
    return status, body


DRIFTS = {
    "renamed response field": (lambda app, mp: Rewrite(app, "/tags", rename_tag_name), ["listTags", "createTag"],
                               "GET /partners/tags", "label"),
    "changed status code": (lambda app, mp: Rewrite(app, "/tags", created_as_200), ["createTag"],
                            "POST /partners/tags", "200"),
    "dropped enum value": (lambda app, mp: Rewrite(app, "/account-sub-types", income_renamed),
                           ["listAccountSubTypes"], "GET /partners/account-sub-types", "Revenue"),
    "missing balance check": (lambda app, mp: mp.setattr(Book, "check_lines", lambda self, lines: None) or app,
                              ["listAccounts"], "POST /partners/journal-entries", "unbalanced"),
    "broken signature check": (lambda app, mp: mp.setattr(hmac_signing, "verify", lambda *a, **k: True) or app,
                               ["listAccountSubTypes"], "GET /partners/chart-of-accounts", "signature"),
}


@pytest.mark.parametrize("kind", DRIFTS)
def test_drift_is_reported_against_the_right_operation(kind, make_app, live_server, monkeypatch, tmp_path):
    build, operations, operation, detail = DRIFTS[kind]
    app = make_app(validate_responses=False, frozen_time=None)
    creds = provider(app, "count").credentials("")
    base = live_server(build(app, monkeypatch)) + "/count"
    args = ["--provider", "count", "--base-url", base, "--max-examples", "3", "--no-stateful", "--seed", "1",
            "--report", "drift.md"]
    for op in operations:
        args += ["--include", op]
    env = {f"LEDGER_MOCK_COUNT_{k.upper()}": creds[k] for k in ("client_id", "client_secret", "access_token")}
    result = contract(*args, env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stdout[-3000:]
    report = (tmp_path / "drift.md").read_text()
    section = report.split(f"## {operation}\n", 1)
    assert len(section) == 2, report[:3000]
    assert detail in section[1].split("\n## ", 1)[0], report[:3000]
    assert "Drift:" in result.stdout and operation in result.stdout
