"""Aden: `Authorization: jwt <token>` (the scheme word is jwt, not Bearer)."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from ..probes import Probe

CREDENTIALS = ("token",)
ERROR_SCHEMA = "Error"
MONEY_FIELDS = frozenset({"debit", "credit", "total_debit", "total_credit", "balance", "opening_balance",
                          "min_amount", "max_amount", "amount"})
RULE_REFUSALS = ("400", "409")  # business rules are 400; status conflicts 409 INVALID_STATUS
GL = "/service/general-ledger"


def unwrap(body: Any) -> Any:
    return body.get("data", body) if isinstance(body, dict) else body


def install(schema: Any, credentials: Mapping[str, str], session: Any, base_url: str) -> None:
    @schema.auth()
    class AdenAuth:
        def get(self, case: Any, ctx: Any) -> str:
            return credentials["token"]

        def set(self, case: Any, token: str, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"jwt {token}"}


def probes(session: Any, base_url: str, credentials: Mapping[str, str], *, read_only: bool) -> Iterator[Probe]:
    auth = {"Authorization": f"jwt {credentials['token']}"}
    yield Probe(f"GET {GL}/accounts", "a Bearer token is refused: Aden's scheme word is jwt",
                session.get(base_url + GL + "/accounts", headers={"Authorization": f"Bearer {credentials['token']}"},
                            timeout=30), expected={401})
    if read_only:
        return
    accounts = [a["account_id"] for a in unwrap(session.get(base_url + GL + "/accounts", headers=auth,
                                                            timeout=30).json()) or []
                if not a.get("is_inactive") and not a.get("is_summary")][:2]
    periods = [p for p in unwrap(session.get(base_url + GL + "/accounting-periods", headers=auth,
                                             timeout=30).json()) or []
               if not p.get("is_closed") and not p.get("is_adjustment_period")]
    if len(accounts) < 2 or not periods:
        return
    body = {"journal_entry_id": "CONTRACT-PROBE-UNBALANCED", "tran_date": periods[0]["start_date"], "memo": "contract probe: unbalanced",
            "lines": [{"account_id": accounts[0], "debit": 10.00, "credit": 0},
                      {"account_id": accounts[1], "debit": 0, "credit": 9.99}]}
    yield Probe(f"POST {GL}/journal-entries", "an unbalanced entry is refused",
                session.post(base_url + GL + "/journal-entries", json=body, headers=auth, timeout=30),
                expected={400})
