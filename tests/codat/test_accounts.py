"""Codat's accounts read (`GET /companies/{companyId}/data/accounts` and one account): the chart with each account's
type, category, status and balance, as a client reads it to map its own chart."""

from __future__ import annotations

from decimal import Decimal

from tests.codat.conftest import ACME, BLANK, assert_error, entry


def accounts(codat, company=ACME, **params):
    return codat.get(f"/companies/{company}/data/accounts", params=params)


def test_accounts_list_the_chart_with_type_category_and_balance(codat):
    response = accounts(codat)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["totalResults"] == 19 and body["pageNumber"] == 1
    by_id = {a["id"]: a for a in body["results"]}
    assert [a["id"] for a in body["results"]][:3] == ["1000", "1010", "1100"]  # chart order
    assert by_id["1100"]["fullyQualifiedCategory"] == "Asset.AccountsReceivable" and by_id["1100"]["type"] == "Asset"
    assert by_id["2100"]["fullyQualifiedCategory"] == "Liability.AccountsPayable"
    assert by_id["2100"]["type"] == "Liability"
    assert by_id["6100"]["fullyQualifiedCategory"] == "Expense"
    assert by_id["6100"]["fullyQualifiedName"] == "Expense.Rent"
    assert {a["type"] for a in body["results"]} == {"Asset", "Liability", "Equity", "Income", "Expense"}
    assert by_id["4000"] | {"currentBalance": None} == {
        "id": "4000", "nominalCode": "4000", "name": "Sales", "fullyQualifiedCategory": "Income",
        "fullyQualifiedName": "Income.Sales", "currency": "GBP", "currentBalance": None, "type": "Income",
        "status": "Active", "isBankAccount": False, "metadata": {"isDeleted": False},
        "modifiedDate": by_id["4000"]["modifiedDate"], "sourceModifiedDate": by_id["4000"]["sourceModifiedDate"]}
    # Debit positive, as journal lines' netAmount: payroll's net pay and February's bank charges left account 1000.
    balance = Decimal(str(by_id["1000"]["currentBalance"]))
    assert balance == Decimal("-13939.45") - Decimal("32.50")
    assert sum(Decimal(str(a["currentBalance"])) for a in body["results"]) == 0


def test_account_balances_follow_pushes_and_deletes(codat):
    pushed = codat.push(entry(("6300", 42.5), ("1000", -42.5)))
    assert pushed.status_code == 200, pushed.get_json()
    entry_id = pushed.get_json()["data"]["id"]
    office = codat.get(f"/companies/{ACME}/data/accounts/6300").get_json()
    assert Decimal(str(office["currentBalance"])) == Decimal("42.50")
    assert codat.remove(entry_id).status_code == 200
    office = codat.get(f"/companies/{ACME}/data/accounts/6300").get_json()
    assert Decimal(str(office["currentBalance"])) == 0


def test_accounts_page_and_query_like_every_list(codat):
    first = accounts(codat, pageSize=5).get_json()
    assert len(first["results"]) == 5 and first["totalResults"] == 19
    assert first["_links"]["next"]["href"].endswith("page=2&pageSize=5")
    liabilities = accounts(codat, query="type=Liability").get_json()["results"]
    assert [a["id"] for a in liabilities] == ["2100", "2200", "2201", "2210"]
    by_name = accounts(codat, orderBy="-name", pageSize=1).get_json()["results"]
    assert by_name[0]["name"] == "Wages and Salaries"
    assert_error(accounts(codat, query="colour=red"), 400, "Error parsing query - Could not resolve property colour on Account")


def test_get_account_and_its_errors(codat):
    one = codat.get(f"/companies/{ACME}/data/accounts/2201")
    assert one.status_code == 200 and one.get_json()["name"] == "VAT Control"
    assert_error(codat.get(f"/companies/{ACME}/data/accounts/9999"), 404, "No account was found with ID 9999")
    # A company whose platform was never linked has no data set yet, as for journal entries.
    assert_error(accounts(codat, BLANK), 409, "The data set has not been requested.")
