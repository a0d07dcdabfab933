"""Request bodies load the same through the plain loader as through marshmallow itself, for every provider's
request schemas: a body the plain loader takes gives marshmallow's very result, and it steps aside for the rest."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from marshmallow import ValidationError, fields

from mock_server import providers
from mock_server.providers import marshal
from mock_server.providers.count import wire as count_wire

for _name in providers.names():  # every provider's wire module defines its schemas on import
    providers.load(_name)


def _schemas(base: type = marshal.In) -> list[type]:
    found = []
    for sub in base.__subclasses__():
        found += [sub, *_schemas(sub)]
    return found


SCHEMAS = sorted(set(_schemas()), key=lambda s: f"{s.__module__}.{s.__qualname__}")
PLAIN = [s for s in SCHEMAS if marshal._plain(s) is not None]

# Values a client might send: right, wrong, and the edges between (dates that do not exist, amounts with too
# many decimals or a sign, numbers as strings, booleans as words).
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 10**6),
    st.decimals(min_value=-1000, max_value=10**6, places=3, allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "x", "2025-03-31", "2025-02-30", "2025-3-1", "20250331", "100.00", "1.005", "-5.00", "0",
                     "true", "false", "yes", "1", "a0000000-0000-4000-8000-000000006000"]),
    st.text(max_size=6),
)


def _value(field: fields.Field, depth: int) -> st.SearchStrategy:
    inner = field.inner if isinstance(field, fields.List) else field
    if isinstance(inner, fields.Nested) and depth < 2:
        item = _body(marshal._instance(inner.nested), depth + 1)
        return st.one_of(SCALARS, st.lists(st.one_of(item, SCALARS), max_size=3), item)
    return st.one_of(SCALARS, st.lists(SCALARS, max_size=2))


def _body(schema, depth: int = 0) -> st.SearchStrategy:
    keys = {f.data_key or name: f for name, f in schema.load_fields.items()}
    present = {key: _value(f, depth) for key, f in keys.items()}
    return st.fixed_dictionaries({}, optional={**present, "unknownField": SCALARS})


def _outcome(load):
    try:
        return "loaded", load()
    except ValidationError:
        return "refused", None
    except marshal._Doubt:
        raise
    except Exception as error:  # a field's own refusal (an amount with three decimals), raised through both
        return "error", (type(error).__name__, str(error))


def test_the_plain_loader_covers_the_hot_schemas():
    """Without this, every body could fall back to marshmallow and the test below would prove nothing."""
    assert count_wire.EntryIn in PLAIN
    assert len(PLAIN) >= len(SCHEMAS) // 2
    body = {"descriptionEntry": "Rent", "date": "2025-03-31", "refNumber": "R-1",
            "lines": [{"accountUuid": "a", "amountDebit": "100.00"}, {"accountUuid": "b", "amountCredit": 100}]}
    assert marshal._plain(count_wire.EntryIn).load(body) == marshal._instance(count_wire.EntryIn).load(body) == {
        "memo": "Rent", "on": date(2025, 3, 31), "reference": "R-1",
        "lines": [{"account_id": "a", "debit": Decimal("100.00")}, {"account_id": "b", "credit": Decimal("100.00")}]}


@pytest.mark.parametrize("schema", PLAIN, ids=lambda s: f"{s.__module__.split('.')[-2]}.{s.__qualname__}")
@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_body_the_plain_loader_takes_loads_as_marshmallow_loads_it(schema, data):
    body = data.draw(_body(marshal._instance(schema)))
    try:
        plain = _outcome(lambda: marshal._plain(schema).load(body))
    except marshal._Doubt:
        return  # marshmallow alone judges it, as load() does
    assert plain == _outcome(lambda: marshal._instance(schema).load(body))
