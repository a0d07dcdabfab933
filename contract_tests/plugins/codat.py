"""Codat: `Authorization: Basic <base64 of the API key>` on every request."""

from __future__ import annotations

import base64
import uuid
from typing import Any, Iterator, Mapping

from ..probes import Probe
from ..snapshot import Copy, mock_secret, money

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


# -- snapshot (`ledger-mock snapshot`) ---------------------------------------------------------------------------

CONTROL_KINDS = {"AccountsReceivable": "AR", "AccountsPayable": "AP"}  # the end of fullyQualifiedCategory
COMPANY_FIELDS = ("description", "created", "lastSync", "createdByUserName", "products", "tags")
ENTRY_FIELDS = ("description", "postedOn", "createdOn", "updatedOn", "modifiedDate", "sourceModifiedDate",
                "journalRef", "recordRef", "supplementalData")


def snapshot(reader: Any, credentials: Mapping[str, str], tenant: str) -> Copy:
    """Every company the key sees (a key sees its whole client): the company, its connections, its chart
    (`data/accounts`: type, and AR/AP from the category) and its journal entries, deleted ones included, each
    list read page by page. A company whose data set was never pulled (409) is copied without chart or entries."""
    reader.headers = {"Authorization": _header(credentials["api_key"])}

    def every(path: str) -> list[dict[str, Any]] | None:
        """Every record of a list, or None when the company's data set was never pulled (409)."""
        rows: list[dict[str, Any]] = []
        while True:
            body = reader.get(path, {"page": len(rows) // 5000 + 1, "pageSize": 5000}, absent=(409,))
            if body is None:
                return None
            rows += body["results"]
            if not body["results"] or len(rows) >= body["totalResults"]:
                return rows

    companies, counts = [], {"companies": 0, "accounts": 0, "journal entries": 0}
    for company in every("/companies"):
        path = f"/companies/{company['id']}"
        connections = every(path + "/connections") or []
        row: dict[str, Any] = {"id": company["id"], "name": company["name"],
                               **{k: company[k] for k in COMPANY_FIELDS if company.get(k) not in (None, [], {})}}
        row["connections"] = [{"id": c["id"], "platformKey": c["integrationKey"], "status": c["status"],
                               "created": c["created"], **({"lastSync": c["lastSync"]} if c.get("lastSync") else {})}
                              for c in connections]
        accounts = every(path + "/data/accounts")
        if accounts is not None:
            entries = every(path + "/data/journalEntries") or []
            if accounts:
                row["baseCurrency"] = accounts[0]["currency"]
            row["chartOfAccounts"] = [_account_row(a) for a in accounts]
            row["journalEntries"] = [_entry_row(e) for e in entries]
            counts["accounts"] += len(accounts)
            counts["journal entries"] += len(entries)
        companies.append(row)
    counts["companies"] = len(companies)
    client = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"ledger-mock-snapshot/codat/{tenant}")), "name": tenant,
              "apiKeys": [{"key": mock_secret("codat", tenant, "key")}], "companies": companies}
    return Copy({"clients": [client]}, defaults=[
        "the client's id and name (from the tenant name) and company limit (none)",
        "each connection's push delay and outcome (immediate Success) and pull delay (none): mock settings",
        "push and pull history",
        "per entry, what the fixtures cannot hold: currencyRef, currencyRate, subsidiaryRefs, and per line "
        "taxAmount and taxRateRef"], counts=counts)


def _account_row(account: Mapping[str, Any]) -> dict[str, Any]:
    row = {"id": account["id"], "name": account["name"], "type": account["type"].lower()}
    kind = CONTROL_KINDS.get((account.get("fullyQualifiedCategory") or "").rpartition(".")[2])
    if kind:
        row["kind"] = kind
    return row


def _entry_row(entry: Mapping[str, Any]) -> dict[str, Any]:
    row = {"id": entry["id"], **{k: entry[k] for k in ENTRY_FIELDS if entry.get(k) is not None}}
    if (entry.get("metadata") or {}).get("isDeleted"):
        row["isDeleted"] = True
    row["journalLines"] = [{"netAmount": money(line["netAmount"]), "currency": line["currency"],
                            **{k: line[k] for k in ("description", "contactRef", "tracking") if k in line},
                            "accountRef": {"id": line["accountRef"]["id"]}} for line in entry["journalLines"]]
    return row
