"""COUNT behaviours that openapi/count.fidelity.yaml names and no other test proves.

Tests named `test_departs_*` pin a departure from COUNT's documentation exactly as the mock behaves today. When a
change makes the mock faithful, such a test fails on purpose: update the ledger entry that names it (status,
`departure:` text) together with the test.
"""

from __future__ import annotations

import pytest

from tests.conftest import advance, provider
from tests.count.conftest import (ACCRUED, BLUE_DOOR, CHECKING, HIGHLAND, RENT, SOFTWARE, UNCATEGORISED, CountClient,
                                  assert_error, balances, entry_body)
from tests.count.conftest import count  # noqa: F401  (the fixture, shared with tests/count/)

MISSING = "99999999-9999-4999-8999-999999999999"


def entries_total(count):
    return count.get("/journal-entries").get_json()["data"]["totalRecords"]


# -- authentication ------------------------------------------------------------------------------------------

def test_departs_fixture_tokens_outlive_the_documented_hour(app, count):
    """Issued tokens live 3600 s (D10); the fixture pair lives 365 days so a long CI job never sees it expire."""
    advance(app, 30 * 24 * 3600)
    assert count.get("/tags").status_code == 200


def test_authentication_comes_before_validation_and_validation_before_lookup(count):
    """D6: HMAC and Bearer first, then the body, then the {id} lookup."""
    unsigned = count.patch(f"/journal-entries/{MISSING}", raw=b'{"date": ', sign=False)
    assert_error(unsigned, 401, "missing_credentials")
    assert_error(count.patch(f"/journal-entries/{MISSING}", {"date": "31/01/2025"}), 400, "validation_error", "date")
    assert_error(count.patch(f"/journal-entries/{MISSING}", {"refNumber": "x"}), 404, "not_found")


# -- journal entries -----------------------------------------------------------------------------------------

def test_departs_a_number_with_trailing_zeros_is_taken_at_its_value(count):
    created = count.post("/journal-entries", entry_body((RENT, 1.100, None), (ACCRUED, None, 1.1)))
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["data"]["totalDebit"] == "1.10"
    assert_error(count.post("/journal-entries", entry_body((RENT, 1.005, None), (ACCRUED, None, 1.005))), 400,
                 "validation_error", "at most 2 decimal")


def test_departs_not_found_messages_name_the_id(count):
    assert_error(count.post("/journal-entries", entry_body((MISSING, "5.00", None), (ACCRUED, None, "5.00"))), 400,
                 "reference_not_found", f"Account not found: {MISSING}.")
    assert_error(count.patch(f"/journal-entries/{MISSING}", {"refNumber": "x"}), 404, "not_found",
                 f"Journal entry not found: {MISSING}.")


def test_text_fields_have_their_maximum_lengths(count):
    """D17: descriptions 500, refNumber 100, names 200."""
    assert_error(count.post("/journal-entries", entry_body(description="x" * 501)), 400, "validation_error",
                 "descriptionEntry")
    assert_error(count.post("/journal-entries", entry_body(refNumber="r" * 101)), 400, "validation_error",
                 "refNumber")
    assert_error(count.post("/tags", {"name": "t" * 201}), 400, "validation_error", "name")
    assert count.post("/journal-entries", entry_body(description="x" * 500)).status_code == 201


def test_amounts_are_below_ten_to_the_thirteen(count):
    huge = "10000000000000.00"
    assert_error(count.post("/journal-entries", entry_body((RENT, huge, None), (ACCRUED, None, huge))), 400,
                 "validation_error", "amountDebit")
    assert entries_total(count) == 4


def test_there_is_no_get_one_for_journal_entries_accounts_or_vendors(count):
    """D14: COUNT's code has no GET by id for these; the path exists for other methods, so 405."""
    for path in (f"/journal-entries/e0000000-0000-4000-8000-000000000004", f"/chart-of-accounts/{RENT}",
                 f"/vendors/{HIGHLAND}"):
        assert_error(count.get(path), 405, "method_not_allowed")


def test_lists_page_25_by_default_and_the_chart_returns_every_row(count):
    """D25: `limit` defaults to 25; the chart of accounts returns every row without one (up to 5000)."""
    for path in ("/journal-entries", "/transactions", "/vendors", "/customers", "/tags"):
        data = count.get(path).get_json()["data"]
        assert (data["page"], data["limit"]) == (1, 25), path
    chart = count.get("/chart-of-accounts").get_json()["data"]
    assert len(chart["accounts"]) == chart["totalRecords"] == 23
    assert_error(count.get("/chart-of-accounts", params={"limit": 5001}), 400, "validation_error", "limit")
    sub_types = count.get("/account-sub-types").get_json()["data"]
    assert set(sub_types) == {"subTypes", "totalRecords"} and len(sub_types["subTypes"]) == sub_types["totalRecords"]


# -- transactions --------------------------------------------------------------------------------------------

def test_departs_visibility_is_optional(count):
    """The seed calls `visibility` required; COUNT's own code never sends it (D27; count-cli's
    listTransactionsQuerySchema lists every filter it sends, and not this one): optional, checked, ignored."""
    assert count.get("/transactions").status_code == 200
    assert count.get("/transactions", params={"visibility": "firm-team"}).status_code == 200
    assert_error(count.get("/transactions", params={"visibility": "everyone"}), 400, "validation_error", "visibility")


@pytest.mark.state_outside_the_api
def test_lists_omit_excluded_transactions_and_get_one_returns_them(app, count):
    """D27. No partner call sets `excluded`; the test flags a row in the books directly."""
    ws = next(iter(provider(app, "count").state.workspaces.values()))
    row = ws.book.transaction(UNCATEGORISED)
    ws.book.update_transaction(row.id, attrs={**row.attrs, "excluded": True})
    listed = {t["id"] for t in count.get("/transactions", params={"limit": 100}).get_json()["data"]["transactions"]}
    assert UNCATEGORISED not in listed
    assert count.get(f"/transactions/{UNCATEGORISED}").get_json()["data"]["excluded"] is True


def test_departs_an_uncategorised_transaction_posts_nothing(count):
    before = balances(count)
    made = count.post("/transactions", {"accUuid": CHECKING, "amount": "77.00", "postedDate": "2025-02-01"})
    assert made.status_code == 201 and made.get_json()["data"]["categoryAccountId"] is None
    assert balances(count) == before
    moved = count.patch(f"/transactions/{made.get_json()['data']['id']}/change-category",
                        {"categoryAccountUuid": SOFTWARE})
    assert moved.status_code == 200
    assert balances(count)[SOFTWARE] == "77.00"


def test_a_customer_used_by_a_transaction_cannot_be_deleted(count):
    made = count.post("/transactions", {"accUuid": CHECKING, "amount": "12.00", "postedDate": "2025-02-03",
                                        "categoryAccountUuid": "a0000000-0000-4000-8000-000000004000",
                                        "customerUuid": BLUE_DOOR})
    assert made.status_code == 201, made.get_json()
    assert_error(count.delete(f"/customers/{BLUE_DOOR}"), 400, "delete_blocked")
    assert count.delete(f"/transactions/{made.get_json()['data']['id']}").status_code == 200
    assert count.delete(f"/customers/{BLUE_DOOR}").status_code == 200


# -- chart of accounts ---------------------------------------------------------------------------------------

def test_sub_accounts_are_refused(count):
    """D24: no sub-accounts; `parentAccountId` must be null or absent."""
    assert_error(count.post("/chart-of-accounts", {"name": "Sub", "subTypeId": 15, "parentAccountId": 5}), 400,
                 "validation_error", "parentAccountId")
    assert count.post("/chart-of-accounts", {"name": "Top", "subTypeId": 15, "parentAccountId": None}
                      ).status_code == 201


# -- not served ----------------------------------------------------------------------------------------------

def test_departs_real_paths_shadowed_by_a_templated_one_answer_as_that_operation(count):
    """COUNT has GET /tags/groups and PATCH /transactions/exclude-bulk and /change-category-bulk; the mock's
    /tags/{id} and /transactions/{id} take them, so they answer as a missing tag or transaction, not 501."""
    assert_error(count.get("/tags/groups"), 404, "not_found", "Tag not found")
    for path in ("/transactions/exclude-bulk", "/transactions/change-category-bulk"):
        answer = count.patch(path, {"description": "x"})
        assert answer.status_code in (400, 404) and answer.status_code != 501, answer.get_json()


def test_a_second_client_is_rate_limited_on_its_own(make_app):
    """D13: the 100 a minute are per client id."""
    app = make_app(rate_limiting=True)
    first = CountClient(app)
    other = CountClient(app, client_id="lm_count_client_other",
                        secret="lm_count_secret_other_0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e",
                        token="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ3b3Jrc3BhY2UiOiJub3J0aHdpbmQifQ."
                              "bG1fY291bnRfb3RoZXJfYWNjZXNz")
    for _ in range(100):
        assert first.get("/tags").status_code == 200
    assert first.get("/tags").status_code == 429
    assert other.get("/tags").status_code == 200
