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
