"""Accounts, approval rules, and X-Idempotency-Key replays."""

from __future__ import annotations

from tests.aden.conftest import APPROVER1, CLERK, AdenClient, assert_error, entry_body, ok, submitted

# -- idempotency -----------------------------------------------------------------------------------------------


def test_retried_create_replays_the_first_answer(aden):
    key = {"X-Idempotency-Key": "create-je-1"}
    first = aden.post("/journal-entries", entry_body("JE-IDEM"), headers=key)
    again = aden.post("/journal-entries", entry_body("JE-IDEM"), headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert "X-Idempotency-Replayed" not in first.headers and again.headers["X-Idempotency-Replayed"] == "true"
    assert ok(aden.get("/journal-entries", params={"status": "Draft"}))["pagination"]["total"] == 2


def test_retried_approval_does_not_approve_twice(aden_app):
    clerk = AdenClient(aden_app, CLERK)
    submitted(clerk, "JE-RETRY", 7500, debit="6400", credit="2000")
    first = AdenClient(aden_app, APPROVER1)
    key = {"X-Idempotency-Key": "approve-once"}
    answers = [first.post("/journal-entries/JE-RETRY/approve", {"comments": "ok"}, headers=key) for _ in range(2)]
    assert [a.get_json() for a in answers] == [answers[0].get_json()] * 2
    assert answers[1].headers["X-Idempotency-Replayed"] == "true"
    history = ok(clerk.get("/journal-entries/JE-RETRY"))["approval_history"]
    assert [h["action"] for h in history] == ["Submit for Approval", "Approve"]


def test_key_reused_for_another_request_is_a_conflict(aden):
    key = {"X-Idempotency-Key": "k-1"}
    ok(aden.post("/journal-entries", entry_body("JE-K1"), headers=key), 201)
    error = assert_error(aden.post("/journal-entries", entry_body("JE-K2"), headers=key), 409,
                         "IDEMPOTENCY_KEY_REUSED")
    assert error["details"] == {"idempotency_key": "k-1"}
    assert_error(aden.post("/journal-entries/JE-K1/submit-for-approval", headers=key), 409, "IDEMPOTENCY_KEY_REUSED")
    assert_error(aden.get("/journal-entries/JE-K2"), 404, "NOT_FOUND")


def test_failures_are_not_stored(aden):
    key = {"X-Idempotency-Key": "after-fix"}
    bad = entry_body("JE-FIX")
    bad["lines"][0]["account_id"] = "9999"
    assert_error(aden.post("/journal-entries", bad, headers=key), 400, "ACCOUNT_NOT_FOUND")
    assert aden.post("/journal-entries", entry_body("JE-FIX"), headers=key).status_code == 201


def test_keys_are_scoped_to_the_entity(aden_app):
    from tests.aden.conftest import OTHER_ADMIN
    key = {"X-Idempotency-Key": "shared-key"}
    demo, other = AdenClient(aden_app), AdenClient(aden_app, OTHER_ADMIN)
    ok(demo.post("/journal-entries", entry_body("JE-S"), headers=key), 201)
    body = entry_body("JE-S", debit="1010", credit="4000", date="2025-02-10")
    assert other.post("/journal-entries", body, headers=key).headers.get("X-Idempotency-Replayed") is None


def test_keys_are_scoped_to_the_user(aden_app):
    """Another user of the same entity replaying a key gets an answer of their own, never the first user's."""
    key = {"X-Idempotency-Key": "same-key-two-users"}
    admin, clerk = AdenClient(aden_app), AdenClient(aden_app, CLERK)
    ok(admin.post("/journal-entries", entry_body("JE-U1"), headers=key), 201)
    same = clerk.post("/journal-entries", entry_body("JE-U1"), headers=key)
    assert same.headers.get("X-Idempotency-Replayed") is None
    assert_error(same, 400, "VALIDATION_ERROR", "already exists")
    other = ok(clerk.post("/journal-entries", entry_body("JE-U2"), headers=key), 201)
    assert other["created_by"] == "usr_clerk"
    replayed = admin.post("/journal-entries", entry_body("JE-U1"), headers=key)
    assert replayed.headers["X-Idempotency-Replayed"] == "true" and replayed.get_json()["created_by"] == "usr_admin"


def test_malformed_key_is_refused(aden):
    assert_error(aden.post("/journal-entries", entry_body("JE-MK"), headers={"X-Idempotency-Key": "x" * 256}), 400,
                 "VALIDATION_ERROR", "X-Idempotency-Key")


# -- accounts ------------------------------------------------------------------------------------------------


def test_account_create_rules(aden):
    created = ok(aden.post("/accounts", {"account_id": "CASH-EUR", "account_number": 1020,
                                         "account_name": "Cash - EUR", "account_type": "Asset",
                                         "normal_balance": "debit", "currency": "EUR", "opening_balance": 1250.5,
                                         "parent_account_id": "1001", "description": "Euro account"}), 201)
    assert (created["currency"], created["opening_balance"], created["balance"]) == ("EUR", 1250.5, 1250.5)
    assert_error(aden.post("/accounts", {"account_id": "CASH-X", "account_name": "X", "account_type": "Asset",
                                         "normal_balance": "debit"}), 400, "VALIDATION_ERROR", "account_number")
    duplicate_number = {"account_id": "CASH-Y", "account_number": 1020, "account_name": "Y", "account_type": "Asset",
                        "normal_balance": "debit"}
    error = assert_error(aden.post("/accounts", duplicate_number), 400, "VALIDATION_ERROR", "1020")
    assert error["details"] == {"field": "account_number", "value": 1020}
    assert_error(aden.post("/accounts", {**duplicate_number, "account_id": "6300", "account_number": 6301}), 400,
                 "VALIDATION_ERROR", "already exists")
    assert_error(aden.post("/accounts", {**duplicate_number, "account_number": 7000, "is_active": True,
                                         "is_inactive": True}), 400, "VALIDATION_ERROR", "contradict")
    assert_error(aden.post("/accounts", {**duplicate_number, "account_number": 7000, "parent_account_id": "NOPE"}),
                 400, "ACCOUNT_NOT_FOUND")


def test_account_update_rules(aden):
    updated = ok(aden.put("/accounts/6300", {"account_name": "Office Supplies & Postage", "is_active": False}))
    assert (updated["account_name"], updated["is_inactive"]) == ("Office Supplies & Postage", True)
    assert "6300" not in {a["account_id"] for a in ok(aden.get("/accounts", params={"limit": 100}))["data"]}
    assert "6300" in {a["account_id"] for a in ok(aden.get("/accounts", params={"is_inactive": "true"}))["data"]}
    assert_error(aden.post("/journal-entries", entry_body("JE-INACT")), 400, "ACCOUNT_INACTIVE")
    error = assert_error(aden.put("/accounts/6300", {"account_type": "Asset"}), 400, "IMMUTABLE_FIELD")
    assert error["details"] == {"field": "account_type"}
    assert_error(aden.put("/accounts/NOPE", {"account_name": "x"}), 404, "NOT_FOUND")


def test_account_list_is_ordered_by_number(aden):
    listed = ok(aden.get("/accounts", params={"limit": 3}))
    assert [a["account_number"] for a in listed["data"]] == [1001, 1010, 1100]
    assert listed["pagination"] == {"total": 11, "limit": 3, "offset": 0, "has_more": True}
    liabilities = ok(aden.get("/accounts", params={"account_type": "Liability"}))
    assert [a["account_id"] for a in liabilities["data"]] == ["2000", "2100"]


# -- approval rules ------------------------------------------------------------------------------------------


def test_approval_rule_lifecycle(aden):
    body = {"rule_id": "rule-je-level-3", "rule_name": "Huge entries", "document_type": "journal_entry",
            "rule_type": "Amount Threshold", "is_active": True, "priority": 40, "min_amount": 50000,
            "max_amount": None, "approval_level": 3, "approver_type": "role", "approver_role": "admin"}
    created = ok(aden.post("/approval-rules", body))
    assert (created["created_by"], created["min_amount"], created["max_amount"]) == ("usr_admin", 50000, None)
    assert_error(aden.post("/approval-rules", body), 400, "VALIDATION_ERROR", "already exists")
    assert submitted(aden, "JE-HUGE", 60000)["required_approval_level"] == 3
    assert_error(aden.put("/approval-rules/rule-je-level-3", {"max_amount": 10}), 400, "VALIDATION_ERROR",
                 "cannot exceed")
    assert_error(aden.put("/approval-rules/rule-je-level-3", {"approver_type": "user"}), 400, "VALIDATION_ERROR",
                 "approver_user_id")
    listed = ok(aden.get("/approval-rules", params={"document_type": "journal_entry", "is_active": "true"}))
    assert [r["rule_id"] for r in listed["rules"]] == ["rule-je-level-1", "rule-je-level-2", "rule-je-level-3"]
    assert ok(aden.delete("/approval-rules/rule-je-level-3")) == {"message": "Approval rule deleted",
                                                                  "rule_id": "rule-je-level-3"}
    assert_error(aden.get("/approval-rules/rule-je-level-3"), 404, "NOT_FOUND")
