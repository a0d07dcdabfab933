"""Codat: `Authorization: Basic <base64 of the API key>` on every request."""

from __future__ import annotations

import base64
from typing import Any, Iterator, Mapping

from ..probes import Probe

CREDENTIALS = ("api_key",)
ERROR_SCHEMA = "ErrorMessage"
MONEY_FIELDS = frozenset({"netAmount", "totalAmount", "amount"})
RULE_REFUSALS = ("400", "402", "409")  # dossier D6: rule failures are 400; company limit 402; conflicts 409


def unwrap(body: Any) -> Any:
    return body


def _header(api_key: str) -> str:
    return "Basic " + base64.b64encode(api_key.encode()).decode()


def install(schema: Any, credentials: Mapping[str, str], session: Any, base_url: str) -> None:
    @schema.auth()
    class CodatAuth:
        def get(self, case: Any, ctx: Any) -> str:
            return _header(credentials["api_key"])

        def set(self, case: Any, header: str, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": header}


def probes(session: Any, base_url: str, credentials: Mapping[str, str], *, read_only: bool) -> Iterator[Probe]:
    auth = {"Authorization": _header(credentials["api_key"])}
    yield Probe("GET /companies", "an unknown API key is refused with 401",
                session.get(base_url + "/companies", headers={"Authorization": _header("not-a-key")}, timeout=30),
                expected={401})
    if read_only:
        return
    companies = session.get(base_url + "/companies", headers=auth, timeout=30).json().get("results", [])
    for company in companies:
        connections = session.get(f"{base_url}/companies/{company['id']}/connections", headers=auth,
                                  timeout=30).json().get("results", [])
        entries = session.get(f"{base_url}/companies/{company['id']}/data/journalEntries", headers=auth,
                              timeout=30).json().get("results", [])
        accounts = [line["accountRef"] for entry in entries for line in entry.get("journalLines") or []
                    if line.get("accountRef")]
        if connections and len(accounts) >= 2:
            body = {"postedOn": "2025-01-31T00:00:00", "description": "contract probe: unbalanced",
                    "journalLines": [{"netAmount": 10.00, "currency": "GBP", "accountRef": accounts[0]},
                                     {"netAmount": -9.99, "currency": "GBP", "accountRef": accounts[1]}]}
            url = f"{base_url}/companies/{company['id']}/connections/{connections[0]['id']}/push/journalEntries"
            yield Probe("POST /companies/{companyId}/connections/{connectionId}/push/journalEntries",
                        "journal lines that do not sum to zero are refused", session.post(url, json=body,
                                                                                         headers=auth, timeout=30),
                        expected={400})
            return
