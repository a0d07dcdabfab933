"""COUNT's request signing: hex HMAC-SHA256 over `METHOD:path:timestamp:bodyHash`.

Shared by the server (verification), the `ledger-mock sign` command and the contract harness (signing), so a
client and the mock can never disagree about the base string.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import quote

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
EMPTY_OBJECT_HASH = hashlib.sha256(b"{}").hexdigest()
# What a WHATWG URL parser (browsers, Node's `new URL`, hence the docs' axios recipe) leaves unescaped in a path,
# besides letters, digits and `_.-~`: its path percent-encode set is controls, space, `"#<>?^`{}` and non-ASCII
# (`^` since 2025; an older Node that sends it bare still matches, through the decoded path). `%` and `\` are not
# left alone: a decoded path holding them had them escaped (`%25`, `%5C`) on the wire.
URL_PATH_SAFE = "!$&'()*+,/:;=@[]|"


def signed_path(url_path: str) -> str:
    """The part of the URL path after `/partners` (bare `/partners` signs `/`); the query is never signed."""
    path = url_path.split("?", 1)[0]
    marker = path.find("/partners")
    if marker >= 0:
        path = path[marker + len("/partners"):]
    return path or "/"


def wire_path(environ: Mapping[str, Any]) -> str:
    """The request's path as the client sent it (percent-encoding intact), without the query.

    Servers that keep the request line say so in `RAW_URI` (gunicorn, werkzeug's server and test client) or
    `REQUEST_URI` (uWSGI, mod_wsgi). Where neither is set (granian's RSGI scope, and so `ledger-mock serve`, only
    has the decoded path), it is rebuilt by percent-encoding the decoded path the way a URL parser does: exact
    for every path a WHATWG URL client produces, except an escaped `/` (`%2F`), which decoding has already lost.
    """
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        raw = raw.split("?", 1)[0]  # WSGI strings are the wire's bytes as Latin-1: back to the text a client signs
        return raw.encode("latin-1", "replace").decode("utf-8", "replace")
    path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1", "replace")
    return quote(path, safe=URL_PATH_SAFE)


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
    if value is None or isinstance(value, bool):
        return _SCALARS[value]
    if type(value) is int:
        return int.__repr__(value)  # as json.dumps writes it
    return _AS_SENT.encode(value)  # json.dumps(value, ensure_ascii=False), without an encoder per call


_SCALARS = {None: "null", True: "true", False: "false"}
_AS_SENT = json.JSONEncoder(ensure_ascii=False)


def candidate_paths(paths: str | Iterable[str]) -> list[str]:
    """The distinct signed paths of `paths` (one URL path, or several forms of it, most likely first)."""
    found: list[str] = []
    for path in [paths] if isinstance(paths, str) else paths:
        if (signed := signed_path(path)) not in found:
            found.append(signed)
    return found


def expected_base(method: str, paths: str | Iterable[str], timestamp: str, body: bytes) -> str:
    """The base string `verify` tries first: the first path form and the hash of the exact body bytes."""
    return string_to_sign(method, candidate_paths(paths)[0], timestamp, next(acceptable_body_hashes(method, body)))


def verify(secret: str, method: str, paths: str | Iterable[str], timestamp: str, body: bytes,
           signature: str) -> bool:
    """Constant-time check of `signature` (hex, any case) against each path form in `paths` (the path as sent,
    then the decoded one: `wire_path`) and each acceptable body hash in turn."""
    given = signature.strip().lower().encode()
    key, signed_paths = secret.encode(), candidate_paths(paths)
    for digest in acceptable_body_hashes(method, body):  # outermost: a body is re-serialised once, not per path
        for base_path in signed_paths:
            # hmac.digest: one call into OpenSSL, without an HMAC object's Python-level setup.
            expected = hmac.digest(key, string_to_sign(method, base_path, timestamp, digest).encode(),
                                   "sha256").hex().encode()
            if hmac.compare_digest(expected, given):
                return True
    return False
