"""The mock's clock and id generator: everything time- or id-dependent reads these, so tests can pin them."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock UTC time unless frozen; a frozen clock moves only when set or advanced."""

    def __init__(self, frozen_at: datetime | None = None):
        self._lock = threading.Lock()
        self._frozen_at = _aware(frozen_at) if frozen_at else None
        self._offset = timedelta()

    def now(self) -> datetime:
        frozen = self._frozen_at
        return frozen if frozen is not None else datetime.now(UTC) + self._offset

    def timestamp(self) -> float:
        return self.now().timestamp()

    def freeze(self, at: datetime | None = None) -> None:
        with self._lock:
            self._frozen_at = _aware(at) if at else self.now()

    def unfreeze(self) -> None:
        """Run again from the current mock time (keeping any offset from earlier set/advance)."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - datetime.now(UTC)
                self._frozen_at = None

    def set(self, at: datetime) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = _aware(at)
            else:
                self._offset = _aware(at) - datetime.now(UTC)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += delta
            else:
                self._offset += delta

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class IdGenerator:
    """Version-4-shaped UUIDs and opaque tokens from a seedable PRNG: same seed, same ids, run after run."""

    def __init__(self, seed: int | None = None):
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._random.seed(seed)

    def uuid(self) -> str:
        with self._lock:
            bits = self._random.getrandbits(128)
        return str(uuid.UUID(int=bits, version=4))

    def token(self, nbytes: int = 24) -> str:
        with self._lock:
            return self._random.getrandbits(nbytes * 8).to_bytes(nbytes, "big").hex()
