"""A Codat journal entry's own fields as the ledger keeps them. A push writes the same values every time: its
description as the memo, `postedOn` as its day at midnight, and the timestamps as the stamp of the instant it was
made or last changed. Those are read back from the entry itself (`DERIVED`), so a pushed entry's attrs hold only
the fields it was sent beyond them (100k entries kept each as a dict of six strings: 40 MB). A fixture's entry
keeps what the fixture wrote, whatever it is; `entry_field` reads its attrs first.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any, Callable

from ...ledger import JournalEntry


_last_stamped: tuple[datetime | None, str] = (None, "")


def stamp(moment: datetime) -> str:
    """Codat's timestamps: UTC, whole seconds, `Z`. An entry's are formatted as they are read (DERIVED), its
    four of `updated_at` (its `created_at` too until it changes) in a row: the same object again is answered from
    the last one. %-formatting takes a third of strftime's time."""
    global _last_stamped
    last = _last_stamped  # one tuple, swapped whole: a thread sees a moment with its own text or none
    if last[0] is moment:
        return last[1]
    text = "%04d-%02d-%02dT%02d:%02d:%02dZ" % (moment.year, moment.month, moment.day, moment.hour, moment.minute,
                                                moment.second)
    _last_stamped = (moment, text)
    return text


@lru_cache(maxsize=4096)  # one string a day, not one a read: a scan reads it off every entry
def posted_on(day: date) -> str:
    """A pushed entry's `postedOn`: its day, at midnight local to the business (wire._posted_on)."""
    return day.isoformat() + "T00:00:00"


DERIVED: dict[str, Callable[[JournalEntry], Any]] = {
    "description": lambda entry: entry.memo,  # a push without one keeps {"description": None}
    "postedOn": lambda entry: posted_on(entry.date),
    "createdOn": lambda entry: stamp(entry.created_at),
    **{name: (lambda entry: stamp(entry.updated_at)) for name in ("updatedOn", "modifiedDate", "sourceModifiedDate")},
}
# What deleting an entry changes: it is read from the entry's new `updated_at` from then on.
CHANGED_ON_DELETE = ("updatedOn", "modifiedDate", "sourceModifiedDate")


# The instants of the derived timestamps, read without writing their text (a scan of 100k entries on `createdOn`
# spent most of its time formatting and parsing them again), for `query.sieve(instant=...)`: from the mock's clock,
# in UTC, with the fraction of a second their text drops. None for an entry that keeps its own text.
INSTANTS: dict[str, Callable[[JournalEntry], datetime | None]] = {
    "createdOn": lambda entry: None if "createdOn" in entry.attrs else entry.created_at,
    **{name: (lambda entry, name=name: None if name in entry.attrs else entry.updated_at)
       for name in CHANGED_ON_DELETE},
}


def _field(name: str) -> Callable[[JournalEntry], Any]:
    derive = DERIVED[name]
    return lambda entry: entry.attrs[name] if name in entry.attrs else derive(entry)


# A reader of each field DERIVED gives: what the entry keeps (a fixture's), else what its own values give.
FIELDS: dict[str, Callable[[JournalEntry], Any]] = {name: _field(name) for name in DERIVED}


def entry_field(entry: JournalEntry, name: str) -> Any:
    """The entry's Codat field `name` (one of the entry's own, or one a push may keep, such as `journalRef`)."""
    read = FIELDS.get(name)
    return read(entry) if read is not None else entry.attrs.get(name)
