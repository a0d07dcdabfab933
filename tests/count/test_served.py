"""`ledger-mock serve` as a user runs it, exercised by a client written only from COUNT's public signing docs.

The client below follows COUNT's documented recipe (dossier section 10), not this project's signer: an
axios-style base URL ending in /partners, request paths with a leading slash resolved against it (so the
signed pathname loses /partners), Unix seconds, the hex SHA-256 of JSON.stringify(data) for bodies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import subprocess
import sys
import time
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from mock_server.cli import provider_credentials
from tests.served import Served


class DocsClient:
    def __init__(self, base_url, client_id, secret, token):
        self.base_url, self.client_id, self.secret, self.token = base_url, client_id, secret, token

    def call(self, method, path, data=None, token=None):
        body = json.dumps(data, separators=(",", ":")) if data is not None else ""
        pathname = urlsplit(urljoin(self.base_url, path)).path
        body_hash = hashlib.sha256(body.encode()).hexdigest() if method in ("POST", "PUT", "PATCH") and body else ""
        timestamp = str(int(time.time()))
        signature = hmac.new(self.secret.encode(), f"{method}:{pathname}:{timestamp}:{body_hash}".encode(),
                             hashlib.sha256).hexdigest()
        headers = {"x-client-id": self.client_id, "x-timestamp": timestamp, "x-signature": signature,
                   "Authorization": f"Bearer {self.token if token is None else token}"}
        if body:
            headers["Content-Type"] = "application/json"
        return requests.request(method, self.base_url + path, data=body.encode() or None, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def server():
    with Served("--providers", "count") as served:
        yield served.process, served.base


def test_docs_client_signs_a_percent_encoded_pathname(server):
    """`new URL(...).pathname` keeps the percent-encoding the request carries; granian hands the app only the
    decoded path, and the mock re-encodes it as the URL parser did (mock_server.auth.hmac_signing.wire_path).
    Runs before the rate-limit test below, which uses up the minute's budget."""
    process, base = server
    creds = provider_credentials("count", base)
    client = DocsClient(creds["base_url"], creds["client_id"], creds["client_secret"], creds["access_token"])
    missing = client.call("DELETE", "/journal-entries/caf%C3%A9%20x")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found"), missing.text


def test_docs_client_lists_creates_reads_back_and_gets_count_errors(server):
    process, base = server
    creds = provider_credentials("count", base)
    client = DocsClient(creds["base_url"], creds["client_id"], creds["client_secret"], creds["access_token"])

    accounts = client.call("GET", "/chart-of-accounts").json()["data"]["accounts"]
    rent = next(a["id"] for a in accounts if a["name"] == "Rent Expense")
    accrued = next(a["id"] for a in accounts if a["name"] == "Accrued Liabilities")

    created = client.call("POST", "/journal-entries", {
        "descriptionEntry": "Accrue March rent", "date": "2025-03-31", "refNumber": "DOCS-1",
        "lines": [{"accountUuid": rent, "amountDebit": "4500.00"}, {"accountUuid": accrued, "amountCredit": 4500}]})
    assert created.status_code == 201, created.text
    listed = client.call("GET", "/journal-entries?search=DOCS-1").json()["data"]["journalEntries"]
    assert listed == [created.json()["data"]]

    unbalanced = client.call("POST", "/journal-entries", {
        "descriptionEntry": "x", "date": "2025-03-31",
        "lines": [{"accountUuid": rent, "amountDebit": "1.00"}, {"accountUuid": accrued, "amountCredit": "2.00"}]})
    assert (unbalanced.status_code, unbalanced.json()["error"]) == (400, "unbalanced_entry")
    expired = client.call("GET", "/tags", token="not-a-token")
    assert (expired.status_code, expired.json()["error"]) == (401, "invalid_token")
    missing = client.call("DELETE", "/journal-entries/00000000-0000-4000-8000-000000000000")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")

    statuses = [client.call("GET", "/tags").status_code for _ in range(100)]
    assert statuses[-1] == 429 and statuses.count(429) >= 1  # 100 per minute per client, counting the calls above
    limited = client.call("GET", "/tags")
    assert limited.json()["type"] == "RATE_LIMITED" and int(limited.headers["Retry-After"]) >= 1


def test_sign_command_prints_a_working_curl(server):
    _, base = server
    out = subprocess.run([sys.executable, "-m", "mock_server.cli", "sign", "GET",
                          f"{base}/count/partners/account-sub-types"], capture_output=True, text=True, check=True)
    headers = dict(line.split(": ", 1) for line in out.stdout.strip().splitlines())
    assert set(headers) == {"x-client-id", "x-timestamp", "x-signature", "Authorization"}
    response = requests.get(f"{base}/count/partners/account-sub-types", headers=headers, timeout=10)
    assert response.status_code in (200, 429)  # the docs client above may have used up this minute's quota
    assert response.json()["status"] == ("success" if response.status_code == 200 else "error")


def test_sigterm_shuts_down_cleanly(server):
    process, base = server
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(base + "/count/partners/tags", timeout=1)


def test_credentials_command_prints_json_and_env():
    out = subprocess.run([sys.executable, "-m", "mock_server.cli", "credentials", "--provider", "count",
                          "--format", "json"], capture_output=True, text=True, check=True)
    creds = json.loads(out.stdout)
    assert creds["base_url"] == "http://127.0.0.1:8080/count/partners"
    assert {"client_id", "client_secret", "access_token", "refresh_token", "workspace_id"} <= set(creds)
    env = subprocess.run([sys.executable, "-m", "mock_server.cli", "credentials", "--provider", "count",
                          "--format", "env", "--root"], capture_output=True, text=True, check=True).stdout
    assert "LEDGER_MOCK_COUNT_BASE_URL=http://127.0.0.1:8080/partners" in env.splitlines()
