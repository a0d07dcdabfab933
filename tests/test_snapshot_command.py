"""`ledger-mock snapshot` (issue 18, item 2): a tenant changed through each provider's API is read back over HTTP
through that provider's own read API, written as a fixtures file, and served by a new mock whose tenant has the
same books: accounts, balances, and entries with their ids, dates, lines, Decimal amounts and statuses. The file
holds none of the credentials it was read with, and a 429 met while paging is waited out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests
import yaml
from click.testing import CliRunner

from contract_tests.snapshot import take
from mock_server.cli import main
from tests.aden.conftest import ADMIN as ADEN_ADMIN, CLERK as ADEN_CLERK, AdenClient, entry_body as aden_entry, ok
from tests.codat.conftest import ACME as CODAT_ACME, CodatClient, entry as codat_entry
from tests.conftest import provider
from tests.count.conftest import CHECKING, SOFTWARE, CountClient
from tests.intacct.conftest import JE, IntacctClient, entry_body as intacct_entry

ADEN_APPROVER = "lm_aden_demo_main_approver1_3b9e71c4"
CREDENTIAL_KEYS = {"count": ("client_id", "client_secret", "access_token"),
                   "intacct": ("client_id", "client_secret", "username"), "codat": ("api_key",), "aden": ("token",)}


def now() -> datetime:
    """COUNT's reader signs with the wall clock, as against a real COUNT: the source mock's frozen clock is now."""
    return datetime.now(UTC).replace(microsecond=0)


# -- changes a client makes through each API, reaching several statuses --------------------------------------------

def change_count(app) -> None:
    count = CountClient(app)
    created = count.post("/chart-of-accounts", {"name": "Snapshot Supplies", "subTypeId": 15, "accountNumber": "6900"})
    assert created.status_code == 201, created.get_json()
    supplies = created.get_json()["data"]["id"]
    lines = [{"accountUuid": supplies, "amountDebit": "120.35", "descriptionLine": "toner"},
             {"accountUuid": CHECKING, "amountCredit": "120.35"}]
    posted = count.post("/journal-entries", {"descriptionEntry": "Toner", "date": "2025-02-10", "lines": lines,
                                             "refNumber": "SNAP-1"})
    assert posted.status_code == 201, posted.get_json()
    draft = count.post("/journal-entries", {"descriptionEntry": "Draft accrual", "date": "2025-02-11",
                                            "status": "draft", "lines": lines})
    assert draft.status_code == 201, draft.get_json()
    later = count.post("/journal-entries", {"descriptionEntry": "Posted later", "date": "2025-02-12",
                                            "status": "draft", "lines": lines})
    assert count.patch(f"/journal-entries/{later.get_json()['data']['id']}", {"status": "posted"}).status_code == 200
    assert count.delete("/journal-entries/e0000000-0000-4000-8000-000000000004").status_code == 200
    transaction = count.post("/transactions", {"accUuid": CHECKING, "amount": "55.10", "postedDate": "2025-02-13",
                                               "categoryAccountUuid": SOFTWARE, "description": "SaaS"})
    assert transaction.status_code == 201, transaction.get_json()
    assert count.post("/vendors", {"name": "Snapshot Vendor", "email": "ap@snapshot.example"}).status_code == 201


def change_intacct(app) -> None:
    ia = IntacctClient(app)
    draft = ia.create(intacct_entry("10.00"), state="draft")
    submitted = ia.create(intacct_entry("20.00"), state="draft")
    approved = ia.create(intacct_entry("30.00", debit="6100"), state="draft")
    declined = ia.create(intacct_entry("40.00"), state="draft", referenceNumber="SNAP-D")
    for key in (submitted, approved, declined):
        assert ia.workflow("submit", key).status_code == 200
    assert ia.workflow("approve", approved).status_code == 200
    assert ia.workflow("decline", declined).status_code == 200
    posted = ia.create(intacct_entry("55.55", description="Posted with a dimension", lines=[
        {"txnType": "debit", "txnAmount": "55.55", "glAccount": {"id": "6000"},
         "dimensions": {"department": {"id": "OPS", "name": "Operations"}}},
        {"txnType": "credit", "txnAmount": "55.55", "glAccount": {"id": "1000"}}]))
    reversed_ = ia.workflow("reverse", posted, reverseDate="2025-02-20")
    assert reversed_.status_code == 200, reversed_.get_json()
    assert ia.delete(f"{JE}/{ia.create(intacct_entry('1.00'), state='draft')}").status_code == 204
    assert ia.entry(draft)["state"] == "draft" and ia.entry(posted)["state"] == "reversed"


def change_codat(app) -> None:
    codat = CodatClient(app)
    pushed = codat.push(codat_entry(("6300", 99.99), ("2200", -99.99), description="Pushed supplies"))
    assert pushed.status_code == 200, pushed.get_json()
    codat.push(codat_entry(("4000", -250), ("1000", 250), description="Cash sale"))
    assert codat.remove("je-2025-0004").status_code == 200  # soft-deleted: readable, out of the balances
    company = codat.post("/companies", {"name": "Snapshot Co", "description": "made through the API"})
    assert company.status_code == 200
    connection = codat.post(f"/companies/{company.get_json()['id']}/connections", {"platformKey": "gbol"})
    assert connection.status_code == 200


def change_aden(app) -> None:
    admin = AdenClient(app, ADEN_ADMIN)
    clerk, approver = admin.as_(ADEN_CLERK), admin.as_(ADEN_APPROVER)
    ok(admin.post("/accounts", {"account_id": "6500", "account_number": 6500, "account_name": "Snapshot Travel",
                                "account_type": "Expense", "normal_balance": "debit"}), 201)
    ok(clerk.post("/journal-entries", aden_entry("SNAP-DRAFT", 10, debit="6500")), 201)
    for entry_id, amount in (("SNAP-PENDING", 20), ("SNAP-POSTED", 30), ("SNAP-HELD", 40), ("SNAP-REJECTED", 50),
                             ("SNAP-VOIDED", 60)):
        ok(clerk.post("/journal-entries", aden_entry(entry_id, amount, debit="6500")), 201)
        ok(clerk.post(f"/journal-entries/{entry_id}/submit-for-approval"))
    ok(approver.post("/journal-entries/SNAP-POSTED/approve", {"comments": "fine"}))
    ok(approver.post("/journal-entries/SNAP-HELD/hold", {"reason": "receipt missing"}))
    ok(approver.post("/journal-entries/SNAP-REJECTED/reject", {"reason": "personal"}))
    ok(approver.post("/journal-entries/SNAP-VOIDED/approve"))
    ok(admin.post("/journal-entries/SNAP-VOIDED/void", {"reason": "duplicate"}))
    ok(admin.post("/journal-entries/SNAP-POSTED/reverse", {"reversal_date": "2025-02-20"}), 201)


CHANGES = {"count": change_count, "intacct": change_intacct, "codat": change_codat, "aden": change_aden}
STATUSES = {"count": {"posted", "draft"},
            "intacct": {"draft", "submitted", "approved", "declined", "posted", "reversed"},
            "codat": {"active", "deleted"},
            "aden": {"Draft", "Pending Approval", "Posted", "On Hold", "Rejected", "Voided"}}


# -- the books, as the ledger holds them ---------------------------------------------------------------------------

def books(app, name: str) -> dict:
    """The books of the tenant the provider's (first) fixture credentials open: per book, every account (name,
    kind, active, number), its balance, and every entry (date, status, whether it counts, memo, reference, its
    lines); Aden's accounting periods (dates, closed or not)."""
    state = provider(app, name).state
    periods = None  # Aden is the one provider here with accounting periods
    if name == "count":
        found = {"": state.workspaces[state.fixture_tokens[0].tenant_id].book}
    elif name == "intacct":
        found = {"": state.companies[state.fixture_tokens[0].tenant_id].book}
    elif name == "aden":
        token = state.fixture_tokens[0]
        entity = state.entities[(token.organisation_id, token.entity_id)]
        found = {"": entity.book}
        periods = {p.id: (p.name, p.start, p.end, p.adjustment, p.closed, p.attrs["fiscal_year_id"],
                          p.attrs["quarter"]) for p in entity.periods.periods.values()}
    else:
        client = next(client for key, client in state.keys.values() if not key.revoked)
        found = {company_id: company.book for company_id, company in client.companies.items()}
    return {where: {
        "periods": periods,
        "accounts": {a.id: (a.name, a.kind.value, a.active, a.number) for a in book.accounts.values()},
        "balances": {a: book.balance(a) for a in book.accounts},
        "trial balance": book.trial_balance(),
        "entries": {e.id: (e.date, e.status, e.posted, e.memo, e.reference,
                           [(line.account_id, line.side.value, line.amount, line.memo) for line in e.lines])
                    for e in book.entries.values()}} for where, book in found.items()}


def read_with(app, base: str, name: str) -> dict[str, str]:
    creds = provider(app, name).credentials(f"{base}/{name}")
    return {key: creds[key] for key in CREDENTIAL_KEYS[name]}


@pytest.mark.parametrize("name", ["count", "intacct", "codat", "aden"])
def test_a_changed_tenant_comes_back_with_equal_books(make_app, live_server, tmp_path, name):
    source = make_app(providers=(name,), frozen_time=now())
    CHANGES[name](source)
    base = live_server(source)
    given = read_with(source, base, name)

    text, copy, _ = take(name, f"{base}/{name}", given, tenant="Acme copy")
    for key, value in given.items():
        assert value not in text, f"the credential {key} was written"
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    assert set(yaml.safe_load(text)) == {name}

    served = make_app(providers=(name,), frozen_time=now(), fixtures=path)
    before, after = books(source, name), books(served, name)
    if name == "count":  # line ids are the ledger's own (see the file's header); everything else is kept
        assert "journal line ids" in "\n".join(copy.defaults)
    assert after == before
    assert all(book["trial balance"] == Decimal("0.00") for book in after.values())
    reached = {status for book in after.values() for _, status, *_ in book["entries"].values()}
    assert reached >= STATUSES[name]

    # Read back through the copy's own mock-only credentials (under another name: the first file's credentials
    # may not be written again), the copy shows a client everything the source showed.
    copy_base = live_server(served)
    _, again, _ = take(name, f"{copy_base}/{name}", read_with(served, copy_base, name), tenant="Second copy")
    assert readable(again.section, name) == readable(copy.section, name)


def readable(section: dict, name: str) -> dict:
    """A snapshot's data, less what it makes up from the tenant name (credentials, the copy's own ids)."""
    if name == "count":
        return {k: v for k, v in section["workspaces"][0].items() if k not in ("id", "name")}
    if name == "intacct":
        return {k: section[k] for k in ("accounts", "journals", "companies")}
    if name == "codat":
        return section["clients"][0]["companies"]
    organisation = section["organisations"][0]
    return {"users": organisation["users"][1:],  # the first is the copy's caller, named after the tenant
            "entity": {k: v for k, v in organisation["entities"][0].items() if k != "name"}}


def test_the_statuses_the_changes_reached_are_in_the_copy(make_app, live_server, tmp_path):
    """The workflows' statuses, not only what counts in balances, survive the trip (Aden's are replayed)."""
    source = make_app(providers=("aden",), frozen_time=now())
    change_aden(source)
    base = live_server(source)
    text, _, _ = take("aden", f"{base}/aden", read_with(source, base, "aden"))
    path = tmp_path / "aden.yaml"
    path.write_text(text)
    served = make_app(providers=("aden",), frozen_time=now(), fixtures=path)
    statuses = {e[0]: e[1][1] for e in books(served, "aden")[""]["entries"].items() if e[0].startswith("SNAP")}
    assert statuses == {"SNAP-DRAFT": "Draft", "SNAP-PENDING": "Pending Approval", "SNAP-POSTED": "Posted",
                        "SNAP-HELD": "On Hold", "SNAP-REJECTED": "Rejected", "SNAP-VOIDED": "Voided",
                        "SNAP-POSTED-REV": "Draft"}


def test_a_429_while_paging_is_waited_out(make_app, live_server):
    source = make_app(providers=("codat",), frozen_time=now())
    base = live_server(source)
    fault = requests.post(f"{base}/_mock/faults", json={"provider": "codat", "operation": "list-journal-entries",
                                                        "status": 429, "times": 1}, timeout=10)
    assert fault.status_code in (200, 201), fault.text
    text, copy, session = take("codat", f"{base}/codat", read_with(source, base, "codat"))
    assert session.waits == [1.0]  # the fault's Retry-After: 1
    assert copy.counts["journal entries"] == 4 and "je-2025-0004" in text


def test_the_command_writes_the_file_and_says_how_to_get_its_credentials(make_app, live_server, tmp_path):
    source = make_app(providers=("codat",), frozen_time=now())
    base = live_server(source)
    given = read_with(source, base, "codat")
    out = tmp_path / "acme.yaml"
    result = CliRunner().invoke(main, ["snapshot", "--provider", "codat", "--base-url", f"{base}/codat",
                                       "--credential", f"api_key={given['api_key']}", "--tenant", "acme",
                                       "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert f"ledger-mock credentials --provider codat --fixtures {out}" in result.stderr
    assert given["api_key"] not in out.read_text()
    printed = CliRunner().invoke(main, ["credentials", "--provider", "codat", "--fixtures", str(out),
                                        "--base-url", "http://127.0.0.1:1"])
    creds = json.loads(printed.stdout)
    assert creds["api_key"].startswith("lm_codat_snapshot_acme_key_") and creds["company_id"] == CODAT_ACME
    # The same tenant name gives the same credentials, run after run.
    again = CliRunner().invoke(main, ["snapshot", "--provider", "codat", "--base-url", f"{base}/codat",
                                      "--credential", f"api_key={given['api_key']}", "--tenant", "acme"])
    assert again.stdout == out.read_text()


def test_a_refused_read_is_a_clear_error_not_a_file(make_app, live_server, tmp_path):
    source = make_app(providers=("aden",), frozen_time=now())
    base = live_server(source)
    out = tmp_path / "never.yaml"
    result = CliRunner().invoke(main, ["snapshot", "--provider", "aden", "--base-url", f"{base}/aden",
                                       "--credential", "token=not-a-token", "--output", str(out)])
    assert result.exit_code == 1 and "401" in result.output and not out.exists()
    missing = CliRunner().invoke(main, ["snapshot", "--provider", "aden", "--base-url", f"{base}/aden"])
    assert missing.exit_code == 2 and "--credential token=" in missing.output
