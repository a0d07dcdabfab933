"""The request journal: recent requests and responses, per provider and tenant, with secrets redacted.

CI jobs fetch it when a test fails (`GET /_mock/journal?tenant=...`), so it keeps what a person needs to see
what their client sent and what the mock answered, and never a credential: headers, query parameters and body
fields whose names look secret are redacted wherever they sit (nested, in forms, in text that is not valid
JSON). Requests only store the raw exchange, capped; parsing and redacting wait until someone reads the journal,
which is rare next to writing it, and nothing a request carried can make that reading fail.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qsl, urlencode

import orjson


_SECRET_WORDS = ("authorization", "signature", "secret", "token", "password", "apikey", "api-key", "api_key",
                 "cookie", "credential")
_SECRET_BYTES = tuple(word.encode() for word in _SECRET_WORDS)
_ANY_SECRET_WORD = "|".join(map(re.escape, _SECRET_WORDS))
SECRET = re.compile(_ANY_SECRET_WORD, re.IGNORECASE)  # a name whose value is never shown or kept
# `name: value` / `name=value` / `"name": "value"` in text that is not JSON or a form: the value goes.
_SECRET_IN_TEXT = re.compile(rf"""((?:{_ANY_SECRET_WORD})[\w-]*["']?\s*[:=]\s*)"""
                             r"""("(?:[^"\\]|\\.)*"?|'[^']*'?|[^\s&,;}\]]+)""", re.IGNORECASE)
REDACTED = "<redacted>"
MAX_BODY = 4000  # characters of a non-JSON body shown
MAX_STORED = 32 * 1024  # bytes of a body kept
MAX_SHOWN_DEPTH = 200  # orjson writes 255 levels at most; the templates leave room under that


@dataclass(frozen=True, slots=True)
class Exchange:
    """One side of an exchange as it went over the wire; a body over MAX_STORED bytes is not kept. Headers are
    an answer's (name, value) pairs, or a request's header entries of its WSGI environ (picking them out is a
    fifth of the cost of reading every header through werkzeug; names are spelt out when shown)."""

    headers: Any
    body: bytes
    content_type: str | None
    size: int

    @classmethod
    def of(cls, headers: list[tuple[str, str]], body: bytes, content_type: str | None) -> "Exchange":
        return cls(tuple(headers), body if len(body) <= MAX_STORED else b"", content_type, len(body))

    @classmethod
    def of_request(cls, environ: Mapping[str, Any], body: bytes, content_type: str | None) -> "Exchange":
        # Never the environ itself: it holds the input stream (and a test client's, the request), so the body.
        kept = {k: v for k, v in environ.items() if k[:5] == "HTTP_" or k in ("CONTENT_TYPE", "CONTENT_LENGTH")}
        return cls(kept, body if len(body) <= MAX_STORED else b"", content_type, len(body))

    def shown(self) -> dict[str, Any]:
        if self.size > MAX_STORED:
            body: Any = f"<{self.size} bytes, over the {MAX_STORED} kept>"  # a cut body could not be redacted
        else:
            try:
                body = redact_body(self.body, self.content_type)
            except Exception:  # a body so odd that even redacting it fails is shown as its size alone
                body = f"<{self.size} bytes that cannot be shown>"
        return {"headers": redact_headers(_pairs(self.headers)), "body": body}


class RequestJournal:
    def __init__(self, size: int = 500):
        self._entries: deque[tuple[dict[str, Any], Exchange, Exchange]] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._seq = 0

    def record(self, entry: Mapping[str, Any], request: Exchange, response: Exchange) -> None:
        with self._lock:
            self._seq += 1
            self._entries.append(({"seq": self._seq, **entry}, request, response))

    def query(self, *, provider: str | None = None, tenant: str | None = None, operation: str | None = None,
              status: int | None = None, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Newest first, skipping the newest `offset` that match."""
        with self._lock:
            entries = list(self._entries)
        found = [(e, sent, answered) for e, sent, answered in reversed(entries)
                 if (provider is None or e["provider"] == provider) and (tenant is None or e["tenant"] == tenant)
                 and (operation is None or e["operation"] == operation) and (status is None or e["status"] == status)]
        return [{**e, "query": redact_query(e["query"]), "request": sent.shown(), "response": answered.shown()}
                for e, sent, answered in found[offset:offset + limit]]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _pairs(headers: Any) -> Iterable[tuple[str, str]]:
    if not isinstance(headers, Mapping):
        return headers
    return [(key[5:].replace("_", "-").title() if key.startswith("HTTP_") else key.replace("_", "-").title(), value)
            for key, value in headers.items()
            if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value]


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name: REDACTED if SECRET.search(name) else value for name, value in headers}


def redact_query(query: str) -> str:
    if not query:
        return query
    return urlencode([(k, REDACTED if SECRET.search(k) else v) for k, v in parse_qsl(query, keep_blank_values=True)])


def redact_body(raw: bytes, content_type: str | None) -> Any:
    """JSON comes back as JSON and forms as forms, with secret-looking fields replaced; anything else as text,
    with what looks like `secret=value` replaced."""
    if not raw:
        return None
    if content_type and "json" in content_type:
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:  # deeper than orjson writes (the journal's answer, the inspector) it is shown as text
            if _shown_as_json(document):
                # Walking a document in Python costs milliseconds a bulk body: only when a key may be secret,
                # which needs its name in the raw text (or a JSON escape spelling it).
                return _redact(document) if may_name_a_secret(raw) else document
    text = raw.decode("utf-8", "replace")
    if content_type and "x-www-form-urlencoded" in content_type:
        return redact_query(text)
    text = _SECRET_IN_TEXT.sub(lambda m: m.group(1) + REDACTED, text)
    return text if len(text) <= MAX_BODY else text[:MAX_BODY] + f"... ({len(text) - MAX_BODY} more)"


def may_name_a_secret(raw: bytes) -> bool:
    """Whether a JSON or form body may hold a name SECRET matches: one of its words is in the text, or an escape
    that could spell one. Checked in C, so the parsed body is walked (milliseconds for a bulk body) only then."""
    if b"\\" in raw or b"%" in raw:
        return True
    # Each word looked for in C (a regex of them all is twice as slow on a bulk body).
    return any(map(raw.lower().__contains__, _SECRET_BYTES))


def _shown_as_json(document: Any) -> bool:
    """Whether `document` nests at most MAX_SHOWN_DEPTH levels, measured by orjson in C: it writes 254 levels
    and refuses more, so it writes the document inside 254 - MAX_SHOWN_DEPTH lists exactly when that holds."""
    wrapped = document
    for _ in range(254 - MAX_SHOWN_DEPTH):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped)
    except orjson.JSONEncodeError:
        return False
    return True


def _redact(document: Any) -> Any:
    """A copy with everything under a secret-looking key replaced, at any depth (without recursion: orjson
    accepts bodies a thousand levels deep)."""
    root: list[Any] = [None]
    stack = [(document, root, 0)]
    while stack:
        node, parent, key = stack.pop()
        if isinstance(node, dict):
            copy: Any = {}
            for k, v in node.items():
                if SECRET.search(k):
                    copy[k] = REDACTED
                else:
                    copy[k] = None
                    stack.append((v, copy, k))
        elif isinstance(node, list):
            copy = [None] * len(node)
            stack.extend((item, copy, i) for i, item in enumerate(node))
        else:
            copy = node
        parent[key] = copy
    return root[0]
