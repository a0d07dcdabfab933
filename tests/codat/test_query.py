"""Codat query language and orderBy: mock_server.providers.codat.query."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest

from mock_server.providers.codat import query as q
from mock_server.providers.codat.query import QueryError, compile_query, sort_records

MALFORMED = "Error parsing query - Malformed query."

JE_FIELDS = (
    "id", "description", "postedOn", "createdOn", "updatedOn", "modifiedDate", "sourceModifiedDate",
    "journalRef.id", "journalRef.name", "recordRef.id", "recordRef.dataType", "metadata.isDeleted",
)
COMPANY_FIELDS = (
    "id", "name", "description", "created", "lastSync", "createdByUserName",
    "dataConnections[].status", "dataConnections[].integrationKey", "dataConnections[].platformName",
)
PUSH_FIELDS = ("pushOperationKey", "status", "statusCode", "requestedOnUtc", "completedOnUtc", "timeoutInMinutes")


def je(id_, **fields) -> dict:
    record = {"id": id_, "metadata": {"isDeleted": False}, "journalLines": [{"netAmount": Decimal("10")}]}
    record.update(fields)
    return record


ENTRIES = [
    je("a", description="Office Supplies", postedOn="2025-01-31T00:00:00", journalRef={"id": "GJ", "name": "General"},
       modifiedDate="2025-02-01T09:30:00Z"),
    je("b", description="Rent && rates", postedOn="2025-02-01T00:00:00", journalRef={"id": "ADJ"},
       metadata={"isDeleted": True}, modifiedDate="2025-02-01T10:30:00+02:00"),
    je("c", description=None, postedOn="2024-12-31T23:59:59", modifiedDate="2025-01-15T00:00:00"),
    je("d", description="office chairs", postedOn="2025-01-31T12:00:00Z", journalRef={"id": "GJ", "name": None}),
    je("e", postedOn="2025-03-01T00:00:00", metadata={}),  # no description, isDeleted absent
]

PUSHES = [
    {"pushOperationKey": "p1", "status": "Success", "statusCode": 200, "timeoutInMinutes": 10},
    {"pushOperationKey": "p2", "status": "Failed", "statusCode": 400, "timeoutInMinutes": 1},
    {"pushOperationKey": "p3", "status": "Pending", "statusCode": 202},
    {"pushOperationKey": "p4", "status": "TimedOut", "statusCode": 408, "timeoutInMinutes": Decimal("2.5")},
]


def ids(query, records=ENTRIES, fields=JE_FIELDS, type_name="JournalEntry", key="id") -> list[str]:
    keep = compile_query(query, fields=fields, type_name=type_name)
    return [r[key] for r in records if keep(r)]


def pushes(query) -> list[str]:
    return ids(query, PUSHES, PUSH_FIELDS, "PushOperation", "pushOperationKey")


def fails(query, fields=JE_FIELDS, type_name="JournalEntry") -> QueryError:
    with pytest.raises(QueryError) as info:
        compile_query(query, fields=fields, type_name=type_name)
    return info.value


# ---------------------------------------------------------------- operators on strings


def test_equals_is_case_insensitive_on_strings():
    assert ids("description=office supplies") == ["a"]
    assert ids("description=OFFICE SUPPLIES") == ["a"]
    assert ids("description=Office") == []


def test_not_equals_skips_null_and_absent():
    # c has description null and e has none: neither matches, even for !=
    assert ids("description!=office supplies") == ["b", "d"]
    assert ids("description!=nothing like it") == ["a", "b", "d"]


def test_contains():
    assert ids("description~OFFICE") == ["a", "d"]
    assert ids("description~chair") == ["d"]
    assert ids("description~xyz") == []


def test_contains_only_applies_to_strings():
    assert pushes("statusCode~20") == []
    assert ids("metadata.isDeleted~tru") == []


def test_ordering_operators_do_not_apply_to_plain_strings():
    assert ids("id>2025-01-01") == []
    assert fails("description>abc").detail == "'>' needs a number or a date, got 'abc' at position 13"


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize("query,expected", [
    ("statusCode=200", ["p1"]),
    ("statusCode=201", []),
    ("statusCode!=200", ["p2", "p3", "p4"]),
    ("statusCode!=999", ["p1", "p2", "p3", "p4"]),
    ("statusCode>202", ["p2", "p4"]),
    ("statusCode>408", []),
    ("statusCode<202", ["p1"]),
    ("statusCode<200", []),
    ("statusCode>=202", ["p2", "p3", "p4"]),
    ("statusCode>=409", []),
    ("statusCode<=202", ["p1", "p3"]),
    ("statusCode<=199", []),
    ("timeoutInMinutes<2", ["p2"]),          # p3 has none: absent never matches
    ("timeoutInMinutes!=1", ["p1", "p4"]),
])
def test_number_operators(query, expected):
    assert pushes(query) == expected


def test_numbers_compare_as_decimals():
    records = [{"id": "x", "amount": Decimal("10.10")}, {"id": "y", "amount": 10.1},
               {"id": "z", "amount": Decimal("10.01")}]
    fields = ("id", "amount")
    assert ids("amount=10.1", records, fields) == ["x", "y"]
    assert ids("amount=10.100", records, fields) == ["x", "y"]
    assert ids("amount>10.09", records, fields) == ["x", "y"]
    assert ids("amount<=10.01", records, fields) == ["z"]
    assert ids("amount!=10.10", records, fields) == ["z"]
    assert ids("amount=abc", records, fields) == []
    assert ids("amount!=abc", records, fields) == ["x", "y", "z"]


def test_number_value_against_date_field_does_not_match():
    assert ids("postedOn>2024") == []


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize("query,expected", [
    ("postedOn=2025-01-31", ["a"]),                         # date = midnight UTC
    ("postedOn=2025-01-31T12:00:00", ["d"]),                # zone-less = UTC
    ("postedOn=2025-01-31T13:00:00+01:00", ["d"]),          # offset honoured
    ("postedOn!=2025-01-31", ["b", "c", "d", "e"]),
    ("postedOn>2025-01-31", ["b", "d", "e"]),
    ("postedOn>=2025-01-31", ["a", "b", "d", "e"]),
    ("postedOn<2025-01-31", ["c"]),
    ("postedOn<=2025-01-31T12:00:00Z", ["a", "c", "d"]),
    ("postedOn>2025-03-01T00:00:00", []),
    ("postedOn<2024-12-31T23:59:59", []),
    ("postedOn<=2024-12-31T23:59:59.000", ["c"]),
])
def test_date_operators(query, expected):
    assert ids(query) == expected


def test_zone_aware_record_dates():
    # b's modifiedDate 10:30+02:00 is 08:30Z, before a's 09:30Z
    assert ids("modifiedDate<2025-02-01T09:00:00") == ["b", "c"]
    assert ids("modifiedDate=2025-02-01T08:30:00Z") == ["b"]
    assert ids("modifiedDate>=2025-02-01") == ["a", "b"]


def test_python_datetime_records():
    records = [{"id": "x", "created": dt.datetime(2025, 1, 1, 12, tzinfo=dt.timezone.utc)},
               {"id": "y", "created": dt.datetime(2025, 1, 2)}, {"id": "z", "created": dt.date(2025, 1, 3)}]
    assert ids("created>2025-01-01T12:00:00", records, ("id", "created")) == ["y", "z"]
    assert ids("created=2025-01-03", records, ("id", "created")) == ["z"]


def test_invalid_date_values_are_malformed_for_ordering():
    assert fails("postedOn>2025-02-30").message == MALFORMED
    assert fails("postedOn>31/01/2025").message == MALFORMED


# ---------------------------------------------------------------- booleans


def test_booleans():
    assert ids("metadata.isDeleted=true") == ["b"]
    assert ids("metadata.isDeleted=TRUE") == ["b"]
    assert ids("metadata.isDeleted=false") == ["a", "c", "d"]     # e has no isDeleted
    assert ids("metadata.isDeleted!=true") == ["a", "c", "d"]
    assert ids("metadata.isDeleted=yes") == []
    assert ids("metadata.isDeleted!=yes") == ["a", "b", "c", "d"]


@pytest.mark.parametrize("op", [">", "<", ">=", "<="])
def test_booleans_only_with_equality(op):
    err = fails(f"metadata.isDeleted{op}true")
    assert str(err) == MALFORMED and "needs a number or a date" in err.detail


# ---------------------------------------------------------------- paths and names


def test_dot_paths():
    assert ids("journalRef.id=GJ") == ["a", "d"]
    assert ids("journalRef.name=general") == ["a"]
    assert ids("journalRef.name!=general") == []   # d's name is null, others have no journalRef


def test_property_names_are_case_insensitive():
    assert ids("JOURNALREF.ID=gj") == ["a", "d"]
    assert ids("PostedOn<2025-01-01") == ["c"]


def test_unknown_property():
    err = fails("foo=1")
    assert str(err) == "Error parsing query - Could not resolve property foo on JournalEntry"


def test_unknown_property_uses_type_name_and_spelling():
    err = fails("Nope.Thing=1", fields=COMPANY_FIELDS, type_name="Company")
    assert str(err) == "Error parsing query - Could not resolve property Nope.Thing on Company"


def test_arrays_are_not_queryable():
    err = fails("journalLines.netAmount>5")
    assert str(err) == "Error parsing query - Could not resolve property journalLines.netAmount on JournalEntry"
    assert str(fails("journalLines=5")) == \
        "Error parsing query - Could not resolve property journalLines on JournalEntry"


def test_a_declared_path_needs_the_full_name():
    assert str(fails("journalRef=GJ")) == "Error parsing query - Could not resolve property journalRef on JournalEntry"


def test_unknown_property_inside_a_valid_expression():
    assert "property bad on" in str(fails("id=a || {postedOn>2025-01-01 && bad=1}"))


# ---------------------------------------------------------------- any-element arrays

COMPANIES = [
    {"id": "c1", "name": "Acme", "dataConnections": [
        {"status": "Linked", "integrationKey": "gbol", "platformName": "Xero"},
        {"status": "Deauthorized", "integrationKey": "qhyg", "platformName": "QuickBooks Online"}]},
    {"id": "c2", "name": "Beta", "dataConnections": [
        {"status": "PendingAuth", "integrationKey": "gbol", "platformName": "Xero"}]},
    {"id": "c3", "name": "Gamma", "dataConnections": []},
    {"id": "c4", "name": "Delta"},
    {"id": "c5", "name": "Epsilon", "dataConnections": [{"status": None}, None]},
]


def companies(query) -> list[str]:
    return ids(query, COMPANIES, COMPANY_FIELDS, "Company")


def test_any_connection_matches():
    assert companies("dataConnections.status=Linked") == ["c1"]
    assert companies("dataConnections.status=deauthorized") == ["c1"]
    assert companies("dataConnections.integrationKey=gbol") == ["c1", "c2"]
    assert companies("dataConnections.platformName~books") == ["c1"]


def test_any_connection_not_equal_and_empty_arrays():
    # "any element" semantics: c1 has a non-Linked connection; empty/absent never match
    assert companies("dataConnections.status!=Linked") == ["c1", "c2"]
    assert companies("dataConnections.status!=Nothing") == ["c1", "c2"]


def test_any_connection_combined():
    assert companies("dataConnections.status=Linked || name=gamma") == ["c1", "c3"]
    assert companies("dataConnections.status=PendingAuth && dataConnections.platformName=xero") == ["c2"]


def test_object_or_array_values_count_as_absent():
    records = [{"id": "1", "ref": {"id": "x"}}, {"id": "2", "ref": ["x"]}, {"id": "3", "ref": "y"}]
    assert ids("ref!=x", records, ("id", "ref")) == ["3"]
    assert ids("ref=y", records, ("id", "ref")) == ["3"]


def test_array_path_must_be_declared_as_any_element():
    err = fails("dataConnections.status=Linked", fields=("id", "name"), type_name="Company")
    assert str(err) == "Error parsing query - Could not resolve property dataConnections.status on Company"


# ---------------------------------------------------------------- logic and grouping

# over the push records: S = Success (p1), F = statusCode>=400 (p2, p4), T = timeoutInMinutes>1 (p1, p4)


def test_and_binds_tighter_than_or():
    assert pushes("status=Success || statusCode>=400 && timeoutInMinutes>1") == ["p1", "p4"]
    assert pushes("{status=Success || statusCode>=400} && timeoutInMinutes>1") == ["p1", "p4"]
    assert pushes("status=Success || statusCode>=400 && timeoutInMinutes<2") == ["p1", "p2"]
    assert pushes("{status=Success || statusCode>=400} && timeoutInMinutes<2") == ["p2"]
    assert pushes("statusCode>=400 && timeoutInMinutes<2 || status=Success") == ["p1", "p2"]
    assert pushes("statusCode>=400 && {timeoutInMinutes<2 || status=Success}") == ["p2"]


def test_nested_grouping():
    assert pushes("{{status=Pending || {statusCode=200}} && {pushOperationKey=p3 || pushOperationKey=p1}}") == \
        ["p1", "p3"]
    assert pushes("{{{status=failed}}}") == ["p2"]
    assert pushes("{status=Pending} || {status=Failed && {statusCode<300 || timeoutInMinutes=1}}") == ["p2", "p3"]


def test_spaces_are_ignored_around_tokens():
    assert pushes("  { status = Success  ||  status = Failed }   &&   statusCode  >=  400  ") == ["p2"]


def test_values_run_to_the_next_connective_and_keep_inner_spaces():
    assert ids("description=Office Supplies && id=a") == ["a"]
    assert ids("description=  Office Supplies   ") == ["a"]
    assert ids("description=OfficeSupplies") == []


def test_value_with_single_ampersand_pipe_and_equals():
    records = [{"id": "1", "description": "R&D | a=b"}, {"id": "2", "description": "R"}]
    assert ids("description=R&D | a=b", records) == ["1"]
    assert ids("description~&D |", records) == ["1"]
    assert ids("description={weird", [{"id": "3", "description": "{weird"}]) == ["3"]


# ---------------------------------------------------------------- malformed queries


@pytest.mark.parametrize("query,detail", [
    ("{status=Success", "unexpected end of query; expected '}'"),
    ("status=Success}", "unexpected '}' at position 15"),
    ("{status=Success}}", "unexpected '}' at position 17"),
    ("status=Success &&", "unexpected end of query; expected '{', a property name"),
    ("status=Success ||", "unexpected end of query; expected '{', a property name"),
    ("&& status=Success", "unexpected '&&' at position 1"),
    ("|| status=Success", "unexpected '||' at position 1"),
    ("status=Success && && status=Failed", "unexpected '&&' at position 19"),
    ("{}", "unexpected '}' at position 2"),
    ("status", "unexpected end of query; expected '!=', '<', '<=', '=', '>', '>=', '~'"),
    ("status Success", "unexpected 'Success' at position 8"),
    ("status=", "unexpected end of query; expected a value"),
    ("status=  && statusCode=1", "missing value after '=' at position 7"),
    ("=Success", "unexpected '=' at position 1"),
    ("1status=Success", "unexpected '1' at position 1"),
    ("status.=x", "unexpected '.' at position 7"),
    ("statusCode>abc", "'>' needs a number or a date, got 'abc' at position 12"),
    ("statusCode<=", "unexpected end of query; expected a value"),
])
def test_malformed(query, detail):
    err = fails(query, fields=PUSH_FIELDS, type_name="PushOperation")
    assert str(err) == MALFORMED
    assert err.detail == detail


def test_rent_and_rates_treats_rates_as_malformed_condition():
    # "&&" always ends a value, so "rates" becomes a condition without an operator
    assert str(fails("description=Rent && rates")) == MALFORMED


def test_non_string_query():
    assert str(fails(5)) == MALFORMED  # type: ignore[arg-type]


# ---------------------------------------------------------------- empty and length


@pytest.mark.parametrize("query", [None, "", "   "])
def test_empty_query_is_no_filter(query):
    assert ids(query) == ["a", "b", "c", "d", "e"]


def test_query_length_limit():
    padding = " " * (2047 - len("id=a"))
    assert len("id=a" + padding) == 2047
    assert ids("id=a" + padding) == ["a"]
    err = fails("id=a" + padding + " ")
    assert str(err) == MALFORMED and "2048" in err.detail
    assert q.MAX_QUERY_LENGTH == 2047


def test_long_value_at_the_limit():
    long_value = "x" * (2047 - len("description="))
    assert ids("description=" + long_value) == []
    assert str(fails("description=" + long_value + "x")) == MALFORMED


def test_compiled_predicate_is_reusable_and_fast():
    records = [{"id": str(n), "statusCode": 200 + n % 3, "status": "Success" if n % 2 else "Failed",
                "requestedOnUtc": f"2025-01-{n % 28 + 1:02d}T00:00:00Z"} for n in range(100_000)]
    keep = compile_query("{status=success || statusCode=202} && requestedOnUtc>=2025-01-15",
                         fields=("id", "status", "statusCode", "requestedOnUtc"), type_name="PushOperation")
    began = time.perf_counter()
    found = [r for r in records if keep(r)]
    elapsed = time.perf_counter() - began
    expected = [r for r in records if (r["status"] == "Success" or r["statusCode"] == 202)
                and r["requestedOnUtc"] >= "2025-01-15"]
    assert found == expected and elapsed < 2.0


# ---------------------------------------------------------------- orderBy


def order(order_by, records=ENTRIES, fields=JE_FIELDS, type_name="JournalEntry", key="id"):
    return [r[key] for r in sort_records(records, order_by, fields=fields, type_name=type_name)]


def test_no_order_keeps_insertion_order_and_copies():
    result = sort_records(ENTRIES, None, fields=JE_FIELDS, type_name="JournalEntry")
    assert result == ENTRIES and result is not ENTRIES
    assert order("") == ["a", "b", "c", "d", "e"]


def test_order_ascending_dates():
    assert order("postedOn") == ["c", "a", "d", "b", "e"]


def test_order_descending_dates():
    assert order("-postedOn") == ["e", "b", "d", "a", "c"]


def test_order_strings_case_insensitive_with_absent_last():
    # c (null) and e (absent) last in both directions, in their original order
    assert order("description") == ["d", "a", "b", "c", "e"]
    assert order("-description") == ["b", "a", "d", "c", "e"]


def test_order_ties_are_stable_both_ways():
    records = [{"id": "1", "s": "b"}, {"id": "2", "s": "a"}, {"id": "3", "s": "B"}, {"id": "4"},
               {"id": "5", "s": "a"}]
    assert order("s", records, ("id", "s")) == ["2", "5", "1", "3", "4"]
    assert order("-s", records, ("id", "s")) == ["1", "3", "2", "5", "4"]


def test_order_numbers_numerically():
    assert order("statusCode", PUSHES, PUSH_FIELDS, "PushOperation", "pushOperationKey") == ["p1", "p3", "p2", "p4"]
    assert order("-timeoutInMinutes", PUSHES, PUSH_FIELDS, "PushOperation", "pushOperationKey") == \
        ["p1", "p4", "p2", "p3"]


def test_order_by_dot_path_and_case_insensitive_name():
    assert order("journalRef.ID") == ["b", "a", "d", "c", "e"]
    assert order("-METADATA.ISDELETED") == ["b", "a", "c", "d", "e"]


def test_order_by_any_element_path_uses_first_element():
    result = order("dataConnections.platformName", COMPANIES, COMPANY_FIELDS, "Company")
    assert result == ["c1", "c2", "c3", "c4", "c5"]
    assert order("-dataConnections.status", COMPANIES, COMPANY_FIELDS, "Company") == ["c2", "c1", "c3", "c4", "c5"]


def test_order_by_mixed_zone_date_times():
    assert order("modifiedDate") == ["c", "b", "a", "d", "e"]


def test_order_by_unknown_field():
    with pytest.raises(QueryError) as info:
        sort_records(ENTRIES, "-nope", fields=JE_FIELDS, type_name="JournalEntry")
    assert str(info.value) == "Error parsing query - Could not resolve property nope on JournalEntry"


def test_order_by_array_field_is_unknown():
    with pytest.raises(QueryError) as info:
        sort_records(ENTRIES, "journalLines", fields=JE_FIELDS, type_name="JournalEntry")
    assert str(info.value) == "Error parsing query - Could not resolve property journalLines on JournalEntry"


@pytest.mark.parametrize("bad", ["--postedOn", "postedOn,id", "+postedOn", "postedOn desc", "-"])
def test_malformed_order_by(bad):
    with pytest.raises(QueryError) as info:
        sort_records(ENTRIES, bad, fields=JE_FIELDS, type_name="JournalEntry")
    assert str(info.value) == MALFORMED


def test_sort_does_not_mutate_input():
    before = list(ENTRIES)
    sort_records(ENTRIES, "-postedOn", fields=JE_FIELDS, type_name="JournalEntry")
    assert ENTRIES == before
