"""The journal-entry state machine (dossier section 6): every legal transition and the illegal ones."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.intacct.conftest import JE, assert_error, entry_body

# Fixture entries by state: 132 draft, 57 submitted, 58 approved, 59 declined, 17 posted, 61 reversed, 62 reversal.
LEGAL = [
    ("submit", "132", {}, "submitted"), ("submit", "59", {}, "submitted"),
    ("approve", "57", {"notes": "ok"}, "approved"), ("decline", "57", {"notes": "no"}, "declined"),
    ("recall", "57", {}, "draft"),
    ("reverse", "17", {"reverseDate": "2022-02-01"}, "reversed"),
    ("reverse", "58", {"reverseDate": "2025-02-01"}, "reversed"),
    ("reclassify", "17", {"description": "Reclassified"}, "posted"),
    ("reclassify", "58", {"referenceNumber": "R-1"}, "approved"),
]
ILLEGAL = [
    ("submit", "57"), ("submit", "17"), ("approve", "132"), ("approve", "17"), ("decline", "132"),
    ("decline", "58"), ("recall", "132"), ("recall", "17"), ("reverse", "132"), ("reverse", "57"),
    ("reclassify", "132"), ("reclassify", "59"),
]


@pytest.mark.parametrize("action, key, extra, state", LEGAL)
def test_legal_transitions(ia, action, key, extra, state):
    response = ia.workflow(action, key, **extra)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "ia::result": {"key": key, "id": key, "href": f"{JE}/{key}", "state": state},
        "ia::meta": {"totalCount": 1, "totalSuccess": 1, "totalError": 0}}
    assert ia.entry(key)["state"] == state


@pytest.mark.parametrize("action, key", ILLEGAL)
def test_illegal_transitions_are_422_with_a_clear_message(ia, action, key):
    state = ia.entry(key)["state"]
    extra = {"reverseDate": "2030-01-01"} if action == "reverse" else {}
    error = assert_error(ia.workflow(action, key, **extra), 422, "GL-1006", code="businessRuleViolation")
    assert state in error["message"]
    assert ia.entry(key)["state"] == state


def test_full_cycle_and_balances_change_only_when_effective(ia):
    before = ia.balance("6000")
    key = ia.create(state="draft")
    for action, state in (("submit", "submitted"), ("decline", "declined"), ("submit", "submitted"),
                          ("recall", "draft"), ("submit", "submitted")):
        assert ia.workflow(action, key).get_json()["ia::result"]["state"] == state
        assert ia.balance("6000") == before
    assert ia.workflow("approve", key, notes="fine").status_code == 200
    assert ia.balance("6000") == before + Decimal("250.00")
    assert ia.entry(key)["lines"][0]["state"] == "approved"


def test_submit_runs_posting_checks(ia):
    draft = ia.create(entry_body(debit="1500", state="draft"))  # drafts may use a no-direct-posting account
    assert_error(ia.workflow("submit", draft), 422, "GL-1003")
    assert ia.entry(draft)["state"] == "draft"


def test_reverse_creates_the_reversing_entry_and_marks_the_original(ia):
    cash = ia.balance("1000")
    response = ia.workflow("reverse", "20", reverseDate="2022-04-01")
    assert response.get_json()["ia::result"]["state"] == "reversed"
    original = ia.entry("20")
    reversal = ia.entry(original["reversedBy"]["key"])
    assert original["reversedBy"]["href"] == f"{JE}/{reversal['key']}"
    assert all(line["state"] == "reversed" for line in original["lines"])
    assert reversal["state"] == "posted" and reversal["postingDate"] == "2022-04-01"
    assert reversal["reversedFromDate"] == "2022-03-31" and reversal["glJournal"]["id"] == "GJ"
    assert reversal["description"] == original["description"]
    assert [(l["txnType"], l["txnAmount"], l["glAccount"]["id"], l["state"]) for l in reversal["lines"]] == [
        ("credit", "1800.00", "1000", "reversal"), ("debit", "1800.00", "4000", "reversal")]
    assert ia.balance("1000") == cash - Decimal("1800.00")


@pytest.mark.parametrize("key, date, error_id", [
    ("17", "2022-01-31", "GL-1007"), ("17", "2021-12-31", "GL-1007"),
    ("61", "2025-03-01", "GL-1006"), ("62", "2025-03-01", "GL-1006"),
])
def test_reverse_rules(ia, key, date, error_id):
    assert_error(ia.workflow("reverse", key, reverseDate=date), 422, error_id)


def test_reclassify_moves_accounts_and_dimensions_keeping_the_total(ia):
    rent, software = ia.balance("6000"), ia.balance("6100")
    response = ia.workflow("reclassify", "56", lines=[
        {"key": "101", "glAccount": {"id": "6100"}, "dimensions": {"department": {"id": "OPS"}}}])
    assert response.status_code == 200
    line = ia.entry("56")["lines"][0]
    assert line["glAccount"]["id"] == "6100" and line["dimensions"]["department"]["id"] == "OPS"
    assert ia.balance("6000") == rent - Decimal("500.00") and ia.balance("6100") == software + Decimal("500.00")


def test_reclassify_may_split_amounts_but_not_change_the_total(ia):
    assert ia.workflow("reclassify", "60", lines=[{"key": "109", "txnAmount": "1200.00"}]).status_code == 200
    assert_error(ia.workflow("reclassify", "60", lines=[{"key": "109", "txnAmount": "1300.00"},
                                                        {"key": "110", "txnAmount": "1300.00"}]), 422, "GL-1008")
    assert_error(ia.workflow("reclassify", "60", lines=[{"key": "109", "txnAmount": "1300.00"}]), 422, "GL-1001")
    assert_error(ia.workflow("reclassify", "60", lines=[{"key": "109", "glAccount": {"id": "9999"}}]),
                 422, "GL-1003")
    assert_error(ia.workflow("reclassify", "60", lines=[{"key": "31"}]), 422, "GL-1010")
    assert_error(ia.workflow("reclassify", "60", lines=[{}, {}, {"txnType": "debit"}]), 422, "GL-1010")


def test_workflow_body_problems(ia):
    assert_error(ia.workflow("submit", "999"), 404, "REST-1100")
    assert_error(ia.post("/workflows/general-ledger/journal-entry/submit"), 400, "REST-1028")
    assert_error(ia.post("/workflows/general-ledger/journal-entry/submit", [{"key": "132"}]), 400, "REST-1064")
    assert_error(ia.post("/workflows/general-ledger/journal-entry/reverse", {"key": "17"}), 400, "REST-1064")


def test_automatic_reversal_on_final_approval(ia):
    key = ia.create(entry_body(state="draft", automaticReversalDate="2025-03-01"))
    ia.workflow("submit", key)
    assert ia.workflow("approve", key).get_json()["ia::result"]["state"] == "reversalPending"
    assert ia.entry(ia.entry(key)["reversedBy"]["key"])["postingDate"] == "2025-03-01"


def test_a_company_with_two_approval_levels_waits_in_partially_approved(app, ia):
    from tests.intacct.conftest import IntacctClient
    twostep = IntacctClient(app, token=ia.token_for("controller@TWOSTEP")["access_token"])
    key = twostep.create(state="draft")
    assert twostep.workflow("submit", key).status_code == 200
    first = twostep.workflow("approve", key, notes="level 1")
    assert first.status_code == 200 and first.get_json()["ia::result"]["state"] == "partiallyApproved"
    assert twostep.entry(key)["state"] == "partiallyApproved"
    second = twostep.workflow("approve", key, notes="level 2")
    assert second.get_json()["ia::result"]["state"] == "approved"
    assert_error(twostep.workflow("approve", key), 422, "GL-1006")
    # a recall starts the approvals over
    again = twostep.create(state="draft")
    twostep.workflow("submit", again)
    twostep.workflow("approve", again)
    assert twostep.workflow("recall", again).get_json()["ia::result"]["state"] == "draft"
    twostep.workflow("submit", again)
    assert twostep.workflow("approve", again).get_json()["ia::result"]["state"] == "partiallyApproved"


def test_reclassify_takes_only_the_posted_state(ia):
    """The seed documents reclassify's `state` as `Value: "posted"`: "draft" (which its own request sample sends)
    is refused with a 400 naming `state`, and the entry is unchanged."""
    before = ia.entry("17")
    refused = ia.workflow("reclassify", "17", state="draft", description="Reclassified")
    error = assert_error(refused, 400, "REST-1064")
    assert any(detail.get("target") == "/state" for detail in error["details"]), error
    assert ia.entry("17") == before
    accepted = ia.workflow("reclassify", "17", state="posted", description="Reclassified")
    assert accepted.status_code == 200 and ia.entry("17")["description"] == "Reclassified"


@pytest.mark.parametrize("key", ["62", "61", "132", "17"])  # a reversal, a reversed entry, a draft, a posted one
def test_the_gl_1006_hint_offers_only_actions_that_work(ia, key):
    """Every workflow action the hint of a refused call offers is one the entry then accepts; posting a draft,
    which is no workflow action, is offered as the PATCH that does it."""
    if key == "132":
        error = assert_error(ia.workflow("reverse", key, reverseDate="2030-01-01"), 422, "GL-1006")
        assert "PATCH state posted" in error["message"]
    else:
        error = assert_error(ia.workflow("approve", key), 422, "GL-1006")
    offered = error["message"].split("you can ", 1)[1].split(" (")[0].rstrip(".").split(", ") \
        if "you can" in error["message"] else []
    assert "post" not in offered
    if key == "62":
        assert offered == ["reclassify"]
    extra = {"reverse": {"reverseDate": "2030-01-01"}, "reclassify": {"description": "x"}}
    for action in offered:
        assert ia.workflow(action, key, **extra.get(action, {})).status_code == 200, (key, action)
