"""The pytest plugin (mock_server/pytest_plugin.py) as a client project uses it: a sample test module run in a
separate pytest process, once against the in-process mock and once against a `ledger-mock serve` started
here. The plugin is found through its `pytest11` entry point, so these need the project installed (`make`)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
import requests

pytest_plugins = ["pytester"]

ADMIN_TOKEN = "plugin-test-admin-token"

# What a client project would write: its own client code driven against fresh tenants, the clock and faults.
SAMPLE = '''
from urllib.parse import urlsplit

import requests

from mock_server.auth.hmac_signing import signature_headers


def count(creds, clock, method, path, body=b""):
    """A COUNT call signed as a partner app signs it, with the mock's own time."""
    url = creds["base_url"] + path
    headers = signature_headers(creds["client_id"], creds["client_secret"], method, urlsplit(url).path, body,
                                str(int(clock.now().timestamp())))
    headers["Authorization"] = f"Bearer {creds['access_token']}"
    if body:
        headers["Content-Type"] = "application/json"
    return requests.request(method, url, data=body, headers=headers, timeout=10)


def test_a_fresh_tenant_has_its_own_chart_of_accounts(ledger_mock, ledger_mock_tenant):
    creds = ledger_mock_tenant("count", name="plugin sample")
    assert creds["base_url"] == ledger_mock.url + "/count/partners"
    clock = ledger_mock.admin.clock
    listed = count(creds, clock, "GET", "/chart-of-accounts")
    assert listed.status_code == 200, listed.text
    accounts = listed.json()["data"]["accounts"]
    assert accounts and all(a["name"] for a in accounts)
    made = count(creds, clock, "POST", "/chart-of-accounts",
                 b'{"name":"Plugin sample","subTypeId":15,"accountNumber":"6399"}')
    assert made.status_code == 201, made.text
    shared = ledger_mock.admin.credentials("count")
    assert shared["workspace_id"] != creds["workspace_id"]
    elsewhere = count(shared, clock, "GET", "/chart-of-accounts").json()["data"]["accounts"]
    assert "Plugin sample" not in {a["name"] for a in elsewhere}
    assert len(elsewhere) == len(accounts)
    seen = ledger_mock.admin.journal(tenant=creds["tenant"])
    assert [e["operation"] for e in seen] == ["createAccount", "listAccounts"]


def test_the_clock_freezes_and_advances(ledger_mock_clock, ledger_mock_tenant):
    frozen = ledger_mock_clock.freeze("2025-01-31T12:00:00Z")
    assert frozen.isoformat() == "2025-01-31T12:00:00+00:00"
    assert ledger_mock_clock.advance(3600).isoformat() == "2025-01-31T13:00:00+00:00"
    assert ledger_mock_clock.now().isoformat() == "2025-01-31T13:00:00+00:00"
    assert ledger_mock_clock.set("2025-03-01T00:00:00Z").isoformat() == "2025-03-01T00:00:00+00:00"
    creds = ledger_mock_tenant("count")  # signatures carry the mock's time, so they still pass
    assert count(creds, ledger_mock_clock, "GET", "/chart-of-accounts").status_code == 200


def test_a_fault_answers_with_the_providers_503(ledger_mock, ledger_mock_faults, ledger_mock_tenant):
    creds = ledger_mock_tenant("count")
    fault = ledger_mock_faults.add(provider="count", operation="listAccounts", tenant=creds["tenant"], status=503)
    assert [f["id"] for f in ledger_mock_faults.list()] == [fault]
    failed = count(creds, ledger_mock.admin.clock, "GET", "/chart-of-accounts")
    assert failed.status_code == 503
    assert failed.json()["statusCode"] == 503 and "Injected fault" in failed.text
    assert ledger_mock.admin.journal(tenant=creds["tenant"], status=503)[0]["operation"] == "listAccounts"


def test_the_clock_and_faults_were_put_back(ledger_mock):
    state = ledger_mock.admin.clock.state()
    assert state["frozen"] is False and not state["now"].startswith("2025-0")
    assert ledger_mock.admin.faults.list() == []
'''

OTHER_PROVIDERS = '''
import pytest
import requests

READS = {"intacct": "/objects/general-ledger/account", "codat": "/companies", "aden": "/accounts"}


@pytest.mark.parametrize("provider", sorted(READS))
def test_a_fresh_tenant_reads_its_books(ledger_mock, ledger_mock_tenant, provider):
    creds = ledger_mock_tenant(provider)
    assert creds["provider"] == provider and creds["tenant"]
    assert creds["base_url"].startswith(ledger_mock.url + "/" + provider)
    auth = creds.get("authorization") or f"Bearer {creds['access_token']}"
    answer = requests.get(creds["base_url"] + READS[provider], headers={"Authorization": auth}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert ledger_mock.admin.journal(tenant=creds["tenant"])[0]["status"] == 200
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`ledger-mock serve` in its own process, with an admin token; its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path_factory.mktemp("served") / "serve.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "mock_server.cli", "serve", "--port", str(port),
                                "--no-rate-limit", "--admin-token", ADMIN_TOKEN, "--log-level", "warning"],
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/_mock/clock", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, open(log.name).read()
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _count_requests(url: str) -> int:
    entries = requests.get(f"{url}/_mock/journal", params={"provider": "count", "limit": 500},
                           headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=5).json()["entries"]
    return len(entries)


def test_fixtures_against_the_in_process_mock(pytester):
    pytester.makepyfile(test_sample=SAMPLE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_fixtures_against_a_running_server(pytester, served):
    pytester.makepyfile(test_sample=SAMPLE)
    before = _count_requests(served)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ledger-mock-url", served,
                                           "--ledger-mock-admin-token", ADMIN_TOKEN)
    result.assert_outcomes(passed=4)
    assert _count_requests(served) == before + 5  # the sample's COUNT calls went to that server


def test_a_running_server_from_the_environment_and_a_wrong_token(pytester, served, monkeypatch):
    pytester.makepyfile(test_sample=SAMPLE)
    monkeypatch.setenv("LEDGER_MOCK_URL", served)
    monkeypatch.setenv("LEDGER_MOCK_ADMIN_TOKEN", ADMIN_TOKEN)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=4)
    monkeypatch.setenv("LEDGER_MOCK_ADMIN_TOKEN", "wrong")
    refused = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    refused.assert_outcomes(errors=4)
    refused.stdout.fnmatch_lines(["*refused the admin API*401*"])


def test_fresh_tenants_of_the_other_providers(pytester):
    pytester.makepyfile(test_others=OTHER_PROVIDERS)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)


# The sample's signing helper and one test that reads a fresh tenant's chart of accounts: COUNT coverage above 0%.
COVERAGE_SAMPLE = SAMPLE.split("\ndef test_", 1)[0] + '''

def test_lists_the_chart_of_accounts(ledger_mock, ledger_mock_tenant):
    creds = ledger_mock_tenant("count")
    assert count(creds, ledger_mock.admin.clock, "GET", "/chart-of-accounts").status_code == 200
'''


def test_client_coverage_summary_report_file_and_threshold(pytester):
    import json

    pytester.makepyfile(test_client=COVERAGE_SAMPLE)
    failed = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ledger-mock-coverage=cov.json",
                                           "--ledger-mock-cov-fail-under=50")
    failed.assert_outcomes(passed=1)
    assert failed.ret == 1  # every test passed, but COUNT is covered under 50%
    failed.stdout.fnmatch_lines(["*ledger-mock client coverage*", "count: *% (*; operations 1/*",
                                 "*FAIL: coverage *% is under --ledger-mock-cov-fail-under 50%*"])
    assert "codat:" not in failed.stdout.str()  # only the providers the tests exercised
    report = json.loads((pytester.path / "cov.json").read_text())
    (count,) = report["providers"]
    assert count["provider"] == "count" and count["dimensions"]["operations"]["covered"] == ["listAccounts"]

    passed = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ledger-mock-coverage=cov.md",
                                           "--ledger-mock-cov-fail-under=0.1")
    assert passed.ret == 0
    assert "## count: " in (pytester.path / "cov.md").read_text()
