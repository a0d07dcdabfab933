"""Idempotency keys that really replay: same key and same request -> the stored response; same key with a
different request -> conflict. Windows run on the mock's clock."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Hashable

from .clock import Clock


SWEEP_EVERY = 256


class KeyReused(Exception):
    """The key was first used for a different request."""


class KeyInFlight(Exception):
    """The first request with this key has not finished yet."""


@dataclass(frozen=True, slots=True)
class Stored:
    fingerprint: str
    reply: Any  # whatever the provider needs to answer again, e.g. (status, payload, headers)
    expires_at: datetime


def fingerprint(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


class IdempotencyStore:
    def __init__(self, clock: Clock, ttl: timedelta):
        self.clock, self.ttl = clock, ttl
        self._done: dict[Hashable, Stored] = {}
        self._pending: dict[Hashable, str] = {}
        self._lock = threading.Lock()
        self._until_sweep = SWEEP_EVERY

    def begin(self, key: Hashable, print_: str) -> Stored | None:
        """The stored reply to replay, or None after claiming the key for this request (call finish/abandon)."""
        with self._lock:
            stored = self._done.get(key)
            if stored is not None and stored.expires_at <= self.clock.now():
                del self._done[key]
                stored = None
            if stored is not None:
                if stored.fingerprint != print_:
                    raise KeyReused("This idempotency key was already used for a different request.")
                return stored
            if key in self._pending:
                if self._pending[key] != print_:
                    raise KeyReused("This idempotency key was already used for a different request.")
                raise KeyInFlight("A request with this idempotency key is still being processed.")
            self._pending[key] = print_
            return None

    def finish(self, key: Hashable, print_: str, reply: Any) -> None:
        with self._lock:
            self._pending.pop(key, None)
            now = self.clock.now()
            self._done[key] = Stored(print_, reply, now + self.ttl)
            self._until_sweep -= 1
            if self._until_sweep <= 0:  # expired keys are forgotten, not kept forever
                self._until_sweep = SWEEP_EVERY
                for old in [k for k, stored in self._done.items() if stored.expires_at <= now]:
                    del self._done[old]

    def abandon(self, key: Hashable) -> None:
        """The request failed before it changed anything: the key may be used again."""
        with self._lock:
            self._pending.pop(key, None)
