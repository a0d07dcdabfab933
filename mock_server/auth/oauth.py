"""OAuth 2.0 bookkeeping shared by providers: authorization codes, access/refresh pairs, expiry and rotation.

Tokens are opaque to clients (JWT-shaped, as the real providers' are) and are checked by lookup, on the
mock's clock, so freezing or advancing the clock expires them exactly when a test says.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from ..clock import Clock, IdGenerator


SWEEP_EVERY = 256


class TokenInvalid(Exception):
    """Unknown, revoked, or issued to another client."""


class TokenExpired(Exception):
    pass


class GrantInvalid(Exception):
    """A code or refresh token that cannot be exchanged."""


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    client_id: str
    tenant_id: str
    claims: Mapping[str, Any] = field(default_factory=dict)  # e.g. the user or entity a provider binds


@dataclass(frozen=True, slots=True)
class _Code:
    client_id: str
    tenant_id: str
    redirect_uri: str
    expires_at: datetime
    claims: Mapping[str, Any]


class TokenStore:
    def __init__(self, clock: Clock, ids: IdGenerator, *, access_ttl: timedelta, refresh_ttl: timedelta,
                 code_ttl: timedelta = timedelta(minutes=10), refresh_revokes_access: bool = True):
        self.clock, self.ids = clock, ids
        # Whether a refresh also ends the old access token at once, or leaves it to its expiry (as OAuth servers
        # commonly do, so calls in flight with it still succeed).
        self.refresh_revokes_access = refresh_revokes_access
        self.access_ttl, self.refresh_ttl, self.code_ttl = access_ttl, refresh_ttl, code_ttl
        self._by_access: dict[str, TokenPair] = {}
        self._by_refresh: dict[str, TokenPair] = {}
        self._codes: dict[str, _Code] = {}
        self._lock = threading.Lock()
        self._until_sweep = SWEEP_EVERY

    def issue_code(self, client_id: str, tenant_id: str, redirect_uri: str, **claims: Any) -> str:
        code = self.ids.token(16)
        with self._lock:
            self._codes[code] = _Code(client_id, tenant_id, redirect_uri, self.clock.now() + self.code_ttl, claims)
            self._tick()
        return code

    def redeem_code(self, code: str, client_id: str, redirect_uri: str | None = None) -> TokenPair:
        """Single use: a code is spent by the first attempt, successful or not, as RFC 6749 asks."""
        with self._lock:
            grant = self._codes.pop(code, None)
        if grant is None or grant.client_id != client_id or grant.expires_at <= self.clock.now():
            raise GrantInvalid("Invalid or expired grant.")
        if redirect_uri is not None and redirect_uri != grant.redirect_uri:
            raise GrantInvalid("redirect_uri does not match the authorization request.")
        return self.issue(client_id, grant.tenant_id, **grant.claims)

    def issue(self, client_id: str, tenant_id: str, **claims: Any) -> TokenPair:
        now = self.clock.now()
        access = self._jwt_shaped({"sub": f"{claims['user']}@{tenant_id}" if claims.get("user") else tenant_id,
                                   "iat": int(now.timestamp()), "exp": int((now + self.access_ttl).timestamp())})
        pair = TokenPair(access, self.ids.token(32), now + self.access_ttl, now + self.refresh_ttl,
                         client_id, tenant_id, claims)
        self.add(pair)
        return pair

    def add(self, pair: TokenPair) -> None:
        with self._lock:
            self._by_access[pair.access_token] = pair
            self._by_refresh[pair.refresh_token] = pair
            self._tick()

    def _tick(self) -> None:
        """Every SWEEP_EVERY grants, forget what can no longer be used: a long-running mock that issues a token
        per test would otherwise keep every one it ever issued."""
        self._until_sweep -= 1
        if self._until_sweep > 0:
            return
        self._until_sweep = SWEEP_EVERY
        now = self.clock.now()
        for pair in [p for p in self._by_refresh.values() if p.refresh_expires_at <= now and p.access_expires_at <= now]:
            self._revoke(pair)
        for code in [c for c, grant in self._codes.items() if grant.expires_at <= now]:
            del self._codes[code]

    def refresh(self, refresh_token: str, client_id: str) -> TokenPair:
        """Rotate: the old refresh token dies (and the old access token, if the store says so), a new pair for the
        same grant is issued."""
        with self._lock:
            pair = self._by_refresh.get(refresh_token)
            if pair is None or pair.client_id != client_id or pair.refresh_expires_at <= self.clock.now():
                raise GrantInvalid("Invalid or expired grant.")
            if self.refresh_revokes_access:
                self._revoke(pair)
            else:
                del self._by_refresh[refresh_token]
        return self.issue(client_id, pair.tenant_id, **pair.claims)

    def access(self, access_token: str, client_id: str | None = None) -> TokenPair:
        pair = self._by_access.get(access_token)
        if pair is None or (client_id is not None and pair.client_id != client_id):
            raise TokenInvalid("The access token is invalid")
        if pair.access_expires_at <= self.clock.now():
            raise TokenExpired("The access token expired")
        return pair

    def revoke_refresh_where(self, matches: Callable[[TokenPair], bool]) -> None:
        """End the refresh tokens of the matching grants; their access tokens live out their time."""
        with self._lock:
            for pair in [p for p in self._by_refresh.values() if matches(p)]:
                del self._by_refresh[pair.refresh_token]

    def _revoke(self, pair: TokenPair) -> None:
        self._by_access.pop(pair.access_token, None)
        self._by_refresh.pop(pair.refresh_token, None)

    def _jwt_shaped(self, claims: Mapping[str, Any]) -> str:
        """A token with a JWT's shape and the claims a client may read (`exp` above all); the signature is
        random, as the mock validates tokens by lookup, never by signature."""
        header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
        payload = _b64url(json.dumps({"jti": self.ids.uuid(), **claims}, separators=(",", ":")).encode())
        return f"{header}.{payload}.{self.ids.token(32)}"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
