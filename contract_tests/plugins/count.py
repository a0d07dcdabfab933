"""COUNT: HMAC-SHA256 over the exact bytes that go on the wire, plus the OAuth bearer token.

Schemathesis builds the body after auth providers run, so the auth provider only marks a request as
"to be signed" and the session signs the final PreparedRequest. Probes that strip credentials (the
ignored_auth check) drop the marker too, and go out unsigned, as they should.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Iterator, Mapping

import requests

from mock_server.auth.hmac_signing import signature_headers

from ..probes import Probe

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

    def sign(request: requests.PreparedRequest) -> None:
        if request.headers.get("x-signature") == SIGN_ME:
            body = request.body or b""
            request.headers.update(signature_headers(
                credentials["client_id"], credentials["client_secret"], request.method or "GET", request.path_url,
                body.encode() if isinstance(body, str) else body, str(int(clock()))))

    session.before_send.append(sign)


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
