"""COUNT's request signing: hex HMAC-SHA256 over `METHOD:path:timestamp:bodyHash`.

Shared by the server (verification), the `ledger-mock sign` command and the contract harness (signing), so a
client and the mock can never disagree about the base string.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Iterator

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
EMPTY_OBJECT_HASH = hashlib.sha256(b"{}").hexdigest()


def signed_path(url_path: str) -> str:
    """The part of the URL path after `/partners` (bare `/partners` signs `/`); the query is never signed."""
    path = url_path.split("?", 1)[0]
    marker = path.find("/partners")
    if marker >= 0:
        path = path[marker + len("/partners"):]
    return path or "/"


def body_hash(method: str, body: bytes) -> str:
    if method.upper() not in BODY_METHODS or not body:
        return ""
    return hashlib.sha256(body).hexdigest()


def string_to_sign(method: str, path: str, timestamp: str, digest: str) -> str:
    return f"{method.upper()}:{path}:{timestamp}:{digest}"


def sign(secret: str, method: str, path: str, timestamp: str, body: bytes = b"") -> str:
    base = string_to_sign(method, signed_path(path), timestamp, body_hash(method, body))
    return hmac.new(secret.encode(), base.encode(), hashlib.sha256).hexdigest()


def signature_headers(client_id: str, secret: str, method: str, path: str, body: bytes = b"",
                      timestamp: str | None = None) -> dict[str, str]:
    """The three HMAC headers for one request (`path` may be a full URL path with prefixes and query)."""
    timestamp = timestamp or str(int(time.time()))
    return {"x-client-id": client_id, "x-timestamp": timestamp,
            "x-signature": sign(secret, method, path, timestamp, body)}


def acceptable_body_hashes(method: str, body: bytes) -> Iterator[str]:
    """Body hashes a genuine client may have signed (dossier D4), most likely first.

    The exact bytes; the compact, key-order-preserving re-serialisation that `JSON.stringify` produces, for
    clients whose HTTP library re-encodes the body after signing; and for an empty body or `{}`, both the
    empty hash and sha256(`{}`), because COUNT's own CLI and example app disagree there. Lazy, because
    re-serialising costs more than the check and the exact bytes almost always match.
    """
    if method.upper() not in BODY_METHODS:
        yield ""
        return
    yield body_hash(method, body)
    stripped = body.strip()
    if not stripped or stripped == b"{}":
        yield from ("", EMPTY_OBJECT_HASH)
        return
    try:  # a body no JavaScript client could have produced has no second form
        compact = _stringify(json.loads(stripped)).encode()
    except (ValueError, RecursionError):  # UnicodeEncodeError (a lone surrogate) is a ValueError
        return
    yield hashlib.sha256(compact).hexdigest()


def _stringify(value: object) -> str:
    """JavaScript's JSON.stringify: compact, keys in sent order, numbers as JS prints them (1.50 -> 1.5, 2.0 -> 2)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{_stringify(k)}:{_stringify(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(map(_stringify, value)) + "]"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    return json.dumps(value, ensure_ascii=False)


def verify(secret: str, method: str, path: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Constant-time check of `signature` (hex, any case) against each acceptable body hash in turn."""
    given = signature.strip().lower().encode()
    key = secret.encode()
    base_path = signed_path(path)
    for digest in acceptable_body_hashes(method, body):
        expected = hmac.new(key, string_to_sign(method, base_path, timestamp, digest).encode(),
                            hashlib.sha256).hexdigest().encode()
        if hmac.compare_digest(expected, given):
            return True
    return False
