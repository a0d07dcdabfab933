"""Journal entries over HTTP: round trips, COUNT's rules, isolation, concurrency."""

from __future__ import annotations

import threading

import pytest

from tests.count.conftest import (ACCRUED, CHECKING, NORTHWIND_CHECKING, RENT, SOFTWARE, CountClient, assert_error,
                                  balances, entry_body)


def balance_of(count, account_id):
    accounts = count.get("/chart-of-accounts", params={"includeBalances": "true"}).get_json()["data"]["accounts"]
    return next(a["balance"] for a in accounts if a["id"] == account_id)


def test_create_list_update_delete_round_trip(count):
    created = count.post("/journal-entries", entry_body(refNumber="ACR-7"))
    assert created.status_code == 201
    entry = created.get_json()["data"]
    assert entry["totalDebit"] == entry["totalCredit"] == "1000.00"
    assert entry["status"] == "posted" and entry["editable"] is True and entry["source"] == "manual"
    assert [(l["accountName"], l["amountDebit"], l["amountCredit"]) for l in entry["lines"]] == [
        ("Rent Expense", "1000.00", None), ("Accrued Liabilities", None, "1000.00")]
    assert balance_of(count, ACCRUED) == "-5500.00"  # fixture 4500 accrual plus this one

    listed = count.get("/journal-entries", params={"search": "acr-7"}).get_json()["data"]
    assert listed["totalRecords"] == 1 and listed["journalEntries"][0] == entry

    updated = count.patch(f"/journal-entries/{entry['id']}", {
        "descriptionEntry": "Accrue rent (revised)",
        "lines": [{"accountUuid": RENT, "amountDebit": 1200.5}, {"accountUuid": ACCRUED, "amountCredit": "1200.50"}]})
    assert updated.status_code == 200
    body = updated.get_json()["data"]
    assert body["descriptionEntry"] == "Accrue rent (revised)" and body["totalDebit"] == "1200.50"
    assert body["refNumber"] == "ACR-7" and body["createdAt"] == entry["createdAt"]
    assert balance_of(count, ACCRUED) == "-5700.50"

    deleted = count.delete(f"/journal-entries/{entry['id']}")
    assert deleted.status_code == 200 and deleted.get_json()["data"] == {"id": entry["id"]}
    assert balance_of(count, ACCRUED) == "-4500.00"
    assert_error(count.delete(f"/journal-entries/{entry['id']}"), 404, "not_found", "Journal entry not found")


def test_listed_entries_follow_changes_to_them_and_to_their_accounts(count):
    """Listed entries are encoded once and reused (mock_server/wirecache.py): a list after a change shows it."""
    created = count.post("/journal-entries", entry_body(refNumber="CACHE-1")).get_json()["data"]

    def listed():
        return count.get("/journal-entries", params={"search": "cache-1"}).get_json()["data"]["journalEntries"]

    assert listed() == [created] and listed() == [created]  # the second read is the cached encoding
    assert count.patch(f"/chart-of-accounts/{RENT}", {"name": "Premises Rent"}).status_code == 200
    assert [line["accountName"] for line in listed()[0]["lines"]] == ["Premises Rent", "Accrued Liabilities"]
    assert count.patch(f"/journal-entries/{created['id']}", {"descriptionEntry": "Revised"}).status_code == 200
    assert listed()[0]["descriptionEntry"] == "Revised"
    assert count.delete(f"/journal-entries/{created['id']}").status_code == 200
    assert listed() == []


def test_list_pages_newest_first_and_filters_dates(count):
    for day in ("2025-02-10", "2025-02-11", "2025-02-12"):
        assert count.post("/journal-entries", entry_body(date=day)).status_code == 201
    page = count.get("/journal-entries", params={"limit": 2}).get_json()["data"]
    assert page["totalRecords"] == 7 and page["page"] == 1 and page["limit"] == 2
    assert [e["date"] for e in page["journalEntries"]] == ["2025-02-12", "2025-02-11"]
    last = count.get("/journal-entries", params={"limit": 2, "page": 4}).get_json()["data"]
    assert [e["date"] for e in last["journalEntries"]] == ["2024-12-01"]
    past = count.get("/journal-entries", params={"limit": 2, "page": 9}).get_json()["data"]
    assert past["journalEntries"] == [] and past["totalRecords"] == 7
    ranged = count.get("/journal-entries", params={"startDate": "2025-01-31", "endDate": "2025-02-10"})
    assert [e["date"] for e in ranged.get_json()["data"]["journalEntries"]] == [
        "2025-02-10", "2025-02-03", "2025-01-31", "2025-01-31"]


@pytest.mark.parametrize("params, field", [({"page": 0}, "page"), ({"limit": 101}, "limit"), ({"page": "x"}, "page"),
                                           ({"startDate": "31/01/2025"}, "startDate")])
def test_bad_list_parameters_are_400(count, params, field):
    assert_error(count.get("/journal-entries", params=params), 400, "validation_error", field)


@pytest.mark.parametrize("body, status, error, message", [
    (entry_body((RENT, "1000.00", None), (ACCRUED, None, "999.99")), 400, "unbalanced_entry",
     "Total debits must equal total credits"),
    (entry_body((RENT, "10.00", None), (SOFTWARE, "10.00", None)), 400, "validation_error", "one credit line"),
    (entry_body((RENT, "10.00", None)), 400, "validation_error", "lines"),
    (entry_body((RENT, "10.005", None), (ACCRUED, None, "10.005")), 400, "validation_error", ""),
    (entry_body((RENT, 10.005, None), (ACCRUED, None, 10.005)), 400, "validation_error", "at most 2 decimal"),
    (entry_body((RENT, "0", None), (ACCRUED, None, "0")), 400, "validation_error", "greater than 0"),
    (entry_body(("99999999-9999-4999-8999-999999999999", "5.00", None), (ACCRUED, None, "5.00")), 400,
     "reference_not_found", "Account not found"),
    (entry_body((NORTHWIND_CHECKING, "5.00", None), (ACCRUED, None, "5.00")), 400, "reference_not_found",
     "Account not found"),
    (entry_body(date="2024-12-15"), 400, "period_closed", "closed period"),
    (entry_body(date="2025-02-30"), 400, "validation_error", "date"),
    ({"descriptionEntry": "x", "date": "2025-02-01", "lines": [
        {"accountUuid": RENT, "amountDebit": "5.00", "amountCredit": "5.00"},
        {"accountUuid": ACCRUED, "amountCredit": "5.00"}]}, 400, "validation_error", "exactly one of"),
])
def test_rule_violations_are_refused_and_nothing_is_stored(count, body, status, error, message):
    assert_error(count.post("/journal-entries", body), status, error, message)
    assert count.get("/journal-entries").get_json()["data"]["totalRecords"] == 4


def test_closed_period_is_writable_with_caution(count):
    created = count.post("/journal-entries", entry_body(date="2024-12-15", withCaution=True))
    assert created.status_code == 201 and created.get_json()["data"]["withCaution"] is True


def test_generated_entries_are_not_editable(count):
    depreciation = "e0000000-0000-4000-8000-000000000003"
    assert_error(count.patch(f"/journal-entries/{depreciation}", {"refNumber": "X"}), 400, "not_editable")
    assert_error(count.delete(f"/journal-entries/{depreciation}"), 400, "not_editable")


def test_update_needs_a_known_field_and_a_balanced_replacement(count):
    entry_id = "e0000000-0000-4000-8000-000000000004"
    assert_error(count.patch(f"/journal-entries/{entry_id}", {"somethingElse": 1}), 400, "validation_error",
                 "at least one of")
    unbalanced = {"lines": [{"accountUuid": RENT, "amountDebit": "1"}, {"accountUuid": CHECKING, "amountCredit": "2"}]}
    assert_error(count.patch(f"/journal-entries/{entry_id}", unbalanced), 400, "unbalanced_entry")
    assert count.get("/journal-entries", params={"search": "PP-2025-02"}).get_json()["data"]["journalEntries"][0][
        "totalDebit"] == "2400.00"


def test_other_workspaces_entries_are_invisible(app, count):
    other = CountClient(app, client_id="lm_count_client_other",
                        secret="lm_count_secret_other_0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e",
                        token="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ3b3Jrc3BhY2UiOiJub3J0aHdpbmQifQ."
                              "bG1fY291bnRfb3RoZXJfYWNjZXNz")
    theirs = "e1000000-0000-4000-8000-000000000001"
    assert other.get("/journal-entries").get_json()["data"]["totalRecords"] == 1
    assert_error(count.patch(f"/journal-entries/{theirs}", {"refNumber": "mine"}), 404, "not_found")
    assert_error(count.delete(f"/journal-entries/{theirs}"), 404, "not_found")
    assert_error(count.delete("/journal-entries/not-a-uuid"), 404, "not_found")


def test_bulk_rows_succeed_or_fail_alone(count):
    response = count.post("/journal-entries/bulk", {"journalEntries": [
        entry_body(description="good"),
        entry_body((RENT, "5.00", None), (ACCRUED, None, "4.00")),
        {"descriptionEntry": "no lines", "date": "2025-02-01"},
    ]})
    assert response.status_code == 201
    data = response.get_json()["data"]
    assert (data["successCount"], data["errorCount"]) == (1, 2)
    good, unbalanced, shapeless = data["results"]
    assert good["success"] and len(good["journalEntry"]) == 2 and good["journalEntry"][0]["amountDebit"] == "1000.00"
    assert unbalanced == {"index": 1, "success": False,
                          "error": "Total debits must equal total credits (debits 5.00, credits 4.00)."}
    assert shapeless["success"] is False and "lines" in shapeless["error"]
    assert_error(count.post("/journal-entries/bulk", {"journalEntries": []}), 400, "validation_error")
    assert_error(count.post("/journal-entries/bulk", {"journalEntries": [entry_body()] * 101}), 400,
                 "validation_error")


def test_concurrent_creates_keep_every_entry_and_a_zero_trial_balance(app):
    """8 threads x 200 creates through the whole HTTP pipeline, each with its own signed requests."""
    failures = []

    def worker(n):
        client = CountClient(app)
        for i in range(200):
            response = client.post("/journal-entries", entry_body(description=f"w{n}-{i}", date="2025-02-14"))
            if response.status_code != 201:
                failures.append(response.get_json())

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    count = CountClient(app)
    data = count.get("/journal-entries", params={"startDate": "2025-02-14", "limit": 100}).get_json()["data"]
    assert data["totalRecords"] == 1600
    accounts = count.get("/chart-of-accounts", params={"includeBalances": "true"}).get_json()["data"]["accounts"]
    from decimal import Decimal
    assert sum(Decimal(a["balance"]) for a in accounts) == 0
    assert next(a["balance"] for a in accounts if a["id"] == RENT) == "1604500.00"


def test_a_draft_entry_is_listed_but_moves_no_balance_until_posted(count):
    """Seed 000: a journal entry header has a status. A draft is stored and listed, counts in no balance, and
    PATCH `status: posted` posts it; a posted entry does not go back to draft."""
    before = balances(count)
    created = count.post("/journal-entries", entry_body(status="draft"))
    assert created.status_code == 201, created.get_json()
    draft = created.get_json()["data"]
    assert draft["status"] == "draft" and draft["totalDebit"] == "1000.00"
    listed = count.get("/journal-entries", params={"limit": 100}).get_json()["data"]["journalEntries"]
    assert any(e["id"] == draft["id"] and e["status"] == "draft" for e in listed)
    assert balances(count) == before
    assert count.patch(f"/journal-entries/{draft['id']}", {"refNumber": "JE-7"}).get_json()["data"]["status"] == \
        "draft"
    assert balances(count) == before

    posted = count.patch(f"/journal-entries/{draft['id']}", {"status": "posted"})
    assert posted.status_code == 200 and posted.get_json()["data"]["status"] == "posted", posted.get_json()
    after = balances(count)
    assert after[RENT] != before[RENT] and after[ACCRUED] != before[ACCRUED]
    assert_error(count.patch(f"/journal-entries/{draft['id']}", {"status": "draft", "refNumber": "JE-8"}), 400,
                 "validation_error")
    assert count.get("/journal-entries", params={"search": "JE-8"}).get_json()["data"]["totalRecords"] == 0
    assert_error(count.post("/journal-entries", entry_body(status="approved")), 400, "validation_error", "status")
    assert count.post("/journal-entries", entry_body(status="posted")).get_json()["data"]["status"] == "posted"
