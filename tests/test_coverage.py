"""Client coverage (GET /_mock/coverage, `ledger-mock coverage`): a sample client drives part of each provider's
API in a fresh tenant, and the report says exactly what it exercised and what it never did, including a 429 it
only met because a fault was injected and a workflow transition it took. Written as a CI pipeline uses it: over
HTTP, through the admin API."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from mock_server.cli import main
from tests.count.conftest import CountClient


def coverage(app, provider, tenant=None):
    answer = app.test_client().get("/_mock/coverage", query_string={"provider": provider,
                                                                    **({"tenant": tenant} if tenant else {})})
    assert answer.status_code == 200, answer.get_json()
    (report,) = answer.get_json()["providers"]
    return report


def covered(report, dimension):
    return set(report["dimensions"][dimension]["covered"])


def uncovered(report, dimension):
    return set(report["dimensions"][dimension]["uncovered"])


def tenant_of(app, provider):
    made = app.test_client().post("/_mock/tenants", json={"provider": provider})
    assert made.status_code == 201, made.get_json()
    return made.get_json()


def fault(app, **rule):
    added = app.test_client().post("/_mock/faults", json=rule)
    assert added.status_code == 201, added.get_json()


class Http:
    """Raw HTTP with the provider's own Authorization header (Intacct, Codat, Aden)."""

    def __init__(self, app, creds, authorization):
        self.http, self.prefix, self.authorization = app.test_client(), urlsplit(creds["base_url"]).path, authorization

    def __call__(self, method, path, json=None, params=None, **headers):
        return self.http.open(self.prefix + path, method=method, json=json, query_string=params,
                              headers={"Authorization": self.authorization, **headers})


@pytest.fixture
def app(make_app):
    return make_app()


# -- COUNT ----------------------------------------------------------------------------------------------------


def test_count_client_coverage_is_exact(app):
    creds = tenant_of(app, "count")
    count = CountClient(app, client_id=creds["client_id"], secret=creds["client_secret"],
                        token=creds["access_token"], prefix=urlsplit(creds["base_url"]).path)
    accounts = count.get("/chart-of-accounts", params={"includeBalances": "true"}).get_json()["data"]["accounts"]
    debit, credit = accounts[0]["id"], accounts[1]["id"]
    lines = [{"accountUuid": debit, "amountDebit": "10.00"}, {"accountUuid": credit, "amountCredit": "10.00"}]
    draft = count.request("POST", "/journal-entries", {"descriptionEntry": "Draft", "date": "2025-02-01",
                                                       "lines": lines, "status": "draft"})
    assert draft.status_code == 201, draft.get_json()
    posted = count.request("PATCH", f"/journal-entries/{draft.get_json()['data']['id']}", {"status": "posted"})
    assert posted.status_code == 200, posted.get_json()
    assert count.get("/journal-entries", params={"page": "2", "limit": "1"}).status_code == 200
    fault(app, provider="count", operation="listJournalEntries", limit=0)
    assert count.get("/journal-entries").status_code == 429
    assert count.request("POST", "/journal-entries", {"descriptionEntry": "No lines"}).status_code == 400

    report = coverage(app, "count", creds["tenant"])
    assert covered(report, "operations") == {"listAccounts", "createJournalEntry", "updateJournalEntry",
                                             "listJournalEntries"}
    assert covered(report, "statuses") == {"listAccounts 200", "createJournalEntry 201", "updateJournalEntry 200",
                                           "listJournalEntries 200", "listJournalEntries 429",
                                           "createJournalEntry 400"}
    assert report["dimensions"]["statuses"]["injected"] == ["listJournalEntries 429"]
    assert covered(report, "errors") == {"rate_limited", "validation_error"}
    assert {"period_closed", "unbalanced_entry", "token_expired"} <= uncovered(report, "errors")
    assert covered(report, "transitions") == {"draft -posted-> posted"} and not uncovered(report, "transitions")
    assert covered(report, "paging") == {"listJournalEntries"}
    assert covered(report, "query") == {"listAccounts ?includeBalances", "listJournalEntries ?page",
                                        "listJournalEntries ?limit"}
    total = report["total"]
    assert report["covered"] == sum(len(covered(report, d)) for d in report["dimensions"])
    assert report["ratio"] == round(report["covered"] / total, 4)
    hints = report["dimensions"]["statuses"]["hints"]
    assert '"limit": 0' in hints["createJournalEntry 429"] and "X-Ledger-Mock-Fault: status=429" in \
        hints["createJournalEntry 429"]
    assert "listTransactions" in uncovered(report, "operations")


def test_what_is_counted_resets_with_the_tenant_and_replays_do_not_count(app, make_app, tmp_path):
    creds = tenant_of(app, "count")
    count = CountClient(app, client_id=creds["client_id"], secret=creds["client_secret"],
                        token=creds["access_token"], prefix=urlsplit(creds["base_url"]).path)
    assert count.get("/chart-of-accounts").status_code == 200
    kept = tenant_of(app, "count")
    other = CountClient(app, client_id=kept["client_id"], secret=kept["client_secret"],
                        token=kept["access_token"], prefix=urlsplit(kept["base_url"]).path)
    assert other.get("/journal-entries").status_code == 200
    assert covered(coverage(app, "count"), "operations") == {"listAccounts", "listJournalEntries"}
    reset = app.test_client().post("/_mock/reset", json={"provider": "count", "tenant": creds["tenant"]})
    assert reset.status_code == 200, reset.get_json()
    assert covered(coverage(app, "count"), "operations") == {"listJournalEntries"}  # the other tenant's stays
    assert not covered(coverage(app, "count", creds["tenant"]), "operations")
    assert app.test_client().post("/_mock/reset", json={"provider": "count"}).status_code == 200
    assert not covered(coverage(app, "count"), "operations")

    state = tmp_path / "state.log"
    first = make_app(state_file=state)
    made = tenant_of(first, "count")
    writer = CountClient(first, client_id=made["client_id"], secret=made["client_secret"],
                         token=made["access_token"], prefix=urlsplit(made["base_url"]).path)
    account = writer.request("POST", "/chart-of-accounts", {"name": "Replayed", "subTypeId": 15,
                                                            "accountNumber": "6398"})
    assert account.status_code == 201, account.get_json()
    assert covered(coverage(first, "count"), "operations") == {"createAccount"}
    restarted = make_app(state_file=state)  # the write log replayed: the state is back, the coverage is not
    assert not covered(coverage(restarted, "count"), "operations")


# -- the admin API ---------------------------------------------------------------------------------------------


def test_coverage_needs_a_served_provider_for_a_tenant(app):
    http = app.test_client()
    assert http.get("/_mock/coverage", query_string={"provider": "nope"}).status_code == 404
    assert http.get("/_mock/coverage", query_string={"tenant": "t"}).status_code == 400
    every = http.get("/_mock/coverage").get_json()
    assert {p["provider"] for p in every["providers"]} == set(app.extensions["ledger_mock"].providers)
    for provider in every["providers"]:
        assert provider["covered"] == 0 and provider["ratio"] == 0
        assert all(found["uncovered"] for found in provider["dimensions"].values())


def test_a_server_told_not_to_count_counts_nothing_and_says_so(make_app):
    """`serve --no-coverage` (for measuring what counting costs): requests are served, nothing is counted, and
    the coverage endpoint says why instead of reporting zero."""
    app = make_app(providers=("count",), coverage=False)
    assert CountClient(app).get("/chart-of-accounts").status_code == 200
    assert app.extensions["ledger_mock"].coverage.report(app.extensions["ledger_mock"].providers, None) == \
        make_app(providers=("count",)).extensions["ledger_mock"].coverage.report(
            app.extensions["ledger_mock"].providers, None)
    refused = app.test_client().get("/_mock/coverage")
    assert refused.status_code == 404 and "--no-coverage" in refused.get_json()["message"]


# -- Sage Intacct -------------------------------------------------------------------------------------------------


def test_intacct_client_coverage_is_exact(app):
    creds = tenant_of(app, "intacct")
    ia = Http(app, creds, f"Bearer {creds['access_token']}")
    created = ia("POST", "/objects/general-ledger/journal-entry", {
        "glJournal": {"id": "GJ"}, "postingDate": "2025-02-01", "description": "To approve", "state": "draft",
        "lines": [{"txnType": "debit", "txnAmount": "75.00", "glAccount": {"id": "6000"}},
                  {"txnType": "credit", "txnAmount": "75.00", "glAccount": {"id": "1000"}}]})
    assert created.status_code == 201, created.get_json()
    key = created.get_json()["ia::result"]["key"]
    submitted = ia("POST", "/workflows/general-ledger/journal-entry/submit", {"key": key})
    assert submitted.status_code == 200, submitted.get_json()
    assert ia("GET", "/objects/general-ledger/journal-entry", params={"start": "2", "size": "1"}).status_code == 200
    assert ia("GET", "/objects/general-ledger/journal-entry/999999").status_code == 404
    queried = ia("POST", "/services/core/query", {
        "object": "general-ledger/journal-entry", "fields": ["key"], "orderBy": [{"postingDate": "desc"}],
        "filters": [{"$eq": {"postingDate": "priorMonth"}}], "start": 2, "size": 1})
    assert queried.status_code == 200, queried.get_json()
    assert ia("GET", f"/objects/general-ledger/journal-entry/{key}",
              **{"X-Ledger-Mock-Fault": "status=429"}).status_code == 429

    report = coverage(app, "intacct", creds["tenant"])
    assert covered(report, "operations") == {"createJournalEntry", "submitJournalEntry", "listJournalEntries",
                                             "getJournalEntry", "queryObjects"}
    assert covered(report, "statuses") == {"createJournalEntry 201", "submitJournalEntry 200",
                                           "listJournalEntries 200", "getJournalEntry 404", "queryObjects 200"}
    assert report["dimensions"]["statuses"]["undocumented"] == ["getJournalEntry 429"]  # Intacct documents none
    assert report["dimensions"]["statuses"]["injected"] == ["getJournalEntry 429"]
    assert covered(report, "errors") == {"REST-1100"}
    assert covered(report, "transitions") == {"draft -submit-> submitted"}
    assert {"submitted -approve-> approved", "posted -reverse-> reversed"} <= uncovered(report, "transitions")
    assert covered(report, "paging") == {"listJournalEntries", "queryObjects"}
    assert covered(report, "query") == {"listJournalEntries ?start", "listJournalEntries ?size",
                                        "queryObjects .object", "queryObjects .fields", "queryObjects .filters",
                                        "queryObjects .orderBy", "queryObjects .start", "queryObjects .size",
                                        "queryObjects .filters $eq", "queryObjects .filters priorMonth"}
    assert {"queryObjects .filters $between", "queryObjects .filters today",
            "queryObjects .filterExpression"} <= uncovered(report, "query")


# -- Aden -----------------------------------------------------------------------------------------------------------


def test_aden_client_coverage_is_exact(app):
    creds = tenant_of(app, "aden")
    aden = Http(app, creds, creds["authorization"])
    created = aden("POST", "/journal-entries", {
        "journal_entry_id": "JE-COV-1", "tran_date": "2025-02-12", "memo": "Coverage",
        "lines": [{"account_id": "6300", "debit": 75, "credit": 0}, {"account_id": "1010", "debit": 0, "credit": 75}]})
    assert created.status_code == 201, created.get_json()
    submitted = aden("POST", "/journal-entries/JE-COV-1/submit-for-approval")
    assert submitted.status_code == 200, submitted.get_json()
    assert aden("GET", "/journal-entries", params={"offset": "1", "limit": "1", "status": "Draft"}).status_code == 200
    unbalanced = aden("POST", "/journal-entries", {
        "journal_entry_id": "JE-COV-2", "tran_date": "2025-02-12", "memo": "Unbalanced",
        "lines": [{"account_id": "6300", "debit": 75, "credit": 0}, {"account_id": "1010", "debit": 0, "credit": 70}]})
    assert unbalanced.status_code == 400, unbalanced.get_json()
    fault(app, provider="aden", operation="listAccounts", status=429, times=1)
    assert aden("GET", "/accounts").status_code == 429

    report = coverage(app, "aden", creds["tenant"])
    assert covered(report, "operations") == {"createJournalEntry", "submitJournalEntry", "listJournalEntries",
                                             "listAccounts"}
    assert covered(report, "statuses") == {"createJournalEntry 201", "createJournalEntry 400",
                                           "submitJournalEntry 200", "listJournalEntries 200"}
    assert report["dimensions"]["statuses"]["injected"] == ["listAccounts 429"]
    assert covered(report, "errors") == {"UNBALANCED_ENTRY", "RATE_LIMITED"}
    assert {"PERIOD_CLOSED", "INVALID_STATUS"} <= uncovered(report, "errors")
    assert covered(report, "transitions") == {"Draft -submit-> Pending Approval"}
    assert covered(report, "paging") == {"listJournalEntries"}
    assert covered(report, "query") == {"listJournalEntries ?offset", "listJournalEntries ?limit",
                                        "listJournalEntries ?status"}


# -- Codat ----------------------------------------------------------------------------------------------------------


def test_codat_client_coverage_is_exact(app):
    creds = tenant_of(app, "codat")
    codat = Http(app, creds, creds["authorization"])
    company, connection = creds["company_id"], creds["connection_id"]
    pushed = codat("POST", f"/companies/{company}/connections/{connection}/push/journalEntries", {
        "description": "Coverage", "postedOn": "2025-02-14",
        "journalLines": [{"netAmount": 75, "accountRef": {"id": "6300"}},
                         {"netAmount": -75, "accountRef": {"id": "1000"}}]})
    assert pushed.status_code == 200, pushed.get_json()
    entry = pushed.get_json()["data"]["id"]
    deleted = codat("DELETE", f"/companies/{company}/connections/{connection}/push/journalEntries/{entry}")
    assert deleted.status_code == 200, deleted.get_json()
    listed = codat("GET", f"/companies/{company}/data/journalEntries",
                   params={"page": "2", "pageSize": "1", "orderBy": "-modifiedDate",
                           "query": "description=Coverage && postedOn>2025-01-01"})
    assert listed.status_code == 200, listed.get_json()
    assert codat("GET", f"/companies/{company}/data/journalEntries",
                 params={"pageSize": "0"}).status_code == 400
    fault(app, provider="codat", operation="list-companies", status=429, times=1)
    assert codat("GET", "/companies").status_code == 429

    report = coverage(app, "codat", creds["tenant"])
    assert covered(report, "operations") == {"create-journal-entry", "delete-journal-entry",
                                             "list-journal-entries", "list-companies"}
    assert covered(report, "statuses") == {"create-journal-entry 200", "delete-journal-entry 200",
                                           "list-journal-entries 200", "list-journal-entries 400"}
    assert report["dimensions"]["statuses"]["injected"] == ["list-companies 429"]
    assert covered(report, "errors") == {"400 Error parsing query"}
    assert covered(report, "transitions") == {"active -delete-> deleted", "push: Success"}
    assert {"push: Failed", "push: TimedOut", "push: Pending"} == uncovered(report, "transitions")
    assert covered(report, "paging") == {"list-journal-entries"}
    assert covered(report, "query") == {"list-journal-entries ?page", "list-journal-entries ?pageSize",
                                        "list-journal-entries ?query", "list-journal-entries ?orderBy",
                                        "list-journal-entries ?query =", "list-journal-entries ?query &&",
                                        "list-journal-entries ?query >"}  # the operators its spec documents
    assert {"list-journal-entries ?query ~", "list-journal-entries ?query {}"} <= uncovered(report, "query")


# -- `ledger-mock coverage` ------------------------------------------------------------------------------------------


def test_the_cli_threshold_exits_1_below_and_0_above(make_app, live_server, tmp_path):
    app = make_app()
    base = live_server(app)
    creds = tenant_of(app, "count")
    count = CountClient(app, client_id=creds["client_id"], secret=creds["client_secret"],
                        token=creds["access_token"], prefix=urlsplit(creds["base_url"]).path)
    assert count.get("/chart-of-accounts").status_code == 200
    reached = coverage(app, "count")["ratio"] * 100
    assert 0 < reached < 5

    runner = CliRunner()
    below = runner.invoke(main, ["coverage", "--url", base, "--fail-under", f"{reached + 0.5:.2f}"])
    assert below.exit_code == 1, below.output
    assert "count: " in below.output and "under --fail-under" in below.output
    assert "## count" in below.output and "## codat" in below.output  # every provider listed, count judged
    above = runner.invoke(main, ["coverage", "--url", base, "--fail-under", f"{reached - 0.5:.2f}"])
    assert above.exit_code == 0, above.output
    named = runner.invoke(main, ["coverage", "--url", base, "--provider", "intacct", "--fail-under", "1"])
    assert named.exit_code == 1, named.output  # a provider asked for by name is judged though never exercised

    as_json = runner.invoke(main, ["coverage", "--url", base, "--provider", "count", "--tenant", creds["tenant"],
                                   "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    assert report["tenant"] == creds["tenant"] and covered(report["providers"][0], "operations") == {"listAccounts"}

    page = tmp_path / "coverage.html"
    written = runner.invoke(main, ["coverage", "--url", base, "--provider", "count", "--format", "html",
                                   "--output", str(page)])
    assert written.exit_code == 0, written.output
    html = page.read_text()
    assert "<script" not in html and "http" not in html.split("<body>", 1)[1]  # one self-contained page
    assert re.search(r"<tr><td class=op>listAccounts</td>.*?<td class=covered", html)
    assert re.search(r"<td class=uncovered title='rate-limit it: POST /_mock/faults", html)

    junit = runner.invoke(main, ["coverage", "--url", base, "--provider", "count", "--format", "junit"])
    assert '<testcase classname="count.operations" name="listAccounts"/>' in junit.stdout
    assert '<testcase classname="count.operations" name="listTransactions"><failure' in junit.stdout

    unreachable = runner.invoke(main, ["coverage", "--url", "http://127.0.0.1:9", "--fail-under", "1"])
    assert unreachable.exit_code == 1 and "not reachable" in unreachable.output
