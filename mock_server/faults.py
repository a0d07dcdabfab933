"""Fault injection: added latency, forced errors, failure rates and rate limits, for any provider, operation
or tenant. Rules come from the admin API, the fixtures (`_mock: {faults: [...]}`) or, for one call, the
`X-Ledger-Mock-Fault` request header; every error is rendered in the target provider's own envelope."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict, deque
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any, Callable, Mapping

from .clock import Clock, IdGenerator
from .errors import ApiError, excerpt

HEADER = "X-Ledger-Mock-Fault"
MAX_LATENCY_MS = 60_000
# The neutral code of a forced status (the names the pipeline gives its own 405, 408, 413 and 415); each provider
# renders it as the code it uses for that status. Other statuses are `error`: a provider picks its closest code.
CODES = {400: "validation_error", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         408: "request_timeout", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
         422: "unprocessable", 429: "rate_limited", 500: "internal_error", 502: "bad_gateway",
         503: "service_unavailable", 504: "gateway_timeout"}


class FaultError(ValueError):
    """A rule that cannot be applied as written."""


class InjectedFault(ApiError):
    """An error the operator asked for: deliberately outside the spec, so strict mode lets it through. `worded`:
    the operator wrote its message; otherwise a provider whose error text is its code (Codat) may use its own."""

    def __init__(self, status: int, code: str, message: str, *, worded: bool = False, **kwargs: Any):
        super().__init__(status, code, message, **kwargs)
        self.worded = worded


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


def _number(raw: Mapping[str, Any], name: str, low: float, high: float, *, whole: bool) -> Any:
    """`raw[name]` as an int (whole) or float within [low, high]; JSON numbers arrive as Decimal or int."""
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)) or not value == value or (
            whole and (abs(value) == float("inf") or value != int(value))):  # 503.0 is a whole number in JSON
        raise FaultError(f"{name} must be {'a whole number' if whole else 'a number'}")
    if not low <= value <= high:
        raise FaultError(f"{name} must be between {low:g} and {high:g}")
    return int(value) if whole else float(value)


def _text(raw: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = raw.get(name)
    if value is not None and (not isinstance(value, str) or len(value) > limit):
        raise FaultError(f"{name} must be a string of at most {limit} characters")
    return value


def parse(raw: Mapping[str, Any], fault_id: str) -> Fault:
    """A rule from the admin API, the fixtures or the header: every field of the right type and range (the same
    bounds as FaultIn in openapi/admin.yaml), or FaultError naming the first that is not."""
    if not isinstance(raw, Mapping):
        raise FaultError("a fault is a mapping of its fields")
    known = set(Fault.__dataclass_fields__) - {"id"}
    unknown = set(raw) - known
    if unknown:
        names = sorted(map(str, unknown))
        shown = ", ".join(excerpt(n) for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise FaultError(f"unknown fault field(s): {shown}; known: {', '.join(sorted(known))}")
    latency = raw.get("latency_ms")
    if latency is not None:
        pair = [latency, latency] if not isinstance(latency, (list, tuple)) else list(latency)
        if len(pair) != 2:
            raise FaultError("latency_ms must be n or [min, max]")
        low, high = (_number({"latency_ms": n}, "latency_ms", 0, MAX_LATENCY_MS, whole=True) for n in pair)
        if low > high:
            raise FaultError("latency_ms [min, max] needs min <= max")
        latency = (low, high)
    fault = Fault(fault_id, provider=_text(raw, "provider", 100), operation=_text(raw, "operation", 200),
                  tenant=_text(raw, "tenant", 200), latency_ms=latency,
                  status=_number(raw, "status", 400, 599, whole=True), message=_text(raw, "message", 1000),
                  rate=_number(raw, "rate", 0, 1, whole=False) if raw.get("rate") is not None else 1.0,
                  limit=_number(raw, "limit", 0, 1_000_000, whole=True),
                  window_s=_number(raw, "window_s", 0.001, 86_400, whole=False) or 60.0,
                  times=_number(raw, "times", 1, 1_000_000_000, whole=True))
    if fault.status is None and fault.latency_ms is None and fault.limit is None:
        raise FaultError("a fault needs at least one of status, latency_ms, limit")
    return fault


def from_header(value: str, fault_id: str) -> Fault:
    """`status=503; latency_ms=200-400; rate=0.5; message=...`: a fault for this one call."""
    raw: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in value.split(";"))):
        key, _, text = part.partition("=")
        key, text = key.strip(), text.strip()
        try:
            if key == "latency_ms" and "-" in text.lstrip("-"):
                raw[key] = [_whole(x) for x in text.split("-", 1)]
            elif key in ("status", "latency_ms", "limit", "times"):
                raw[key] = _whole(text)
            elif key in ("rate", "window_s"):
                raw[key] = float(text) if len(text) <= 20 else text
            else:
                raw[key] = text
        except ValueError:
            raise FaultError(f"{excerpt(key)} must be a number, not {text[:20]!r}") from None
    return parse(raw, fault_id)


def _whole(text: str) -> int:
    text = text.strip()
    if not text.lstrip("-").isdigit() or len(text) > 12:
        raise ValueError(text)
    return int(text)


class Faults:
    def __init__(self, clock: Clock, ids: IdGenerator, seed: int | None,
                 sleep: Callable[[float], None] = time.sleep):
        self.clock, self.ids, self.sleep = clock, ids, sleep
        self._rules: dict[str, Fault] = {}
        self._hits: defaultdict[tuple[str, str | None], deque[float]] = defaultdict(deque)
        self._random = random.Random(seed)  # failure rates and latency ranges repeat under a seed
        self._lock = threading.Lock()

    def add(self, raw: Mapping[str, Any], fault_id: str | None = None) -> Fault:
        """A new rule; its id is drawn from the request's id stream, so a replayed change gets the same one."""
        fault = parse(raw, fault_id or self.ids.token(6))
        with self._lock:
            self._rules[fault.id] = fault
        return fault

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            self._forget(fault_id)
            return self._rules.pop(fault_id, None) is not None

    def _forget(self, fault_id: str) -> None:
        for key in [key for key in self._hits if key[0] == fault_id]:
            del self._hits[key]

    def state(self) -> Any:
        with self._lock:
            return ({k: replace(v) for k, v in self._rules.items()},
                    {k: deque(v) for k, v in self._hits.items()}, self._random.getstate())

    def restore(self, state: Any) -> None:
        rules, hits, randomness = state
        with self._lock:
            self._rules = {k: replace(v) for k, v in rules.items()}
            self._hits = defaultdict(deque, {k: deque(v) for k, v in hits.items()})
            self._random.setstate(randomness)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._hits.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._rules.values())

    def apply(self, provider: str, operation: str, tenant: str | None, header: str | None) -> None:
        """Sleep for any latency, then raise the ApiError of the first rule that fails this call."""
        if not header and not self._rules:  # the usual case: nothing to match, draw or sleep
            return
        try:
            rules = [from_header(header, "header")] if header else []
        except FaultError as exc:
            raise ApiError(400, "validation_error", f"{HEADER}: {exc}.") from None
        with self._lock:
            for rule in list(self._rules.values()):
                if rule.matches(provider, operation, tenant):
                    rules.append(rule)
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            del self._rules[rule.id]
                            self._forget(rule.id)
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
                                failing.message or f"Injected fault: {failing.status}.", headers=headers,
                                worded=failing.message is not None)

    def _over_limit(self, rule: Fault, tenant: str | None) -> int | None:
        now = self.clock.timestamp()
        hits = self._hits[(rule.id, tenant)]
        while hits and hits[0] <= now - rule.window_s:
            hits.popleft()
        if len(hits) >= (rule.limit or 0):
            return max(1, int(hits[0] + rule.window_s - now + 0.999)) if hits else max(1, int(rule.window_s))
        hits.append(now)
        return None
