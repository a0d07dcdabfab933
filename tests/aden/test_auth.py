"""`Authorization: jwt <token>`: fixture tokens name the entity and user; everything else is a 401 in Aden's body."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from mock_server.cli import main
from tests.aden.conftest import ADMIN, EXPIRED, OTHER_ADMIN, PREFIX, AdenClient, assert_error, ok
from tests.conftest import runtime


@pytest.mark.parametrize("header", [None, f"Bearer {ADMIN}", ADMIN, "jwt", "jwt ", "jwt not-a-fixture-token",
                                    f"jwt {EXPIRED}"])
def test_bad_credentials_get_401_before_anything_else(aden_app, header):
    http = aden_app.test_client()
    headers = {"Authorization": header} if header is not None else {}
    # Even a malformed body and an unknown id are not looked at before the token.
    response = http.post(f"{PREFIX}/journal-entries/NOPE/approve", data=b"{", headers={
        **headers, "Content-Type": "application/json"})
    error = assert_error(response, 401, "UNAUTHORIZED", "Missing or invalid token")
    assert response.headers["WWW-Authenticate"] == "jwt"
    assert response.headers["X-Ledger-Mock-Hint"]
    assert "details" not in error


def test_scheme_word_is_case_insensitive(aden_app):
    response = aden_app.test_client().get(f"{PREFIX}/accounts", headers={"Authorization": f"JWT {ADMIN}"})
    assert response.status_code == 200


def test_expiry_follows_the_mock_clock(aden_app):
    expired = aden_app.test_client().get(f"{PREFIX}/accounts", headers={"Authorization": f"jwt {EXPIRED}"})
    assert "expired" in expired.headers["X-Ledger-Mock-Hint"]
    runtime(aden_app).clock.set(runtime(aden_app).clock.now() - timedelta(days=30))
    assert aden_app.test_client().get(f"{PREFIX}/accounts",
                                      headers={"Authorization": f"jwt {EXPIRED}"}).status_code == 200


def test_tenants_are_isolated(aden_app):
    demo, other = AdenClient(aden_app), AdenClient(aden_app, OTHER_ADMIN)
    assert ok(demo.get("/journal-entries/JE-2025-0001"))["memo"] == "Office supplies"
    assert ok(other.get("/journal-entries/JE-2025-0001"))["memo"] == "Other Corp sale"
    assert_error(other.get("/journal-entries/JE-2025-0002"), 404, "NOT_FOUND")
    assert_error(other.get("/accounts/6300"), 404, "NOT_FOUND")
    assert_error(other.get("/accounting-periods/P2025M02"), 404, "NOT_FOUND")
    assert ok(other.get("/journal-entries"))["pagination"]["total"] == 1


def test_unknown_route_and_method_use_the_error_envelope(aden):
    assert_error(aden.get("/nothing-here"), 404, "NOT_FOUND")
    response = aden.request("PATCH", "/accounts")
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in response.headers["Allow"]


def test_credentials_command_prints_fixture_tokens():
    result = CliRunner().invoke(main, ["credentials", "--provider", "aden", "--format", "json"])
    assert result.exit_code == 0, result.output
    creds = json.loads(result.stdout)  # stderr says which server the credentials describe
    assert creds["base_url"] == "http://127.0.0.1:8080/aden/service/general-ledger"
    assert creds["authorization"] == f"jwt {ADMIN}" and creds["token"] == ADMIN
    assert creds["token_org_demo_main_usr_approver2"].startswith("lm_aden_demo_main_approver2")
    assert EXPIRED not in creds.values()
