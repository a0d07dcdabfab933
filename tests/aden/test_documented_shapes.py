"""Answers in the shapes Aden's reference pages show (aden-docs api-reference/general-ledger/): the period-close
checklist, the account balance, the audit trail's details, and the documented defaults."""

from __future__ import annotations

from tests.aden.conftest import (APPROVER1, CLERK, MANUAL_ADMIN, AdenClient, assert_error, entry_body, make_entry,
                                 ok, submitted)

DOCUMENT_TYPES = {"journal_entries", "bills", "invoices", "bill_payments", "invoice_payments", "credit_memos"}
UNPOSTED_STATUSES = {"draft", "pending_approval", "on_hold", "approved"}


def test_unposted_entries_are_grouped_by_document_type_and_status(aden):
    """accounting-periods/unposted-entries: `period_name`, `total_unposted`, `by_document_type.<type>.<status>`
    lists of `{id, memo, amount, created_at}`, and `summary.by_status` counts."""
    body = ok(aden.get("/accounting-periods/P2025M02/unposted-entries"))
    assert (body["period_id"], body["period_name"], body["total_unposted"]) == ("P2025M02", "February 2025", 3)
    assert set(body["by_document_type"]) == DOCUMENT_TYPES
    assert all(set(by_status) == UNPOSTED_STATUSES for by_status in body["by_document_type"].values())
    journal = body["by_document_type"]["journal_entries"]
    assert journal["draft"] == [{"id": "JE-2025-0001", "memo": "Office supplies", "amount": 320,
                                 "created_at": "2025-02-15T12:00:00Z"}]
    assert [e["id"] for e in journal["pending_approval"]] == ["JE-2025-0002"]
    assert [(e["id"], e["amount"]) for e in journal["on_hold"]] == [("JE-2025-0003", 1200)]
    assert journal["approved"] == []
    assert body["summary"] == {"by_status": {"draft": 1, "pending_approval": 1, "on_hold": 1, "approved": 0}}


def test_a_period_with_nothing_unposted_answers_empty_lists(aden):
    body = ok(aden.get("/accounting-periods/P2025M01/unposted-entries"))
    assert body["total_unposted"] == 0
    assert body["by_document_type"]["credit_memos"] == {status: [] for status in UNPOSTED_STATUSES}
    assert body["summary"]["by_status"] == dict.fromkeys(UNPOSTED_STATUSES, 0)


def test_close_refused_by_unposted_entries_counts_them_per_type_and_status(aden_app):
    """accounting-periods/close, 409: `details: {"journal_entries": {"draft": 3, "pending_approval": 2}, ...}`."""
    refused = assert_error(AdenClient(aden_app).post("/accounting-periods/P2025M02/close"), 409, "UNPOSTED_ENTRIES")
    assert refused["details"] == {"journal_entries": {"draft": 1, "pending_approval": 1, "on_hold": 1}}
    manual = assert_error(AdenClient(aden_app, MANUAL_ADMIN).post("/accounting-periods/EU2025M02/close"), 409,
                          "UNPOSTED_ENTRIES")
    assert manual["details"] == {"journal_entries": {"approved": 1}}


def test_account_balance_names_the_account_type_and_currency(aden):
    """accounts/balance: the answer carries `account_type` and `currency`, exactly the documented fields."""
    body = ok(aden.get("/accounts/1100/balance", params={"start_date": "2025-01-01", "end_date": "2025-01-31"}))
    assert body == {"account_id": "1100", "account_name": "Accounts Receivable", "account_type": "Asset",
                    "currency": "USD", "start_date": "2025-01-01", "end_date": "2025-01-31", "opening_balance": 0,
                    "total_debits": 4000, "total_credits": 0, "net_change": 4000, "ending_balance": 4000}


def test_account_balance_needs_both_dates(aden):
    """accounts/balance documents `start_date` and `end_date` as required query parameters."""
    for params in ({}, {"start_date": "2025-01-01"}, {"end_date": "2025-01-31"}):
        missing = "start_date" if "start_date" not in params else "end_date"
        assert_error(aden.get("/accounts/1100/balance", params=params), 400, "VALIDATION_ERROR", missing)


def test_audit_trail_details_use_the_documented_keys(aden_app):
    """journal-entries/workflow "Get Audit Trail": Created `{status}`, Submit for Approval `{status,
    required_level}`, Approve `{level, comments}`, Post to GL `{status}`."""
    clerk = AdenClient(aden_app, CLERK)
    submitted(clerk, "JE-DOC", 500)
    ok(clerk.as_(APPROVER1).post("/journal-entries/JE-DOC/approve", {"comments": "Approved - amounts verified"}))
    trail = ok(clerk.get("/journal-entries/JE-DOC/audit-trail"))["audit_trail"]
    assert [(r["action"], r["performed_by"], r["details"]) for r in trail] == [
        ("Created", "usr_clerk", {"status": "Draft"}),
        ("Submit for Approval", "usr_clerk", {"status": "Pending Approval", "required_level": 1}),
        ("Approve", "usr_approver1", {"level": 1, "comments": "Approved - amounts verified"}),
        ("Post to GL", "system", {"status": "Posted"})]


def test_currency_defaults_to_usd_as_documented(aden_app):
    """journal-entries/create: `currency` string, default="USD"; the EUR entity's entries too, unless sent."""
    euro_books = AdenClient(aden_app, MANUAL_ADMIN)
    assert make_entry(euro_books, "EU-CUR", 40, date="2025-02-10", debit="6300", credit="1010")["currency"] == "USD"
    sent = ok(euro_books.post("/journal-entries", entry_body("EU-CUR2", 40, date="2025-02-10", credit="1010",
                                                             currency="EUR")), 201)
    assert sent["currency"] == "EUR"
    assert make_entry(AdenClient(aden_app), "JE-CUR", 40)["currency"] == "USD"
