"""POST /services/core/query wired to the company's ledger: the engine's behaviour over HTTP, errors as
`ia::error` with the query errorIds, macros on the mock's clock (2025-02-15)."""

from __future__ import annotations

import pytest

from tests.intacct.conftest import assert_error

ENTRY = "general-ledger/journal-entry"
LINE = "general-ledger/journal-entry-line"


def rows(response):
    assert response.status_code == 200, response.get_json()
    return response.get_json()["ia::result"]


def test_default_fields_and_meta(ia):
    response = ia.query(object=ENTRY, filters=[{"$eq": {"state": "posted"}}], orderBy=[{"postingDate": "asc"}])
    body = response.get_json()
    assert body["ia::result"][0] == {"key": "17", "id": "17", "href": "/objects/general-ledger/journal-entry/17"}
    assert body["ia::meta"] == {"totalCount": 6, "start": 1, "pageSize": 100, "next": None, "previous": None}


def test_what_the_sdk_sends_is_accepted(ia):
    body = {"object": ENTRY, "fields": ["id"], "filters": [], "filterExpression": None, "filterParameters": {},
            "start": 1, "size": 1}
    assert ia.query(**body).get_json()["ia::meta"]["totalCount"] == 11


def test_paging_next_and_previous(ia):
    first = ia.query(object=ENTRY, size=4).get_json()["ia::meta"]
    assert first == {"totalCount": 11, "start": 1, "pageSize": 4, "next": 5, "previous": None}
    last = ia.query(object=ENTRY, start=9, size=4).get_json()
    assert len(last["ia::result"]) == 3 and last["ia::meta"]["next"] is None and last["ia::meta"]["previous"] == 5


def test_dot_paths_and_nested_objects(ia):
    found = rows(ia.query(object=ENTRY, fields=["key", "glJournal.id", "glJournal"],
                          filters=[{"$eq": {"glJournal.id": "ADJ"}}]))
    assert found == [{"key": "56", "glJournal.id": "ADJ", "glJournal": {
        "key": "2", "id": "ADJ", "isAdjustment": True, "href": "/objects/general-ledger/journal/2"}}]
    lines = rows(ia.query(object=LINE, fields=["key", "journalEntry.state"],
                          filters=[{"$eq": {"journalEntry.state": "submitted"}}]))
    assert [row["key"] for row in lines] == ["103", "104"]


def test_aggregates_group_by_plain_fields(ia):
    found = rows(ia.query(object=LINE, fields=["txnType", "sum:txnAmount", "count:key", "max:txnAmount"],
                          filters=[{"$eq": {"glAccount.id": "4000"}}]))
    assert found == [{"txnType": "credit", "sum:txnAmount": "6350.45", "count:key": 5, "max:txnAmount": "2200.00"},
                     {"txnType": "debit", "sum:txnAmount": "750.00", "count:key": 1, "max:txnAmount": "750.00"}]


def test_expression_precedence(ia):
    filters = [{"$eq": {"state": "draft"}}, {"$eq": {"state": "submitted"}}, {"$eq": {"glJournal.id": "ADJ"}}]
    keys = lambda expr: [r["key"] for r in rows(ia.query(object=ENTRY, filters=filters, filterExpression=expr))]
    assert keys("1 or 2 and 3") == ["132"]
    assert keys("(1 or 2) and 3") == []
    assert keys("or") == ["56", "57", "132"]


@pytest.mark.parametrize("macro, as_of, expected", [
    ("currentMonth", None, ["60"]),
    ("priorMonth", None, ["57", "58", "62"]),
    ("priorYear", None, ["56", "61"]),
    ("currentQuarter", "2022-02-10", ["17", "18", "20"]),
])
def test_date_macros_use_the_clock_or_as_of_date(ia, macro, as_of, expected):
    params = {"asOfDate": as_of} if as_of else {}
    found = rows(ia.query(object=ENTRY, filters=[{"$eq": {"postingDate": macro}},
                                                 {"$notIn": {"state": ["draft", "declined"]}}],
                          filterParameters=params))
    assert sorted(r["key"] for r in found) == sorted(expected)


def test_case_insensitive_comparison(ia):
    body = {"object": ENTRY, "filters": [{"$contains": {"description": "REVENUE"}}]}
    assert rows(ia.query(**body)) == []
    assert len(rows(ia.query(**body, filterParameters={"caseSensitiveComparison": False}))) == 4


@pytest.mark.parametrize("body, error_id, part", [
    ({"object": "general-ledger/vendor"}, "REST-1201", "Unknown object"),
    ({"object": ENTRY, "fields": ["lines"]}, "REST-1202", "collection"),
    ({"object": ENTRY, "fields": ["nope"]}, "REST-1202", "Unknown field"),
    ({"object": ENTRY, "filters": [{"eq": {"postingDate": "priorYear"}}]}, "REST-1203", "did you mean '$eq'"),
    ({"object": ENTRY, "filters": [{"$has": {"key": "1"}}]}, "REST-1203", "not supported"),
    ({"object": ENTRY, "filters": [{"$in": {"key": []}}]}, "REST-1203", "non-empty array"),
    ({"object": ENTRY, "filters": [{"$eq": {"key": "1"}}], "filterExpression": "1 and"}, "REST-1204", "expression"),
    ({"object": ENTRY, "filters": [{"$eq": {"key": "1"}}], "filterExpression": "2"}, "REST-1204", "does not exist"),
    ({"object": ENTRY, "size": 4001}, "REST-1205", "size"),
    ({"object": ENTRY, "start": 0}, "REST-1205", "start"),
])
def test_bad_queries_name_the_problem(ia, body, error_id, part):
    error = assert_error(ia.query(**body), 400, error_id, part, code="invalidRequest")
    assert error["details"][0]["errorId"] == error_id


def test_query_sees_only_the_callers_company(app, ia):
    from tests.intacct.conftest import IntacctClient
    other = IntacctClient(app, ia.token_for("ann@TWOSTEP")["access_token"])
    assert other.query(object=ENTRY).get_json()["ia::meta"]["totalCount"] == 0
    assert other.query(object="general-ledger/account").get_json()["ia::meta"]["totalCount"] == 9


@pytest.mark.parametrize("filters", [
    [{"$eq": {"postingDate": "lastMonth"}}],  # Intacct's macro is priorMonth
    [{"$gte": {"audit.createdDateTime": "yesterday-ish"}}],
    [{"$in": {"postingDate": ["2022-01-31", "thisMonth"]}}],
    [{"$between": {"postingDate": ["priorYear", "soon"]}}],
])
def test_a_value_that_is_neither_date_nor_macro_on_a_date_field_is_an_error(ia, filters):
    """A misspelt macro must not silently match nothing: a 400 REST-1203 that names the value and the macros."""
    error = assert_error(ia.query(object=ENTRY, filters=filters), 400, "REST-1203", "neither a date")
    assert "priorMonth" in error["message"]


def test_dates_and_macros_on_date_fields_and_text_on_text_fields_still_work(ia):
    for filters in ([{"$eq": {"postingDate": "2022-01-31"}}], [{"$lt": {"postingDate": "priorYear"}}],
                    [{"$gt": {"audit.createdDateTime": "2020-01-01T00:00:00Z"}}],
                    [{"$eq": {"description": "lastMonth"}}], [{"$startsWith": {"postingDate": "2022-"}}]):
        assert ia.query(object=ENTRY, filters=filters).status_code == 200, filters
