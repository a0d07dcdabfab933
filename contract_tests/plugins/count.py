"""COUNT: HMAC-SHA256 over the exact bytes that go on the wire, plus the OAuth bearer token.

Schemathesis builds the body after auth providers run, so the auth provider only marks a request as
"to be signed" and the session signs the final PreparedRequest. Probes that strip credentials (the
ignored_auth check) drop the marker too, and go out unsigned, as they should.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Callable, Iterator, Mapping

import requests

from mock_server.auth.hmac_signing import signature_headers

from ..probes import Probe
from ..snapshot import Copy, mock_secret, money

CREDENTIALS = ("client_id", "client_secret", "access_token")
ERROR_SCHEMA = "Error"
MONEY_FIELDS = frozenset({"amountDebit", "amountCredit", "totalDebit", "totalCredit", "amount", "balance"})
RATE_LIMIT = "100/m"  # per client id, a sliding window (dossier D13): how long to wait on a 429 without Retry-After
SIGN_ME = "__sign-at-send__"


def unwrap(body: Any) -> Any:
    return body.get("data") if isinstance(body, dict) else None


def install(schema: Any, credentials: Mapping[str, str], session: Any, base_url: str,
            clock: Callable[[], float] = time.time) -> None:
    @schema.auth()
    class CountAuth:
        def get(self, case: Any, ctx: Any) -> str:
            return credentials["access_token"]

        def set(self, case: Any, token: str, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "x-client-id": credentials["client_id"], "x-timestamp": "0",
                            "x-signature": SIGN_ME, "Authorization": f"Bearer {token}"}

    session.before_send.append(signer(credentials, clock))


def signer(credentials: Mapping[str, str], clock: Callable[[], float] = time.time
           ) -> Callable[[requests.PreparedRequest], None]:
    """The session hook that signs a request marked SIGN_ME over its final bytes, at the moment it is sent."""
    def sign(request: requests.PreparedRequest) -> None:
        if request.headers.get("x-signature") == SIGN_ME:
            body = request.body or b""
            request.headers.update(signature_headers(
                credentials["client_id"], credentials["client_secret"], request.method or "GET", request.path_url,
                body.encode() if isinstance(body, str) else body, str(int(clock()))))
    return sign


def probes(session: Any, base_url: str, credentials: Mapping[str, str], *, read_only: bool) -> Iterator[Probe]:
    """Rules fuzzing rarely hits by chance, asked directly."""
    marked = {"x-client-id": credentials["client_id"], "x-timestamp": "0", "x-signature": SIGN_ME,
              "Authorization": f"Bearer {credentials['access_token']}"}
    url = base_url.rstrip("/") + "/partners"

    forged = dict(marked, **{"x-timestamp": str(int(time.time())), "x-signature": "0" * 64})
    yield Probe("GET /partners/chart-of-accounts", "a wrong HMAC signature is refused with 401",
                session.get(url + "/chart-of-accounts", headers=forged, timeout=30), expected={401})

    if read_only:
        return
    accounts = unwrap(session.get(url + "/chart-of-accounts", headers=marked, timeout=30).json()) or {}
    ids = [a["id"] for a in accounts.get("accounts", []) if a.get("status") == "active"][:2]
    if len(ids) < 2:
        return
    body = json.dumps({"descriptionEntry": "contract probe: unbalanced", "date": time.strftime("%Y-%m-%d"),
                       "lines": [{"accountUuid": ids[0], "amountDebit": "10.00"},
                                 {"accountUuid": ids[1], "amountCredit": "9.99"}]}).encode()
    response = session.post(url + "/journal-entries", data=body,
                            headers=dict(marked, **{"Content-Type": "application/json"}), timeout=30)
    yield Probe("POST /partners/journal-entries", "an unbalanced entry (10.00 debit, 9.99 credit) is refused",
                response, expected={400, 422})
    if response.status_code < 300:  # clean up after a target that broke the rule
        created = unwrap(response.json()) or {}
        if created.get("id"):
            session.delete(f"{url}/journal-entries/{created['id']}", headers=marked, timeout=30)


# -- snapshot (`ledger-mock snapshot`) ---------------------------------------------------------------------------

TRANSACTION_FIELDS = {"accountId": "accUuid", "categoryAccountId": "categoryAccountUuid"}  # read name -> write name
TRANSACTION_FLAGS = ("reviewed", "excluded", "pending", "split", "reconciled")


def snapshot(reader: Any, credentials: Mapping[str, str], tenant: str) -> Any:
    """The workspace the token opens: chart (inactive accounts too), vendors, customers, tags, journal entries with
    their status and source, and the bank transactions that are not an entry's own lines, each list read page by
    page. Line ids are not kept: COUNT's fixtures (like its API) let the ledger number an entry's lines."""
    reader.session.before_send.append(signer(credentials))
    reader.headers = {"x-client-id": credentials["client_id"], "x-timestamp": "0", "x-signature": SIGN_ME,
                      "Authorization": f"Bearer {credentials['access_token']}"}

    def every(path: str, key: str, limit: int, **params: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while True:
            data = unwrap(reader.get(path, {"page": len(rows) // limit + 1, "limit": limit, **params}))
            rows += data[key]
            if not data[key] or len(rows) >= data["totalRecords"]:
                return rows

    accounts = every("/partners/chart-of-accounts", "accounts", 5000, inactive="true")
    entries = every("/partners/journal-entries", "journalEntries", 100)
    line_ids = {line["id"] for entry in entries for line in entry["lines"]}
    # Journal lines on bank, card and cash accounts show as transactions of their own (ids = line ids): the
    # entries bring those back.
    transactions = [t for t in every("/partners/transactions", "transactions", 100) if t["id"] not in line_ids]
    directory = {kind: [{k: v for k, v in row.items() if k not in ("createdAt", "updatedAt")}
                        for row in every(f"/partners/{kind}", kind, 100)] for kind in ("vendors", "customers", "tags")}
    currencies = [a["currency"] for a in accounts if a.get("currency")]
    workspace = str(uuid.uuid5(uuid.NAMESPACE_URL, f"ledger-mock-snapshot/count/{tenant}"))
    client = mock_secret("count", tenant, "client")
    section = {
        "clients": [{"id": client, "secret": mock_secret("count", tenant, "secret"), "name": f"{tenant} (snapshot)",
                     "workspace": workspace, "redirectUris": ["http://localhost:3000/oauth/callback"]}],
        "tokens": [{"client": client, "workspace": workspace, "accessToken": mock_secret("count", tenant, "access"),
                    "refreshToken": mock_secret("count", tenant, "refresh")}],
        "workspaces": [{
            "id": workspace, "name": tenant,
            "currency": max(set(currencies), key=currencies.count) if currencies else "USD",
            "accounts": [_account_row(a) for a in accounts], **directory,
            "journalEntries": [_entry_row(e) for e in reversed(entries)],  # listed newest first; made oldest first
            "transactions": [_transaction_row(t) for t in transactions]}]}
    return Copy(section, defaults=[
        "the workspace's id and name (from the tenant name) and its closed-through date (none: COUNT has no read "
        "of its period lock)",
        "journal line ids (new ones; entry ids are kept)",
        "excluded transactions (the transaction list leaves them out)"],
        counts={"accounts": len(accounts), "journal entries": len(entries), "transactions": len(transactions),
                **{kind: len(rows) for kind, rows in directory.items()}})


def _present(row: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: row[key] for key in keys if row.get(key) not in (None, [])}


def _account_row(account: Mapping[str, Any]) -> dict[str, Any]:
    row = {"id": account["id"], **_present(account, ("accountNumber", "name", "subTypeId", "currency", "description",
                                                     "color", "institutionId", "taxes"))}
    if account.get("status") == "inactive":
        row["status"] = "inactive"
    if account.get("editable") is False:
        row["system"] = True
    return row


def _entry_row(entry: Mapping[str, Any]) -> dict[str, Any]:
    row = {"id": entry["id"], "descriptionEntry": entry["descriptionEntry"], "date": entry["date"],
           **_present(entry, ("refNumber",)), "status": entry["status"]}
    if entry.get("withCaution"):
        row["withCaution"] = True
    if entry.get("source") not in (None, "manual"):
        row["source"] = entry["source"]
    row["lines"] = [{"accountUuid": line["accountUuid"],
                     **{side: money(line[side]) for side in ("amountDebit", "amountCredit") if line.get(side)},
                     **_present(line, ("descriptionLine",))} for line in entry["lines"]]
    return row


def _transaction_row(transaction: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"id": transaction["id"]}
    for name, value in transaction.items():
        if name in ("id", "createdAt", "updatedAt") or value in (None, [], False):
            continue
        row[TRANSACTION_FIELDS.get(name, name)] = money(value) if name == "amount" else value
    return row
