"""A newcomer's first five minutes (issue 21): the banner `serve` prints, the index at `/`, the hint for a path
that misses the provider's prefix, `credentials` finding the running server, `/_mock/credentials`, and the
specs served with this server's URL."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from html import escape
from urllib.parse import quote

import pytest
import requests
import yaml

from mock_server import providers
from mock_server.cli import find_server, provider_credentials, serve_record
from tests.served import Served

ALL = providers.names()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`ledger-mock serve` with every provider, in a home of its own (so its record is the one found)."""
    home = tmp_path_factory.mktemp("home")
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(home / "run"),
           "XDG_CACHE_HOME": str(home / "cache")}
    env.pop("LEDGER_MOCK_URL", None)
    with Served("--freeze-time", "2025-01-31T12:00:00", "--log-level", "info", env=env,
                output=home / "stderr.txt") as server:
        yield server.base, env, server.output, server.process


def test_the_banner_says_where_everything_is(served):
    base, _, stderr, _ = served
    text = stderr.read_text()
    for name in ALL:
        assert f"{base}/{name} " in text
        assert f"{base}/{name}/openapi.yaml" in text
    assert f"{base}/_mock/ui" in text
    assert f"{base}/_mock " in text
    assert "ledger-mock credentials --provider" in text
    assert "frozen at 2025-01-31T12:00:00Z" in text
    logged = next(json.loads(line) for line in text.splitlines() if line.startswith('{"event": "serving"'))
    assert logged["providers"] == {name: f"{base}/{name}" for name in ALL}
    assert logged["clock_frozen_at"] == "2025-01-31T12:00:00Z" and logged["admin_token"] is None
    assert "Listening at" not in text and "Started worker" not in text  # granian's lines only at debug


def test_the_index_answers_json_and_html(served):
    base = served[0]
    about = requests.get(base + "/", timeout=5)
    assert about.status_code == 200 and about.headers["Content-Type"].startswith("application/json")
    listed = {p["name"]: p for p in about.json()["providers"]}
    assert set(listed) == set(ALL)
    assert listed["count"]["base_url"] == f"{base}/count"
    assert listed["count"]["departures"] == f"{base}/_mock/fidelity/count"
    page = requests.get(base + "/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, timeout=5)
    assert page.headers["Content-Type"].startswith("text/html")
    for name in ALL:
        assert f"/_mock/fidelity/{name}" in page.text and f"{base}/{name}/openapi.yaml" in page.text
    assert "/_mock/ui" in page.text


def test_every_fixture_tenant_is_on_the_served_inspectors_first_page(served):
    """As a newcomer opens it, before any client has called a provider (Intacct's companies included)."""
    from tests.test_inspector import fixture_tenants
    html = requests.get(served[0] + "/_mock/ui", timeout=10).text
    missing = [(name, tenant) for (name, tenant), shown in fixture_tenants().items()
               if f'href="/_mock/ui/{name}/{quote(tenant, safe="")}"' not in html or escape(shown) not in html]
    assert not missing, missing


def test_a_path_without_the_provider_prefix_names_the_right_one(served):
    base = served[0]
    missed = requests.get(base + "/partners/tags", timeout=5)
    assert missed.status_code == 404
    assert missed.json()["error"] == "not_found"
    assert missed.json()["hint"] == "did you mean /count/partners/tags?"
    intacct = requests.get(base + "/ia/api/v1/objects/general-ledger/journal-entry", timeout=5).json()
    assert intacct["hint"] == "did you mean /intacct/ia/api/v1/objects/general-ledger/journal-entry?"


def test_credentials_finds_the_running_server(served):
    base, env, _, _ = served
    result = subprocess.run([sys.executable, "-m", "mock_server.cli", "credentials", "--provider", "count"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["base_url"] == f"{base}/count/partners"
    assert f"credentials for the server at {base} (the `ledger-mock serve` running as pid" in result.stderr
    over_http = requests.get(base + "/_mock/credentials", params={"provider": "count"}, timeout=5).json()
    assert over_http == json.loads(result.stdout)


def test_credentials_and_serve_say_what_is_wrong_without_a_traceback(tmp_path):
    """Once a traceback each: an unknown provider, a fixtures file that is not YAML, fixtures that define no
    credentials for the provider asked about."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("count: [1, 2\n")
    cases = [(["credentials", "--provider", "nope"], "Error: unknown provider(s): nope; available: "),
             (["credentials", "--provider", "count", "--fixtures", str(broken)],
              f"Error: {broken}: cannot be read as YAML: "),
             (["serve", "--port", "0", "--fixtures", str(broken)], f"Error: {broken}: cannot be read as YAML: ")]
    for name in ALL:
        empty = tmp_path / f"{name}.yaml"
        empty.write_text(f"{name}: {{}}\n")
        cases.append((["credentials", "--provider", name, "--fixtures", str(empty)],
                      f"Error: The {name} fixtures define no "))
    for args, said in cases:
        result = subprocess.run([sys.executable, "-m", "mock_server.cli", *args], capture_output=True, text=True,
                                timeout=120, env={**os.environ, "LEDGER_MOCK_URL": "http://127.0.0.1:9"})
        assert result.returncode == 1 and said in result.stderr and "Traceback" not in result.stderr, (args, result)


def test_credentials_can_be_asked_from_many_threads_at_once(served, monkeypatch):
    """CI once failed with SystemError "AST constructor recursion depth mismatch": client threads asked for
    credentials at once, each built a Flask app, and CPython 3.11 cannot run `ast.parse` (werkzeug compiles routes
    with it) on two threads at once (gh-106905). The spy turns that rare race into a certain failure."""
    base = served[0]
    inside, real_parse = [], ast.parse

    def parse_alone(*args, **kwargs):
        inside.append(threading.get_ident())
        try:
            time.sleep(0.005)
            assert len(inside) == 1, "ast.parse ran on two threads at once"
            return real_parse(*args, **kwargs)
        finally:
            inside.remove(threading.get_ident())

    expected = {provider: provider_credentials(provider, base) for provider in ALL}  # imports done (pytest
    # rewrites a module's asserts with ast.parse as it first imports it)
    monkeypatch.setattr(ast, "parse", parse_alone)
    asked = [provider for provider in ALL for _ in range(4)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda provider: provider_credentials(provider, base), asked))
    assert answers == [expected[provider] for provider in asked]
    for provider, answer in expected.items():
        assert answer == requests.get(base + "/_mock/credentials", params={"provider": provider}, timeout=5).json()


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_every_served_spec_names_this_server(served, fmt):
    base = served[0]
    for name in ALL:
        answer = requests.get(f"{base}/{name}/openapi.{fmt}", timeout=10)  # no credentials needed
        assert answer.status_code == 200, (name, answer.text[:200])
        spec = yaml.safe_load(answer.text) if fmt == "yaml" else answer.json()
        assert spec["servers"][0]["url"] == f"{base}/{name}"
        assert spec["paths"]


# -- in-process --------------------------------------------------------------------------------------------------


def test_server_discovery_order(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.delenv("LEDGER_MOCK_URL", raising=False)
    assert find_server(None)[0] == "http://127.0.0.1:8080"
    serve_record().parent.mkdir(parents=True)
    serve_record().write_text(json.dumps({"pid": os.getpid(), "base_url": "http://127.0.0.1:9999"}))
    assert find_server(None)[0] == "http://127.0.0.1:9999"
    monkeypatch.setenv("LEDGER_MOCK_URL", "http://127.0.0.1:7777")
    assert find_server(None)[0] == "http://127.0.0.1:7777"
    assert find_server("http://h:1")[:2] == ("http://h:1", "--base-url")
    monkeypatch.delenv("LEDGER_MOCK_URL")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    serve_record().write_text(json.dumps({"pid": gone.pid, "base_url": "http://127.0.0.1:9999"}))
    assert find_server(None)[0] == "http://127.0.0.1:8080"  # its process is gone


def test_root_provider_keeps_its_envelope_and_still_serves_index_and_spec(make_app):
    client = make_app(providers=("count",), root_provider="count").test_client()
    assert client.get("/").get_json()["providers"][0]["base_url"] == "http://localhost"
    assert client.get("/count/openapi.json").get_json()["servers"][0]["url"] == "http://localhost"
    missing = client.get("/nothing-here").get_json()
    assert missing["statusCode"] == 404 and "hint" not in missing  # COUNT's envelope, not the index's
    credentials = client.get("/_mock/credentials?provider=count").get_json()
    assert credentials["base_url"] == "http://localhost/partners"


def test_admin_credentials_refuses_an_unserved_provider_and_needs_the_token(make_app):
    client = make_app(providers=("codat",)).test_client()
    assert client.get("/_mock/credentials?provider=count").status_code == 404
    every = client.get("/_mock/credentials").get_json()  # every served provider's, by name
    assert list(every) == ["codat"] and every["codat"]["base_url"].startswith("http://localhost/codat")
    guarded = make_app(providers=("codat",), admin_token="t0ken").test_client()
    assert guarded.get("/_mock/credentials?provider=codat").status_code == 401
    assert guarded.get("/codat/openapi.yaml").status_code == 200  # the spec is open to all
    answer = guarded.get("/_mock/credentials?provider=codat", headers={"Authorization": "Bearer t0ken"})
    assert answer.status_code == 200 and answer.get_json()["base_url"].startswith("http://localhost/codat")


def test_spec_paths_never_collide_with_a_provider_route(make_app):
    app = make_app()
    mock = app.extensions["ledger_mock"]
    for name in mock.providers:
        for operation in mock.specs[name].operations.values():
            assert operation.path.split("/")[1] not in mock.providers, (name, operation.path)
    assert app.test_client().get("/nope/openapi.json").status_code == 404
