"""Sage Intacct query service (``POST /services/core/query``) for the mock.

Pure Python: no Flask and nothing else from the project.  The provider handler
passes the parsed JSON body and a mapping of object names to record loaders:

    result = run_query(body, {"general-ledger/journal-entry": store.entries, ...},
                       today=clock.today())
    return {"ia::result": result.rows, "ia::meta": result.meta}

Behaviour follows the provider dossier (``providers/intacct.md`` sections 7-10):

* ``fields``: plain names, related-object dot paths (``glJournal.id``) and the
  aggregates ``count|sum|avg|min|max:<field or path>``.  Rows use flat keys
  exactly as requested; a bare object field returns the nested object; an
  array field (``lines``) is an error.  Aggregates group by the plain fields.
* ``filters``: ``[{"$op": {"field": value, ...}}, ...]`` with the 16 operators
  in :data:`OPERATORS`; several fields under one operator are ANDed into one
  condition.  Date macros (:data:`DATE_MACROS`) are ranges relative to
  ``filterParameters.asOfDate`` or ``today``.
* ``filterExpression``: ``and`` / ``or`` alone, or condition numbers with
  ``and``, ``or`` and parentheses (``and`` binds tighter), parsed with lark.
* ``orderBy``, ``start`` / ``size`` paging and the ``ia::meta`` dict.

An object may come as :class:`Indexed` rather than a loader: the conditions a
match must meet (the AND-ed ones) then take their candidates from the store's
indexes (a date range, a field of few values), the filter runs on those only,
reading fields straight off the store's items, and a page in an index's order
(the default, or by the date) is read from that index up to the page's end.
When the indexes capture every condition they also count the matches.  An
object may also come as :class:`LinesOf`, the lines of an indexed object's
items: only the lines of the items in the AND-ed conditions' date range are
read, those storing a value that a condition on a kept field refuses are dropped
before any record is made, and in the default order only the page's are made.
``scan=True`` forces the full scan over wire records, which the tests compare
against.

Every problem raises :class:`QueryError`; ``kind`` says which part of the
request is wrong so the handler can pick its ``errorId``.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from ...errors import excerpt

__all__ = [
    "AGGREGATES",
    "DATE_MACROS",
    "OPERATORS",
    "Indexed",
    "LinesOf",
    "QueryError",
    "QueryResult",
    "run_query",
]

OPERATORS = (
    "$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$notIn",
    "$between", "$notBetween", "$contains", "$notContains",
    "$startsWith", "$notStartsWith", "$endsWith", "$notEndsWith",
)
DATE_MACROS = (
    "today", "yesterday", "currentWeek", "lastWeek", "currentMonth",
    "priorMonth", "currentQuarter", "priorQuarter", "currentYear", "priorYear",
)
AGGREGATES = ("count", "sum", "avg", "min", "max")

DEFAULT_FIELDS = ("key", "id", "href")
DEFAULT_SIZE = 100
MAX_SIZE = 4000

_BODY_KEYS = frozenset({
    "object", "fields", "filters", "filterExpression", "filterParameters",
    "orderBy", "start", "size",
})
_FILTER_PARAMETER_KEYS = frozenset({
    "asOfDate", "caseSensitiveComparison", "includePrivate", "includeHierarchyFields",
})

# errorIds from dossier section 9 (mock-only values); "request" covers the
# remaining body-shape problems (unknown member, bad filterParameters).
_ERROR_IDS = {
    "object": "REST-1201",
    "field": "REST-1202",
    "operator": "REST-1203",
    "expression": "REST-1204",
    "paging": "REST-1205",
    "request": "REST-1064",
}


class QueryError(ValueError):
    """A query the service rejects (HTTP 400).

    ``str(err)`` is the human message.  ``kind`` is one of ``object``,
    ``field``, ``operator``, ``expression``, ``paging`` or ``request``;
    ``error_id`` maps it to the dossier's errorId; ``target`` is a JSON pointer
    into the request body when one applies (e.g. ``/filters/1/$gt/postingDate``).
    """

    def __init__(self, message: str, *, kind: str = "request", target: str | None = None):
        super().__init__(message)
        self.message = message
        self.kind = kind
        # a pointer's segments may be names the request made up: each is cut to an excerpt
        self.target = target if target is None else "/".join(excerpt(part) for part in target.split("/"))

    @property
    def error_id(self) -> str:
        return _ERROR_IDS[self.kind]


@dataclass(frozen=True)
class QueryResult:
    """``rows`` is the ``ia::result`` list, ``meta`` the ``ia::meta`` dict."""

    rows: list[dict]
    meta: dict


@dataclass(frozen=True)
class Indexed:
    """An object's records as its store holds them (items), with the store's indexes. An index (the ledger's
    ``Index``) orders items by a key and offers ``span(low, high)`` (positions of a key-prefix range),
    ``records(lo, hi, reverse=, keep=)`` (the items, read as far as iterated), ``counts()`` (items per first
    key part), ``key(item)`` and ``len``.

    ``record(item)`` is an item's wire record; ``fields`` reads a field (dot path) of the wire record straight
    off an item, the same value without building the record. ``by_key`` holds every item in ``key`` order (the
    default order, and the order items were made); ``by_date`` every item by (``date_field``, key), where
    ``date_field`` holds ``YYYY-MM-DD`` dates, never null, and ``day(item)`` is that date. ``kept_by`` maps a
    field of few distinct values to an index keyed (stored value, date), holding every item, and
    ``shown(value)``: the field values an item storing ``value`` can show. An item missing from what an index
    gives for a condition it meets would be a wrong answer."""

    record: Callable[[Any], Mapping]
    fields: Mapping[str, Callable[[Any], Any]]
    by_key: Any
    date_field: str
    by_date: Any
    day: Callable[[Any], dt.date]
    kept_by: Mapping[str, tuple[Any, Callable[[Any], tuple]]]


@dataclass(frozen=True)
class LinesOf:
    """An object whose records are the lines of an indexed object's items (a journal entry's lines):
    ``parts(item)`` gives an item's lines as stored, ``record(item, number, part)`` the record of its line
    ``number`` (from 1), in which each of ``date_fields`` holds the item's date. When
    the AND-ed conditions bound one of those fields, only the lines of the items in that date range (read from
    ``items.by_date``) are filtered; otherwise every item's lines are.

    ``fields`` reads a field (dot path) of a line record as the record would show it, without its mapping's
    detours. ``kept_by`` maps a field of few distinct values to (``stored(part)``, ``values()``: every value a
    line may store, ``shown(value)``: the field values a line storing ``value`` shows): an AND-ed condition on it
    keeps the lines whose stored value shows a match, before their records are made. ``order(part)`` orders
    lines as their keys do (the default order)."""

    items: Indexed
    parts: Callable[[Any], Sequence[Any]]
    record: Callable[[Any, int, Any], Mapping]
    date_fields: tuple[str, ...]
    fields: Mapping[str, Callable[[Any], Any]]
    kept_by: Mapping[str, tuple[Callable[[Any], Any], Callable[[], Iterable[Any]], Callable[[Any], tuple]]]
    order: Callable[[Any], Any]

    def lines(self, item: Any) -> list[Mapping]:
        return [self.record(item, number, part) for number, part in enumerate(self.parts(item), 1)]


# --------------------------------------------------------------------------
# Grammars
# --------------------------------------------------------------------------

_EXPRESSION_GRAMMAR = r"""
start: _AND                -> all_of
     | _OR                 -> any_of
     | expr

?expr: or_
?or_: and_ (_OR and_)*
?and_: atom (_AND atom)*
?atom: CONDITION
     | "(" expr ")"

_AND: /and/i
_OR: /or/i
CONDITION: /[0-9]+/

%import common.WS
%ignore WS
"""

_FIELD_GRAMMAR = r"""
?start: aggregate | path
aggregate: NAME ":" path
path: NAME ("." NAME)*
NAME: /[A-Za-z_][A-Za-z0-9_]*/
"""

_expression_parser = Lark(_EXPRESSION_GRAMMAR, parser="lalr", cache=True)  # cached: startup time
_field_parser = Lark(_FIELD_GRAMMAR, parser="lalr", cache=True)


_TOKEN_NAMES = {
    "LPAR": "'('", "RPAR": "')'", "_AND": "'and'", "_OR": "'or'", "CONDITION": "a condition number",
    "NAME": "a name", "DOT": "'.'", "COLON": "':'",
}


def _shown(value: Any) -> str:
    """A request value quoted in a message: its repr, cut to an excerpt."""
    return excerpt(repr(value))


def _json(value: Any) -> str:
    """A request value quoted in a message as JSON, cut to an excerpt."""
    return excerpt(json.dumps(value, default=str))


def _describe_parse_error(exc: UnexpectedInput, text: str) -> str:
    if isinstance(exc, UnexpectedToken):
        if exc.token.type == "$END":
            expected = sorted(_TOKEN_NAMES.get(name, name) for name in exc.expected)
            return f"unexpected end of expression; expected {' or '.join(expected)}"
        return f"unexpected {_shown(str(exc.token))} at position {exc.column}"
    if isinstance(exc, UnexpectedCharacters):
        return f"unexpected {_shown(text[exc.pos_in_stream])} at position {exc.column}"
    return "unexpected end of expression"  # pragma: no cover - UnexpectedEOF


# --------------------------------------------------------------------------
# Field references
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _FieldRef:
    text: str                      # exactly as requested (the row key)
    path: tuple[str, ...]
    aggregate: str | None = None   # count/sum/avg/min/max


@lru_cache(maxsize=1024)
def _parse_field_text(text: str) -> tuple[str | None, tuple[str, ...]] | str:
    """Return (aggregate, path) or an error description string."""
    try:
        tree = _field_parser.parse(text)
    except UnexpectedInput as exc:
        return _describe_parse_error(exc, text)
    if tree.data == "aggregate":
        func_token, path_tree = tree.children
        return str(func_token), tuple(str(t) for t in path_tree.children)
    return None, tuple(str(t) for t in tree.children)


def _parse_field(text: Any, *, where: str, target: str, allow_aggregate: bool) -> _FieldRef:
    if not isinstance(text, str) or not text:
        raise QueryError(f"{where}: field names must be non-empty strings, got {_shown(text)}",
                         kind="field", target=target)
    parsed = _parse_field_text(text)
    if isinstance(parsed, str):
        raise QueryError(f"{where}: invalid field {_shown(text)}: {parsed}", kind="field", target=target)
    aggregate, path = parsed
    if aggregate is not None:
        if not allow_aggregate:
            raise QueryError(f"{where}: aggregate {_shown(text)} is only allowed in fields",
                             kind="field", target=target)
        if aggregate not in AGGREGATES:
            raise QueryError(
                f"{where}: unknown aggregate function {_shown(aggregate)} in {_shown(text)} "
                f"(use one of {', '.join(AGGREGATES)})", kind="field", target=target)
    return _FieldRef(text, path, aggregate)


def _make_getter(path: tuple[str, ...], object_name: str) -> Callable[[Mapping], Any]:
    if path == ("href",):
        prefix = f"/objects/{object_name}/"

        def get_href(record: Mapping) -> Any:
            if "href" in record:
                return record["href"]
            key = record.get("key")
            return None if key is None else prefix + str(key)
        return get_href
    if len(path) == 1:
        (name,) = path

        def get_one(record: Mapping) -> Any:
            return record.get(name)
        return get_one

    def get_path(record: Mapping) -> Any:
        value: Any = record
        for name in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(name)
        return value
    return get_path


_MISSING = object()


def _field_shape(records: list[Mapping], path: tuple[str, ...]) -> str:
    """Classify a path against the records: scalar, object, list, unknown or open.

    The first record normally decides (records are in wire shape with every
    documented field emitted); otherwise later records are tried.  ``open``
    means only null intermediates were seen, so the path cannot be judged.
    """
    if path == ("href",):
        return "scalar"
    saw_null_prefix = False
    for record in records:
        value: Any = record
        outcome = None
        for depth, name in enumerate(path):
            if isinstance(value, list):
                outcome = "list"
                break
            if value is None and depth > 0:
                outcome = "open"
                break
            if not isinstance(value, Mapping):
                outcome = "missing"
                break
            value = value.get(name, _MISSING)
            if value is _MISSING:
                outcome = "missing"
                break
        if outcome is None:
            if isinstance(value, list):
                return "list"
            if isinstance(value, Mapping):
                return "object"
            return "scalar"
        if outcome == "list":
            return "list"
        if outcome == "open":
            saw_null_prefix = True
    if not records or saw_null_prefix:
        return "open"
    return "unknown"


# --------------------------------------------------------------------------
# Typed values
# --------------------------------------------------------------------------

_K_BOOL, _K_NUM, _K_DATE, _K_DT, _K_STR = range(5)

_NUM_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DT_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?")
_UTC = dt.timezone.utc
_DAY_END = dt.time(23, 59, 59, 999999)


@lru_cache(maxsize=65536)
def _classify_str(text: str) -> tuple[int, Any]:
    if _NUM_RE.fullmatch(text):
        try:
            return _K_NUM, Decimal(text)
        except InvalidOperation:  # pragma: no cover - regex guards this
            pass
    if len(text) == 10 and _DATE_RE.fullmatch(text):
        try:
            return _K_DATE, dt.date.fromisoformat(text)
        except ValueError:
            pass
    if _DT_RE.fullmatch(text):
        try:
            return _K_DT, _aware(dt.datetime.fromisoformat(text))
        except ValueError:
            pass
    return _K_STR, text


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=_UTC)
    return value.astimezone(_UTC)


def _classify(value: Any) -> tuple[int, Any] | None:
    """(kind, typed value) of a non-null record value; None for null."""
    if value is None:
        return None
    kind = type(value)
    if kind is str:
        return _classify_str(value)
    if kind is bool:
        return _K_BOOL, value
    if kind is int or kind is Decimal:
        return _K_NUM, Decimal(value)
    if kind is float:
        return _K_NUM, Decimal(repr(value))
    if isinstance(value, dt.datetime):
        return _K_DT, _aware(value)
    if isinstance(value, dt.date):
        return _K_DATE, value
    if isinstance(value, bool):
        return _K_BOOL, bool(value)
    if isinstance(value, (int, Decimal)):
        return _K_NUM, Decimal(value)
    return _K_STR, _text(value)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (Mapping, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _day_range(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return (dt.datetime.combine(start, dt.time(0), _UTC), dt.datetime.combine(end, _DAY_END, _UTC))


def _add_months(day: dt.date, months: int) -> dt.date:
    """First day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def macro_range(name: str, as_of: dt.date) -> tuple[dt.date, dt.date]:
    """Inclusive [start, end] of a relative date macro (weeks run Monday-Sunday)."""
    one = dt.timedelta(days=1)
    if name == "today":
        return as_of, as_of
    if name == "yesterday":
        return as_of - one, as_of - one
    if name in ("currentWeek", "lastWeek"):
        monday = as_of - dt.timedelta(days=as_of.weekday())
        if name == "lastWeek":
            monday -= dt.timedelta(days=7)
        return monday, monday + dt.timedelta(days=6)
    if name in ("currentMonth", "priorMonth"):
        first = as_of.replace(day=1)
        if name == "priorMonth":
            first = _add_months(first, -1)
        return first, _add_months(first, 1) - one
    if name in ("currentQuarter", "priorQuarter"):
        first = dt.date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1)
        if name == "priorQuarter":
            first = _add_months(first, -3)
        return first, _add_months(first, 3) - one
    if name in ("currentYear", "priorYear"):
        year = as_of.year - (name == "priorYear")
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    raise KeyError(name)


class _Operand:
    """A filter value prepared once for every domain a record value may need."""

    __slots__ = ("raw", "is_null", "text", "folded", "num", "dates", "datetimes", "boolean")

    def __init__(self, raw: Any, as_of: dt.date):
        self.raw = raw
        self.is_null = raw is None
        self.num: Decimal | None = None
        self.dates: tuple[dt.date, dt.date] | None = None
        self.datetimes: tuple[dt.datetime, dt.datetime] | None = None
        self.boolean: bool | None = None
        if raw is None:
            self.text = self.folded = ""
            return
        self.text = _text(raw)
        self.folded = self.text.casefold()
        if isinstance(raw, bool):
            self.boolean = raw
            return
        if isinstance(raw, (int, Decimal)):
            self.num = Decimal(raw)
            return
        if isinstance(raw, float):
            self.num = Decimal(repr(raw))
            return
        # strings
        if raw in DATE_MACROS:
            start, end = macro_range(raw, as_of)
            self.dates = (start, end)
            self.datetimes = _day_range(start, end)
            return
        if self.folded in ("true", "false"):
            self.boolean = self.folded == "true"
            return
        kind, typed = _classify_str(raw)
        if kind == _K_NUM:
            self.num = typed
        elif kind == _K_DATE:
            self.dates = (typed, typed)
            self.datetimes = _day_range(typed, typed)
        elif kind == _K_DT:
            self.datetimes = (typed, typed)
            day = typed.date()
            self.dates = (day, day)

    def bounds(self, kind: int) -> tuple[Any, Any] | None:
        """Inclusive (low, high) of this operand in a record kind's domain."""
        if kind == _K_NUM:
            return None if self.num is None else (self.num, self.num)
        if kind == _K_DATE:
            return self.dates
        if kind == _K_DT:
            return self.datetimes
        if kind == _K_BOOL:
            return None if self.boolean is None else (self.boolean, self.boolean)
        return None


# --------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------

_SCALARS = (str, int, float, Decimal, bool)
_Predicate = Callable[[Mapping], bool]


def _check_number(value: Any) -> bool:
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, Decimal):
        return value.is_finite()
    return True


def _validate_value(op: str, value: Any, target: str) -> None:
    def fail(expected: str) -> None:
        raise QueryError(f"filters: operator {op} expects {expected}, got {_json(value)}",
                         kind="operator", target=target)

    def is_scalar(v: Any) -> bool:
        return isinstance(v, _SCALARS) and _check_number(v)

    def is_orderable(v: Any) -> bool:
        return is_scalar(v) and not isinstance(v, bool)

    if op in ("$eq", "$ne"):
        if value is not None and not is_scalar(value):
            fail("a single value or null")
    elif op in ("$lt", "$lte", "$gt", "$gte"):
        if not is_orderable(value):
            fail("a string or a number")
    elif op in ("$in", "$notIn"):
        if not isinstance(value, list) or not value:
            fail("a non-empty array")
        if not all(v is None or is_scalar(v) for v in value):
            fail("an array of single values")
    elif op in ("$between", "$notBetween"):
        if not isinstance(value, list) or len(value) != 2 or not all(map(is_orderable, value)):
            fail("an array [low, high] of two strings or numbers")
    elif not isinstance(value, str):
        fail("a string")


class _FilterCompiler:
    def __init__(self, as_of: dt.date, case_sensitive: bool):
        self.as_of = as_of
        self.ci = not case_sensitive

    def operand(self, raw: Any) -> _Operand:
        return _Operand(raw, self.as_of)

    def sieve(self, op: str, getter: Callable[[Any], Any], raw: Any) -> Callable[[list], list]:
        """``compile`` for a list at once: the records that pass, in order. A scan runs this on every record a
        query reads, so a text search runs as one comprehension, without a call per record for the test."""
        if op == "$contains":
            needle, ci = (raw.casefold(), True) if self.ci else (raw, False)

            def contains(records: list) -> list:
                return [r for r in records if (v := getter(r)) is not None and needle in (
                    (v if v.__class__ is str else _text(v)).casefold() if ci else v if v.__class__ is str
                    else _text(v))]
            return contains
        predicate = self.compile(op, getter, raw)
        return lambda records: [r for r in records if predicate(r)]

    def compile(self, op: str, getter: Callable[[Mapping], Any], raw: Any) -> _Predicate:
        ci = self.ci
        negate = op in ("$ne", "$notIn", "$notBetween", "$notContains", "$notStartsWith", "$notEndsWith")
        base = {"$ne": "$eq", "$notIn": "$in", "$notBetween": "$between", "$notContains": "$contains",
                "$notStartsWith": "$startsWith", "$notEndsWith": "$endsWith"}.get(op, op)

        if base in ("$contains", "$startsWith", "$endsWith"):
            needle = raw.casefold() if ci else raw
            method = {"$contains": str.__contains__, "$startsWith": str.startswith,
                      "$endsWith": str.endswith}[base]

            def text_test(value: Any) -> bool:
                if value is None:
                    return False
                text = value if value.__class__ is str else _text(value)
                return method(text.casefold() if ci else text, needle)
            test = text_test
        elif base == "$eq":
            test = self._equality(self.operand(raw))
        elif base == "$in":
            tests = [self._equality(self.operand(item)) for item in raw]

            def in_test(value: Any) -> bool:
                return any(t(value) for t in tests)
            test = in_test
        elif base == "$between":
            test = self._between(self.operand(raw[0]), self.operand(raw[1]))
        else:
            test = self._ordering(base, self.operand(raw))

        if negate:
            def predicate(record: Mapping) -> bool:
                return not test(getter(record))
        else:
            def predicate(record: Mapping) -> bool:
                return test(getter(record))
        return predicate

    def _equality(self, operand: _Operand) -> Callable[[Any], bool]:
        if operand.is_null:
            return lambda value: value is None or value == ""
        wanted = operand.folded if self.ci else operand.text
        ci = self.ci

        def eq(value: Any) -> bool:
            classified = _classify(value)
            if classified is None:
                return False
            kind, typed = classified
            bounds = operand.bounds(kind)
            if bounds is not None:
                return bounds[0] <= typed <= bounds[1]
            if isinstance(value, str):
                return (value.casefold() if ci else value) == wanted
            return False
        return eq

    def _ordering(self, op: str, operand: _Operand) -> Callable[[Any], bool]:
        wanted = operand.folded if self.ci else operand.text
        ci = self.ci

        def compare(value: Any) -> bool:
            classified = _classify(value)
            if classified is None:
                return False
            kind, typed = classified
            if kind == _K_BOOL:
                return False
            bounds = operand.bounds(kind)
            if bounds is not None:
                low, high = bounds
            elif isinstance(value, str):
                typed = value.casefold() if ci else value
                low = high = wanted
            else:
                return False
            if op == "$lt":
                return typed < low
            if op == "$lte":
                return typed <= high
            if op == "$gt":
                return typed > high
            return typed >= low
        return compare

    def _between(self, low_op: _Operand, high_op: _Operand) -> Callable[[Any], bool]:
        ci = self.ci
        low_text = low_op.folded if ci else low_op.text
        high_text = high_op.folded if ci else high_op.text

        def between(value: Any) -> bool:
            classified = _classify(value)
            if classified is None:
                return False
            kind, typed = classified
            if kind == _K_BOOL:
                return False
            low, high = low_op.bounds(kind), high_op.bounds(kind)
            if low is not None and high is not None:
                return low[0] <= typed <= high[1]
            if isinstance(value, str):
                text = value.casefold() if ci else value
                return low_text <= text <= high_text
            return False
        return between


def _conjunction(predicates: list[_Predicate]) -> _Predicate:
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:  # the usual case, without a generator per record
        first, second = predicates
        return lambda record: first(record) and second(record)
    return lambda record: all(p(record) for p in predicates)


def _disjunction(predicates: list[_Predicate]) -> _Predicate:
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        first, second = predicates
        return lambda record: first(record) or second(record)
    return lambda record: any(p(record) for p in predicates)


def _parse_expression(expression: str | None, count: int) -> Tree:
    """Parse and check ``filterExpression`` against the number of conditions.

    Returns a tree whose root is ``all_of``, ``any_of`` or ``start`` (numbered).
    """
    if expression is None:
        expression = "and"
    if not isinstance(expression, str):
        raise QueryError("filterExpression must be a string such as '1 and (2 or 3)'",
                         kind="expression", target="/filterExpression")
    if not expression.strip():
        raise QueryError("filterExpression: empty expression", kind="expression",
                         target="/filterExpression")
    try:
        tree = _expression_parser.parse(expression)
    except UnexpectedInput as exc:
        raise QueryError(f"filterExpression: {_describe_parse_error(exc, expression)}",
                         kind="expression", target="/filterExpression") from None
    if tree.data != "start":
        return tree
    used: set[int] = set()
    for token in tree.scan_values(lambda t: isinstance(t, Token)):
        number = int(token)
        if not 1 <= number <= count:
            have = f"filters has {count} condition{'s' if count != 1 else ''}"
            raise QueryError(
                f"filterExpression: condition {token} at position {token.column} does not exist ({have})",
                kind="expression", target="/filterExpression")
        used.add(number)
    unused = sorted(set(range(1, count + 1)) - used)
    if unused:
        listed = ", ".join(map(str, unused))
        plural = len(unused) > 1
        raise QueryError(
            f"filterExpression: condition{'s' if plural else ''} {listed} {'are' if plural else 'is'} not used",
            kind="expression", target="/filterExpression")
    return tree


def _build_predicate(tree: Tree, conditions: list[_Predicate]) -> _Predicate | None:
    if tree.data == "all_of":
        return _conjunction(conditions) if conditions else None
    if tree.data == "any_of":
        return _disjunction(conditions) if conditions else None

    def build(node: Tree | Token) -> _Predicate:
        if isinstance(node, Token):
            return conditions[int(node) - 1]
        parts = [build(child) for child in node.children]
        return _conjunction(parts) if node.data == "and_" else _disjunction(parts)

    return build(tree.children[0])


# --------------------------------------------------------------------------
# Sorting and aggregates
# --------------------------------------------------------------------------


def _sort_value(value: Any, ci: bool) -> tuple:
    """Total-order key for a non-null value: numbers < dates < booleans < text."""
    classified = _classify(value)
    kind, typed = classified  # type: ignore[misc]
    if kind == _K_NUM:
        return (0, typed)
    if kind == _K_DATE:
        return (1, dt.datetime.combine(typed, dt.time(0), _UTC))
    if kind == _K_DT:
        return (1, typed)
    if kind == _K_BOOL:
        return (2, int(typed))
    text = _text(value)
    return (3, text.casefold() if ci else text)


def _sort_in_place(items: list, keys: list[tuple[Callable[[Any], Any], bool]], ci: bool) -> None:
    """Stable multi-key sort; each key is (value getter, descending).  Nulls last."""
    for getter, descending in reversed(keys):
        if descending:
            def key(item: Any, getter: Callable = getter) -> tuple:
                value = getter(item)
                return (0,) if value is None else (1, _sort_value(value, ci))
        else:
            def key(item: Any, getter: Callable = getter) -> tuple:
                value = getter(item)
                return (1,) if value is None else (0, _sort_value(value, ci))
        items.sort(key=key, reverse=descending)


_CENT = Decimal("0.01")


def _amount(value: Decimal) -> str:
    return str(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def _numeric(value: Any, ref: _FieldRef) -> Decimal:
    classified = _classify(value)
    if classified is None or classified[0] != _K_NUM:
        raise QueryError(f"fields: {ref.aggregate} needs a numeric field, "
                         f"but {_shown('.'.join(ref.path))} holds {_json(value)}",
                         kind="field", target="/fields")
    return classified[1]


def _aggregate(ref: _FieldRef, values: list[Any], ci: bool) -> Any:
    present = [v for v in values if v is not None]
    if ref.aggregate == "count":
        return len(present)
    if not present:
        return None
    if ref.aggregate in ("sum", "avg"):
        numbers = [_numeric(v, ref) for v in present]
        total = sum(numbers, Decimal(0))
        if ref.aggregate == "avg":
            return _amount(total / len(numbers))
        if all(type(v) is int for v in present):
            return int(total)
        return _amount(total)
    # values that sort alike (``Rent`` and ``rent`` ignoring case) are told apart by their text, so the answer
    # does not depend on the order the records came in
    best = present[0]
    best_key = (_sort_value(best, ci), _text(best))
    for value in present[1:]:
        key = (_sort_value(value, ci), _text(value))
        if (key < best_key) if ref.aggregate == "min" else (key > best_key):
            best, best_key = value, key
    if isinstance(best, (Decimal, float)):
        return _amount(Decimal(repr(best)) if isinstance(best, float) else best)
    return best


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


# --------------------------------------------------------------------------
# Request parsing
# --------------------------------------------------------------------------


def _strict_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_paging(body: Mapping) -> tuple[int, int]:
    start = body.get("start")
    size = body.get("size")
    start = 1 if start is None else start
    size = DEFAULT_SIZE if size is None else size
    if not _strict_int(start) or start < 1:
        raise QueryError(f"start must be an integer of at least 1, got {_json(start)}",
                         kind="paging", target="/start")
    if not _strict_int(size) or not 1 <= size <= MAX_SIZE:
        raise QueryError(f"size must be an integer from 1 to {MAX_SIZE}, got {_json(size)}",
                         kind="paging", target="/size")
    return start, size


def _parse_filter_parameters(raw: Any, today: dt.date) -> tuple[dt.date, bool]:
    if raw is None:
        return today, True
    if not isinstance(raw, Mapping):
        raise QueryError("filterParameters must be an object", target="/filterParameters")
    for name in raw:
        if name not in _FILTER_PARAMETER_KEYS:
            raise QueryError(f"filterParameters: unknown parameter {_shown(name)}",
                             target=f"/filterParameters/{name}")
    as_of = today
    value = raw.get("asOfDate")
    if value is not None:
        if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
            raise QueryError(f"filterParameters: asOfDate must be a date YYYY-MM-DD, got {_shown(value)}",
                             target="/filterParameters/asOfDate")
        try:
            as_of = dt.date.fromisoformat(value)
        except ValueError:
            raise QueryError(f"filterParameters: asOfDate {_shown(value)} is not a valid date",
                             target="/filterParameters/asOfDate") from None
    for flag in ("caseSensitiveComparison", "includePrivate", "includeHierarchyFields"):
        if raw.get(flag) is not None and not isinstance(raw.get(flag), bool):
            raise QueryError(f"filterParameters: {flag} must be true or false",
                             target=f"/filterParameters/{flag}")
    case_sensitive = raw.get("caseSensitiveComparison")
    return as_of, True if case_sensitive is None else case_sensitive


def _parse_fields(raw: Any) -> list[_FieldRef]:
    if raw is None or raw == []:
        raw = list(DEFAULT_FIELDS)
    if not isinstance(raw, list):
        raise QueryError("fields must be an array of field names", kind="field", target="/fields")
    refs: list[_FieldRef] = []
    seen: set[str] = set()
    for index, text in enumerate(raw):
        ref = _parse_field(text, where="fields", target=f"/fields/{index}", allow_aggregate=True)
        if ref.text not in seen:
            seen.add(ref.text)
            refs.append(ref)
    return refs


@dataclass(frozen=True)
class _Condition:
    op: str
    parts: tuple[tuple[_FieldRef, Any, str], ...]   # (field, value, target)


def _parse_filters(raw: Any) -> list[_Condition]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise QueryError("filters must be an array of conditions", kind="operator", target="/filters")
    conditions = []
    for index, item in enumerate(raw):
        target = f"/filters/{index}"
        if not isinstance(item, Mapping) or len(item) != 1:
            raise QueryError(f"filters: condition {index + 1} must be an object with exactly one operator, "
                             f'like {{"$eq": {{"status": "active"}}}}', kind="operator", target=target)
        ((op, body),) = item.items()
        if op not in OPERATORS:
            if isinstance(op, str) and f"${op}" in OPERATORS:
                hint = f"; did you mean '${op}'?"
            elif op == "$has":
                hint = "; $has is not supported"
            else:
                hint = ""
            raise QueryError(f"filters: unknown operator {_shown(op)} in condition {index + 1}{hint}",
                             kind="operator", target=f"{target}/{op}")
        if not isinstance(body, Mapping) or not body:
            raise QueryError(f"filters: {op} in condition {index + 1} needs an object of field: value",
                             kind="operator", target=f"{target}/{op}")
        parts = []
        for name, value in body.items():
            part_target = f"{target}/{op}/{name}"
            ref = _parse_field(name, where="filters", target=part_target, allow_aggregate=False)
            _validate_value(op, value, part_target)
            parts.append((ref, value, part_target))
        conditions.append(_Condition(op, tuple(parts)))
    return conditions


_ORDERED_OPERATORS = frozenset({"$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$notIn", "$between",
                                "$notBetween"})


def _check_date_operand(records: list[Mapping], path: tuple[str, ...], value: Any, target: str) -> None:
    """On a date field, a compared value is a date, a timestamp or a date macro: a misspelt macro
    ("lastMonth") is an error, not a value that silently matches nothing."""
    odd = [item for item in (value if isinstance(value, list) else [value]) if isinstance(item, str)
           and item not in DATE_MACROS and _classify_str(item)[0] not in (_K_DATE, _K_DT)]
    if not odd:
        return  # dates and macros (most queries): the field's kind need not be looked up
    getter = _make_getter(path, "")
    kind = next((classified[0] for record in records
                 if (classified := _classify(getter(record))) is not None), None)
    if kind in (_K_DATE, _K_DT):
        raise QueryError(f"filters: {_shown(odd[0])} is neither a date (YYYY-MM-DD) nor a date macro "
                         f"({', '.join(DATE_MACROS)}) for date field {_shown('.'.join(path))}",
                         kind="operator", target=target)


def _parse_order_by(raw: Any) -> list[tuple[_FieldRef, bool, str]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise QueryError('orderBy must be an array like [{"postingDate": "asc"}]',
                         kind="field", target="/orderBy")
    result = []
    for index, item in enumerate(raw):
        target = f"/orderBy/{index}"
        if not isinstance(item, Mapping) or len(item) != 1:
            raise QueryError('orderBy: each entry must be an object with one field, like {"postingDate": "asc"}',
                             kind="field", target=target)
        ((name, direction),) = item.items()
        if not isinstance(direction, str) or direction.lower() not in ("asc", "desc"):
            raise QueryError(f"orderBy: direction for {_shown(name)} must be 'asc' or 'desc', "
                             f"got {_shown(direction)}",
                             kind="field", target=f"{target}/{name}")
        ref = _parse_field(name, where="orderBy", target=f"{target}/{name}", allow_aggregate=True)
        result.append((ref, direction.lower() == "desc", f"{target}/{name}"))
    return result


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def run_query(
    body: Mapping[str, Any],
    objects: Mapping[str, Callable[[], Iterable[dict]] | Indexed],
    *,
    today: dt.date,
    scan: bool = False,
) -> QueryResult:
    """Run one query-service request body against the records of ``objects``; ``scan`` ignores indexes."""
    if not isinstance(body, Mapping):
        raise QueryError("The query body must be a JSON object", target="")
    for name in body:
        if name not in _BODY_KEYS:
            raise QueryError(f"Unknown query property {_shown(name)}", target=f"/{name}")

    object_name = body.get("object")
    if not isinstance(object_name, str) or not object_name:
        raise QueryError("object is required, e.g. 'general-ledger/journal-entry'",
                         kind="object", target="/object")
    if object_name not in objects:
        raise QueryError(f"Unknown object {_shown(object_name)}; queryable objects are "
                         f"{', '.join(sorted(objects))}", kind="object", target="/object")

    start, size = _parse_paging(body)
    as_of, case_sensitive = _parse_filter_parameters(body.get("filterParameters"), today)
    ci = not case_sensitive
    fields = _parse_fields(body.get("fields"))
    conditions = _parse_filters(body.get("filters"))
    order_by = _parse_order_by(body.get("orderBy"))
    expression_tree = _parse_expression(body.get("filterExpression"), len(conditions))

    aggregate_mode = any(ref.aggregate for ref in fields)
    if aggregate_mode:
        requested = {ref.text for ref in fields}
        for ref, _, target in order_by:
            if ref.text not in requested:
                raise QueryError(f"orderBy: {_shown(ref.text)} must be one of the requested fields "
                                 f"when fields contain aggregates", kind="field", target=target)
    else:
        for ref, _, target in order_by:
            if ref.aggregate:
                raise QueryError(f"orderBy: aggregate {_shown(ref.text)} needs aggregate fields",
                                 kind="field", target=target)

    source = objects[object_name]
    indexed = source if isinstance(source, Indexed) and not scan else None
    lines = source if isinstance(source, LinesOf) and not scan else None
    if isinstance(source, Indexed):
        records: Sequence[Mapping] = _AllRecords(source)
    elif isinstance(source, LinesOf):
        records = _AllLines(source)
    else:
        loaded = source()
        records = loaded if isinstance(loaded, list) else list(loaded)

    # Field checks against the records' wire shape.
    shapes: dict[tuple[str, ...], str] = {}

    def check(ref: _FieldRef, target: str, *, purpose: str) -> None:
        shape = shapes.get(ref.path)
        if shape is None:
            shape = shapes[ref.path] = _field_shape(records, ref.path)
        dotted = ".".join(ref.path)
        if shape == "unknown":
            raise QueryError(f"Unknown field {_shown(dotted)} on object {_shown(object_name)}", kind="field",
                             target=target)
        if shape == "list":
            raise QueryError(f"Field {_shown(dotted)} on object {_shown(object_name)} is a collection and cannot "
                             f"be used in a query", kind="field", target=target)
        if shape == "object" and (purpose != "select" or ref.aggregate):
            use = "aggregated" if ref.aggregate else purpose
            raise QueryError(f"Field {_shown(dotted)} on object {_shown(object_name)} is an object and cannot be "
                             f"{use}; name one of its fields, e.g. '{excerpt(dotted)}.id'", kind="field",
                             target=target)

    for index, ref in enumerate(fields):
        check(ref, f"/fields/{index}", purpose="select")
    for condition in conditions:
        for ref, value, target in condition.parts:
            check(ref, target, purpose="filtered")
            if condition.op in _ORDERED_OPERATORS:
                _check_date_operand(records, ref.path, value, target)
    for ref, _, target in order_by:
        check(ref, target, purpose="sorted")

    # Compile the filter once: over the store's items when indexed (each field read straight off the item), over
    # line records with the readers their source gives.
    def reader(path: tuple[str, ...]) -> Callable[[Any], Any]:
        if indexed is not None:
            return _item_getter(indexed, path, object_name)
        native = None if lines is None else lines.fields.get(".".join(path))
        return native or _make_getter(path, object_name)

    compiler = _FilterCompiler(as_of, case_sensitive)
    compiled = [_conjunction([compiler.compile(c.op, reader(ref.path), value) for ref, value, _ in c.parts])
                for c in conditions]
    predicate = _build_predicate(expression_tree, compiled)
    in_order = False  # whether the matches come in the requested order
    if lines is not None:
        conjuncts = _conjuncts(expression_tree, len(conditions))
        found, met = _lines_in_range(lines, conditions, conjuncts, compiler, object_name,
                                     in_key_order=aggregate_mode)  # else sorted below, by the key at last
        if len(conjuncts) == len(conditions):  # every condition AND-ed: those the candidates meet need no test
            predicate = _all_of([compiled[n] for n in range(len(conditions)) if n not in met])
        keys = _order_keys(order_by)
        if not aggregate_mode and (not keys or keys == [(("key",), True)]):  # the key's order, from the lines
            found.sort(key=lambda line: lines.order(line[2]), reverse=bool(keys))  # keys are unique
            in_order = True
            if predicate is None:  # every line found matches: only the page's records are made
                page = [lines.record(*line) for line in found[start - 1:start - 1 + size]]
                return QueryResult(rows=_rows(page, fields, object_name), meta=_meta(len(found), start, size))
        records = [lines.record(*line) for line in found]
    if indexed is None:
        matched = list(records) if predicate is None else [r for r in records if predicate(r)]
    else:
        plan = _plan(indexed, conditions, _conjuncts(expression_tree, len(conditions)), compiler, object_name)
        walk = None if aggregate_mode or plan is None else _order_walk(indexed, order_by, plan)
        if plan is None:
            total, items = 0, []
        else:
            if walk is not None and plan.pure and len(plan.exact) == len(conditions):
                total, items = plan.size, []  # the indexes count it: no item is read but the page's
            else:
                items = list(plan.candidates())
                if not plan.pure:
                    items = [item for item in items if predicate(item)]  # type: ignore[misc]
                for number, condition in enumerate(conditions):
                    if plan.pure and number not in plan.exact:  # the conditions the candidates may still miss
                        for ref, value, _ in condition.parts:
                            items = compiler.sieve(condition.op, _item_getter(indexed, ref.path, object_name),
                                                   value)(items)
                total = len(items)
        if walk is not None:
            index, lo, hi, reverse, keep, dated = walk
            # reading the plan's date range, the conditions it captures need no test
            test = _all_of([compiled[n] for n in range(len(conditions)) if n not in plan.dated]) \
                if dated and plan.pure else predicate
            page = _walk(index, lo, hi, reverse, keep, test, start - 1, size)
            return QueryResult(rows=_rows(map(indexed.record, page), fields, object_name),
                               meta=_meta(total, start, size))
        matched = [indexed.record(item) for item in items]

    if aggregate_mode:
        rows = _aggregate_rows(matched, fields, order_by, object_name, ci)
        total = len(rows)
        page = rows[start - 1:start - 1 + size]
    else:
        if not in_order:
            _sort_in_place(matched, _record_sort_keys(order_by, object_name), ci)
        total = len(matched)
        page = _rows(matched[start - 1:start - 1 + size], fields, object_name)
    return QueryResult(rows=page, meta=_meta(total, start, size))


def _record_sort_keys(order_by: list[tuple[_FieldRef, bool, str]],
                      object_name: str) -> list[tuple[Callable[[Any], Any], bool]]:
    """orderBy, then the key: a total order, so the rows never depend on the order records came in."""
    return [*((_make_getter(ref.path, object_name), desc) for ref, desc, _ in order_by),
            (_make_getter(("key",), object_name), False)]


def _rows(records: Iterable[Mapping], fields: list[_FieldRef], object_name: str) -> list[dict]:
    getters = [(ref.text, _make_getter(ref.path, object_name)) for ref in fields]
    page = []
    for record in records:
        row = {}
        for text, getter in getters:
            value = getter(record)
            row[text] = copy.deepcopy(value) if isinstance(value, (Mapping, list)) else value
        page.append(row)
    return page


def _meta(total: int, start: int, size: int) -> dict:
    return {
        "totalCount": total,
        "start": start,
        "pageSize": size,
        "next": start + size if start + size <= total else None,
        "previous": max(1, start - size) if start > 1 else None,
    }


# --------------------------------------------------------------------------
# Indexes: which records can match, before the filter says which do
# --------------------------------------------------------------------------

_ONE_DAY = dt.timedelta(days=1)


class _AllRecords(Sequence):
    """All of an indexed object's records in key order, built only as far as they are iterated: checking a
    field's shape reads the first, a full scan all of them."""

    def __init__(self, indexed: Indexed):
        self.indexed = indexed
        self._all: list[Mapping] | None = None

    def _load(self) -> list[Mapping]:
        if self._all is None:
            self._all = list(map(self.indexed.record, self.indexed.by_key.records()))
        return self._all

    def __iter__(self) -> Iterator[Mapping]:
        if self._all is None:
            head = list(map(self.indexed.record, self.indexed.by_key.records(0, 1)))
            yield from head
            if head:
                yield from itertools.islice(self._load(), 1, None)
        else:
            yield from self._all

    def __len__(self) -> int:
        return len(self.indexed.by_key)

    def __getitem__(self, index: Any) -> Any:
        return self._load()[index]


class _AllLines(_AllRecords):
    """Every line of a ``LinesOf`` object, in its items' key order, built only as far as iterated."""

    def __init__(self, source: LinesOf):
        super().__init__(source.items)
        self.source = source

    def _load(self) -> list[Mapping]:
        if self._all is None:
            self._all = [line for item in self.indexed.by_key.records() for line in self.source.lines(item)]
        return self._all

    def __iter__(self) -> Iterator[Mapping]:
        if self._all is not None:
            yield from self._all
            return
        for item in self.indexed.by_key.records():  # a field's shape is usually decided by the first line
            yield from self.source.lines(item)

    def __len__(self) -> int:
        return len(self._load())


def _lines_in_range(source: LinesOf, conditions: list[_Condition], conjuncts: list[int], compiler: _FilterCompiler,
                    object_name: str, *, in_key_order: bool) -> tuple[list[tuple[Any, int, Any]], frozenset[int]]:
    """The lines, as (item, number, part), of the items whose date the AND-ed conditions on the date fields
    allow, and whose stored values those on kept fields allow: a superset of the matches, in the items' key order
    like every line if `in_key_order`. With them, the conditions every one of them meets by its date or stored
    value alone."""
    low: dt.date | None = None
    high: dt.date | None = None
    kept: dict[str, list[Any]] = {}
    met: set[int] = set()
    for number in conjuncts:
        condition = conditions[number]
        exact = True
        for ref, value, _ in condition.parts:
            name = ".".join(ref.path)
            bounds = _date_bounds(condition.op, value, compiler) if name in source.date_fields else None
            if bounds is not None:
                low, high = _narrowed(low, high, bounds)
            elif name in source.kept_by:
                _, values, shown = source.kept_by[name]
                accepted, settled = _accepted(compiler, condition.op, ref, value, values(), shown, object_name)
                kept[name] = [stored for stored in kept.get(name, accepted) if stored in accepted]
                exact = exact and settled
            else:
                exact = False
        if exact:
            met.add(number)
    if low is not None and high is not None and low > high:
        return [], frozenset(met)
    if low is None and high is None:
        items: Iterable[Any] = source.items.by_key.records()
    else:
        by_date = source.items.by_date
        items = by_date.records(*by_date.span(_day_key(low), _day_key(high)))
        if in_key_order:
            items = sorted(items, key=source.items.by_key.key)
    found = [(item, number, part) for item in items for number, part in enumerate(source.parts(item), 1)]
    for name, accepted in kept.items():
        stored, wanted = source.kept_by[name][0], set(accepted)
        found = [line for line in found if stored(line[2]) in wanted]
    return found, frozenset(met)


def _accepted(compiler: _FilterCompiler, op: str, ref: _FieldRef, value: Any, stored_values: Iterable[Any],
              shown: Callable[[Any], tuple], object_name: str) -> tuple[list[Any], bool]:
    """The stored values (in their order) showing a value that meets ``op value``, by the condition's own test;
    and whether that settles the condition: each stored value shows only values that meet it, or only values
    that miss it."""
    test = compiler.compile(op, _make_getter(ref.path, object_name), value)
    verdicts = {stored: {test(_nested(ref.path, value)) for value in shown(stored)} for stored in stored_values}
    return [stored for stored, verdict in verdicts.items() if True in verdict], \
        all(len(verdict) == 1 for verdict in verdicts.values())


def _item_getter(indexed: Indexed, path: tuple[str, ...], object_name: str) -> Callable[[Any], Any]:
    """A field of an item's wire record: read off the item when the store says how, else from the record."""
    native = indexed.fields.get(".".join(path))
    if native is not None:
        return native
    generic, record = _make_getter(path, object_name), indexed.record
    return lambda item: generic(record(item))


def _all_of(predicates: list[_Predicate]) -> _Predicate | None:
    return _conjunction(predicates) if predicates else None


def _conjuncts(tree: Tree, count: int) -> list[int]:
    """Indexes of the conditions every match meets: the AND-ed ones (under an ``or`` none is needed)."""
    if tree.data == "all_of" or (tree.data == "any_of" and count == 1):
        return list(range(count))
    if tree.data == "any_of":
        return []
    found: list[int] = []

    def walk(node: Tree | Token) -> None:
        if isinstance(node, Token):
            found.append(int(node) - 1)
        elif node.data == "and_":
            for child in node.children:
                walk(child)
    walk(tree.children[0])
    return found


def _date_bounds(op: str, value: Any, compiler: _FilterCompiler) -> tuple[dt.date | None, dt.date | None] | None:
    """The dates a date-valued field holds when it meets ``op value``, or None when the condition does not bound
    it (a value that is no date compares as text). Exact: the field's values are plain dates, which the
    condition's own test compares by day."""
    if op == "$between":
        low, high = compiler.operand(value[0]).dates, compiler.operand(value[1]).dates
        return None if low is None or high is None else (low[0], high[1])
    if op not in ("$eq", "$lt", "$lte", "$gt", "$gte"):
        return None
    dates = compiler.operand(value).dates
    if dates is None:
        return None
    return {"$eq": dates, "$lt": (None, dates[0] - _ONE_DAY), "$lte": (None, dates[1]),
            "$gt": (dates[1] + _ONE_DAY, None), "$gte": (dates[0], None)}[op]


def _narrowed(low: dt.date | None, high: dt.date | None,
              bounds: tuple[dt.date | None, dt.date | None]) -> tuple[dt.date | None, dt.date | None]:
    """The range [low, high] (None: open) narrowed to `bounds` too."""
    return (bounds[0] if low is None or (bounds[0] is not None and bounds[0] > low) else low,
            bounds[1] if high is None or (bounds[1] is not None and bounds[1] < high) else high)


def _nested(path: tuple[str, ...], value: Any) -> dict:
    record: Any = value
    for name in reversed(path):
        record = {name: record}
    return record


def _prefixes(value: Any, low: dt.date | None, high: dt.date | None) -> tuple[tuple, tuple]:
    """The key prefixes of a (value, date) index's range for one value and a date range."""
    return (value,) if low is None else (value, low), (value,) if high is None else (value, high)


@dataclass(frozen=True)
class _Plan:
    """Where a query's candidates come from: the date range its AND-ed conditions bound, and possibly one field
    of few values (``kept``: its index and the values a match can store). ``exact`` are the conditions the
    candidates meet by construction (``dated``: by the date range alone); ``pure`` says every condition is
    AND-ed; ``size`` is the number of candidates."""

    indexed: Indexed
    low: dt.date | None
    high: dt.date | None
    kept: tuple[Any, list[Any]] | None
    size: int
    exact: frozenset[int]
    dated: frozenset[int]
    pure: bool

    def candidates(self) -> Iterable[Any]:
        if self.size * 2 > len(self.indexed.by_key):
            # Most of the book: read all of it in key order, the order its records were made and lie in memory,
            # and keep the candidates by their index keys. Read in date order, records far apart in memory made
            # a scan wait on memory for most of its time.
            low, high, records = self.low or dt.date.min, self.high or dt.date.max, self.indexed.by_key.records()
            dated = self.low is not None or self.high is not None
            if self.kept is None:
                day = self.indexed.day
                return [r for r in records if low <= day(r) <= high] if dated else list(records)
            index, values = self.kept
            key, wanted = index.key, set(values)
            if not dated:
                return [r for r in records if key(r)[0] in wanted]
            return [r for r in records if (k := key(r))[0] in wanted and low <= k[1] <= high]
        if self.kept is None:
            return self.indexed.by_date.records(*self.indexed.by_date.span(_day_key(self.low), _day_key(self.high)))
        index, values = self.kept
        return itertools.chain.from_iterable(index.records(*index.span(*_prefixes(value, self.low, self.high)))
                                             for value in values)


def _day_key(day: dt.date | None) -> tuple | None:
    return None if day is None else (day,)


def _plan(indexed: Indexed, conditions: list[_Condition], conjuncts: list[int], compiler: _FilterCompiler,
          object_name: str) -> _Plan | None:
    """The narrowest candidates the indexes give for the AND-ed conditions; None when none can match."""
    low: dt.date | None = None
    high: dt.date | None = None
    kept: dict[str, list[Any]] = {}
    needs: dict[int, set[str] | None] = {}  # condition -> the kept fields that capture it (None: no index does)
    for number in conjuncts:
        condition = conditions[number]
        need: set[str] | None = set()
        for ref, value, _ in condition.parts:
            name = ".".join(ref.path)
            bounds = _date_bounds(condition.op, value, compiler) if name == indexed.date_field else None
            if bounds is not None:
                low, high = _narrowed(low, high, bounds)
            elif name in indexed.kept_by:
                index, shown = indexed.kept_by[name]
                accepted, settled = _accepted(compiler, condition.op, ref, value, index.counts(), shown, object_name)
                kept[name] = [stored for stored in kept.get(name, accepted) if stored in accepted]
                if need is not None and settled:
                    need.add(name)
                else:
                    need = None
            else:
                need = None
        needs[number] = need
    if low is not None and high is not None and low > high:
        return None
    by_date = indexed.by_date
    best, size = None, len(range(*by_date.span(_day_key(low), _day_key(high))))
    for name, values in kept.items():
        index = indexed.kept_by[name][0]
        found = sum(len(range(*index.span(*_prefixes(value, low, high)))) for value in values)
        if found <= size:  # on a tie the field's index, which also captures the field's conditions
            best, size = name, found
    exact = frozenset(n for n, need in needs.items() if need is not None and need <= {best})
    dated = frozenset(n for n, need in needs.items() if need == set())
    return _Plan(indexed, low, high, None if best is None else (indexed.kept_by[best][0], kept[best]), size, exact,
                 dated, len(conjuncts) == len(conditions))


def _order_walk(indexed: Indexed, order_by: list[tuple[_FieldRef, bool, str]],
                plan: _Plan) -> tuple[Any, int, int, bool, int, bool] | None:
    """How to read the rows in the requested order from an index, stopping at the page: (index, lo, hi, reverse,
    keep, dated), where ``dated`` says the range is the plan's dates; None when no index holds that order."""
    keys = _order_keys(order_by)
    if not keys or keys == [(("key",), True)]:
        return indexed.by_key, 0, len(indexed.by_key), bool(keys), 0, False
    if len(keys) == 1 and keys[0][0] == (indexed.date_field,):
        lo, hi = indexed.by_date.span(_day_key(plan.low), _day_key(plan.high))
        return indexed.by_date, lo, hi, keys[0][1], 1, True  # descending: newest day first, each in key order
    return None


def _order_keys(order_by: list[tuple[_FieldRef, bool, str]]) -> list[tuple[tuple[str, ...], bool]]:
    """orderBy as (path, descending), without the key-ascending tie-break every order ends with, said aloud."""
    keys = [(ref.path, descending) for ref, descending, _ in order_by]
    if keys and keys[-1] == (("key",), False):
        keys.pop()
    return keys


def _walk(index: Any, lo: int, hi: int, reverse: bool, keep: int, test: _Predicate | None, first: int,
          size: int) -> list[Any]:
    """Items ``first`` to ``first + size`` of those in positions [lo, hi) of ``index`` that pass ``test``."""
    if test is None and not keep:
        window = (max(lo, hi - first - size), hi - first) if reverse else (lo + first, min(hi, lo + first + size))
        return list(index.records(*window, reverse=reverse)) if window[1] > window[0] else []
    page: list[Any] = []
    for found in index.records(lo, hi, reverse=reverse, keep=keep):
        if test is None or test(found):
            if first:
                first -= 1
                continue
            page.append(found)
            if len(page) == size:
                break
    return page


def _aggregate_rows(records: list[Mapping], fields: list[_FieldRef],
                    order_by: list[tuple[_FieldRef, bool, str]], object_name: str, ci: bool) -> list[dict]:
    plain = [ref for ref in fields if not ref.aggregate]
    plain_getters = [_make_getter(ref.path, object_name) for ref in plain]
    aggregates = [ref for ref in fields if ref.aggregate]
    aggregate_getters = [_make_getter(ref.path, object_name) for ref in aggregates]

    groups: dict[tuple, tuple[list[Any], list[list[Any]]]] = {}
    for record in records:
        values = [g(record) for g in plain_getters]
        group_key = tuple(_freeze(v) for v in values)
        group = groups.get(group_key)
        if group is None:
            group = groups[group_key] = (values, [[] for _ in aggregates])
        for bucket, getter in zip(group[1], aggregate_getters):
            bucket.append(getter(record))
    if not groups and not plain:
        groups[()] = ([], [[] for _ in aggregates])

    rows = []
    for values, buckets in groups.values():
        row: dict[str, Any] = {}
        for ref in fields:
            if ref.aggregate:
                row[ref.text] = _aggregate(ref, buckets[aggregates.index(ref)], ci)
            else:
                value = values[plain.index(ref)]
                row[ref.text] = copy.deepcopy(value) if isinstance(value, (Mapping, list)) else value
        rows.append(row)

    sort_keys = [((lambda row, k=ref.text: row[k]), desc) for ref, desc, _ in order_by]
    sort_keys += [((lambda row, k=ref.text: row[k]), False) for ref in plain]
    _sort_in_place(rows, sort_keys, ci)
    return rows
