"""Sage Intacct: OAuth2 client credentials fetched from the target's own token endpoint, refreshed before
they expire, sent as a Bearer token."""

from __future__ import annotations

import threading
import time
from typing import Any, Iterator, Mapping

from ..probes import Probe
from ..snapshot import Copy, mock_secret, money, slug

CREDENTIALS = ("client_id", "client_secret", "username")
ERROR_SCHEMA = "ErrorResponse"
MONEY_FIELDS = frozenset({"txnAmount", "amount", "totalDebit", "totalCredit", "baseAmount"})
RULE_REFUSALS = ("400", "422")
API = "/ia/api/v1"


def unwrap(body: Any) -> Any:
    return body.get("ia::result") if isinstance(body, dict) else None


class Tokens:
    def __init__(self, session: Any, base_url: str, credentials: Mapping[str, str]):
        self.session, self.url, self.credentials = session, base_url + API + "/oauth2/token", credentials
        self._token, self._refresh, self._expires = None, None, 0.0
        self._lock = threading.Lock()

    def current(self) -> str:
        with self._lock:
            if self._token is None or time.time() > self._expires - 30:
                self._fetch()
            return self._token

    def _fetch(self) -> None:
        form = {"client_id": self.credentials["client_id"], "client_secret": self.credentials["client_secret"]}
        if self._refresh:
            form.update(grant_type="refresh_token", refresh_token=self._refresh)
        else:
            form.update(grant_type="client_credentials", username=self.credentials["username"])
        response = self.session.post(self.url, data=form, timeout=30)
        if response.status_code != 200 and self._refresh:  # refresh token gone: start over
            self._refresh = None
            return self._fetch()
        response.raise_for_status()
        body = response.json()
        self._token, self._refresh = body["access_token"], body.get("refresh_token")
        self._expires = time.time() + float(body.get("expires_in", 3600))


_tokens: dict[int, Tokens] = {}


def install(schema: Any, credentials: Mapping[str, str], session: Any, base_url: str) -> None:
    @schema.auth(refresh_interval=None)
    class IntacctAuth:
        def get(self, case: Any, ctx: Any) -> Tokens:
            return _tokens_for(session, base_url, credentials)

        def set(self, case: Any, tokens: Tokens, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {tokens.current()}"}


def _tokens_for(session: Any, base_url: str, credentials: Mapping[str, str]) -> Tokens:
    return _tokens.setdefault(id(session), Tokens(session, base_url, credentials))


def probes(session: Any, base_url: str, credentials: Mapping[str, str], *, read_only: bool) -> Iterator[Probe]:
    tokens = _tokens_for(session, base_url, credentials)
    auth = {"Authorization": f"Bearer {tokens.current()}"}
    yield Probe(f"GET {API}/objects/general-ledger/account", "a forged bearer token is refused",
                session.get(base_url + API + "/objects/general-ledger/account",
                            headers={"Authorization": "Bearer forged"}, timeout=30), expected={400, 401})
    if read_only:
        return
    accounts = (session.get(base_url + API + "/objects/general-ledger/account", headers=auth,
                            timeout=30).json().get("ia::result") or [])[:2]
    journals = (session.get(base_url + API + "/objects/general-ledger/journal", headers=auth,
                            timeout=30).json().get("ia::result") or [])[:1]
    if len(accounts) < 2 or not journals:
        return
    # A draft need not be complete (seed); the balance rule applies when it is submitted. The probe's draft
    # never posts, and is deleted again.
    entries = base_url + API + "/objects/general-ledger/journal-entry"
    body = {"glJournal": {"id": journals[0]["id"]}, "postingDate": time.strftime("%Y-%m-%d"),
            "description": "contract probe: unbalanced draft", "state": "draft",
            "lines": [{"glAccount": {"id": accounts[0]["id"]}, "txnType": "debit", "txnAmount": "10.00"},
                      {"glAccount": {"id": accounts[1]["id"]}, "txnType": "credit", "txnAmount": "9.99"}]}
    created = session.post(entries, json=body, headers=auth, timeout=30)
    yield Probe(f"POST {API}/objects/general-ledger/journal-entry", "an unbalanced draft is accepted",
                created, expected={201})
    if created.status_code != 201:
        return
    key = created.json()["ia::result"]["key"]
    yield Probe(f"POST {API}/workflows/general-ledger/journal-entry/submit", "an unbalanced draft is refused at submit",
                session.post(base_url + API + "/workflows/general-ledger/journal-entry/submit", json={"key": key},
                             headers=auth, timeout=30), expected={400, 422})
    session.delete(f"{entries}/{key}", headers=auth, timeout=30)


# -- snapshot (`ledger-mock snapshot`) ---------------------------------------------------------------------------

def snapshot(reader: Any, credentials: Mapping[str, str], tenant: str) -> Copy:
    """The company the username names: its chart, journals and journal entries, each read with GET (the list
    gives keys, a GET of each gives the record), so the query service (POST /services/core/query) is not needed.
    A reversal is written as its original's `reverseDate` with the reversal's keys, as the fixtures replay it."""
    tokens = Tokens(reader.session, reader.base_url, credentials)
    reader.headers = lambda: {"Authorization": f"Bearer {tokens.current()}"}
    user, _, company = credentials["username"].partition("|")[0].partition("@")

    def every(path: str) -> list[dict[str, Any]]:
        keys, start = [], 1
        while True:
            body = reader.get(API + path, {"start": start, "size": 4000})
            keys += [row["key"] for row in unwrap(body)]
            start = (body.get("ia::meta") or {}).get("next")
            if not start or not unwrap(body):
                return [unwrap(reader.get(f"{API}{path}/{key}")) for key in keys]

    accounts = sorted(every("/objects/general-ledger/account"), key=lambda a: int(a["key"]))
    journals = sorted(every("/objects/general-ledger/journal"), key=lambda j: int(j["key"]))
    entries = sorted(every("/objects/general-ledger/journal-entry"), key=lambda e: int(e["key"]))
    by_key = {entry["key"]: entry for entry in entries}
    reversals = {entry["reversedBy"]["key"] for entry in entries if (entry.get("reversedBy") or {}).get("key")}
    login = f"{slug(tenant)}@{company}"
    client = mock_secret("intacct", tenant, "client")
    section = {
        "clients": [{"id": client, "secret": mock_secret("intacct", tenant, "secret")}],
        "tokens": [{"accessToken": mock_secret("intacct", tenant, "access"),
                    "refreshToken": mock_secret("intacct", tenant, "refresh"), "client": client, "username": login}],
        "accounts": [{"id": a["id"], "name": a["name"], "accountType": a["accountType"],
                      "normalBalance": a["normalBalance"], "closingType": a["closingType"],
                      **({"disallowDirectPosting": True} if a.get("disallowDirectPosting") else {}),
                      **({"status": "inactive"} if a.get("status") == "inactive" else {})} for a in accounts],
        "journals": [{"id": j["id"], "name": j["name"],
                      **({"isAdjustment": True} if j.get("isAdjustment") else {}),
                      **({"disallowDirectPosting": True} if j.get("disallowDirectPosting") else {}),
                      **({"status": j["status"]} if j.get("status") not in (None, "active") else {})}
                     for j in journals],
        "companies": {company: {
            # An entry waiting for a further approval shows the company approves in two levels; nothing reads more.
            "approvalLevels": 2 if any(e["state"] == "partiallyApproved" for e in entries) else 1,
            "entries": [_entry_row(entry, by_key) for entry in entries if entry["key"] not in reversals]}}}
    return Copy(section, defaults=[
        f"the copy's login, {login} (the username read with is a credential, so it is not written)",
        "the number of approval levels: 2 when an entry is partiallyApproved, else 1",
        "per entry, what the fixtures cannot hold: createdBy/modifiedBy (admin), moduleName, attachment, tax, "
        "baseLocation, and per line anything beyond account, side, amount, description and dimensions; an "
        "automaticReversalDate becomes a reversal on that date (the entry reads reversed before it, not "
        "reversalPending)",
        "txnNumber, renumbered per journal in key order"],
        counts={"accounts": len(accounts), "journals": len(journals), "journal entries": len(entries)})


def _entry_row(entry: Mapping[str, Any], by_key: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    row = {"key": entry["key"], "journal": entry["glJournal"]["id"], "postingDate": entry["postingDate"],
           "description": entry["description"], "state": entry["state"]}
    if entry.get("referenceNumber"):
        row["referenceNumber"] = entry["referenceNumber"]
    reversal = by_key.get((entry.get("reversedBy") or {}).get("key"))
    if reversal is not None:  # the fixtures reverse a posted entry, which makes it `reversed`
        row.update(state="posted", reverseDate=reversal["postingDate"], reversalKey=reversal["key"],
                   reversalLineKeys=[line["key"] for line in reversal["lines"]])
    row["lines"] = [_line_row(line) for line in entry["lines"]]
    return row


def _line_row(line: Mapping[str, Any]) -> dict[str, Any]:
    row = {"key": line["key"], "txnType": line["txnType"], "txnAmount": money(line["txnAmount"]),
           "account": line["glAccount"]["id"]}
    if line.get("description"):
        row["description"] = line["description"]
    dimensions = {name: {k: v for k, v in value.items() if k in ("key", "id", "name") and v is not None}
                  for name, value in (line.get("dimensions") or {}).items()}
    if any(dimensions.values()):
        row["dimensions"] = {name: value for name, value in dimensions.items() if value}
    return row
