"""The HTTP session every generated request goes through: the run's budget, a client-side rate limit, then the
provider plugin's last-moment hooks (COUNT signs the final bytes here), then the wire; and back, a 429 waited out
and the request sent again, so that throttling is never mistaken for drift unless it persists."""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from email.utils import parsedate_to_datetime
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest
import requests

_UNITS = {"s": 1, "m": 60, "h": 3600}
# With neither a Retry-After header nor a documented limit, back off as Codat's SDKs do (dossier section 9:
# 500 ms, exponent 1.5, at most 60 s a wait).
BACKOFF_FIRST, BACKOFF_FACTOR, BACKOFF_CAP = 0.5, 1.5, 60.0


def parse_rate(rate: str) -> tuple[int, float]:
    """`100/m` -> (100, 60.0): at most 100 requests in any 60 seconds."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d*)\s*([smh])\s*", rate)
    if not match:
        raise ValueError(f"rate limit must look like 100/m, 10/s or 1000/h, not {rate!r}")
    return int(match[1]), float(match[2] or 1) * _UNITS[match[3]]


class BudgetSpent(pytest.skip.Exception):
    """The run's request or time budget is spent. A skip, so pytest and Hypothesis stop the test where it is (no
    shrinking, no retries), and nothing is reported as drift."""


class Budget:
    """At most `max_requests` requests and `seconds` of wall time, waits included, counted from the first check
    (the first test): loading the spec and generating the tests is the harness's time, not the target's."""

    def __init__(self, max_requests: int | None = None, seconds: float | None = None):
        self.max_requests, self.seconds = max_requests, seconds
        self.started: float | None = None
        self.sent = 0
        self.spent: str | None = None  # why the run stopped early

    def elapsed(self) -> float:
        if self.started is None:
            self.started = time.monotonic()
        return time.monotonic() - self.started

    def check(self) -> None:
        """Raise BudgetSpent if another request may not be sent (once spent, the budget stays spent)."""
        elapsed = self.elapsed()
        if self.spent:
            raise BudgetSpent(self.spent)
        if self.max_requests is not None and self.sent >= self.max_requests:
            self._stop(f"the request budget ({self.max_requests}) was spent")
        if self.seconds is not None and elapsed >= self.seconds:
            self._stop(f"the time budget ({self.seconds:g} s) ran out")

    def take(self) -> None:
        """Count one request about to be sent, or raise BudgetSpent."""
        self.check()
        self.sent += 1

    def allow_wait(self, seconds: float) -> None:
        if self.seconds is not None and self.elapsed() + seconds > self.seconds:
            self._stop(f"the time budget ({self.seconds:g} s) would run out during a {seconds:.1f} s wait for a "
                       "rate limit")

    def _stop(self, reason: str) -> None:
        self.spent = self.spent or f"{reason} after {self.sent} requests and {self.elapsed():.1f} s"
        raise BudgetSpent(self.spent)


def retry_after(response: requests.Response) -> float | None:
    """Seconds the target asks to wait: `Retry-After` as delta-seconds or as an HTTP date (RFC 9110 10.2.3)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class HarnessSession(requests.Session):
    """`rate_limit`: the client-side limit to keep to (--rate-limit). `documented_limit`: the provider's own, from
    its dossier, used to judge how long to wait when a 429 names no time. `max_wait`: the longest one request's
    429s are waited out before the limit counts as persisting: then the 429 is answered, its request marked
    `persisted`, and later 429s are not waited out again until the target answers something else."""

    def __init__(self, rate_limit: str | None = None, *, documented_limit: str | None = None,
                 max_wait: float = 120.0, budget: Budget | None = None):
        super().__init__()
        self.before_send: list[Callable[[requests.PreparedRequest], None]] = []
        self._limit = parse_rate(rate_limit) if rate_limit else None
        self._documented = parse_rate(documented_limit) if documented_limit else None
        self.max_wait, self.budget = max_wait, budget or Budget()
        self.waits: list[float] = []  # one per 429 waited out
        self._sent: deque[float] = deque()
        self._recent: deque[float] = deque(maxlen=self._documented[0] if self._documented else 1)
        self._persisting: str | None = None
        self._lock = threading.Lock()
        self._environment: dict[tuple, dict[str, Any]] = {}

    def merge_environment_settings(self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict:
        """requests reads every environment variable, for proxies, on each request: 7% of a contract run. The
        environment does not change during a run, so what it says for an origin is read once."""
        if proxies:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        key = (*urlsplit(url)[:2], stream, verify, cert)
        settings = self._environment.get(key)
        if settings is None:
            settings = self._environment[key] = super().merge_environment_settings(url, {}, stream, verify, cert)
        return {**settings, "proxies": dict(settings["proxies"])}

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        waited, attempt = 0.0, 0
        while True:
            self.budget.take()
            self._throttle()
            prepared = request.copy()  # hooks run on every attempt: a signature covers its own timestamp
            for hook in self.before_send:
                hook(prepared)
            sent = time.monotonic()
            response = super().send(prepared, **kwargs)
            if response.status_code != 429:
                self._recent.append(sent)  # what the target counted against its limit
                self._persisting = None
                return response
            pause, why = self._pause(response, attempt)
            if self._persisting or waited + pause > self.max_wait:
                # Marked on the request: schemathesis hands checks its own response object, with this request.
                # Until the target answers something else, the limit still persists: no waiting again.
                self._persisting = prepared.persisted = self._persisting or (  # type: ignore[attr-defined]
                    f"429 after {attempt + 1} attempt(s) and {waited:.1f} s of waiting; the next wait ({why}: "
                    f"{pause:.1f} s) would pass --max-wait ({self.max_wait:g} s)")
                return response
            self.budget.allow_wait(pause)
            response.close()
            time.sleep(pause)
            waited += pause
            attempt += 1
            self.waits.append(pause)

    def _pause(self, response: requests.Response, attempt: int) -> tuple[float, str]:
        asked = retry_after(response)
        if asked is not None:
            return asked, "Retry-After"
        if self._documented:
            # Until the oldest of our own requests in the window leaves it; a window with none of ours in it is
            # full of someone else's, and one slot frees on average every window / limit.
            limit, window = self._documented
            now = time.monotonic()
            ours = [sent for sent in self._recent if sent > now - window]
            return (ours[0] + window - now if ours else window / limit), "the documented limit"
        return min(BACKOFF_CAP, BACKOFF_FIRST * BACKOFF_FACTOR ** attempt), "backoff"

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
                self.budget.allow_wait(self._sent[0] + window - now)
                time.sleep(self._sent[0] + window - now)


def persisted(response: Any) -> str | None:
    """Why a 429 still stands after the waits allowed, or None for any other answer."""
    return getattr(getattr(response, "request", None), "persisted", None)
