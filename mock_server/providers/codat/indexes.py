"""Codat's journal-entry list through the ledger's indexes: the book keeps each company's entries by `postedOn`
(the instant the query language compares), its deleted ones and those with a `journalRef.id` by that id, each
then by `postedOn`, and a `query` reads its candidates, its count and its page from them.

The conditions every match meets (the AND-ed ones) bound a range of one index: `postedOn` comparisons with a
date, plus one `metadata.isDeleted` or `journalRef.id` equality. When the query is exactly those conditions the
range is the answer and its size the count (the entries not deleted: `postedOn`'s range less the deleted index's,
so that most entries are in two indexes, not three); otherwise the compiled query decides on each entry of the
range. A
page in the book's order (by date, then creation) or by `postedOn` is read from an index only as far as the page
goes. The key functions live at module level: a book pickles (checkpoint.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import timedelta
from operator import attrgetter
from typing import Any

from ...ledger import Book, JournalEntry
from .entries import FIELDS, INSTANTS, entry_field
from .query import Condition, instant_of, sieve, sort_records


def by_posted_on(entry: JournalEntry) -> tuple | None:
    instant = instant_of(entry_field(entry, "postedOn"))
    return None if instant is None else (instant, entry.date)


def by_deleted(entry: JournalEntry) -> tuple | None:
    """Deleted entries (few) alone."""
    instant = instant_of(entry_field(entry, "postedOn")) if entry.status == "deleted" else None
    return None if instant is None else (instant, entry.date)


def by_journal(entry: JournalEntry) -> tuple | None:
    """Entries whose `journalRef.id` is text, by that text ignoring case (the way `=` compares text)."""
    ref = entry.attrs.get("journalRef")
    journal = ref.get("id") if isinstance(ref, Mapping) else None
    instant = instant_of(entry_field(entry, "postedOn"))
    return None if instant is None or not isinstance(journal, str) else (journal.casefold(), instant, entry.date)


ENTRY_INDEXES = {"postedOn": by_posted_on, "deleted": by_deleted, "journal": by_journal}
# Properties a scan reads straight off an entry, as wire.entry_out shows them
READERS: dict[str, Callable[[JournalEntry], Any]] = {**FIELDS, "id": attrgetter("id")}
_BOUNDED = ("EQ", "GT", "GE", "LT", "LE")
_ONE_DAY = timedelta(days=1)
_BOOK_ORDER = attrgetter("date", "seq")


def entries_page(book: Book, conditions: list[Condition], pure: bool, keep: Callable[[Any], bool],
                 record: Callable[[JournalEntry], Any], order_by: str | None, order: tuple[str, bool] | None,
                 offset: int, limit: int, *, fields: Collection[str]) -> tuple[list[JournalEntry], int]:
    """Entries `offset` to `offset + limit` of those whose record `keep` accepts, in the order `order_by` asks
    (None: the book's), and how many there are. `conditions` and `pure` are the query's `conjunction`."""
    posted = book.entry_index("postedOn")
    if len(posted) != len(book.entries):  # an entry whose postedOn is no date: the indexes miss it
        return _scanned(book.entries_between(), keep, record, order_by, offset, limit, fields)
    low = high = None
    low_open = high_open = False
    chosen: tuple[str, tuple] | None = None  # an index other than postedOn's, and the key prefix read from it
    live: Condition | None = None  # metadata.isDeleted=false: postedOn's range less the deleted index's
    residual = []
    for condition in conditions:
        if condition.field == "postedOn" and condition.instant is not None and condition.op in _BOUNDED:
            instant, op = condition.instant, condition.op
            if op in ("EQ", "GT", "GE") and (low is None or instant > low or instant == low and op == "GT"):
                low, low_open = instant, op == "GT"
            if op in ("EQ", "LT", "LE") and (high is None or instant < high or instant == high and op == "LT"):
                high, high_open = instant, op == "LT"
        elif condition.field == "journalRef.id" and condition.op == "EQ" and chosen is None and live is None \
                and condition.instant is None and condition.number is None and condition.boolean is None:
            # a value that is no number, date or boolean equals text alone, ignoring case
            chosen = ("journal", (condition.text.casefold(),))
        elif condition.field == "metadata.isDeleted" and condition.op in ("EQ", "NE") and chosen is None and \
                live is None and condition.boolean is not None:
            if condition.boolean == (condition.op == "EQ"):
                chosen = ("deleted", ())
            else:
                live = condition
        else:
            residual.append(condition)
    index, prefix = (posted, ()) if chosen is None else (book.entry_index(chosen[0]), chosen[1])
    bounds = ((*prefix, low) if low is not None else prefix or None,
              (*prefix, high) if high is not None else prefix or None)
    opened = {"low_open": low_open and low is not None, "high_open": high_open and high is not None}
    lo, hi = index.span(*bounds, **opened)
    if pure and not residual:
        total = hi - lo
        if live is not None:
            deleted_lo, deleted_hi = book.entry_index("deleted").span(*bounds, **opened)
            total -= deleted_hi - deleted_lo
    elif not pure:
        total = sum(1 for entry in index.records(lo, hi) if keep(record(entry)))
    else:
        if (hi - lo) * 2 > len(book.entries):
            # most of the book: all of it, read in the order it was written (the order it lies in memory; read in
            # the index's order, a scan waited on memory most of the time), tested on every condition
            entries, residual = list(book.entries.values()), conditions
        else:
            entries = list(index.records(lo, hi))
            residual = residual if live is None else [*residual, live]
        for condition in residual:
            entries = sieve(condition, fields=fields, type_name="JournalEntry", read=READERS.get(condition.field),
                            record=record, instant=INSTANTS.get(condition.field))(entries)
        total = len(entries)
    if order is None:
        # the book's order: the days the instants fall on, give or take a zone
        days = book.entry_index("date")
        window = days.span(None if low is None else (low.date() - _ONE_DAY,),
                           None if high is None else (high.date() + _ONE_DAY,))
        return _walk(days.records(*window), keep, record, offset, limit), total
    if order[0] == "postedOn":
        return _walk(index.records(lo, hi, reverse=order[1], keep=len(prefix) + 1), keep, record, offset,
                     limit), total
    candidates = sorted(index.records(lo, hi), key=_BOOK_ORDER)
    page, _ = _scanned(candidates, keep, record, order_by, offset, limit, fields)
    return page, total


def _walk(entries: Iterable[JournalEntry], keep: Callable[[Any], bool], record: Callable[[JournalEntry], Any],
          offset: int, limit: int) -> list[JournalEntry]:
    page: list[JournalEntry] = []
    if limit <= 0:
        return page
    for entry in entries:
        if keep(record(entry)):
            if offset:
                offset -= 1
                continue
            page.append(entry)
            if len(page) == limit:
                break
    return page


def _scanned(entries: Iterable[JournalEntry], keep: Callable[[Any], bool], record: Callable[[JournalEntry], Any],
             order_by: str | None, offset: int, limit: int,
             fields: Collection[str]) -> tuple[list[JournalEntry], int]:
    """The long way: every entry given (in the book's order) tested, the matches sorted and paged."""
    rows = [row for row in map(record, entries) if keep(row)]
    rows = sort_records(rows, order_by, fields=fields, type_name="JournalEntry")
    return [row.entry for row in rows[offset:offset + limit]], len(rows)
