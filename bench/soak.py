"""A soak: `ledger-mock serve` under mixed traffic for ten minutes, and its memory minute by minute.

    .venv/bin/python bench/soak.py                 # 10 minutes (the issue's target: last minute within 10% of the first)
    .venv/bin/python bench/soak.py --minutes 1     # a quick look

The traffic is what a busy CI mock sees all day, and each kind is something that once kept memory forever:
entries created and deleted again (the books stay the same size), COUNT's OAuth code flow and Intacct's client
credentials (a token per call), Aden writes with a new idempotency key each, tenants made and deleted, faults
added and retired, 1 MB bodies without credentials (the journal once kept them whole), journal reads, and
the clock moved on a week every 20 s so tokens (refreshable for 30 days) and idempotency keys expire.

Every change grows the books a little even when it is undone (the write log keeps each change, and an entry's
history outlives it). So that what is measured is what the server keeps and should not, the whole mock is reset
to its fixtures at each minute (`POST /_mock/reset`) and its RSS taken just after: the books are then the same at
every sample, and the last sample should be within 10% of the first (the one after the first minute).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import HOST, Server, call  # noqa: E402

from mock_server.auth import hmac_signing  # noqa: E402
from mock_server.cli import provider_credentials  # noqa: E402

RENT, BANK = "a0000000-0000-4000-8000-000000006000", "a0000000-0000-4000-8000-000000001000"
ADEN = "/aden/service/general-ledger"
ADEN_MANUAL = "jwt lm_aden_demo_manual_admin_9c2e5b7d"


def traffic(port: int, stop: threading.Event, counts: dict[str, int]) -> None:
    count = provider_credentials("count", f"http://{HOST}:{port}")
    intacct = provider_credentials("intacct", f"http://{HOST}:{port}")
    codat = provider_credentials("codat", f"http://{HOST}:{port}")

    def signed(method: str, path: str, body: bytes = b"") -> dict[str, str]:
        return {**hmac_signing.signature_headers(count["client_id"], count["client_secret"], method, path, body,
                                                 str(int(clock[0]))), "Authorization": f"Bearer {count['access_token']}"}

    clock = [time.time()]  # the mock's clock, as the last answer of /_mock/clock said

    def step(n: int) -> None:
        kind = n % 9
        if kind == 0:  # an entry made and deleted: the books stay the same size
            body = json.dumps({"descriptionEntry": f"soak {n}", "date": "2025-03-31", "lines": [
                {"accountUuid": RENT, "amountDebit": "10.00"}, {"accountUuid": BANK, "amountCredit": "10.00"}]}).encode()
            path = "/count/partners/journal-entries"
            status, answer = call(port, "POST", path, body, signed("POST", path, body))
            if status == 201:
                entry = f"{path}/{answer['data']['id']}"
                call(port, "DELETE", entry, None, signed("DELETE", entry))
        elif kind == 1:  # COUNT's code flow: a code and a token pair each time
            status, answer = call(port, "GET", "/count/auth2/authorize-intiate?clientId=" + count["client_id"]
                                  + "&redirectUri=http://localhost:3000/oauth/callback&state=s")
            code = answer["data"]["redirectUri"].split("code=")[1].split("&")[0]
            body = json.dumps({"code": code}).encode()
            path = "/count/auth2/grant-access-token"
            headers = hmac_signing.signature_headers(count["client_id"], count["client_secret"], "POST", path, body,
                                                     str(int(clock[0])))
            call(port, "POST", path, body, headers)
        elif kind == 2:  # Intacct's client credentials: a token each time
            form = (f"grant_type=client_credentials&client_id={intacct['client_id']}&client_secret="
                    f"{intacct['client_secret']}&username={intacct['username']}").encode()
            call(port, "POST", "/intacct/ia/api/v1/oauth2/token", form,
                 {"Content-Type": "application/x-www-form-urlencoded"})
        elif kind == 3:  # Aden: a new idempotency key each, and the draft deleted again
            entry = f"JE-SOAK-{n}"
            status, _ = call(port, "POST", ADEN + "/journal-entries", {
                "journal_entry_id": entry, "tran_date": "2025-02-12", "memo": "soak",
                "lines": [{"account_id": "6300", "debit": 5, "credit": 0}, {"account_id": "1010", "debit": 0, "credit": 5}]},
                {"Authorization": ADEN_MANUAL, "X-Idempotency-Key": f"soak-{n}"})
            if status == 201:
                call(port, "DELETE", f"{ADEN}/journal-entries/{entry}", None, {"Authorization": ADEN_MANUAL})
        elif kind == 4:  # a tenant made and deleted
            status, made = call(port, "POST", "/_mock/tenants", {"provider": ("count", "codat", "aden", "intacct")[n % 4]})
            if status == 201:
                call(port, "DELETE", "/_mock/tenants/" + made["tenant"].replace("/", "%2F"))
        elif kind == 5:  # 1 MB with no credentials at all
            call(port, "POST", "/count/partners/journal-entries", b"x" * (1 << 20))
        elif kind == 6:  # a fault that fires once
            call(port, "POST", "/_mock/faults", {"provider": "codat", "status": 503, "times": 1})
            call(port, "GET", "/codat/companies", None, {"Authorization": codat["authorization"]})
        elif kind == 7:
            call(port, "GET", "/_mock/journal?limit=50")
        else:
            path = "/count/partners/journal-entries?page=1&limit=25"
            call(port, "GET", path, None, signed("GET", path.split("?")[0]))
        counts[kind] = counts.get(kind, 0) + 1

    def clock_mover() -> None:  # tokens and idempotency keys expire, so sweeping has work to do
        while not stop.wait(20):
            _, now = call(port, "POST", "/_mock/clock", {"advanceSeconds": 7 * 86400})
            clock[0] = datetime.fromisoformat(now["now"].replace("Z", "+00:00")).timestamp()

    threading.Thread(target=clock_mover, daemon=True).start()
    for n in itertools.count():
        if stop.is_set():
            return
        step(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=10, help="at least 2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ledger-mock-soak-") as tmp:
        server = Server("ledger-mock", lambda port: [sys.executable, "-m", "mock_server.cli", "serve", "--port",
                                                      str(port), "--log-level", "warning", "--no-rate-limit",
                                                      "--state-file", str(Path(tmp) / "state.log")],
                        Path(tmp) / "server.log")
        server.start(lambda port: call(port, "GET", "/_mock/clock")[0] == 200)
        stop, counts = threading.Event(), {}
        worker = threading.Thread(target=traffic, args=(server.port, stop, counts), daemon=True)
        worker.start()
        samples = []
        started = time.monotonic()
        try:
            for minute in range(1, max(2, args.minutes) + 1):
                time.sleep(max(0.0, started + minute * 60 - time.monotonic()))
                status, _ = call(server.port, "POST", "/_mock/reset", {})
                if status != 200:
                    raise RuntimeError(f"the reset answered {status}")
                time.sleep(1)
                samples.append(server.memory().rss_mib)
                print(f"{minute:3d} min  RSS after the reset {samples[-1]:6.1f} MiB  traffic steps "
                      f"{sum(counts.values()):7d}", flush=True)
        finally:
            stop.set()
            worker.join(timeout=30)
        server.stop()
    first, last = samples[0], samples[-1]
    print(f"\nRSS after the first minute {first:.1f} MiB, after the last {last:.1f} MiB ({last - first:+.1f} MiB, "
          f"{100 * (last - first) / first:+.1f}%; the target is within 10%). {sum(counts.values())} traffic steps: "
          f"{dict(sorted(counts.items()))}")


if __name__ == "__main__":
    main()
