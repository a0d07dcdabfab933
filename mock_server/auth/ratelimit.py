"""Sliding-window rate limiting on the mock's clock."""

from __future__ import annotations

import math
import threading
from collections import defaultdict, deque

from ..clock import Clock


class RateLimiter:
    def __init__(self, limit: int, window_seconds: float, clock: Clock):
        self.limit = limit
        self.window = window_seconds
        self.clock = clock
        self._hits: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str) -> int | None:
        """Record a request; None when allowed, else the whole seconds to wait (for `Retry-After`)."""
        now = self.clock.timestamp()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.window - now))
            hits.append(now)
            return None
