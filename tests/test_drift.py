"""`ledger-mock drift`: our specs against vendor-published ones, and against deliberately altered copies."""

from __future__ import annotations

import copy
import re
import subprocess
import sys

import pytest
import yaml

from contract_tests.drift import Document, Field, compare
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
    assert strict.returncode == 1  # real differences: the seed's fields below, and more against the 2023 file
    report = (tmp_path / "codat.md").read_text()
    ours, also = re.search(r"(\d+) operations in our spec, (\d+) also in the vendor's", report).groups()
    assert ours == also  # every one of ours is Codat's


# What really differs between our Codat spec and Codat-Sync-Payroll.yaml, Codat's newest journal-entry contract,
# for a client written against ours. Our spec keeps the seed's journal-entry fields, which Codat's specs no longer
# have (openapi/codat.fidelity.yaml, `seed-only-fields`), and lists fewer values of enums Codat answers with.
SEED_ONLY = ("currencyRef", "currencyRef.id", "currencyRef.name", "currencyRate", "subsidiaryRefs",
             "subsidiaryRefs[]", "subsidiaryRefs[].id", "subsidiaryRefs[].name", "journalLines[].taxAmount",
             "journalLines[].taxRateRef", "journalLines[].taxRateRef.id", "journalLines[].taxRateRef.name")
REAL_AGAINST_SYNC_PAYROLL = {
    *((where, f"`{name}` is ours only") for where in ("response 200",) for name in SEED_ONLY),
    *(("request", f"`{name}` is ours only") for name in
      ("currencyRef.id", "subsidiaryRefs[].id", "journalLines[].taxRateRef.id")),
    # connections: ours are all Accounting; pushes: all journalEntries; dataset statuses: fewer of them
    *(("response 200", f"`{name}` values only the vendor lists") for name in
      ("sourceType", "dataConnections[].sourceType", "dataType", "changes[].recordRef.dataType", "status")),
}


def test_codat_breaking_differences_are_exactly_the_real_ones():
    """Against Codat-Sync-Payroll.yaml `--fail-on-breaking` fails for what really differs and nothing else:
    not for fields reached through references into lists, nor for an enum's `null` (the field's nullability)."""
    result = drift("--provider", "codat", "--vendor-spec", str(VENDOR / "codat" / "Codat-Sync-Payroll.yaml"),
                   "--fail-on-breaking")
    assert result.returncode == 1, result.stderr
    breaking = {(where, re.sub(r"`(data\.|results\[\]\.)", "`", what.split(":")[0]).strip())
                for where, what, flag in re.findall(r"^\| (.+?) \| (.+?) \| (yes|no) \|$", result.stdout, re.M)
                if flag == "yes"}
    assert breaking == REAL_AGAINST_SYNC_PAYROLL


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


def test_references_follow_every_json_pointer():
    """RFC 6901: list indices, `~1` for `/` and `~0` for `~` in names, percent-encoding in a URI fragment."""
    document = Document({
        "paths": {"/companies/{companyId}": {"get": {"parameters": [{"name": "companyId", "in": "path"}]}}},
        "components": {"schemas": {
            "Account": {"allOf": [{"type": "object"}, {"properties": {"metadata": {"type": "object"}}}]},
            "a~b/c": {"type": "string"},
            "~1": {"type": "integer"},
            "Alias": {"$ref": "#/components/schemas/Account/allOf/1/properties/metadata"},
        }},
    })
    assert document.resolve({"$ref": "#/components/schemas/Account/allOf/1/properties/metadata"}) == {
        "type": "object"}
    assert document.resolve({"$ref": "#/components/schemas/a~0b~1c"}) == {"type": "string"}
    assert document.resolve({"$ref": "#/components/schemas/~01"}) == {"type": "integer"}  # not `/`
    assert document.resolve({"$ref": "#/paths/~1companies~1%7BcompanyId%7D/get/parameters/0"})["name"] == "companyId"
    assert document.resolve({"$ref": "#/components/schemas/Alias"}) == {"type": "object"}  # a chain of references
    # read as empty, a dangling reference would report every field behind it as missing at the vendor
    for dangling in ("#/components/schemas/Account/allOf/2", "#/components/schemas/Nope", "other.yaml#/x"):
        with pytest.raises(ValueError, match=re.escape(dangling)):
            document.resolve({"$ref": dangling})
    looped = Document({"components": {"schemas": {"Loop": {"allOf": [{"$ref": "#/components/schemas/Loop"}, {
        "properties": {"id": {"type": "string"}}}]}}}})
    assert looped.fields({"$ref": "#/components/schemas/Loop"}) == {"id": Field(frozenset({"string"}), None, False)}


def test_codat_fields_behind_references_through_lists_are_the_vendors_too():
    """Codat-Sync-Payroll.yaml reaches `metadata` through `#/components/schemas/Account/allOf/2/properties/metadata`
    and the modified dates through `ModifiedDates/allOf/N`: none of them is ours only."""
    differences, _ = compare(data_dir("openapi") / "codat.yaml", [VENDOR / "codat" / "Codat-Sync-Payroll.yaml"])
    ours_only = {re.sub(r"^(data\.|results\[\]\.)", "", d.what.split("`")[1])
                 for d in differences if d.what.endswith("is ours only") and d.where.startswith("response")}
    for name in ("metadata", "metadata.isDeleted", "modifiedDate", "sourceModifiedDate",
                 "journalLines[].tracking.recordRefs[]"):
        assert name not in ours_only
