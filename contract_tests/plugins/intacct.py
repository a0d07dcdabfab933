"""Sage Intacct: OAuth2 client credentials fetched from the target's own token endpoint, refreshed before
they expire, sent as a Bearer token."""

from __future__ import annotations

import threading
import time
from typing import Any, Iterator, Mapping

from ..probes import Probe

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
