"""COUNT's partner API: HMAC + OAuth bearer auth and COUNT's envelopes here; the handlers by resource in oauth.py,
journal.py, transactions.py, accounts.py and directory.py."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from ...auth import hmac_signing
from ...auth.oauth import TokenExpired, TokenInvalid
from ...errors import ApiError
from ...ledger import LedgerError, NotFound
from .. import Call, FixturesLack, Provider, Runtime, Tenant
from .accounts import AccountHandlers
from .directory import DirectoryHandlers
from .journal import JournalEntryHandlers
from .oauth import OAuthHandlers
from .state import CountState
from .transactions import TransactionHandlers

log = logging.getLogger("ledger_mock.count")

SKEW_SECONDS = 300
# COUNT's own `error` strings where they differ from the mock's neutral codes (dossier section 8).
ERROR_NAMES = {"invalid_signature": "Invalid HMAC signature", "bad_request": "validation_error",
               "invalid_amount": "validation_error", "invalid_entry": "validation_error",
               "invalid_transition": "validation_error"}
# Errors the mock raises with a neutral name for a status COUNT documents its own name for (faults forced by the
# operator, the mock's own 503): dossier section 8 documents only `internal_error` for 5xx, `invalid_token` as the
# 401 a client refreshes on (D12), no 409 (`duplicate` is its clash-with-existing-data name) and no 422.
STATUS_NAMES = {"unauthorized": "invalid_token", "conflict": "duplicate", "unprocessable": "validation_error",
                "bad_gateway": "internal_error", "service_unavailable": "internal_error",
                "gateway_timeout": "internal_error"}


def unauthorized(code: str, message: str, hint: str | None = None) -> ApiError:
    # The hint header tells a person why a signature failed without changing COUNT's body.
    # Header values must be one line of Latin-1, and a hint may quote a path with any characters in it.
    safe = hint.encode("unicode_escape").decode("ascii") if hint else None
    return ApiError(401, code, message, headers={"X-Ledger-Mock-Hint": safe} if safe else None)


def _error_name(error: ApiError) -> str:
    """COUNT's `error` for `error`: its own name, or for a status it names otherwise the name it uses there; a
    status COUNT never sends (an operator's fault) gets `validation_error` (4xx) or `internal_error` (5xx)."""
    if error.code == "error":
        return "internal_error" if error.status >= 500 else "validation_error"
    return STATUS_NAMES.get(error.code) or ERROR_NAMES.get(error.code, error.code)


class CountProvider(OAuthHandlers, JournalEntryHandlers, TransactionHandlers, AccountHandlers, DirectoryHandlers,
                    Provider):
    """COUNT's partner API: auth and errors here, the handlers by resource in the mixins (one registration: the
    provider's `handlers` collects every class's)."""

    name = "count"
    spec_file = "count.yaml"

    def __init__(self, runtime: Runtime, fixtures: Mapping[str, Any]):
        super().__init__(runtime, fixtures)
        self.state = CountState(runtime.clock, runtime.ids, fixtures, rate_limiting=runtime.config.rate_limiting)

    def authenticate(self, call: Call) -> None:
        schemes = call.operation.security_schemes
        if not schemes:
            return
        environ = call.request.environ  # the headers as WSGI keeps them: werkzeug's view of them costs more
        client_id, stamp, signature = (environ.get("HTTP_X_CLIENT_ID"), environ.get("HTTP_X_TIMESTAMP"),
                                       environ.get("HTTP_X_SIGNATURE"))
        if not (client_id and stamp and signature):
            raise unauthorized("missing_credentials", "Missing credentials.",
                               "send x-client-id, x-timestamp and x-signature")
        client = self.state.clients.get(client_id)
        if client is None:
            raise unauthorized("invalid_signature", "Invalid HMAC signature.", "unknown x-client-id")
        if self.state.rate_limiter is not None and not call.replaying:  # a recorded change was within limits
            wait = self.state.rate_limiter.hit(client_id)
            if wait is not None:
                raise ApiError(429, "rate_limited", "Rate limit exceeded.", headers={"Retry-After": str(wait)})
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 13):
            raise unauthorized("invalid_signature", "Invalid HMAC signature.",
                               "x-timestamp must be Unix time in seconds or milliseconds (digits only)")
        seconds = int(stamp) / 1000 if int(stamp) > 10**12 else int(stamp)
        if abs(seconds - self.clock.timestamp()) > SKEW_SECONDS:
            raise unauthorized("invalid_signature", "Invalid HMAC signature.",
                               f"x-timestamp is more than {SKEW_SECONDS}s away from the server clock")
        # The path as sent (what a JavaScript client signs: `new URL(...).pathname`), then the decoded one.
        paths = (hmac_signing.wire_path(environ), call.request.path)
        if not hmac_signing.verify(client.secret, call.request.method, paths, stamp, call.raw_body, signature):
            method, body = call.request.method, call.raw_body
            expected = [hmac_signing.expected_base(method, path, stamp, body)
                        for path in hmac_signing.candidate_paths(paths)]
            hint = f"expected HMAC over {expected[0]}"
            if len(expected) > 1:
                hint += f" (or, with the path decoded, {expected[1]})"
            raise unauthorized("invalid_signature", "Invalid HMAC signature.", hint)
        call.principal = client
        if "bearer" not in schemes:
            return
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("missing_credentials", "Missing credentials.", "send Authorization: Bearer <token>")
        try:
            pair = self.state.tokens.access(token.strip(), client_id)
        except TokenExpired:
            raise unauthorized("token_expired", "The access token expired") from None
        except TokenInvalid:
            raise unauthorized("invalid_token", "The access token is invalid") from None
        call.tenant = self.state.workspaces[pair.tenant_id]

    def who(self, call: Call) -> dict[str, Any]:
        return {"client": getattr(call.principal, "id", None), "workspace": getattr(call.tenant, "id", None)}

    def assume(self, call: Call, who: dict[str, Any]) -> None:
        try:
            call.principal = None if who.get("client") is None else self.state.clients[who["client"]]
            call.tenant = None if who.get("workspace") is None else self.state.workspaces[who["workspace"]]
        except KeyError as missing:
            raise unauthorized("invalid_token", f"The recorded caller {missing} no longer exists") from None

    def render_error(self, error: ApiError, request_id: str, path: str) -> dict[str, Any]:
        """COUNT's envelope; a request with several problems gets them all in its one `message` (COUNT has no
        `errors[]`: section 8 and the spec's Error schema)."""
        name = _error_name(error)
        message = " ".join(p.message for p in error.problems) if error.problems else error.message
        body = {"status": "error", "statusCode": error.status, "error": name,
                "message": message, "isOperational": True, "requestId": request_id}
        if name in ("invalid_token", "token_expired", "invalid_grant"):  # the spec's examples of these carry it
            body["error_description"] = message
        if name == "rate_limited":
            body["type"] = "RATE_LIMITED"
        return body

    def ledger_error(self, error: LedgerError) -> ApiError:
        return ApiError(404 if isinstance(error, NotFound) else 400, error.code, error.message)

    def credentials(self, base_url: str) -> dict[str, Any]:
        if not self.state.fixture_tokens:
            raise FixturesLack("The count fixtures define no token; POST /_mock/tenants makes a workspace with "
                               "credentials of its own.")
        return self._credentials(base_url, self.state.fixture_tokens[0])

    def _credentials(self, base_url: str, pair: Any) -> dict[str, Any]:
        client = self.state.clients[pair.client_id]
        return {"provider": self.name, "base_url": f"{base_url}/partners", "auth_base_url": f"{base_url}/auth2",
                "client_id": client.id, "client_secret": client.secret, "access_token": pair.access_token,
                "refresh_token": pair.refresh_token, "workspace_id": pair.tenant_id}

    def tenants(self) -> list[Tenant]:
        return [Tenant(w.id, w.name, w.book) for w in list(self.state.workspaces.values())]

    def swap_tenant(self, tenant: str, other: CountProvider) -> None:
        """A workspace holds all its requests change: clients, codes and tokens change only through the OAuth
        endpoints, which are signed by a client and act as no workspace."""
        mine, theirs = self.state.workspaces, other.state.workspaces
        mine[tenant], theirs[tenant] = theirs[tenant], mine[tenant]

    def create_tenant(self, base_url: str, name: str | None = None) -> dict[str, Any]:
        pair = self.state.new_tenant(name)
        return {**self._credentials(base_url, pair), "tenant": pair.tenant_id}
