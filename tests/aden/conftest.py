from __future__ import annotations

import json as jsonlib

import pytest

PREFIX = "/aden/service/general-ledger"
ADMIN = "lm_aden_demo_main_admin_6f1d2c9a8b7e"
APPROVER1 = "lm_aden_demo_main_approver1_3b9e71c4"
APPROVER2 = "lm_aden_demo_main_approver2_a57c0d2e"
CLERK = "lm_aden_demo_main_clerk_0e4f8a61b2"
MANUAL_ADMIN = "lm_aden_demo_manual_admin_9c2e5b7d"
MANUAL_APPROVER1 = "lm_aden_demo_manual_approver1_4d8a"
OTHER_ADMIN = "lm_aden_other_main_admin_2a6f9e13"
EXPIRED = "lm_aden_demo_main_admin_expired_5e0c"


class AdenClient:
    """Sends requests the way Aden's docs show them: `Authorization: jwt <token>`, JSON bodies."""

    def __init__(self, app, token=ADMIN, prefix=PREFIX):
        self.http, self.token, self.prefix = app.test_client(), token, prefix

    def as_(self, token):
        clone = AdenClient.__new__(AdenClient)
        clone.http, clone.token, clone.prefix = self.http, token, self.prefix
        return clone

    def request(self, method, path, json=None, *, headers=None, token=None, params=None, raw=None,
                content_type="application/json"):
        sent = {"Authorization": f"jwt {token or self.token}"}
        body = raw if raw is not None else (None if json is None else jsonlib.dumps(json).encode())
        if body is not None and content_type:
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        return self.http.open(self.prefix + path, method=method, data=body, headers=sent, query_string=params)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.request("POST", path, json, **kwargs)

    def put(self, path, json=None, **kwargs):
        return self.request("PUT", path, json, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def aden_app(make_app):
    return make_app(providers=("aden",))


@pytest.fixture
def aden(aden_app):
    return AdenClient(aden_app)


def ok(response, status=200):
    body = response.get_json()
    assert response.status_code == status, body
    return body


def assert_error(response, status, code, message_part=""):
    """Aden's envelope: {"error": {"code", "message", "details"?}} with the status and a message to act on."""
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"error"} and set(body["error"]) <= {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert message_part in body["error"]["message"], body
    return body["error"]


def entry_body(entry_id, amount=500, *, date="2025-02-12", debit="6300", credit="1010", **extra):
    """A two-line entry; amounts are JSON numbers (json.dumps writes short decimals exactly, e.g. 0.07)."""
    return {"journal_entry_id": entry_id, "tran_date": date, "memo": f"Test {entry_id}", **extra,
            "lines": [{"account_id": debit, "debit": amount, "credit": 0},
                      {"account_id": credit, "debit": 0, "credit": amount}]}


def make_entry(client, entry_id, amount=500, **kwargs):
    return ok(client.post("/journal-entries", entry_body(entry_id, amount, **kwargs)), 201)


def submitted(client, entry_id, amount=500, **kwargs):
    make_entry(client, entry_id, amount, **kwargs)
    return ok(client.post(f"/journal-entries/{entry_id}/submit-for-approval"))
