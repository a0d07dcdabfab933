"""Tally's contract-harness plug-in (the interface: contract_tests/plugins/__init__.py in ledger-mock)."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from contract_tests.probes import Probe

CREDENTIALS = ("api_key",)
ERROR_SCHEMA = "Error"
MONEY_FIELDS = frozenset({"amount", "total"})
RULE_REFUSALS = ("400",)  # an unbalanced entry or an unknown account


def unwrap(body: Any) -> Any:
    return body  # Tally answers records without an envelope


def install(schema: Any, credentials: Mapping[str, str], session: Any, base_url: str) -> None:
    @schema.auth()
    class TallyAuth:
        def get(self, case: Any, ctx: Any) -> str:
            return credentials["api_key"]

        def set(self, case: Any, key: str, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "X-Api-Key": key}


def probes(session: Any, base_url: str, credentials: Mapping[str, str], *, read_only: bool) -> Iterator[Probe]:
    yield Probe("GET /entries/{id}", "a wrong API key is refused",
                session.get(f"{base_url}/entries/any", headers={"X-Api-Key": "wrong"}, timeout=30), expected={401})
    if read_only:
        return
    body = {"date": "2025-01-31", "memo": "contract probe: unbalanced",
            "lines": [{"account": "1000", "side": "debit", "amount": "10.00"},
                      {"account": "4000", "side": "credit", "amount": "9.99"}]}
    yield Probe("POST /entries", "an unbalanced entry is refused",
                session.post(f"{base_url}/entries", json=body, headers={"X-Api-Key": credentials["api_key"]},
                             timeout=30), expected={400})
