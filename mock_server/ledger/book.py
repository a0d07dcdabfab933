"""One tenant's books: accounts, journal entries, bank transactions, and balances derived from what is posted.

Every mutation runs under `Book.lock` (re-entrant, so a provider can hold it across a check and the change
it guards). Records are frozen dataclasses; lists read from sorted indexes kept up to date on every write,
so a page never re-sorts the book.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence, TypeVar

from sortedcontainers import SortedList

from ..clock import Clock, IdGenerator
from .errors import DeleteBlocked, InvalidEntry, NotFound, PeriodClosed, Unbalanced, UnknownReference
from .model import Account, Flow, JournalEntry, Line, NewLine, Side, Transaction, attrs_of
from .money import parse_amount
from .workflow import TAKEN, Workflow

T = TypeVar("T")
_UNSET: Any = object()
_ZERO = Decimal("0.00")


class EntryEvent(NamedTuple):
    """One step of a journal entry's life: `what` is created, updated, deleted or the workflow action."""

    at: datetime
    what: str
    status: str


class Book:
    def __init__(self, tenant_id: str, *, clock: Clock, ids: IdGenerator, currency: str = "USD"):
        self.tenant_id = tenant_id
        self.currency = currency
        self.clock = clock
        self.ids = ids
        self.lock = threading.RLock()
        self.closed_through: date | None = None  # writes dated on or before need an explicit override
        self.accounts: dict[str, Account] = {}
        self.accounts_version = 0  # counts account changes: what shows accounts knows when it went stale
        self.entries: dict[str, JournalEntry] = {}
        self.transactions: dict[str, Transaction] = {}
        self._entry_index: SortedList = SortedList()  # (date, seq, id), oldest first
        # status -> that status's entries' index keys: kept beside `_entry_index` by the same two methods every
        # write goes through (add, update, transition, delete), so a query narrowing by status can trust it.
        self._status_index: dict[str, set[tuple[date, int, str]]] = {}
        self._transaction_index: SortedList = SortedList()
        self._balances: defaultdict[str, Decimal] = defaultdict(lambda: _ZERO)
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
            entry = JournalEntry(
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
                     newest_first: bool = True) -> tuple[list[JournalEntry], int]:
        """One page of entries ordered by (date, creation), and the number matching in all."""
        with self.lock:
            ids, total = _page(self._entry_index, start, end, match and (lambda i: match(self.entries[i])),
                               offset, limit, newest_first)
            return [self.entries[i] for i in ids], total

    def entries_between(self, start: date | None = None, end: date | None = None, *, offset: int = 0,
                        limit: int | None = None) -> list[JournalEntry]:
        """Entries dated in [start, end] (either open), oldest first: O(log n + returned)."""
        with self.lock:
            lo, hi = _range(self._entry_index, start, end)
            lo, hi = lo + offset, hi if limit is None else min(hi, lo + offset + limit)
            return [self.entries[key[2]] for key in self._entry_index.islice(lo, hi)] if hi > lo else []

    def count_between(self, start: date | None = None, end: date | None = None) -> int:
        with self.lock:
            lo, hi = _range(self._entry_index, start, end)
            return max(0, hi - lo)

    def status_counts(self) -> dict[str, int]:
        """How many entries hold each status (statuses no entry holds are absent)."""
        with self.lock:
            return {status: len(keys) for status, keys in self._status_index.items()}

    def entries_with_status(self, statuses: Iterable[str]) -> list[JournalEntry]:
        """The entries holding any of `statuses`, oldest first (the order of `entries_between`)."""
        with self.lock:
            keys = sorted(key for status in set(statuses) for key in self._status_index.get(status, ()))
            return [self.entries[key[2]] for key in keys]

    def _materialise(self, lines: Sequence[NewLine]) -> tuple[Line, ...]:
        # Shared rather than copied per line: the account's own id string, and one Decimal per distinct amount
        # (a balanced two-line entry has one). A 100k-entry book is 30 MB smaller for it.
        amounts: dict[Decimal, Decimal] = {}
        return tuple(Line(id=self.ids.uuid(), account_id=self.accounts[line.account_id].id, side=line.side,
                          amount=amounts.setdefault(amount, amount), memo=line.memo, attrs=attrs_of(line.attrs))
                     for line in lines for amount in [parse_amount(line.amount)])

    def _store_entry(self, entry: JournalEntry) -> None:
        self.entries[entry.id] = entry
        key = (entry.date, entry.seq, entry.id)
        self._entry_index.add(key)
        self._status_index.setdefault(entry.status, set()).add(key)
        self._track((line.account_id for line in entry.lines), +1)
        if entry.posted:
            self._post(((line.account_id, line.signed) for line in entry.lines), +1)

    def _drop_entry(self, entry: JournalEntry) -> None:
        del self.entries[entry.id]
        key = (entry.date, entry.seq, entry.id)
        self._entry_index.remove(key)
        same_status = self._status_index[entry.status]
        same_status.discard(key)
        if not same_status:
            del self._status_index[entry.status]
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
            transaction = Transaction(
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

    def transactions_page(self, *, start: date | None = None, end: date | None = None,
                          match: Callable[[Transaction], bool] | None = None, offset: int = 0, limit: int = 25,
                          newest_first: bool = True) -> tuple[list[Transaction], int]:
        with self.lock:
            ids, total = _page(self._transaction_index, start, end,
                               match and (lambda i: match(self.transactions[i])), offset, limit, newest_first)
            return [self.transactions[i] for i in ids], total

    def _check_transaction_accounts(self, account_id: str, category_account_id: str | None) -> None:
        self.usable_account(account_id)
        if category_account_id is not None:
            self.usable_account(category_account_id)
            if category_account_id == account_id:
                raise InvalidEntry("The category account must differ from the transaction's account.")

    def _store_transaction(self, transaction: Transaction) -> None:
        self.transactions[transaction.id] = transaction
        self._transaction_index.add((transaction.date, transaction.seq, transaction.id))
        self._track(_transaction_accounts(transaction), +1)
        self._post(transaction.postings(), +1)

    def _drop_transaction(self, transaction: Transaction) -> None:
        del self.transactions[transaction.id]
        self._transaction_index.remove((transaction.date, transaction.seq, transaction.id))
        self._track(_transaction_accounts(transaction), -1)
        self._post(transaction.postings(), -1)


def _transaction_accounts(transaction: Transaction) -> Iterator[str]:
    yield transaction.account_id
    if transaction.category_account_id is not None:
        yield transaction.category_account_id


def _created(entry: JournalEntry) -> EntryEvent:
    """The creation event of an entry not changed since (its status is still the one it was created with)."""
    return EntryEvent(entry.created_at, "created", entry.status)


def _range(index: SortedList, start: date | None, end: date | None) -> tuple[int, int]:
    """Positions in a (date, seq, id) index of the keys dated in [start, end] (either end open)."""
    return (index.bisect_left((start,)) if start else 0,
            index.bisect_right((end, float("inf"))) if end else len(index))


def _page(index: SortedList, start: date | None, end: date | None, match: Callable[[str], bool] | None,
          offset: int, limit: int, newest_first: bool) -> tuple[list[str], int]:
    """Slice a (date, seq, id) index: O(log n + page) without a filter, one pass over the range with one."""
    lo, hi = _range(index, start, end)
    if hi <= lo:
        return [], 0
    if match is None:
        total = hi - lo
        if newest_first:
            stop, begin = hi - offset, max(lo, hi - offset - limit)
            keys = reversed(index[begin:stop]) if stop > begin else ()
        else:
            keys = index[lo + offset:min(hi, lo + offset + limit)]
        return [key[2] for key in keys], total
    page, total = [], 0
    for key in index.islice(lo, hi, reverse=newest_first):
        if match(key[2]):
            if offset <= total < offset + limit:
                page.append(key[2])
            total += 1
    return page, total
