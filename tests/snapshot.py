"""Everything a mock holds, as plain data, so two mocks (one rebuilt from the other's state file or export, one
that lived through the changes) can be compared field by field: every provider's state object, walked
generically, so a field added tomorrow is compared too without this file changing."""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from sortedcontainers import SortedList

from mock_server.clock import Clock, IdGenerator
from mock_server.spec import Spec
from mock_server.wirecache import WireCache

# Machinery, not state: how a value is computed or guarded, or caches of what is compared anyway.
SKIPPED_TYPES = (Clock, IdGenerator, Spec, WireCache, type(threading.Lock()), type(threading.RLock()),
                 threading.Condition)
SKIPPED_NAMES = {"runtime", "clock", "ids", "spec", "lock", "_lock", "_tenants", "rate_limiter", "fixtures",
                 "_until_sweep", "_seq"}


def state_of(app: Any) -> dict[str, Any]:
    mock = app.extensions["ledger_mock"]
    for provider in mock.providers.values():
        provider.settle()
    return {"providers": {name: _plain(vars(provider)) for name, provider in mock.providers.items()},
            "created": sorted(map(list, mock.created)), "clock_frozen": mock.runtime.clock.frozen}


def _plain(value: Any, path: tuple[int, ...] = ()) -> Any:
    kind = _KINDS.get(type(value)) or _kind(value)
    if kind is _PLAIN:
        return value
    if kind is _TEXT:
        return str(value)
    if kind is _ENUM:
        return value.value
    if kind is _SKIPPED:
        return "<skipped>"
    if id(value) in path:
        return "<cycle>"
    inner = (*path, id(value))
    if kind is _DICT:
        return {str(k): _plain(v, inner) for k, v in value.items() if str(k) not in SKIPPED_NAMES}
    if kind is _LIST:
        return [_plain(v, inner) for v in value]
    if kind is _SET:
        return sorted(repr(_plain(v, inner)) for v in value)
    if kind is _DATACLASS:
        return {name: _plain(getattr(value, name), inner) for name in _fields(value)}
    if kind is _OBJECT:
        names = list(vars(value)) if hasattr(value, "__dict__") else list(value.__slots__)
        return {type(value).__name__: {n: _plain(getattr(value, n, None), inner) for n in names
                                       if n not in SKIPPED_NAMES}}
    return repr(value)


# How a value is walked depends only on its type: found once per type (the walk is most of every make_app test's
# teardown). A value of a plain kind holds nothing, so it can be no cycle.
_PLAIN, _TEXT, _ENUM, _SKIPPED, _DICT, _LIST, _SET, _DATACLASS, _OBJECT, _REPR = (
    "plain", "text", "enum", "skipped", "dict", "list", "set", "dataclass", "object", "repr")
_KINDS: dict[type, str] = {}
_FIELDS: dict[type, tuple[str, ...]] = {}


def _kind(value: Any) -> str:
    if value is None or isinstance(value, (bool, int, float, str)):
        kind = _PLAIN
    elif isinstance(value, (Decimal, date, datetime, timedelta)):
        kind = _TEXT
    elif isinstance(value, Enum):
        kind = _ENUM
    elif isinstance(value, SKIPPED_TYPES) or callable(value) and not dataclasses.is_dataclass(value):
        kind = _SKIPPED
    elif isinstance(value, dict):
        kind = _DICT
    elif isinstance(value, (list, tuple, deque, SortedList)):
        kind = _LIST
    elif isinstance(value, (set, frozenset)):
        kind = _SET
    elif dataclasses.is_dataclass(value):
        kind = _DATACLASS
    elif hasattr(value, "__dict__") or hasattr(value, "__slots__"):
        kind = _OBJECT
    else:
        kind = _REPR
    if not isinstance(value, type):  # classes are all of type `type`, and differ in kind
        _KINDS[type(value)] = kind
    return kind


def _fields(value: Any) -> tuple[str, ...]:
    names = _FIELDS.get(type(value))
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(value) if f.name not in SKIPPED_NAMES)
        if not isinstance(value, type):
            _FIELDS[type(value)] = names
    return names


def differences(left: Any, right: Any, where: str = "") -> list[str]:
    """Where two plain values differ (JSON pointers), for a failure message a person can act on."""
    if type(left) is not type(right):
        return [f"{where or '/'}: {str(left)[:80]} != {str(right)[:80]}"]
    if isinstance(left, dict):
        found = []
        for key in sorted(set(left) | set(right)):
            if key not in left or key not in right:
                found.append(f"{where}/{key}: only in {'right' if key not in left else 'left'}")
            else:
                found += differences(left[key], right[key], f"{where}/{key}")
        return found
    if isinstance(left, list):
        if len(left) != len(right):
            return [f"{where}: {len(left)} items != {len(right)}"]
        return [d for i, (a, b) in enumerate(zip(left, right)) for d in differences(a, b, f"{where}/{i}")]
    return [] if left == right else [f"{where}: {str(left)[:80]} != {str(right)[:80]}"]
