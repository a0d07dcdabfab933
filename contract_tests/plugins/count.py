"""COUNT: HMAC-SHA256 over the exact bytes that go on the wire, plus the OAuth bearer token.

Schemathesis builds the body after auth providers run, so the auth provider only marks a request as
"to be signed" and the session signs the final PreparedRequest. Probes that strip credentials (the
ignored_auth check) drop the marker too, and go out unsigned, as they should.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

import requests
import schemathesis

from mock_server.auth.hmac_signing import signature_headers

SIGN_ME = "__sign-at-send__"


class SigningSession(requests.Session):
    def __init__(self, credentials: Mapping[str, str], clock: Callable[[], float]):
        super().__init__()
        self.credentials, self.clock = credentials, clock  # read at send time: a fixture may fill them late

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if request.headers.get("x-signature") == SIGN_ME:
            body = request.body or b""
            body = body.encode() if isinstance(body, str) else body
            request.headers.update(signature_headers(self.credentials["client_id"], self.credentials["client_secret"],
                                                     request.method or "GET",
                                                     request.path_url, body, str(int(self.clock()))))
        return super().send(request, **kwargs)


def install(schema: Any, credentials: Mapping[str, str], clock: Callable[[], float] = time.time) -> requests.Session:
    @schema.auth()
    class CountAuth:
        def get(self, case: Any, ctx: Any) -> str:
            return credentials["access_token"]

        def set(self, case: Any, token: str, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "x-client-id": credentials["client_id"], "x-timestamp": "0",
                            "x-signature": SIGN_ME, "Authorization": f"Bearer {token}"}

    return SigningSession(credentials, clock)
