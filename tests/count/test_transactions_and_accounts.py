"""Transactions, the chart of accounts, vendors, customers and tags over HTTP."""

from __future__ import annotations

import pytest

from tests.count.conftest import (AR_SYSTEM, BLUE_DOOR, CHECKING, CITYSIDE, HIGHLAND, RECONCILED, RENT, RETAIL, SALES,
                                  SOFTWARE, UNCATEGORISED, VISA, assert_error, balances, entry_body)

def test_transaction_round_trip_posts_to_balances(count):
    before = balances(count)
    created = count.post("/transactions", {"accountUuid": CHECKING, "amount": 49.5, "date": "2025-02-10",
                                           "categoryAccountId": SOFTWARE, "description": "GITHUB", "type": "EXPENSE",
                                           "vendorUuid": CITYSIDE, "tagUuids": [RETAIL]})
    assert created.status_code == 201, created.get_json()
    t = created.get_json()["data"]
    assert (t["accountId"], t["categoryAccountId"], t["amount"], t["type"], t["postedDate"]) == (
        CHECKING, SOFTWARE, "49.50", "Expense", "2025-02-10")
    assert not any(t[f] for f in ("reviewed", "excluded", "pending", "split", "reconciled"))
    assert t["currency"] == "USD"
    after = balances(count)
    assert after[CHECKING] == "51880.15" and after[SOFTWARE] == "49.50" and before[SOFTWARE] == "0.00"
    assert count.get(f"/transactions/{t['id']}").get_json()["data"] == t

    patched = count.patch(f"/transactions/{t['id']}", {"amount": "60.00", "notes": "annual", "vendorUuid": None,
                                                       "billId": 7, "colour": "red"})
    body = patched.get_json()["data"]
    assert patched.status_code == 200 and body["amount"] == "60.00" and body["vendorUuid"] is None
    assert {(w["field"], w["reason"]) for w in body["_partnerWarnings"]} == {("billId", "internal_only"),
                                                                              ("colour", "unknown_field")}
    assert balances(count)[SOFTWARE] == "60.00"

    moved = count.patch(f"/transactions/{t['id']}/change-category", {"categoryAccountUuid": RENT, "autoReview": True})
    assert moved.status_code == 200 and moved.get_json()["data"]["reviewed"] is True
    assert balances(count)[SOFTWARE] == "0.00"
    assert_error(count.patch(f"/transactions/{t['id']}/change-category", {"categoryAccountUuid": SOFTWARE}), 400,
                 "not_editable", "reviewed")
    assert count.delete(f"/transactions/{t['id']}").status_code == 200
    assert balances(count) == before


def test_type_is_inferred_from_the_category(count):
    def created(category):
        return count.post("/transactions", {"accUuid": CHECKING, "amount": "10", "postedDate": "2025-02-11",
                                            "categoryAccountUuid": category}).get_json()["data"]["type"]
    assert (created(SALES), created(VISA), created(RENT)) == ("Income", "Transfer", "Expense")


@pytest.mark.parametrize("body, error, message", [
    ({"accUuid": CHECKING, "amount": "5", "postedDate": "2025-02-01", "vendorId": 12}, "validation_error",
     "numeric `vendorId` is not accepted; use `vendorUuid`"),
    ({"accUuid": CHECKING, "amount": "5", "postedDate": "2025-02-01", "tags": ["x"]}, "validation_error", "tagUuids"),
    ({"accUuid": RENT, "amount": "5", "postedDate": "2025-02-01"}, "validation_error", "bank, card or cash"),
    ({"accUuid": CHECKING, "amount": "5", "postedDate": "2025-02-01",
      "vendorUuid": "99999999-9999-4999-8999-999999999999"}, "reference_not_found", "Vendor not found"),
    ({"accUuid": CHECKING, "amount": "5", "postedDate": "2025-02-01",
      "projectUuid": "99999999-9999-4999-8999-999999999999"}, "reference_not_found", "Project not found"),
    ({"accUuid": CHECKING, "amount": "5.001", "postedDate": "2025-02-01"}, "validation_error", ""),
    ({"amount": "5", "postedDate": "2025-02-01"}, "validation_error", "accUuid"),
])
def test_transaction_rules(count, body, error, message):
    assert_error(count.post("/transactions", body), 400, error, message)


def test_reconciled_transactions_are_locked(count):
    assert_error(count.patch(f"/transactions/{RECONCILED}", {"amount": "1.00"}), 400, "not_editable")
    assert_error(count.delete(f"/transactions/{RECONCILED}"), 400, "not_editable")
    assert count.patch(f"/transactions/{RECONCILED}", {"notes": "fine"}).status_code == 200
    assert_error(count.patch(f"/transactions/{UNCATEGORISED}", {"categoryAccountUuid": SOFTWARE}), 400,
                 "validation_error", "change-category")


def test_transaction_list_filters(count):
    data = count.get("/transactions", params={"accUuid": CHECKING}).get_json()["data"]
    # the fixture's opening balance, a journal entry on checking, is a JOURNAL row in it
    assert [t["postedDate"] for t in data["transactions"]] == ["2025-01-20", "2025-01-15", "2024-12-01"]
    assert count.get("/transactions", params={"type": "income"}).get_json()["data"]["totalRecords"] == 1
    assert count.get("/transactions", params={"reconciled": "true"}).get_json()["data"]["transactions"][0]["id"] == \
        RECONCILED
    assert count.get("/transactions", params={"tagUuids": f"{RETAIL},d0000000-0000-4000-8000-000000000002"}
                     ).get_json()["data"]["totalRecords"] == 1
    assert_error(count.get("/transactions", params={"type": "income", "transactionTypes": "expense"}), 400,
                 "validation_error", "not both")


def test_account_lifecycle_and_delete_blocks(count):
    created = count.post("/chart-of-accounts", {"name": "Marketing", "subTypeId": 15, "accountNumber": "6300"})
    assert created.status_code == 201
    account = created.get_json()["data"]
    assert (account["type"], account["subType"]["name"], account["editable"]) == ("Expenses", "Operating Expenses", True)
    assert_error(count.post("/chart-of-accounts", {"name": "Dup", "subTypeId": 15, "accountNumber": "6300"}), 400,
                 "duplicate", "6300")
    assert_error(count.post("/chart-of-accounts", {"name": "X", "subTypeId": 999}), 400, "reference_not_found",
                 "Account sub type not found")
    assert_error(count.patch(f"/chart-of-accounts/{account['id']}", {"subTypeId": 12}), 400, "validation_error",
                 "same account type")
    assert count.patch(f"/chart-of-accounts/{account['id']}", {"subTypeId": 17}).status_code == 200

    entry = count.post("/journal-entries", entry_body((account["id"], "10.00", None), (CHECKING, None, "10.00")))
    meta = count.get("/chart-of-accounts", params={"includeDeleteMeta": "true", "search": "6300"}).get_json()
    assert meta["data"]["accounts"][0]["canDelete"] is False
    assert meta["data"]["accounts"][0]["deleteBlockedReason"] == "HAS_JOURNAL_ENTRIES"
    assert_error(count.delete(f"/chart-of-accounts/{account['id']}"), 400, "delete_blocked", "HAS_JOURNAL_ENTRIES")
    count.delete(f"/journal-entries/{entry.get_json()['data']['id']}")
    assert count.delete(f"/chart-of-accounts/{account['id']}").status_code == 200


def test_system_accounts_are_protected(count):
    assert_error(count.patch(f"/chart-of-accounts/{AR_SYSTEM}", {"name": "Mine"}), 403, "forbidden")
    assert_error(count.delete(f"/chart-of-accounts/{AR_SYSTEM}"), 403, "forbidden")


def test_the_seeds_account_id_filters_the_list_like_acc_uuid(count):
    """seed-002 "Filtering & Pagination" names the bank-account filter `accountId`: it is `accUuid`'s alias."""
    def listed(**params):
        return count.get("/transactions", params=params)

    everything = listed().get_json()["data"]["totalRecords"]
    by_acc_uuid = listed(accUuid=CHECKING)
    by_account_id = listed(accountId=CHECKING)
    assert by_account_id.status_code == 200 and not by_account_id.headers.getlist("X-Ledger-Mock-Warning")
    rows = by_account_id.get_json()["data"]["transactions"]
    assert rows == by_acc_uuid.get_json()["data"]["transactions"] and len(rows) < everything
    assert {t["accountId"] for t in rows} == {CHECKING}
    assert listed(accountId=CHECKING, accUuid=CHECKING).get_json()["data"]["transactions"] == rows  # one filter
    for other in ("accUuid", "accountUuid"):
        assert_error(listed(accountId=CHECKING, **{other: VISA}), 400, "validation_error", "accountId")
    clash = assert_error(listed(accUuid=CHECKING, accountId=VISA), 400, "validation_error", "`accUuid`")
    assert "`accountId`" in clash["message"]
    assert_error(listed(accountId="not-a-uuid"), 400, "validation_error", "accountId")


def test_inactive_accounts_leave_lists_and_take_no_postings(count):
    count.patch(f"/chart-of-accounts/{SOFTWARE}", {"status": "inactive"})
    names = [a["name"] for a in count.get("/chart-of-accounts").get_json()["data"]["accounts"]]
    assert "Software Subscriptions" not in names
    assert "Software Subscriptions" in [a["name"] for a in count.get(
        "/chart-of-accounts", params={"inactive": "true"}).get_json()["data"]["accounts"]]
    assert_error(count.post("/journal-entries", entry_body((SOFTWARE, "1", None), (CHECKING, None, "1"))), 400,
                 "reference_not_found")


def test_accounts_order_by_number_and_sub_types_filter(count):
    numbers = [a["accountNumber"] for a in count.get("/chart-of-accounts").get_json()["data"]["accounts"]]
    assert numbers == sorted(numbers)
    sub_types = count.get("/account-sub-types", params={"type": "Liabilities"}).get_json()["data"]
    assert {s["name"] for s in sub_types["subTypes"]} == {"Credit Card", "Accounts Payable",
                                                           "Other Current Liabilities", "Long Term Liabilities"}


def test_bulk_accounts_and_transactions(count):
    accounts = count.post("/chart-of-accounts/bulk", {"accounts": [{"name": "A", "subTypeId": 15},
                                                                   {"name": "B", "subTypeId": 999}]}).get_json()["data"]
    assert (accounts["successCount"], accounts["errorCount"]) == (1, 1)
    assert accounts["results"][1]["error"] == "Account sub type not found."
    rows = count.post("/transactions/bulk", {"transactions": [
        {"accUuid": CHECKING, "amount": "1.00", "postedDate": "2025-02-01"}]}).get_json()["data"]
    assert rows["successCount"] == 1 and rows["results"][0]["transaction"]["amount"] == "1.00"


def test_vendors_customers_tags(count):
    vendor = count.post("/vendors", {"vendor": "Roast Supply Co"}).get_json()["data"]
    assert vendor["name"] == "Roast Supply Co"
    assert count.patch(f"/vendors/{vendor['id']}", {"email": "ap@roast.example"}).get_json()["data"]["email"] == \
        "ap@roast.example"
    assert_error(count.delete(f"/vendors/{HIGHLAND}"), 400, "delete_blocked")
    assert count.delete(f"/vendors/{vendor['id']}").status_code == 200

    assert_error(count.post("/customers", {"customer": "Copy", "email": "OWNER@bluedoor.example"}), 400, "duplicate")
    updated = count.put(f"/customers/{BLUE_DOOR}", {"notes": "VIP"}).get_json()["data"]
    assert updated["notes"] == "VIP" and updated["customer"] == "Blue Door Cafe"
    assert count.get(f"/customers/{BLUE_DOOR}").get_json()["data"]["billingAddress"]["city"] == "Portland"

    assert_error(count.post("/tags", {"name": "retail"}), 400, "duplicate", "Tag name already exists")
    assert [t["name"] for t in count.get("/tags", params={"search": "w"}).get_json()["data"]["tags"]] == ["Wholesale"]
    tagged = count.get("/transactions", params={"tagUuids": "d0000000-0000-4000-8000-000000000002"})
    assert tagged.get_json()["data"]["totalRecords"] == 1
    assert count.delete("/tags/d0000000-0000-4000-8000-000000000002").status_code == 200
    assert count.get(f"/transactions/{RECONCILED}").get_json()["data"]["tagUuids"] == []
    assert_error(count.get("/tags/d0000000-0000-4000-8000-000000000002"), 404, "not_found", "Tag not found")


def test_unset_description_and_notes_both_come_back_null(count):
    """Dossier section 5: unset outputs are null; a missing description and a missing notes come back alike."""
    made = count.post("/transactions", {"accUuid": CHECKING, "amount": "1.00", "postedDate": "2025-02-01"})
    data = made.get_json()["data"]
    assert (data["description"], data["notes"]) == (None, None)
    cleared = count.patch(f"/transactions/{data['id']}", {"description": "x", "notes": "y"}).get_json()["data"]
    assert (cleared["description"], cleared["notes"]) == ("x", "y")
    cleared = count.patch(f"/transactions/{data['id']}", {"description": None, "notes": None}).get_json()["data"]
    assert (cleared["description"], cleared["notes"]) == (None, None)


def test_journal_entries_on_a_bank_account_are_journal_transactions(count):
    """Seed 002: type JOURNAL is "accounting adjustments created via journal entries", and a transaction belongs to
    a bank or financial account. A posted entry's line on such an account is a JOURNAL row in its transactions (the
    row's id is the line's), filtered by `type`, read-only, gone with its entry, and never posted twice."""
    def journal_rows():
        data = count.get("/transactions", params={"type": "JOURNAL", "limit": 100}).get_json()["data"]
        return {t["id"]: t for t in data["transactions"]}

    before_rows, before = journal_rows(), balances(count)
    accrual = count.post("/journal-entries", entry_body()).get_json()["data"]  # rent against accrued: no bank
    assert journal_rows() == before_rows
    entry = count.post("/journal-entries", entry_body((RENT, "300.00", None), (CHECKING, None, "300.00"),
                                                      description="Pay rent")).get_json()["data"]
    line = next(l for l in entry["lines"] if l["accountUuid"] == CHECKING)
    rows = journal_rows()
    assert set(rows) - set(before_rows) == {line["id"]}
    row = rows[line["id"]]
    assert (row["type"], row["accountId"], row["amount"], row["postedDate"], row["description"]) == (
        "Journal Entry", CHECKING, "300.00", "2025-01-31", "Pay rent")
    assert count.get(f"/transactions/{line['id']}").get_json()["data"] == row
    assert line["id"] not in {t["id"] for t in count.get("/transactions", params={"type": "EXPENSE", "limit": 100}
                                                         ).get_json()["data"]["transactions"]}
    after = balances(count)
    assert after[CHECKING] == f"{float(before[CHECKING]) - 300:.2f}"  # once, by the entry
    row_path = f"/transactions/{line['id']}"
    for answer in (count.patch(row_path, {"notes": "x"}), count.delete(row_path),
                   count.patch(f"{row_path}/change-category", {"categoryAccountUuid": SOFTWARE})):
        assert_error(answer, 400, "not_editable", entry["id"])

    count.patch(f"/journal-entries/{entry['id']}", {"date": "2025-02-02", "descriptionEntry": "Rent paid"})
    moved = count.get(f"/transactions/{line['id']}").get_json()["data"]
    assert (moved["postedDate"], moved["description"]) == ("2025-02-02", "Rent paid")
    draft = count.post("/journal-entries", entry_body((RENT, "5.00", None), (CHECKING, None, "5.00"),
                                                      status="draft")).get_json()["data"]
    assert len(journal_rows()) == len(before_rows) + 1  # a draft moves no money
    count.patch(f"/journal-entries/{draft['id']}", {"status": "posted"})
    assert len(journal_rows()) == len(before_rows) + 2
    for made in (entry, draft, accrual):
        assert count.delete(f"/journal-entries/{made['id']}").status_code == 200
    assert journal_rows() == before_rows and balances(count) == before


def test_patch_updates_date_type_and_the_flags_the_docs_let_a_client_set(count):
    """count-cli COUNT_update_transaction: PATCH takes the "regular safe Transaction columns" (`date` is
    `postedDate` as on create, `type`); `excluded` and `reviewed` are set here (the docs' exclude-bulk refuses
    reviewed, reconciled and pending rows, so does this); `pending` (bank feed) and `split` (the split call) are
    COUNT's own: ignored with an `internal_only` warning."""
    before = balances(count)
    made = count.post("/transactions", {"accUuid": CHECKING, "amount": "20.00", "postedDate": "2025-02-01",
                                        "categoryAccountUuid": SALES, "type": "INCOME"}).get_json()["data"]
    assert balances(count)[CHECKING] == f"{float(before[CHECKING]) + 20:.2f}"
    changed = count.patch(f"/transactions/{made['id']}", {"date": "2025-02-05", "type": "EXPENSE"})
    assert changed.status_code == 200, changed.get_json()
    data = changed.get_json()["data"]
    assert (data["postedDate"], data["type"]) == ("2025-02-05", "Expense")
    assert count.get(f"/transactions/{made['id']}").get_json()["data"]["postedDate"] == "2025-02-05"
    assert balances(count)[CHECKING] == f"{float(before[CHECKING]) - 20:.2f}"  # an expense now: money out

    excluded = count.patch(f"/transactions/{made['id']}", {"excluded": True})
    assert excluded.status_code == 200 and excluded.get_json()["data"]["excluded"] is True, excluded.get_json()
    assert made["id"] not in {t["id"] for t in count.get("/transactions", params={"limit": 100}
                                                         ).get_json()["data"]["transactions"]}
    assert count.patch(f"/transactions/{made['id']}", {"excluded": False}).get_json()["data"]["excluded"] is False
    assert count.patch(f"/transactions/{made['id']}", {"reviewed": True}).get_json()["data"]["reviewed"] is True
    assert_error(count.patch(f"/transactions/{made['id']}", {"excluded": True}), 400, "not_editable", "reviewed")
    assert_error(count.patch(f"/transactions/{RECONCILED}", {"excluded": True}), 400, "not_editable", "excluded")

    flagged = count.patch(f"/transactions/{made['id']}", {"pending": True, "split": True, "notes": "n"})
    data = flagged.get_json()["data"]
    assert (data["pending"], data["split"], data["notes"]) == (False, False, "n")
    assert {(w["field"], w["reason"]) for w in data["_partnerWarnings"]} == {("pending", "internal_only"),
                                                                             ("split", "internal_only")}
    assert_error(count.patch(f"/transactions/{made['id']}", {"type": "loan"}), 400, "validation_error", "type")


def test_uncategorised_transactions_stay_in_the_review_queue(count):
    """Seed 002: "Uncategorized transactions will appear in COUNT's review queue": the unreviewed rows a client lists
    with `reviewed=false`. An uncategorised row cannot be marked reviewed until it has a category."""
    def queue():
        data = count.get("/transactions", params={"reviewed": "false", "limit": 100}).get_json()["data"]
        return {t["id"] for t in data["transactions"]}

    made = count.post("/transactions", {"accUuid": CHECKING, "amount": "8.00", "postedDate": "2025-02-01"}
                      ).get_json()["data"]
    assert made["id"] in queue() and UNCATEGORISED in queue()
    assert_error(count.patch(f"/transactions/{made['id']}", {"reviewed": True}), 400, "not_editable", "category")
    assert_error(count.patch(f"/transactions/{made['id']}/change-category",
                             {"categoryAccountUuid": None, "autoReview": True}), 400, "not_editable", "category")
    assert made["id"] in queue()
    reviewed = count.patch(f"/transactions/{made['id']}/change-category",
                           {"categoryAccountUuid": SOFTWARE, "autoReview": True})
    assert reviewed.get_json()["data"]["reviewed"] is True and made["id"] not in queue()
