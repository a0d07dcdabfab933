"""Fault injection: added latency, forced errors, failure rates and rate limits, for any provider, operation
or tenant. Rules come from the admin API, the fixtures (`_mock: {faults: [...]}`) or, for one call, the
`X-Ledger-Mock-Fault` request header; every error is rendered in the target provider's own envelope."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict, deque
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping

from .clock import Clock, IdGenerator
from .errors import ApiError

HEADER = "X-Ledger-Mock-Fault"
CODES = {400: "validation_error", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict",
         422: "unprocessable", 429: "rate_limited", 500: "internal_error", 502: "bad_gateway",
         503: "service_unavailable", 504: "gateway_timeout"}


class FaultError(ValueError):
    """A rule that cannot be applied as written."""


class InjectedFault(ApiError):
    """An error the operator asked for: deliberately outside the spec, so strict mode lets it through."""


@dataclass
class Fault:
    id: str
    provider: str | None = None  # None matches every provider, operation, tenant
    operation: str | None = None
    tenant: str | None = None
    latency_ms: tuple[int, int] | None = None  # fixed (n, n) or a random range
    status: int | None = None  # forced error
    message: str | None = None
    rate: float = 1.0  # probability that the forced error applies to a matching call
    limit: int | None = None  # rate limit: at most `limit` calls per `window_s`, then 429 + Retry-After
    window_s: float = 60.0
    times: int | None = None  # applies to this many matching calls, then retires

    def matches(self, provider: str, operation: str, tenant: str | None) -> bool:
        return all(want is None or want == got for want, got in
                   ((self.provider, provider), (self.operation, operation), (self.tenant, tenant)))

    def public(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v is not None}
        if self.latency_ms:
            out["latency_ms"] = list(self.latency_ms)
        return out


def parse(raw: Mapping[str, Any], fault_id: str) -> Fault:
    known = set(Fault.__dataclass_fields__) - {"id"}
    unknown = set(raw) - known
    if unknown:
        raise FaultError(f"unknown fault field(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    fields = dict(raw)
    latency = fields.get("latency_ms")
    if latency is not None:
        low, high = (latency, latency) if isinstance(latency, (int, float)) else tuple(latency)
        if not 0 <= low <= high <= 60_000:
            raise FaultError("latency_ms must be n or [min, max] with 0 <= min <= max <= 60000")
        fields["latency_ms"] = (int(low), int(high))
    status = fields.get("status")
    if status is not None and not (400 <= int(status) <= 599):
        raise FaultError("status must be an HTTP error status (400-599)")
    if not 0 <= float(fields.get("rate", 1.0)) <= 1:
        raise FaultError("rate must be between 0 and 1")
    if fields.get("limit") is not None and int(fields["limit"]) < 0:
        raise FaultError("limit must be >= 0")
    if status is None and latency is None and fields.get("limit") is None:
        raise FaultError("a fault needs at least one of status, latency_ms, limit")
    return Fault(fault_id, **fields)


def from_header(value: str, fault_id: str) -> Fault:
    """`status=503; latency_ms=200-400; rate=0.5; message=...`: a fault for this one call."""
    raw: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in value.split(";"))):
        key, _, text = part.partition("=")
        key, text = key.strip(), text.strip()
        if key == "latency_ms" and "-" in text:
            raw[key] = [int(x) for x in text.split("-", 1)]
        elif key in ("status", "latency_ms", "limit"):
            raw[key] = int(text)
        elif key in ("rate", "window_s"):
            raw[key] = float(text)
        else:
            raw[key] = text
    return parse(raw, fault_id)


class Faults:
    def __init__(self, clock: Clock, ids: IdGenerator, seed: int | None,
                 sleep: Callable[[float], None] = time.sleep):
        self.clock, self.ids, self.sleep = clock, ids, sleep
        self._rules: dict[str, Fault] = {}
        self._hits: defaultdict[tuple[str, str | None], deque[float]] = defaultdict(deque)
        self._random = random.Random(seed)  # failure rates and latency ranges repeat under a seed
        self._lock = threading.Lock()

    def add(self, raw: Mapping[str, Any]) -> Fault:
        fault = parse(raw, self.ids.token(6))
        with self._lock:
            self._rules[fault.id] = fault
        return fault

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            return self._rules.pop(fault_id, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._hits.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._rules.values())

    def apply(self, provider: str, operation: str, tenant: str | None, header: str | None) -> None:
        """Sleep for any latency, then raise the ApiError of the first rule that fails this call."""
        rules = [from_header(header, "header")] if header else []
        with self._lock:
            for rule in list(self._rules.values()):
                if rule.matches(provider, operation, tenant):
                    rules.append(rule)
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            del self._rules[rule.id]
            delay = sum(self._random.randint(*r.latency_ms) for r in rules if r.latency_ms)
            failing = next((r for r in rules if r.status is not None and self._random.random() < r.rate), None)
            limited = next(((r, wait) for r in rules if r.limit is not None
                            for wait in [self._over_limit(r, tenant)] if wait is not None), None)
        if delay:
            self.sleep(delay / 1000)
        if limited is not None:
            raise InjectedFault(429, "rate_limited", "Rate limit exceeded.", headers={"Retry-After": str(limited[1])})
        if failing is not None:
            headers = {"Retry-After": "1"} if failing.status in (429, 503) else None
            raise InjectedFault(failing.status, CODES.get(failing.status, "error"),
                           failing.message or f"Injected fault: {failing.status}.", headers=headers)

    def _over_limit(self, rule: Fault, tenant: str | None) -> int | None:
        now = self.clock.timestamp()
        hits = self._hits[(rule.id, tenant)]
        while hits and hits[0] <= now - rule.window_s:
            hits.popleft()
        if len(hits) >= (rule.limit or 0):
            return max(1, int(hits[0] + rule.window_s - now + 0.999)) if hits else max(1, int(rule.window_s))
        hits.append(now)
        return None
