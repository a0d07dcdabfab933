"""Done-when: Aden's quickstart requests, sent exactly as documented, work; and the amount thresholds decide
how many different approvers an entry needs before it posts."""

from __future__ import annotations

from tests.aden.conftest import (ADMIN, APPROVER1, APPROVER2, CLERK, AdenClient, assert_error, ok, submitted)

QUICKSTART_ACCOUNT = b"""{
    "account_id": "1000",
    "account_name": "Cash",
    "account_type": "Asset",
    "normal_balance": "Debit",
    "is_active": true
  }"""
QUICKSTART_ENTRY = b"""{
    "entry_id": "JE-2024-001",
    "tran_date": "2024-01-15",
    "memo": "Recording office supplies purchase",
    "lines": [
      {
        "account_id": "6300",
        "debit": 500,
        "credit": 0
      },
      {
        "account_id": "1000",
        "debit": 0,
        "credit": 500
      }
    ]
  }"""


def test_quickstart_as_documented(aden_app):
    """The docs' curl commands: account create, journal entry create, submit (no body), approve (idempotency key)."""
    http = aden_app.test_client()
    base = "/aden/service/general-ledger"
    auth = {"Authorization": f"jwt {ADMIN}"}
    json_headers = {**auth, "Content-Type": "application/json"}

    listed = ok(http.get(f"{base}/accounts", headers=auth))
    assert "1000" not in {a["account_id"] for a in listed["data"]}

    account = ok(http.post(f"{base}/accounts", data=QUICKSTART_ACCOUNT, headers=json_headers), 201)
    assert account["account_id"] == "1000" and account["account_number"] == 1000
    assert account["normal_balance"] == "debit" and account["is_inactive"] is False
    assert account["currency"] == "USD" and account["balance"] == 0

    entry = ok(http.post(f"{base}/journal-entries", data=QUICKSTART_ENTRY, headers=json_headers), 201)
    assert entry["journal_entry_id"] == "JE-2024-001" and entry["status"] == "Draft"
    assert entry["posting_period_id"] == "P2024M01" and entry["posting_period_name"] == "January 2024"
    assert [line["line_number"] for line in entry["lines"]] == [1, 2]
    assert entry["total_debit"] == entry["total_credit"] == 500

    submitted_entry = ok(http.post(f"{base}/journal-entries/JE-2024-001/submit-for-approval", headers=auth))
    assert submitted_entry["status"] == "Pending Approval"
    assert submitted_entry["required_approval_level"] == 1

    approved = ok(http.post(f"{base}/journal-entries/JE-2024-001/approve",
                            data=b'{"comments": "Approved - amounts verified"}',
                            headers={**json_headers, "X-Idempotency-Key": "unique-key-123"}))
    assert approved == {"journal_entry_id": "JE-2024-001", "status": "Posted", "posted": True, "level": 1,
                        "message": "Entry approved and posted to GL.", "approved_at": "2025-02-15T12:00:00Z",
                        "approved_by": "usr_admin"}
    cash = ok(http.get(f"{base}/accounts/1000", headers=auth))
    assert cash["balance"] == -500  # a debit-normal account credited 500


def test_entry_of_7500_needs_two_different_approvers_and_500_posts_after_one(aden_app):
    clerk = AdenClient(aden_app, CLERK)
    first, second = clerk.as_(APPROVER1), clerk.as_(APPROVER2)
    insurance_before = ok(clerk.get("/accounts/6400"))["balance"]

    big = submitted(clerk, "JE-BIG", 7500, debit="6400", credit="2000")
    assert big["required_approval_level"] == 2

    level1 = ok(first.post("/journal-entries/JE-BIG/approve", {"comments": "level 1"}))
    assert (level1["status"], level1["posted"], level1["level"]) == ("Pending Approval", False, 1)
    assert ok(clerk.get("/accounts/6400"))["balance"] == insurance_before  # not posted yet

    assert_error(first.post("/journal-entries/JE-BIG/approve"), 403, "FORBIDDEN", "level 2")
    assert_error(clerk.post("/journal-entries/JE-BIG/approve"), 403, "FORBIDDEN")
    assert ok(clerk.get("/journal-entries/JE-BIG"))["status"] == "Pending Approval"

    level2 = ok(second.post("/journal-entries/JE-BIG/approve"))
    assert (level2["status"], level2["posted"], level2["level"]) == ("Posted", True, 2)
    assert ok(clerk.get("/accounts/6400"))["balance"] == insurance_before + 7500
    history = ok(clerk.get("/journal-entries/JE-BIG"))["approval_history"]
    assert [(h["action"], h["performed_by"]) for h in history] == [
        ("Submit for Approval", "usr_clerk"), ("Approve", "usr_approver1"), ("Approve", "usr_approver2"),
        ("Post to GL", "system")]

    small = submitted(clerk, "JE-SMALL", 500)
    assert small["required_approval_level"] == 1
    posted = ok(first.post("/journal-entries/JE-SMALL/approve"))
    assert (posted["status"], posted["posted"], posted["level"]) == ("Posted", True, 1)


def test_one_user_cannot_approve_two_levels_of_the_same_entry(aden_app):
    clerk = AdenClient(aden_app, CLERK)
    second, admin = clerk.as_(APPROVER2), clerk.as_(ADMIN)  # both may approve levels 1 and 2
    submitted(clerk, "JE-SOD", 7500, debit="6400", credit="2000")
    ok(second.post("/journal-entries/JE-SOD/approve"))
    error = assert_error(second.post("/journal-entries/JE-SOD/approve"), 403, "FORBIDDEN", "different approver")
    assert error["details"] == {"approval_level": 2}
    assert ok(admin.post("/journal-entries/JE-SOD/approve"))["status"] == "Posted"


def test_quickstart_over_a_real_socket(make_app, live_server):
    """The same calls through an HTTP client, with the mock serving Aden alone at its real paths."""
    import requests

    base = live_server(make_app(providers=("aden",), root_provider="aden")) + "/service/general-ledger"
    auth = {"Authorization": f"jwt {ADMIN}", "Content-Type": "application/json"}
    assert requests.post(f"{base}/accounts", data=QUICKSTART_ACCOUNT, headers=auth, timeout=5).status_code == 201
    assert requests.post(f"{base}/journal-entries", data=QUICKSTART_ENTRY, headers=auth, timeout=5).status_code == 201
    submit = requests.post(f"{base}/journal-entries/JE-2024-001/submit-for-approval",
                           headers={"Authorization": f"jwt {ADMIN}"}, timeout=5)
    assert submit.json()["status"] == "Pending Approval"
    approve = requests.post(f"{base}/journal-entries/JE-2024-001/approve", json={"comments": "ok"},
                            headers={"Authorization": f"jwt {ADMIN}", "X-Idempotency-Key": "unique-key-123"},
                            timeout=5)
    assert approve.json()["status"] == "Posted"
