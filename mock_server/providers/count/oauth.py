"""COUNT's OAuth: authorize-initiate, the code grant and the refresh grant (dossier sections 3 and 8)."""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import urlencode, urlsplit

from ...auth.oauth import GrantInvalid
from ...errors import ApiError, validation_error
from .. import Call, Reply, handles
from . import wire
from .common import CountHandlers, success


class OAuthHandlers(CountHandlers):
    @handles("initiateAuthorization")
    def initiate_authorization(self, call: Call) -> Reply:
        q = call.query
        client = self.state.clients.get(q["clientId"])
        if client is None:
            raise ApiError(400, "invalid_request", "Unknown clientId.")
        if q["redirectUri"] not in client.redirect_uris:
            raise ApiError(400, "invalid_request", "Invalid redirectUri.")
        # No consent screen: the simulated user approves at once, for the client's own workspace (D8).
        code = self.state.tokens.issue_code(client.id, client.workspace_id, q["redirectUri"])
        self.state.code_states[code] = q["state"]  # D9: a grant that sends `state` must send this one
        joiner = "&" if urlsplit(q["redirectUri"]).query else "?"
        callback = q["redirectUri"] + joiner + urlencode({"code": code, "state": q["state"]})
        return success(200, {"redirectUri": callback}, "Authorization initiated.")

    @handles("initiateAuthorizationAlias")
    def initiate_authorization_alias(self, call: Call) -> Reply:
        return self.initiate_authorization(call)

    @handles("grantAccessToken")
    def grant_access_token(self, call: Call) -> Reply:
        body, client = call.body, call.principal
        self._check_client_fields(body, client, "authorization_code")
        issued_with = self.state.code_states.get(str(body["code"]))
        if body.get("state") is not None and issued_with is not None and body["state"] != issued_with:
            raise ApiError(400, "invalid_grant", "`state` does not match the one sent to authorize-initiate.")
        try:
            pair = self.state.tokens.redeem_code(str(body["code"]), client.id)
        except GrantInvalid as exc:
            raise ApiError(400, "invalid_grant", str(exc)) from None
        return success(200, {"result": self._token_result(pair)}, "Access token granted.")

    @handles("refreshUserAccessToken")
    def refresh_user_access_token(self, call: Call) -> Reply:
        body, client = call.body or {}, call.principal
        self._check_client_fields(body, client, "refresh_token")
        token = body.get("refreshToken") or body.get("refresh_token")
        if body.get("refreshToken") and body.get("refresh_token") not in (None, "", token):
            call.warn("body field `refresh_token` was ignored: `refreshToken` was sent too, and wins")
        if not token:
            raise validation_error("`refreshToken` is required.")
        try:
            pair = self.state.tokens.refresh(str(token), client.id)
        except GrantInvalid as exc:
            raise ApiError(400, "invalid_grant", str(exc)) from None
        return success(200, {"result": self._token_result(pair)}, "Access token refreshed.")

    @staticmethod
    def _check_client_fields(body: Mapping[str, Any], client: Any, grant_type: str) -> None:
        """D9: `grantType`/`grant_type`, `client_id`, `client_secret` are optional, but must fit when sent; a wrong
        grant type is `invalid_grant` (dossier section 8), not a schema violation."""
        for name in ("grantType", "grant_type"):
            if body.get(name) not in (None, grant_type):
                raise ApiError(400, "invalid_grant", f"`{name}` must be `{grant_type}` on this endpoint.")
        if body.get("client_id") not in (None, client.id) or body.get("client_secret") not in (None, client.secret):
            raise ApiError(400, "invalid_grant", "client_id or client_secret does not match the signing client.")

    def _token_result(self, pair: Any) -> dict[str, Any]:
        workspace = self.state.workspaces[pair.tenant_id]
        return {"accessToken": pair.access_token, "refreshToken": pair.refresh_token,
                "accessTokenExpiresAt": wire.timestamp(pair.access_expires_at),
                "refreshTokenExpiresAt": wire.timestamp(pair.refresh_expires_at),
                "workspaceId": workspace.id, "workspaceName": workspace.name}
