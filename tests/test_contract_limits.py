"""The contract harness against a target that throttles (issue 18, item 3), run as users run it.

The target is the mock over real HTTP, made to throttle through its fault injection (`POST /_mock/faults`): a 429
with `Retry-After: 1` for a few calls, a sliding-window limit, or one that never lifts. A 429 that the harness can
wait out is no drift; one that persists past `--max-wait` is; `--max-requests` and `--time-budget` bound a run and
it says what it left unexercised.
"""

from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import requests

from contract_tests.session import HarnessSession
from tests.conftest import provider
from tests.test_contract import cli


@pytest.fixture
def target(make_app, live_server):
    """(base URL of the mock, credential environment for `ledger-mock contract`, a way to add a fault)."""
    def start(name, wrap=lambda app: app):
        app = make_app(providers=(name,), validate_responses=False, frozen_time=None)
        root = live_server(wrap(app))
        env = {f"LEDGER_MOCK_{name.upper()}_{key.upper()}": value
               for key, value in provider(app, name).credentials("").items() if isinstance(value, str)}

        def fault(**rule):
            response = requests.post(root + "/_mock/faults", json={"provider": name, **rule}, timeout=10)
            assert response.status_code == 201, response.text
        return root, env, fault
    return start


def contract(root, name, env, cwd, *args):
    return cli("contract", "--provider", name, "--base-url", f"{root}/{name}", "--seed", "1", "--report", "drift.md",
               *args, env=env, cwd=cwd)


def waited(output):
    found = re.search(r"waited ([\d.]+) s for \d+ rate-limited", output)
    assert found, output[-3000:]
    return float(found[1])


def test_a_target_that_throttles_is_waited_out_not_reported(target, tmp_path):
    """Three 429s with Retry-After: 1, then a sliding-window limit on every call, as `ledger-mock serve` with
    COUNT's limit on (a window of a second, not a minute)."""
    root, env, fault = target("count")
    fault(status=429, times=3)
    fault(limit=30, window_s=1)
    result = contract(root, "count", env, tmp_path, "--include", "listTags", "--max-examples", "2", "--no-stateful")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "No drift" in result.stdout and "No drift" in (tmp_path / "drift.md").read_text()
    waits = re.search(r"waited ([\d.]+) s for (\d+) rate-limited answer", result.stdout)
    assert waits and int(waits[2]) > 3 and float(waits[1]) >= int(waits[2]), result.stdout[-3000:]


def test_a_429_that_persists_is_reported_against_its_operation(target, tmp_path):
    root, env, fault = target("count")
    fault(operation="listTags", status=429)
    started = time.monotonic()
    result = contract(root, "count", env, tmp_path, "--include", "listTags", "--max-examples", "2", "--no-stateful",
                      "--max-wait", "2")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert time.monotonic() - started < 40
    section = (tmp_path / "drift.md").read_text().split("## GET /partners/tags\n", 1)
    assert len(section) == 2, (tmp_path / "drift.md").read_text()[:3000]
    assert "rate limit persisted" in section[1] and "429" in section[1]
    assert "GET /partners/tags" in result.stdout


def test_max_requests_bounds_the_run_and_names_what_it_left(target, tmp_path):
    sent = []
    root, env, fault = target("count", counting(sent))
    result = contract(root, "count", env, tmp_path, "--max-examples", "2", "--max-requests", "12")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert len(sent) == 12
    assert "12 requests" in result.stdout and "request budget (12)" in result.stdout
    unexercised = result.stdout.split("Not exercised:", 1)[1]
    assert "POST /partners/journal-entries" in unexercised and "provider rules" in unexercised
    assert "Not exercised" in (tmp_path / "drift.md").read_text()


def test_time_budget_stops_the_run_in_time(target, tmp_path):
    root, env, fault = target("count")
    fault(latency_ms=500)  # every call: a whole run would take many minutes
    started = time.monotonic()
    result = contract(root, "count", env, tmp_path, "--max-examples", "5", "--time-budget", "3")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    stopped = re.search(r"the time budget \(3 s\) ran out after \d+ requests and ([\d.]+) s", result.stdout)
    assert stopped, result.stdout[-3000:]
    assert 3 <= float(stopped[1]) < 4  # the budget, then at most the answer under way
    assert "Not exercised:" in result.stdout and "stateful sequences" in result.stdout
    assert elapsed < 60, elapsed  # the budget plus starting Python and generating the tests


def counting(sent):
    """Wraps the target to note every request the harness sends (the test's own /_mock calls aside)."""
    def wrap(app):
        def app_counting(environ, start_response):
            if not environ["PATH_INFO"].startswith("/_mock"):
                sent.append(environ["PATH_INFO"])
            return app(environ, start_response)
        return app_counting
    return wrap


def test_a_wait_that_would_pass_the_time_budget_ends_the_run_instead_of_reporting_drift(target, tmp_path):
    sent = []
    root, env, fault = target("count", counting(sent))
    fault(operation="listTags", status=429)  # Retry-After: 1, longer than the whole budget
    result = contract(root, "count", env, tmp_path, "--include", "listTags", "--max-examples", "2", "--no-stateful",
                      "--time-budget", "0.5")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "would run out during a 1.0 s wait" in result.stdout
    unexercised = result.stdout.split("Not exercised:", 1)[1]
    assert "GET /partners/tags" in unexercised and "provider rules" in unexercised
    assert len(sent) == 1  # nothing more once the budget is spent


def without_retry_after(app):
    def strip(environ, start_response):
        return app(environ, lambda status, headers, *rest: start_response(
            status, [(k, v) for k, v in headers if k.lower() != "retry-after"], *rest))
    return strip


def test_without_retry_after_the_documented_backoff_applies(target, tmp_path):
    """Aden documents no limit (dossier D23): the harness backs off as Codat's SDKs do, 0.5 s then 1.5 times
    longer each time."""
    root, env, fault = target("aden", without_retry_after)
    fault(status=429, times=2)
    result = contract(root, "aden", env, tmp_path, "--include", "listAccounts", "--max-examples", "2",
                      "--no-stateful")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert 1.2 <= waited(result.stdout) < 2


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def test_without_retry_after_a_documented_window_is_waited_until_a_slot_frees():
    """COUNT documents 100 requests in any 60 s (D13); here 3 in any 2 s. The fourth call is refused with no
    header: the harness waits until the first of its three leaves the window, not a whole window more."""
    calls = []

    def app(environ, start_response):
        calls.append(time.monotonic())
        start_response("429 Too Many Requests" if len(calls) == 4 else "200 OK", [("Content-Type", "text/plain")])
        return [b""]
    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        session = HarnessSession(documented_limit="3/2s")
        for _ in range(4):
            assert session.get(f"http://127.0.0.1:{server.server_port}/", timeout=5).status_code == 200
    finally:
        server.shutdown()
    assert len(calls) == 5
    assert calls[4] - calls[0] >= 1.95 and sum(session.waits) < 2  # not a whole window more


def test_the_harness_goes_through_the_proxy_the_environment_names(monkeypatch):
    """A real provider is often reached through a proxy: every request of a run goes through HTTP_PROXY, except
    to the hosts NO_PROXY names (the session reads the environment once per origin, not once per request)."""
    seen: dict[str, list[str]] = {"proxy": [], "target": []}

    def server(name):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                seen[name].append(self.path)  # a proxy is asked for the absolute URL
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return httpd

    proxy, target = server("proxy"), server("target")
    try:
        url = f"http://127.0.0.1:{target.server_port}"
        for name in ("NO_PROXY", "no_proxy", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_port}")
        session = HarnessSession()
        assert [session.get(f"{url}/a").status_code, session.get(f"{url}/b").status_code] == [200, 200]
        assert seen == {"proxy": [f"{url}/a", f"{url}/b"], "target": []}
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert HarnessSession().get(f"{url}/c").status_code == 200
        assert seen["target"] == ["/c"]
    finally:
        proxy.shutdown()
        target.shutdown()
