"""Request bodies through marshmallow, shared by the providers' wire modules: a base schema that ignores unknown
fields, the money field, and the one place that turns a field marshmallow refuses into a 400 naming it (each
provider renders that in its own envelope).

Schemas of plain fields (no hooks, no validators) load through `_Plain`: the same fields, deserialised by their
own `_deserialize`, without marshmallow's per-field machinery, which cost a fifth of a journal-entry create. A
body it has any doubt about (a missing required field, a null where none is allowed, a value a field refuses)
goes through marshmallow itself, so errors read as they always did; tests/test_marshal.py checks that both ways
agree on every provider's schemas."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any, Iterator

from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing

from ..errors import EXCERPT, ApiError, Problem, excerpt, validation_error
from ..ledger import parse_amount


class In(Schema):
    class Meta:
        unknown = EXCLUDE  # unknown body fields are ignored (COUNT D17, Aden D23)


class Money(fields.Field):
    """Number (parsed as Decimal) or numeric string in, Decimal out; more than two decimals is refused, never
    rounded. Positive unless `zero_ok`, which admits zero but still refuses negatives."""

    def __init__(self, *, zero_ok: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.zero_ok = zero_ok

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal | None:
        if value is None:
            return None
        name = self.data_key or attr or "amount"
        if not self.zero_ok:
            return parse_amount(value, field=name)
        amount = parse_amount(value, field=name, positive=False)
        if amount < 0:
            raise validation_error(f"`{name}` cannot be negative.")
        return amount


def load(schema: type[Schema], data: Any, *, partial: bool = False) -> dict[str, Any]:
    plain = None if partial else _plain(schema)
    if plain is not None:
        try:
            return plain.load(data or {})
        except _Doubt:
            pass
    try:
        return _instance(schema).load(data or {}, partial=partial)
    except ValidationError as exc:
        found = [(excerpt(field), f"`{excerpt(field)}`: {excerpt(message, 4 * EXCERPT).rstrip('.').lower()}.")
                 for field, messages in _flatten(exc.messages) for message in messages[:1]]
        (field, first), more = found[0], len(found) - 1
        problems = tuple(Problem("body", name.replace(".", "/"), text,
                                 "missing" if text.endswith("missing data for required field.") else "invalid")
                         for name, text in found)
        raise ApiError(400, "validation_error", first if not more else
                       f"{first[:-1]} ({more} more problem{'s' if more > 1 else ''} listed).",
                       details={"field": field}, problems=problems) from None


@cache
def _instance(schema: type[Schema]) -> Schema:
    """One instance per schema: building one binds and copies every field, which costs more than the load."""
    return schema()


class _Doubt(Exception):
    """Marshmallow itself must judge this body."""


class _Plain:
    """A schema's load for bodies that marshmallow would accept: each field's own conversion, nothing else."""

    def __init__(self, fields_: list[tuple[str, str, fields.Field, "_Plain | None", bool]]):
        self.fields = fields_  # (data key, result key, field, nested schema's loader, nested is a list)

    def load(self, data: Any) -> dict[str, Any]:
        if type(data) is not dict:
            raise _Doubt
        out = {}
        for key, name, field, nested, many in self.fields:
            value = data.get(key, missing)
            if value is missing:
                if field.required:
                    raise _Doubt
                if field.load_default is not missing:
                    out[name] = field.load_default() if callable(field.load_default) else field.load_default
            elif value is None:
                if not field.allow_none:
                    raise _Doubt
                out[name] = None
            elif nested is None:
                try:
                    out[name] = field._deserialize(value, key, data)
                except ValidationError:
                    raise _Doubt from None
            elif many:
                if type(value) is not list:
                    raise _Doubt
                out[name] = [nested.load(item) for item in value]
            else:
                out[name] = nested.load(value)
        return out


@cache
def _plain(schema: type[Schema]) -> _Plain | None:
    """The plain loader of `schema`, or None when it has hooks, validators or options only marshmallow applies."""
    instance = _instance(schema)
    if any(instance._hooks.values()) or instance.unknown != EXCLUDE:
        return None
    plan = []
    for name, field in instance.load_fields.items():
        nested, many, inner = None, False, field
        if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
            inner, many = field.inner, True
        if isinstance(inner, fields.Nested):
            if inner.only or inner.exclude or not isinstance(inner.nested, type) or inner.many and many:
                return None
            nested, many = _plain(inner.nested), many or inner.many
            if nested is None or inner.validators:
                return None
        if field.validators or "." in (field.attribute or name):
            return None
        plan.append((field.data_key or name, field.attribute or name, field, nested, many))
    return _Plain(plan)


def _flatten(messages: Any, prefix: str = "") -> Iterator[tuple[str, list[str]]]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, messages if isinstance(messages, list) else [str(messages)]
