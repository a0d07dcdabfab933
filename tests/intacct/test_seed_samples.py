"""Done-when: the seed document's request samples, sent as written, get its documented responses.

The seed is a rendering of Sage's reference in which nested objects shown as `{…}` were collapsed by the page;
those are the only values filled in here (marked FILLED), with fixture objects. Fixture entry 132 (draft, lines
195/196) and 17/18/20 (posted in Q1 2022) exist so the samples' keys resolve as written.
"""

from __future__ import annotations

import pytest

from tests.intacct.conftest import JE, QUERY, WF, IntacctClient, assert_error

ONE = {"totalCount": 1, "totalSuccess": 1, "totalError": 0}

CREATE = {
    "glJournal": {"id": "GJ"}, "postingDate": "2022-04-01", "description": "March Revenue Posting",
    "lines": [
        {"lineNumber": 1, "txnType": "credit", "entryDate": "2022-04-01", "txnAmount": "200",
         "glAccount": {"id": "4000"},  # FILLED
         "dimensions": {}, "documentId": "Revenue_attachment"},
        {"lineNumber": 2, "txnType": "debit", "entryDate": "2022-04-01", "txnAmount": "200",
         "glAccount": {"id": "1000"},  # FILLED
         "dimensions": {}, "documentId": "Revenue_attachment"},
    ]}
UPDATE = {
    "postingDate": "2023-12-11", "state": "submitted",
    "lines": [
        {"key": 195, "txnType": "debit", "txnAmount": "100", "glAccount": {}, "dimensions": {}, "documentId": "test",
         "currency": {}},
        {"key": 196, "txnType": "debit", "txnAmount": "100", "glAccount": {}, "dimensions": {}, "documentId": "test",
         "currency": {}},
        {"txnType": "credit", "txnAmount": "200", "glAccount": {"id": "4000"},  # FILLED
         "dimensions": {}, "documentId": "Test1", "currency": {}},
    ]}
RECLASSIFY = {
    "key": "132", "id": "132", "description": "Revenue entries", "referenceNumber": "Recurr_GL_101",
    "attachment": {"key": "6", "id": "Doc6331"}, "state": "posted",  # FILLED: the sample's "draft" is refused (below)
    "lines": [{"txnType": "credit", "txnAmount": "100.45", "documentId": "Revenue_Documentation",
               "description": "Revenue Entries", "numberOfUnits": 5, "accountingPeriod": 11, "isBillable": False,
               "state": "draft", "currency": {}, "glAccount": {}, "allocation": {}, "dimensions": {},
               "journalEntry": {}, "taxEntries": []}]}
QUERY_SAMPLE = {
    "object": "general-ledger/journal-entry",
    "filters": [{"$eq": {"state": "posted"}},  # FILLED
                {"$between": {"postingDate": ["2022-01-01", "2022-03-31"]}}],  # FILLED
    "fields": ["key", "id", "href"], "orderBy": [{"postingDate": "asc"}]}


def ref(key):
    return {"key": key, "id": key, "href": f"/objects/general-ledger/journal-entry/{key}"}


def test_list(ia):
    body = ia.get(JE).get_json()
    assert body["ia::result"][:3] == [ref("17"), ref("18"), ref("20")]
    assert body["ia::meta"] == {"totalCount": 11, "start": 1, "pageSize": 100, "next": None, "previous": None}


def test_create(ia):
    response = ia.post(JE, CREATE)
    assert response.status_code == 201 and response.get_json() == {"ia::result": ref("133"), "ia::meta": ONE}
    entry = ia.entry("133")
    assert [line["txnAmount"] for line in entry["lines"]] == ["200.00", "200.00"]
    assert entry["lines"][0]["documentId"] == "Revenue_attachment"


def test_get(ia):
    response = ia.get(f"{JE}/132")
    body = response.get_json()
    assert response.status_code == 200 and body["ia::meta"] == ONE
    assert body["ia::result"]["key"] == body["ia::result"]["id"] == "132"
    assert body["ia::result"]["href"] == f"{JE}/132" and body["ia::result"]["moduleName"] == "2.GL"


def test_update(ia):
    response = ia.patch(f"{JE}/132", UPDATE)
    assert response.status_code == 200 and response.get_json() == {"ia::result": ref("132"), "ia::meta": ONE}
    entry = ia.entry("132")
    assert entry["state"] == "submitted" and entry["postingDate"] == "2023-12-11"
    assert [(l["key"], l["txnType"], l["txnAmount"]) for l in entry["lines"]] == [
        ("195", "debit", "100.00"), ("196", "debit", "100.00"), ("197", "credit", "200.00")]


def test_delete(ia):
    response = ia.delete(f"{JE}/132")
    assert response.status_code == 204 and response.data == b""


@pytest.mark.parametrize("before, action, body, state", [
    ([], "submit", {"key": "132"}, "submitted"),
    (["submit"], "approve", {"key": "132", "notes": "Approved, ready for use"}, "approved"),
    (["submit"], "decline", {"key": "132", "notes": "Declined, missing information"}, "declined"),
    (["submit"], "recall", {"key": "132"}, "draft"),
    (["post"], "reverse", {"key": "132", "reverseDate": "2023-04-04"}, "reversed"),
    (["post"], "reclassify", RECLASSIFY, "posted"),
])
def test_workflows(ia, before, action, body, state):
    for step in before:  # bring 132 into the state the sample needs
        reply = ia.patch(f"{JE}/132", {"state": "posted"}) if step == "post" else ia.workflow(step, "132")
        assert reply.status_code == 200
    response = ia.post(f"{WF}/{action}", body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"ia::result": {**ref("132"), "state": state}, "ia::meta": ONE}


def test_reclassify_sample_changes_texts_not_totals(ia):
    ia.patch(f"{JE}/132", {"state": "posted"})
    ia.post(f"{WF}/reclassify", RECLASSIFY)
    entry = ia.entry("132")
    assert (entry["description"], entry["referenceNumber"], entry["attachment"]) == (
        "Revenue entries", "Recurr_GL_101", {"key": "6", "id": "Doc6331", "href": "/objects/company-config/attachment/6"})
    assert entry["lines"][0]["documentId"] == "Revenue_Documentation" and entry["lines"][0]["glAccount"]["id"] == "4000"


def test_query(ia):
    response = ia.post(QUERY, QUERY_SAMPLE)
    assert response.status_code == 200
    assert response.get_json() == {"ia::result": [ref("17"), ref("18"), ref("20")], "ia::meta": {
        "totalCount": 3, "start": 1, "pageSize": 100, "next": None, "previous": None}}


def test_invalid_cases_get_ia_error_bodies(app, ia):
    error = assert_error(ia.post(JE), 400, "REST-1028", "A POST request requires a payload", code="invalidRequest")
    assert error["additionalInfo"]["messageId"] == "IA.REQUEST_REQUIRES_A_PAYLOAD"
    bare_eq = {"object": "general-ledger/journal-entry", "filters": [{"eq": {"postingDate": "priorYear"}}]}
    assert_error(ia.post(QUERY, bare_eq), 400, "REST-1203", "'eq'")
    assert_error(IntacctClient(app, "expired-token").get(JE), 401, "REST-2102", "Token is not valid")
