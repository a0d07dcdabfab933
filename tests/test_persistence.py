"""State that outlives the process: export/import over HTTP, the write log under `kill -9`, damaged files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from mock_server.auth.hmac_signing import signature_headers
from mock_server.cli import provider_credentials
from mock_server.persistence import StateFileError, WriteLog, read
from tests.count.conftest import CountClient, entry_body
from tests.count.test_served import free_port


def test_export_then_import_rebuilds_the_same_books(make_app):
    source = make_app(frozen_time=None)
    count = CountClient(source)
    created = count.post("/journal-entries", entry_body(refNumber="EXPORT-1")).get_json()["data"]
    tenant = source.test_client().post("/_mock/tenants", json={"provider": "count", "name": "exported"}).get_json()
    mine = CountClient(source, client_id=tenant["client_id"], secret=tenant["client_secret"],
                       token=tenant["access_token"])
    mine.post("/tags", {"name": "Exported tag"})
    state = source.test_client().get("/_mock/state").get_json()
    assert state["format"] == "ledger-mock-state/1" and len(state["records"]) == 3

    target = make_app(frozen_time=None)
    imported = target.test_client().put("/_mock/state", json=state)
    assert imported.status_code == 200 and imported.get_json() == {"records": 3}
    entries = CountClient(target).get("/journal-entries", params={"search": "EXPORT-1"}).get_json()["data"]
    assert entries["journalEntries"] == [created]
    again = CountClient(target, client_id=tenant["client_id"], secret=tenant["client_secret"],
                        token=tenant["access_token"])
    assert "Exported tag" in [t["name"] for t in again.get("/tags").get_json()["data"]["tags"]]
    assert target.test_client().get("/_mock/state").get_json()["records"] == state["records"]
    assert target.test_client().put("/_mock/state", json={**state, "format": "other"}).status_code == 400


def test_fixtures_posted_as_yaml_replace_a_providers_seed_data(make_app):
    app = make_app()
    admin = app.test_client()
    document = (b"count:\n  clients: [{id: c1, secret: s1, workspace: 11111111-1111-4111-8111-111111111111}]\n"
                b"  tokens: [{client: c1, workspace: 11111111-1111-4111-8111-111111111111, accessToken: t1,"
                b" refreshToken: r1}]\n"
                b"  workspaces: [{id: 11111111-1111-4111-8111-111111111111, name: Posted, accounts: []}]\n")
    loaded = admin.post("/_mock/fixtures", data=document, headers={"Content-Type": "application/yaml"})
    assert loaded.status_code == 200 and loaded.get_json() == {"reset": ["count"]}
    count = CountClient(app)
    assert count.client_id == "c1" and count.get("/chart-of-accounts").get_json()["data"]["accounts"] == []
    dangling = admin.post("/_mock/fixtures", json={"count": {"clients": [{"id": "c2", "secret": "s", "workspace": "w9"}]}})
    assert dangling.status_code == 400 and "workspace w9, which is not defined" in dangling.get_json()["message"]
    bad = admin.post("/_mock/fixtures", json={"nobody": {}})
    assert bad.status_code == 400 and "nobody" in bad.get_json()["message"]


def serve(state_file, port):
    # Its own process group, so `kill -9` takes down whatever the server started.
    return subprocess.Popen([sys.executable, "-m", "mock_server.cli", "serve", "--port", str(port), "--providers",
                             "count", "--state-file", str(state_file), "--log-level", "warning"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def wait_up(base, process):
    for _ in range(600):
        try:
            return requests.get(base + "/_mock/clock", timeout=1)
        except requests.ConnectionError:
            if process.poll() is not None:
                pytest.fail(process.stdout.read().decode())
            time.sleep(0.05)
    pytest.fail("server did not start")


def signed(creds, method, url, body=b""):
    headers = signature_headers(creds["client_id"], creds["client_secret"], method, url.split("//", 1)[1].split("/", 1)[1],
                                body)
    headers["Authorization"] = f"Bearer {creds['access_token']}"
    if body:
        headers["Content-Type"] = "application/json"
    return requests.request(method, url, data=body or None, headers=headers, timeout=10)


def test_acknowledged_writes_survive_kill_9(tmp_path):
    import json
    state_file, port = tmp_path / "state.log", free_port()
    base = f"http://127.0.0.1:{port}"
    creds = provider_credentials("count", base)
    process = serve(state_file, port)
    wait_up(base, process)
    acknowledged = []
    for n in range(25):
        body = json.dumps(entry_body(description=f"durable {n}", date="2025-03-01")).encode()
        response = signed(creds, "POST", creds["base_url"] + "/journal-entries", body)
        assert response.status_code == 201
        acknowledged.append(response.json()["data"]["id"])
    os.killpg(process.pid, signal.SIGKILL)  # mid-flight, no shutdown
    process.wait(timeout=10)
    for _ in range(100):  # gone only when nothing answers on the port any more
        try:
            requests.get(base + "/_mock/clock", timeout=0.2)
            time.sleep(0.05)
        except requests.ConnectionError:
            break
    else:
        pytest.fail("the killed server still answers")

    restarted = serve(state_file, port)
    try:
        wait_up(base, restarted)
        listed = signed(creds, "GET", creds["base_url"] + "/journal-entries?startDate=2025-03-01&limit=100").json()
        assert sorted(e["id"] for e in listed["data"]["journalEntries"]) == sorted(acknowledged)
        accounts = signed(creds, "GET", creds["base_url"] + "/chart-of-accounts?includeBalances=true").json()
        assert sum(float(a["balance"]) for a in accounts["data"]["accounts"]) == 0
    finally:
        os.killpg(restarted.pid, signal.SIGTERM)
        restarted.wait(timeout=15)


def test_a_torn_last_record_is_reported_not_dropped(tmp_path):
    path = tmp_path / "state.log"
    log = WriteLog(path)
    log.open()
    log.append({"at": "2025-01-01T00:00:00+00:00", "seed": 1, "method": "POST", "path": "/x", "query": "",
                "headers": {}, "body": ""})
    whole = path.read_bytes()
    path.write_bytes(whole + b'0badc0de {"at": "2025')  # a write cut off mid-line
    with pytest.raises(StateFileError, match=rf"incomplete.*truncate -s {len(whole)}"):
        read(path)
    result = subprocess.run([sys.executable, "-m", "mock_server.cli", "serve", "--port", str(free_port()),
                             "--state-file", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "incomplete" in result.stderr


def test_a_damaged_record_refuses_to_start(tmp_path):
    path = tmp_path / "state.log"
    path.write_bytes(b'00000000 {"at": "x"}\n')
    with pytest.raises(StateFileError, match="line 1 .* damaged"):
        read(path)


def test_a_rewritten_log_reads_back_and_keeps_appending(tmp_path):
    path = tmp_path / "state.log"
    log = WriteLog(path)
    log.open()
    entries = [{"at": "2025-01-01T00:00:00+00:00", "seed": n, "method": "POST", "path": f"/{n}", "query": "",
                "headers": {}, "body": ""} for n in range(3)]
    for entry in entries:
        log.append(entry)
    log.rewrite(entries[1:])
    log.append(entries[0])
    assert read(path) == [entries[1], entries[2], entries[0]]
    assert not path.with_name("state.log.new").exists()


def test_resets_leave_a_log_that_replays_to_the_same_state(make_app, tmp_path):
    """Each reset rewrites the log to what the state is, so a restart (or an import) lands exactly there."""
    from mock_server.config import Config
    from mock_server.app import create_app
    state_file = tmp_path / "state.log"
    app = make_app(state_file=state_file, frozen_time=None)
    admin, acme = app.test_client(), CountClient(app)
    admin.post("/_mock/clock", json={"advanceSeconds": 120})
    acme.post("/journal-entries", entry_body(refNumber="BEFORE-RESET"))
    tenant = admin.post("/_mock/tenants", json={"provider": "count", "name": "kept"}).get_json()
    admin.post("/_mock/reset", json={"provider": "count"})  # undoes the entry and the tenant, not the clock
    acme.post("/journal-entries", entry_body(refNumber="AFTER-RESET"))
    kept = [r["operation"] for r in admin.get("/_mock/state").get_json()["records"]]
    assert kept == ["setClock", "createJournalEntry"]

    again = create_app(Config(state_file=state_file, rate_limiting=False))
    count = CountClient(again)
    refs = [e["refNumber"] for e in count.get("/journal-entries").get_json()["data"]["journalEntries"]]
    assert "AFTER-RESET" in refs and "BEFORE-RESET" not in refs
    assert tenant["tenant"] not in [t["id"] for t in again.test_client().get("/_mock/tenants").get_json()["tenants"]]
