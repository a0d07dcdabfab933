"""COUNT authentication: HMAC on every partner call, Bearer on data calls, the OAuth code flow, rate limits."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from mock_server.auth.hmac_signing import signature_headers
from tests.conftest import advance, runtime
from tests.count.conftest import ACME, CountClient, assert_error, entry_body

REDIRECT = "http://localhost:3000/oauth/callback"


def test_signed_request_with_token_succeeds(count):
    response = count.get("/chart-of-accounts")
    assert response.status_code == 200
    assert len(response.get_json()["data"]["accounts"]) == 23


@pytest.mark.parametrize("drop", ["x-client-id", "x-timestamp", "x-signature"])
def test_each_hmac_header_is_required(count, drop):
    response = count.get("/tags", headers={drop: ""})
    assert_error(response, 401, "missing_credentials", "Missing credentials.")


def test_bearer_is_required_on_data_endpoints(count):
    assert_error(count.get("/tags", token=""), 401, "missing_credentials")
    assert_error(count.get("/tags", headers={"Authorization": "Basic abc"}), 401, "missing_credentials")


def test_tampered_body_is_refused(count):
    body = entry_body()
    tampered = entry_body(("a0000000-0000-4000-8000-000000006000", "9.00", None),
                          ("a0000000-0000-4000-8000-000000002200", None, "9.00"))
    response = count.post("/journal-entries", tampered, sign_body=json.dumps(body, separators=(",", ":")).encode())
    error = assert_error(response, 401, "Invalid HMAC signature", "Invalid HMAC signature.")
    assert "POST:/journal-entries:" in response.headers["X-Ledger-Mock-Hint"]
    assert "error_description" not in error
    assert count.get("/journal-entries").get_json()["data"]["totalRecords"] == 4  # nothing stored


def test_signature_over_another_path_is_refused(count):
    response = count.get("/tags", sign_path="/count/partners/vendors")
    assert_error(response, 401, "Invalid HMAC signature")


def test_signature_over_the_percent_encoded_path_is_accepted(count):
    """A JavaScript client signs `new URL(...).pathname`, which keeps the percent-encoding it sends (section 10)."""
    encoded = count.delete("/journal-entries/%C3%A9")  # CountClient signs the path exactly as it sends it
    assert_error(encoded, 404, "not_found")
    decoded = count.delete("/journal-entries/%C3%A9", sign_path="/count/partners/journal-entries/\u00e9")
    assert_error(decoded, 404, "not_found")  # the decoded path is still accepted
    assert count.get("/tags", params={"search": "caf\u00e9 r&d"}).status_code == 200  # the query is never signed
    wrong = count.delete("/journal-entries/%C3%A9", sign_path="/count/partners/journal-entries/%C3%A8")
    assert_error(wrong, 401, "Invalid HMAC signature")


def test_signature_over_the_rebuilt_path_when_the_server_keeps_no_raw_uri(count):
    """A server that hands over only the decoded path (granian, so `ledger-mock serve`): the mock re-encodes it
    as a URL parser does, so the client's signature over the encoded pathname still matches."""
    headers = signature_headers(count.client_id, count.secret, "DELETE", "/count/partners/journal-entries/%C3%A9%20x",
                                timestamp=count.timestamp())
    headers["Authorization"] = f"Bearer {count.token}"
    answer = count.http.delete("/count/partners/journal-entries/%C3%A9%20x", headers=headers,
                               environ_overrides={"RAW_URI": "", "REQUEST_URI": ""})
    assert_error(answer, 404, "not_found")


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_hint_names_the_exact_base_string_for_a_body_less_call(count, method):
    """GET and DELETE sign an empty body hash, and the hint says exactly that base string."""
    stamp = count.timestamp()
    refused = count.request(method, "/transactions/%C3%A9", secret="not-the-secret", timestamp=stamp)
    assert_error(refused, 401, "Invalid HMAC signature")
    assert refused.headers["X-Ledger-Mock-Hint"] == (
        f"expected HMAC over {method}:/transactions/%C3%A9:{stamp}: "
        f"(or, with the path decoded, {method}:/transactions/\\xe9:{stamp}:)")
    plain = count.request(method, "/transactions/abc", secret="not-the-secret", timestamp=stamp)
    assert plain.headers["X-Ledger-Mock-Hint"] == f"expected HMAC over {method}:/transactions/abc:{stamp}:"


def test_hint_names_the_exact_base_string_for_a_body(count):
    stamp = count.timestamp()
    body = entry_body()
    sent = json.dumps(body, separators=(",", ":")).encode()
    refused = count.post("/journal-entries", body, secret="not-the-secret", timestamp=stamp)
    assert_error(refused, 401, "Invalid HMAC signature")
    assert refused.headers["X-Ledger-Mock-Hint"] == (
        f"expected HMAC over POST:/journal-entries:{stamp}:{hashlib.sha256(sent).hexdigest()}")
    empty = count.post("/refresh-user-access-token", raw=b"", secret="not-the-secret", timestamp=stamp, token="")
    assert empty.headers["X-Ledger-Mock-Hint"] == f"expected HMAC over POST:/refresh-user-access-token:{stamp}:"


def test_query_string_is_not_signed(count):
    assert count.get("/tags", params={"search": "re"}).status_code == 200


def test_wrong_secret_and_unknown_client_are_refused(app, count):
    assert_error(count.get("/tags", secret="not-the-secret"), 401, "Invalid HMAC signature")
    stranger = CountClient(app, client_id="lm_unknown_client")
    assert_error(stranger.get("/tags"), 401, "Invalid HMAC signature")


def test_timestamp_skew_window_in_seconds_and_milliseconds(app, count):
    now = int(runtime(app).clock.timestamp())
    assert count.get("/tags", timestamp=str(now - 299)).status_code == 200
    assert count.get("/tags", timestamp=str((now + 299) * 1000)).status_code == 200  # the CLI's milliseconds
    stale = count.get("/tags", timestamp=str(now - 301))
    assert_error(stale, 401, "Invalid HMAC signature")
    assert "300s" in stale.headers["X-Ledger-Mock-Hint"]
    assert_error(count.get("/tags", timestamp="12ab"), 401, "Invalid HMAC signature")


def test_unknown_token_and_token_of_another_client(app, count):
    assert_error(count.get("/tags", token="eyJ.not.issued"), 401, "invalid_token", "The access token is invalid")
    other = CountClient(app, client_id="lm_count_client_other",
                        secret="lm_count_secret_other_0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e", token=count.token)
    body = assert_error(other.get("/tags"), 401, "invalid_token")
    assert body["error_description"] == "The access token is invalid"


def oauth_tokens(count):
    initiate = count.http.get("/count/auth2/authorize-intiate",
                              query_string={"clientId": count.client_id, "redirectUri": REDIRECT, "state": "xyz"})
    assert initiate.status_code == 200, initiate.get_json()
    callback = urlsplit(initiate.get_json()["data"]["redirectUri"])
    query = parse_qs(callback.query)
    assert callback._replace(query="").geturl() == REDIRECT and query["state"] == ["xyz"]
    granted = count.post("/grant-access-token", {"grantType": "authorization_code", "code": query["code"][0]},
                         token="")
    assert granted.status_code == 200, granted.get_json()
    return query["code"][0], granted.get_json()["data"]["result"]


def test_authorization_code_flow_issues_a_working_workspace_token(app, count):
    code, result = oauth_tokens(count)
    assert result["workspaceId"] == ACME and result["workspaceName"] == "Acme Coffee Roasters"
    assert result["accessTokenExpiresAt"] == "2025-02-15T13:00:00.000Z"  # 3600 s on the frozen clock
    assert result["refreshTokenExpiresAt"] == "2025-03-17T12:00:00.000Z"
    assert count.get("/tags", token=result["accessToken"]).status_code == 200
    again = count.post("/grant-access-token", {"code": code}, token="")
    assert_error(again, 400, "invalid_grant")  # codes are single use


def test_token_expires_on_the_mock_clock(app, count):
    _, result = oauth_tokens(count)
    advance(app, 3601)
    body = assert_error(count.get("/tags", token=result["accessToken"]), 401, "token_expired",
                        "The access token expired")
    assert body["error_description"] == "The access token expired"


def test_refresh_rotates_both_tokens(app, count):
    _, first = oauth_tokens(count)
    refreshed = count.post("/refresh-user-access-token", {"grantType": "refresh_token",
                                                          "refreshToken": first["refreshToken"]}, token="")
    assert refreshed.status_code == 200
    second = refreshed.get_json()["data"]["result"]
    assert second["accessToken"] != first["accessToken"] and second["refreshToken"] != first["refreshToken"]
    assert count.get("/tags", token=second["accessToken"]).status_code == 200
    assert_error(count.get("/tags", token=first["accessToken"]), 401, "invalid_token")
    reused = count.post("/refresh-user-access-token", {"refresh_token": first["refreshToken"]}, token="")
    assert_error(reused, 400, "invalid_grant")


def test_token_endpoints_need_hmac_and_check_sent_client_fields(count):
    assert_error(count.post("/grant-access-token", {"code": "x"}, sign=False, token=""), 401, "missing_credentials")
    mismatch = count.post("/grant-access-token", {"code": "x", "client_id": "someone-else"}, token="")
    assert_error(mismatch, 400, "invalid_grant")
    assert_error(count.post("/grant-access-token", {"code": "never-issued"}, token=""), 400, "invalid_grant")


def test_initiate_refuses_unregistered_redirects_and_unknown_clients(count):
    bad = count.http.get("/count/auth2/authorize-intiate",
                         query_string={"clientId": count.client_id, "redirectUri": "https://evil.example/cb",
                                       "state": "s"})
    assert_error(bad, 400, "invalid_request", "Invalid redirectUri.")
    missing = count.http.get("/count/auth2/authorize-initiate", query_string={"clientId": count.client_id})
    assert_error(missing, 400, "validation_error", "redirectUri")


def test_rate_limit_answers_429_with_retry_after(make_app):
    app = make_app(rate_limiting=True)
    count = CountClient(app)
    for _ in range(100):
        assert count.get("/tags").status_code == 200
    limited = count.get("/tags")
    body = assert_error(limited, 429, "rate_limited", "Rate limit exceeded.")
    assert body["type"] == "RATE_LIMITED"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    advance(app, 61)
    assert count.get("/tags").status_code == 200  # the window slid past


def test_grant_errors_are_invalid_grant_with_error_description(count):
    """Dossier section 8: a bad code, refresh token or grant type is 400 `invalid_grant`; the spec's own
    invalid_grant example carries `error_description`, as token errors do."""
    for path, body in (("/grant-access-token", {"grantType": "password", "code": "x"}),
                       ("/grant-access-token", {"grant_type": "client_credentials", "code": "x"}),
                       ("/refresh-user-access-token", {"grantType": "authorization_code", "refreshToken": "x"}),
                       ("/grant-access-token", {"code": "never-issued"}),
                       ("/refresh-user-access-token", {"refreshToken": "never-issued"})):
        wrong = assert_error(count.post(path, body, token=""), 400, "invalid_grant")
        assert wrong["error_description"] == wrong["message"], wrong
