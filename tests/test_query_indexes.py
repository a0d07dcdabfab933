"""Indexed and scanned query paths give the same answer (issue 20, item 1).

A query whose AND-ed conditions bound an indexed field (a date range, a state, a journal) reads only the records
an index gives for them, counts them from the index when it captures every condition, and reads a page in an
index's order (the default, or by date) only up to the page's end. Hypothesis builds random books (dates, states,
journals, reversals, updates, deletions) and random queries (every operator, date macros against a fixed as-of
date, filterExpression, orderBy, paging), and each answer must equal the full scan's: for Intacct's query service,
Codat's `query`, Aden's journal-entry list, COUNT's transaction list and every provider's default list order.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server.app import create_app
from mock_server.config import Config
from mock_server.errors import ApiError
from mock_server.ledger import Flow, LedgerError, NewLine, Side
from mock_server.providers.intacct import rules, wire
from tests.conftest import FROZEN

TODAY = FROZEN.date()
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def world():
    """One app for every example; each example fills a fresh tenant (state outside the API: no write log)."""
    return create_app(Config(frozen_time=FROZEN, rate_limiting=False))


def _provider(app, name):
    return app.extensions["ledger_mock"].providers[name]


def days(low: int = -20, high: int = 20):  # few days, so conditions land on and beside entries' dates
    return st.integers(low, high).map(lambda n: TODAY + dt.timedelta(days=n))


# -- Sage Intacct -----------------------------------------------------------------------------------------------

ACTIONS = ("none", "none", "submit", "approve", "decline", "reverse", "delete", "reversal", "update")
DESCRIPTIONS = ("Rent", "rent due", "Office supplies", "Payroll", "")

intacct_entries = st.lists(st.tuples(days(), st.sampled_from(("GJ", "ADJ", "EJ")), st.sampled_from(("draft", "posted")),
                                     st.sampled_from(DESCRIPTIONS), st.sampled_from(ACTIONS), days(-30, 30)),
                           max_size=40)

MACROS = st.sampled_from(("today", "yesterday", "currentWeek", "lastWeek", "currentMonth", "priorMonth",
                          "currentQuarter", "priorQuarter", "currentYear", "priorYear"))


def date_values(near: list[dt.date]):
    """Dates on, just before and just after the book's own (where a bound one day off would show), and macros."""
    around = st.sampled_from(near or [TODAY]).flatmap(
        lambda day: st.sampled_from([day - dt.timedelta(days=1), day, day + dt.timedelta(days=1)]))
    return st.one_of(around.map(dt.date.isoformat), around.map(lambda d: f"{d.isoformat()}T{d.day % 24:02d}:30:00Z"),
                     MACROS)


state_values = st.sampled_from(("draft", "posted", "Posted", "submitted", "approved", "declined", "reversed",
                                "reversalPending", "partiallyApproved", "nothing", None))
INDEXED = ["postingDate", "state", "glJournal.id"]
OTHER_VALUES = {"description": st.sampled_from(DESCRIPTIONS),
                "glJournal.id": st.sampled_from(("GJ", "ADJ", "EJ", "gj")), "key": st.integers(1, 80).map(str)}


OPERATORS = ["$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$notIn", "$between", "$notBetween", "$contains",
             "$startsWith", "$notEndsWith"]
NARROWING = ["$eq", "$lt", "$lte", "$gt", "$gte", "$in", "$between"]  # what an index can narrow by


@st.composite
def intacct_condition(draw, near):
    field_values = {"postingDate": date_values(near), "state": state_values, **OTHER_VALUES}
    name = draw(st.sampled_from(INDEXED * 3 + sorted(field_values)))
    values = field_values[name]
    op = draw(st.sampled_from(NARROWING * 3 + OPERATORS if name in INDEXED else OPERATORS))
    if op in ("$in", "$notIn"):
        value = draw(st.lists(values, min_size=1, max_size=3))
    elif op in ("$between", "$notBetween"):
        value = draw(st.lists(values.filter(lambda v: v is not None), min_size=2, max_size=2))
    elif op in ("$contains", "$startsWith", "$notEndsWith"):
        value = draw(st.sampled_from(("R", "rent", "2025", "d", "pos")))
    elif op in ("$lt", "$lte", "$gt", "$gte"):
        value = draw(values.filter(lambda v: v is not None))
    else:
        value = draw(values)
    extra = draw(st.sampled_from(sorted(set(field_values) - {name}) + [None]))
    body = {name: value}
    if extra and op in ("$eq", "$ne") and draw(st.booleans()):  # several fields under one operator are AND-ed
        body[extra] = draw(field_values[extra])
    return {op: body}


def _expression(draw, count: int) -> str | None:
    if count == 0 or draw(st.booleans()):
        return draw(st.sampled_from((None, "and", "or")))
    numbers = [str(n) for n in draw(st.permutations(range(1, count + 1)))]
    text = numbers[0]
    for number in numbers[1:]:
        joined = f"{text} {draw(st.sampled_from(('and', 'or')))} {number}"
        text = f"({joined})" if draw(st.booleans()) else joined
    return text


@st.composite
def intacct_query(draw, near):
    filters = draw(st.lists(intacct_condition(near), max_size=3))
    body = {"object": "general-ledger/journal-entry",
            "fields": draw(st.sampled_from((["key", "postingDate", "state"], ["key", "description", "glJournal.id"],
                                            ["state", "count:key"], ["glJournal.id", "min:postingDate",
                                                                     "max:description"], None))),
            "start": draw(st.integers(1, 30)), "size": draw(st.integers(1, 12))}
    if filters:
        body["filters"] = filters
        expression = _expression(draw, len(filters))
        if expression is not None:
            body["filterExpression"] = expression
    order = draw(st.sampled_from((None, [{"postingDate": "asc"}], [{"postingDate": "desc"}],
                                  [{"postingDate": "desc"}, {"key": "asc"}], [{"postingDate": "asc"}, {"key": "asc"}],
                                  [{"key": "asc"}], [{"key": "desc"}], [{"postingDate": "desc"}, {"key": "desc"}],
                                  [{"postingDate": "desc"}, {"description": "asc"}], [{"state": "asc"}],
                                  [{"description": "desc"}, {"postingDate": "asc"}])))
    if order is not None:
        aggregated = [f for f in body["fields"] or () if ":" in f]
        if aggregated:  # an aggregate query orders by its requested fields only
            order = [{body["fields"][0]: "desc"}]
        body["orderBy"] = order
    parameters = {}
    if draw(st.booleans()):
        parameters["asOfDate"] = draw(days(-60, 60)).isoformat()
    if draw(st.booleans()):
        parameters["caseSensitiveComparison"] = draw(st.booleans())
    if parameters:
        body["filterParameters"] = parameters
    return body


@st.composite
def intacct_line_query(draw, near):
    """Lines: conditions on the two fields holding their entry's date (which narrow to the entries of those
    dates) and on the account (which keeps the lines of the accounts it allows) mixed with others, AND-ed or
    not, one field or several under an operator."""
    field_values = {"entryDate": date_values(near), "journalEntry.postingDate": date_values(near),
                    "glAccount.id": st.sampled_from(("6000", "1000", "6100", "2000", "9999", "6")),
                    "glAccount.key": st.sampled_from(("6", "1", "7", "3", "6000")),
                    "txnType": st.sampled_from(("debit", "credit")), "journalEntry.state": state_values,
                    "state": state_values}
    filters = []
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(["entryDate", "journalEntry.postingDate", "glAccount.id"] * 2 +
                                    sorted(field_values)))
        op = draw(st.sampled_from(NARROWING + ["$ne", "$notBetween"]))
        values = field_values[name].filter(lambda v: v is not None)
        value = draw(st.lists(values, min_size=2, max_size=2) if op in ("$between", "$notBetween") else
                     st.lists(values, min_size=1, max_size=3) if op == "$in" else values)
        body = {name: value}
        if op in ("$eq", "$ne") and draw(st.booleans()):  # several fields under one operator are AND-ed
            other = draw(st.sampled_from(sorted(set(field_values) - {name})))
            body[other] = draw(field_values[other].filter(lambda v: v is not None))
        filters.append({op: body})
    body = {"object": "general-ledger/journal-entry-line", "start": draw(st.integers(1, 20)),
            "size": draw(st.integers(1, 12)),
            "fields": draw(st.sampled_from((["key", "entryDate", "txnAmount"], ["glAccount.id", "sum:txnAmount"],
                                            ["journalEntry.key", "count:key"])))}
    if filters:
        body["filters"] = filters
        expression = _expression(draw, len(filters))
        if expression is not None:
            body["filterExpression"] = expression
    if ":" not in "".join(body["fields"]) and draw(st.booleans()):
        body["orderBy"] = draw(st.sampled_from(([{"entryDate": "desc"}], [{"txnAmount": "asc"}, {"key": "desc"}],
                                                [{"key": "desc"}], [{"key": "asc"}])))
    if draw(st.booleans()):
        body["filterParameters"] = {"asOfDate": draw(days(-60, 60)).isoformat()}
    return body


def _fill_intacct(app, plan) -> object:
    intacct = _provider(app, "intacct")
    company = intacct.state.company(intacct.create_tenant("http://mock")["tenant"])
    for on, journal, state, description, action, reversal in plan:
        debited = {"Office supplies": "6100", "Payroll": "2000"}.get(description, "6000")  # lines of several accounts
        body = {"glJournal": {"id": journal}, "postingDate": on.isoformat(), "description": description,
                "state": state, "lines": [{"txnType": "debit", "txnAmount": "10.00", "glAccount": {"id": debited}},
                                          {"txnType": "credit", "txnAmount": "10.00", "glAccount": {"id": "1000"}}]}
        if action == "reversal":
            body["automaticReversalDate"] = max(on + dt.timedelta(days=1), reversal).isoformat()
        try:
            entry = rules.create_entry(company, body, "admin")
            if action == "submit":
                rules.submit(company, entry, "admin")
            elif action == "approve":
                rules.approve(company, rules.submit(company, entry, "admin"), "admin", None)
            elif action == "decline":
                rules.simple_action(company, rules.submit(company, entry, "admin"), "decline", "admin")
            elif action == "reverse":
                rules.reverse(company, entry, on + dt.timedelta(days=3), "admin")
            elif action == "delete":
                rules.delete_entry(company, entry)
            elif action == "update":  # a new date and journal: the entry moves in every index
                rules.update_entry(company, entry, {"postingDate": reversal.isoformat(), "glJournal": {"id": "ADJ"},
                                                    "description": "Rent"}, "admin",
                                   wire.entry_out(company, entry, TODAY))
        except (ApiError, LedgerError):
            pass  # a refused step is part of the random book's story
    return company


def _intacct_answer(app, company, body, *, scan):
    call = SimpleNamespace(tenant=company, body=body, warn=lambda message: None)
    try:
        return _provider(app, "intacct").query_objects(call, scan=scan)
    except ApiError as error:
        return error.status, error.code, str(error)


@pytest.mark.parametrize("queries", [intacct_query, intacct_line_query], ids=["entries", "lines"])
@EXAMPLES
@given(plan=intacct_entries, data=st.data())
def test_intacct_indexed_query_answers_as_the_full_scan(world, queries, plan, data):
    """Entries read through the indexes; lines read from the entries of the dates their conditions allow, kept
    by the accounts theirs allow, and paged in key order from the lines before their records are made."""
    company = _fill_intacct(world, plan)
    near = sorted({entry.date for entry in company.book.entries.values()})
    for body in data.draw(st.lists(queries(near), min_size=1, max_size=10)):
        assert _intacct_answer(world, company, body, scan=False) == _intacct_answer(world, company, body, scan=True)


def test_intacct_reads_reversed_state_from_a_pending_reversal_through_the_index(world):
    """A pending automatic reversal reads `reversed` from its date on: the state index must still find it."""
    company = _fill_intacct(world, [(TODAY - dt.timedelta(days=9), "GJ", "posted", "Rent", "reversal",
                                     TODAY - dt.timedelta(days=5))])
    body = {"object": "general-ledger/journal-entry", "fields": ["description", "state"],
            "filters": [{"$eq": {"state": "reversed"}}, {"$eq": {"description": "Rent"}}]}
    status, answer = _intacct_answer(world, company, body, scan=False)
    assert answer["ia::result"] == [{"description": "Rent", "state": "reversed"}]


def test_intacct_date_bounds_agree_with_the_scan_on_every_edge(world):
    """Every narrowing operator against every day around the entries' (dates, date-times, macros): the cases a
    bound one day off would get wrong, which random queries reach too rarely."""
    company = _fill_intacct(world, [(TODAY + dt.timedelta(days=n // 2), "GJ", "posted", "Rent", "none", TODAY)
                                    for n in range(-80, 81, 5)])  # some days hold two entries
    around = [TODAY + dt.timedelta(days=n) for n in range(-42, 43)]
    values = [d.isoformat() for d in around] + [f"{d.isoformat()}T23:30:00-02:00" for d in around[::5]] + \
        ["today", "yesterday", "currentWeek", "lastWeek", "currentMonth", "priorMonth", "currentQuarter",
         "priorQuarter", "currentYear", "priorYear", 20250101]
    bodies = [{"$" + op: {"postingDate": value}} for op in ("eq", "lt", "lte", "gt", "gte") for value in values]
    bodies += [{"$between": {"postingDate": [low, high]}} for low in values[::4] for high in values[::4]]
    bodies += [{"$in": {"postingDate": values[n:n + 3]}} for n in range(0, len(values), 3)]
    pages = ({"size": 4000}, {"orderBy": [{"postingDate": "desc"}], "start": 3, "size": 4},
             {"orderBy": [{"postingDate": "asc"}, {"key": "desc"}], "start": 2, "size": 3})
    for condition in bodies:
        for as_of, page in zip((None, TODAY.isoformat(), (TODAY - dt.timedelta(days=30)).isoformat()), pages):
            body = {"object": "general-ledger/journal-entry", "fields": ["key", "postingDate"],
                    "filters": [condition], **page, **({"filterParameters": {"asOfDate": as_of}} if as_of else {})}
            assert _intacct_answer(world, company, body, scan=False) == \
                _intacct_answer(world, company, body, scan=True), body


@EXAMPLES
@given(plan=intacct_entries, start=st.integers(1, 45), size=st.integers(1, 12))
def test_intacct_entry_list_pages_in_key_order(world, plan, start, size):
    """The list's default order is the key's, as numbers: read from the key index, it must match sorting them."""
    company = _fill_intacct(world, plan)
    call = SimpleNamespace(tenant=company, query={"start": start, "size": size})
    status, answer = _provider(world, "intacct").list_journal_entries(call)
    keys = sorted(company.book.entries, key=int)
    assert [row["key"] for row in answer["ia::result"]] == keys[start - 1:start - 1 + size]
    assert answer["ia::meta"]["totalCount"] == len(keys)


# -- Codat ------------------------------------------------------------------------------------------------------

# postedOn as pushes store it (midnight, no zone) and as fixtures may hold it: a time and a zone can put the
# instant on the day before or after the day the ledger files the entry under
POSTED_FORMS = ("{}T00:00:00", "{}T23:30:00-05:00", "{}T00:30:00+09:00", "{}T12:00:00Z", "{}")
ODD_POSTED = "{}T99"  # no instant: no date condition matches it, and the postedOn indexes cannot hold it

codat_entries = st.lists(st.tuples(days(), st.sampled_from(POSTED_FORMS * 8 + (ODD_POSTED,)),
                                   st.sampled_from(DESCRIPTIONS), st.sampled_from((None, "GJ", "AP", "gj", 7)),
                                   st.booleans()), max_size=30)


BESIDE = tuple(dt.timedelta(microseconds=n) for n in (0, 1, -1, 500_000, -500_000, 1_000_000, -1_000_000))


def _stamp_text(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S" + (".%fZ" if at.microsecond else "Z"))


@st.composite
def codat_query(draw, near, instants=()):
    around = st.sampled_from(near or [TODAY]).flatmap(
        lambda day: st.sampled_from([day - dt.timedelta(days=1), day, day + dt.timedelta(days=1)]))
    value = st.one_of(around.map(dt.date.isoformat), around.map(lambda d: f"{d.isoformat()}T23:00:00"),
                      around.map(lambda d: f"{d.isoformat()}T01:00:00+03:00"))
    condition = st.one_of(
        st.tuples(st.sampled_from(("postedOn", "PostedOn")), st.sampled_from(("=", "!=", ">", "<", ">=", "<=")),
                  value).map("".join),
        st.tuples(st.just("description"), st.sampled_from(("=", "~", "!=")),
                  st.sampled_from(("Rent", "rent", "Pay"))).map("".join),
        st.tuples(st.just("journalRef.id"), st.sampled_from(("=", "!=")), st.sampled_from(("GJ", "ap", "7"))).map(
            "".join),
        st.sampled_from(("metadata.isDeleted=true", "metadata.isDeleted=false", "metadata.isDeleted!=true",
                         "metadata.isDeleted=1")),
        st.tuples(st.sampled_from(("createdOn", "updatedOn", "modifiedDate")),
                  st.sampled_from(("=", "!=", ">", "<", ">=", "<=")),
                  st.tuples(st.sampled_from(instants or [FROZEN]), st.sampled_from(BESIDE)).map(
                      lambda pair: _stamp_text(pair[0] + pair[1]))).map("".join))
    parts = draw(st.lists(condition, min_size=0, max_size=3))
    text = parts[0] if parts else ""
    for part in parts[1:]:
        joined = f"{text}{draw(st.sampled_from(('&&', '||')))}{part}"
        text = f"{{{joined}}}" if draw(st.booleans()) else joined
    query = {"page": draw(st.integers(1, 6)), "pageSize": draw(st.integers(1, 8))}
    if parts or draw(st.booleans()):
        query["query"] = quote(text, safe="") if draw(st.booleans()) else text  # Codat's docs encode it twice
    order = draw(st.sampled_from((None, "postedOn", "-postedOn", "PostedOn", "description", "-createdOn")))
    if order:
        query["orderBy"] = order
    return query


# Pushed entries keep no timestamp text: theirs are read from the instants they were made at (fractions of a second
# included, which their text drops), at these offsets from FROZEN.
PUSHED_AT = st.tuples(st.integers(-3, 3), st.sampled_from((0, 1, 499_999, 500_000, 999_999)))
codat_pushed = st.lists(st.tuples(PUSHED_AT, days(), st.sampled_from(DESCRIPTIONS)), max_size=8)


def _fill_codat(app, plan, pushed=()):
    from mock_server.providers.codat import wire as codat_wire

    codat = _provider(app, "codat")
    _, client = codat.state.new_tenant(None)
    company = next(company for company in client.companies.values() if company.synced)
    for n, (on, form, description, journal, deleted) in enumerate(plan):
        raw = {"id": f"random-{n}", "postedOn": form.format(on.isoformat()), "createdOn": "2025-01-01T00:00:00",
               "description": description,
               "journalLines": [{"netAmount": 10, "accountRef": {"id": "6300"}},
                                {"netAmount": -10, "accountRef": {"id": "1000"}}],
               **({"journalRef": {"id": journal}} if journal else {}), "isDeleted": deleted}
        codat.state._seed_entry(company, raw)  # the fixture path: it keeps postedOn as written
    connection = next(iter(company.connections.values()))
    clock = codat.clock
    try:
        for (seconds, micro), on, description in pushed:
            clock.set(FROZEN + dt.timedelta(seconds=seconds, microseconds=micro))
            submission, errors = codat_wire.check_push(
                {"description": description, "postedOn": f"{on.isoformat()}T00:00:00",
                 "journalLines": [{"netAmount": 10, "accountRef": {"id": "6300"}},
                                  {"netAmount": -10, "accountRef": {"id": "1000"}}]}, company)
            assert not errors, errors
            push = codat._push(company, connection, "create", None)
            push.submission = submission
            codat._start(company, push)
    finally:
        clock.set(FROZEN)
    return client, company


def _codat_answer(app, client, company, query, *, scan):
    call = SimpleNamespace(tenant=client, path={"companyId": company.id}, query=query,
                           request=SimpleNamespace(path="/codat/journalEntries"), warn=lambda message: None)
    try:
        return _provider(app, "codat").list_journal_entries(call, scan=scan)
    except ApiError as error:
        return error.status, error.code, str(error)


@EXAMPLES
@given(plan=codat_entries, pushed=codat_pushed, data=st.data())
def test_codat_indexed_query_answers_as_the_full_scan(world, plan, pushed, data):
    client, company = _fill_codat(world, plan, pushed)
    near = sorted({entry.date for entry in company.book.entries.values()})
    instants = sorted({entry.created_at for entry in company.book.entries.values()})  # beside them: each side
    for query in data.draw(st.lists(codat_query(near, instants), min_size=1, max_size=10)):
        assert _codat_answer(world, client, company, query, scan=False) == \
            _codat_answer(world, client, company, query, scan=True)


def test_codat_date_bounds_agree_with_the_scan_on_every_edge(world):
    client, company = _fill_codat(world, [(TODAY + dt.timedelta(days=n), POSTED_FORMS[n % len(POSTED_FORMS)], "Rent",
                                           None, False) for n in range(-12, 13)])
    values = [f"{(TODAY + dt.timedelta(days=n)).isoformat()}{time}" for n in range(-14, 15)
              for time in ("", "T00:00:00", "T23:59:00", "T22:00:00-04:00", "T02:00:00+05:00")]
    for op in ("=", ">", "<", ">=", "<="):
        for value in values:
            for order in (None, "-postedOn"):
                query = {"query": f"postedOn{op}{value}", "page": 1, "pageSize": 100,
                         **({"orderBy": order} if order else {})}
                assert _codat_answer(world, client, company, query, scan=False) == \
                    _codat_answer(world, client, company, query, scan=True), query



def test_codat_timestamps_compare_on_every_edge_as_their_text_does(world):
    """A pushed entry keeps no timestamp text: a scan compares the instant it was made at, to the whole second its
    text shows. At, and a microsecond and half a second either side of, every instant: the same answers as the
    record's text gives."""
    pushed = [((seconds, micro), TODAY, "Rent") for seconds in (-1, 0, 1) for micro in (0, 1, 500_000, 999_999)]
    client, company = _fill_codat(world, [], pushed)
    made = [FROZEN + dt.timedelta(seconds=seconds, microseconds=micro) for (seconds, micro), _, _ in pushed]
    for field in ("createdOn", "updatedOn", "sourceModifiedDate"):
        for op in ("=", "!=", ">", "<", ">=", "<="):
            for value in {_stamp_text(at + beside) for at in made for beside in BESIDE}:
                query = {"query": f"{field}{op}{value}", "page": 1, "pageSize": 100}
                assert _codat_answer(world, client, company, query, scan=False) == \
                    _codat_answer(world, client, company, query, scan=True), query


# -- Aden and COUNT: lists read through the book's indexes --------------------------------------------------------
# Their books are filled at the ledger (create, status change, date change, delete): the lists read the indexes
# the ledger keeps through exactly those writes, and each page must equal the one a scan of every record gives.

ADEN_STATUSES = ("Draft", "Pending Approval", "On Hold", "Approved", "Posted")
ledger_steps = st.lists(st.tuples(days(), st.sampled_from(ADEN_STATUSES), st.sampled_from(("manual", "accrual")),
                                  st.sampled_from(("keep", "keep", "status", "move", "delete")),
                                  st.sampled_from(ADEN_STATUSES), days()), max_size=40)


def _aden_entity(app):
    aden = _provider(app, "aden")
    tenant = aden.create_tenant("http://mock")["tenant"]
    return next(entity for entity in aden.state.entities.values() if entity.id == tenant)


def _two_accounts(book):
    first, second = list(book.accounts)[:2]
    return [NewLine(first, Side.DEBIT, Decimal("10.00")), NewLine(second, Side.CREDIT, Decimal("10.00"))]


@EXAMPLES
@given(plan=ledger_steps, data=st.data())
def test_aden_entry_list_by_status_and_dates_answers_as_a_scan(world, plan, data):
    entity = _aden_entity(world)
    book, lines = entity.book, _two_accounts(entity.book)
    for on, status, kind, step, other, moved in plan:
        entry = book.add_entry(on=on, memo="Random", lines=lines, status=status, posted=False, draft=True,
                               attrs={"period_id": "p1", "entry_type": kind, "currency": "USD"})
        if step == "status":
            book.update_entry(entry.id, status=other)
        elif step == "move":
            book.update_entry(entry.id, on=moved, allow_closed_period=True)
        elif step == "delete":
            book.delete_entry(entry.id, allow_closed_period=True)
    everything = sorted(book.entries.values(), key=lambda e: (e.date, e.seq))
    for _ in range(5):
        query = {"offset": data.draw(st.integers(0, 12)), "limit": data.draw(st.integers(1, 8))}
        for name, values in (("status", st.sampled_from(ADEN_STATUSES)), ("entry_type", st.just("accrual")),
                             ("start_date", days()), ("end_date", days())):
            if data.draw(st.booleans()):
                query[name] = data.draw(values)
        status, answer = _provider(world, "aden").list_journal_entries(SimpleNamespace(tenant=entity, query=query))
        matching = [e.id for e in everything if query.get("status", e.status) == e.status
                    and query.get("entry_type", e.attrs["entry_type"]) == e.attrs["entry_type"]
                    and query.get("start_date", e.date) <= e.date <= query.get("end_date", e.date)]
        assert [row["journal_entry_id"] for row in answer["data"]] == \
            matching[query["offset"]:query["offset"] + query["limit"]], query
        assert answer["pagination"]["total"] == len(matching), query


@EXAMPLES
@given(plan=st.lists(st.tuples(days(), st.booleans(), st.integers(0, 2), st.sampled_from(("keep", "keep", "exclude",
                                                                                          "include", "move", "delete")),
                               days()), max_size=40), data=st.data())
def test_count_transaction_list_answers_as_a_scan(world, plan, data):
    count = _provider(world, "count")
    workspace = count.state.workspaces[count.create_tenant("http://mock")["tenant"]]
    book = workspace.book
    banks = [a.id for a in book.accounts.values() if a.active][:3]
    for on, excluded, bank, step, moved in plan:
        transaction = book.add_transaction(account_id=banks[bank], amount=Decimal("5.00"), flow=Flow.EXPENSE, on=on,
                                           attrs={"excluded": excluded, "currency": "USD"})
        if step in ("exclude", "include"):
            book.update_transaction(transaction.id, attrs={"excluded": step == "exclude", "currency": "USD"})
        elif step == "move":
            book.update_transaction(transaction.id, date=moved, account_id=banks[(bank + 1) % len(banks)])
        elif step == "delete":
            book.delete_transaction(transaction.id)
    listed = sorted((t for t in book.transactions.values() if not t.attrs.get("excluded")),
                    key=lambda t: (t.date, t.seq), reverse=True)
    for _ in range(5):
        query = {"page": data.draw(st.integers(1, 4)), "limit": data.draw(st.integers(1, 8))}
        if data.draw(st.booleans()):
            query["accountUuid"] = data.draw(st.sampled_from(banks))
        for name in ("startDate", "endDate"):
            if data.draw(st.booleans()):
                query[name] = data.draw(days())
        status, answer = count.list_transactions(SimpleNamespace(tenant=workspace, query=query))
        matching = [t.id for t in listed if query.get("accountUuid", t.account_id) == t.account_id
                    and query.get("startDate", t.date) <= t.date <= query.get("endDate", t.date)]
        first = (query["page"] - 1) * query["limit"]
        assert [row["id"] for row in answer["data"]["transactions"]] == matching[first:first + query["limit"]]
        assert answer["data"]["totalRecords"] == len(matching)


# -- the ledger: a filtered page reads most of a book in creation order -------------------------------------------

@EXAMPLES
@given(plan=st.lists(st.tuples(days(), st.sampled_from(("draft", "posted")),
                               st.sampled_from(("keep", "keep", "move", "status", "delete")), days()), max_size=40),
       data=st.data())
def test_a_filtered_page_of_most_of_a_book_is_the_one_a_date_ordered_read_gives(world, plan, data):
    """`Book.entries_page` with a filter reads a range covering most of the book in creation order and sorts the
    matches; a narrow range is read from the index. Either way the page and count are those of the reference:
    every entry sorted by (prefix, date, creation), cut to the range, filtered, paged."""
    book = _aden_entity(world).book  # whose "status" index is keyed (status, date)
    lines = _two_accounts(book)
    for on, status, step, moved in plan:
        entry = book.add_entry(on=on, memo="Random", lines=lines, status=status, posted=False, draft=True,
                               allow_closed_period=True)
        if step == "move":
            book.update_entry(entry.id, on=moved, allow_closed_period=True)
        elif step == "status":
            book.update_entry(entry.id, status="posted" if status == "draft" else "draft")
        elif step == "delete":
            book.delete_entry(entry.id, allow_closed_period=True)
    near = sorted({e.date for e in book.entries.values()}) or [TODAY]
    bound = st.sampled_from(near).flatmap(lambda d: st.sampled_from((d - dt.timedelta(days=1), d,
                                                                      d + dt.timedelta(days=1))))
    for _ in range(6):
        start, end = data.draw(st.none() | bound), data.draw(st.none() | bound)
        tags = data.draw(st.sets(st.integers(0, 3), min_size=1))
        status = data.draw(st.none() | st.sampled_from(("draft", "posted")))
        offset, limit, newest = data.draw(st.integers(0, 30)), data.draw(st.integers(1, 10)), data.draw(st.booleans())
        page, total = book.entries_page(
            start=start, end=end, match=lambda e: e.seq % 4 in tags, offset=offset, limit=limit,
            newest_first=newest, **({"index": "status", "prefix": (status,)} if status else {}))
        expected = sorted((e for e in book.entries.values() if status in (None, e.status)
                           and (start is None or e.date >= start) and (end is None or e.date <= end)
                           and e.seq % 4 in tags), key=lambda e: (e.date, e.seq), reverse=newest)
        assert [e.id for e in page] == [e.id for e in expected[offset:offset + limit]]
        assert total == len(expected)
