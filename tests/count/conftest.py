from __future__ import annotations

import json as jsonlib

import pytest

from mock_server.auth.hmac_signing import signature_headers
from tests.conftest import provider, runtime

ACME = "7d3e6c1a-2b4f-4e8a-9c5d-1f2a3b4c5d6e"
NORTHWIND = "1b2c3d4e-5f60-4718-9a2b-3c4d5e6f7a8b"
CHECKING = "a0000000-0000-4000-8000-000000001000"
SAVINGS = "a0000000-0000-4000-8000-000000001010"
VISA = "a0000000-0000-4000-8000-000000002100"
RENT = "a0000000-0000-4000-8000-000000006000"
ACCRUED = "a0000000-0000-4000-8000-000000002200"
SOFTWARE = "a0000000-0000-4000-8000-000000006100"
SALES = "a0000000-0000-4000-8000-000000004000"
AR_SYSTEM = "a0000000-0000-4000-8000-000000001200"
NORTHWIND_CHECKING = "a1000000-0000-4000-8000-000000001000"
RECONCILED = "f0000000-0000-4000-8000-000000000001"
UNCATEGORISED = "f0000000-0000-4000-8000-000000000003"
HIGHLAND = "b0000000-0000-4000-8000-000000000001"
CITYSIDE = "b0000000-0000-4000-8000-000000000002"
RETAIL = "d0000000-0000-4000-8000-000000000001"
BLUE_DOOR = "c0000000-0000-4000-8000-000000000001"


class CountClient:
    """Signs like a real partner app: HMAC over the exact body bytes sent, path after /partners, plus Bearer."""

    def __init__(self, app, *, client_id=None, secret=None, token=None, prefix="/count/partners"):
        given = client_id and secret and token is not None  # then the fixtures need define no credentials
        creds = {} if given else provider(app, "count").credentials("")
        self.app, self.http, self.prefix = app, app.test_client(), prefix
        self.client_id = client_id or creds["client_id"]
        self.secret = secret or creds["client_secret"]
        self.token = token if token is not None else creds["access_token"]
        self.refresh_token = creds.get("refresh_token")

    def timestamp(self):
        return str(int(runtime(self.app).clock.timestamp()))

    def request(self, method, path, json=None, *, params=None, raw=None, headers=None, token=None, sign=True,
                sign_path=None, sign_body=None, timestamp=None, secret=None, content_type="application/json"):
        body = raw if raw is not None else (b"" if json is None else jsonlib.dumps(json, separators=(",", ":")).encode())
        url_path = self.prefix + path
        sent = {}
        if sign:
            sent.update(signature_headers(self.client_id, secret or self.secret, method,
                                          sign_path or url_path, body if sign_body is None else sign_body,
                                          timestamp or self.timestamp()))
        token = self.token if token is None else token
        if token:
            sent["Authorization"] = f"Bearer {token}"
        if body and content_type:
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        return self.http.open(url_path, method=method, data=body, headers=sent, query_string=params)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.request("POST", path, json, **kwargs)

    def patch(self, path, json=None, **kwargs):
        return self.request("PATCH", path, json, **kwargs)

    def put(self, path, json=None, **kwargs):
        return self.request("PUT", path, json, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def app(make_app):
    """COUNT alone: no other provider's state is built, replayed and compared after each test."""
    return make_app(providers=("count",))


@pytest.fixture
def count(app):
    return CountClient(app)


def assert_error(response, status, error, message_part=""):
    """COUNT's error envelope, with the status, `error` name and (part of) the message a user acts on."""
    body = response.get_json()
    assert response.status_code == status, body
    assert body["status"] == "error" and body["statusCode"] == status and body["isOperational"] is True
    assert body["error"] == error, body
    assert message_part in body["message"], body
    assert body["requestId"]
    return body


def entry_body(*lines, description="Accrue rent", date="2025-01-31", **extra):
    lines = lines or ((RENT, "1000.00", None), (ACCRUED, None, "1000.00"))
    return {"descriptionEntry": description, "date": date, **extra,
            "lines": [{"accountUuid": a, **({"amountDebit": d} if d is not None else {}),
                       **({"amountCredit": c} if c is not None else {})} for a, d, c in lines]}


def balances(count):
    accounts = count.get("/chart-of-accounts", params={"includeBalances": "true"}).get_json()["data"]["accounts"]
    return {a["id"]: a["balance"] for a in accounts}
