"""`ledger-mock proxy` (issue 18, item 1), run as users run it: a client's own traffic, sent as each provider's
docs describe it, goes through the proxy to a target, and comes back unchanged.

The target is a `ledger-mock serve` standing in for the real provider: with the clean one, nothing is found; with
one bent the way tests/test_contract.py bends mocks (a response rewritten, a status changed), the reports name
the operation and the difference. COUNT's HMAC signatures verify through the proxy, reports are written when it is
stopped, and no secret reaches the journal, the page or the reports.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import provider
from tests.served import Served, free_port
from tests.test_contract import Rewrite, created_as_200, non_authoritative, renamed

ROOT = Path(__file__).resolve().parents[1]
TODAY = time.strftime("%Y-%m-%d")
MISSING = "00000000-0000-4000-8000-00000000dead"


class Proxy:
    """`ledger-mock proxy` in a process of its own, with every report asked for and the drift header on."""

    def __init__(self, name: str, target: str, folder: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.reports = {"md": folder / "drift.md", "html": folder / "drift.html", "xml": folder / "junit.xml"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mock_server.cli", "proxy", "--provider", name, "--target", target, "--port",
             str(self.port), "--report", str(self.reports["md"]), "--html-report", str(self.reports["html"]),
             "--junit-xml", str(self.reports["xml"]), "--drift-header"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(self.base + "/_proxy/journal", timeout=1)
                break
            except requests.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.process.kill()
                    pytest.fail(f"the proxy did not start: {self.process.stdout.read().decode()}")
                time.sleep(0.05)

    def journal(self) -> list[dict]:
        return requests.get(self.base + "/_proxy/journal?limit=500", timeout=10).json()

    def stop(self, how: int = signal.SIGTERM) -> tuple[int, str]:
        if self.process.poll() is None:
            os.killpg(self.process.pid, how)
        code = self.process.wait(timeout=15)
        return code, self.process.stdout.read().decode()

    def read(self, kind: str) -> str:
        return self.reports[kind].read_text()


@pytest.fixture
def proxied(tmp_path):
    started = []

    def start(name: str, target: str) -> Proxy:
        started.append(Proxy(name, target, tmp_path))
        return started[-1]
    yield start
    for proxy in started:
        proxy.stop()


@pytest.fixture(scope="module")
def clean():
    """The "real provider": `ledger-mock serve` with every provider, untouched."""
    with Served("--no-rate-limit") as served:
        yield served.base


def credentials(target: str, name: str) -> dict:
    return requests.get(f"{target.rsplit('/', 1)[0]}/_mock/credentials", params={"provider": name}, timeout=10).json()


# -- each provider's client, as its docs describe the calls ---------------------------------------------------

def count_client(base: str, creds: dict):
    """COUNT: `x-client-id`, `x-timestamp` and `x-signature` = hex HMAC-SHA256 with the client secret over
    `METHOD:path:timestamp:sha256(body)` (the path after `/partners`, the body hash empty without a body), plus
    the OAuth bearer token."""
    http = requests.Session()

    def send(method: str, path: str, body: dict | None = None, *, signed_body: bytes | None = None):
        raw = b"" if body is None else json.dumps(body).encode()
        stamp = str(int(time.time()))
        hashed = signed_body if signed_body is not None else raw
        digest = hashlib.sha256(hashed).hexdigest() if hashed else ""
        signed = path.split("?", 1)[0].removeprefix("/partners") or "/"
        signature = hmac.new(creds["client_secret"].encode(), f"{method}:{signed}:{stamp}:{digest}".encode(),
                             hashlib.sha256).hexdigest()
        headers = {"x-client-id": creds["client_id"], "x-timestamp": stamp, "x-signature": signature,
                   "Authorization": f"Bearer {creds['access_token']}"}
        if raw:
            headers["Content-Type"] = "application/json"
        return http.request(method, base + path, data=raw or None, headers=headers, timeout=30)
    return send


def count_traffic(base: str, creds: dict) -> list[requests.Response]:
    send = count_client(base, creds)
    chart = send("GET", "/partners/chart-of-accounts")
    active = [a["id"] for a in chart.json()["data"]["accounts"] if a["status"] == "active"]
    created = send("POST", "/partners/journal-entries", {
        "descriptionEntry": "Proxy rent", "date": TODAY,
        "lines": [{"accountUuid": active[-1], "amountDebit": "100.00"},
                  {"accountUuid": active[0], "amountCredit": "100.00"}]})
    listed = send("GET", "/partners/journal-entries?page=1&limit=25")
    # COUNT reads entries back only through the list: the read of one record is a customer's.
    customer = send("POST", "/partners/customers", {"customer": f"Proxy {uuid.uuid4().hex[:8]}"})
    got = send("GET", f"/partners/customers/{customer.json()['data']['id']}")
    missing = send("GET", f"/partners/customers/{MISSING}")
    return [chart, created, listed, customer, got, missing]


def intacct_traffic(base: str, creds: dict) -> list[requests.Response]:
    """Sage Intacct: a client-credentials token from the OAuth2 endpoint, then Bearer JSON calls."""
    http, api = requests.Session(), base + "/ia/api/v1"
    token = http.post(api + "/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": creds["client_secret"],
        "username": creds["username"]}, timeout=30)
    auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
    entries = api + "/objects/general-ledger/journal-entry"
    created = http.post(entries, headers=auth, timeout=30, json={
        "glJournal": {"id": "GJ"}, "postingDate": TODAY, "description": "Proxy rent",
        "lines": [{"txnType": "debit", "txnAmount": "250.00", "glAccount": {"id": "6000"}},
                  {"txnType": "credit", "txnAmount": "250.00", "glAccount": {"id": "1000"}}]})
    listed = http.get(entries, headers=auth, timeout=30)
    got = http.get(f"{entries}/{created.json()['ia::result']['key']}", headers=auth, timeout=30)
    missing = http.get(f"{entries}/999999", headers=auth, timeout=30)
    return [token, created, listed, got, missing]


def codat_traffic(base: str, creds: dict) -> list[requests.Response]:
    """Codat: `Authorization: Basic <base64 of the API key>`; journal entries are pushed through a connection."""
    http = requests.Session()
    http.headers["Authorization"] = "Basic " + base64.b64encode(creds["api_key"].encode()).decode()
    company, connection = creds["company_id"], creds["connection_id"]
    companies = http.get(base + "/companies", timeout=30)
    pushed = http.post(f"{base}/companies/{company}/connections/{connection}/push/journalEntries", timeout=30, json={
        "description": "Proxy supplies", "postedOn": TODAY,
        "journalLines": [{"netAmount": 42.5, "accountRef": {"id": "6300"}},
                         {"netAmount": -42.5, "accountRef": {"id": "1000"}}]})
    listed = http.get(f"{base}/companies/{company}/data/journalEntries", timeout=30)
    got = http.get(f"{base}/companies/{company}/push/{pushed.json()['pushOperationKey']}", timeout=30)
    missing = http.get(f"{base}/companies/{MISSING}", timeout=30)
    return [companies, pushed, listed, got, missing]


def aden_traffic(base: str, creds: dict) -> list[requests.Response]:
    """Aden: `Authorization: jwt <token>` (the scheme word is jwt)."""
    http, gl = requests.Session(), base + "/service/general-ledger"
    http.headers["Authorization"] = f"jwt {creds['token']}"
    accounts = http.get(gl + "/accounts", timeout=30)
    usable = [a["account_id"] for a in accounts.json()["data"] if not a["is_inactive"] and not a["is_summary"]]
    entry_id = f"PROXY-{uuid.uuid4().hex[:8]}"
    created = http.post(gl + "/journal-entries", timeout=30, json={
        "journal_entry_id": entry_id, "tran_date": TODAY, "memo": "Proxy supplies",
        "lines": [{"account_id": usable[-1], "debit": 500, "credit": 0},
                  {"account_id": usable[0], "debit": 0, "credit": 500}]})
    listed = http.get(gl + "/journal-entries", timeout=30)
    got = http.get(f"{gl}/journal-entries/{entry_id}", timeout=30)
    missing = http.get(f"{gl}/journal-entries/NOT-AN-ENTRY", timeout=30)
    return [accounts, created, listed, got, missing]


TRAFFIC = {"count": count_traffic, "intacct": intacct_traffic, "codat": codat_traffic, "aden": aden_traffic}


@pytest.mark.parametrize("name", list(TRAFFIC))
def test_clean_target_no_findings_and_answers_unchanged(name, clean, proxied):
    target = f"{clean}/{name}"
    proxy = proxied(name, target)
    creds = credentials(target, name)
    through = TRAFFIC[name](proxy.base, creds)
    assert [r.status_code for r in through][-1] == 404  # the error case: an id that does not exist
    assert all(r.status_code < 300 for r in through[:-1]), [(r.status_code, r.text[:300]) for r in through]
    assert [r.headers["X-Ledger-Mock-Drift"] for r in through] == ["0"] * len(through), \
        [r.headers["X-Ledger-Mock-Drift"] for r in through]
    # The target's answer, as it gave it: the same read sent straight to it answers the same bytes.
    direct = requests.get(target + through[2].request.path_url, headers=dict(through[2].request.headers), timeout=30)
    assert direct.content == through[2].content and direct.status_code == through[2].status_code
    code, printed = proxy.stop()
    assert code == 0, printed
    assert "No drift" in proxy.read("md") and "No drift" in proxy.read("html")
    assert 'failures="0"' in proxy.read("xml") and "<testcase" in proxy.read("xml")


def test_count_signature_verifies_through_the_proxy(clean, proxied):
    """The client signs the URL it calls (the proxy's); the target checks what arrives: the same path after
    `/partners` and the same body bytes, so only a signature that is wrong fails."""
    creds = credentials(f"{clean}/count", "count")
    proxy = proxied("count", f"{clean}/count")
    send = count_client(proxy.base, creds)
    assert send("GET", "/partners/tags").status_code == 200
    assert send("POST", "/partners/tags", {"name": f"proxy-{uuid.uuid4().hex[:6]}"}).status_code == 201
    tampered = send("POST", "/partners/tags", {"name": "proxy-tampered"}, signed_body=b'{"name": "other"}')
    assert tampered.status_code == 401 and tampered.json()["error"] == "Invalid HMAC signature"


def money_as_numbers(method, status, body):
    def bend(node):
        if isinstance(node, dict):
            return {key: 100.005 if key == "totalDebit" else bend(value) for key, value in node.items()}
        return [bend(item) for item in node] if isinstance(node, list) else node
    return status, bend(body)


def error_bodies_replaced(method, status, body):
    return (status, {"message": "not found"}) if status.startswith("4") else (status, body)


# provider, kind of drift, the part of the path bent, how, operation the report must name, detail it must show
BENDS = [
    ("count", "changed status code", "/journal-entries", created_as_200, "POST /partners/journal-entries", "200"),
    ("count", "money as a number", "/journal-entries", money_as_numbers, "GET /partners/journal-entries",
     "totalDebit"),
    ("intacct", "renamed response field", "/general-ledger/journal-entry", renamed("postingDate", "postedOn"),
     "GET /ia/api/v1/objects/general-ledger/journal-entry/{key}", "postingDate"),
    ("codat", "changed status code", "/companies", non_authoritative, "GET /companies", "203"),
    ("codat", "error envelope", "/companies", error_bodies_replaced, "GET /companies/{companyId}",
     "error envelope"),
    ("aden", "renamed response field", "/journal-entries", renamed("total_debit", "debit_total"),
     "POST /service/general-ledger/journal-entries", "total_debit"),
]


@pytest.mark.parametrize("name, kind, part, bend, operation, detail", BENDS, ids=[f"{b[0]}: {b[1]}" for b in BENDS])
@pytest.mark.state_outside_the_api  # bends the provider to plant drift
def test_bent_target_findings_name_operation_and_difference(name, kind, part, bend, operation, detail, make_app,
                                                             live_server, proxied):
    app = make_app(providers=(name,), validate_responses=False, frozen_time=None)
    creds = provider(app, name).credentials("")
    target = live_server(Rewrite(app, part, bend)) + f"/{name}"
    proxy = proxied(name, target)
    through = TRAFFIC[name](proxy.base, creds)
    assert any(r.headers["X-Ledger-Mock-Drift"] != "0" for r in through)
    flagged = [entry for entry in proxy.journal() if entry["findings"]]
    assert any(entry["label"] == operation and detail in " ".join(entry["findings"]) for entry in flagged), flagged
    assert operation in requests.get(proxy.base + "/_proxy/", timeout=10).text
    code, printed = proxy.stop()
    assert code == 1 and "Drift:" in printed and operation in printed, printed
    section = proxy.read("md").split(f"## {operation}\n", 1)
    assert len(section) == 2, proxy.read("md")[:3000]
    assert detail in section[1].split("\n## ", 1)[0]
    assert f'name="{operation}"><failure' in proxy.read("xml")


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_reports_are_written_when_stopped_by_a_signal(how, clean, proxied):
    proxy = proxied("codat", f"{clean}/codat")
    answer = requests.get(proxy.base + "/companies/x/not-a-codat-path", timeout=10)
    assert answer.headers["X-Ledger-Mock-Drift"].startswith("1; unknown path")
    code, _ = proxy.stop(how)
    assert code == 1
    for kind in ("md", "html", "xml"):
        assert "GET /companies/x/not-a-codat-path" in proxy.read(kind), kind


@pytest.mark.parametrize("name", ["count", "intacct"])
@pytest.mark.state_outside_the_api  # bends the provider, so every exchange has findings to report
def test_secrets_are_in_no_journal_page_or_report(name, make_app, live_server, proxied):
    app = make_app(providers=(name,), validate_responses=False, frozen_time=None)
    creds = provider(app, name).credentials("")
    # Every JSON answer changed (a field added), so every exchange is a finding carrying its bodies and headers.
    target = live_server(Rewrite(app, "/", lambda method, status, body: (
        status, {**body, "extra": 1} if isinstance(body, dict) else body))) + f"/{name}"
    proxy = proxied(name, target)
    through = TRAFFIC[name](proxy.base, creds)
    secrets = {creds["client_secret"], creds["access_token"]}
    if name == "count":
        secrets |= {r.request.headers["x-signature"] for r in through}
        leaked = count_client(proxy.base, creds)("GET", f"/partners/tags?client_secret={creds['client_secret']}")
    else:
        secrets |= {through[0].json()["access_token"], through[0].json()["refresh_token"]}
        leaked = requests.get(f"{proxy.base}/ia/api/v1/objects/general-ledger/account",
                              params={"access_token": creds["access_token"]},
                              headers={"Authorization": f"Bearer {through[0].json()['access_token']}"}, timeout=30)
    assert leaked.headers["X-Ledger-Mock-Drift"] != "0"
    shown = [json.dumps(proxy.journal()), requests.get(proxy.base + "/_proxy/", timeout=10).text]
    code, printed = proxy.stop()
    shown += [printed, *(proxy.read(kind) for kind in ("md", "html", "xml"))]
    assert code == 1 and "<redacted>" in proxy.read("md") and "<redacted>" in shown[0]
    for text in shown:
        assert not [secret for secret in secrets if secret in text], text[:2000]


# -- every operation of every spec: a path is known or a finding, a status documented or a finding ------------

def operations():
    for name in TRAFFIC:
        document = yaml.safe_load((ROOT / "openapi" / f"{name}.yaml").read_text())
        for path, item in document["paths"].items():
            for method, operation in item.items():
                if isinstance(operation, dict) and "operationId" in operation:
                    yield name, method.upper(), path, operation["operationId"]


OPERATIONS = list(operations())


@pytest.fixture(scope="module")
def teapots(tmp_path_factory):
    """A target that answers 418 to everything (no spec documents it), and a proxy per provider in front of it."""
    from werkzeug.serving import make_server

    def teapot(environ, start_response):
        start_response("418 I'm a teapot", [("Content-Type", "application/json")])
        return [b"{}"]

    server = make_server("127.0.0.1", 0, teapot, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    started: dict[str, Proxy] = {}

    def proxy_for(name: str) -> Proxy:
        if name not in started:
            started[name] = Proxy(name, f"http://127.0.0.1:{server.server_port}/{name}",
                                  tmp_path_factory.mktemp(f"teapot-{name}"))
        return started[name]
    yield proxy_for
    for proxy in started.values():
        proxy.stop()
    server.shutdown()


@pytest.mark.parametrize("name, method, path, operation_id", OPERATIONS, ids=[f"{o[0]}: {o[3]}" for o in OPERATIONS])
def test_every_operation_is_recognised_and_an_undocumented_status_is_named(name, method, path, operation_id,
                                                                           teapots):
    proxy = teapots(name)
    concrete = path.replace("{", "p-").replace("}", "")
    known = requests.request(method, proxy.base + concrete, timeout=10)
    unknown = requests.request(method, proxy.base + "/not-in-the-spec" + concrete, timeout=10)
    assert known.status_code == unknown.status_code == 418  # the target's answer, whatever the findings
    assert f"status 418 is not documented for {operation_id}" in known.headers["X-Ledger-Mock-Drift"] or any(
        f"status 418 is not documented for {operation_id}" in finding for entry in proxy.journal()
        if entry["operation"] == operation_id for finding in entry["findings"])
    assert unknown.headers["X-Ledger-Mock-Drift"].startswith(f"1; unknown path: {method} /not-in-the-spec")


def test_a_target_that_does_not_answer_is_a_502_not_a_finding(proxied):
    proxy = proxied("aden", f"http://127.0.0.1:{free_port()}/aden")  # nothing listens there
    answer = requests.get(proxy.base + "/service/general-ledger/accounts", headers={"Authorization": "jwt x"},
                          timeout=30)
    assert answer.status_code == 502 and "did not answer" in answer.json()["message"]
    code, printed = proxy.stop()
    assert code == 0 and "No drift" in proxy.read("md"), printed
