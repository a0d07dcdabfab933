"""`ledger-mock drift`: our specs against vendor-published ones, and against deliberately altered copies."""

from __future__ import annotations

import copy
import subprocess
import sys

import yaml

from contract_tests.drift import compare
from mock_server import data_dir
from mock_server.spec import load_document
from tests.conftest import VENDOR_SPECS

VENDOR = VENDOR_SPECS


def drift(*args):
    return subprocess.run([sys.executable, "-m", "mock_server.cli", "drift", *args], capture_output=True, text=True,
                          timeout=120)


def test_intacct_against_sages_published_spec():
    result = drift("--provider", "intacct", "--vendor-spec", str(VENDOR / "intacct" / "general-ledger.openapi.yaml"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Static drift: `intacct.yaml` against `general-ledger.openapi.yaml`")
    assert "operations in our spec" in result.stdout
    # Sage's file has no workflow paths (its README says so): each of ours is reported as missing there.
    assert "## POST /ia/api/v1/workflows/general-ledger/journal-entry/submit" in result.stdout
    assert "| operation | not in the vendor spec | yes |" in result.stdout


def test_codat_against_both_published_specs_fails_only_when_asked(tmp_path):
    specs = ["--vendor-spec", str(VENDOR / "codat" / "Codat-Accounting.2023-04-26.yaml"),
             "--vendor-spec", str(VENDOR / "codat" / "Codat-Platform.yaml")]
    assert drift("--provider", "codat", *specs).returncode == 0
    strict = drift("--provider", "codat", *specs, "--fail-on-breaking", "--report", str(tmp_path / "codat.md"))
    assert strict.returncode == 1
    report = (tmp_path / "codat.md").read_text()
    assert "22 operations in our spec, 22 also in the vendor's" in report  # every one of ours is Codat's


def test_each_kind_of_difference_is_found_and_classified(tmp_path):
    ours = data_dir("openapi") / "count.yaml"
    theirs = copy.deepcopy(load_document(ours))
    schemas = theirs["components"]["schemas"]
    del theirs["paths"]["/partners/tags/{id}"]["delete"]  # an operation the vendor does not have
    schemas["AnchorTier"]["enum"].remove("CATEGORY")  # a dropped enum value
    schemas["Tag"]["properties"]["color"] = {"type": "integer"}  # a changed type
    schemas["Vendor"]["properties"]["legalName"] = {"type": "string"}  # a field only the vendor returns
    vendor_file = tmp_path / "vendor.yaml"
    vendor_file.write_text(yaml.safe_dump(theirs))

    differences, counts = compare(ours, [vendor_file])
    found = {(d.operation, d.what, d.breaking) for d in differences}
    assert ("DELETE /partners/tags/{id}", "not in the vendor spec", True) in found
    assert ("GET /partners/account-sub-types",
            "`data.subTypes[].anchorTier` values only we list: CATEGORY", False) in found
    assert any(op == "GET /partners/tags/{id}" and "`data.color` is string here, integer at the vendor" in what
               and breaking for op, what, breaking in found)
    assert any(op == "GET /partners/vendors" and "legalName" in what and not breaking for op, what, breaking in found)
    assert counts["compared"] == counts["ours"] - 1
    identical, _ = compare(ours, [ours])
    assert identical == []
