"""Accounting periods: named date ranges that open and close, with optional per-sub-ledger locks.

Provider-neutral like the rest of the ledger: a period knows its dates, whether it is closed (and whether
that close is final), and which sub-ledgers (e.g. "GL", "AP", "AR") are locked in it. Providers decide which
sub-ledger their documents post through and what they call each state on the wire.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Callable, Iterable, Mapping

from ..clock import Clock
from .errors import LedgerError, PeriodClosed


class PeriodNotFound(LedgerError):
    code = "period_not_found"


class DateOutsidePeriod(LedgerError):
    code = "date_outside_period"


class SubledgerLocked(LedgerError):
    code = "subledger_locked"


class PeriodOverlap(LedgerError):
    code = "period_overlap"


class HardClosed(LedgerError):
    code = "hard_closed"


class PeriodNotClosed(LedgerError):
    code = "period_not_closed"


@dataclass(frozen=True, slots=True)
class Period:
    id: str
    name: str
    start: date
    end: date
    created_at: datetime
    updated_at: datetime
    closed: bool = False
    hard_closed: bool = False  # a final close: reopening is refused
    adjustment: bool = False  # adjustment periods may overlap regular ones and are never picked by date
    locks: frozenset[str] = frozenset()  # locked sub-ledgers
    attrs: Mapping[str, Any] = field(default_factory=dict)  # provider-specific, opaque here

    def contains(self, on: date) -> bool:
        return self.start <= on <= self.end


class Calendar:
    """One tenant's periods. Shares the tenant's lock when given one, so period and entry checks stay atomic."""

    def __init__(self, clock: Clock, lock: threading.RLock | None = None):
        self.clock = clock
        self.lock = lock or threading.RLock()
        self.periods: dict[str, Period] = {}

    def add(self, *, period_id: str, name: str, start: date, end: date, adjustment: bool = False,
            locks: Iterable[str] = (), attrs: Mapping[str, Any] | None = None) -> Period:
        """A new open period; regular periods may not overlap each other."""
        with self.lock:
            if start > end:
                raise PeriodOverlap(f"A period cannot end ({end.isoformat()}) before it starts "
                                    f"({start.isoformat()}).")
            if not adjustment:
                clash = next((p for p in self.periods.values()
                              if not p.adjustment and p.start <= end and start <= p.end), None)
                if clash is not None:
                    raise PeriodOverlap(f"Dates overlap period {clash.id} ({clash.name}, "
                                        f"{clash.start.isoformat()} to {clash.end.isoformat()}).",
                                        overlapping_period=clash.name)
            now = self.clock.now()
            period = Period(id=period_id, name=name, start=start, end=end, created_at=now, updated_at=now,
                            adjustment=adjustment, locks=frozenset(locks), attrs=dict(attrs or {}))
            self.periods[period.id] = period
            return period

    def get(self, period_id: str) -> Period:
        try:
            return self.periods[period_id]
        except KeyError:
            raise PeriodNotFound(f"Accounting period not found: {period_id}.", period_id=period_id) from None

    def containing(self, on: date) -> Period | None:
        """The regular (non-adjustment) period whose dates include `on`, open or not."""
        return next((p for p in self.periods.values() if not p.adjustment and p.contains(on)), None)

    def check_postable(self, period: Period, on: date, subledger: str) -> None:
        """`on` may post to `subledger` in `period`: inside its dates, period open, sub-ledger unlocked."""
        if not period.contains(on):
            raise DateOutsidePeriod(f"Date {on.isoformat()} is outside period {period.id} ({period.name}, "
                                    f"{period.start.isoformat()} to {period.end.isoformat()}).", date=on.isoformat(),
                                    **_named(period), start_date=period.start.isoformat(),
                                    end_date=period.end.isoformat())
        if period.closed:
            raise PeriodClosed(f"Accounting period {period.id} ({period.name}) is closed.", **_named(period))
        if subledger in period.locks:
            raise SubledgerLocked(f"The {subledger} sub-ledger is locked for period {period.id} ({period.name}).",
                                  **_named(period), subledger=subledger)

    def close(self, period_id: str, *, final: bool = False, **attrs: Any) -> Period:
        """Close for posting; a `final` (hard) close can never be reopened."""
        with self.lock:
            period = self.get(period_id)
            if period.closed:
                raise PeriodClosed(f"Accounting period {period.id} ({period.name}) is already closed.",
                                   **_named(period))
            return self._replace(period, closed=True, hard_closed=final, attrs={**period.attrs, **attrs})

    def reopen(self, period_id: str, **attrs: Any) -> Period:
        with self.lock:
            period = self.get(period_id)
            if period.hard_closed:
                raise HardClosed(f"Accounting period {period.id} ({period.name}) is hard-closed and cannot be "
                                 "reopened.", **_named(period))
            if not period.closed:
                raise PeriodNotClosed(f"Accounting period {period.id} ({period.name}) is not closed.",
                                      **_named(period))
            return self._replace(period, closed=False, attrs={**period.attrs, **attrs})

    def annotate(self, period_id: str, **attrs: Any) -> Period:
        """Record provider data on a period without changing its state."""
        with self.lock:
            period = self.get(period_id)
            return self._replace(period, attrs={**period.attrs, **attrs})

    def listing(self, match: Callable[[Period], bool] | None = None) -> list[Period]:
        """Periods in date order (start, then id), optionally filtered."""
        with self.lock:
            found = [p for p in self.periods.values() if match is None or match(p)]
        return sorted(found, key=lambda p: (p.start, p.id))

    def _replace(self, period: Period, **changes: Any) -> Period:
        new = replace(period, updated_at=self.clock.now(), **changes)
        self.periods[new.id] = new
        return new


def _named(period: Period) -> dict[str, str]:
    """What a period rule's error says about the period: its id and name."""
    return {"period_id": period.id, "period_name": period.name}
