"""Codat behaviours that openapi/codat.fidelity.yaml names and no other test proves.

Tests named `test_departs_*` pin a departure from Codat's documentation exactly as the mock behaves today. When a
change makes the mock faithful, such a test fails on purpose: update the ledger entry that names it (status,
`departure:` text) together with the test.
"""

from __future__ import annotations

import pytest

from mock_server.ledger import LedgerError
from tests.codat.conftest import ACME, BLANK, XERO, CodatClient, assert_error, entry
from tests.codat.conftest import app, codat  # noqa: F401  (the fixtures, shared with tests/codat/)

NOT_VALID = "Error processing request - not valid."
OFFLINE = "The Codat API is temporarily offline for maintenance. Please try again later."
SERVER = "There is a problem with our server. Please try again later."
TOO_MANY = "You have made too many requests in a given amount of time; please retry later."
NOW = "2025-02-15T12:00:00Z"
FAULT = "X-Ledger-Mock-Fault"


def items(response):
    body = response if isinstance(response, dict) else response.get_json()
    return body["validation"]["errors"]


def warnings(response):
    return " ".join(response.headers.getlist("X-Ledger-Mock-Warning"))


def fresh_company(codat, platform_key="qhyg"):
    """A company created through the API (the default chart) with one new connection."""
    company = codat.post("/companies", {"name": "Fresh Ltd"}).get_json()
    connection = codat.post(f"/companies/{company['id']}/connections", {"platformKey": platform_key}).get_json()
    return company, connection


# -- rate limit and the error body ----------------------------------------------------------------------------

def test_departs_there_is_no_rate_limit_unless_a_fault_sets_one(make_app):
    """Codat documents a 429; the mock never limits Codat by itself, even with rate limiting on."""
    app = make_app(providers=("codat",), rate_limiting=True)
    codat = CodatClient(app)
    assert {codat.get("/companies").status_code for _ in range(150)} == {200}
    app.test_client().post("/_mock/faults", json={"provider": "codat", "limit": 1, "window_s": 60})
    codat.get("/companies")
    limited = assert_error(codat.get("/companies"), 429, TOO_MANY)
    assert limited["statusCode"] == 429


def test_departs_a_forced_503_says_codat_is_offline_for_maintenance(codat):
    """The maintenance text, statusCode 503 (Codat's own example says 500) and a Retry-After Codat does not
    document; 502 and 504, which Codat does not document, say the same."""
    answer = codat.get("/companies", headers={FAULT: "status=503"})
    body = assert_error(answer, 503, OFFLINE)
    assert body["statusCode"] == 503 and answer.headers["Retry-After"] == "1"
    for status in (502, 504):
        assert_error(codat.get("/companies", headers={FAULT: f"status={status}"}), status, OFFLINE)


def test_departs_undocumented_statuses_use_the_not_valid_text(codat):
    """A forced status Codat documents no text for: "not valid" below 500, the server-problem text above."""
    for status in (405, 408, 413, 415, 418, 422):
        assert_error(codat.get("/companies", headers={FAULT: f"status={status}"}), status, NOT_VALID)
    for status in (501, 507):
        assert_error(codat.get("/companies", headers={FAULT: f"status={status}"}), status, SERVER)
    assert_error(codat.get("/companies", headers={FAULT: "status=404"}), 404,
                 "One or more of the resources you referenced could not be found.")
    # The same statuses arising by themselves have the mock's own words.
    assert_error(codat.request("PUT", "/companies"), 405, "Method not allowed.")
    assert_error(codat.get("/nowhere"), 404, "Route not found.")


def test_departs_an_operators_fault_message_replaces_codats_text(codat):
    for status in (503, 429, 409, 422, 400):
        answer = codat.get("/companies", headers={FAULT: f"status={status}; message=planned outage"})
        assert "validation" not in assert_error(answer, status, "planned outage")
    # Without a message, a forced 400 is Codat's own "not valid", with no validation items of the mock's.
    assert "validation" not in assert_error(codat.get("/companies", headers={FAULT: "status=400"}), 400, NOT_VALID)


def test_departs_a_ledger_rule_error_is_one_validation_item_without_item_id(codat, monkeypatch):
    """An error the shared ledger raises (here in place of the push checks) is one item with no itemId."""
    from mock_server.providers.codat import wire

    def ledger_refuses(body, company):
        raise LedgerError("Total debits must equal total credits (debits 10.00, credits 9.00).")
    monkeypatch.setattr(wire, "check_push", ledger_refuses)
    answer = codat.push(entry())
    body = assert_error(answer, 400, NOT_VALID)
    assert body["validation"] == {"errors": [{"message": "Total debits must equal total credits (debits 10.00, "
                                                         "credits 9.00).", "validatorName": "JournalEntry"}],
                                  "warnings": []}
    assert codat.get(f"/companies/{ACME}/push").get_json()["totalResults"] == 0


def test_departs_echoed_values_are_cut_to_80_characters(codat):
    long_id = "a" * 200
    assert_error(codat.get(f"/companies/{long_id}"), 404, f"No company was found with ID {'a' * 80}...",
                 service="ClientsApi")
    assert_error(codat.get(f"/companies/{ACME}/data/journalEntries/{'b' * 81}"), 404,
                 f"No journal entry was found with ID {'b' * 80}...")
    assert_error(codat.get(f"/companies/{ACME}/data/journalEntries/{'c' * 80}"), 404,
                 f"No journal entry was found with ID {'c' * 80}")


def test_departs_route_errors_have_the_mocks_own_text_and_unmocked_operations_501(codat):
    assert_error(codat.get("/nowhere"), 404, "Route not found.")
    assert_error(codat.request("PUT", "/companies"), 405, "Method not allowed.")
    unmocked = codat.request("PATCH", f"/companies/{ACME}", {"name": "Renamed"})
    body = assert_error(unmocked, 501, unmocked.get_json()["error"])
    assert "not mock" in body["error"] and "Update company" in body["error"]
    assert_error(codat.get(f"/companies/{ACME}/data/journals"), 501, codat.get(
        f"/companies/{ACME}/data/journals").get_json()["error"])


def test_departs_a_missing_record_is_named_in_the_mocks_words(codat):
    """Codat's example for a record: "No data available for accounts for ID ..."; the mock's words differ."""
    assert_error(codat.get(f"/companies/{ACME}/data/journalEntries/nope"), 404,
                 "No journal entry was found with ID nope")
    assert_error(codat.get(f"/companies/{ACME}/push/nope"), 404, "No push operation was found with key nope")


# -- companies and connections --------------------------------------------------------------------------------

def test_departs_a_company_name_with_forbidden_characters_is_refused(codat):
    """The real API strips the characters and creates the company (D20)."""
    assert_error(codat.post("/companies", {"name": "Bad/Name"}), 400, NOT_VALID, item_part="name")
    assert codat.get("/companies").get_json()["totalResults"] == 2


def test_departs_any_four_letter_platform_key_makes_a_connection(codat):
    connection = codat.post(f"/companies/{BLANK}/connections", {"platformKey": "qqqq"})
    assert connection.status_code == 200
    assert connection.get_json()["platformName"] == "Platform qqqq" and connection.get_json()["status"] == "Linked"


def test_departs_a_new_connection_is_linked_at_once(codat):
    company, connection = fresh_company(codat)
    assert connection["status"] == "Linked"
    pushed = codat.push(entry(("6000", 10), ("1000", -10)), company=company["id"], connection=connection["id"])
    assert pushed.status_code == 200 and pushed.get_json()["status"] == "Success"


# -- journal entries --------------------------------------------------------------------------------------------

def test_departs_a_push_in_the_seeds_field_names_is_refused(codat):
    """The seed's names (postedDate, lines with debit and credit) are unknown fields: ignored, so the push lacks
    the vendor's postedOn and journalLines."""
    seed_body = {"postedDate": "2025-02-14", "memo": "Office supplies",
                 "lines": [{"debit": 42.5, "accountRef": {"id": "6300"}},
                           {"credit": 42.5, "accountRef": {"id": "1000"}}]}
    refused = assert_error(codat.push(seed_body), 400, NOT_VALID, item_part="postedOn")
    assert any("journalLines" in (i.get("itemId") or "") + i["message"] for i in refused["validation"]["errors"])
    stored = codat.push(entry(currencyRate=1.0, subsidiaryRefs=[{"id": "s1"}])).get_json()["data"]
    assert stored["currencyRate"] == 1 and stored["subsidiaryRefs"] == [{"id": "s1"}]  # the rate of GBP to GBP


def test_departs_a_fresh_linked_company_is_readable_at_once(codat):
    """Codat answers 409 until the first pull completes; the mock's first link brings the data at once."""
    company, _ = fresh_company(codat)
    listed = codat.entries(company["id"])
    assert listed.status_code == 200 and listed.get_json()["totalResults"] == 0


def test_departs_links_carry_the_mount_prefix(codat):
    links = codat.get("/companies", params={"pageSize": 1}).get_json()["_links"]
    assert links["self"] == {"href": "/codat/companies"}
    assert links["next"] == {"href": "/codat/companies?page=2&pageSize=1"}


def test_departs_line_amounts_are_not_queryable(codat):
    for field in ("journalLines.netAmount", "debit"):
        assert_error(codat.entries(query=f"{field}>10"), 400,
                     f"Error parsing query - Could not resolve property {field} on JournalEntry")
        assert_error(codat.entries(orderBy=field), 400,
                     f"Error parsing query - Could not resolve property {field} on JournalEntry")


def test_departs_the_create_model_is_the_same_for_every_platform(codat):
    """Xero (gbol) and QuickBooks Online (qhyg) connections of one company get one and the same model."""
    qbo = codat.post(f"/companies/{ACME}/connections", {"platformKey": "qhyg"}).get_json()
    xero_model = codat.get(f"/companies/{ACME}/connections/{XERO}/options/journalEntries").get_json()
    qbo_model = codat.get(f"/companies/{ACME}/connections/{qbo['id']}/options/journalEntries").get_json()
    assert xero_model == qbo_model
    assert [name for name, p in xero_model["properties"].items() if p["required"]] == ["postedOn", "journalLines"]


def test_departs_a_broken_rule_is_a_400_and_records_no_push(codat):
    """Codat would record the push and end it Failed with `validation`; the mock refuses synchronously."""
    refused = codat.push(entry(("6300", 42.5), ("9999", -40)))
    assert_error(refused, 400, NOT_VALID)
    assert {i["itemId"] for i in items(refused)} == {"journalLines[1].accountRef.id", "journalLines"}
    assert codat.get(f"/companies/{ACME}/push").get_json()["totalResults"] == 0


def test_departs_postedon_and_two_lines_are_required(codat):
    assert_error(codat.push({"description": "nothing else"}), 400, NOT_VALID, item_part="postedOn")
    assert_error(codat.push(entry(("6300", 1))), 400, NOT_VALID, item_part="journalLines")
    no_account = entry()
    del no_account["journalLines"][0]["accountRef"]
    assert_error(codat.push(no_account), 400, NOT_VALID, item_part="accountRef")


@pytest.mark.parametrize("amount, part", [(0, "cannot be zero"), (42.555, "journalLines[0].netAmount")])
def test_departs_zero_and_sub_cent_amounts_are_refused(codat, amount, part):
    refused = assert_error(codat.push(entry(("6300", amount), ("1000", -amount))), 400, NOT_VALID, item_part=part)
    assert refused["validation"]["errors"][0]["itemId"] == "journalLines[0].netAmount"


def test_departs_a_foreign_currency_line_is_refused(codat):
    body = entry()
    body["journalLines"][0]["currency"] = "EUR"
    refused = assert_error(codat.push(body), 400, NOT_VALID)
    assert [i["itemId"] for i in items(refused)] == ["journalLines[0].currency"]
    del body["journalLines"][0]["currency"]
    assert codat.push(body).get_json()["data"]["journalLines"][0]["currency"] == "GBP"


def test_departs_a_clients_id_and_dates_are_replaced(codat, make_app):
    pushed = codat.push(entry(id="mine", createdOn="1999-01-01T00:00:00Z", updatedOn="1999-01-02T00:00:00Z",
                              modifiedDate="1999-01-03T00:00:00Z", metadata={"isDeleted": True}))
    stored = pushed.get_json()["data"]
    assert stored["id"] != "mine" and stored["metadata"] == {"isDeleted": False}
    assert stored["createdOn"] == stored["updatedOn"] == stored["modifiedDate"] == NOW
    for field in ("id", "createdOn", "updatedOn", "modifiedDate", "metadata"):  # not in the mock's push schema
        assert f"`{field}`" in warnings(pushed)
    strict = CodatClient(make_app(providers=("codat",), refuse_ignored=True))
    assert_error(strict.push(entry(createdOn="1999-01-01T00:00:00Z")), 400, NOT_VALID, item_part="createdOn")


def test_a_lines_account_name_is_the_charts(codat):
    body = entry()
    body["journalLines"][0]["accountRef"]["name"] = "Not the chart's name"
    pushed = codat.push(body)
    assert pushed.get_json()["data"]["journalLines"][0]["accountRef"] == {"id": "6300", "name": "Office Expenses"}
    assert "journalLines/0/accountRef/name" in warnings(pushed)


def test_departs_a_push_is_settled_within_the_request(codat):
    """Codat answers Pending; the mock's default connection answers Success, the entry readable at once."""
    push = codat.push(entry(description="At once")).get_json()
    assert (push["status"], push["statusCode"]) == ("Success", 200)
    assert push["requestedOnUtc"] == push["completedOnUtc"] == NOW
    assert codat.entries(query="description=At once").get_json()["totalResults"] == 1


def test_departs_delete_works_on_a_xero_connection(codat):
    """Codat deletes journal entries on QuickBooks Online only; the fixture connection is Xero (gbol)."""
    assert codat.get(f"/companies/{ACME}/connections").get_json()["results"][0]["integrationKey"] == "gbol"
    push = codat.remove("je-2025-0004").get_json()
    assert push["status"] == "Success"
    assert codat.get(f"/companies/{ACME}/data/journalEntries/je-2025-0004").get_json()["metadata"] == {
        "isDeleted": True}


def test_departs_unknown_fields_are_ignored_with_a_warning(codat, make_app):
    pushed = codat.push(entry(taxAmount=1.5), params={"dryRun": "true"})
    assert pushed.status_code == 200 and pushed.get_json()["status"] == "Success"
    assert "taxAmount" in warnings(pushed) and "dryRun" in warnings(pushed)
    strict = CodatClient(make_app(providers=("codat",), refuse_ignored=True))
    assert_error(strict.push(entry(taxAmount=1.5)), 400, NOT_VALID, item_part="taxAmount")
    assert_error(strict.get("/companies", params={"dryRun": "true"}), 400, NOT_VALID, item_part="dryRun")


# -- dates, query strings, refreshes ---------------------------------------------------------------------------

def test_departs_posted_on_keeps_only_its_day(codat):
    """The accounting date is the day the client wrote (docs.codat.io/docs/datamodel-shared-date: dates are local
    to the business); the time of day and the zone are left out, with a warning."""
    pushed = codat.push(entry(posted_on="2025-02-14T18:45:00-08:00"))
    assert pushed.get_json()["data"]["postedOn"] == "2025-02-14T00:00:00"
    assert "`postedOn`" in warnings(pushed)
    assert "X-Ledger-Mock-Warning" not in codat.push(entry(posted_on="2025-02-14")).headers


def test_departs_a_raw_angle_bracket_is_refused_by_the_http_server():
    """Codat's querying docs give `>` as `%3e`; sent raw, granian's HTTP parser answers a bodiless 400 before the
    mock runs. Encoded once or twice (as the docs' examples are), the same query is answered."""
    import base64
    import socket

    from tests.codat.conftest import KEY
    from tests.served import Served

    def raw(port, target):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Basic "
                         f"{base64.b64encode(KEY.encode()).decode()}\r\n\r\n".encode())
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        return int(head.split()[1]), body

    path = f"/codat/companies/{ACME}/data/journalEntries?query="
    with Served("--providers", "codat") as served:
        assert raw(served.port, path + "postedOn>2025-02-01") == (400, b"")
        for encoded in ("postedOn%3E2025-02-01", "postedOn%253E2025-02-01", "id%3Dje-2025-0003||postedOn%3E2025-02-01"):
            status, body = raw(served.port, path + encoded)
            assert status == 200 and b'"totalResults":2' in body, (encoded, body)


def test_departs_a_refresh_completes_at_once(codat):
    """Codat's pulls take seconds to hours; the fixture connection has no pullDelaySeconds."""
    pull = codat.post(f"/companies/{ACME}/data/queue/journalEntries").get_json()
    assert (pull["status"], pull["requested"], pull["completed"]) == ("Complete", NOW, NOW)


def test_departs_data_fetched_on_first_link_has_no_sync_id(codat):
    status = codat.get(f"/companies/{ACME}/dataStatus").get_json()
    assert set(status) == {"chartOfAccounts", "journalEntries"}
    assert status["journalEntries"] == {"dataType": "journalEntries", "currentStatus": "Complete",
                                        "lastSuccessfulSync": "2025-02-14T06:00:00Z"}


def test_departs_unlink_sets_unlinked_only(codat):
    path = f"/companies/{ACME}/connections/{XERO}"
    for status in ("Linked", "Deauthorized", "PendingAuth"):
        assert_error(codat.request("PATCH", path, {"status": status}), 400, NOT_VALID, item_part="status")
    assert codat.delete(path).get_json() is None
