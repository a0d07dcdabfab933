"""OAuth2 token endpoint (three grants, RFC 6749 errors) and bearer checks on the API (dossier section 3)."""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from mock_server import data_dir
from tests.conftest import FROZEN, advance, provider, runtime
from tests.intacct.conftest import API, JE, IntacctClient, assert_error, entry_body

TOKEN = API + "/oauth2/token"
CLIENT = {"client_id": "mock-client", "client_secret": "mock-secret"}


def token(ia, **form):
    return ia.http.post(TOKEN, data=form)


def test_client_credentials_issue_a_bearer_pair_for_the_users_company(ia):
    issued = ia.token_for("jane@DEMO|US1")
    assert issued["token_type"] == "Bearer" and issued["expires_in"] == 3600 and issued["refresh_token"]
    assert ia.get(JE, token=issued["access_token"]).status_code == 200


def test_http_basic_client_authentication_works(ia):
    basic = base64.b64encode(b"mock-client:mock-secret").decode()
    response = ia.http.post(TOKEN, data={"grant_type": "client_credentials", "username": "jane@DEMO"},
                            headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200


def test_json_token_requests_are_accepted_too(ia):
    response = ia.http.post(TOKEN, json={"grant_type": "client_credentials", "username": "jane@DEMO", **CLIENT})
    assert response.status_code == 200


def test_refresh_rotates_and_the_old_refresh_token_dies(app, ia):
    """D3: the refresh token rotates; the old access token lives out its hour, so a call in flight with it when
    another thread refreshes still succeeds."""
    first = ia.token_for("jane@DEMO")
    response = token(ia, grant_type="refresh_token", refresh_token=first["refresh_token"], **CLIENT)
    assert response.status_code == 200
    second = response.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert ia.get(JE, token=second["access_token"]).status_code == 200
    assert ia.get(JE, token=first["access_token"]).status_code == 200
    again = token(ia, grant_type="refresh_token", refresh_token=first["refresh_token"], **CLIENT)
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"
    advance(app, 3600)
    assert_error(ia.get(JE, token=first["access_token"]), 401, "REST-2102", "Token is not valid")


def test_fixture_authorization_code_is_single_use(ia):
    response = token(ia, grant_type="authorization_code", code="test-code", redirect_uri="https://x.test/cb", **CLIENT)
    assert response.status_code == 200
    assert ia.get(f"{JE}/132", token=response.get_json()["access_token"]).status_code == 200
    again = token(ia, grant_type="authorization_code", code="test-code", **CLIENT)
    assert again.status_code == 400 and again.get_json() == {
        "error": "invalid_grant", "error_description": "The authorization code is invalid, expired or already used."}


@pytest.mark.parametrize("form, status, error", [
    ({"grant_type": "client_credentials", "username": "jane@DEMO", "client_id": "mock-client",
      "client_secret": "wrong"}, 401, "invalid_client"),
    ({"grant_type": "client_credentials", "username": "jane@DEMO"}, 401, "invalid_client"),
    ({"grant_type": "password", **CLIENT}, 400, "unsupported_grant_type"),
    ({**CLIENT}, 400, "invalid_request"),
    ({"grant_type": "client_credentials", "username": "no-company", **CLIENT}, 400, "invalid_request"),
    ({"grant_type": "refresh_token", **CLIENT}, 400, "invalid_request"),
    ({"grant_type": "authorization_code", "code": "nope", **CLIENT}, 400, "invalid_grant"),
])
def test_token_errors_are_rfc6749_bodies(ia, form, status, error):
    response = token(ia, **form)
    assert response.status_code == status
    assert response.get_json()["error"] == error and response.get_json()["error_description"]


def test_missing_or_foreign_scheme_is_unauthorized(ia):
    for headers in ({}, {"Authorization": "Basic abc"}):
        response = ia.get(JE, token="", headers=headers)
        assert_error(response, 401, "REST-2101", "Bearer", code="unauthorized")
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_unknown_token_is_invalid(ia):
    assert_error(ia.get(JE, token="not-a-token"), 401, "REST-2102", "Token is not valid", code="tokenInvalid")


def test_tokens_expire_on_the_mock_clock(app, ia):
    issued = ia.token_for("jane@DEMO")
    advance(app, 3599)
    assert ia.get(JE, token=issued["access_token"]).status_code == 200
    advance(app, 1)
    assert_error(ia.get(JE, token=issued["access_token"]), 401, "REST-2102")


def test_auth_is_checked_before_the_path_key_and_the_body(ia):
    assert_error(ia.get(f"{JE}/999", token="bad"), 401, "REST-2102")
    assert_error(ia.post(JE, token="bad"), 401, "REST-2102")


def test_company_in_the_token_is_the_tenant(app, ia):
    other = IntacctClient(app, ia.token_for("bob@TWOSTEP")["access_token"])
    assert other.get(JE).get_json()["ia::result"] == []  # a fixture company with chart and journals, no entries
    assert other.get("/objects/general-ledger/account").get_json()["ia::meta"]["totalCount"] == 9
    key = ia.create()
    assert_error(other.get(f"{JE}/{key}"), 404, "REST-1100")
    assert_error(other.get(f"{JE}/132"), 404, "REST-1100")
    own = other.create()
    assert own == "1" and ia.entry(key)["description"] == "February rent"


def test_switch_gives_the_400_invalid_token_variant(make_app, tmp_path):
    fixtures = yaml.safe_load((data_dir("fixtures") / "intacct.yaml").read_text())
    fixtures["intacct"]["authFailureStatus"] = 400
    path = tmp_path / "intacct.yaml"
    path.write_text(yaml.safe_dump(fixtures))
    client = IntacctClient(make_app(providers=("intacct",), fixtures=path))
    assert_error(client.get(JE, token="expired"), 400, "REST-2102", "Invalid token", code="tokenInvalid")
    assert_error(client.get(f"{JE}/132", token=""), 400, "REST-2101", "Invalid token")
    assert client.post(JE, entry_body()).status_code == 201


def test_credentials_are_ready_to_use(app):
    from tests.conftest import provider
    creds = provider(app, "intacct").credentials("http://127.0.0.1:8080/intacct")
    assert creds["base_url"] == "http://127.0.0.1:8080/intacct/ia/api/v1"
    assert creds["username"] == "admin@DEMO" and creds["client_id"] == "mock-client"
    client = IntacctClient(app, creds["access_token"])
    assert client.get(f"{JE}/132").status_code == 200
    issued = client.token_for(creds["username"])
    assert issued["access_token"]


def test_a_new_code_exchange_revokes_the_users_older_refresh_tokens(app, ia):
    """D3: exchanging an authorization code revokes the same user's older refresh tokens for that company. D3
    names refresh tokens only, so the fixture access token `ledger-mock credentials` prints keeps working."""
    fixture = provider(app, "intacct").credentials("")
    response = token(ia, grant_type="authorization_code", code="test-code", **CLIENT)
    assert response.status_code == 200
    assert ia.get(JE).status_code == 200  # the fixture access token of admin@DEMO
    assert ia.get(JE, token=response.get_json()["access_token"]).status_code == 200
    old = token(ia, grant_type="refresh_token", refresh_token=fixture["refresh_token"], **CLIENT)
    assert old.status_code == 400 and old.get_json()["error"] == "invalid_grant"
    new = token(ia, grant_type="refresh_token", refresh_token=response.get_json()["refresh_token"], **CLIENT)
    assert new.status_code == 200


def test_access_tokens_carry_the_claims_a_client_reads(app, ia):
    """Intacct's access tokens are JWTs: a client may read the expiry from `exp` instead of `expires_in`."""
    answer = ia.token_for("jane@DEMO")
    header, payload, _ = answer["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["alg"] == "HS256"
    now = int(FROZEN.timestamp())
    assert (claims["iat"], claims["exp"], claims["sub"]) == (now, now + answer["expires_in"], "jane@DEMO")
    advance(app, claims["exp"] - now)
    assert_error(ia.get(JE, token=answer["access_token"]), 401, "REST-2102")


def test_a_client_reaches_only_the_companies_that_authorized_it(app, ia):
    """Departs from dossier D4 (any company accepted, created on first use): a company must exist and have
    authorized the client, as a real Intacct company authorizes a sender ID, so tenants cannot reach each other."""
    unknown = ia.http.post(API + "/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": "mock-client", "client_secret": "mock-secret",
        "username": "bob@NOSUCHCO"})
    assert unknown.status_code == 400 and unknown.get_json()["error"] == "invalid_grant"
    assert "NOSUCHCO" not in [t["id"] for t in app.test_client().get("/_mock/tenants").get_json()["tenants"]]
    tenant = app.test_client().post("/_mock/tenants", json={"provider": "intacct"}).get_json()
    assert tenant["client_id"] != "mock-client"
    for client_id, secret, company in ((tenant["client_id"], tenant["client_secret"], "DEMO"),
                                       ("mock-client", "mock-secret", tenant["company_id"])):
        refused = ia.http.post(API + "/oauth2/token", data={
            "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
            "username": f"admin@{company}"})
        assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_grant", (client_id, company)
    own = ia.http.post(API + "/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": tenant["client_id"], "client_secret": tenant["client_secret"],
        "username": f"jane@{tenant['company_id']}"})
    assert own.status_code == 200
