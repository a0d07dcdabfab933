"""The HTTP session every generated request goes through: a client-side rate limit, then the provider
plugin's last-moment hooks (COUNT signs the final bytes here), then the wire."""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from typing import Any, Callable

import requests

_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_rate(rate: str) -> tuple[int, float]:
    """`100/m` -> (100, 60.0): at most 100 requests in any 60 seconds."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d*)\s*([smh])\s*", rate)
    if not match:
        raise ValueError(f"rate limit must look like 100/m, 10/s or 1000/h, not {rate!r}")
    return int(match[1]), float(match[2] or 1) * _UNITS[match[3]]


class HarnessSession(requests.Session):
    def __init__(self, rate_limit: str | None = None):
        super().__init__()
        self.before_send: list[Callable[[requests.PreparedRequest], None]] = []
        self._limit = parse_rate(rate_limit) if rate_limit else None
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self._throttle()
        for hook in self.before_send:
            hook(request)
        return super().send(request, **kwargs)

    def _throttle(self) -> None:
        if self._limit is None:
            return
        limit, window = self._limit
        with self._lock:
            while True:
                now = time.monotonic()
                while self._sent and self._sent[0] <= now - window:
                    self._sent.popleft()
                if len(self._sent) < limit:
                    self._sent.append(now)
                    return
                time.sleep(self._sent[0] + window - now)
