"""Done-when: the official client `sageintacctrestsdk`, with only its base URL pointed at the mock."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest
import requests

import intacctsdk
from intacctsdk import IntacctRESTSDK
from intacctsdk.exceptions import BadRequestError, InvalidTokenError

from mock_server.providers.intacct import rules
from tests.conftest import provider


@pytest.fixture
def sdk_base(make_app, live_server, monkeypatch):
    app = make_app(providers=("intacct",))
    base = live_server(app) + "/intacct/ia/api/v1"
    # The SDK has no base-URL option: both module globals are read at call time (dossier section 11).
    monkeypatch.setattr(sys.modules["intacctsdk.intacctsdk"], "BASE_URL", base)
    monkeypatch.setattr(sys.modules["intacctsdk.apis.api_base"], "BASE_URL", base)
    return SimpleNamespace(url=base, app=app)


def entry(amount):
    return {"glJournal": {"id": "GJ"}, "postingDate": "2025-02-03", "description": "SDK entry",
            "lines": [{"txnType": "debit", "txnAmount": amount, "glAccount": {"id": "6100"}},
                      {"txnType": "credit", "txnAmount": amount, "glAccount": {"id": "2000"}}]}


@pytest.mark.state_outside_the_api  # adds 2100 entries straight into the books
def test_sdk_round_trip(sdk_base):
    sdk = IntacctRESTSDK(username="admin@DEMO", client_id="mock-client", client_secret="mock-secret",
                         entity_id="US1")
    assert sdk.access_token and sdk.refresh_token and sdk.access_token_expires_in == 3600
    journal_entries = sdk.journal_entries

    start = journal_entries.count()
    created = journal_entries.post(entry("42.10"), idempotent_key="sdk-1")
    key = created["ia::result"]["key"]
    assert journal_entries.post(entry("42.10"), idempotent_key="sdk-1") == created  # replayed, not duplicated
    assert journal_entries.count() == start + 1

    got = journal_entries.get_by_key(key)["ia::result"]
    assert got["lines"][0]["txnAmount"] == "42.10" and got["state"] == "posted"

    journal_entries.update(key, {"description": "SDK entry (edited)", "referenceNumber": "SDK-1"})
    journal_entries.update_attachment(key, "DOC-7")
    got = journal_entries.get_by_key(key)["ia::result"]
    assert (got["description"], got["referenceNumber"], got["attachment"]["id"]) == (
        "SDK entry (edited)", "SDK-1", "DOC-7")

    filters = [{"$eq": {"state": "posted"}}]
    assert journal_entries.count(filters=filters) == 7

    company = provider(sdk_base.app, "intacct").state.company("DEMO")
    with company.lock:  # more than one SDK page (2000), so the generator must follow ia::meta.next
        for index in range(2100):
            rules.create_entry(company, entry(f"{index + 1}.00"), "admin")
    pages = list(journal_entries.get_all_generator(fields=["key", "txnNumber"], order_by=[{"key": "asc"}]))
    assert [len(page) for page in pages] == [2000, start + 2101 - 2000]
    keys = [row["key"] for page in pages for row in page]
    assert len(set(keys)) == len(keys) == journal_entries.count()

    assert journal_entries.delete(key) is None
    with pytest.raises(BadRequestError) as error:
        journal_entries.get_by_key(key)
    assert "REST-1100" in error.value.response

    assert [row["id"] for page in sdk.journals.get_all_generator(fields=["id"]) for row in page][:2] == ["GJ", "ADJ"]
    assert sdk.accounts.get_by_key("1")["ia::result"]["id"] == "1000"


def test_sdk_refresh_grant_and_workflows_with_its_token(sdk_base):
    first = IntacctRESTSDK(username="admin@DEMO", client_id="mock-client", client_secret="mock-secret")
    sdk = IntacctRESTSDK(refresh_token=first.refresh_token, client_id="mock-client", client_secret="mock-secret",
                         use_client_credentials_auth=False)
    assert sdk.refresh_token != first.refresh_token
    response = requests.post(f"{sdk_base.url}/workflows/general-ledger/journal-entry/submit", json={"key": "132"},
                             headers={"Authorization": f"Bearer {sdk.access_token}"}, timeout=10)
    assert response.json()["ia::result"]["state"] == "submitted"


def test_sdk_sees_intacct_errors(sdk_base):
    sdk = IntacctRESTSDK(username="admin@DEMO", client_id="mock-client", client_secret="mock-secret")
    with pytest.raises(BadRequestError) as error:
        sdk.journal_entries.post({**entry("1.00"), "lines": entry("1.00")["lines"][:1]})
    assert "REST-1064" in error.value.response
    with pytest.raises(BadRequestError):
        IntacctRESTSDK(access_token="stale", client_id="x").journal_entries.get_by_key("132")
    assert intacctsdk.intacctsdk.BASE_URL == sdk_base.url


def test_invalid_token_error_with_the_400_switch(make_app, live_server, monkeypatch, tmp_path):
    import yaml

    from mock_server import data_dir
    fixtures = yaml.safe_load((data_dir("fixtures") / "intacct.yaml").read_text())
    fixtures["intacct"]["authFailureStatus"] = 400
    (tmp_path / "intacct.yaml").write_text(yaml.safe_dump(fixtures))
    base = live_server(make_app(providers=("intacct",), fixtures=tmp_path)) + "/intacct/ia/api/v1"
    monkeypatch.setattr(sys.modules["intacctsdk.apis.api_base"], "BASE_URL", base)
    with pytest.raises(InvalidTokenError):
        IntacctRESTSDK(access_token="stale").journal_entries.get_by_key("132")
