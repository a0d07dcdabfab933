"""The request journal: recent requests and responses, per provider and tenant, with secrets redacted.

CI jobs fetch it when a test fails (`GET /_mock/journal?tenant=...`), so it keeps what a person needs to see
what their client sent and what the mock answered, and never a credential. Requests only store the raw
exchange; parsing and redacting wait until someone reads the journal, which is rare next to writing it.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qsl, urlencode

import orjson

SECRET = re.compile(r"authorization|signature|secret|token|password|api[-_]?key|cookie", re.IGNORECASE)
MAX_BODY = 4000  # characters of a non-JSON body shown
MAX_STORED = 32 * 1024  # bytes of a body kept


@dataclass(frozen=True, slots=True)
class Exchange:
    """One side of an exchange as it went over the wire; a body over MAX_STORED bytes is not kept."""

    headers: Iterable[tuple[str, str]]  # the request's header object or the answer's list, read when shown
    body: bytes
    content_type: str | None
    size: int

    @classmethod
    def of(cls, headers: Any, body: bytes, content_type: str | None) -> "Exchange":
        return cls(headers, body if len(body) <= MAX_STORED else b"", content_type, len(body))

    def shown(self) -> dict[str, Any]:
        body = (redact_body(self.body, self.content_type) if self.size <= MAX_STORED
                else f"<{self.size} bytes, over the {MAX_STORED} kept>")  # a cut body could not be redacted
        return {"headers": redact_headers(self.headers), "body": body}


class RequestJournal:
    def __init__(self, size: int = 500):
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._seq = 0

    def record(self, entry: Mapping[str, Any], request: Exchange, response: Exchange) -> None:
        with self._lock:
            self._seq += 1
            self._entries.append(({"seq": self._seq, **entry}, request, response))

    def query(self, *, provider: str | None = None, tenant: str | None = None, operation: str | None = None,
              status: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first."""
        with self._lock:
            entries = list(self._entries)
        found = [(e, sent, answered) for e, sent, answered in reversed(entries)
                 if (provider is None or e["provider"] == provider) and (tenant is None or e["tenant"] == tenant)
                 and (operation is None or e["operation"] == operation) and (status is None or e["status"] == status)]
        return [{**e, "request": sent.shown(), "response": answered.shown()} for e, sent, answered in found[:limit]]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name: "<redacted>" if SECRET.search(name) else value for name, value in headers}


def redact_body(raw: bytes, content_type: str | None) -> Any:
    """JSON comes back as JSON and forms as forms, with secret-looking fields replaced; anything else as text."""
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    if content_type and "json" in content_type:
        try:
            return _redact(orjson.loads(raw))
        except orjson.JSONDecodeError:
            pass
    if content_type and "x-www-form-urlencoded" in content_type:
        return urlencode([(k, "<redacted>" if SECRET.search(k) else v) for k, v in parse_qsl(text)])
    return text if len(text) <= MAX_BODY else text[:MAX_BODY] + f"... ({len(text) - MAX_BODY} more)"


def _redact(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: "<redacted>" if SECRET.search(k) and isinstance(v, str) else _redact(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_redact(item) for item in node]
    return node
