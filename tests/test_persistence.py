"""State that outlives the process: export/import over HTTP, the write log under `kill -9`, damaged files, and a
state file that does not depend on how the server is started.

(Every test that builds an app through `make_app` also checks that its write log rebuilds the state it ended
with: tests/conftest.py.)"""

from __future__ import annotations

import json
import os
import re
import stat
import threading
import time
from pathlib import Path

import pytest
import requests

from mock_server.app import create_app
from mock_server.auth.hmac_signing import signature_headers
from mock_server.cli import provider_credentials
from mock_server.config import Config
from mock_server.persistence import StateFileError, WriteLog, read
from tests.aden.conftest import MANUAL_ADMIN, PREFIX as ADEN, entry_body as aden_entry
from tests.conftest import FROZEN
from tests.count.conftest import CountClient, entry_body
from tests.served import Served
from tests.snapshot import differences, state_of

RECORD = {"v": 2, "at": "2025-01-01T00:00:00+00:00", "seed": 1, "provider": "count", "operation": "x",
          "tenant": None, "method": "POST", "path": "/x", "query": "", "headers": {}, "body": ""}
HEADER = {"format": "ledger-mock-state/2", "seed": 0, "fixtures": {}, "at": "2025-01-01T00:00:00+00:00"}


def same_state(left, right, providers=None):
    left, right = state_of(left), state_of(right)
    if providers:
        left["providers"], right["providers"] = ({n: s["providers"][n] for n in providers} for s in (left, right))
    found = differences(left, right)
    assert not found, "\n".join(found[:20])


def test_export_then_import_rebuilds_the_same_books(make_app):
    source = make_app(frozen_time=None)
    count = CountClient(source)
    created = count.post("/journal-entries", entry_body(refNumber="EXPORT-1")).get_json()["data"]
    tenant = source.test_client().post("/_mock/tenants", json={"provider": "count", "name": "exported"}).get_json()
    mine = CountClient(source, client_id=tenant["client_id"], secret=tenant["client_secret"],
                       token=tenant["access_token"])
    mine.post("/tags", {"name": "Exported tag"})
    state = source.test_client().get("/_mock/state").get_json()
    assert state["format"] == "ledger-mock-state/2" and len(state["records"]) == 3
    assert [r["path"] for r in state["records"]] == ["/partners/journal-entries", "/tenants", "/partners/tags"]

    target = make_app(frozen_time=None, seed=7)
    imported = target.test_client().put("/_mock/state", json=state)
    assert imported.status_code == 200 and imported.get_json() == {"records": 3}
    entries = CountClient(target).get("/journal-entries", params={"search": "EXPORT-1"}).get_json()["data"]
    assert entries["journalEntries"] == [created]
    again = CountClient(target, client_id=tenant["client_id"], secret=tenant["client_secret"],
                        token=tenant["access_token"])
    assert "Exported tag" in [t["name"] for t in again.get("/tags").get_json()["data"]["tags"]]
    assert target.test_client().get("/_mock/state").get_json() == state  # the export's seed came along
    same_state(source, target)
    assert target.test_client().put("/_mock/state", json={**state, "format": "other"}).status_code == 400


def test_a_version_1_export_still_imports(make_app):
    """Exports from before version 2 held each path with the mount it had then."""
    source = make_app()
    CountClient(source).post("/journal-entries", entry_body(refNumber="OLD-1"))
    state = source.test_client().get("/_mock/state").get_json()
    old = {**state, "format": "ledger-mock-state/1",
           "records": [{k: v for k, v in r.items() if k != "v"} | {"path": "/count" + r["path"]}
                       for r in state["records"]]}
    target = make_app()
    assert target.test_client().put("/_mock/state", json=old).status_code == 200
    same_state(source, target)


def test_an_import_that_does_not_replay_changes_nothing(make_app, tmp_path):
    app = make_app(state_file=tmp_path / "state.log")
    admin, count = app.test_client(), CountClient(app)
    count.post("/journal-entries", entry_body(refNumber="KEPT"))
    before, on_disk = state_of(app), (tmp_path / "state.log").read_bytes()
    state = admin.get("/_mock/state").get_json()
    broken = {**state, "records": [*state["records"], {**state["records"][0], "path": "/partners/nowhere"}]}
    refused = admin.put("/_mock/state", json=broken)
    assert refused.status_code == 422 and "replaying record 2" in refused.get_json()["message"]
    unreadable = {**state, "records": [{**state["records"][0], "seed": "x"}]}
    refused = admin.put("/_mock/state", json=unreadable)
    assert refused.status_code == 400 and "seed" in refused.get_json()["message"]
    bad_fixtures = {**state, "fixtures": {"count": {"workspaces": [{"name": "no id"}]}}}
    refused = admin.put("/_mock/state", json=bad_fixtures)
    assert refused.status_code == 400 and "cannot be loaded" in refused.get_json()["message"]
    assert not differences(before, state_of(app))
    assert (tmp_path / "state.log").read_bytes() == on_disk
    assert admin.post("/_mock/reset", json={}).status_code == 200  # bad fixtures were not kept either
    assert admin.post("/_mock/reset", json={"provider": "count"}).status_code == 200


def test_bad_fixtures_are_refused_and_never_kept(make_app):
    app = make_app()
    admin = app.test_client()
    for document in ({"count": {"workspaces": [{"id": 5}]}}, {"count": []}, {"aden": {"organisations": "x"}},
                     {"_mock": {"faults": [{"status": 503.5}]}}, {"_mock": {"faults": "x"}},
                     {"intacct": {"tokens": [{"username": "nobody"}]}}):
        refused = admin.post("/_mock/fixtures", json=document)
        assert refused.status_code == 400, (document, refused.get_json())
    for body in ({}, {"provider": "count"}):
        assert admin.post("/_mock/reset", json=body).status_code == 200
    assert CountClient(app).get("/tags").status_code == 200


def test_an_export_over_a_mebibyte_imports_back(make_app):
    source = make_app()
    count = CountClient(source)
    rows = [entry_body(description="x" * 200, refNumber=f"BIG-{n}") for n in range(100)]
    for _ in range(20):
        assert count.post("/journal-entries/bulk", {"journalEntries": rows}).status_code == 201
    exported = source.test_client().get("/_mock/state")
    assert len(exported.data) > 1 << 20
    target = make_app()
    imported = target.test_client().put("/_mock/state", data=exported.data, headers={"Content-Type": "application/json"})
    assert imported.status_code == 200, imported.get_json()
    assert CountClient(target).get("/journal-entries", params={"search": "BIG-1"}).get_json()["data"][
        "totalRecords"] == CountClient(source).get("/journal-entries", params={"search": "BIG-1"}).get_json()[
        "data"]["totalRecords"]


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


def test_yaml_aliases_cannot_blow_a_document_up(make_app):
    """369 bytes of nested aliases once stood for a 71 MB export."""
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + n)}: &{chr(98 + n)} [*{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, "
        f"*{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}]\n"
        for n in range(7))
    app = make_app()
    refused = app.test_client().post("/_mock/fixtures", data=("count:\n  " + bomb.replace("\n", "\n  ")).encode(),
                                     headers={"Content-Type": "application/yaml"})
    assert refused.status_code == 400 and "aliases" in refused.get_json()["message"]
    assert len(app.test_client().get("/_mock/state").data) < 200_000


def test_a_torn_last_record_is_reported_not_dropped(tmp_path):
    path = tmp_path / "state.log"
    log = WriteLog(path)
    log.open(HEADER)
    log.append(RECORD)
    whole = path.read_bytes()
    path.write_bytes(whole + b'0badc0de {"at": "2025')  # a write cut off mid-line
    with pytest.raises(StateFileError, match=rf"incomplete.*truncate -s {len(whole)}"):
        read(path)
    served = Served("--state-file", str(path))
    served.process.wait(timeout=60)
    output = served.process.stdout.read().decode()
    assert served.process.returncode == 1 and "incomplete" in output and "Traceback" not in output


@pytest.mark.parametrize("line, reason", [
    (b'00000000 {"at": "x"}', "damaged"),
    (None, "`seed` must be a int"),
])
def test_a_damaged_record_refuses_to_start_with_a_clear_message(tmp_path, line, reason):
    path = tmp_path / "state.log"
    if line is None:  # a line whose checksum holds, but that is no record: once a KeyError at start
        import zlib
        body = json.dumps({k: v for k, v in RECORD.items() if k != "seed"}).encode()
        line = b"%08x " % zlib.crc32(body) + body
    path.write_bytes(line + b"\n")
    with pytest.raises(StateFileError, match=f"line 1 .*{reason}"):
        read(path)
    served = Served("--state-file", str(path))
    served.process.wait(timeout=60)
    output = served.process.stdout.read().decode()
    assert served.process.returncode == 1 and "line 1" in output and "Traceback" not in output


def test_a_rewritten_log_reads_back_and_keeps_appending(tmp_path):
    path = tmp_path / "state.log"
    log = WriteLog(path)
    log.open(HEADER)
    entries = [{**RECORD, "seed": n, "path": f"/{n}"} for n in range(3)]
    for entry in entries:
        log.append(entry)
    log.rewrite(entries[1:])
    log.append(entries[0])
    assert read(path) == (HEADER, [entries[1], entries[2], entries[0]])
    assert not path.with_name("state.log.new").exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the credentials the requests carried


def test_the_log_kept_in_memory_costs_about_what_its_records_weigh():
    """A bulk create is a record of tens of kilobytes; a server keeps up to a block of them uncompressed. They
    once kept ten times their size each (orjson's allocation behind each result): 100 MiB at 100k entries."""
    import base64
    import tracemalloc

    log = WriteLog()
    bodies = [base64.b64encode(os.urandom(20_000)).decode() for _ in range(50)]
    tracemalloc.start()
    try:
        for n, body in enumerate(bodies):
            log.append({**RECORD, "seed": n, "body": body})
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    weight = sum(len(body) for body in bodies)
    assert kept < 1.5 * weight, f"{kept:,} bytes kept for {weight:,} of records"
    assert [record["body"] for record in log.records] == bodies


def test_a_state_file_is_its_owners_alone(make_app, tmp_path):
    path = tmp_path / "state.log"
    path.touch(mode=0o644)
    make_app(state_file=path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_resets_leave_a_log_that_replays_to_the_same_state(make_app, tmp_path):
    """Each reset rewrites the log to what the state is, so a restart (or an import) lands exactly there."""
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
    same_state(app, again)


def test_the_state_file_does_not_depend_on_how_the_server_was_started(tmp_path):
    """Written with rate limits off, an admin token, every provider under /<name>, seed 0 and the embedded
    fixtures; read back with rate limits on, another token, one provider at the root, another seed and other
    fixtures: the file's own fixtures and seed win, and every change still replays."""
    state_file = tmp_path / "state.log"
    first = create_app(Config(state_file=state_file, frozen_time=FROZEN, rate_limiting=False,
                              admin_token="first-secret-token"))
    admin = first.test_client()
    token = {"Authorization": "Bearer first-secret-token"}
    assert admin.post("/_mock/clock", json={"advanceSeconds": 60}, headers=token).status_code == 200
    tenant = admin.post("/_mock/tenants", json={"provider": "count"}, headers=token).get_json()
    count = CountClient(first)
    for n in range(150):  # more than COUNT's 100 a minute
        assert count.post("/tags", {"name": f"tag {n}"}).status_code == 201
    assert b"first-secret-token" not in state_file.read_bytes()

    other_fixtures = tmp_path / "fixtures.yaml"
    other_fixtures.write_text("count:\n  workspaces: []\n")
    for config in (Config(state_file=state_file, admin_token="another-token", seed=5, fixtures=other_fixtures,
                          frozen_time=FROZEN),
                   Config(state_file=state_file, providers=("count",), root_provider="count", seed=None,
                          frozen_time=FROZEN)):
        again = create_app(config)
        same_state(first, again, config.providers)
        root = "" if config.root_provider else "/count"
        mine = CountClient(again, client_id=tenant["client_id"], secret=tenant["client_secret"],
                           token=tenant["access_token"], prefix=root + "/partners")
        assert mine.get("/tags").status_code == 200
        assert CountClient(again, prefix=root + "/partners").get("/tags").get_json()["data"]["totalRecords"] >= 150


def test_changes_of_providers_not_served_are_kept_for_a_server_that_serves_them(make_app, tmp_path):
    state_file = tmp_path / "state.log"
    everything = make_app(state_file=state_file)
    CountClient(everything).post("/tags", {"name": "count's"})
    aden = everything.test_client().post(ADEN + "/journal-entries", json=aden_entry("JE-KEPT"),
                                         headers={"Authorization": f"jwt {MANUAL_ADMIN}"})
    assert aden.status_code == 201
    only_count = create_app(Config(state_file=state_file, providers=("count",), frozen_time=FROZEN))
    CountClient(only_count).post("/tags", {"name": "made without aden"})
    only_count.test_client().post("/_mock/reset", json={"provider": "count"})
    again = create_app(Config(state_file=state_file, frozen_time=FROZEN))
    got = again.test_client().get(ADEN + "/journal-entries/JE-KEPT", headers={"Authorization": f"jwt {MANUAL_ADMIN}"})
    assert got.status_code == 200


def test_a_deleted_state_file_is_written_again_before_the_next_change(make_app, tmp_path):
    state_file = tmp_path / "state.log"
    app = make_app(state_file=state_file)
    count = CountClient(app)
    assert count.post("/tags", {"name": "before"}).status_code == 201
    state_file.unlink()
    assert count.post("/tags", {"name": "after"}).status_code == 201
    names = {t["name"] for t in CountClient(create_app(Config(state_file=state_file, frozen_time=FROZEN))).get(
        "/tags", params={"limit": 100}).get_json()["data"]["tags"]}
    assert {"before", "after"} <= names


def test_a_change_that_cannot_be_made_durable_is_refused_and_not_kept(make_app, tmp_path):
    directory = tmp_path / "state"
    directory.mkdir()
    state_file = directory / "state.log"
    app = make_app(state_file=state_file)
    count = CountClient(app)
    assert count.post("/tags", {"name": "durable"}).status_code == 201
    state_file.unlink()
    state_file.mkdir()  # the log's path can no longer hold a file: nothing can be made durable
    refused = count.post("/tags", {"name": "lost"})
    # COUNT's only 5xx name is internal_error (dossier section 8); the message says what happened
    assert refused.status_code == 503 and refused.get_json()["error"] == "internal_error"
    assert "could not make this change durable" in refused.get_json()["message"]
    names = {t["name"] for t in count.get("/tags", params={"limit": 100}).get_json()["data"]["tags"]}
    assert "durable" in names and "lost" not in names
    state_file.rmdir()
    assert count.post("/tags", {"name": "again"}).status_code == 201  # the log is written whole again


def test_a_change_whose_append_fails_is_rolled_back(make_app, tmp_path, monkeypatch):
    """When the disk fails after the change applied (past the check before it), the provider is rebuilt from
    the log, so what was not acknowledged is not kept."""
    app = make_app(state_file=tmp_path / "state.log")
    count = CountClient(app)
    created = count.post("/journal-entries", entry_body(refNumber="DURABLE")).get_json()["data"]["id"]
    mock = app.extensions["ledger_mock"]
    real = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: (_ for _ in ()).throw(OSError(28, "No space left on device"))
                        if fd == mock.writes._fd else real(fd, data))
    refused = count.post("/journal-entries", entry_body(refNumber="LOST"))
    assert refused.status_code == 503 and "No space left" in refused.get_json()["message"]
    monkeypatch.setattr(os, "write", real)
    refs = {e["refNumber"] for e in count.get("/journal-entries", params={"limit": 100}).get_json()["data"][
        "journalEntries"]}
    assert "DURABLE" in refs and "LOST" not in refs
    assert created in {e["id"] for e in count.get("/journal-entries").get_json()["data"]["journalEntries"]}


# -- the real server -----------------------------------------------------------------------------------------

def signed(creds, method, url, body=b""):
    headers = signature_headers(creds["client_id"], creds["client_secret"], method,
                                url.split("//", 1)[1].split("/", 1)[1].split("?")[0], body)
    headers["Authorization"] = f"Bearer {creds['access_token']}"
    if body:
        headers["Content-Type"] = "application/json"
    return requests.request(method, url, data=body or None, headers=headers, timeout=10)


def test_acknowledged_writes_survive_kill_9(tmp_path):
    state_file = tmp_path / "state.log"
    served = Served("--providers", "count", "--state-file", str(state_file)).wait_up()
    creds = provider_credentials("count", served.base)
    acknowledged = []
    for n in range(25):
        body = json.dumps(entry_body(description=f"durable {n}", date="2025-03-01")).encode()
        response = signed(creds, "POST", creds["base_url"] + "/journal-entries", body)
        assert response.status_code == 201
        acknowledged.append(response.json()["data"]["id"])
    served.kill()  # mid-flight, no shutdown
    with Served("--providers", "count", "--state-file", str(state_file), port=served.port):
        listed = signed(creds, "GET", creds["base_url"] + "/journal-entries?startDate=2025-03-01&limit=100").json()
        assert sorted(e["id"] for e in listed["data"]["journalEntries"]) == sorted(acknowledged)
        accounts = signed(creds, "GET", creds["base_url"] + "/chart-of-accounts?includeBalances=true").json()
        assert sum(float(a["balance"]) for a in accounts["data"]["accounts"]) == 0


def test_kill_9_during_an_import_leaves_the_old_state_or_the_new_one(tmp_path):
    """Once: a 0-byte state file and a server that restarted empty."""
    state_file = tmp_path / "state.log"
    source = create_app(Config(providers=("count",), rate_limiting=False, frozen_time=FROZEN))
    count = CountClient(source)
    for n in range(1500):
        count.post("/journal-entries", entry_body(refNumber=f"NEW-{n}", date="2025-03-01"))
    exported = source.test_client().get("/_mock/state").data  # 1500 records: an import that takes a while

    served = Served("--providers", "count", "--state-file", str(state_file), "--no-rate-limit").wait_up()
    creds = provider_credentials("count", served.base)
    body = json.dumps(entry_body(refNumber="OLD-ONLY", date="2025-03-01")).encode()
    assert signed(creds, "POST", creds["base_url"] + "/journal-entries", body).status_code == 201
    threading.Thread(target=lambda: _swallow(lambda: requests.put(
        served.base + "/_mock/state", data=exported, headers={"Content-Type": "application/json"}, timeout=60)),
        daemon=True).start()
    time.sleep(0.4)  # mid-import
    served.kill()
    assert state_file.stat().st_size > 0
    with Served("--providers", "count", "--state-file", str(state_file), "--no-rate-limit", port=served.port):
        refs = {e["refNumber"] for e in signed(creds, "GET", creds["base_url"] + "/journal-entries?limit=100&search="
                                                "O").json()["data"]["journalEntries"]}
        total = signed(creds, "GET", creds["base_url"] + "/journal-entries?search=NEW-").json()["data"]["totalRecords"]
        assert ("OLD-ONLY" in refs and total == 0) or ("OLD-ONLY" not in refs and total == 1500), (refs, total)


def test_concurrent_resets_lose_no_other_tenants_writes(tmp_path):
    """Once: four threads creating Aden entries in org_demo/manual while a fifth reset org_demo/main every
    0.3 s lost two thirds of the acknowledged entries, and the state file no longer replayed."""
    state_file = tmp_path / "state.log"
    args = ("--providers", "aden", "--threads", "4", "--state-file", str(state_file),
            "--freeze-time", "2025-02-15T12:00:00")
    served = Served(*args).wait_up()
    url = served.base + ADEN + "/journal-entries"
    headers = {"Authorization": f"jwt {MANUAL_ADMIN}", "Content-Type": "application/json"}
    acknowledged, failures, stop = [], [], threading.Event()

    def create(worker):
        session = requests.Session()
        n = 0
        while not stop.is_set():
            entry_id = f"JE-W{worker}-{n}"
            answer = session.post(url, data=json.dumps(aden_entry(entry_id)), headers=headers, timeout=30)
            if answer.status_code == 201:
                acknowledged.append(entry_id)
            else:
                failures.append(answer.text)
            n += 1

    def reset():
        while not stop.is_set():
            answer = requests.post(served.base + "/_mock/reset", json={"provider": "aden", "tenant": "org_demo/main"},
                                   timeout=30)
            if answer.status_code != 200:
                failures.append(answer.text)
            time.sleep(0.3)

    workers = [threading.Thread(target=create, args=(n,)) for n in range(4)] + [threading.Thread(target=reset)]
    for worker in workers:
        worker.start()
    time.sleep(4)
    stop.set()
    for worker in workers:
        worker.join()
    assert not failures and len(acknowledged) > 50

    def listed():
        found, offset = set(), 0
        while True:
            page = requests.get(url, params={"limit": 100, "offset": offset}, headers=headers, timeout=30).json()
            found |= {row["journal_entry_id"] for row in page["data"]}
            if len(page["data"]) < 100:
                return found
            offset += 100

    assert set(acknowledged) <= listed()
    served.kill()
    with Served(*args, port=served.port):
        assert set(acknowledged) <= listed()


def _swallow(call):
    try:
        call()
    except requests.RequestException:
        pass


# -- checkpoints ---------------------------------------------------------------------------------------------

def _count_entries(app, n, prefix):
    count = CountClient(app)
    return [count.post("/journal-entries", entry_body(refNumber=f"{prefix}-{i}", date="2025-03-01"))
            .get_json()["data"]["id"] for i in range(n)]


def _checkpointed(state_file, every=20, **settings):
    return create_app(Config(providers=("count",), rate_limiting=False, frozen_time=FROZEN, state_file=state_file,
                             checkpoint_every=every, **settings))


def test_a_restart_replays_only_the_changes_after_the_last_checkpoint(tmp_path, caplog):
    state_file = tmp_path / "state.log"
    app = _checkpointed(state_file)
    _count_entries(app, 47, "CK")
    app.extensions["ledger_mock"].checkpoints.wait()
    assert stat.S_IMODE(os.stat(str(state_file) + ".checkpoint").st_mode) == 0o600

    with caplog.at_level("INFO", logger="ledger_mock"):
        again = _checkpointed(state_file)
    # Which change the last checkpoint was taken at depends on when the one before finished (one child at a time)
    restored, replayed = map(int, re.search(rf"{re.escape(str(state_file))}.checkpoint: the state after (\d+) "
                                            r"changes; replaying the (\d+) after them", caplog.text).groups())
    assert restored >= 20 and restored + replayed == 47
    same_state(app, again)
    count = CountClient(again)
    assert count.get("/journal-entries", params={"search": "CK-", "limit": 100}).get_json()["data"][
        "totalRecords"] == 47
    _count_entries(again, 1, "AFTER")  # and it goes on appending to the same log
    assert len(again.extensions["ledger_mock"].writes) == 48


@pytest.mark.parametrize("spoil, why", [
    (lambda path: path.write_bytes(path.read_bytes()[:-7] + b"garbage"), "it is damaged"),
    (lambda path: path.chmod(0o666), "it is not this user's alone"),
    (lambda path: path.write_bytes(b'{"format": "ledger-mock-checkpoint/0"}\n'), "not a checkpoint this version"),
])
def test_a_checkpoint_that_cannot_be_trusted_is_ignored_and_the_whole_log_replayed(tmp_path, caplog, spoil, why):
    state_file = tmp_path / "state.log"
    app = _checkpointed(state_file)
    _count_entries(app, 25, "CK")
    app.extensions["ledger_mock"].checkpoints.wait()
    spoil(Path(str(state_file) + ".checkpoint"))
    with caplog.at_level("INFO", logger="ledger_mock"):
        again = _checkpointed(state_file, every=1000)
    assert why in caplog.text and "replaying the whole log" in caplog.text
    same_state(app, again)


def test_a_checkpoint_is_used_only_with_the_log_and_settings_it_was_taken_with(tmp_path, caplog):
    state_file = tmp_path / "state.log"
    app = _checkpointed(state_file)
    _count_entries(app, 25, "CK")
    app.extensions["ledger_mock"].checkpoints.wait()
    with caplog.at_level("INFO", logger="ledger_mock"):
        other = _checkpointed(state_file, every=1000, root_provider="count")  # another mount: replayed
    assert "taken by another version of the code or with other settings" in caplog.text
    same_state(app, other)

    caplog.clear()
    plain = _checkpointed(state_file, every=0)  # a server that keeps no checkpoints rewrites the log
    assert plain.test_client().post("/_mock/reset", json={"provider": "count"}).status_code == 200
    _count_entries(plain, 3, "NEW")
    with caplog.at_level("INFO", logger="ledger_mock"):
        later = _checkpointed(state_file)
    assert "does not match the log" in caplog.text and "the state after" not in caplog.text
    same_state(plain, later)


def test_a_reset_rewrites_the_log_and_the_next_checkpoint_covers_the_new_one(tmp_path, caplog):
    state_file = tmp_path / "state.log"
    app = _checkpointed(state_file)
    admin = app.test_client()
    tenant = admin.post("/_mock/tenants", json={"provider": "count", "name": "other"}).get_json()
    _count_entries(app, 30, "KEPT")
    mine = CountClient(app, client_id=tenant["client_id"], secret=tenant["client_secret"],
                       token=tenant["access_token"])
    for n in range(15):
        mine.post("/tags", {"name": f"Tag {n}"})
    app.extensions["ledger_mock"].checkpoints.wait()  # (one being written when the reset comes is followed by
    # the next as soon as it is done and a change comes)
    assert admin.post("/_mock/reset", json={"provider": "count", "tenant": tenant["tenant"]}).status_code == 200
    app.extensions["ledger_mock"].checkpoints.wait()
    with caplog.at_level("INFO", logger="ledger_mock"):
        again = _checkpointed(state_file)
    assert "the state after 31 changes; replaying the 0 after them" in caplog.text
    same_state(app, again)


def test_kill_9_during_a_checkpoint_loses_no_acknowledged_write(tmp_path):
    """The server and its checkpointing child are killed together while the child writes; the restart uses the
    checkpoint before it (or none) and the log, and holds every acknowledged write. One writer grows the books
    a hundred entries at a time, so each checkpoint takes a while to write; two others make single entries."""
    state_file = tmp_path / "state.log"
    args = ("--providers", "count", "--state-file", str(state_file), "--no-rate-limit", "--threads", "3",
            "--checkpoint-every", "5")
    served = Served(*args).wait_up()
    creds = provider_credentials("count", served.base)
    acknowledged, stop = [], threading.Event()

    def write(worker):
        n = 0
        while not stop.is_set():
            bulk = worker == 0
            one = entry_body(refNumber=f"W{worker}-{n}", date="2025-03-01")
            body = json.dumps({"journalEntries": [one] * 100} if bulk else one).encode()
            try:
                answer = signed(creds, "POST", creds["base_url"] + "/journal-entries" + ("/bulk" if bulk else ""),
                                body)
            except requests.RequestException:
                return
            if answer.status_code == 201 and not bulk:
                acknowledged.append(answer.json()["data"]["id"])
            n += 1

    workers = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for worker in workers:
        worker.start()
    aside, last = Path(str(state_file) + ".checkpoint.new"), Path(str(state_file) + ".checkpoint")
    deadline = time.monotonic() + 60
    while not (aside.exists() and last.exists() and len(acknowledged) >= 20) and time.monotonic() < deadline:
        time.sleep(0.001)
    assert aside.exists(), "no checkpoint was being written within 60 s"
    served.kill()  # the whole process group: the child mid-write too
    stop.set()
    for worker in workers:
        worker.join()

    def listed(base):
        found, page = set(), 1
        while True:
            answer = signed(creds, "GET", f"{base}/journal-entries?startDate=2025-03-01&limit=100&page={page}")
            rows = answer.json()["data"]["journalEntries"]
            found |= {row["id"] for row in rows}
            if len(rows) < 100:
                return found
            page += 1

    with Served(*args, port=served.port):
        resumed = listed(creds["base_url"])
    with Served(*args[:-2], "--checkpoint-every", "0", port=served.port):
        replayed = listed(creds["base_url"])
    assert set(acknowledged) <= resumed and resumed == replayed
