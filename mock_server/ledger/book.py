"""One tenant's books: accounts, journal entries, bank transactions, and balances derived from what is posted.

Every mutation runs under `Book.lock` (re-entrant, so a provider can hold it across a check and the change
it guards). Records are frozen dataclasses; lists read from sorted indexes kept up to date on every write,
so a page never re-sorts the book. A provider adds the indexes its queries need (`add_entry_index`,
`add_transaction_index`): each orders records by a key of the record's own fields, and the book keeps it beside the
records in the one place every write goes through.
"""

from __future__ import annotations

import itertools
import operator
import threading
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping, NamedTuple, Sequence, TypeVar

from sortedcontainers import SortedList

from ..clock import Clock, IdGenerator
from .errors import DeleteBlocked, InvalidEntry, NotFound, PeriodClosed, Unbalanced, UnknownReference
from .model import Account, Flow, JournalEntry, Line, NewLine, Side, Transaction, attrs_of
from .money import parse_amount
from .workflow import TAKEN, Workflow

T = TypeVar("T")
_UNSET: Any = object()
_ZERO = Decimal("0.00")


def _zero() -> Decimal:  # module level, so a book pickles (checkpoint.py)
    return _ZERO


def _date(record: Any) -> tuple:
    return (record.date,)


def status_and_date(entry: Any) -> tuple:
    """The key of a "status" index: entries by their workflow status, then date (`add_entry_index`)."""
    return entry.status, entry.date


class EntryEvent(NamedTuple):
    """One step of a journal entry's life: `what` is created, updated, deleted or the workflow action."""

    at: datetime
    what: str
    status: str


class Book:
    def __init__(self, tenant_id: str, *, clock: Clock, ids: IdGenerator, currency: str = "USD",
                 line_ids: bool = True):
        self.tenant_id = tenant_id
        self.line_ids = line_ids  # False: lines get "" (a provider that never shows one: 170 bytes an entry)
        self.currency = currency
        self.clock = clock
        self.ids = ids
        self.lock = threading.RLock()
        self.closed_through: date | None = None  # writes dated on or before need an explicit override
        self.accounts: dict[str, Account] = {}
        self.accounts_version = 0  # counts account changes: what shows accounts knows when it went stale
        self.entries: dict[str, JournalEntry] = {}
        self.transactions: dict[str, Transaction] = {}
        # name -> Index over entries, kept by the two methods every write goes through (_store_entry,
        # _drop_entry), so a query narrowing by one can trust it. "date" is every book's; the others are added by
        # the providers whose lists read them (`add_entry_index`): one nobody reads costs 90 bytes a record.
        self._entry_indexes: dict[str, Index] = {"date": Index(_date)}
        self._transaction_indexes: dict[str, Index] = {}
        self._balances: defaultdict[str, Decimal] = defaultdict(_zero)
        self._usage: Counter[str] = Counter()  # lines and transactions referencing each account
        self._seq = itertools.count(1)
        # entry id -> events, oldest first; kept on delete. An entry never changed since its creation has none
        # here (its one event is derived from it): most entries are never changed, and a list each adds up.
        self._history: dict[str, list[EntryEvent]] = {}

    # -- accounts ---------------------------------------------------------------------------------

    def add_account(self, account: Account) -> Account:
        with self.lock:
            self.accounts[account.id] = account
            self.accounts_version += 1
            return account

    def update_account(self, account_id: str, **changes: Any) -> Account:
        with self.lock:
            account = replace(self.account(account_id), updated_at=self.clock.now(), **changes)
            self.accounts[account_id] = account
            self.accounts_version += 1
            return account

    def remove_account(self, account_id: str) -> None:
        with self.lock:
            self.account(account_id)
            if self._usage[account_id]:
                raise DeleteBlocked("Account is used by journal entries or transactions.")
            del self.accounts[account_id]
            self.accounts_version += 1

    def account(self, account_id: str) -> Account:
        try:
            return self.accounts[account_id]
        except KeyError:
            raise NotFound(f"Account not found: {account_id}.", account_id=account_id) from None

    def account_in_use(self, account_id: str) -> bool:
        return self._usage[account_id] > 0

    def usable_account(self, account_id: str) -> Account:
        """An account that new postings may reference: it exists here and is active."""
        account = self.accounts.get(account_id)
        if account is None or not account.active:
            raise UnknownReference(f"Account not found: {account_id}.", account_id=account_id)
        return account

    # -- balances ---------------------------------------------------------------------------------

    def balance(self, account_id: str) -> Decimal:
        """Debit-positive balance from posted entries and categorised transactions."""
        return self._balances.get(account_id, _ZERO)

    def trial_balance(self) -> Decimal:
        """Sum of all balances: zero whenever the books are consistent."""
        with self.lock:
            return sum(self._balances.values(), _ZERO)

    def _post(self, postings: Iterable[tuple[str, Decimal]], sign: int) -> None:
        for account_id, amount in postings:
            self._balances[account_id] += amount * sign

    def _track(self, account_ids: Iterable[str], delta: int) -> None:
        for account_id in account_ids:
            self._usage[account_id] += delta

    # -- journal entries --------------------------------------------------------------------------

    def check_period(self, on: date, *, override: bool = False) -> None:
        if self.closed_through is not None and on <= self.closed_through and not override:
            raise PeriodClosed(f"Date {on.isoformat()} is in a closed period (closed through "
                               f"{self.closed_through.isoformat()}).")

    def check_lines(self, lines: Sequence[NewLine | Line]) -> None:
        """The double-entry rules every provider shares."""
        if len(lines) < 2:
            raise InvalidEntry("A journal entry needs at least 2 lines.")
        debits = credits = _ZERO
        for number, line in enumerate(lines, 1):
            amount = parse_amount(line.amount, field=f"line {number} amount")
            if line.side is Side.DEBIT:
                debits += amount
            else:
                credits += amount
        if debits == _ZERO or credits == _ZERO:
            raise InvalidEntry("A journal entry needs at least one debit line and one credit line.")
        if debits != credits:
            raise Unbalanced(f"Total debits must equal total credits (debits {debits}, credits {credits}).")
        for line in lines:
            self.usable_account(line.account_id)

    def check_draft_lines(self, lines: Sequence[NewLine]) -> None:
        """What even work in progress must be: amounts that are amounts, accounts that exist (active or not)."""
        for number, line in enumerate(lines, 1):
            parse_amount(line.amount, field=f"line {number} amount")
            if line.account_id not in self.accounts:
                raise UnknownReference(f"Account not found: {line.account_id}.", account_id=line.account_id)

    def add_entry(self, *, on: date, memo: str, lines: Sequence[NewLine], reference: str | None = None,
                  status: str = "posted", posted: bool = True, draft: bool = False, source: str = "manual",
                  editable: bool = True, attrs: Mapping[str, Any] | None = None, allow_closed_period: bool = False,
                  entry_id: str | None = None) -> JournalEntry:
        """A new entry; a `draft` one (never posted) is held to `check_draft_lines` only."""
        if draft and posted:
            raise ValueError("a draft entry cannot count in balances")
        with self.lock:
            self.check_period(on, override=allow_closed_period)
            (self.check_draft_lines if draft else self.check_lines)(lines)
            now = self.clock.now()
            entry = JournalEntry._loaded(  # every field given: see model._pickled_by_constructor
                id=entry_id or self.ids.uuid(), date=on, memo=memo, lines=self._materialise(lines),
                created_at=now, updated_at=now, seq=next(self._seq), reference=reference, status=status,
                posted=posted, draft=draft, source=source, editable=editable, attrs=attrs_of(attrs))
            self._store_entry(entry)
            return entry

    def update_entry(self, entry_id: str, *, on: date = _UNSET, memo: str = _UNSET,
                     lines: Sequence[NewLine] = _UNSET, allow_closed_period: bool = False,
                     **changes: Any) -> JournalEntry:
        """Change an entry; new lines replace all old ones and must balance on their own unless it is a draft."""
        with self.lock:
            old = self.entry(entry_id)
            self.check_period(old.date, override=allow_closed_period)
            if on is not _UNSET:
                self.check_period(on, override=allow_closed_period)
                changes["date"] = on
            if memo is not _UNSET:
                changes["memo"] = memo
            if lines is not _UNSET:
                (self.check_draft_lines if old.draft else self.check_lines)(lines)
                changes["lines"] = self._materialise(lines)
            new = replace(old, updated_at=self.clock.now(), **changes)
            self._drop_entry(old)
            self._store_entry(new)
            self._event(old, new, "updated", new.updated_at)
            return new

    def transition(self, entry_id: str, workflow: Workflow, action: str, **changes: Any) -> JournalEntry:
        """Move an entry through `workflow`; balances follow whether the new status counts as posted. A draft
        leaving the workflow's drafts must now keep the double-entry rules."""
        with self.lock:
            old = self.entry(entry_id)
            status = workflow.next(old.status, action)
            draft = status in workflow.drafts
            new = replace(old, status=status, posted=status in workflow.posted, draft=draft,
                          updated_at=self.clock.now(), **changes)
            if old.draft and not draft:
                self.check_lines(new.lines)
            self._drop_entry(old)
            self._store_entry(new)
            self._event(old, new, action, new.updated_at)
            if (taken := TAKEN.get()) is not None:
                taken.append((old.status, action, status))
            return new

    def delete_entry(self, entry_id: str, *, allow_closed_period: bool = False) -> JournalEntry:
        with self.lock:
            entry = self.entry(entry_id)
            self.check_period(entry.date, override=allow_closed_period)
            self._drop_entry(entry)
            self._event(entry, entry, "deleted", self.clock.now())
            return entry

    def history(self, entry_id: str) -> list[EntryEvent]:
        """What happened to an entry, oldest first (also after it was deleted); empty for an unknown id."""
        with self.lock:
            events = self._history.get(entry_id)
            if events is not None:
                return list(events)
            entry = self.entries.get(entry_id)
            return [] if entry is None else [_created(entry)]

    def _event(self, before: JournalEntry, after: JournalEntry, what: str, at: datetime) -> None:
        """Record a change; the entry's first one also records its creation, from `before`, as it still was."""
        events = self._history.get(before.id)
        if events is None:
            events = self._history[before.id] = [_created(before)]
        events.append(EntryEvent(at, what, after.status))

    def entry(self, entry_id: str) -> JournalEntry:
        try:
            return self.entries[entry_id]
        except KeyError:
            raise NotFound(f"Journal entry not found: {entry_id}.", journal_entry_id=entry_id) from None

    def entries_page(self, *, start: date | None = None, end: date | None = None,
                     match: Callable[[JournalEntry], bool] | None = None, offset: int = 0, limit: int = 25,
                     newest_first: bool = True, index: str = "date",
                     prefix: tuple = ()) -> tuple[list[JournalEntry], int]:
        """One page of entries ordered by (date, creation), and the number matching in all. `index` and `prefix`
        read only the entries an index keyed (*prefix, date) holds under `prefix` (e.g. "status", ("draft",))."""
        with self.lock:
            return _page(self._entry_indexes[index], self.entries.values(), start, end, match, offset, limit,
                         newest_first, prefix)

    def entries_between(self, start: date | None = None, end: date | None = None, *, offset: int = 0,
                        limit: int | None = None) -> list[JournalEntry]:
        """Entries dated in [start, end] (either open), oldest first: O(log n + returned)."""
        with self.lock:
            keys = self._entry_indexes["date"].keys
            lo, hi = _range(keys, start, end)
            lo, hi = lo + offset, hi if limit is None else min(hi, lo + offset + limit)
            return [key[-1] for key in keys.islice(lo, hi)] if hi > lo else []

    def add_entry_index(self, name: str, key: Callable[[JournalEntry], tuple | None]) -> Index:
        """Keep entries ordered by `key(entry)` (then creation) from now on; `key` reads the entry alone."""
        with self.lock:
            index = self._entry_indexes[name] = Index(key, self.entries.values())
            return index

    def entry_index(self, name: str) -> Index:
        return self._entry_indexes[name]

    def _line_id(self) -> str:
        drawn = self.ids.uuid()  # kept or not: the ids drawn after it (an entry's, a tenant's) stay what they were
        return drawn if self.line_ids else ""

    def _materialise(self, lines: Sequence[NewLine]) -> tuple[Line, ...]:
        # Shared rather than copied per line: the account's own id string, and one Decimal per distinct amount
        # (a balanced two-line entry has one). A 100k-entry book is 30 MB smaller for it.
        amounts: dict[Decimal, Decimal] = {}
        return tuple(Line._loaded(id=line.id or self._line_id(),
                                  account_id=self.accounts[line.account_id].id, side=line.side,
                                  amount=amounts.setdefault(amount, amount), memo=line.memo,
                                  attrs=attrs_of(line.attrs))
                     for line in lines for amount in [parse_amount(line.amount)])

    def _store_entry(self, entry: JournalEntry) -> None:
        self.entries[entry.id] = entry
        for index in self._entry_indexes.values():
            index.add(entry)
        self._track((line.account_id for line in entry.lines), +1)
        if entry.posted:
            self._post(((line.account_id, line.signed) for line in entry.lines), +1)

    def _drop_entry(self, entry: JournalEntry) -> None:
        del self.entries[entry.id]
        for index in self._entry_indexes.values():
            index.remove(entry)
        self._track((line.account_id for line in entry.lines), -1)
        if entry.posted:
            self._post(((line.account_id, line.signed) for line in entry.lines), -1)

    # -- bank and card transactions ---------------------------------------------------------------

    def add_transaction(self, *, account_id: str, amount: Decimal, flow: Flow, on: date,
                        category_account_id: str | None = None, description: str | None = None,
                        attrs: Mapping[str, Any] | None = None, transaction_id: str | None = None) -> Transaction:
        with self.lock:
            self._check_transaction_accounts(account_id, category_account_id)
            now = self.clock.now()
            transaction = Transaction._loaded(
                id=transaction_id or self.ids.uuid(), account_id=account_id, amount=parse_amount(amount),
                flow=flow, date=on, created_at=now, updated_at=now, seq=next(self._seq),
                category_account_id=category_account_id, description=description, attrs=attrs_of(attrs))
            self._store_transaction(transaction)
            return transaction

    def update_transaction(self, transaction_id: str, **changes: Any) -> Transaction:
        with self.lock:
            old = self.transaction(transaction_id)
            new = replace(old, updated_at=self.clock.now(), **changes)
            if new.category_account_id != old.category_account_id or new.account_id != old.account_id:
                self._check_transaction_accounts(new.account_id, new.category_account_id)
            parse_amount(new.amount)
            self._drop_transaction(old)
            self._store_transaction(new)
            return new

    def delete_transaction(self, transaction_id: str) -> Transaction:
        with self.lock:
            transaction = self.transaction(transaction_id)
            self._drop_transaction(transaction)
            return transaction

    def transaction(self, transaction_id: str) -> Transaction:
        try:
            return self.transactions[transaction_id]
        except KeyError:
            raise NotFound(f"Transaction not found: {transaction_id}.", transaction_id=transaction_id) from None

    def transactions_page(self, *, index: str, start: date | None = None, end: date | None = None,
                          match: Callable[[Transaction], bool] | None = None, offset: int = 0, limit: int = 25,
                          newest_first: bool = True, prefix: tuple = ()) -> tuple[list[Transaction], int]:
        """`entries_page` for transactions, read from one of the indexes added with `add_transaction_index`."""
        with self.lock:
            return _page(self._transaction_indexes[index], self.transactions.values(), start, end, match, offset,
                         limit, newest_first, prefix)

    def add_transaction_index(self, name: str, key: Callable[[Transaction], tuple | None]) -> Index:
        """Keep transactions ordered by `key(transaction)` (then creation) from now on."""
        with self.lock:
            index = self._transaction_indexes[name] = Index(key, self.transactions.values())
            return index

    def transaction_index(self, name: str) -> Index:
        return self._transaction_indexes[name]

    def _check_transaction_accounts(self, account_id: str, category_account_id: str | None) -> None:
        self.usable_account(account_id)
        if category_account_id is not None:
            self.usable_account(category_account_id)
            if category_account_id == account_id:
                raise InvalidEntry("The category account must differ from the transaction's account.")

    def _store_transaction(self, transaction: Transaction) -> None:
        self.transactions[transaction.id] = transaction
        for index in self._transaction_indexes.values():
            index.add(transaction)
        self._track(_transaction_accounts(transaction), +1)
        self._post(transaction.postings(), +1)

    def _drop_transaction(self, transaction: Transaction) -> None:
        del self.transactions[transaction.id]
        for index in self._transaction_indexes.values():
            index.remove(transaction)
        self._track(_transaction_accounts(transaction), -1)
        self._post(transaction.postings(), -1)


class _Top:
    """Greater than any value: closes a key prefix from above (`prefix + (TOP,)` follows every key it starts)."""

    __slots__ = ()

    def __lt__(self, other: Any) -> bool:
        return False

    def __le__(self, other: Any) -> bool:
        return self is other

    def __gt__(self, other: Any) -> bool:
        return self is not other

    def __ge__(self, other: Any) -> bool:
        return True

    def __repr__(self) -> str:
        return "TOP"


TOP = _Top()


class Index:
    """Records (entries or transactions) ordered by `key(record)`, then creation: each held as the key's parts
    followed by (seq, record). A book gives each record a seq of its own, so the record itself is never compared;
    it is there because a scan reading records through their ids in a dict spent most of its time on that lookup.
    A record whose key is None is left out. Keys compare part by part, so a range on the first parts (`span`) is a
    slice whose order is that of the parts after them."""

    __slots__ = ("key", "keys")

    def __init__(self, key: Callable[[Any], tuple | None], records: Iterable[Any] = ()):
        assert "<" not in key.__qualname__, (  # a lambda or a nested function cannot be pickled
            f"an index key must be a module-level function, so a book can be checkpointed (checkpoint.py); "
            f"{key.__qualname__} is not")
        self.key = key
        self.keys = SortedList(element for record in records if (element := self._element(record)) is not None)

    def _element(self, record: Any) -> tuple | None:
        key = self.key(record)
        return None if key is None else (*key, record.seq, record)

    def add(self, record: Any) -> None:
        element = self._element(record)
        if element is not None:
            self.keys.add(element)

    def remove(self, record: Any) -> None:
        element = self._element(record)
        if element is not None:
            self.keys.remove(element)

    def __len__(self) -> int:
        return len(self.keys)

    def span(self, low: tuple | None = None, high: tuple | None = None, *, low_open: bool = False,
             high_open: bool = False) -> tuple[int, int]:
        """Positions [lo, hi) of the keys whose first parts lie between the prefixes `low` and `high` (inclusive
        unless open; None: unbounded): O(log n)."""
        keys = self.keys
        lo = 0 if low is None else keys.bisect_right((*low, TOP)) if low_open else keys.bisect_left(low)
        hi = len(keys) if high is None else keys.bisect_left(high) if high_open else keys.bisect_right((*high, TOP))
        return lo, max(lo, hi)

    def records(self, lo: int = 0, hi: int | None = None, *, reverse: bool = False, keep: int = 0) -> Iterator[Any]:
        """The records at positions [lo, hi), read as far as iterated. `reverse` with `keep`: keys sharing their
        first `keep` parts stay in ascending order (newest day first, each day's records in key order)."""
        hi = len(self.keys) if hi is None else hi
        if reverse and keep:
            return self._groups_forward(lo, hi, keep)
        return map(_record, self.keys.islice(lo, hi, reverse=reverse))

    def ids(self, lo: int = 0, hi: int | None = None) -> Iterator[str]:
        return (record.id for record in self.records(lo, hi))

    def _groups_forward(self, lo: int, hi: int, keep: int) -> Iterator[Any]:
        """Positions [lo, hi) backwards by the first `keep` key parts, each group forwards."""
        keys = self.keys
        while hi > lo:
            start = max(lo, keys.bisect_left(keys[hi - 1][:keep]))
            yield from map(_record, keys.islice(start, hi))
            hi = start

    def counts(self) -> dict[Any, int]:
        """How many records hold each value of the key's first part (values none holds are absent)."""
        found: dict[Any, int] = {}
        keys, at = self.keys, 0
        while at < len(keys):
            value = keys[at][0]
            end = keys.bisect_right((value, TOP))
            found[value] = end - at
            at = end
        return found


_record = operator.itemgetter(-1)


def _transaction_accounts(transaction: Transaction) -> Iterator[str]:
    yield transaction.account_id
    if transaction.category_account_id is not None:
        yield transaction.category_account_id


def _created(entry: JournalEntry) -> EntryEvent:
    """The creation event of an entry not changed since (its status is still the one it was created with)."""
    return EntryEvent(entry.created_at, "created", entry.status)


def _range(index: SortedList, start: date | None, end: date | None, prefix: tuple = ()) -> tuple[int, int]:
    """Positions in a (*prefix, date, seq, record) index of the keys under `prefix` dated in [start, end]
    (either end open)."""
    return (index.bisect_left((*prefix, start) if start else prefix) if start or prefix else 0,
            index.bisect_right((*prefix, end, TOP) if end else (*prefix, TOP)) if end or prefix else len(index))


def _page(index: Index, made: Collection[T], start: date | None, end: date | None,
          match: Callable[[T], bool] | None, offset: int, limit: int, newest_first: bool,
          prefix: tuple = ()) -> tuple[list[T], int]:
    """Slice a (*prefix, date, seq, record) index: O(log n + page) without a filter, one pass over the range
    with one. `made`: every record of the book, in creation order."""
    keys = index.keys
    lo, hi = _range(keys, start, end, prefix)
    if hi <= lo:
        return [], 0
    if match is None:
        total = hi - lo
        if newest_first:
            stop, begin = hi - offset, max(lo, hi - offset - limit)
            chosen = reversed(keys[begin:stop]) if stop > begin else ()
        else:
            chosen = keys[lo + offset:min(hi, lo + offset + limit)]
        return [key[-1] for key in chosen], total
    if (hi - lo) * 2 > len(made):
        # Most of the book: test it in creation order, the order its records lie in memory, then order what
        # matched. Read in date order, a text search of 100k entries waited on memory for most of its time.
        found = _in_range(index, filter(match, made), start, end, prefix)
        found.sort(reverse=newest_first)
        return [key[-1] for key in found[offset:offset + limit]], len(found)
    page, total = [], 0
    for key in keys.islice(lo, hi, reverse=newest_first):
        if match(key[-1]):
            if offset <= total < offset + limit:
                page.append(key[-1])
            total += 1
    return page, total


def _in_range(index: Index, records: Iterable[T], start: date | None, end: date | None, prefix: tuple) -> list:
    """The index's elements of `records` that `_range` would give: keyed under `prefix`, dated in [start, end]."""
    width, found = len(prefix), []
    for record in records:
        key = index.key(record)
        if key is not None and key[:width] == prefix and (start is None or key[width] >= start) and (
                end is None or key[width] <= end):
            found.append((*key, record.seq, record))
    return found
