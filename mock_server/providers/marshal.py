"""Request bodies through marshmallow, shared by the providers' wire modules: a base schema that ignores unknown
fields, the money field, and the one place that turns a field marshmallow refuses into a 400 naming it (each
provider renders that in its own envelope)."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any, Iterator

from marshmallow import EXCLUDE, Schema, ValidationError, fields

from ..errors import ApiError, validation_error
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
    try:
        return _instance(schema).load(data or {}, partial=partial)
    except ValidationError as exc:
        field, problems = next(_flatten(exc.messages))
        raise ApiError(400, "validation_error", f"`{field}`: {problems[0].rstrip('.').lower()}.",
                       details={"field": field}) from None


@cache
def _instance(schema: type[Schema]) -> Schema:
    """One instance per schema: building one binds and copies every field, which costs more than the load."""
    return schema()


def _flatten(messages: Any, prefix: str = "") -> Iterator[tuple[str, list[str]]]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, messages if isinstance(messages, list) else [str(messages)]
