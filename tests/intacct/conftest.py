from __future__ import annotations

import pytest

from tests.conftest import provider

API = "/intacct/ia/api/v1"
JE = "/objects/general-ledger/journal-entry"
WF = "/workflows/general-ledger/journal-entry"
QUERY = "/services/core/query"


class IntacctClient:
    """Bearer-authenticated JSON calls against the mounted Intacct API."""

    def __init__(self, app, token=None):
        self.app, self.http = app, app.test_client()
        self.token = token if token is not None else provider(app, "intacct").credentials("")["access_token"]

    def request(self, method, path, json=None, *, headers=None, token=None, **kwargs):
        sent = {}
        token = self.token if token is None else token
        if token:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        return self.http.open(API + path, method=method, json=json, headers=sent, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.request("POST", path, json, **kwargs)

    def patch(self, path, json=None, **kwargs):
        return self.request("PATCH", path, json, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def entry(self, key):
        response = self.get(f"{JE}/{key}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()["ia::result"]

    def create(self, body=None, **changes):
        response = self.post(JE, {**(body or entry_body()), **changes})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["ia::result"]["key"]

    def workflow(self, action, key, **extra):
        return self.post(f"{WF}/{action}", {"key": key, **extra})

    def query(self, **body):
        return self.post(QUERY, body)

    def balance(self, account_id):
        company = provider(self.app, "intacct").state.company("DEMO")
        return company.book.balance(company.account_by_id(account_id).id)

    def token_for(self, username, **extra):
        response = self.http.post(API + "/oauth2/token", data={
            "grant_type": "client_credentials", "client_id": "mock-client", "client_secret": "mock-secret",
            "username": username, **extra})
        assert response.status_code == 200, response.get_json()
        return response.get_json()


@pytest.fixture
def app(make_app):
    """Only Intacct mounted: each test gets fresh books without compiling the other providers' specs."""
    return make_app(providers=("intacct",))


@pytest.fixture
def ia(app):
    return IntacctClient(app)


def entry_body(amount="250.00", debit="6000", credit="1000", **extra):
    return {"glJournal": {"id": "GJ"}, "postingDate": "2025-02-01", "description": "February rent", **extra,
            "lines": [{"txnType": "debit", "txnAmount": amount, "glAccount": {"id": debit}},
                      {"txnType": "credit", "txnAmount": amount, "glAccount": {"id": credit}}]}


def assert_error(response, status, error_id, message_part="", code=None):
    """Intacct's error body: `ia::error` inside `ia::result`, with the 1/0/1 meta."""
    body = response.get_json()
    assert response.status_code == status, body
    error = body["ia::result"]["ia::error"]
    assert body["ia::meta"] == {"totalCount": 1, "totalSuccess": 0, "totalError": 1}
    assert error["errorId"] == error_id, error
    assert message_part in error["message"], error
    if code:
        assert error["code"] == code, error
    assert error["supportId"] and error["additionalInfo"]["messageId"]
    return error
