"""Codat pushes: create and delete through push operations, the rules a push must pass, and timing on the mock clock."""

from __future__ import annotations


import pytest

from tests.codat.conftest import ACME, XERO, CodatClient, assert_error, entry, fixtures_with
from tests.conftest import advance, provider, runtime

NOT_VALID = "Error processing request - not valid."


def balance(app, account_id):
    return provider(app, "codat").state.clients["0c1f6a52-7e3d-4b8a-9f21-5d6e7a8b9c01"].companies[ACME].book.balance(
        account_id)


def test_push_succeeds_at_once_and_reads_back(app, codat):
    response = codat.push(entry(description="Printer paper", id="client-id", metadata={"isDeleted": True},
                                createdOn="1999-01-01", journalRef={"id": "GJ", "name": None}),
                          params={"timeoutInMinutes": 5, "allowSyncOnPushComplete": "false"})
    assert response.status_code == 200
    push = response.get_json()
    assert push["status"] == "Success" and push["statusCode"] == 200 and push["dataType"] == "journalEntries"
    assert push["requestedOnUtc"] == push["completedOnUtc"] == "2025-02-15T12:00:00Z"
    assert push["timeoutInMinutes"] == 5 and push["dataConnectionKey"] == XERO and push["companyId"] == ACME
    stored = push["data"]
    assert stored["id"] != "client-id" and stored["metadata"] == {"isDeleted": False}
    assert push["changes"] == [{"type": "Created", "recordRef": {"id": stored["id"], "dataType": "journalEntries"}}]
    assert stored["postedOn"] == "2025-02-14T00:00:00" and stored["journalRef"] == {"id": "GJ"}
    for field in ("createdOn", "updatedOn", "modifiedDate", "sourceModifiedDate"):
        assert stored[field] == "2025-02-15T12:00:00Z"
    assert stored["journalLines"][0] == {"netAmount": 42.5, "currency": "GBP",
                                         "accountRef": {"id": "6300", "name": "Office Expenses"}}
    assert codat.get(f"/companies/{ACME}/data/journalEntries/{stored['id']}").get_json() == stored
    assert codat.get(f"/companies/{ACME}/push/{push['pushOperationKey']}").get_json() == {
        k: v for k, v in push.items() if k != "data"}
    assert balance(app, "6300") == 42.5


def test_posted_on_forms(codat):
    def posted(value):
        return codat.push(entry(posted_on=value)).get_json()["data"]["postedOn"]
    assert posted("2025-02-14") == "2025-02-14T00:00:00"
    assert posted("2025-02-14T10:30:15.250") == "2025-02-14T00:00:00"
    assert posted("2025-02-14T23:30:15-05:00") == "2025-02-14T00:00:00"  # not 15 February, its UTC day


@pytest.mark.parametrize("body, part", [
    (entry(("6300", 42.5), ("1000", -40)), "sum to zero"),
    (entry(("6300", 42.5), ("9999", -42.5)), "journalLines[1].accountRef.id"),
    (entry(("6300", 42.555), ("1000", -42.555)), "journalLines[0].netAmount"),
    (entry(("6300", 0), ("1000", 0)), "cannot be zero"),
    (entry(posted_on="last tuesday"), "postedOn"),
    (entry(("1100", 10), ("4000", -10)), "journalLines[0].contactRef"),
    (entry(("6300", 10), ("2100", -10)), "dataType 'suppliers'"),
])
def test_rule_failures_are_400_with_validation_and_store_nothing(app, codat, body, part):
    before = codat.entries().get_json()["totalResults"]
    assert_error(codat.push(body), 400, NOT_VALID, item_part=part)
    assert codat.entries().get_json()["totalResults"] == before
    assert codat.get(f"/companies/{ACME}/push").get_json()["totalResults"] == 0


def test_contact_rules_and_currency(codat):
    body = entry(("1100", 10), ("4000", -10))
    body["journalLines"][0]["contactRef"] = {"id": "cust-1", "dataType": "customers"}
    body["journalLines"][1]["currency"] = "gbp"
    stored = codat.push(body).get_json()["data"]
    assert stored["journalLines"][0]["contactRef"] == {"id": "cust-1", "dataType": "customers"}
    body["journalLines"][1]["currency"] = "USD"
    assert_error(codat.push(body), 400, NOT_VALID, item_part="base currency GBP")


@pytest.mark.parametrize("body, part", [
    ({"journalLines": []}, "postedOn"),
    (entry(("6300", 1),), "journalLines"),
    ({"postedOn": "2025-01-01", "journalLines": [{"netAmount": "1"}, {"netAmount": -1}]}, "journalLines"),
])
def test_schema_failures_are_400_in_codats_body(codat, body, part):
    assert_error(codat.push(body), 400, NOT_VALID, item_part=part)


def test_malformed_json_and_media_type(codat):
    url = f"/codat/companies/{ACME}/connections/{XERO}/push/journalEntries"
    bad = codat.http.post(url, data="{", headers={**codat.headers, "Content-Type": "application/json"})
    assert_error(bad, 400, NOT_VALID)
    text = codat.http.post(url, data="x", headers={**codat.headers, "Content-Type": "text/plain"})
    assert text.status_code == 415 and text.get_json()["service"] == "PublicApi"


@pytest.mark.parametrize("timeout", [0, -1])
def test_timeout_must_be_at_least_one_minute(codat, timeout):
    assert_error(codat.push(entry(), params={"timeoutInMinutes": timeout}), 400, NOT_VALID,
                 item_part="timeoutInMinutes")


def test_delete_is_soft_and_repeats_fail(app, codat):
    assert balance(app, "6100") == 1500
    push = codat.remove("je-2025-0001").get_json()
    assert push["status"] == "Success" and "data" not in push
    assert push["changes"] == [{"type": "Deleted", "recordRef": {"id": "je-2025-0001", "dataType": "journalEntries"}}]
    deleted = codat.get(f"/companies/{ACME}/data/journalEntries/je-2025-0001").get_json()
    assert deleted["metadata"] == {"isDeleted": True}
    assert deleted["updatedOn"] == deleted["modifiedDate"] == deleted["sourceModifiedDate"] == "2025-02-15T12:00:00Z"
    assert deleted["createdOn"] == "2025-01-31T09:00:00Z"
    assert balance(app, "6100") == 0
    visible = [e["id"] for e in codat.entries(query="metadata.isDeleted!=true").get_json()["results"]]
    assert "je-2025-0001" not in visible and len(visible) == 3
    again = codat.remove("je-2025-0001").get_json()
    assert again["status"] == "Failed" and again["statusCode"] == 400
    assert "already deleted" in again["errorMessage"]
    statuses = [p["status"] for p in codat.get(f"/companies/{ACME}/push").get_json()["results"]]
    assert statuses == ["Success", "Failed"]


def test_delete_unknown_entry_is_404(codat):
    assert_error(codat.remove("nope"), 404, "No journal entry was found with ID nope")
    assert_error(codat.get(f"/companies/{ACME}/push/nope"), 404, "No push operation was found with key nope")


def delayed_app(make_app, tmp_path, **connection):
    app = make_app(providers=("codat",), fixtures=fixtures_with(tmp_path, **connection))
    return app, CodatClient(app)


def test_delayed_push_is_pending_until_due(make_app, tmp_path):
    app, codat = delayed_app(make_app, tmp_path, pushDelaySeconds=30)
    push = codat.push(entry(description="Later")).get_json()
    assert push["status"] == "Pending" and push["statusCode"] == 202 and "completedOnUtc" not in push
    assert push["changes"] == [{"type": "Created", "recordRef": {"dataType": "journalEntries"}}]
    assert push["data"]["description"] == "Later" and "id" not in push["data"]
    key = push["pushOperationKey"]
    assert codat.entries(query="description=Later").get_json()["totalResults"] == 0
    advance(app, 29)
    assert codat.get(f"/companies/{ACME}/push/{key}").get_json()["status"] == "Pending"
    advance(app, 5)
    done = codat.get(f"/companies/{ACME}/push/{key}").get_json()
    assert done["status"] == "Success" and done["completedOnUtc"] == "2025-02-15T12:00:30Z"
    created = done["changes"][0]["recordRef"]["id"]
    stored = codat.get(f"/companies/{ACME}/data/journalEntries/{created}").get_json()
    assert stored["createdOn"] == stored["modifiedDate"] == "2025-02-15T12:00:30Z"


def test_entries_read_settles_pending_pushes(make_app, tmp_path):
    app, codat = delayed_app(make_app, tmp_path, pushDelaySeconds=10)
    codat.push(entry(description="Later"))
    advance(app, 10)
    assert codat.entries(query="description=Later").get_json()["totalResults"] == 1


def test_delayed_delete(make_app, tmp_path):
    app, codat = delayed_app(make_app, tmp_path, pushDelaySeconds=60)
    push = codat.remove("je-2025-0004").get_json()
    assert push["status"] == "Pending"
    assert push["changes"][0]["recordRef"]["id"] == "je-2025-0004"
    assert codat.get(f"/companies/{ACME}/data/journalEntries/je-2025-0004").get_json()["metadata"]["isDeleted"] is False
    advance(app, 60)
    entry_now = codat.get(f"/companies/{ACME}/data/journalEntries/je-2025-0004").get_json()
    assert entry_now["metadata"]["isDeleted"] is True and entry_now["updatedOn"] == "2025-02-15T12:01:00Z"


def test_forced_failure(make_app, tmp_path):
    app, codat = delayed_app(make_app, tmp_path, pushOutcome="Failed")
    push = codat.push(entry(description="Rejected")).get_json()
    assert push["status"] == "Failed" and push["statusCode"] == 400 and "pushOutcome Failed" in push["errorMessage"]
    assert "data" not in push
    assert codat.entries(query="description=Rejected").get_json()["totalResults"] == 0
    assert codat.remove("je-2025-0001").get_json()["status"] == "Failed"
    assert codat.get(f"/companies/{ACME}/data/journalEntries/je-2025-0001").get_json()["metadata"]["isDeleted"] is False


def test_never_completing_push_times_out_at_its_deadline(make_app, tmp_path):
    app, codat = delayed_app(make_app, tmp_path, pushOutcome="NeverComplete")
    timed = codat.push(entry(), params={"timeoutInMinutes": 2}).get_json()
    forever = codat.push(entry()).get_json()
    assert timed["status"] == forever["status"] == "Pending"
    advance(app, 3600)
    pushes = {p["pushOperationKey"]: p for p in codat.get(f"/companies/{ACME}/push").get_json()["results"]}
    assert pushes[timed["pushOperationKey"]]["status"] == "TimedOut"
    assert pushes[timed["pushOperationKey"]]["statusCode"] == 408
    assert pushes[timed["pushOperationKey"]]["completedOnUtc"] == "2025-02-15T12:02:00Z"
    assert pushes[forever["pushOperationKey"]]["status"] == "Pending"


def test_timeout_shorter_than_the_delay_wins(make_app, tmp_path):
    app, codat = delayed_app(make_app, tmp_path, pushDelaySeconds=300)
    early = codat.push(entry(description="Too slow"), params={"timeoutInMinutes": 1}).get_json()
    ample = codat.push(entry(description="In time"), params={"timeoutInMinutes": 10}).get_json()
    advance(app, 360)
    found = codat.get(f"/companies/{ACME}/push", params={"query": "status=TimedOut"}).get_json()["results"]
    assert [p["pushOperationKey"] for p in found] == [early["pushOperationKey"]]
    assert codat.get(f"/companies/{ACME}/push/{ample['pushOperationKey']}").get_json()["status"] == "Success"
    assert codat.entries(query="description=Too slow").get_json()["totalResults"] == 0


def test_push_history_queries(codat):
    codat.push(entry())
    codat.remove("je-2025-0001")
    codat.remove("je-2025-0001")
    history = codat.get(f"/companies/{ACME}/push", params={"query": "statusCode=400", "orderBy": "-requestedOnUtc"})
    assert [p["status"] for p in history.get_json()["results"]] == ["Failed"]


def test_posted_on_keeps_the_day_the_client_meant(codat):
    """docs.codat.io/docs/datamodel-shared-date: dates without a zone are local to the business. Half past midnight
    on 1 March in UTC+1 is posted on 1 March, not on 28 February (its UTC instant)."""
    pushed = codat.push(entry(posted_on="2025-03-01T00:30:00+01:00", description="March, local time"))
    assert pushed.get_json()["data"]["postedOn"] == "2025-03-01T00:00:00"
    assert "postedOn" in pushed.headers["X-Ledger-Mock-Warning"]
    found = codat.entries(query="postedOn=2025-03-01").get_json()["results"]
    assert [e["description"] for e in found] == ["March, local time"]
    assert codat.entries(query="postedOn<2025-03-01&&description=March, local time").get_json()["totalResults"] == 0


def test_seed_fields_are_kept(codat):
    body = entry(("6300", 120), ("1000", -120), subsidiaryRefs=[{"id": "sub-1", "name": "UK"}],
                 currencyRef={"id": "GBP"}, currencyRate=1)
    body["journalLines"][0].update(taxAmount=20, taxRateRef={"id": "VAT20", "name": "Standard 20%"})
    stored = codat.push(body).get_json()["data"]
    assert stored["subsidiaryRefs"] == [{"id": "sub-1", "name": "UK"}]
    assert stored["currencyRef"] == {"id": "GBP"} and stored["currencyRate"] == 1
    assert stored["journalLines"][0]["taxAmount"] == 20
    assert stored["journalLines"][0]["taxRateRef"] == {"id": "VAT20", "name": "Standard 20%"}
    assert codat.get(f"/companies/{ACME}/data/journalEntries/{stored['id']}").get_json() == stored
    body["journalLines"][0]["taxAmount"] = 1.005
    assert_error(codat.push(body), 400, NOT_VALID, item_part="journalLines[0].taxAmount")


@pytest.mark.parametrize("field, value, item_id", [("currencyRef", {"id": "EUR"}, "currencyRef.id"),
                                                   ("currencyRate", 1.1, "currencyRate")])
def test_a_foreign_currency_entry_fails_as_the_seed_says(codat, field, value, item_id):
    """Seed: "Pushing data will fail if the business has not enabled or does not support multiple currency";
    currencyRate is "not applicable when multi-currency is not supported". No mock company supports it."""
    refused = assert_error(codat.push(entry(**{field: value})), 400, NOT_VALID, item_part=item_id)
    assert [i["itemId"] for i in refused["validation"]["errors"]] == [item_id]
    assert codat.get(f"/companies/{ACME}/push").get_json()["totalResults"] == 0


def test_a_pushed_two_line_entry_costs_its_company_under_1_3_kb():
    """Issue 20: a Codat server holds 100k pushed two-line entries in <= 250 MiB, its start-up's 60 included. What
    the company keeps per push: once 1,930 bytes, 170 of them line ids Codat never shows, 400 a dict of a postedOn
    and four timestamps that the entry's own day and instants give back, and 80 an index of whether each entry is
    deleted (most are not: an index of the deleted ones does)."""
    from mock_server.app import create_app
    from mock_server.config import Config
    from tests.conftest import FROZEN
    from tests.memory import bytes_kept_per_entry

    codat = CodatClient(create_app(Config(providers=("codat",), rate_limiting=False, frozen_time=FROZEN)))

    def grow(numbers):
        for i in numbers:
            body = entry(("6300", 1 + i + i % 100 / 100), ("1000", -(1 + i + i % 100 / 100)), description=f"Entry {i}",
                         posted_on=f"2025-{1 + i % 10:02d}-{1 + i % 28:02d}T00:00:00",
                         **({"journalRef": {"id": "GJ"}} if i % 4 == 0 else {}))
            assert codat.push(body).get_json()["status"] == "Success"

    per_entry, sites = bytes_kept_per_entry("codat", grow, 300)
    assert per_entry <= 1300, f"{per_entry:.0f} bytes an entry; by line:\n{sites}"
