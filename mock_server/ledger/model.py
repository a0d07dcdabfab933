"""Provider-neutral accounting records. Frozen: a change replaces the record, so readers never see half an edit."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, make_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Mapping


class AccountKind(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"


class Side(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"


class Flow(StrEnum):
    """Direction of a bank or card transaction, which decides how it posts."""

    EXPENSE = "expense"
    INCOME = "income"
    TRANSFER = "transfer"
    JOURNAL = "journal"


class _NoAttrs(dict):
    """The attrs of every entry, line or transaction that has none: one shared instance rather than an empty
    dict apiece (64 bytes a line, 20 MB in a 100k-entry book). Shared, so it refuses changes."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("record attrs are frozen; build a new mapping")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore
    __hash__ = object.__hash__  # type: ignore  # immutable, so hashable: a legal dataclass default

    def __reduce__(self) -> str:
        return "NO_ATTRS"  # the one instance, also in a checkpoint brought back


NO_ATTRS: Mapping[str, Any] = _NoAttrs()
_NO_AMOUNT = Decimal("0.00")  # what sums start from (a Decimal is immutable: one will do)


def _pickled_by_constructor(cls: type) -> type:
    """Pickled as its field values, and brought back by `cls._loaded`: a mutable twin of the same slots whose
    instances become `cls` as soon as they are made. A frozen dataclass's own __init__ sets each field through
    object.__setattr__ (3.2 us for an entry, against 0.8), and dataclasses' __setstate__ also looks up the fields
    for every object: either was most of the time a checkpoint (checkpoint.py) takes to load. The book makes its
    new records through `cls._loaded` too, for the same reason (a create makes four); it takes every field, no
    defaults."""
    names = tuple(f.name for f in fields(cls))

    def __post_init__(self: Any) -> None:
        self.__class__ = cls  # the same slots in the same order, so the same layout: allowed

    def __reduce__(self: Any) -> tuple:
        return loaded, tuple([getattr(self, name) for name in names])

    loaded = make_dataclass(f"{cls.__name__}_loaded", names, slots=True, namespace={"__post_init__": __post_init__})
    loaded.__module__, loaded.__qualname__ = cls.__module__, f"{cls.__qualname__}._loaded"  # where pickle finds it
    cls._loaded, cls.__reduce__ = loaded, __reduce__
    return cls


class _SharedAttrs(dict):
    """Attrs that many records hold alike (a Codat line's `{"currency": "USD"}`): one frozen instance for all of
    them rather than a dict apiece (184 bytes a line)."""

    __slots__ = ()
    _refuse = _NoAttrs._refuse
    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore
    __hash__ = object.__hash__  # type: ignore

    def __reduce__(self) -> tuple:
        return _SharedAttrs, (dict(self),)


# Only flat attrs of these exact types are shared: keyed by type too, so {"x": 1} never stands for {"x": True}.
_SHAREABLE = frozenset({str, int, bool, type(None)})
_shared: dict[tuple, _SharedAttrs | bool] = {}
_SHARED_LIMIT = 256  # attrs unique to their record (an Intacct line's key) must not grow it without bound


def attrs_of(given: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A record's own copy of `given`, or a shared frozen one when records like it may hold the same."""
    if not given:
        return NO_ATTRS
    if len(given) > 2 or any(type(value) not in _SHAREABLE for value in given.values()):
        return dict(given)
    key = tuple((name, type(value), value) for name, value in given.items())  # in order: wire output keeps it
    shared = _shared.get(key)
    if shared is None:  # seen once: shared from the second on, so attrs unique to a record stay plain dicts
        if len(_shared) >= _SHARED_LIMIT:
            _shared.clear()  # records keep theirs; the common ones come back at once
        _shared[key] = False
        return dict(given)
    if shared is False:
        shared = _shared[key] = _SharedAttrs(given)
    return shared


@_pickled_by_constructor
@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    kind: AccountKind
    created_at: datetime
    updated_at: datetime
    number: str | None = None
    active: bool = True
    currency: str = "USD"
    system: bool = False  # maintained by the provider itself: not editable, not deletable
    attrs: Mapping[str, Any] = field(default_factory=dict)  # provider-specific, opaque to the ledger


@dataclass(frozen=True, slots=True)
class NewLine:
    """A line as a caller asks for it; the ledger checks it and gives it an id unless it has its own."""

    account_id: str
    side: Side
    amount: Decimal
    memo: str | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None  # a provider's own line id (Intacct's line key), kept as the Line's


@_pickled_by_constructor
@dataclass(frozen=True, slots=True)
class Line:
    id: str
    account_id: str
    side: Side
    amount: Decimal
    memo: str | None = None
    attrs: Mapping[str, Any] = NO_ATTRS

    @property
    def signed(self) -> Decimal:
        """Debit-positive amount."""
        return self.amount if self.side is Side.DEBIT else -self.amount


@_pickled_by_constructor
@dataclass(frozen=True, slots=True)
class JournalEntry:
    id: str
    date: date
    memo: str
    lines: tuple[Line, ...]
    created_at: datetime
    updated_at: datetime
    seq: int  # creation order; breaks ties between entries of the same date
    reference: str | None = None
    status: str = "posted"  # the provider's workflow vocabulary; the ledger only reads `posted`
    posted: bool = True  # whether the entry counts in balances
    draft: bool = False  # work in progress: may be unbalanced or one-sided until it leaves its workflow's drafts
    source: str = "manual"
    editable: bool = True
    attrs: Mapping[str, Any] = NO_ATTRS

    @property
    def total_debit(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.side is Side.DEBIT), _NO_AMOUNT)

    @property
    def total_credit(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.side is Side.CREDIT), _NO_AMOUNT)


@_pickled_by_constructor
@dataclass(frozen=True, slots=True)
class Transaction:
    """A bank or card movement. It posts (bank against category) once it has a category account."""

    id: str
    account_id: str
    amount: Decimal  # positive; `flow` gives the direction
    flow: Flow
    date: date
    created_at: datetime
    updated_at: datetime
    seq: int
    category_account_id: str | None = None
    description: str | None = None
    attrs: Mapping[str, Any] = NO_ATTRS

    def postings(self) -> tuple[tuple[str, Decimal], ...]:
        """(account, debit-positive amount) pairs this transaction contributes to balances."""
        if self.category_account_id is None:
            return ()
        if self.flow is Flow.INCOME:
            return ((self.account_id, self.amount), (self.category_account_id, -self.amount))
        return ((self.category_account_id, self.amount), (self.account_id, -self.amount))
