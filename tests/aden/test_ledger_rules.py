"""Entries and the books: validation, periods, balances through post/void/reverse, manual posting."""

from __future__ import annotations

import pytest

from tests.aden.conftest import (APPROVER1, MANUAL_ADMIN, MANUAL_APPROVER1, AdenClient, assert_error, entry_body,
                                 make_entry, ok, submitted)


def balance(client, account_id):
    return ok(client.get(f"/accounts/{account_id}"))["balance"]


# -- validation ----------------------------------------------------------------------------------------------

def test_unbalanced_entry_names_the_difference(aden):
    body = entry_body("JE-UNB", 500)
    body["lines"][1]["credit"] = 450
    error = assert_error(aden.post("/journal-entries", body), 400, "UNBALANCED_ENTRY", "must equal")
    assert error["details"] == {"total_debits": 500, "total_credits": 450, "difference": 50}
    assert_error(aden.get("/journal-entries/JE-UNB"), 404, "NOT_FOUND")


@pytest.mark.parametrize("lines,part", [
    ([{"account_id": "6300", "debit": 5, "credit": 5}, {"account_id": "1010", "credit": 5}], "exactly one"),
    ([{"account_id": "6300", "debit": 0}, {"account_id": "1010", "credit": 0}], "exactly one"),
    ([{"account_id": "6300", "debit": 0.001}, {"account_id": "1010", "credit": 0.001}], "2 decimal"),
    ([{"account_id": "6300", "debit": -5}, {"account_id": "1010", "debit": 5}], "body"),
    ([{"account_id": "6300", "debit": 5, "line_number": 1}, {"account_id": "1010", "credit": 5, "line_number": 1}],
     "unique"),
    ([{"account_id": "6300", "debit": 5}], "body"),
])
def test_line_rules(aden, lines, part):
    body = {"journal_entry_id": "JE-BAD", "tran_date": "2025-02-12", "lines": lines}
    assert_error(aden.post("/journal-entries", body), 400, "VALIDATION_ERROR", part)


def test_cents_are_exact(aden):
    entry = make_entry(aden, "JE-CENTS", 0.07)
    assert entry["total_debit"] == entry["total_credit"] == 0.07


@pytest.mark.parametrize("account,code", [("9999", "ACCOUNT_NOT_FOUND"), ("1500", "ACCOUNT_INACTIVE"),
                                          ("1001", "VALIDATION_ERROR")])
def test_accounts_must_be_usable(aden, account, code):
    error = assert_error(aden.post("/journal-entries", entry_body("JE-ACC", 10, debit=account)), 400, code, account)
    assert error["details"]["account_id"] == account


def test_entry_ids(aden):
    make_entry(aden, "JE-DUP")
    error = assert_error(aden.post("/journal-entries", entry_body("JE-DUP")), 400, "VALIDATION_ERROR", "exists")
    assert error["details"] == {"field": "journal_entry_id", "value": "JE-DUP"}
    body = entry_body("JE-A")
    body["entry_id"] = "JE-B"
    assert_error(aden.post("/journal-entries", body), 400, "VALIDATION_ERROR", "must agree")
    del body["journal_entry_id"], body["entry_id"]
    assert_error(aden.post("/journal-entries", body), 400, "VALIDATION_ERROR", "required")


def test_update_replaces_lines_and_recomputes(aden):
    make_entry(aden, "JE-UPD", 100)
    updated = ok(aden.put("/journal-entries/JE-UPD", {
        "memo": "three lines", "entry_type": "Adjusting",
        "lines": [{"account_id": "6300", "debit": 60}, {"account_id": "6100", "debit": 40},
                  {"account_id": "2000", "credit": 100, "memo": "payable"}]}))
    assert (updated["memo"], updated["entry_type"], updated["total_debit"]) == ("three lines", "Adjusting", 100)
    assert [(line["line_number"], line["account_name"]) for line in updated["lines"]] == [
        (1, "Office Supplies"), (2, "Rent Expense"), (3, "Accounts Payable")]
    moved = ok(aden.put("/journal-entries/JE-UPD", {"tran_date": "2025-01-10"}))
    assert moved["posting_period_id"] == "P2025M01"  # the period followed the date: it was never named


# -- periods -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("date,period,status,code", [
    ("2023-12-15", None, 409, "PERIOD_CLOSED"),
    ("2023-11-15", None, 409, "PERIOD_CLOSED"),
    ("2024-03-15", None, 409, "SUBLEDGER_LOCKED"),
    ("2022-06-01", None, 400, "PERIOD_NOT_FOUND"),
    ("2025-02-12", "P2025M01", 400, "DATE_OUTSIDE_PERIOD"),
    ("2025-02-12", "NOPE", 400, "PERIOD_NOT_FOUND"),
])
def test_every_entry_needs_an_open_period_containing_its_date(aden, date, period, status, code):
    extra = {"posting_period_id": period} if period else {}
    assert_error(aden.post("/journal-entries", entry_body("JE-PER", date=date, **extra)), status, code)


def test_an_ap_lock_leaves_journal_entries_alone_and_adjustment_periods_are_named_explicitly(aden):
    assert make_entry(aden, "JE-AP", date="2024-02-10")["posting_period_id"] == "P2024M02"
    adjusting = make_entry(aden, "JE-ADJ", date="2024-01-31", posting_period_id="P2024ADJ", entry_type="Adjusting")
    assert adjusting["posting_period_name"] == "FY2024 Adjustments"


def test_close_and_reopen(aden):
    error = assert_error(aden.post("/accounting-periods/P2025M02/close", {}), 409, "UNPOSTED_ENTRIES")
    assert error["details"] == {"journal_entries": {"draft": 1, "pending_approval": 1, "on_hold": 1}}
    assert ok(aden.get("/accounting-periods/P2025M02/unposted-entries"))["total_unposted"] == 3
    closed = ok(aden.post("/accounting-periods/P2025M02/close", {"force": True}))
    assert (closed["is_closed"], closed["closed_by"], closed["close_type"]) == (True, "usr_admin", "all")
    assert_error(aden.post("/accounting-periods/P2025M02/close", {"force": True}), 409, "PERIOD_CLOSED")
    assert_error(aden.post("/journal-entries", entry_body("JE-LATE")), 409, "PERIOD_CLOSED")
    assert_error(aden.post("/journal-entries/JE-2025-0001/submit-for-approval"), 409, "PERIOD_CLOSED")
    assert_error(aden.post("/accounting-periods/P2025M02/reopen", {}), 400, "VALIDATION_ERROR", "reason")
    reopened = ok(aden.post("/accounting-periods/P2025M02/reopen", {"reason": "late invoice"}))
    assert (reopened["is_closed"], reopened["reason"], reopened["reopen_type"]) == (False, "late invoice", "all")
    assert_error(aden.post("/accounting-periods/P2025M02/reopen", {"reason": "again"}), 409, "PERIOD_NOT_CLOSED")
    assert_error(aden.post("/accounting-periods/P2023M11/reopen", {"reason": "audit"}), 409, "HARD_CLOSED")
    assert ok(aden.post("/accounting-periods/P2023M12/reopen", {"reason": "audit"}))["is_closed"] is False


def test_sub_ledger_closes_leave_journal_entries_alone(aden):
    closed = ok(aden.post("/accounting-periods/P2025M03/close", {"close_type": "ap"}))
    assert (closed["is_closed"], closed["close_type"]) == (False, "ap")
    assert_error(aden.post("/accounting-periods/P2025M03/close", {"close_type": "ap"}), 409, "PERIOD_CLOSED")
    make_entry(aden, "JE-MAR", date="2025-03-03")
    assert_error(aden.post("/accounting-periods/P2025M03/reopen", {"reason": "x", "reopen_type": "ar"}), 409,
                 "PERIOD_NOT_CLOSED")
    assert ok(aden.post("/accounting-periods/P2025M03/reopen", {"reason": "x", "reopen_type": "ap"}))


def test_create_and_list_periods(aden):
    # April 2024: the fixtures' FY2024 stops at March, and their monthly periods fill only 2025 and 2026 (the clock's).
    created = ok(aden.post("/accounting-periods", {"period_name": "April 2024", "fiscal_year_id": "FY2024",
                                                   "start_date": "2024-04-01", "end_date": "2024-04-30",
                                                   "quarter": 2}), 201)
    assert len(created["period_id"]) == 18 and created["period_id"].isalnum() and created["is_closed"] is False
    overlap = {"period_name": "Bad", "fiscal_year_id": "FY2024", "start_date": "2024-04-15",
               "end_date": "2024-05-15", "quarter": 2}
    assert_error(aden.post("/accounting-periods", overlap), 400, "VALIDATION_ERROR", "overlap")
    assert ok(aden.post("/accounting-periods", {**overlap, "is_adjustment_period": True}), 201)
    backwards = {**overlap, "start_date": "2024-06-30", "end_date": "2024-06-01"}
    assert_error(aden.post("/accounting-periods", backwards), 400, "VALIDATION_ERROR")
    listed = ok(aden.get("/accounting-periods", params={"fiscal_year_id": "FY2023", "is_closed": "true"}))
    assert [p["period_id"] for p in listed["data"]] == ["P2023M11", "P2023M12"]
    page = ok(aden.get("/accounting-periods", params={"limit": 2, "offset": 1}))
    assert page["pagination"] == {"total": 32, "limit": 2, "offset": 1, "has_more": True}  # 9 + 21 monthly + 2
    assert_error(aden.get("/accounting-periods", params={"limit": 101}), 400, "VALIDATION_ERROR")


# -- balances, posting, void, reverse ------------------------------------------------------------------------

def test_balances_move_only_when_posted(aden_app):
    admin = AdenClient(aden_app)
    cash, supplies = balance(admin, "1010"), balance(admin, "6300")
    assert cash == 50000 - 2500 - 0  # opening, minus the December rent; drafts and pending entries do not count
    submitted(admin, "JE-BAL", 120.5)
    assert balance(admin, "6300") == supplies
    ok(admin.as_(APPROVER1).post("/journal-entries/JE-BAL/approve"))
    assert (balance(admin, "6300"), balance(admin, "1010")) == (supplies + 120.5, cash - 120.5)
    ok(admin.post("/journal-entries/JE-BAL/void", {"void_reason": "entered twice"}))
    assert (balance(admin, "6300"), balance(admin, "1010")) == (supplies, cash)


def test_account_balance_for_a_date_range(aden):
    january = ok(aden.get("/accounts/1100/balance", params={"start_date": "2025-01-01", "end_date": "2025-01-31"}))
    assert (january["opening_balance"], january["net_change"], january["ending_balance"]) == (0, 4000, 4000)
    revenue = ok(aden.get("/accounts/4000/balance", params={"start_date": "2025-02-01", "end_date": "2025-02-28"}))
    assert (revenue["opening_balance"], revenue["net_change"], revenue["ending_balance"]) == (4000, 0, 4000)
    assert_error(aden.get("/accounts/1100/balance", params={"start_date": "2025-02-01", "end_date": "2025-01-01"}),
                 400, "VALIDATION_ERROR")
    listed = ok(aden.get("/accounts", params={"accounting_period_id": "P2023M12", "account_type": "Expense"}))
    assert {a["account_id"]: a["balance"] for a in listed["data"]} == {"6100": 2500, "6300": 0, "6400": 0}


def test_reverse_creates_a_swapped_draft_that_offsets_once_posted(aden_app):
    admin = AdenClient(aden_app)
    receivable = balance(admin, "1100")
    reversal = ok(admin.post("/journal-entries/JE-2025-0004/reverse", {"reversal_date": "2025-02-20"}), 201)
    assert (reversal["journal_entry_id"], reversal["entry_type"], reversal["status"]) == (
        "JE-2025-0004-REV", "Reversing", "Draft")
    assert (reversal["original_entry_id"], reversal["memo"]) == ("JE-2025-0004", "Reversal of JE-2025-0004")
    assert [(l["account_id"], l["debit"], l["credit"]) for l in reversal["lines"]] == [
        ("1100", 0, 4000), ("4000", 4000, 0)]
    assert reversal["posting_period_id"] == "P2025M02"
    assert ok(admin.get("/journal-entries/JE-2025-0004"))["status"] == "Posted"
    assert_error(admin.post("/journal-entries/JE-2025-0004/reverse", {"reversal_date": "2025-02-21"}), 409,
                 "ALREADY_REVERSED")
    assert_error(admin.post("/journal-entries/JE-2025-0001/reverse", {"reversal_date": "2025-02-21"}), 409,
                 "INVALID_STATUS")
    ok(admin.post("/journal-entries/JE-2025-0004-REV/submit-for-approval"))
    ok(admin.as_(APPROVER1).post("/journal-entries/JE-2025-0004-REV/approve"))
    assert balance(admin, "1100") == receivable - 4000
    trail = ok(admin.get("/journal-entries/JE-2025-0004/audit-trail"))["audit_trail"]
    assert trail[-1]["action"] == "Reverse" and trail[-1]["details"]["reversal_entry_id"] == "JE-2025-0004-REV"


def test_reversal_into_a_closed_period_is_refused(aden):
    assert_error(aden.post("/journal-entries/JE-2025-0004/reverse", {"reversal_date": "2023-12-31"}), 409,
                 "PERIOD_CLOSED")
    assert_error(aden.get("/journal-entries/JE-2025-0004-REV"), 404, "NOT_FOUND")


def test_void_of_a_posted_entry_in_a_closed_period_is_refused(aden):
    assert_error(aden.post("/journal-entries/JE-2023-120/void", {"void_reason": "x"}), 409, "PERIOD_CLOSED")
    assert ok(aden.get("/journal-entries/JE-2023-120"))["status"] == "Posted"


def test_manual_posting_entity_stops_at_approved(aden_app):
    admin, approver = AdenClient(aden_app, MANUAL_ADMIN), AdenClient(aden_app, MANUAL_APPROVER1)
    bank = balance(admin, "1010")
    submitted(admin, "EU-NEW", 75, debit="6300", credit="1010", date="2025-02-14", currency="EUR")
    approved = ok(approver.post("/journal-entries/EU-NEW/approve"))
    assert (approved["status"], approved["posted"]) == ("Approved", False)
    assert "posts manually" in approved["message"] and balance(admin, "1010") == bank
    posted = ok(admin.post("/journal-entries/EU-NEW/post"))
    assert posted == {"journal_entry_id": "EU-NEW", "status": "Posted", "posted_at": "2025-02-15T12:00:00Z",
                      "posted_by": "usr_admin", "posting_period_id": "EU2025M02",
                      "posting_period_name": "February 2025"}
    assert balance(admin, "1010") == bank - 75
    assert ok(admin.get("/journal-entries/EU-NEW"))["currency"] == "EUR"


def test_blocked_automatic_post_leaves_the_entry_approved(aden_app):
    """D11: the final approval stands even when the period closed meanwhile; /post works once it reopens."""
    admin = AdenClient(aden_app)
    submitted(admin, "JE-BLOCK", 50)
    ok(admin.post("/accounting-periods/P2025M02/close", {"force": True}))
    approved = ok(admin.as_(APPROVER1).post("/journal-entries/JE-BLOCK/approve"))
    assert (approved["status"], approved["posted"]) == ("Approved", False)
    assert "automatic posting blocked" in approved["message"]
    assert_error(admin.post("/journal-entries/JE-BLOCK/post"), 409, "PERIOD_CLOSED")
    ok(admin.post("/accounting-periods/P2025M02/reopen", {"reason": "post JE-BLOCK"}))
    assert ok(admin.post("/journal-entries/JE-BLOCK/post"))["status"] == "Posted"


def test_list_filters_and_pagination(aden):
    by_status = ok(aden.get("/journal-entries", params={"status": "Pending Approval"}))
    assert [e["journal_entry_id"] for e in by_status["data"]] == ["JE-2025-0002"]
    january = ok(aden.get("/journal-entries", params={"start_date": "2025-01-01", "end_date": "2025-01-31"}))
    assert [e["journal_entry_id"] for e in january["data"]] == ["JE-2025-0004", "JE-2025-0006"]
    adjusting = ok(aden.get("/journal-entries", params={"entry_type": "Adjusting", "posting_period_id": "P2025M01"}))
    assert [e["journal_entry_id"] for e in adjusting["data"]] == ["JE-2025-0006"]
    page = ok(aden.get("/journal-entries", params={"limit": 3, "offset": 6}))
    assert page["pagination"] == {"total": 7, "limit": 3, "offset": 6, "has_more": False}
    assert_error(aden.get("/journal-entries", params={"offset": -1}), 400, "VALIDATION_ERROR")


def test_a_two_line_entry_costs_its_entity_under_1_35_kb():
    """Issue 20: an Aden server holds 100k two-line entries, a quarter of them submitted for approval, in <= 250
    MiB, its start-up's 60 included. What the entity keeps per entry: once 1,620 bytes, 170 of them line ids Aden
    never shows, and 250 a dict per audit-trail record and an approval history that copied the trail's workflow
    records."""
    from mock_server.app import create_app
    from mock_server.config import Config
    from tests.conftest import FROZEN
    from tests.memory import bytes_kept_per_entry

    aden = AdenClient(create_app(Config(providers=("aden",), rate_limiting=False, frozen_time=FROZEN)))

    def grow(numbers):
        for i in numbers:
            day = f"2025-{1 + i % 10:02d}-{1 + i % 28:02d}"
            ok(aden.post("/journal-entries", entry_body(f"S-{i}", 1 + i + i % 100 / 100, date=day, memo=f"Entry {i}")),
               201)
            if i % 4 == 0:
                ok(aden.post(f"/journal-entries/S-{i}/submit-for-approval", {}))

    per_entry, sites = bytes_kept_per_entry("aden", grow, 300)
    assert per_entry <= 1350, f"{per_entry:.0f} bytes an entry; by line:\n{sites}"
