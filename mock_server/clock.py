"""The mock's clock and id generator: everything time- or id-dependent reads these, so tests can pin them."""

from __future__ import annotations

import random
import threading
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # every provider signs or stamps with Unix time
LATEST = datetime(9000, 1, 1, tzinfo=UTC)  # leaves room for the longest lifetime added to "now" (years)


class ClockOutOfRange(ValueError):
    """A time the mock cannot run at: before 1970 or from the year 9000 on."""


def check_range(moment: datetime) -> datetime:
    if not EARLIEST <= moment < LATEST:
        raise ClockOutOfRange(f"the mock clock runs from {EARLIEST:%Y-%m-%d} up to {LATEST:%Y-%m-%d}, not "
                              f"{moment.isoformat()}")
    return moment


class Clock:
    """Wall-clock UTC time unless frozen; a frozen clock moves only when set or advanced, and only within
    [EARLIEST, LATEST): every provider can stamp any instant in that range."""

    def __init__(self, frozen_at: datetime | None = None):
        self._lock = threading.Lock()
        self._frozen_at = check_range(_aware(frozen_at)) if frozen_at else None
        self._offset = timedelta()
        self._pinned: ContextVar[datetime | None] = ContextVar("pinned", default=None)

    def now(self) -> datetime:
        pinned = self._pinned.get()
        return pinned if pinned is not None else self.current()

    def current(self) -> datetime:
        """The clock itself, past any instant a request has pinned (what the admin API reports)."""
        frozen = self._frozen_at
        return frozen if frozen is not None else datetime.now(UTC) + self._offset

    def pinned(self, moment: datetime) -> "_Setting":
        """One request sees one instant (and a replayed request the instant it first ran at)."""
        return _Setting(self._pinned, moment)

    def timestamp(self) -> float:
        return self.now().timestamp()

    def freeze(self, at: datetime | None = None) -> None:
        with self._lock:
            self._frozen_at = check_range(_aware(at)) if at else self.now()

    def unfreeze(self) -> None:
        """Run again from the current mock time (keeping any offset from earlier set/advance)."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - datetime.now(UTC)
                self._frozen_at = None

    def set(self, at: datetime) -> None:
        at = check_range(_aware(at))
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = at
            else:
                self._offset = at - datetime.now(UTC)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            try:
                moved = check_range(self.current() + delta)
            except OverflowError:
                raise ClockOutOfRange(f"advancing by {delta.total_seconds():.0f} s leaves the range the mock "
                                      f"clock runs in ({EARLIEST:%Y-%m-%d} up to {LATEST:%Y-%m-%d})") from None
            if self._frozen_at is not None:
                self._frozen_at = moved
            else:
                self._offset += delta

    def state(self) -> tuple[datetime | None, timedelta]:
        return self._frozen_at, self._offset

    def restore(self, state: tuple[datetime | None, timedelta]) -> None:
        with self._lock:
            self._frozen_at, self._offset = state

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class _Setting:
    """`variable` set to `value` inside a `with`. A class, not @contextmanager: every request enters two, and a
    generator's context manager costs several times as much."""

    __slots__ = ("variable", "value", "token")

    def __init__(self, variable: ContextVar, value: object):
        self.variable, self.value = variable, value

    def __enter__(self) -> None:
        self.token = self.variable.set(self.value)

    def __exit__(self, *exc: object) -> None:
        self.variable.reset(self.token)


class IdGenerator:
    """Version-4-shaped UUIDs and opaque tokens from a seedable PRNG: same seed, same ids, run after run."""

    def __init__(self, seed: int | None = None):
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._stream: ContextVar[_Stream | None] = ContextVar("stream", default=None)

    def next_seed(self) -> int:
        with self._lock:
            return self._random.getrandbits(63)

    def stream(self, seed: int) -> "_Setting":
        """Ids drawn inside come from their own seeded stream: a request gets the same ids however others
        interleave with it, and replaying it with the same seed gives them again."""
        return _Setting(self._stream, _Stream(seed))

    def _bits(self, n: int) -> int:
        stream = self._stream.get()
        if stream is not None:
            return stream.getrandbits(n)
        with self._lock:
            return self._random.getrandbits(n)

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._random.seed(seed)

    def state(self) -> object:
        with self._lock:
            return self._random.getstate()

    def restore(self, state: object) -> None:
        with self._lock:
            self._random.setstate(state)

    def stream_seed(self) -> int:
        """A seed drawn from the current stream, for work this request schedules for later (a push that
        completes on a later read): done in a stream of that seed, it draws the same ids whoever runs it."""
        return self._bits(63)

    def uuid(self) -> str:
        """What str(uuid.UUID(int=bits, version=4)) gives, in half the time (a create draws four)."""
        bits = (self._bits(128) & ~(0xC000 << 48) | 0x8000 << 48) & ~(0xF000 << 64) | 4 << 76
        digits = "%032x" % bits
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"

    def token(self, nbytes: int = 24) -> str:
        return self._bits(nbytes * 8).to_bytes(nbytes, "big").hex()


class _Stream:
    """One request's seeded stream, seeded at its first draw: most requests draw nothing, and seeding a
    generator costs more than the rest of a list request's bookkeeping."""

    __slots__ = ("seed", "_random")

    def __init__(self, seed: int):
        self.seed, self._random = seed, None

    def getrandbits(self, n: int) -> int:
        if self._random is None:
            self._random = random.Random(self.seed)
        return self._random.getrandbits(n)
