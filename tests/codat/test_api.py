"""Codat behaviour over HTTP: auth and tenancy, companies, connections, journal entries, paging and queries."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.codat.conftest import (ACME, BLANK, KEY, OTHER, OTHER_CONNECTION, OTHER_KEY, REVOKED_KEY, XERO,
                                  CodatClient, assert_error, basic, entry)
from tests.conftest import provider

MALFORMED = "Error parsing query - Malformed query."
NOT_VALID = "Error processing request - not valid."

# -- auth and tenancy ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer abc", "Basic", "Basic !!!not-base64!!!", f"Basic {KEY}",
                                    basic("lm_codat_key_unknown"), "Basic " + "gICA"])  # last: not UTF-8
def test_anything_but_a_known_key_is_401(app, header):
    client = CodatClient(app, key=None)
    response = client.get("/companies", headers={"Authorization": header} if header else None)
    assert_error(response, 401, "Unauthorized")


def test_revoked_key_is_403_on_every_route(app):
    client = CodatClient(app, key=REVOKED_KEY)
    for response in (client.get("/companies"), client.get(f"/companies/{ACME}/push"), client.post("/companies", {})):
        assert_error(response, 403, "You are using an outdated API key or a key not associated with that resource.")


def test_auth_comes_before_validation_and_routing(app):
    client = CodatClient(app, key=None)
    assert_error(client.get(f"/companies/{ACME}/data/journalEntries", params={"page": 0}), 401, "Unauthorized")


def test_a_key_sees_only_its_clients_companies(app, codat):
    names = [c["name"] for c in codat.get("/companies").get_json()["results"]]
    assert names == ["Acme Trading Ltd", "Blank Co"]
    other = CodatClient(app, key=OTHER_KEY)
    assert [c["id"] for c in other.get("/companies").get_json()["results"]] == [OTHER]
    assert_error(codat.get(f"/companies/{OTHER}"), 404, f"No company was found with ID {OTHER}", service="ClientsApi")
    assert_error(other.entries(ACME), 404, f"No company was found with ID {ACME}", service="ClientsApi")
    assert_error(other.push(entry(), company=ACME, connection=XERO), 404, f"No company was found with ID {ACME}",
                 service="ClientsApi")


def test_unknown_routes_and_methods_answer_in_codats_body(codat):
    assert_error(codat.get("/nowhere"), 404, "Route not found.")
    response = codat.request("PUT", "/companies")
    assert_error(response, 405, "Method not allowed.")
    assert "GET" in response.headers["Allow"]


def test_credentials_are_usable(app):
    creds = provider(app, "codat").credentials("http://localhost:8080/codat")
    assert creds["base_url"] == "http://localhost:8080/codat" and creds["company_id"] == ACME
    assert creds["authorization"] == basic(creds["api_key"])
    response = app.test_client().get(f"/codat/companies/{creds['company_id']}/connections",
                                     headers={"Authorization": creds["authorization"]})
    assert response.get_json()["results"][0]["id"] == creds["connection_id"]


# -- companies and connections ---------------------------------------------------------------------------------


def test_company_with_its_connection(codat):
    company = codat.get(f"/companies/{ACME}").get_json()
    assert company["redirect"] == f"https://link.codat.io/company/{ACME}"
    (connection,) = company["dataConnections"]
    assert connection["integrationKey"] == "gbol" and connection["platformName"] == "Xero"
    assert connection["status"] == "Linked" and connection["sourceType"] == "Accounting"
    assert connection["linkUrl"] == f"https://link-api.codat.io/companies/{ACME}/connections/{XERO}/start"


@pytest.mark.parametrize("company_id", ["not-a-uuid", "00000000-0000-4000-8000-000000000000"])
def test_unknown_company_is_404(codat, company_id):
    assert_error(codat.get(f"/companies/{company_id}"), 404, f"No company was found with ID {company_id}",
                 service="ClientsApi")


def test_create_company_gets_the_default_chart(codat):
    response = codat.post("/companies", {"name": "Bank of Dave", "description": "New", "tags": {"team": "a"}})
    assert response.status_code == 200
    company = response.get_json()
    assert company["name"] == "Bank of Dave" and company["tags"] == {"team": "a"} and company["dataConnections"] == []
    assert company["created"] == "2025-02-15T12:00:00Z"
    assert codat.get(f"/companies/{company['id']}").get_json() == company
    connection = codat.post(f"/companies/{company['id']}/connections", {"platformKey": "qhyg"}).get_json()
    assert connection["platformName"] == "QuickBooks Online" and connection["status"] == "Linked"
    model = codat.get(f"/companies/{company['id']}/connections/{connection['id']}/options/journalEntries").get_json()
    accounts = model["properties"]["journalLines"]["properties"]["accountRef"]["properties"]["id"]["options"]
    assert [a["value"] for a in accounts] == ["1000", "1100", "2100", "4000", "5000", "6000"]
    # A fresh company is empty, but readable once linked.
    assert codat.entries(company["id"]).get_json()["totalResults"] == 0


@pytest.mark.parametrize("body, part", [({}, "name"), ({"name": "Bad/Name"}, "name"), ({"name": ""}, "name"),
                                        ({"name": "Ok", "tags": {"k" * 28: "v"}}, "tags")])
def test_invalid_company_body_is_400(codat, body, part):
    assert_error(codat.post("/companies", body), 400, NOT_VALID, item_part=part)


def test_company_limit_is_402(make_app, tmp_path):
    import yaml

    from mock_server import data_dir
    document = yaml.safe_load((data_dir("fixtures") / "codat.yaml").read_text())
    document["codat"]["clients"][0]["companyLimit"] = 2
    path = tmp_path / "codat.yaml"
    path.write_text(yaml.safe_dump(document))
    codat = CodatClient(make_app(providers=("codat",), fixtures=path))
    assert_error(codat.post("/companies", {"name": "Third"}), 402, "Company limit exceeded")
    assert codat.get("/companies").get_json()["totalResults"] == 2


def test_tags_filter(codat):
    def names(tags):
        response = codat.get("/companies", params={"tags": tags})
        assert response.status_code == 200, response.get_json()
        return [c["name"] for c in response.get_json()["results"]]
    assert names("region=uk") == ["Acme Trading Ltd"]
    assert names("Region=IE || segment=wholesale") == ["Acme Trading Ltd", "Blank Co"]
    assert names("region!=uk") == ["Blank Co"]
    assert names("segment~whole && region=uk") == ["Acme Trading Ltd"]
    assert names("nosuchtag=x") == []
    assert_error(codat.get("/companies", params={"tags": "region>1"}), 400, MALFORMED, item_part="tags")
    assert_error(codat.get("/companies", params={"tags": "region="}), 400, MALFORMED)


def test_company_query_on_connections(codat):
    response = codat.get("/companies", params={"query": "dataConnections.platformName=xero"})
    assert [c["name"] for c in response.get_json()["results"]] == ["Acme Trading Ltd"]


@pytest.mark.parametrize("key", ["GBOL", "gbo", "gb0l", None, 7])
def test_platform_key_must_be_four_lowercase_letters(codat, key):
    assert_error(codat.post(f"/companies/{ACME}/connections", {"platformKey": key}), 400, NOT_VALID,
                 item_part="platformKey")


def test_unknown_platform_keys_get_a_generic_name(codat):
    connection = codat.post(f"/companies/{BLANK}/connections", {"platformKey": "zzzz"}).get_json()
    assert connection["platformName"] == "Platform zzzz"
    listed = codat.get(f"/companies/{BLANK}/connections", params={"query": "integrationKey=zzzz"}).get_json()
    assert listed["totalResults"] == 1


def test_new_connections_can_start_pending_auth(make_app, tmp_path):
    import yaml

    from mock_server import data_dir
    document = yaml.safe_load((data_dir("fixtures") / "codat.yaml").read_text())
    document["codat"]["clients"][0]["newConnectionStatus"] = "PendingAuth"
    path = tmp_path / "codat.yaml"
    path.write_text(yaml.safe_dump(document))
    codat = CodatClient(make_app(providers=("codat",), fixtures=path))
    connection = codat.post(f"/companies/{BLANK}/connections", {"platformKey": "gbol"}).get_json()
    assert connection["status"] == "PendingAuth"
    assert_error(codat.entries(BLANK), 409, "The data set has not been requested.")
    assert_error(codat.push(entry(), company=BLANK, connection=connection["id"]), 400, NOT_VALID,
                 item_part="connectionId")


def test_unknown_connection_is_404(codat):
    missing = "00000000-0000-4000-8000-000000000001"
    for response in (codat.get(f"/companies/{ACME}/connections/{missing}/options/journalEntries"),
                     codat.push(entry(), connection=missing), codat.push(entry(), connection=OTHER_CONNECTION),
                     codat.remove("je-2025-0001", connection="nope")):
        assert response.status_code == 404
    assert_error(codat.push(entry(), connection=missing), 404, f"Data connection {missing} not found")


# -- journal entries: reads, paging and queries ----------------------------------------------------------------


def test_journal_entries_on_the_wire(codat):
    body = codat.get(f"/companies/{ACME}/data/journalEntries/je-2025-0003").get_json()
    assert body["postedOn"] == "2025-02-03T00:00:00" and body["metadata"] == {"isDeleted": False}
    assert body["recordRef"] == {"id": "INV-1042", "dataType": "invoices"}
    first = body["journalLines"][0]
    assert first == {"netAmount": 2400.0, "description": "Brightside Stationers", "currency": "GBP",
                     "accountRef": {"id": "1100", "name": "Accounts Receivable"},
                     "contactRef": {"id": "cust-brightside", "dataType": "customers"}}
    assert sum(Decimal(str(line["netAmount"])) for line in body["journalLines"]) == 0


def test_amounts_are_exact_json_numbers(codat):
    raw = codat.get(f"/companies/{ACME}/data/journalEntries/je-2025-0002").get_data(as_text=True)
    assert '"netAmount":-4310.55' in raw and '"netAmount":18250.00' in raw


def test_entries_need_a_linked_connection(codat):
    assert_error(codat.entries(BLANK), 409, "The data set has not been requested.")
    assert_error(codat.get(f"/companies/{BLANK}/data/journalEntries/x"), 409, "The data set has not been requested.")


def test_unknown_entry_is_404(codat):
    assert_error(codat.get(f"/companies/{ACME}/data/journalEntries/nope"), 404,
                 "No journal entry was found with ID nope")


def test_paging_envelope_and_links(codat):
    page = codat.entries(page=2, pageSize=1, query="journalRef.id=GJ").get_json()
    assert page["pageNumber"] == 2 and page["pageSize"] == 1 and page["totalResults"] == 3
    assert [e["id"] for e in page["results"]] == ["je-2025-0003"]
    base = f"/codat/companies/{ACME}/data/journalEntries"
    assert page["_links"] == {
        "self": {"href": base},
        "current": {"href": f"{base}?page=2&pageSize=1&query=journalRef.id%3DGJ"},
        "next": {"href": f"{base}?page=3&pageSize=1&query=journalRef.id%3DGJ"},
        "previous": {"href": f"{base}?page=1&pageSize=1&query=journalRef.id%3DGJ"},
    }
    last = codat.entries(page=4, pageSize=1).get_json()
    assert "next" not in last["_links"] and last["results"][0]["id"] == "je-2025-0004"
    assert codat.entries(page=9).get_json()["results"] == []


def test_links_follow_the_mount(make_app):
    codat = CodatClient(make_app(providers=("codat",), root_provider="codat"), prefix="")
    page = codat.get("/companies", params={"pageSize": 1}).get_json()
    assert page["_links"]["next"] == {"href": "/companies?page=2&pageSize=1"}


@pytest.mark.parametrize("params", [{"page": 0}, {"pageSize": 0}, {"pageSize": 5001}, {"page": "x"}])
def test_out_of_range_paging_is_400(codat, params):
    assert_error(codat.entries(**params), 400, MALFORMED)


def test_page_size_up_to_5000(codat):
    assert codat.entries(pageSize=5000).get_json()["pageSize"] == 5000


def ids(codat, **params):
    response = codat.entries(**params)
    assert response.status_code == 200, response.get_json()
    return [e["id"] for e in response.get_json()["results"]]


def test_query_precedence_grouping_and_case(codat):
    # && binds tighter than ||: PAY, or (GJ and after February 5th)
    assert ids(codat, query="journalRef.id=PAY || journalRef.id=GJ && postedOn>2025-02-05") == [
        "je-2025-0002", "je-2025-0004"]
    assert ids(codat, query="{journalRef.id=PAY || journalRef.id=GJ} && postedOn>2025-02-05") == ["je-2025-0004"]
    assert ids(codat, query="DESCRIPTION~PAYROLL") == ["je-2025-0002"]
    assert ids(codat, query="postedOn>=2025-02-03 && postedOn<2025-02-10") == ["je-2025-0003"]
    assert ids(codat, query="recordRef.dataType=invoices") == ["je-2025-0003"]


def test_order_by(codat):
    assert ids(codat, orderBy="-modifiedDate") == ["je-2025-0004", "je-2025-0003", "je-2025-0002", "je-2025-0001"]
    assert ids(codat, orderBy="description", pageSize=2) == ["je-2025-0001", "je-2025-0004"]
    assert ids(codat, orderBy="recordRef.id") == ["je-2025-0003", "je-2025-0001", "je-2025-0002", "je-2025-0004"]


@pytest.mark.parametrize("params, error, part", [
    ({"query": "journalLines.netAmount>10"}, "Could not resolve property journalLines.netAmount on JournalEntry",
     "journalLines"),
    ({"query": "nope=1"}, "Could not resolve property nope on JournalEntry", "nope"),
    ({"query": "id="}, "Malformed query.", "value"),
    ({"query": "{id=a"}, "Malformed query.", "end of query"),
    ({"query": "postedOn>soon"}, "Malformed query.", "number or a date"),
    ({"query": "id=" + "a" * 2046}, "Malformed query.", "2048"),
    ({"orderBy": "journalLines"}, "Could not resolve property journalLines on JournalEntry", "journalLines"),
])
def test_query_errors_name_the_problem(codat, params, error, part):
    assert_error(codat.entries(**params), 400, f"Error parsing query - {error}", item_part=part)


def test_query_errors_come_before_404(codat):
    assert_error(codat.entries(company="00000000-0000-4000-8000-000000000000", query="bad=1"), 400,
                 "Error parsing query - Could not resolve property bad on JournalEntry")


def test_queries_on_every_list(codat):
    assert codat.get(f"/companies/{ACME}/connections", params={"query": "status=Linked", "orderBy": "-created"}
                     ).get_json()["totalResults"] == 1
    assert codat.get("/companies", params={"orderBy": "-created"}).get_json()["results"][0]["name"] == "Blank Co"
    assert_error(codat.get(f"/companies/{ACME}/push", params={"query": "data.id=1"}), 400,
                 "Error parsing query - Could not resolve property data.id on PushOperation")
    assert_error(codat.get("/companies", params={"orderBy": "tags"}), 400,
                 "Error parsing query - Could not resolve property tags on Company")


def test_previous_link_past_the_end_is_the_last_page(codat):
    base = f"/codat/companies/{ACME}/data/journalEntries"
    past = codat.entries(page=9, pageSize=3).get_json()
    assert past["results"] == [] and past["totalResults"] == 4
    assert past["_links"]["previous"] == {"href": f"{base}?page=2&pageSize=3"}
    nothing = codat.entries(page=3, query="id=none").get_json()
    assert nothing["_links"]["previous"] == {"href": f"{base}?page=1&pageSize=100&query=id%3Dnone"}


def test_a_twice_encoded_query_as_codats_docs_write_it(codat):
    """docs.codat.io using-the-api/querying writes `query=id%253D...`: the value arrives once decoded as `id%3D...`."""
    page = codat.get(f"/companies/{ACME}/data/journalEntries?query=id%253Dje-2025-0003").get_json()
    assert [e["id"] for e in page["results"]] == ["je-2025-0003"]
    page = codat.get(f"/companies/{ACME}/data/journalEntries?query=postedOn%253E%253D2025-02-10").get_json()
    assert [e["postedOn"] for e in page["results"]] == ["2025-02-10T00:00:00"]
