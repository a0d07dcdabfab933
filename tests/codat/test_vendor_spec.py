"""The mock's responses against Codat's own published specs (vendored, unchanged), not only against ours."""

from __future__ import annotations

import re
from functools import lru_cache

import jsonschema_rs
import yaml

from tests.codat.conftest import ACME, BLANK, XERO, CodatClient, entry
from tests.conftest import VENDOR_SPECS

VENDOR = VENDOR_SPECS / "codat"
SPECS = ("Codat-Sync-Payroll.yaml", "Codat-Platform.yaml")


@lru_cache(maxsize=None)
def vendor(name: str) -> dict:
    with open(VENDOR / name, "rb") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def resolve(document: dict, node: dict) -> dict:
    while "$ref" in node:
        target = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def vendor_validators(method: str, path: str, status: int) -> list[tuple[str, object]]:
    """(spec name, validator) for every vendored spec documenting this operation and status."""
    found = []
    for name in SPECS:
        document = vendor(name)
        for template, item in document["paths"].items():
            if method.lower() in item and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path):
                responses = item[method.lower()]["responses"]
                response = responses.get(str(status))
                if response is None:
                    continue
                schema = resolve(document, response)["content"]["application/json"]["schema"]
                found.append((name, jsonschema_rs.Draft202012Validator(
                    {**schema, "components": document["components"], "paths": document["paths"]},
                    validate_formats=True)))
    return found


def check(response, method: str, path: str, seen: set) -> dict:
    validators = vendor_validators(method, path, response.status_code)
    assert validators, f"{method} {path} {response.status_code} is in none of Codat's specs"
    body = response.get_json()
    for name, validator in validators:
        errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(body)]
        assert not errors, f"{name} {method} {path} {response.status_code}: {errors[:3]}"
        seen.add((name, method, re.sub(r"[0-9a-f-]{36}", "{id}", path), response.status_code))
    return body


def test_responses_match_codats_published_schemas(app):
    codat, seen = CodatClient(app), set()

    def call(method, path, json=None, **params):
        response = codat.request(method, path, json, params=params or None)
        return check(response, method, path, seen)

    call("GET", "/companies", pageSize=1)
    company = call("POST", "/companies", {"name": "Vendor Check Ltd", "tags": {"source": "test"}})
    call("GET", f"/companies/{company['id']}")
    call("GET", f"/companies/{ACME}/connections")
    call("POST", f"/companies/{company['id']}/connections", {"platformKey": "gbol"})
    call("GET", f"/companies/{ACME}/data/journalEntries", page=2, pageSize=1, query="metadata.isDeleted=false")
    call("GET", f"/companies/{ACME}/data/journalEntries/je-2025-0003")
    call("GET", f"/companies/{ACME}/connections/{XERO}/options/journalEntries")
    pushed = call("POST", f"/companies/{ACME}/connections/{XERO}/push/journalEntries", entry(), timeoutInMinutes=5)
    call("GET", f"/companies/{ACME}/push/{pushed['pushOperationKey']}")
    call("DELETE", f"/companies/{ACME}/connections/{XERO}/push/journalEntries/{pushed['data']['id']}")
    call("DELETE", f"/companies/{ACME}/connections/{XERO}/push/journalEntries/{pushed['data']['id']}")  # Failed
    call("GET", f"/companies/{ACME}/push", orderBy="-requestedOnUtc")
    pull = call("POST", f"/companies/{ACME}/data/queue/journalEntries", connectionId=XERO)
    call("POST", f"/companies/{ACME}/data/queue/invoices")  # NotSupported
    call("GET", f"/companies/{ACME}/data/history/{pull['id']}")
    call("GET", f"/companies/{ACME}/data/history", orderBy="-requested")
    call("GET", f"/companies/{ACME}/dataStatus")
    call("GET", f"/companies/{ACME}/connections/{XERO}")
    call("PUT", f"/companies/{company['id']}", {"name": "Vendor Check Renamed", "description": "replaced"})
    call("PATCH", f"/companies/{ACME}/connections/{XERO}", {"status": "Unlinked"})
    # Error bodies, where the vendor documents the status.
    call("GET", f"/companies/{BLANK}/data/journalEntries")  # 409
    call("GET", f"/companies/{ACME}/data/journalEntries", query="nope=1")  # 400
    call("POST", f"/companies/{ACME}/connections/{XERO}/push/journalEntries", entry(("6300", 1), ("1000", -2)))
    call("GET", "/companies/00000000-0000-4000-8000-000000000000")  # 404
    unauthorized = CodatClient(app, key=None).get("/companies")
    check(unauthorized, "GET", "/companies", seen)

    operations = {(method, path) for _, method, path, _ in seen}
    assert len(operations) == 20
    assert {name for name, *_ in seen} == set(SPECS)
