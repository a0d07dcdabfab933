"""The approval state machine: every (status, action) pair, approval levels and rights, the audit trail."""

from __future__ import annotations

import pytest

from tests.aden.conftest import (ADMIN, APPROVER1, APPROVER2, CLERK, MANUAL_ADMIN, AdenClient, assert_error,
                                 make_entry, ok, submitted)

# One fixture entry per status (Approved lives in the manual-posting entity).
ENTRY_IN = {"Draft": ("JE-2025-0001", ADMIN), "Pending Approval": ("JE-2025-0002", ADMIN),
            "On Hold": ("JE-2025-0003", ADMIN), "Approved": ("EU-2025-0001", MANUAL_ADMIN),
            "Posted": ("JE-2025-0004", ADMIN), "Rejected": ("JE-2025-0005", ADMIN), "Voided": ("JE-2025-0006", ADMIN)}
ACTIONS = {  # action -> (method, path suffix, body, success status, status afterwards)
    "update": ("PUT", "", {"memo": "changed"}, 200, "Draft"),
    "delete": ("DELETE", "", None, 204, None),
    "submit": ("POST", "/submit-for-approval", None, 200, "Pending Approval"),
    "approve": ("POST", "/approve", {"comments": "ok"}, 200, None),
    "reject": ("POST", "/reject", {"reason": "wrong account"}, 200, "Rejected"),
    "request-change": ("POST", "/request-change", {"comments": "add invoice"}, 200, "Draft"),
    "hold": ("POST", "/hold", {"reason": "waiting"}, 200, "On Hold"),
    "unhold": ("POST", "/unhold", None, 200, "Pending Approval"),
    "post": ("POST", "/post", None, 200, "Posted"),
    "reverse": ("POST", "/reverse", {"reversal_date": "2025-03-03"}, 201, "Posted"),
    "void": ("POST", "/void", {"void_reason": "mistake"}, 200, "Voided"),
}
LEGAL = {  # the dossier's section 7, void as aden-docs journal-entries/delete "When to Delete vs. Void" says
    "Draft": {"update", "delete", "submit"},
    "Pending Approval": {"approve", "reject", "request-change", "hold"},
    "On Hold": {"reject", "request-change", "unhold"},
    "Approved": {"post", "void"},
    "Posted": {"reverse", "void"},
    "Rejected": {"void"},
    "Voided": set(),
}


@pytest.mark.parametrize("status,action", [(s, a) for s in ENTRY_IN for a in ACTIONS])
def test_every_status_and_action(aden_app, status, action):
    entry_id, token = ENTRY_IN[status]
    client = AdenClient(aden_app, token)
    assert ok(client.get(f"/journal-entries/{entry_id}"))["status"] == status
    method, suffix, body, success, after = ACTIONS[action]
    response = client.request(method, f"/journal-entries/{entry_id}{suffix}", body)
    if action in LEGAL[status]:
        assert response.status_code == success, response.get_json()
        if after is None and action == "delete":
            assert_error(client.get(f"/journal-entries/{entry_id}"), 404, "NOT_FOUND")
        else:
            expected = after or ("Posted" if status == "Pending Approval" else None)
            assert ok(client.get(f"/journal-entries/{entry_id}"))["status"] == expected
    elif status == "Voided" and action == "void":
        assert_error(response, 409, "ALREADY_VOIDED", entry_id)
    else:
        error = assert_error(response, 409, "INVALID_STATUS", f"it is {status}")
        assert error["details"]["current_status"] == status
        if action == "delete":
            assert "void" in error["details"]["suggestion"]
        if action == "void":
            assert "delete" in error["details"]["suggestion"]
        assert ok(client.get(f"/journal-entries/{entry_id}"))["status"] == status  # nothing changed


@pytest.mark.parametrize("amount,level", [(0.01, 1), (4999.99, 1), (5000, 2), (5000.01, 2), (250000, 2)])
def test_threshold_boundaries(aden, amount, level):
    """0-5000 is level 1 and 5000+ level 2, both inclusive: exactly 5000 matches both and the higher wins. The
    inactive level-3 rule from 100000 does not apply."""
    assert submitted(aden, "JE-T", amount)["required_approval_level"] == level
    applicable = ok(aden.get("/approval-rules/applicable", params={"document_type": "journal_entry",
                                                                   "amount": amount}))
    assert applicable["max_approval_level_required"] == level
    assert applicable["total_rules_matched"] == (2 if amount == 5000 else 1)


def test_levels_are_fixed_at_submit(aden):
    submitted(aden, "JE-FIXED", 6000)
    ok(aden.put("/approval-rules/rule-je-level-2", {"is_active": False}))
    assert ok(aden.get("/journal-entries/JE-FIXED"))["required_approval_level"] == 2
    assert submitted(aden, "JE-AFTER", 6000)["required_approval_level"] == 1


def test_rule_for_a_level_decides_who_may_act(aden_app):
    admin = AdenClient(aden_app)
    ok(admin.put("/approval-rules/rule-je-level-1", {"approver_type": "user", "approver_user_id": "usr_clerk"}))
    submitted(admin, "JE-RULE", 100)
    assert_error(admin.as_(APPROVER1).post("/journal-entries/JE-RULE/approve"), 403, "FORBIDDEN")
    assert ok(admin.as_(CLERK).post("/journal-entries/JE-RULE/approve"))["status"] == "Posted"


def test_rights_for_reject_hold_and_request_change(aden_app):
    clerk = AdenClient(aden_app, CLERK)
    for action, body in (("reject", {"reason": "x"}), ("hold", {"reason": "x"}),
                         ("request-change", {"comments": "x"})):
        error = assert_error(clerk.post(f"/journal-entries/JE-2025-0002/{action}", body), 403, "FORBIDDEN")
        assert error["details"] == {"approval_level": 2}
    # approver1 approved level 1 of JE-2025-0002 but has no level-2 rights; unhold of level 1 work is theirs.
    assert_error(clerk.as_(APPROVER1).post("/journal-entries/JE-2025-0002/hold", {"reason": "x"}), 403, "FORBIDDEN")
    assert_error(clerk.as_(CLERK).post("/journal-entries/JE-2025-0003/unhold"), 403, "FORBIDDEN")
    assert ok(clerk.as_(APPROVER1).post("/journal-entries/JE-2025-0003/unhold"))["status"] == "Pending Approval"


def test_void_needs_the_rights_of_the_entrys_last_approval_level(aden_app):
    """A clerk with no roles may not void a Posted or Rejected entry (403 FORBIDDEN, nothing changes); whoever may
    approve the entry's last level (here approve_level_1, level 1 entries) or an admin may."""
    clerk = AdenClient(aden_app, CLERK)
    for entry_id, status in (("JE-2025-0004", "Posted"), ("JE-2025-0005", "Rejected")):
        refused = assert_error(clerk.post(f"/journal-entries/{entry_id}/void", {"void_reason": "cleanup"}), 403,
                               "FORBIDDEN")
        assert refused["details"] == {"approval_level": 1}
        assert ok(clerk.get(f"/journal-entries/{entry_id}"))["status"] == status
    voided = ok(clerk.as_(APPROVER1).post("/journal-entries/JE-2025-0004/void", {"void_reason": "cleanup"}))
    assert (voided["status"], voided["voided_by"]) == ("Voided", "usr_approver1")
    assert ok(clerk.as_(ADMIN).post("/journal-entries/JE-2025-0005/void", {"void_reason": "cleanup"}))["status"] == \
        "Voided"


def test_missing_reason_or_comments_is_a_validation_error(aden):
    assert_error(aden.post("/journal-entries/JE-2025-0002/reject", {}), 400, "VALIDATION_ERROR", "reason")
    assert_error(aden.post("/journal-entries/JE-2025-0002/hold", {"reason": "   "}), 400, "VALIDATION_ERROR")
    assert_error(aden.post("/journal-entries/JE-2025-0002/request-change", {}), 400, "VALIDATION_ERROR", "comments")
    assert_error(aden.post("/journal-entries/JE-2025-0005/void", {}), 400, "VALIDATION_ERROR")
    assert_error(aden.post("/journal-entries/JE-2025-0005/void", {"void_reason": "a", "reason": "b"}), 400,
                 "VALIDATION_ERROR", "must agree")
    assert ok(aden.get("/journal-entries/JE-2025-0002"))["status"] == "Pending Approval"
    assert ok(aden.get("/journal-entries/JE-2025-0005"))["status"] == "Rejected"


def test_request_change_discards_approvals_and_unhold_keeps_them(aden_app):
    admin = AdenClient(aden_app)
    held = ok(admin.post("/journal-entries/JE-2025-0002/hold", {"reason": "check vendor"}))
    assert held["status"] == "On Hold" and held["held_by"] == "usr_admin"
    ok(admin.post("/journal-entries/JE-2025-0002/unhold"))
    assert ok(admin.get("/journal-entries/JE-2025-0002"))["current_approval_level"] == 1
    returned = ok(admin.post("/journal-entries/JE-2025-0002/request-change", {"comments": "split the premium"}))
    assert (returned["status"], returned["comments"]) == ("Draft", "split the premium")
    entry = ok(admin.get("/journal-entries/JE-2025-0002"))
    assert "current_approval_level" not in entry and "required_approval_level" not in entry
    ok(admin.post("/journal-entries/JE-2025-0002/submit-for-approval"))
    # approver1 may approve level 1 again: the earlier round no longer counts.
    assert ok(admin.as_(APPROVER1).post("/journal-entries/JE-2025-0002/approve"))["level"] == 1


def test_pending_approvals_lists_what_the_caller_may_approve_next(aden_app):
    first, second = AdenClient(aden_app, APPROVER1), AdenClient(aden_app, APPROVER2)
    submitted(first, "JE-P1", 100)
    mine = ok(first.get("/journal-entries/pending-approvals"))
    assert [row["journal_entry_id"] for row in mine["data"]] == ["JE-P1"] and mine["total"] == 1
    theirs = ok(second.get("/journal-entries/pending-approvals"))
    assert {row["journal_entry_id"] for row in theirs["data"]} == {"JE-2025-0002", "JE-P1"}
    row = next(r for r in theirs["data"] if r["journal_entry_id"] == "JE-2025-0002")
    assert row == {"journal_entry_id": "JE-2025-0002", "tran_date": "2025-02-05", "memo": "Annual insurance premium",
                   "total_debit": 7500, "required_approval_level": 2, "current_approval_level": 1,
                   "submitted_at": "2025-02-15T12:00:00Z", "submitted_by": "usr_clerk"}


def test_audit_trail_records_every_change_with_who_and_when(aden_app):
    clerk = AdenClient(aden_app, CLERK)
    make_entry(clerk, "JE-AUD", 100)
    ok(clerk.put("/journal-entries/JE-AUD", {"memo": "better memo"}))
    ok(clerk.post("/journal-entries/JE-AUD/submit-for-approval"))
    ok(clerk.as_(APPROVER1).post("/journal-entries/JE-AUD/reject", {"reason": "duplicate"}))
    ok(clerk.as_(ADMIN).post("/journal-entries/JE-AUD/void", {"reason": "cleanup"}))
    trail = ok(clerk.get("/journal-entries/JE-AUD/audit-trail"))
    assert trail["journal_entry_id"] == "JE-AUD"
    assert [(r["action"], r["performed_by"], r["details"].get("status")) for r in trail["audit_trail"]] == [
        ("Created", "usr_clerk", "Draft"), ("Updated", "usr_clerk", "Draft"),
        ("Submit for Approval", "usr_clerk", "Pending Approval"), ("Reject", "usr_approver1", "Rejected"),
        ("Void", "usr_admin", "Voided")]
    assert {r["performed_at"] for r in trail["audit_trail"]} == {"2025-02-15T12:00:00Z"}
    assert trail["audit_trail"][3]["details"] == {"status": "Rejected", "comments": "duplicate"}
    entry = ok(clerk.get("/journal-entries/JE-AUD"))
    assert [(h["action"], h["performed_by"], h.get("comments")) for h in entry["approval_history"]] == [
        ("Submit for Approval", "usr_clerk", None), ("Reject", "usr_approver1", "duplicate"),
        ("Void", "usr_admin", "cleanup")]
    assert (entry["void_reason"], entry["voided_by"], entry["created_by"]) == ("cleanup", "usr_admin", "usr_clerk")
