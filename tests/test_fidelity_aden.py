"""Aden behaviours that openapi/aden.fidelity.yaml names and no other test proves.

Tests named `test_departs_*` pin a departure from Aden's documentation exactly as the mock behaves today. When a
change makes the mock faithful, such a test fails on purpose: update the ledger entry that names it (status,
`departure:` text) together with the test.
"""

from __future__ import annotations

import json

from mock_server import data_dir, read_yaml
from tests.aden.conftest import (CLERK, PREFIX, AdenClient, assert_error, entry_body, make_entry, ok,
                                 submitted)
from tests.aden.conftest import aden, aden_app  # noqa: F401  (the fixtures, shared with tests/aden/)
from tests.aden.conftest import APPROVER1


def test_departs_the_idempotency_fingerprint_is_the_parsed_body(aden):
    """The same JSON written differently (spacing, key order) is the same request: it replays."""
    key = {"X-Idempotency-Key": "reformatted"}
    body = entry_body("JE-FMT")
    first = aden.post("/journal-entries", raw=json.dumps(body).encode(), headers=key)
    again = aden.post("/journal-entries", raw=json.dumps(body, indent=4, sort_keys=True).encode(), headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["X-Idempotency-Replayed"] == "true"


def test_departs_there_is_no_rate_limit(make_app):
    """Aden's introduction says requests are rate limited (429); the mock never limits Aden (D23)."""
    aden = AdenClient(make_app(providers=("aden",), rate_limiting=True))
    assert {aden.get("/accounts").status_code for _ in range(150)} == {200}


def test_departs_reopen_type_is_an_enum(aden):
    ok(aden.post("/accounting-periods/P2025M03/close", {"close_type": "ap"}))
    assert_error(aden.post("/accounting-periods/P2025M03/reopen", {"reason": "x", "reopen_type": "everything"}),
                 400, "VALIDATION_ERROR", "reopen_type")


def test_departs_entry_id_is_declared_under_pattern_properties():
    create = read_yaml(data_dir("openapi") / "aden.yaml")["components"]["schemas"]["JournalEntryCreate"]
    assert "entry_id" not in create["properties"] and "^entry_id$" in create["patternProperties"]


def test_there_is_no_account_delete(aden):
    """D19: Aden documents no account DELETE; the path exists for other methods, so 405."""
    response = aden.delete("/accounts/6300")
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert ok(aden.get("/accounts/6300"))["account_id"] == "6300"


def test_status_filter_takes_plus_or_percent_20_for_spaces(aden_app):
    http, auth = aden_app.test_client(), {"Authorization": "jwt lm_aden_demo_main_admin_6f1d2c9a8b7e"}
    for raw in ("status=Pending+Approval", "status=Pending%20Approval"):
        listed = ok(http.get(f"{PREFIX}/journal-entries?{raw}", headers=auth))
        assert [e["journal_entry_id"] for e in listed["data"]] == ["JE-2025-0002"], raw


def test_submit_rechecks_balance_accounts_and_period(aden):
    """Section 6: the rules run again at submit; an account made inactive after create blocks the submit."""
    make_entry(aden, "JE-RECHECK", 25, debit="6100")
    ok(aden.put("/accounts/6100", {"is_active": False}))
    assert_error(aden.post("/journal-entries/JE-RECHECK/submit-for-approval"), 400, "ACCOUNT_INACTIVE")
    assert ok(aden.get("/journal-entries/JE-RECHECK"))["status"] == "Draft"


def test_approve_only_from_pending_approval_and_only_the_next_level(aden_app):
    """D12: one /approve for every level, the next pending one, only from Pending Approval."""
    clerk = AdenClient(aden_app, CLERK)
    submitted(clerk, "JE-NEXT", 6000, debit="6400", credit="2000")
    first = ok(clerk.as_(APPROVER1).post("/journal-entries/JE-NEXT/approve"))
    assert (first["level"], first["status"]) == (1, "Pending Approval")
    assert_error(clerk.as_(APPROVER1).post("/journal-entries/JE-2025-0001/approve"), 409, "INVALID_STATUS")


# -- added with openapi/aden.fidelity.yaml -------------------------------------------------------------------

def test_departs_a_refused_token_says_why_in_a_hint_header(aden):
    """Aden's 401 body is the same for every token problem; the mock adds X-Ledger-Mock-Hint saying which."""
    bearer = aden.get("/accounts", headers={"Authorization": "Bearer lm_aden_demo_main_admin_6f1d2c9a8b7e"})
    unknown = aden.get("/accounts", token="no-such-token")
    for refused in (bearer, unknown):
        assert_error(refused, 401, "UNAUTHORIZED", "Missing or invalid token")
        assert refused.headers["WWW-Authenticate"] == "jwt"
    assert "jwt" in bearer.headers["X-Ledger-Mock-Hint"]
    assert "unknown token" in unknown.headers["X-Ledger-Mock-Hint"]


def test_departs_forced_429_and_5xx_answer_invented_codes(aden):
    """Aden documents no code for 429 or 502-504; the fault injector's errors say RATE_LIMITED and
    SERVICE_UNAVAILABLE, in Aden's envelope."""
    for status, code in ((429, "RATE_LIMITED"), (502, "SERVICE_UNAVAILABLE"), (503, "SERVICE_UNAVAILABLE"),
                         (504, "SERVICE_UNAVAILABLE")):
        forced = aden.get("/accounts", headers={"X-Ledger-Mock-Fault": f"status={status}"})
        assert_error(forced, status, code, f"Injected fault: {status}.")
        if status in (429, 503):
            assert forced.headers["Retry-After"] == "1"
    assert_error(aden.get("/accounts", headers={"X-Ledger-Mock-Fault": "status=408"}), 408, "REQUEST_TIMEOUT")
    spec = read_yaml(data_dir("openapi") / "aden.yaml")
    codes = spec["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["description"]
    assert "RATE_LIMITED (429)" in codes and "SERVICE_UNAVAILABLE (502, 503, 504)" in codes


def test_departs_a_forced_409_is_invalid_status_and_a_forced_422_validation_error(aden):
    assert_error(aden.get("/accounts", headers={"X-Ledger-Mock-Fault": "status=409"}), 409, "INVALID_STATUS",
                 "Injected fault: 409.")
    assert_error(aden.get("/accounts", headers={"X-Ledger-Mock-Fault": "status=422"}), 422, "VALIDATION_ERROR")


def test_departs_schema_problems_are_all_listed_in_details_errors(aden):
    """Every problem of the request in details.errors[] ({field, location, message}); details.field is the first."""
    body = {"journal_entry_id": "JE-MANY", "tran_date": "2025-13-45", "lines": [{"account_id": "6300", "debit": -1}]}
    refused = assert_error(aden.post("/journal-entries", body), 400, "VALIDATION_ERROR", "more problems listed")
    details = refused["details"]
    assert details["field"] == details["errors"][0]["field"]
    assert len(details["errors"]) >= 2
    assert all(set(e) == {"field", "location", "message"} and e["location"] == "body" for e in details["errors"])
    assert {"tran_date", "lines.0.debit"} <= {e["field"] for e in details["errors"]}
    query = assert_error(aden.get("/journal-entries", params={"limit": 0}), 400, "VALIDATION_ERROR")["details"]
    assert query["field"] == "limit" and query["errors"][0]["location"] == "query"


def test_departs_echoed_values_are_cut_to_80_characters(aden):
    long_id, long_status = "J" * 200, "Z" * 200
    message = assert_error(aden.post("/journal-entries", entry_body(long_id)), 400, "VALIDATION_ERROR")["message"]
    assert "J" * 79 + "..." in message and "J" * 81 not in message
    message = assert_error(aden.get("/journal-entries", params={"status": long_status}), 400,
                           "VALIDATION_ERROR")["message"]
    assert "Z" * 79 + "..." in message and "Z" * 81 not in message


def test_departs_period_rule_errors_carry_extra_details(aden):
    """PERIOD_CLOSED has Aden's {period_id, period_name}; the others add bounds, the sub-ledger, the status."""
    closed = assert_error(aden.post("/journal-entries", entry_body("JE-DEC", date="2023-12-15")), 409,
                          "PERIOD_CLOSED")
    assert closed["details"] == {"period_id": "P2023M12", "period_name": "December 2023"}
    outside = assert_error(aden.post("/journal-entries", entry_body("JE-OUT", date="2025-03-15",
                                                                    posting_period_id="P2025M02")),
                           400, "DATE_OUTSIDE_PERIOD")
    assert outside["details"] == {"tran_date": "2025-03-15", "period_id": "P2025M02", "period_name": "February 2025",
                                  "start_date": "2025-02-01", "end_date": "2025-02-28"}
    locked = assert_error(aden.post("/journal-entries", entry_body("JE-LOCK", date="2024-03-15")), 409,
                          "SUBLEDGER_LOCKED")
    assert locked["details"]["subledger"] == "GL"
    again = assert_error(aden.post("/journal-entries/JE-2025-0006/void", {"void_reason": "again"}), 409,
                         "ALREADY_VOIDED")
    assert again["details"] == {"current_status": "Voided"}


def test_an_overlapping_period_names_it_in_details(aden):
    """Aden's create page shows details.overlapping_period, the other period's name."""
    overlap = {"period_name": "Mid February", "fiscal_year_id": "FY2025", "start_date": "2025-02-10",
               "end_date": "2025-03-10", "quarter": 1}
    refused = assert_error(aden.post("/accounting-periods", overlap), 400, "VALIDATION_ERROR", "P2025M02")
    assert refused["details"] == {"overlapping_period": "February 2025"}


def test_departs_routing_parameters_are_ignored_and_routing_rules_never_match(aden):
    """A Department Routing rule is stored but never applies; department_id is ignored with a warning."""
    ok(aden.post("/approval-rules", {"rule_id": "rule-dept", "rule_name": "Sales department", "document_type":
                                     "journal_entry", "rule_type": "Department Routing", "is_active": True,
                                     "priority": 1, "approval_level": 3, "approver_type": "manager"}))
    params = {"document_type": "journal_entry", "amount": 100}
    plain = ok(aden.get("/approval-rules/applicable", params=params))
    routed = aden.get("/approval-rules/applicable", params={**params, "department_id": "sales"})
    assert ok(routed) == plain
    assert plain["max_approval_level_required"] == 1
    assert "rule-dept" not in {r["rule_id"] for r in plain["applicable_rules"]}
    assert any("department_id" in w for w in routed.headers.getlist("X-Ledger-Mock-Warning"))
