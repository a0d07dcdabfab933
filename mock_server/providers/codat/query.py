"""Codat's list ``query`` language and ``orderBy`` for the mock.

Pure Python: no Flask and nothing else from the project.  A handler does:

    FIELDS = ("id", "description", "postedOn", ..., "metadata.isDeleted")
    keep = compile_query(args.get("query"), fields=FIELDS, type_name="JournalEntry")
    rows = sort_records([r for r in records if keep(r)], args.get("orderBy"),
                        fields=FIELDS, type_name="JournalEntry")

Language (dossier ``providers/codat.md`` sections 7, 8 and D14-D16):

* a condition is ``property op value`` with ``=``, ``!=``, ``~`` (contains, on
  strings), ``>``, ``<``, ``>=``, ``<=`` (numbers and dates);
* ``&&`` and ``||`` combine conditions, ``&&`` binding tighter; ``{ }`` group;
* a value is unquoted and runs to the next ``&&``, ``||``, ``}`` or the end;
  spaces around tokens are ignored (a value is trimmed, inner spaces kept);
* property names and string comparisons are case-insensitive;
* dates are ``YYYY-MM-DD`` (midnight UTC) or ISO date-times, zone-less = UTC;
* booleans (``true``/``false``) match with ``=`` and ``!=`` only;
* a null or absent value never matches, whatever the operator;
* an empty query means no filter; a query of 2048 characters or more is refused.

``fields`` lists the queryable dot paths of the data type.  A segment ending in
``[]`` marks an array whose elements are searched with "any element matches"
semantics, e.g. ``"dataConnections[].status"`` is queried as
``dataConnections.status``.  Every other path (including array paths not
declared that way) is refused with Codat's "Could not resolve property" error.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from lark import Lark, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from ...errors import excerpt

__all__ = ["MAX_QUERY_LENGTH", "Condition", "QueryError", "compile_query", "conjunction", "instant_of",
           "order_field", "sieve", "sort_records"]

MAX_QUERY_LENGTH = 2047          # "under 2048 characters"
MALFORMED = "Error parsing query - Malformed query."


class QueryError(ValueError):
    """A query or orderBy Codat rejects with 400.

    ``str(err)`` is Codat's exact ``error`` text; ``detail`` says what exactly
    is wrong (position, operator, property) for logs and tests.
    """

    def __init__(self, message: str, detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail or message


def _malformed(detail: str) -> QueryError:
    return QueryError(MALFORMED, detail)


def _unresolved(name: str, type_name: str, detail: str | None = None) -> QueryError:
    return QueryError(f"Error parsing query - Could not resolve property {excerpt(name)} on {type_name}", detail)


# --------------------------------------------------------------------------
# Grammar
# --------------------------------------------------------------------------

_GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: atom (_AND atom)*
?atom: condition
     | _LBRACE or_expr _RBRACE
condition: PROPERTY (NE | GE | LE | EQ | GT | LT | CONTAINS) VALUE

order: DESC? PROPERTY

PROPERTY: /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/
VALUE: /(?:(?!&&|\|\|)[^}])+/
NE: "!="
GE: ">="
LE: "<="
EQ: "="
GT: ">"
LT: "<"
CONTAINS: "~"
DESC: "-"
_AND: "&&"
_OR: "||"
_LBRACE: "{"
_RBRACE: "}"

%import common.WS
%ignore WS
"""

_parser = Lark(_GRAMMAR, parser="lalr", start=["start", "order"], cache=True)  # cached: startup time

_TOKEN_NAMES = {
    "_AND": "'&&'", "_OR": "'||'", "_LBRACE": "'{'", "_RBRACE": "'}'", "PROPERTY": "a property name",
    "VALUE": "a value", "NE": "'!='", "GE": "'>='", "LE": "'<='", "EQ": "'='", "GT": "'>'", "LT": "'<'",
    "CONTAINS": "'~'",
}


def _parse(text: str, start: str) -> Tree:
    try:
        return _parser.parse(text, start=start)
    except UnexpectedToken as exc:
        if exc.token.type == "$END":
            expected = ", ".join(sorted(_TOKEN_NAMES.get(t, t) for t in exc.expected))
            raise _malformed(f"unexpected end of query; expected {expected}") from None
        # a VALUE token where none belongs spans arbitrary text: name its first character
        shown = str(exc.token)[0] if exc.token.type == "VALUE" else str(exc.token)
        raise _malformed(f"unexpected {excerpt(repr(shown))} at position {exc.column}") from None
    except UnexpectedCharacters as exc:
        raise _malformed(f"unexpected {text[exc.pos_in_stream]!r} at position {exc.column}") from None
    except UnexpectedInput as exc:  # pragma: no cover - UnexpectedEOF is not raised by LALR
        raise _malformed(str(exc)) from None


# --------------------------------------------------------------------------
# Field catalog
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    public: str                                  # as queried, e.g. dataConnections.status
    steps: tuple[tuple[str, bool], ...]          # (key, is "any element" array)


@lru_cache(maxsize=64)
def _catalog(fields: tuple[str, ...]) -> dict[str, _Field]:
    catalog: dict[str, _Field] = {}
    for declared in fields:
        steps = []
        for segment in declared.split("."):
            is_array = segment.endswith("[]")
            steps.append((segment[:-2] if is_array else segment, is_array))
        public = ".".join(name for name, _ in steps)
        catalog[public.casefold()] = _Field(public, tuple(steps))
    return catalog


def _lookup(name: str, fields: Collection[str], type_name: str) -> _Field:
    field = _catalog(tuple(fields)).get(name.casefold())
    if field is None:
        raise _unresolved(name, type_name, f"{excerpt(repr(name))} is not a queryable property of {type_name}")
    return field


def _values(record: Any, steps: tuple[tuple[str, bool], ...]) -> list[Any]:
    """All values at a path; an "any element" step fans out over the array."""
    current = [record]
    for name, is_array in steps:
        following = []
        for item in current:
            if not isinstance(item, Mapping):
                continue
            value = item.get(name)
            if value is None:
                continue
            if is_array:
                if isinstance(value, list):
                    following.extend(v for v in value if v is not None)
            else:
                following.append(value)
        current = following
        if not current:
            break
    return current


def _single_getter(steps: tuple[tuple[str, bool], ...]) -> Callable[[Any], Any]:
    names = tuple(name for name, _ in steps)
    if len(names) == 1:
        (name,) = names
        return lambda record: record.get(name) if isinstance(record, Mapping) else None

    def get(record: Any) -> Any:
        value = record
        for name in names:
            if not isinstance(value, Mapping):
                return None
            value = value.get(name)
        return value
    return get


# --------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------

_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?")
_UTC = dt.timezone.utc


@lru_cache(maxsize=65536)
def _parse_instant(text: str) -> dt.datetime | None:
    """A date (midnight UTC) or ISO date-time (zone-less = UTC) as an aware datetime."""
    try:
        if len(text) == 10 and _DATE_RE.fullmatch(text):
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(0), _UTC)
        if _DATETIME_RE.fullmatch(text):
            value = dt.datetime.fromisoformat(text)
            return value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)
    except ValueError:
        return None
    return None


def _parse_number(text: str) -> Decimal | None:
    if _NUMBER_RE.fullmatch(text):
        try:
            return Decimal(text)
        except InvalidOperation:  # pragma: no cover - regex guards this
            return None
    return None


def _record_instant(value: Any) -> dt.datetime | None:
    if isinstance(value, str):
        return _parse_instant(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(0), _UTC)
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _to_decimal(value: Any) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


class _Operand:
    __slots__ = ("text", "folded", "number", "instant", "boolean")

    def __init__(self, text: str):
        self.text = text
        self.folded = text.casefold()
        self.number = _parse_number(text)
        self.instant = _parse_instant(text)
        self.boolean = {"true": True, "false": False}.get(self.folded)


_ORDER_OPERATORS = {"GT": operator.gt, "LT": operator.lt, "GE": operator.ge, "LE": operator.le}
_ORDER_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "GT": lambda a, b: a > b,
    "LT": lambda a, b: a < b,
    "GE": lambda a, b: a >= b,
    "LE": lambda a, b: a <= b,
}


def _value_test(op: str, operand: _Operand) -> Callable[[Any], bool]:
    """Test for one non-null record value."""
    if op == "CONTAINS":
        needle = operand.folded

        def contains(value: Any) -> bool:
            return isinstance(value, str) and needle in value.casefold()
        return contains

    if op in ("EQ", "NE"):
        def equals(value: Any) -> bool:
            if isinstance(value, bool):
                return operand.boolean is not None and value is operand.boolean
            if _is_number(value):
                return operand.number is not None and _to_decimal(value) == operand.number
            if operand.instant is not None:
                instant = _record_instant(value)
                if instant is not None:
                    return instant == operand.instant
            if isinstance(value, str):
                return value.casefold() == operand.folded
            return False
        if op == "EQ":
            return equals
        return lambda value: not equals(value)

    compare = _ORDER_TESTS[op]
    number, instant = operand.number, operand.instant

    def ordered(value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if _is_number(value):
            return number is not None and compare(_to_decimal(value), number)
        if instant is not None:
            record_instant = _record_instant(value)
            return record_instant is not None and compare(record_instant, instant)
        if number is not None and isinstance(value, str):
            record_number = _parse_number(value)
            return record_number is not None and compare(record_number, number)
        return False
    return ordered


_Predicate = Callable[[Mapping], bool]
_CONTAINERS = (dict, list)  # an object or array where a scalar was declared counts as absent


def _condition(node: Tree, fields: Collection[str], type_name: str) -> _Predicate:
    name_token, op_token, value_token = node.children
    field = _lookup(str(name_token), fields, type_name)
    text = str(value_token).strip()
    if not text:
        raise _malformed(f"missing value after {str(op_token)!r} at position {op_token.column}")
    operand = _Operand(text)
    op = op_token.type
    if op in _ORDER_TESTS and operand.number is None and operand.instant is None:
        raise _malformed(f"{str(op_token)!r} needs a number or a date, got {excerpt(repr(text))} "
                         f"at position {value_token.column}")
    test = _value_test(op, operand)

    if any(is_array for _, is_array in field.steps):
        steps = field.steps

        def any_element(record: Mapping) -> bool:
            return any(test(v) for v in _values(record, steps) if v.__class__ not in _CONTAINERS)
        return any_element

    get = _single_getter(field.steps)

    def single(record: Mapping) -> bool:
        value = get(record)
        return value is not None and value.__class__ not in _CONTAINERS and test(value)
    return single


def _build(node: Tree, fields: Collection[str], type_name: str) -> _Predicate:
    if node.data == "condition":
        return _condition(node, fields, type_name)
    parts = [_build(child, fields, type_name) for child in node.children]
    if node.data == "and_expr":
        return lambda record: all(p(record) for p in parts)
    return lambda record: any(p(record) for p in parts)


def _match_all(record: Mapping) -> bool:
    return True


def compile_query(query: str | None, *, fields: Collection[str], type_name: str) -> Callable[[dict], bool]:
    """Compile a Codat ``query`` string into a record predicate (once per request).

    ``fields`` are the queryable dot paths (``[]`` after a segment = any element
    of that array); ``type_name`` (e.g. ``JournalEntry``) appears in errors.
    Raises :class:`QueryError` with Codat's wording.
    """
    if query is None:
        return _match_all
    if not isinstance(query, str):
        raise _malformed("query must be a string")
    if len(query) > MAX_QUERY_LENGTH:
        raise _malformed(f"query is {len(query)} characters; it must be under 2048")
    if not query.strip():
        return _match_all
    return _build(_parse(query, "start"), fields, type_name)


@dataclass(frozen=True)
class Condition:
    """One condition as a store's index reads it: the property (its declared name), the operator's token name
    (``EQ``, ``NE``, ``CONTAINS``, ``GT``, ``LT``, ``GE``, ``LE``) and the value's readings."""

    field: str
    op: str
    text: str
    instant: dt.datetime | None
    boolean: bool | None
    number: Decimal | None


def conjunction(query: str | None, *, fields: Collection[str], type_name: str) -> tuple[list[Condition], bool]:
    """The conditions every match meets (the AND-ed ones, outside any ``||``), and whether the query is exactly
    them. Call after :func:`compile_query` accepted the query."""
    if query is None or not query.strip() or len(query) > MAX_QUERY_LENGTH:
        return [], True
    found: list[Condition] = []
    pure = True
    pending = [_parse(query, "start")]
    while pending:
        node = pending.pop()
        if node.data == "and_expr":
            pending.extend(node.children)
        elif node.data == "condition":
            name_token, op_token, value_token = node.children
            operand = _Operand(str(value_token).strip())
            found.append(Condition(_lookup(str(name_token), fields, type_name).public, op_token.type, operand.text,
                                   operand.instant, operand.boolean, operand.number))
        else:
            pure = False
    return found, pure


def sieve(condition: Condition, *, fields: Collection[str], type_name: str, read: Callable[[Any], Any] | None = None,
          record: Callable[[Any], Mapping] | None = None,
          instant: Callable[[Any], dt.datetime | None] | None = None) -> Callable[[list], list]:
    """One of a query's conditions for a list of items at once: those that meet it, in order. A scan runs this
    on every item it reads, so the usual tests (a date compared, a text searched) run inside one comprehension.
    Items are records, or a store's own records when ``record`` turns one into a record; ``read`` then reads the
    condition's property straight off it when it can, and ``instant`` the UTC instant its text shows to the whole
    second (None for an item whose text must be read), for a date compared without the text."""
    field = _lookup(condition.field, fields, type_name)
    operand = _Operand(condition.text)
    test = _value_test(condition.op, operand)
    as_record = record or (lambda item: item)
    if any(is_array for _, is_array in field.steps):
        steps = field.steps
        return lambda items: [i for i in items if any(
            test(v) for v in _values(as_record(i), steps) if v.__class__ not in _CONTAINERS)]
    single = _single_getter(field.steps)
    get = read or (single if record is None else lambda item: single(record(item)))
    if condition.op == "CONTAINS":
        needle = operand.folded
        return lambda records: [r for r in records if (v := get(r)).__class__ is str and needle in v.casefold()]
    if condition.op in _ORDER_TESTS and operand.instant is not None:
        compare, at = _ORDER_OPERATORS[condition.op], operand.instant

        def ordered(records: list) -> list:  # dates as text, the usual case, parsed (cached) and compared inline
            return [r for r in records if (v := get(r)) is not None and (
                (t := _parse_instant(v)) is not None and compare(t, at) if v.__class__ is str
                else v.__class__ not in _CONTAINERS and test(v))]
        if instant is None:
            return ordered
        read_instant, (by, bound) = instant, _whole_second_test(condition.op, at)
        return lambda records: [r for r in records
                                if (by(t, bound) if (t := read_instant(r)) is not None else ordered([r]))]
    return lambda records: [r for r in records if (v := get(r)) is not None and v.__class__ not in _CONTAINERS
                            and test(v)]


def _whole_second_test(op: str, at: dt.datetime) -> tuple[Callable[[Any, Any], bool], dt.datetime]:
    """(compare, bound) such that compare(t, bound) is `t`'s whole second (its text) `op` `at`, for any `t`: no
    truncating each instant. The whole seconds >= `at` are those from `at` rounded up to a second."""
    up = at if not at.microsecond else at.replace(microsecond=0) + dt.timedelta(seconds=1)
    if op in ("GE", "GT"):  # whole > at: whole >= at rounded up, past `at` itself when it is whole
        return operator.ge, up + dt.timedelta(seconds=1) if op == "GT" and up == at else up
    # whole <= at: t before at's second ends; whole < at: t before `at` rounded up
    return operator.lt, (at.replace(microsecond=0) + dt.timedelta(seconds=1)) if op == "LE" else up


def order_field(order_by: str | None, *, fields: Collection[str], type_name: str) -> tuple[str, bool] | None:
    """(property, descending) of an accepted ``orderBy``; None for none."""
    if order_by is None or not order_by.strip():
        return None
    tree = _parse(order_by, "order")
    return _lookup(str(tree.children[-1]), fields, type_name).public, len(tree.children) == 2


def instant_of(value: Any) -> dt.datetime | None:
    """A record value as the instant a date condition compares (None: no date condition matches it)."""
    return _record_instant(value)


# --------------------------------------------------------------------------
# orderBy
# --------------------------------------------------------------------------


def _sort_key(value: Any) -> tuple:
    """Total order for non-null values: numbers < dates < booleans < text."""
    if _is_number(value):
        return (0, _to_decimal(value))
    instant = _record_instant(value)
    if instant is not None:
        return (1, instant)
    if isinstance(value, bool):
        return (2, value)
    text = value if isinstance(value, str) else str(value)
    return (3, text.casefold())


def sort_records(records: list[dict], order_by: str | None, *, fields: Collection[str],
                 type_name: str) -> list[dict]:
    """Return ``records`` ordered by one field (``-field`` = descending).

    The sort is stable and records whose value is null or absent come last in
    both directions.  No ``order_by`` keeps the given (insertion) order.  For an
    "any element" array path the first element's value is used.
    """
    if order_by is None or not order_by.strip():
        return list(records)
    if len(order_by) > MAX_QUERY_LENGTH:
        raise _malformed(f"orderBy is {len(order_by)} characters; it must be under 2048")
    tree = _parse(order_by, "order")
    descending = len(tree.children) == 2
    name = str(tree.children[-1])
    field = _lookup(name, fields, type_name)
    steps = field.steps

    present: list[tuple[tuple, dict]] = []
    absent: list[dict] = []
    for record in records:
        values = _values(record, steps)
        if values and not isinstance(values[0], (Mapping, list)):
            present.append((_sort_key(values[0]), record))
        else:
            absent.append(record)
    present.sort(key=lambda pair: pair[0], reverse=descending)
    return [record for _, record in present] + absent
