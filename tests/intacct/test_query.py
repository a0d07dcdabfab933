"""Sage Intacct query service: mock_server.providers.intacct.query."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest

from mock_server.providers.intacct import query as q
from mock_server.providers.intacct.query import QueryError, QueryResult, run_query

JE = "general-ledger/journal-entry"
LINE = "general-ledger/journal-entry-line"
TODAY = dt.date(2025, 2, 12)  # a Wednesday


def journal(key: str, jid: str, adjustment: bool = False) -> dict:
    return {"key": key, "id": jid, "isAdjustment": adjustment, "href": f"/objects/general-ledger/journal/{key}"}


def entry(key: int, **overrides) -> dict:
    record = {
        "key": str(key),
        "id": str(key),
        "txnNumber": key,
        "glJournal": journal("1", "GJ"),
        "description": f"Entry {key}",
        "postingDate": "2025-01-31",
        "automaticReversalDate": None,
        "referenceNumber": None,
        "state": "posted",
        "totalAmount": "100.00",
        "audit": {"createdDateTime": "2025-01-31T10:00:00Z", "modifiedDateTime": "2025-01-31T10:00:00Z",
                  "createdBy": "1", "modifiedBy": "1"},
        "lines": [{"key": "1"}, {"key": "2"}],
        "href": f"/objects/{JE}/{key}",
    }
    record.update(overrides)
    return record


ENTRIES = [
    entry(1, description="Rent January", postingDate="2025-01-05", state="posted", totalAmount="10.10",
          referenceNumber="R-1"),
    entry(2, description="rent february", postingDate="2025-02-03", state="draft", totalAmount="9.00",
          glJournal=journal("2", "ADJ", True)),
    entry(3, description="Payroll", postingDate="2025-02-10", state="posted", totalAmount="250.00",
          referenceNumber=""),
    entry(4, description="Office supplies", postingDate="2024-12-31", state="reversed", totalAmount="10.00",
          referenceNumber="R-4", audit={"createdDateTime": "2024-12-31T23:30:00-02:00",
                                        "modifiedDateTime": "2025-01-01T01:30:00Z",
                                        "createdBy": "2", "modifiedBy": "2"}),
    entry(10, description="Year-end accrual", postingDate="2024-12-31", state="posted", totalAmount="1000.00",
          glJournal=journal("2", "ADJ", True)),
]


def lines() -> list[dict]:
    def line(key, je, amount, txn_type, account, dept=None):
        return {
            "key": str(key), "id": str(key), "lineNumber": 1, "txnType": txn_type, "txnAmount": amount,
            "entryDate": "2025-01-31",
            "journalEntry": {"key": str(je), "id": str(je), "href": f"/objects/{JE}/{je}", "state": "posted"},
            "glAccount": {"key": account, "id": account, "name": f"Account {account}",
                          "href": f"/objects/general-ledger/account/{account}"},
            "dimensions": {"department": {"key": dept, "id": dept, "name": None},
                           "location": {"key": None, "id": None, "name": None}},
        }
    return [
        line(1, 1, "200.00", "debit", "6000", "D1"),
        line(2, 1, "200.00", "credit", "1000", None),
        line(3, 2, Decimal("50.5"), "debit", "6000", "D2"),
        line(4, 2, Decimal("50.50"), "credit", "1000", None),
        line(5, 3, "0.10", "debit", "6100", "D1"),
        line(6, 3, "0.10", "credit", "1000", None),
    ]


OBJECTS = {
    JE: lambda: ENTRIES,
    LINE: lines,
    "general-ledger/account": lambda: [
        {"key": "1", "id": "1000", "name": "Bank", "status": "active", "disallowDirectPosting": False},
        {"key": "2", "id": "1500", "name": "Assets", "status": "active", "disallowDirectPosting": True},
    ],
    "general-ledger/journal": lambda: [],
}


def run(body: dict, objects=None, today: dt.date = TODAY) -> QueryResult:
    return run_query(body, OBJECTS if objects is None else objects, today=today)


def keys(body: dict, **kwargs) -> list[str]:
    body = {"object": JE, "fields": ["key"], **body}
    return [row["key"] for row in run(body, **kwargs).rows]


def filtered(*filters, expression=None, **params) -> list[str]:
    body = {"filters": list(filters)}
    if expression is not None:
        body["filterExpression"] = expression
    if params:
        body["filterParameters"] = params
    return keys(body)


def error(body: dict, objects=None) -> QueryError:
    with pytest.raises(QueryError) as info:
        run(body, objects)
    return info.value


# ---------------------------------------------------------------- fields


def test_default_fields_are_key_id_href_in_key_order():
    result = run({"object": JE})
    assert result.rows[0] == {"key": "1", "id": "1", "href": f"/objects/{JE}/1"}
    assert [r["key"] for r in result.rows] == ["1", "2", "3", "4", "10"]
    assert run({"object": JE, "fields": []}).rows == result.rows
    assert run({"object": JE, "fields": None}).rows == result.rows


def test_href_is_derived_when_records_lack_it():
    result = run({"object": "general-ledger/account"})
    assert result.rows == [
        {"key": "1", "id": "1000", "href": "/objects/general-ledger/account/1"},
        {"key": "2", "id": "1500", "href": "/objects/general-ledger/account/2"},
    ]


def test_dot_paths_are_flat_keys_exactly_as_requested():
    rows = run({"object": JE, "fields": ["id", "glJournal.id", "audit.createdBy", "postingDate"],
                "filters": [{"$eq": {"key": "2"}}]}).rows
    assert rows == [{"id": "2", "glJournal.id": "ADJ", "audit.createdBy": "1", "postingDate": "2025-02-03"}]
    assert list(rows[0]) == ["id", "glJournal.id", "audit.createdBy", "postingDate"]


def test_three_level_dot_path_and_null_reference():
    rows = run({"object": LINE, "fields": ["key", "dimensions.department.id", "journalEntry.state"]}).rows
    assert rows[0] == {"key": "1", "dimensions.department.id": "D1", "journalEntry.state": "posted"}
    assert rows[1]["dimensions.department.id"] is None


def test_bare_object_field_returns_a_copy_of_the_nested_object():
    rows = run({"object": JE, "fields": ["key", "glJournal"], "filters": [{"$eq": {"key": "1"}}]}).rows
    assert rows == [{"key": "1", "glJournal": journal("1", "GJ")}]
    rows[0]["glJournal"]["id"] = "CHANGED"
    assert ENTRIES[0]["glJournal"]["id"] == "GJ"


def test_duplicate_fields_collapse():
    rows = run({"object": JE, "fields": ["key", "key", "id"], "size": 1}).rows
    assert rows == [{"key": "1", "id": "1"}]


def test_unknown_field_names_field_and_object():
    err = error({"object": JE, "fields": ["key", "foo"]})
    assert str(err) == "Unknown field 'foo' on object 'general-ledger/journal-entry'"
    assert err.kind == "field" and err.error_id == "REST-1202" and err.target == "/fields/1"


def test_unknown_nested_field():
    err = error({"object": JE, "fields": ["glJournal.nope"]})
    assert "Unknown field 'glJournal.nope'" in str(err)
    err = error({"object": JE, "fields": ["postingDate.year"]})
    assert "Unknown field 'postingDate.year'" in str(err)


def test_unknown_field_in_filters_and_order_by():
    err = error({"object": JE, "filters": [{"$eq": {"bogus": "x"}}]})
    assert str(err) == f"Unknown field 'bogus' on object '{JE}'" and err.target == "/filters/0/$eq/bogus"
    err = error({"object": JE, "orderBy": [{"bogus": "asc"}]})
    assert str(err) == f"Unknown field 'bogus' on object '{JE}'" and err.target == "/orderBy/0/bogus"


def test_lines_collection_is_rejected():
    err = error({"object": JE, "fields": ["key", "lines"]})
    assert "'lines'" in str(err) and "collection" in str(err) and err.kind == "field"
    err = error({"object": JE, "fields": ["lines.key"]})
    assert "collection" in str(err)
    err = error({"object": JE, "filters": [{"$eq": {"lines": "x"}}]})
    assert "collection" in str(err)


def test_object_fields_cannot_be_filtered_sorted_or_aggregated():
    assert "is an object" in str(error({"object": JE, "filters": [{"$eq": {"glJournal": "GJ"}}]}))
    assert "is an object" in str(error({"object": JE, "orderBy": [{"glJournal": "asc"}]}))
    assert "is an object" in str(error({"object": JE, "fields": ["count:glJournal"]}))


@pytest.mark.parametrize("bad", ["a.", "a..b", "a b", "", "x:y:z", 7])
def test_malformed_field_names(bad):
    err = error({"object": JE, "fields": [bad]})
    assert err.kind == "field"
    assert str(err).startswith("fields: ")


def test_any_field_is_accepted_when_the_object_has_no_records():
    result = run({"object": "general-ledger/journal", "fields": ["key", "whatever.id"]})
    assert result.rows == [] and result.meta["totalCount"] == 0


# ---------------------------------------------------------------- body and object


def test_unknown_object():
    err = error({"object": "general-ledger/vendor"})
    assert str(err).startswith("Unknown object 'general-ledger/vendor'")
    assert err.kind == "object" and err.error_id == "REST-1201"


def test_missing_object():
    assert error({"fields": ["key"]}).kind == "object"


def test_unknown_body_member_and_non_object_body():
    err = error({"object": JE, "limit": 5})
    assert str(err) == "Unknown query property 'limit'" and err.target == "/limit"
    with pytest.raises(QueryError):
        run_query(["object"], OBJECTS, today=TODAY)  # type: ignore[arg-type]


def test_loader_is_called_once():
    calls = []

    def load():
        calls.append(1)
        return iter(ENTRIES)  # any iterable works
    result = run({"object": JE, "filters": [{"$eq": {"state": "posted"}}], "orderBy": [{"postingDate": "desc"}]},
                 {JE: load})
    assert len(calls) == 1 and result.meta["totalCount"] == 3


# ---------------------------------------------------------------- operators

OPERATOR_CASES = [
    ("$eq", {"state": "posted"}, ["1", "3", "10"]),
    ("$eq", {"state": "void"}, []),
    ("$ne", {"state": "posted"}, ["2", "4"]),
    ("$ne", {"state": "void"}, ["1", "2", "3", "4", "10"]),
    ("$lt", {"totalAmount": "10"}, ["2"]),
    ("$lt", {"totalAmount": 9}, []),
    ("$lte", {"totalAmount": "10"}, ["2", "4"]),
    ("$lte", {"totalAmount": "8.99"}, []),
    ("$gt", {"totalAmount": 250}, ["10"]),
    ("$gt", {"totalAmount": 1000}, []),
    ("$gte", {"totalAmount": 250}, ["3", "10"]),
    ("$gte", {"totalAmount": "1000.01"}, []),
    ("$in", {"state": ["draft", "reversed"]}, ["2", "4"]),
    ("$in", {"state": ["void"]}, []),
    ("$notIn", {"state": ["draft", "reversed"]}, ["1", "3", "10"]),
    ("$notIn", {"state": ["draft", "reversed", "posted"]}, []),
    ("$between", {"totalAmount": ["9", "10.10"]}, ["1", "2", "4"]),
    ("$between", {"totalAmount": [11, 249.99]}, []),
    ("$notBetween", {"totalAmount": ["9", "10.10"]}, ["3", "10"]),
    ("$notBetween", {"totalAmount": [0, 5000]}, []),
    ("$contains", {"description": "ent"}, ["1", "2"]),
    ("$contains", {"description": "xyz"}, []),
    ("$notContains", {"description": "ent"}, ["3", "4", "10"]),
    ("$notContains", {"description": ""}, []),
    ("$startsWith", {"description": "Pay"}, ["3"]),
    ("$startsWith", {"description": "roll"}, []),
    ("$notStartsWith", {"description": "Pay"}, ["1", "2", "4", "10"]),
    ("$notStartsWith", {"description": ""}, []),
    ("$endsWith", {"description": "January"}, ["1"]),
    ("$endsWith", {"description": "Jan"}, []),
    ("$notEndsWith", {"description": "s"}, ["1", "2", "3", "10"]),
    ("$notEndsWith", {"description": ""}, []),
]


@pytest.mark.parametrize("op,condition,expected", OPERATOR_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(OPERATOR_CASES)])
def test_operator(op, condition, expected):
    assert filtered({op: condition}) == expected


def test_every_operator_is_covered_by_the_cases():
    assert set(q.OPERATORS) == {case[0] for case in OPERATOR_CASES}
    assert len(q.OPERATORS) == 16


def test_several_fields_under_one_operator_are_one_anded_condition():
    assert filtered({"$eq": {"state": "posted", "glJournal.id": "ADJ"}}) == ["10"]
    # one condition, so "1" is a complete expression
    assert filtered({"$eq": {"state": "posted", "glJournal.id": "GJ"}}, expression="1") == ["1", "3"]


def test_eq_null_means_empty_and_ne_null_means_not_empty():
    assert filtered({"$eq": {"referenceNumber": None}}) == ["2", "3", "10"]  # null or ""
    assert filtered({"$ne": {"referenceNumber": None}}) == ["1", "4"]
    assert filtered({"$in": {"referenceNumber": [None, "R-4"]}}) == ["2", "3", "4", "10"]


def test_null_values_never_satisfy_ordering_or_positive_text_operators():
    assert filtered({"$lt": {"referenceNumber": "zzz"}}) == ["1", "3", "4"]  # "" counts, nulls do not
    assert filtered({"$contains": {"referenceNumber": "R"}}) == ["1", "4"]
    assert filtered({"$notContains": {"referenceNumber": "R"}}) == ["2", "3", "10"]


def test_dot_path_filters():
    assert filtered({"$eq": {"glJournal.id": "ADJ"}}) == ["2", "10"]
    assert filtered({"$eq": {"glJournal.isAdjustment": True}}) == ["2", "10"]
    assert filtered({"$eq": {"glJournal.isAdjustment": "false"}}) == ["1", "3", "4"]
    assert filtered({"$ne": {"glJournal.isAdjustment": True}}) == ["1", "3", "4"]


def test_booleans_do_not_satisfy_ordering_operators():
    assert filtered({"$gt": {"glJournal.isAdjustment": "a"}}) == []


def test_integer_fields_compare_numerically():
    assert filtered({"$gt": {"txnNumber": 3}}) == ["4", "10"]
    assert filtered({"$gt": {"txnNumber": "3"}}) == ["4", "10"]
    assert filtered({"$in": {"txnNumber": ["10", 2]}}) == ["2", "10"]


@pytest.mark.parametrize("op,value", [
    ("$eq", ["a"]), ("$eq", {"a": 1}), ("$ne", [1]),
    ("$lt", None), ("$lt", True), ("$lte", []), ("$gt", {}), ("$gte", None),
    ("$in", []), ("$in", "posted"), ("$in", [["a"]]), ("$notIn", None), ("$notIn", [{}]),
    ("$between", ["1"]), ("$between", ["1", "2", "3"]), ("$between", "1,2"), ("$between", [None, 2]),
    ("$notBetween", [True, False]), ("$notBetween", []),
    ("$contains", 5), ("$notContains", None), ("$startsWith", ["a"]), ("$notStartsWith", True),
    ("$endsWith", 1.5), ("$notEndsWith", None),
    ("$gt", float("nan")),
])
def test_value_shape_errors(op, value):
    err = error({"object": JE, "filters": [{op: {"totalAmount": value}}]})
    assert err.kind == "operator" and err.error_id == "REST-1203"
    assert str(err).startswith(f"filters: operator {op} expects ")
    assert err.target == f"/filters/0/{op}/totalAmount"


def test_bare_eq_typo_is_rejected_with_a_hint():
    err = error({"object": JE, "filters": [{"eq": {"state": "posted"}}]})
    assert str(err) == "filters: unknown operator 'eq' in condition 1; did you mean '$eq'?"
    assert err.kind == "operator"


def test_has_operator_is_not_supported():
    assert "$has is not supported" in str(error({"object": JE, "filters": [{"$has": {"state": "x"}}]}))


@pytest.mark.parametrize("bad", [
    [{"$eq": {"state": "a"}, "$ne": {"state": "b"}}], [{}], ["$eq"], [{"$eq": {}}], [{"$eq": "state"}],
    {"$eq": {"state": "a"}},
])
def test_malformed_conditions(bad):
    assert error({"object": JE, "filters": bad}).kind == "operator"


# ---------------------------------------------------------------- decimals


def test_decimal_strings_compare_numerically_not_as_floats_or_text():
    assert filtered({"$eq": {"totalAmount": 10.1}}) == ["1"]          # "10.10" == 10.1
    assert filtered({"$eq": {"totalAmount": "10.1"}}) == ["1"]
    assert filtered({"$eq": {"totalAmount": Decimal("10.100")}}) == ["1"]
    assert filtered({"$in": {"totalAmount": ["10.1", "1000"]}}) == ["1", "10"]
    # lexically "9.00" > "10.00"; numerically it is smaller
    assert filtered({"$lt": {"totalAmount": "10.00"}}) == ["2"]
    assert filtered({"$gt": {"totalAmount": 10.09}}) == ["1", "3", "10"]
    assert filtered({"$gt": {"totalAmount": 10.1}}) == ["3", "10"]


def test_decimal_record_values():
    rows = run({"object": LINE, "fields": ["key"], "filters": [{"$eq": {"txnAmount": "50.50"}}]}).rows
    assert [r["key"] for r in rows] == ["3", "4"]
    rows = run({"object": LINE, "fields": ["key"], "filters": [{"$gt": {"txnAmount": 50.49}}]}).rows
    assert [r["key"] for r in rows] == ["1", "2", "3", "4"]
    rows = run({"object": LINE, "fields": ["key"], "filters": [{"$contains": {"txnAmount": "50.5"}}]}).rows
    assert [r["key"] for r in rows] == ["3", "4"]


def test_no_float_arithmetic_in_sums():
    rows = run({"object": LINE, "fields": ["sum:txnAmount"],
                "filters": [{"$in": {"key": ["5", "6"]}}]}).rows
    assert rows == [{"sum:txnAmount": "0.20"}]  # 0.1 + 0.1, exact


# ---------------------------------------------------------------- case sensitivity


def test_comparisons_are_case_sensitive_by_default():
    assert filtered({"$eq": {"state": "POSTED"}}) == []
    assert filtered({"$contains": {"description": "RENT"}}) == []
    assert filtered({"$startsWith": {"description": "rent"}}) == ["2"]


def test_case_insensitive_switch():
    params = {"caseSensitiveComparison": False}
    assert filtered({"$eq": {"state": "POSTED"}}, **params) == ["1", "3", "10"]
    assert filtered({"$contains": {"description": "RENT"}}, **params) == ["1", "2"]
    assert filtered({"$startsWith": {"description": "rent"}}, **params) == ["1", "2"]
    assert filtered({"$in": {"state": ["Draft", "REVERSED"]}}, **params) == ["2", "4"]
    assert filtered({"$ne": {"state": "Posted"}}, **params) == ["2", "4"]
    assert filtered({"$notEndsWith": {"description": "JANUARY"}}, **params) == ["2", "3", "4", "10"]
    assert filtered({"$eq": {"state": "POSTED"}}, caseSensitiveComparison=True) == []


def test_case_insensitive_ordering_of_strings():
    body = {"object": JE, "fields": ["description"], "orderBy": [{"description": "asc"}]}
    sensitive = [r["description"] for r in run(body).rows]
    assert sensitive == ["Office supplies", "Payroll", "Rent January", "Year-end accrual", "rent february"]
    body["filterParameters"] = {"caseSensitiveComparison": False}
    insensitive = [r["description"] for r in run(body).rows]
    assert insensitive == ["Office supplies", "Payroll", "rent february", "Rent January", "Year-end accrual"]


# ---------------------------------------------------------------- filterExpression

A = {"$eq": {"state": "posted"}}           # 1, 3, 10
B = {"$eq": {"glJournal.id": "ADJ"}}       # 2, 10
C = {"$lt": {"totalAmount": "100"}}        # 1, 2, 4


def test_default_expression_is_and():
    assert filtered(A, B) == ["10"]
    assert filtered(A, B, expression="and") == ["10"]


def test_null_expression_is_allowed_and_means_and():
    assert keys({"filters": [A, B], "filterExpression": None}) == ["10"]


def test_or_alone():
    assert filtered(A, B, expression="or") == ["1", "2", "3", "10"]
    assert filtered(A, B, expression="OR") == ["1", "2", "3", "10"]


def test_shortcuts_with_no_filters_return_everything():
    assert keys({"filterExpression": "or"}) == ["1", "2", "3", "4", "10"]
    assert keys({"filters": [], "filterExpression": "and"}) == ["1", "2", "3", "4", "10"]


def test_and_binds_tighter_than_or():
    # 1 or (2 and 3): posted, or (ADJ and < 100)
    assert filtered(A, B, C, expression="1 or 2 and 3") == ["1", "2", "3", "10"]
    assert filtered(A, B, C, expression="1 or (2 and 3)") == ["1", "2", "3", "10"]
    # (1 or 2) and 3
    assert filtered(A, B, C, expression="(1 or 2) and 3") == ["1", "2"]
    # 2 and 3 or 1 == (2 and 3) or 1
    assert filtered(A, B, C, expression="2 and 3 or 1") == ["1", "2", "3", "10"]
    assert filtered(A, B, C, expression="2 and (3 or 1)") == ["2", "10"]


def test_nested_grouping_and_condition_reuse():
    D = {"$eq": {"state": "reversed"}}  # 4
    assert filtered(A, B, C, D, expression="((1 and (2 or 3)) or 4)") == ["1", "4", "10"]
    assert filtered(A, B, C, D, expression="(((4)))  OR  (1 AND (2 or 3))") == ["1", "4", "10"]
    assert filtered(A, B, C, D, expression="4 or (1 and (2 and (3 or 1)))") == ["4", "10"]
    assert filtered(A, B, C, D, expression="(4 or 1) and (2 or 3)") == ["1", "4", "10"]
    assert filtered(A, B, C, D, expression="4 or 1 and 2 or 3") == ["1", "2", "4", "10"]


@pytest.mark.parametrize("expression,message", [
    ("1 and (2 or 3))", "filterExpression: unexpected ')' at position 15"),
    ("(1 and 2", "filterExpression: unexpected end of expression; expected ')'"),
    ("1 and", "filterExpression: unexpected end of expression; expected '(' or a condition number"),
    ("or 1", "filterExpression: unexpected '1' at position 4"),
    ("1 2 3", "filterExpression: unexpected '2' at position 3"),
    ("1 xor 2", "filterExpression: unexpected 'x' at position 3"),
    ("1 && 2", "filterExpression: unexpected '&' at position 3"),
    ("()", "filterExpression: unexpected ')' at position 2"),
    ("", "filterExpression: empty expression"),
    ("   ", "filterExpression: empty expression"),
    ("1 and 4 or 2 or 3", "filterExpression: condition 4 at position 7 does not exist (filters has 3 conditions)"),
    ("0 or 1 or 2 or 3", "filterExpression: condition 0 at position 1 does not exist (filters has 3 conditions)"),
    ("1 and 2", "filterExpression: condition 3 is not used"),
    ("1", "filterExpression: conditions 2, 3 are not used"),
])
def test_bad_expressions(expression, message):
    err = error({"object": JE, "filters": [A, B, C], "filterExpression": expression})
    assert str(err) == message
    assert err.kind == "expression" and err.error_id == "REST-1204" and err.target == "/filterExpression"


def test_numbered_expression_without_filters():
    err = error({"object": JE, "filterExpression": "1"})
    assert str(err) == "filterExpression: condition 1 at position 1 does not exist (filters has 0 conditions)"


def test_expression_must_be_a_string():
    assert error({"object": JE, "filters": [A], "filterExpression": 1}).kind == "expression"


def test_expression_errors_come_before_loading_records():
    def boom():
        raise AssertionError("records loaded")
    with pytest.raises(QueryError):
        run({"object": JE, "filters": [A], "filterExpression": "(1"}, {JE: boom})


# ---------------------------------------------------------------- date macros


def daily(start: dt.date, end: dt.date) -> list[dict]:
    records, day, n = [], start, 1
    while day <= end:
        records.append({"key": str(n), "id": str(n), "postingDate": day.isoformat(),
                        "audit": {"createdDateTime": f"{day.isoformat()}T12:00:00Z"}})
        day += dt.timedelta(days=1)
        n += 1
    return records


DAYS = daily(dt.date(2023, 9, 1), dt.date(2025, 6, 30))
DAY_OBJECTS = {"d": lambda: DAYS}


def dates(op: str, value, *, today=TODAY, as_of=None, field="postingDate") -> list[str]:
    body = {"object": "d", "fields": ["postingDate"], "filters": [{op: {field: value}}], "size": 4000}
    if as_of:
        body["filterParameters"] = {"asOfDate": as_of}
    return [r["postingDate"] for r in run(body, DAY_OBJECTS, today=today).rows]


def span(op: str, value, **kwargs) -> tuple[str, str, int]:
    found = dates(op, value, **kwargs)
    return found[0], found[-1], len(found)


MACRO_CASES = [
    # (macro, as-of date, first day, last day)
    ("today", "2025-02-12", "2025-02-12", "2025-02-12"),
    ("yesterday", "2025-02-12", "2025-02-11", "2025-02-11"),
    ("yesterday", "2025-01-01", "2024-12-31", "2024-12-31"),
    ("yesterday", "2024-03-01", "2024-02-29", "2024-02-29"),
    ("currentWeek", "2025-02-12", "2025-02-10", "2025-02-16"),     # Wed -> Mon..Sun
    ("currentWeek", "2025-02-10", "2025-02-10", "2025-02-16"),     # Monday
    ("currentWeek", "2025-02-16", "2025-02-10", "2025-02-16"),     # Sunday
    ("currentWeek", "2025-01-01", "2024-12-30", "2025-01-05"),     # across the year
    ("lastWeek", "2025-02-12", "2025-02-03", "2025-02-09"),
    ("lastWeek", "2025-01-01", "2024-12-23", "2024-12-29"),
    ("currentMonth", "2025-02-12", "2025-02-01", "2025-02-28"),
    ("currentMonth", "2024-02-29", "2024-02-01", "2024-02-29"),
    ("currentMonth", "2024-12-31", "2024-12-01", "2024-12-31"),
    ("priorMonth", "2025-02-12", "2025-01-01", "2025-01-31"),
    ("priorMonth", "2025-01-15", "2024-12-01", "2024-12-31"),
    ("priorMonth", "2024-03-31", "2024-02-01", "2024-02-29"),
    ("currentQuarter", "2025-02-12", "2025-01-01", "2025-03-31"),
    ("currentQuarter", "2024-06-30", "2024-04-01", "2024-06-30"),
    ("currentQuarter", "2024-10-01", "2024-10-01", "2024-12-31"),
    ("priorQuarter", "2025-02-12", "2024-10-01", "2024-12-31"),
    ("priorQuarter", "2024-04-01", "2024-01-01", "2024-03-31"),
    ("priorQuarter", "2024-12-31", "2024-07-01", "2024-09-30"),
    ("currentYear", "2024-07-04", "2024-01-01", "2024-12-31"),
    ("priorYear", "2025-02-12", "2024-01-01", "2024-12-31"),
    ("priorYear", "2024-01-01", "2023-09-01", "2023-12-31"),       # fixture data starts 2023-09-01
]


@pytest.mark.parametrize("macro,as_of,first,last", MACRO_CASES,
                         ids=[f"{c[0]}@{c[1]}" for c in MACRO_CASES])
def test_macro_relative_to_as_of_date(macro, as_of, first, last):
    found = dates("$eq", macro, as_of=as_of, today=dt.date(2000, 1, 1))
    assert (found[0], found[-1]) == (first, last)
    assert len(found) == (dt.date.fromisoformat(last) - dt.date.fromisoformat(first)).days + 1


@pytest.mark.parametrize("macro,as_of,first,last", MACRO_CASES,
                         ids=[f"{c[0]}@{c[1]}" for c in MACRO_CASES])
def test_macro_relative_to_today(macro, as_of, first, last):
    found = dates("$eq", macro, today=dt.date.fromisoformat(as_of))
    assert (found[0], found[-1]) == (first, last)


def test_every_macro_is_covered():
    assert {c[0] for c in MACRO_CASES} == set(q.DATE_MACROS) and len(q.DATE_MACROS) == 10


def test_macro_range_function_directly():
    assert q.macro_range("priorQuarter", dt.date(2025, 1, 1)) == (dt.date(2024, 10, 1), dt.date(2024, 12, 31))
    assert q.macro_range("currentYear", dt.date(2025, 1, 1)) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))


def test_macro_with_each_comparison_operator():
    # currentMonth at 2025-02-12 is [2025-02-01, 2025-02-28]
    assert dates("$lt", "currentMonth")[-1] == "2025-01-31"
    assert dates("$lte", "currentMonth")[-1] == "2025-02-28"
    assert dates("$gt", "currentMonth")[0] == "2025-03-01"
    assert dates("$gte", "currentMonth")[0] == "2025-02-01"
    assert dates("$gte", "currentMonth")[-1] == "2025-06-30"
    outside = dates("$ne", "currentMonth")
    assert "2025-01-31" in outside and "2025-03-01" in outside and "2025-02-14" not in outside
    assert len(outside) == len(DAYS) - 28


def test_macro_between_uses_low_start_and_high_end():
    assert span("$between", ["priorMonth", "currentMonth"]) == ("2025-01-01", "2025-02-28", 59)
    assert span("$between", ["lastWeek", "today"]) == ("2025-02-03", "2025-02-12", 10)
    assert span("$between", ["2025-01-30", "yesterday"]) == ("2025-01-30", "2025-02-11", 13)
    found = dates("$notBetween", ["priorQuarter", "currentQuarter"])
    assert "2024-09-30" in found and "2025-04-01" in found and "2024-10-01" not in found


def test_macro_in_list():
    found = dates("$in", ["today", "priorYear"])
    assert len(found) == 367 and found[-1] == "2025-02-12"


def test_macro_on_a_date_time_field_covers_whole_days():
    found = dates("$eq", "yesterday", field="audit.createdDateTime")
    assert found == ["2025-02-11"]
    assert span("$eq", "currentWeek", field="audit.createdDateTime") == ("2025-02-10", "2025-02-16", 7)


def test_as_of_date_overrides_today():
    assert dates("$eq", "today", as_of="2024-02-29") == ["2024-02-29"]


def test_macro_names_are_plain_strings_on_text_fields():
    records = [{"key": "1", "note": "today"}, {"key": "2", "note": "other"}]
    rows = run({"object": "n", "fields": ["key"], "filters": [{"$eq": {"note": "today"}}]},
               {"n": lambda: records}).rows
    assert rows == [{"key": "1"}]


def test_plain_dates_and_date_times():
    assert span("$between", ["2024-02-27", "2024-03-02"]) == ("2024-02-27", "2024-03-02", 5)
    # a date against a date-time field means the whole (UTC) day
    assert dates("$eq", "2024-02-29", field="audit.createdDateTime") == ["2024-02-29"]
    assert dates("$gt", "2025-06-28", field="audit.createdDateTime") == ["2025-06-29", "2025-06-30"]
    # RFC 3339 with an offset: 2025-06-29T13:00+02:00 is 11:00Z, before the 12:00Z records
    assert dates("$gte", "2025-06-29T13:00:00+02:00", field="audit.createdDateTime") == \
        ["2025-06-29", "2025-06-30"]
    assert dates("$gt", "2025-06-29T12:00:00Z", field="audit.createdDateTime") == ["2025-06-30"]
    assert dates("$eq", "2025-06-29T12:00:00Z", field="audit.createdDateTime") == ["2025-06-29"]
    # a date-time against a date field uses its UTC day
    assert dates("$eq", "2025-06-30T01:00:00+03:00") == ["2025-06-29"]


def test_date_time_offsets_in_records_are_normalised():
    # entry 4 was created 2024-12-31T23:30-02:00 = 2025-01-01T01:30Z
    assert filtered({"$eq": {"audit.createdDateTime": "2025-01-01"}}) == ["4"]
    assert filtered({"$lt": {"audit.createdDateTime": "2025-01-01T01:30:00Z"}}) == []


def test_python_date_objects_in_records():
    records = [{"key": "1", "d": dt.date(2025, 2, 12)}, {"key": "2", "d": dt.datetime(2025, 2, 11, 8, 0)}]
    rows = run({"object": "x", "fields": ["key"], "filters": [{"$eq": {"d": "today"}}]},
               {"x": lambda: records}).rows
    assert rows == [{"key": "1"}]
    rows = run({"object": "x", "fields": ["key"], "filters": [{"$eq": {"d": "yesterday"}}]},
               {"x": lambda: records}).rows
    assert rows == [{"key": "2"}]


# ---------------------------------------------------------------- filterParameters


def test_filter_parameters_accepts_ignored_flags():
    assert filtered(A, includePrivate=True, includeHierarchyFields=False) == ["1", "3", "10"]
    assert keys({"filterParameters": {}}) == ["1", "2", "3", "4", "10"]


@pytest.mark.parametrize("params,fragment", [
    ({"asOfDate": "2025-13-01"}, "asOfDate"),
    ({"asOfDate": "12/02/2025"}, "asOfDate"),
    ({"asOfDate": 20250212}, "asOfDate"),
    ({"caseSensitiveComparison": "no"}, "caseSensitiveComparison"),
    ({"includePrivate": 1}, "includePrivate"),
    ({"pageSize": 5}, "unknown parameter 'pageSize'"),
])
def test_bad_filter_parameters(params, fragment):
    err = error({"object": JE, "filterParameters": params})
    assert fragment in str(err)


def test_filter_parameters_must_be_an_object():
    assert "filterParameters" in str(error({"object": JE, "filterParameters": ["x"]}))


# ---------------------------------------------------------------- aggregates


def test_aggregates_over_all_rows():
    row, = run({"object": JE, "fields": ["count:key", "sum:totalAmount", "avg:totalAmount",
                                          "min:totalAmount", "max:totalAmount"]}).rows
    assert row == {"count:key": 5, "sum:totalAmount": "1279.10", "avg:totalAmount": "255.82",
                   "min:totalAmount": "9.00", "max:totalAmount": "1000.00"}
    assert isinstance(row["count:key"], int)


def test_aggregates_respect_filters_and_meta_counts_rows():
    result = run({"object": JE, "fields": ["count:id", "sum:totalAmount"], "filters": [A]})
    assert result.rows == [{"count:id": 3, "sum:totalAmount": "1260.10"}]
    assert result.meta["totalCount"] == 1


def test_aggregates_group_by_plain_fields():
    result = run({"object": JE, "fields": ["glJournal.id", "state", "count:key", "sum:totalAmount"]})
    assert result.rows == [
        {"glJournal.id": "ADJ", "state": "draft", "count:key": 1, "sum:totalAmount": "9.00"},
        {"glJournal.id": "ADJ", "state": "posted", "count:key": 1, "sum:totalAmount": "1000.00"},
        {"glJournal.id": "GJ", "state": "posted", "count:key": 2, "sum:totalAmount": "260.10"},
        {"glJournal.id": "GJ", "state": "reversed", "count:key": 1, "sum:totalAmount": "10.00"},
    ]
    assert result.meta["totalCount"] == 4


def test_aggregates_on_dot_paths_with_decimal_records():
    rows = run({"object": LINE, "fields": ["glAccount.id", "txnType", "sum:txnAmount", "max:txnAmount"],
                "orderBy": [{"sum:txnAmount": "desc"}]}).rows
    assert rows == [
        {"glAccount.id": "1000", "txnType": "credit", "sum:txnAmount": "250.60", "max:txnAmount": "200.00"},
        {"glAccount.id": "6000", "txnType": "debit", "sum:txnAmount": "250.50", "max:txnAmount": "200.00"},
        {"glAccount.id": "6100", "txnType": "debit", "sum:txnAmount": "0.10", "max:txnAmount": "0.10"},
    ]
    rows = run({"object": LINE, "fields": ["count:dimensions.department.id", "min:txnAmount"]}).rows
    assert rows == [{"count:dimensions.department.id": 3, "min:txnAmount": "0.10"}]  # nulls not counted


def test_aggregate_of_integers_and_dates():
    row, = run({"object": JE, "fields": ["sum:txnNumber", "avg:txnNumber", "min:postingDate",
                                          "max:postingDate", "max:description"]}).rows
    assert row == {"sum:txnNumber": 20, "avg:txnNumber": "4.00", "min:postingDate": "2024-12-31",
                   "max:postingDate": "2025-02-10", "max:description": "rent february"}


def test_aggregates_with_no_matching_rows():
    result = run({"object": JE, "fields": ["count:key", "sum:totalAmount", "min:postingDate"],
                  "filters": [{"$eq": {"state": "void"}}]})
    assert result.rows == [{"count:key": 0, "sum:totalAmount": None, "min:postingDate": None}]
    grouped = run({"object": JE, "fields": ["state", "count:key"], "filters": [{"$eq": {"state": "void"}}]})
    assert grouped.rows == [] and grouped.meta["totalCount"] == 0


def test_aggregate_paging_applies_to_groups():
    result = run({"object": JE, "fields": ["state", "count:key"], "start": 2, "size": 1})
    assert result.rows == [{"state": "posted", "count:key": 3}]
    assert result.meta == {"totalCount": 3, "start": 2, "pageSize": 1, "next": 3, "previous": 1}


def test_sum_of_text_is_an_error():
    err = error({"object": JE, "fields": ["sum:description"]})
    assert err.kind == "field" and "sum needs a numeric field" in str(err)


@pytest.mark.parametrize("bad", ["median:totalAmount", "COUNT:key", "sum:", "count"])
def test_bad_aggregates(bad):
    err = error({"object": JE, "fields": [bad]})
    assert err.kind == "field"


def test_order_by_in_aggregate_query_must_name_a_requested_field():
    err = error({"object": JE, "fields": ["state", "count:key"], "orderBy": [{"postingDate": "asc"}]})
    assert "must be one of the requested fields" in str(err)
    err = error({"object": JE, "orderBy": [{"count:key": "asc"}]})
    assert "needs aggregate fields" in str(err)


def test_aggregates_not_allowed_in_filters():
    assert error({"object": JE, "filters": [{"$gt": {"sum:totalAmount": 1}}]}).kind == "field"


# ---------------------------------------------------------------- orderBy


def order(*specs, objects=None, field="key") -> list:
    body = {"object": JE, "fields": [field], "orderBy": list(specs)}
    return [r[field] for r in run(body, objects).rows]


def test_default_order_is_numeric_key_ascending():
    assert order() == ["1", "2", "3", "4", "10"]  # "10" after "4": numeric, not text


def test_order_asc_and_desc():
    assert order({"postingDate": "asc"}) == ["4", "10", "1", "2", "3"]
    assert order({"postingDate": "desc"}) == ["3", "2", "1", "4", "10"]  # tie keeps key ascending
    assert order({"totalAmount": "desc"}) == ["10", "3", "1", "4", "2"]
    assert order({"totalAmount": "ASC"}) == ["2", "4", "1", "3", "10"]


def test_order_multiple_keys():
    assert order({"glJournal.id": "asc"}, {"postingDate": "desc"}) == ["2", "10", "3", "1", "4"]
    assert order({"state": "desc"}, {"totalAmount": "asc"}) == ["4", "1", "3", "10", "2"]


def test_order_ties_are_stable_by_key_and_nulls_last_both_ways():
    records = [{"key": str(k), "id": str(k), "v": v}
               for k, v in [(5, None), (1, "b"), (3, None), (2, "a"), (4, "b"), (6, "a")]]
    objects = {JE: lambda: records}
    assert order({"v": "asc"}, objects=objects) == ["2", "6", "1", "4", "3", "5"]
    assert order({"v": "desc"}, objects=objects) == ["1", "4", "2", "6", "3", "5"]


@pytest.mark.parametrize("bad", [{"key": "up"}, {"key": 1}, {}, {"key": "asc", "id": "desc"}, "key"])
def test_bad_order_by(bad):
    assert error({"object": JE, "orderBy": [bad]}).kind == "field"


def test_order_by_must_be_a_list():
    assert error({"object": JE, "orderBy": {"key": "asc"}}).kind == "field"


def test_empty_order_by_is_allowed():
    assert order() == keys({"orderBy": []})


# ---------------------------------------------------------------- paging


PAGED = [{"key": str(n), "id": str(n)} for n in range(1, 251)]
PAGED_OBJECTS = {JE: lambda: PAGED}


def page(**paging) -> QueryResult:
    return run({"object": JE, "fields": ["key"], **paging}, PAGED_OBJECTS)


def test_first_page_with_default_size():
    result = page()
    assert len(result.rows) == 100 and result.rows[0] == {"key": "1"}
    assert result.meta == {"totalCount": 250, "start": 1, "pageSize": 100, "next": 101, "previous": None}


def test_middle_page():
    result = page(start=101, size=100)
    assert result.rows[0] == {"key": "101"} and result.rows[-1] == {"key": "200"}
    assert result.meta == {"totalCount": 250, "start": 101, "pageSize": 100, "next": 201, "previous": 1}


def test_last_page():
    result = page(start=201, size=100)
    assert [r["key"] for r in result.rows] == [str(n) for n in range(201, 251)]
    assert result.meta == {"totalCount": 250, "start": 201, "pageSize": 100, "next": None, "previous": 101}


def test_page_ending_exactly_at_the_end():
    result = page(start=151, size=100)
    assert len(result.rows) == 100
    assert result.meta["next"] is None and result.meta["previous"] == 51


def test_previous_is_clamped_to_one():
    assert page(start=30, size=100).meta["previous"] == 1


def test_past_the_end():
    result = page(start=300, size=100)
    assert result.rows == []
    assert result.meta == {"totalCount": 250, "start": 300, "pageSize": 100, "next": None, "previous": 200}


def test_sdk_style_count_request():
    result = page(fields=["id"], size=1, filterExpression=None, filterParameters={}, orderBy=[], start=1,
                  filters=[])
    assert result.meta["totalCount"] == 250 and len(result.rows) == 1


def test_empty_result_meta():
    result = run({"object": "general-ledger/journal"})
    assert result.meta == {"totalCount": 0, "start": 1, "pageSize": 100, "next": None, "previous": None}


@pytest.mark.parametrize("paging,target", [
    ({"start": 0}, "/start"), ({"start": -1}, "/start"), ({"start": "1"}, "/start"), ({"start": True}, "/start"),
    ({"start": 1.5}, "/start"), ({"size": 0}, "/size"), ({"size": 4001}, "/size"), ({"size": "10"}, "/size"),
])
def test_bad_paging(paging, target):
    err = error({"object": JE, **paging})
    assert err.kind == "paging" and err.error_id == "REST-1205" and err.target == target


def test_size_limits_are_inclusive():
    assert page(size=4000).meta["pageSize"] == 4000
    assert len(page(size=1).rows) == 1


# ---------------------------------------------------------------- scale


def test_one_hundred_thousand_records_is_fast_and_compiles_once(monkeypatch):
    states = ("posted", "draft", "submitted", "approved")
    records = [
        {"key": str(n), "id": str(n), "state": states[n % 4], "postingDate": f"2024-{n % 12 + 1:02d}-15",
         "totalAmount": f"{n % 1000}.{n % 100:02d}", "glJournal": {"id": "GJ" if n % 3 else "ADJ"}}
        for n in range(1, 100_001)
    ]
    compiled = []
    original = q._FilterCompiler.compile

    def counting(self, *args):
        compiled.append(args[0])
        return original(self, *args)
    monkeypatch.setattr(q._FilterCompiler, "compile", counting)

    began = time.perf_counter()
    result = run_query({
        "object": JE,
        "fields": ["key", "totalAmount", "glJournal.id"],
        "filters": [{"$eq": {"state": "posted"}}, {"$gte": {"totalAmount": "500"}},
                    {"$eq": {"glJournal.id": "ADJ"}}, {"$eq": {"postingDate": "currentYear"}}],
        "filterExpression": "1 and (2 or 3) and 4",
        "filterParameters": {"asOfDate": "2024-06-30"},
        "orderBy": [{"totalAmount": "desc"}],
        "start": 1, "size": 10,
    }, {JE: lambda: records}, today=TODAY)
    elapsed = time.perf_counter() - began

    assert compiled == ["$eq", "$gte", "$eq", "$eq"]  # once per condition, not per record
    expected = [r for r in records if r["state"] == "posted"
                and (Decimal(r["totalAmount"]) >= 500 or r["glJournal"]["id"] == "ADJ")]
    assert result.meta["totalCount"] == len(expected)
    top = sorted(expected, key=lambda r: (-Decimal(r["totalAmount"]), int(r["key"])))[:10]
    assert [row["key"] for row in result.rows] == [r["key"] for r in top]
    assert elapsed < 3.0, elapsed
