"""Providers as plug-ins: the example provider under examples/ is built and installed as a separate distribution
(into a folder of its own on PYTHONPATH, so the rest of the suite never sees it), and every surface of ledger-mock
works for it without a line of this repository changed: `providers`, `serve`, the admin API, the inspector,
`credentials`, the departures ledger, the served spec and `contract`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.served import Served

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "ledger-mock-example-provider"
ENTRY = {"date": "2025-01-31", "memo": "January sales",
         "lines": [{"account": "1000", "side": "debit", "amount": "120.00"},
                   {"account": "4000", "side": "credit", "amount": "120.00"}]}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    """The environment of a machine where the example distribution is installed next to ledger-mock."""
    work = tmp_path_factory.mktemp("plugin")
    shutil.copytree(EXAMPLE, work / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    site = work / "site"
    built = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                            "--no-index", "--target", str(site), str(work / "src")],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
            "LEDGER_MOCK_URL": ""}


def cli(env, *args):
    return subprocess.run([sys.executable, "-m", "mock_server.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)


def test_an_installed_provider_plug_in_works_everywhere(installed, tmp_path):
    listed = cli(installed, "providers")
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith("tally "))
    assert "ledger-mock-example-provider 0.1.0" in line and "ledger_mock_tally" in line

    with Served("--providers", "tally,count", env=installed, cwd=tmp_path) as server:
        base = server.base
        creds = cli(installed, "credentials", "--provider", "tally", "--base-url", base)
        assert creds.returncode == 0, creds.stderr
        key = json.loads(creds.stdout)["api_key"]
        auth = {"X-Api-Key": key}

        created = requests.post(f"{base}/tally/entries", json=ENTRY, headers=auth, timeout=10)
        assert created.status_code == 201, created.text
        entry = created.json()
        assert requests.get(f"{base}/tally/entries/{entry['id']}", headers=auth, timeout=10).json() == entry
        unbalanced = {**ENTRY, "lines": [ENTRY["lines"][0], {**ENTRY["lines"][1], "amount": "1.00"}]}
        refused = requests.post(f"{base}/tally/entries", json=unbalanced, headers=auth, timeout=10)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "unbalanced_entry"
        assert requests.get(f"{base}/tally/entries/{entry['id']}", timeout=10).status_code == 401
        assert requests.post(f"{base}/tally/entries", json={**ENTRY, "colour": "red"}, headers=auth,
                             timeout=10).status_code == 400  # its ledger refuses unknown fields
        assert requests.get(f"{base}/tally/entries", headers=auth, timeout=10).status_code == 501  # not mocked

        # The admin API: its tenants, a new isolated one, a reset.
        tenants = requests.get(f"{base}/_mock/tenants", timeout=10).json()["tenants"]
        assert {"provider": "tally", "id": "acme"}.items() <= next(t for t in tenants if t["provider"] == "tally").items()
        other = requests.post(f"{base}/_mock/tenants", json={"provider": "tally"}, timeout=10).json()
        assert requests.get(f"{base}/tally/entries/{entry['id']}", headers={"X-Api-Key": other["api_key"]},
                            timeout=10).status_code == 404
        # The inspector and the departures ledger.
        page = requests.get(f"{base}/_mock/ui/tally/acme", timeout=10)
        assert page.status_code == 200 and "January sales" in page.text
        ledger = requests.get(f"{base}/_mock/fidelity/tally", timeout=10)
        assert ledger.status_code == 200 and "a real Tally would also accept keys" in ledger.text
        assert "List journal entries" in ledger.text
        spec = requests.get(f"{base}/tally/openapi.json", timeout=10).json()
        assert spec["servers"][0]["url"] == f"{base}/tally"
        # The contract harness, through the plug-in's own harness module.
        contract = cli({**installed, "LEDGER_MOCK_TALLY_API_KEY": key}, "contract", "--provider", "tally",
                       "--base-url", f"{base}/tally", "--max-examples", "5", "--seed", "1")
        assert contract.returncode == 0, contract.stdout[-3000:] + contract.stderr[-2000:]
        assert "No drift" in contract.stdout and "over 2 operations matched the tally spec" in contract.stdout

        reset = requests.post(f"{base}/_mock/reset", json={"provider": "tally"}, timeout=10)
        assert reset.status_code == 200
        assert requests.get(f"{base}/tally/entries/{entry['id']}", headers=auth, timeout=10).status_code == 404


def test_a_plug_in_cannot_take_a_built_in_providers_name(installed, tmp_path):
    """A distribution registering `count` does not replace the built-in COUNT; `providers` says it was ignored."""
    site = Path(installed["PYTHONPATH"].split(os.pathsep)[0])
    dist = next(site.glob("ledger_mock_example_provider-*.dist-info"))
    shadow = tmp_path / "shadow"
    shutil.copytree(dist, shadow / dist.name)
    points = (shadow / dist.name / "entry_points.txt")
    points.write_text(points.read_text().replace("tally = ledger_mock_tally\n", "count = ledger_mock_tally\n"))
    env = {**installed, "PYTHONPATH": os.pathsep.join([str(shadow), str(site)])}
    listed = cli(env, "providers")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert next(line for line in lines if line.startswith("count ")).split()[1] == "built-in"
    assert any(line.startswith("count ") and "ignored" in line for line in lines)
