"""The rest of Codat's read flow (Codat-Platform.yaml): a connection read, unlinked and deleted; refreshes (pull
operations) whose status moves on the mock clock; the data status; companies replaced and deleted."""

from __future__ import annotations

import pytest

from tests.codat.conftest import ACME, BLANK, OTHER, OTHER_KEY, XERO, CodatClient, assert_error, fixtures_with
from tests.conftest import advance

NOT_VALID = "Error processing request - not valid."
NOW = "2025-02-15T12:00:00Z"


def test_get_unlink_and_delete_a_connection(codat):
    path = f"/companies/{ACME}/connections/{XERO}"
    got = codat.get(path).get_json()
    assert got == codat.get(f"/companies/{ACME}/connections").get_json()["results"][0]
    assert got["status"] == "Linked"
    unlinked = codat.request("PATCH", path, {"status": "Unlinked"})
    assert unlinked.status_code == 200 and unlinked.get_json() == {**got, "status": "Unlinked"}
    assert_error(codat.push({"postedOn": "2025-02-14", "journalLines": [
        {"netAmount": 1, "accountRef": {"id": "6300"}}, {"netAmount": -1, "accountRef": {"id": "1000"}}]}),
        400, NOT_VALID, item_part="Unlinked")
    assert_error(codat.request("PATCH", path, {"status": "Linked"}), 400, NOT_VALID, item_part="status")
    # Platform spec, unlink-connection: "you can still view any data that has previously been pulled into Codat"
    assert codat.entries().get_json()["totalResults"] == 4
    deleted = codat.delete(path)
    assert deleted.status_code == 200
    assert_error(codat.get(path), 404, f"Data connection {XERO} not found")
    assert codat.get(f"/companies/{ACME}").get_json()["dataConnections"] == []
    assert codat.entries().get_json()["totalResults"] == 4


def test_a_connection_of_another_company_or_client_is_404(codat):
    assert_error(codat.get(f"/companies/{BLANK}/connections/{XERO}"), 404, f"Data connection {XERO} not found")
    other = CodatClient(codat.http.application, OTHER_KEY)
    for method in ("GET", "PATCH", "DELETE"):
        assert_error(other.request(method, f"/companies/{ACME}/connections/{XERO}", {"status": "Unlinked"}), 404,
                     f"No company was found with ID {ACME}", service="ClientsApi")
    assert codat.get(f"/companies/{ACME}/connections/{XERO}").get_json()["status"] == "Linked"


def test_refresh_completes_at_once_by_default(codat):
    assert codat.post(f"/companies/{ACME}/data/all").status_code == 204
    history = codat.get(f"/companies/{ACME}/data/history").get_json()
    assert history["totalResults"] == 2
    assert [(p["dataType"], p["status"], p["progress"], p["isCompleted"]) for p in history["results"]] == [
        ("chartOfAccounts", "Complete", 100, True), ("journalEntries", "Complete", 100, True)]
    pull = history["results"][1]
    assert pull["companyId"] == ACME and pull["connectionId"] == XERO
    assert pull["requested"] == pull["completed"] == NOW and pull["isErrored"] is False
    assert codat.get(f"/companies/{ACME}/data/history/{pull['id']}").get_json() == pull
    status = codat.get(f"/companies/{ACME}/dataStatus").get_json()
    assert status["journalEntries"] == {"dataType": "journalEntries", "currentStatus": "Complete",
                                        "lastSuccessfulSync": NOW, "latestSyncId": pull["id"],
                                        "latestSuccessfulSyncId": pull["id"]}
    company = codat.get(f"/companies/{ACME}").get_json()
    assert company["lastSync"] == company["dataConnections"][0]["lastSync"] == NOW


def test_a_pull_progresses_on_the_mock_clock(make_app, tmp_path):
    app = make_app(providers=("codat",), fixtures=fixtures_with(tmp_path, pullDelaySeconds=30))
    codat = CodatClient(app)
    before = codat.get(f"/companies/{ACME}/dataStatus").get_json()["journalEntries"]
    assert before == {"dataType": "journalEntries", "currentStatus": "Complete",
                      "lastSuccessfulSync": "2025-02-14T06:00:00Z"}  # fetched on first link
    pull = codat.post(f"/companies/{ACME}/data/queue/journalEntries").get_json()
    assert (pull["status"], pull["progress"], pull["isCompleted"]) == ("Queued", 0, False)
    assert "completed" not in pull
    status = codat.get(f"/companies/{ACME}/dataStatus").get_json()["journalEntries"]
    assert status["currentStatus"] == "Queued" and status["latestSyncId"] == pull["id"]
    assert status["lastSuccessfulSync"] == "2025-02-14T06:00:00Z" and "latestSuccessfulSyncId" not in status
    advance(app, 29)
    assert codat.get(f"/companies/{ACME}/data/history/{pull['id']}").get_json()["status"] == "Queued"
    advance(app, 5)
    done = codat.get(f"/companies/{ACME}/data/history/{pull['id']}").get_json()
    assert (done["status"], done["completed"], done["isCompleted"]) == ("Complete", "2025-02-15T12:00:30Z", True)
    status = codat.get(f"/companies/{ACME}/dataStatus").get_json()["journalEntries"]
    assert status["currentStatus"] == "Complete" and status["lastSuccessfulSync"] == "2025-02-15T12:00:30Z"
    assert codat.get(f"/companies/{ACME}").get_json()["lastSync"] == "2025-02-15T12:00:30Z"


def test_refresh_of_a_data_type_the_mock_does_not_hold(codat):
    pull = codat.post(f"/companies/{ACME}/data/queue/invoices", params={"connectionId": XERO}).get_json()
    assert (pull["status"], pull["isCompleted"], pull["dataType"]) == ("NotSupported", False, "invoices")
    assert codat.get(f"/companies/{ACME}/dataStatus").get_json()["invoices"]["currentStatus"] == "NotSupported"
    assert codat.get(f"/companies/{ACME}/data/history", params={"query": "status=NotSupported"}).get_json()[
        "totalResults"] == 1
    assert codat.post(f"/companies/{ACME}/data/queue/notAType").status_code == 400


def test_refresh_needs_a_linked_connection(codat):
    assert_error(codat.post(f"/companies/{BLANK}/data/all"), 400, NOT_VALID, item_part="Linked connection")
    assert_error(codat.post(f"/companies/{BLANK}/data/queue/journalEntries"), 400, NOT_VALID,
                 item_part="connectionId")
    missing = "00000000-0000-4000-8000-000000000000"
    assert_error(codat.post(f"/companies/{ACME}/data/queue/journalEntries", params={"connectionId": missing}),
                 404, f"Data connection {missing} not found")
    assert codat.get(f"/companies/{BLANK}/dataStatus").get_json() == {}
    assert_error(codat.get(f"/companies/{ACME}/data/history/{missing}"), 404,
                 f"No dataset was found with ID {missing}")


def test_replace_and_delete_a_company(codat):
    path = f"/companies/{ACME}"
    replaced = codat.request("PUT", path, {"name": "Acme Renamed"})
    assert replaced.status_code == 200
    body = replaced.get_json()
    assert body["name"] == "Acme Renamed" and "description" not in body and body["tags"] == {}  # replaced
    assert codat.get(path).get_json() == body
    assert_error(codat.request("PUT", path, {"description": "no name"}), 400, NOT_VALID, item_part="name")
    deleted = codat.delete(path)
    assert deleted.status_code == 204 and deleted.data == b""
    assert_error(codat.get(path), 404, f"No company was found with ID {ACME}", service="ClientsApi")
    assert_error(codat.entries(), 404, f"No company was found with ID {ACME}", service="ClientsApi")
    assert ACME not in [c["id"] for c in codat.get("/companies").get_json()["results"]]


def test_another_clients_company_cannot_be_replaced_or_deleted(codat):
    for method, body in (("PUT", {"name": "Taken"}), ("DELETE", None)):
        assert_error(codat.request(method, f"/companies/{OTHER}", body), 404,
                     f"No company was found with ID {OTHER}", service="ClientsApi")
    for path in ("data/all", "data/queue/journalEntries"):
        assert_error(codat.post(f"/companies/{OTHER}/{path}"), 404, f"No company was found with ID {OTHER}",
                     service="ClientsApi")
    other = CodatClient(codat.http.application, OTHER_KEY)
    assert other.get(f"/companies/{OTHER}").get_json()["name"] != "Taken"


@pytest.mark.parametrize("query, expected", [("dataType=journalEntries", 1), ("status=Queued", 0)])
def test_pull_history_queries(codat, query, expected):
    codat.post(f"/companies/{ACME}/data/all")
    assert codat.get(f"/companies/{ACME}/data/history", params={"query": query}).get_json()[
        "totalResults"] == expected
    ordered = codat.get(f"/companies/{ACME}/data/history", params={"orderBy": "-dataType"}).get_json()["results"]
    assert [p["dataType"] for p in ordered] == ["journalEntries", "chartOfAccounts"]
