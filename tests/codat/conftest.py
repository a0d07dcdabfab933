from __future__ import annotations

import base64

import pytest

KEY = "lm_codat_key_4f8a2c9e1b7d4e6fa3c5b9d1e7f2a8c4"
REVOKED_KEY = "lm_codat_key_revoked_9d2e7c4a1f6b"
OTHER_KEY = "lm_codat_key_other_7b3d9f1a2c4e6a8b"
ACME = "8a210b68-6988-41ed-a1eb-0242ac120002"
BLANK = "3b9e4f1c-2d7a-4c68-8e5f-9a0b1c2d3e4f"
OTHER = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
XERO = "51baa045-4836-4317-a42e-3542e991e581"
OTHER_CONNECTION = "c0ffee00-1234-4abc-8def-0123456789ab"


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(key.encode()).decode()


class CodatClient:
    """Sends what Codat's SDKs send: Basic base64(API key), JSON bodies, paths under the /codat mount."""

    def __init__(self, app, key: str | None = KEY, prefix: str = "/codat"):
        self.http, self.prefix = app.test_client(), prefix
        self.headers = {"Authorization": basic(key)} if key else {}

    def request(self, method, path, json=None, *, params=None, headers=None):
        return self.http.open(self.prefix + path, method=method, json=json, query_string=params,
                              headers={**self.headers, **(headers or {})})

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.request("POST", path, json, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def push(self, body, company=ACME, connection=XERO, **kwargs):
        return self.post(f"/companies/{company}/connections/{connection}/push/journalEntries", body, **kwargs)

    def remove(self, entry_id, company=ACME, connection=XERO, **kwargs):
        return self.delete(f"/companies/{company}/connections/{connection}/push/journalEntries/{entry_id}", **kwargs)

    def entries(self, company=ACME, **params):
        return self.get(f"/companies/{company}/data/journalEntries", params=params)


@pytest.fixture
def app(make_app):
    """Codat alone: building every provider's strict validators for each test would dominate the run time."""
    return make_app(providers=("codat",))


@pytest.fixture
def codat(app):
    return CodatClient(app)


def assert_error(response, status, error, *, service="PublicApi", item_part=None):
    """Codat's error body, with the status, `error` text and, when given, a validation item mentioning item_part."""
    body = response.get_json()
    assert response.status_code == status, body
    assert body["statusCode"] == status and body["service"] == service, body
    assert body["error"] == error, body
    assert body["canBeRetried"] == "Unknown" and body["detailedErrorCode"] == 0
    assert len(body["correlationId"]) == 32
    if item_part is not None:
        items = body["validation"]["errors"]
        assert any(item_part in (i.get("itemId") or "") + " " + i["message"] for i in items), items
    return body


def entry(*lines, posted_on="2025-02-14", description="Office supplies", **extra):
    lines = lines or (("6300", 42.5), ("1000", -42.5))
    return {"description": description, "postedOn": posted_on, **extra,
            "journalLines": [{"netAmount": amount, "accountRef": {"id": account}} for account, amount in lines]}


def fixtures_with(tmp_path, **connection):
    """The default Codat fixtures with the Xero connection of Acme changed (delay, outcome, status)."""
    import yaml

    from mock_server import data_dir
    document = yaml.safe_load((data_dir("fixtures") / "codat.yaml").read_text())
    acme = document["codat"]["clients"][0]["companies"][0]
    acme["connections"][0].update(connection)
    path = tmp_path / "codat.yaml"
    path.write_text(yaml.safe_dump(document))
    return path
