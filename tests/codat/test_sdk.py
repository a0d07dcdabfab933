"""Codat's official Python SDKs, with only `server_url` pointed at the mock, drive a whole journal-entry round trip."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from tests.codat.conftest import ACME, KEY, XERO

codat_accounting = pytest.importorskip("codat_accounting")
codat_platform = pytest.importorskip("codat_platform")


@pytest.fixture
def sdks(make_app, live_server):
    from codat_accounting.models import shared as acct_shared
    from codat_accounting.utils import RetryConfig as AcctRetry
    from codat_platform.models import shared as plat_shared
    from codat_platform.utils import RetryConfig as PlatRetry

    server_url = live_server(make_app(providers=("codat",))) + "/codat"
    header = "Basic " + base64.b64encode(KEY.encode()).decode()
    platform = codat_platform.CodatPlatform(security=plat_shared.Security(auth_header=header),
                                            server_url=server_url, retry_config=PlatRetry("none", None, False))
    accounting = codat_accounting.CodatAccounting(security=acct_shared.Security(auth_header=header),
                                                  server_url=server_url, retry_config=AcctRetry("none", None, False))
    return platform, accounting


def test_sdk_round_trip(sdks):
    from codat_accounting.models import errors as acct_errors

    platform, accounting = sdks
    companies = platform.companies.list(request={"page": 1, "page_size": 100})
    assert [c.name for c in companies.results] == ["Acme Trading Ltd", "Blank Co"]
    assert companies.results[0].data_connections[0].status.value == "Linked"
    assert platform.companies.get(request={"company_id": ACME}).id == ACME
    assert platform.connections.list(request={"company_id": ACME}).results[0].id == XERO

    page = accounting.journal_entries.list(request={"company_id": ACME, "page": 2, "page_size": 1,
                                                    "query": "journalRef.id=GJ", "order_by": "-postedOn"})
    assert page.page_number == 2 and page.total_results == 3 and page.links.next is not None
    assert [e.id for e in page.results] == ["je-2025-0003"]
    one = accounting.journal_entries.get(request={"company_id": ACME, "journal_entry_id": "je-2025-0003"})
    assert one.journal_lines[0].account_ref.name == "Accounts Receivable"

    model = accounting.journal_entries.get_create_model(request={"company_id": ACME, "connection_id": XERO})
    accounts = model.properties["journalLines"].properties["accountRef"].properties["id"].options
    account_ids = {a.value for a in accounts}
    assert {"6300", "1000"} <= account_ids

    created = accounting.journal_entries.create(request={
        "company_id": ACME, "connection_id": XERO, "timeout_in_minutes": 5,
        "journal_entry": {"description": "SDK push", "posted_on": "2025-02-14T00:00:00",
                          "journal_lines": [{"net_amount": 99.99, "account_ref": {"id": "6300"}},
                                            {"net_amount": -99.99, "account_ref": {"id": "1000"}}]}})
    assert created.status.value == "Success" and created.status_code == 200
    entry_id = created.data.id
    polled = platform.push_data.get_operation(request={"company_id": ACME,
                                                       "push_operation_key": created.push_operation_key})
    assert polled.status.value == "Success" and polled.changes[0].record_ref.id == entry_id
    history = platform.push_data.list_operations(request={"company_id": ACME, "query": "status=Success"})
    assert [p.push_operation_key for p in history.results] == [created.push_operation_key]
    stored = accounting.journal_entries.get(request={"company_id": ACME, "journal_entry_id": entry_id})
    assert [line.net_amount for line in stored.journal_lines] == [Decimal("99.99"), Decimal("-99.99")]

    deleted = accounting.journal_entries.delete(request={"company_id": ACME, "connection_id": XERO,
                                                         "journal_entry_id": entry_id})
    assert deleted.status.value == "Success" and deleted.changes[0].type.value == "Deleted"
    stored = accounting.journal_entries.get(request={"company_id": ACME, "journal_entry_id": entry_id})
    assert stored.metadata.is_deleted is True

    with pytest.raises(acct_errors.ErrorMessage) as refused:
        accounting.journal_entries.create(request={
            "company_id": ACME, "connection_id": XERO,
            "journal_entry": {"posted_on": "2025-02-14", "journal_lines": [
                {"net_amount": 10, "account_ref": {"id": "6300"}}, {"net_amount": -9, "account_ref": {"id": "1000"}}]}})
    assert refused.value.data.status_code == 400
    assert refused.value.data.validation.errors[0].item_id == "journalLines"


def test_sdk_company_create_and_connection(sdks):
    platform, _ = sdks
    company = platform.companies.create(request={"name": "SDK Co", "description": "made by the SDK"})
    assert company.name == "SDK Co"
    connection = platform.connections.create(request={"company_id": company.id,
                                                      "request_body": {"platform_key": "gbol"}})
    assert connection.platform_name == "Xero"


def test_sdk_standard_read_flow(sdks):
    """link → refresh → poll data status → list journal entries → push → poll push, then the rest of the
    platform operations (get, unlink and delete a connection; replace and delete the company)."""
    platform, accounting = sdks
    company = platform.companies.create(request={"name": "Flow Co"})
    connection = platform.connections.create(request={"company_id": company.id,
                                                      "request_body": {"platform_key": "gbol"}})
    assert platform.connections.get(request={"company_id": company.id,
                                             "connection_id": connection.id}).status.value == "Linked"

    assert platform.refresh_data.all(request={"company_id": company.id}) is None
    status = platform.refresh_data.get(request={"company_id": company.id})
    assert status.journal_entries.current_status.value == "Complete"
    pull = platform.refresh_data.by_data_type(request={"company_id": company.id, "data_type": "journalEntries",
                                                       "connection_id": connection.id})
    assert pull.status.value == "Complete" and pull.is_completed
    polled = platform.refresh_data.get_pull_operation(request={"company_id": company.id, "dataset_id": pull.id})
    assert polled.id == pull.id
    history = platform.refresh_data.list_pull_operations(request={"company_id": company.id,
                                                                  "query": "dataType=journalEntries"})
    assert [p.id for p in history.results][-1] == pull.id
    assert platform.refresh_data.get(request={"company_id": company.id}).journal_entries.latest_sync_id == pull.id

    assert accounting.journal_entries.list(request={"company_id": company.id}).total_results == 0
    pushed = accounting.journal_entries.create(request={
        "company_id": company.id, "connection_id": connection.id,
        "journal_entry": {"posted_on": "2025-03-01T00:30:00+01:00", "journal_lines": [
            {"net_amount": 25, "account_ref": {"id": "6000"}}, {"net_amount": -25, "account_ref": {"id": "1000"}}]}})
    polled = platform.push_data.get_operation(request={"company_id": company.id,
                                                       "push_operation_key": pushed.push_operation_key})
    assert polled.status.value == "Success"
    listed = accounting.journal_entries.list(request={"company_id": company.id, "query": "postedOn=2025-03-01"})
    assert [e.id for e in listed.results] == [polled.changes[0].record_ref.id]

    replaced = platform.companies.update(request={"company_id": company.id,
                                                  "company_request_body": {"name": "Flow Co Renamed"}})
    assert replaced.name == "Flow Co Renamed"
    unlinked = platform.connections.unlink(request={"company_id": company.id, "connection_id": connection.id,
                                                    "update_connection_status": {"status": "Unlinked"}})
    assert unlinked.status.value == "Unlinked"
    assert platform.connections.delete(request={"company_id": company.id, "connection_id": connection.id}) is None
    assert platform.companies.delete(request={"company_id": company.id}) is None
    assert company.id not in [c.id for c in platform.companies.list(request={}).results]
