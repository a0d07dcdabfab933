"""No tenant reaches another, for every provider: every credential of tenant B, alone and mixed with A's, against
every tenant-scoped operation of the spec, aimed at tenant A's records.

For each provider two tenants come from the admin API. A gets records of every kind its API creates (each with a
marker string in its text) and uses an idempotency key where the API has them. Both tenants are crawled through
their own credentials (the spec's list operations give the ids each one reaches): A's ids are those no binding of
B's equals. Then B's credential variant calls every authenticated operation of the spec, built by
tests/isolation_probe.py from the spec's paths, parameters and example bodies, with A's ids in every slot (path
parameter, body field referencing a record, refresh-token field, idempotency-key header), all together and each
alone with B's own ids in the others. Every such request has a twin with never-existing values in A's places and
must be answered as the twin is: a foreign id is indistinguishable from a missing one.

Asserted per provider and credential variant (a failure names the operation, the slots and the request):
  (a) no answer holds A's marker, ids or credentials beyond what the request itself carried;
  (b) A's view through A's own credentials (every read operation, every binding, every page) is byte for byte
      the same afterwards (error answers less their request id);
  (c) with A's id in the path the answer is 400/401/403/404/422 (400/422: how a provider refuses an unknown
      reference), the twin's status and error, never 2xx, never 5xx; with A's id elsewhere (a body reference, an
      idempotency key, next to B's own record in the path) the answer is the twin's, never 5xx;
  (d) the provider's whole state outside B's tenant (A's books, the fixture tenants', the client, key and token
      stores less B's own entries) is unchanged, and the state did change when a write of B's succeeded: B's
      writes landed in B's tenant only.
And, for the variants that are B's own valid credentials, the same requests with B's own ids (controls) reach
B's records (reads answer 200; nothing answers 401, 404 or 5xx), so the refusals above are about A's ids, not
about the shape of the requests.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from mock_server.auth.hmac_signing import signature_headers
from tests.conftest import provider, runtime
from tests.isolation_probe import (Answer, Ids, Probe, SpecWalk, TenantView, fake_of, key_of, leaked, normalized,
                                   order, probes, send, strings_in)
from tests.snapshot import differences, state_of

REFUSED = {400, 401, 403, 404, 422}
TOKEN_REFUSED = {400, 401}
HMAC = frozenset({"clientId", "timestamp", "signature"})


@dataclass
class Variant:
    auth: Any  # (method, path, body) -> headers; None when the variant ended at a refused token request
    valid: bool  # B's own working credentials: controls with B's ids are sent too
    a_schemes: frozenset[str] = frozenset()  # schemes whose credentials in it are all A's: those operations are A's


# -- one run: a provider, its two tenants, what went wrong ------------------------------------------------------

@dataclass
class Run:
    app: Any
    name: str
    failures: list[str] = field(default_factory=list)
    stats: Counter = field(default_factory=Counter)
    secrets: set[str] = field(default_factory=set)  # what no answer to B may hold
    a_secrets: dict[str, str] = field(default_factory=dict)  # A's values for body/header slots (see Ids)

    def __post_init__(self):
        mock = self.app.extensions["ledger_mock"]
        self.prefix = mock.prefix_of(self.name)
        self.walk = SpecWalk(mock.specs[self.name])

    def tenant(self, label: str) -> dict:
        made = self.app.test_client().post("/_mock/tenants", json={"provider": self.name, "name": label})
        assert made.status_code == 201, made.get_json()
        return made.get_json()

    def call(self, auth, method: str, path: str, body: Any = None, headers: dict | None = None) -> Any:
        """One of a tenant's own requests while setting up; it must succeed."""
        op = next(o for o in self.walk.operations if o.method == method and _matches(o.path, path))
        answer = send(self.app, self.prefix, Probe(op, path, body=body, headers=headers or {}), auth)
        assert answer.status in (200, 201), (method, path, answer.status, answer.body[:500])
        return json.loads(answer.body)

    def examine(self, probe: Probe, auth, variant: str, allowed: set[int] = REFUSED) -> Answer:
        """Send a probe (and its never-existing twin) with B's credentials; record what is wrong with the answers."""
        answer = send(self.app, self.prefix, probe, auth)
        self.stats["requests"] += 1
        self.stats[f"status {answer.status}"] += 1
        problems = []
        if answer.status >= 500:
            problems.append(f"answered {answer.status}")
        if found := leaked(answer, probe, self.secrets):
            problems.append(f"the answer holds A's {found}")
        if probe.fake is None:
            self.stats["probes without A's ids"] += 1
        else:
            self.stats["probes with A's ids"] += 1
            twin = send(self.app, self.prefix, probe.fake, auth)
            self.stats["requests"] += 1
            if found := leaked(twin, probe.fake, self.secrets):
                problems.append(f"the never-existing twin's answer holds A's {found}")
            if answer.status != twin.status:
                problems.append(f"answered {answer.status} for A's id but {twin.status} for a never-existing one")
            else:
                created = answer.status < 400  # the ids of what each twin created differ, and are not compared
                mine = normalized(answer, probe.a_values, new_ids=created)
                theirs = normalized(twin, probe.fake.a_values, new_ids=created)
                if mine != theirs:
                    problems.append(f"the answer for A's id differs from the one for a never-existing id: "
                                    f"{mine!r:.400} != {theirs!r:.400}")
            if probe.in_path and answer.status not in allowed:
                problems.append(f"answered {answer.status} with A's id in the path")
        if probe.op.changes and answer.status < 400:
            self.stats["writes that succeeded"] += 1
        if problems:
            self.failures.append(f"{self.name} / {variant} / {probe.describe()}\n    -> " + "; ".join(problems)
                                 + f"\n    answer: {answer.body[:300]!r}")
        return answer


def _matches(template: str, path: str) -> bool:
    t, p = template.split("/"), path.split("/")
    return len(t) == len(p) and all(a == b or a.startswith("{") for a, b in zip(t, p))


def _ids_in(document: Any) -> set[str]:
    return {v for k, v in strings_in(document) if k in ("id", "key") or k.endswith(("Id", "_id", "Uuid", "Key"))}


# -- COUNT: a partner client's HMAC signature + the bearer token of a workspace ---------------------------------

def count_auth(run: Run, client_id: str | None, secret: str | None, token: str | None):
    def sign(method: str, path: str, body: bytes) -> dict[str, str]:
        headers = {}
        if client_id:
            stamp = str(int(runtime(run.app).clock.timestamp()))
            headers.update(signature_headers(client_id, secret, method, path, body, stamp))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers
    return sign


def count_own(run: Run, creds: dict):
    return count_auth(run, creds["client_id"], creds["client_secret"], creds["access_token"])


def count_populate(run: Run, a: dict, auth, marker: str) -> set[str]:
    from tests.count.conftest import ACCRUED, CHECKING
    base = "/partners"
    account = run.call(auth, "POST", f"{base}/chart-of-accounts", {
        "name": f"{marker} supplies", "subTypeId": 15, "accountNumber": "6990", "description": marker})["data"]["id"]
    vendor = run.call(auth, "POST", f"{base}/vendors", {
        "name": f"{marker} vendor", "email": f"{marker.lower()}@vendor.example"})["data"]["id"]
    customer = run.call(auth, "POST", f"{base}/customers", {
        "customer": f"{marker} customer", "email": f"{marker.lower()}@customer.example", "notes": marker})["data"]["id"]
    tag = run.call(auth, "POST", f"{base}/tags", {"name": f"{marker} tag"})["data"]["id"]
    entry = run.call(auth, "POST", f"{base}/journal-entries", {
        "descriptionEntry": marker, "date": "2025-02-10", "refNumber": f"{marker}-REF",
        "lines": [{"accountUuid": account, "amountDebit": "321.00"},
                  {"accountUuid": ACCRUED, "amountCredit": "321.00"}]})["data"]["id"]
    expense = run.call(auth, "POST", f"{base}/transactions", {
        "accUuid": CHECKING, "amount": "12.34", "postedDate": "2025-02-11", "type": "Expense",
        "categoryAccountUuid": account, "vendorUuid": vendor, "tagUuids": [tag], "description": marker,
        "notes": marker})["data"]["id"]
    income = run.call(auth, "POST", f"{base}/transactions", {
        "accUuid": CHECKING, "amount": "45.00", "postedDate": "2025-02-12", "type": "Income",
        "customerUuid": customer, "description": f"{marker} sale"})["data"]["id"]
    return {account, vendor, customer, tag, entry, expense, income}


def count_variants(run: Run, a: dict, b: dict) -> dict[str, Callable[[], Variant]]:
    return {
        "B": lambda: Variant(count_own(run, b), True),
        "B-hmac+A-bearer": lambda: Variant(count_auth(run, b["client_id"], b["client_secret"], a["access_token"]),
                                           False),
        # A's own signing client: operations that need only the signature (the token endpoints) are A's own calls
        "A-hmac+B-bearer": lambda: Variant(count_auth(run, a["client_id"], a["client_secret"], b["access_token"]),
                                           False, HMAC),
        "B-id+A-secret+A-bearer": lambda: Variant(
            count_auth(run, b["client_id"], a["client_secret"], a["access_token"]), False),
        "A-id+B-secret+A-bearer": lambda: Variant(
            count_auth(run, a["client_id"], b["client_secret"], a["access_token"]), False),
        "B-hmac+no-bearer": lambda: Variant(count_auth(run, b["client_id"], b["client_secret"], None), False),
    }


# -- Sage Intacct: OAuth2 tokens per company, from a client the company authorized ------------------------------

def bearer(token: str, **extra: str):
    return lambda method, path, body: {"Authorization": f"Bearer {token}", **extra}


def intacct_populate(run: Run, a: dict, auth, marker: str) -> set[str]:
    run.a_secrets |= {"idempotency": f"{marker}-idem", "idempotency_op": "createJournalEntry"}
    keys = []
    for state, day in (("draft", "03"), ("posted", "04"), ("draft", "05")):
        keys.append(run.call(auth, "POST", "/ia/api/v1/objects/general-ledger/journal-entry", {
            "glJournal": {"id": "GJ"}, "postingDate": f"2025-02-{day}", "description": f"{marker} {state}",
            "referenceNumber": f"{marker}-{day}", "state": state,
            "lines": [{"txnType": "debit", "txnAmount": "75.00", "glAccount": {"id": "6000"}, "description": marker},
                      {"txnType": "credit", "txnAmount": "75.00", "glAccount": {"id": "1000"}}]},
            headers={"Idempotency-Key": run.a_secrets["idempotency"]} if day == "03" else None)["ia::result"]["key"])
    run.call(auth, "POST", "/ia/api/v1/workflows/general-ledger/journal-entry/submit", {"key": keys[2]})
    return set(keys)


def intacct_variants(run: Run, a: dict, b: dict) -> dict[str, Callable[[], Variant]]:
    fixture = provider(run.app, "intacct").credentials("")
    company = a["company_id"]

    def token(label: str, form: dict, a_values: tuple = (), headers: dict | None = None, expect_ok: bool = False):
        """Ask the token endpoint. A refusal ends the variant; a token (a breach unless `expect_ok`) is then used
        against every operation like B's own."""
        def ask() -> Variant:
            op = run.walk.spec.operations["getToken"]
            probe = Probe(op, op.path, body=form, form=True, headers=headers or {}, a_values=a_values, label=label)
            if a_values:
                twin = {k: _faked(v, a_values) for k, v in form.items()}
                probe.fake = Probe(op, op.path, body=twin, form=True, headers=headers or {},
                                   a_values=tuple(map(fake_of, a_values)), label=label + " (never-existing)")
            answer = run.examine(probe, None, label, TOKEN_REFUSED)
            if expect_ok:
                assert answer.status == 200, answer.body
            elif answer.status not in TOKEN_REFUSED:
                run.failures.append(f"intacct / {label}: the token endpoint answered {answer.status}: {answer.body!r}")
            if answer.status != 200:
                return Variant(None, False)
            return Variant(bearer(json.loads(answer.body)["access_token"]), expect_ok)
        return ask

    cc = {"grant_type": "client_credentials"}
    b_client = {"client_id": b["client_id"], "client_secret": b["client_secret"]}
    basic = base64.b64encode(f"{b['client_id']}:{b['client_secret']}".encode()).decode()
    return {
        "B": lambda: Variant(bearer(b["access_token"]), True),
        "B+entity-header-A": lambda: Variant(bearer(b["access_token"], **{"X-IA-API-Param-Entity": company}), True),
        "B-token-entity-A": token("B client, client_credentials, admin@B|A", {
            **cc, **b_client, "username": f"admin@{b['company_id']}|{company}"}, expect_ok=True),
        "token:B-client-cc-A-company": token("B client, client_credentials, admin@A", {
            **cc, **b_client, "username": f"admin@{company}"}, (company,)),
        "token:B-basic-cc-A-company": token("B client (HTTP Basic), client_credentials, admin@A", {
            **cc, "username": f"admin@{company}"}, (company,), {"Authorization": f"Basic {basic}"}),
        "token:B-client-refresh-A": token("B client, refresh_token = A's", {
            "grant_type": "refresh_token", **b_client, "refresh_token": a["refresh_token"]}, (a["refresh_token"],)),
        "token:B-client-code-A-refresh": token("B client, authorization_code = A's refresh token", {
            "grant_type": "authorization_code", **b_client, "code": a["refresh_token"],
            "redirect_uri": "https://example.test/cb"}, (a["refresh_token"],)),
        "token:B-client-code-fixture": token("B client, the fixture company's authorization code", {
            "grant_type": "authorization_code", **b_client, "code": "test-code",
            "redirect_uri": "https://example.test/cb"}),
        "token:fixture-client-cc-A-company": token("fixture client, client_credentials, admin@A", {
            **cc, "client_id": fixture["client_id"], "client_secret": fixture["client_secret"],
            "username": f"admin@{company}"}, (company,)),
        "token:B-id+A-secret-cc-A-company": token("B client id + A's secret, admin@A", {
            **cc, "client_id": b["client_id"], "client_secret": a["client_secret"], "username": f"admin@{company}"},
            (company,)),
        "token:A-id+B-secret-cc-A-company": token("A client id + B's secret, admin@A", {
            **cc, "client_id": a["client_id"], "client_secret": b["client_secret"], "username": f"admin@{company}"},
            (company,)),
    }


def _faked(text: str, values: tuple) -> str:
    for value in values:
        text = text.replace(value, fake_of(value))
    return text


# -- Codat: Basic <API key> of a client; companies and connections in the path ----------------------------------

def codat_populate(run: Run, a: dict, auth, marker: str) -> set[str]:
    company = run.call(auth, "POST", "/companies", {"name": f"{marker} Ltd", "description": marker,
                                                    "tags": {"marker": marker}})
    connection = run.call(auth, "POST", f"/companies/{company['id']}/connections", {"platformKey": "gbol"})
    made = {company["id"], connection["id"]}
    for company_id, connection_id, debit in ((a["company_id"], a["connection_id"], "6300"),
                                             (company["id"], connection["id"], "6000")):
        pushed = run.call(auth, "POST", f"/companies/{company_id}/connections/{connection_id}/push/journalEntries", {
            "description": marker, "postedOn": "2025-02-14T00:00:00",
            "journalLines": [{"netAmount": 75, "description": marker, "accountRef": {"id": debit}},
                             {"netAmount": -75, "accountRef": {"id": "1000"}}]})
        assert pushed["status"] == "Success", pushed
        made |= {pushed["pushOperationKey"], pushed["data"]["id"]}
    return made


def codat_auth(creds: dict):
    return lambda method, path, body: {"Authorization": creds["authorization"]}


def codat_variants(run: Run, a: dict, b: dict) -> dict[str, Callable[[], Variant]]:
    # One credential part: the mixes are in the path (B's company with A's connection, and so on).
    return {"B": lambda: Variant(codat_auth(b), True)}


# -- Aden: `jwt <token>`, one token per organisation, entity and user --------------------------------------------

def aden_token(creds: dict, entity: str = "main", user: str = "usr_admin") -> str:
    return creds[f"token_{creds['organisation_id']}_{entity}_{user}"]


def jwt(token: str, **extra: str):
    return lambda method, path, body: {"Authorization": f"jwt {token}", **extra}


def aden_populate(run: Run, a: dict, auth, marker: str) -> set[str]:
    base = "/service/general-ledger"
    run.a_secrets |= {"idempotency": f"{marker}-idem", "idempotency_op": "createJournalEntry"}
    account = run.call(auth, "POST", f"{base}/accounts", {
        "account_id": f"{marker}-6990", "account_name": f"{marker} supplies", "account_type": "Expense",
        "normal_balance": "Debit", "account_number": 6990, "description": marker})["account_id"]
    period = run.call(auth, "POST", f"{base}/accounting-periods", {
        "period_name": f"{marker} April", "fiscal_year_id": "FY2024", "start_date": "2024-04-01",
        "end_date": "2024-04-30", "quarter": 2})["period_id"]
    rule = run.call(auth, "POST", f"{base}/approval-rules", {
        "rule_id": f"{marker}-rule", "rule_name": marker, "document_type": "journal_entry",
        "rule_type": "Amount Threshold", "is_active": True, "priority": 90, "min_amount": 100000,
        "max_amount": None, "approval_level": 1, "approver_type": "role", "approver_role": "admin"})["rule_id"]
    entries = []
    for number, amount in ((1, 75), (2, 7500), (3, 120)):
        entries.append(run.call(auth, "POST", f"{base}/journal-entries", {
            "journal_entry_id": f"{marker}-JE{number}", "tran_date": "2025-02-12", "memo": marker,
            "lines": [{"account_id": account, "debit": amount, "credit": 0, "memo": marker},
                      {"account_id": "1010", "debit": 0, "credit": amount}]},
            headers={"X-Idempotency-Key": run.a_secrets["idempotency"]} if number == 1 else None)["journal_entry_id"])
    run.call(auth, "POST", f"{base}/journal-entries/{entries[1]}/submit-for-approval", {"comments": marker})
    return {account, period, rule, *entries}


def aden_variants(run: Run, a: dict, b: dict) -> dict[str, Callable[[], Variant]]:
    # The organisation and entity come from the token alone; headers naming A's must change nothing.
    named = {"X-Organisation-Id": a["organisation_id"], "X-Organization-Id": a["organisation_id"],
             "X-Entity-Id": a["entity_id"], "X-Tenant-Id": a["tenant"], "X-Aden-Organisation": a["organisation_id"]}
    return {
        "B-admin": lambda: Variant(jwt(aden_token(b)), True),
        "B-approver1": lambda: Variant(jwt(aden_token(b, user="usr_approver1")), True),
        "B-approver2": lambda: Variant(jwt(aden_token(b, user="usr_approver2")), True),
        "B-clerk": lambda: Variant(jwt(aden_token(b, user="usr_clerk")), True),
        "B-admin-other-entity": lambda: Variant(jwt(aden_token(b, entity="manual")), False),
        "B-admin+A-org-headers": lambda: Variant(jwt(aden_token(b), **named), True),
    }


@dataclass(frozen=True)
class Profile:
    own: Callable[[Run, dict], Any]  # a tenant's own complete credentials, as an auth function
    populate: Callable[[Run, dict, Any, str], set[str]]  # gives A its records; returns their ids
    variants: Callable[[Run, dict, dict], dict[str, Callable[[], Variant]]]
    variant_names: tuple[str, ...]


PROFILES = {
    "count": Profile(count_own, count_populate, count_variants, (
        "B", "B-hmac+A-bearer", "A-hmac+B-bearer", "B-id+A-secret+A-bearer", "A-id+B-secret+A-bearer",
        "B-hmac+no-bearer")),
    "intacct": Profile(lambda run, creds: bearer(creds["access_token"]), intacct_populate, intacct_variants, (
        "B", "B+entity-header-A", "B-token-entity-A", "token:B-client-cc-A-company", "token:B-basic-cc-A-company",
        "token:B-client-refresh-A", "token:B-client-code-A-refresh", "token:B-client-code-fixture",
        "token:fixture-client-cc-A-company", "token:B-id+A-secret-cc-A-company", "token:A-id+B-secret-cc-A-company")),
    "codat": Profile(lambda run, creds: codat_auth(creds), codat_populate, codat_variants, ("B",)),
    "aden": Profile(lambda run, creds: jwt(aden_token(creds)), aden_populate, aden_variants, (
        "B-admin", "B-approver1", "B-approver2", "B-clerk", "B-admin-other-entity", "B-admin+A-org-headers")),
}
# (provider, variant) -> reason: isolation breaches found and not fixed yet, as strict xfails.
KNOWN_BREACHES: dict[tuple[str, str], str] = {}
CASES = [pytest.param(name, variant, id=f"{name}-{variant}",
                      marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BREACHES[(name, variant)])]
                      if (name, variant) in KNOWN_BREACHES else [])
         for name, profile in PROFILES.items() for variant in profile.variant_names]


def outside(plain: Any, tenant_ids: set[str]) -> Any:
    """The provider's state less everything filed under one tenant's ids: its books (workspace, company, client
    or organisation), its OAuth client or API key, and its tokens."""
    if isinstance(plain, dict):
        kept = {}
        for key, value in plain.items():
            if any(t in key for t in tenant_ids):
                continue
            if isinstance(value, dict) and any(value.get(f) in tenant_ids for f in
                                               ("tenant_id", "client_id", "organisation_id")):
                continue
            kept[key] = outside(value, tenant_ids)
        return kept
    if isinstance(plain, list):
        return [outside(v, tenant_ids) for v in plain]
    return plain


def tenant_ids(creds: dict) -> set[str]:
    return {str(creds[k]) for k in ("tenant", "workspace_id", "client_id", "company_id", "organisation_id", "api_key")
            if creds.get(k)}


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_b_reaches_nothing_of_a(make_app, name, variant, record_property):
    app = make_app(providers=(name,))
    run, profile = Run(app, name), PROFILES[name]
    a, b = run.tenant("isolation-a"), run.tenant("isolation-b")
    marker = f"Zq{name.capitalize()}IsoA"
    created = profile.populate(run, a, profile.own(run, a), marker)

    # What each tenant reaches through its own credentials, by path template.
    a_view = TenantView(app, run.prefix, run.walk, profile.own(run, a))
    b_view = TenantView(app, run.prefix, run.walk, profile.own(run, b))
    templates = {op.path for op in run.walk.operations if "{" in op.path} | run.walk.records
    a_all = {t: a_view.bindings(t) for t in templates}
    b_all = {t: b_view.bindings(t) for t in templates}
    a_keys = {t: {key_of(x) for x in a_all[t]} for t in templates}
    b_keys = {t: {key_of(x) for x in b_all[t]} for t in templates}
    secrets = dict(run.a_secrets)
    b_secrets = {}
    if a.get("refresh_token"):
        secrets |= {"refreshToken": a["refresh_token"], "refresh_token": a["refresh_token"]}
        b_secrets |= {"refreshToken": b["refresh_token"], "refresh_token": b["refresh_token"]}
    ids = Ids(a={t: sorted((x for x in a_all[t] if key_of(x) not in b_keys[t]),
                           key=lambda x: not set(x.values()) & created) for t in templates},
              b={t: [x for x in b_all[t] if key_of(x) not in a_keys[t]] for t in templates},
              shared={t: [x for x in a_all[t] if key_of(x) in b_keys[t]] for t in templates},
              a_secrets=secrets, b_secrets=b_secrets)
    a_only = {v for rows in ids.a.values() for row in rows for v in row.values()} - ids.b_reaches
    assert created <= a_only, f"A's records {created - a_only} are not found by A's reads, or B reaches them"
    run.secrets = {marker} | {v for v in a_only if len(v) >= 6} | {
        str(a[k]) for k in ("access_token", "refresh_token", "client_secret", "api_key", "authorization", "token",
                            "tenant", "workspace_id", "company_id", "organisation_id", "client_id") if a.get(k)
    } | {v for k, v in a.items() if k.startswith("token_")}

    before = a_view.snapshot()
    state_before = state_of(app)["providers"][name]

    variant_ = profile.variants(run, a, b)[variant]()
    with_a, without, controls = probes(run.walk, ids)
    mine = [p for p in with_a + without if p.op.security_schemes <= variant_.a_schemes]
    run.stats["skipped (A's own credentials)"] = len(mine)
    if variant_.auth is not None:
        for probe in (order([p for p in with_a if p not in mine], run.walk)
                      + order([p for p in without if p not in mine], run.walk)):
            run.examine(probe, variant_.auth, variant)
        if variant_.valid:
            for probe in order(controls, run.walk):
                answer = send(app, run.prefix, probe, variant_.auth)
                run.stats["controls"] += 1
                run.stats["writes that succeeded"] += probe.op.changes and answer.status < 400
                if answer.status >= 500 or answer.status in (401, 404) or (
                        probe.op.method == "GET" and answer.status != 200):
                    run.failures.append(f"{name} / {variant} / control {probe.describe()} -> {answer.status}: "
                                        f"{answer.body[:300]!r}")

    after = TenantView(app, run.prefix, run.walk, profile.own(run, a)).snapshot()
    for k in sorted((k for k in before.keys() | after.keys() if before.get(k) != after.get(k)), key=str)[:10]:
        run.failures.append(f"{name} / {variant}: A's own read {k} changed:\n    before {before.get(k)!r:.300}\n"
                            f"    after  {after.get(k)!r:.300}")
    state_after = state_of(app)["providers"][name]
    for line in differences(outside(state_before, tenant_ids(b)), outside(state_after, tenant_ids(b)))[:10]:
        run.failures.append(f"{name} / {variant}: the state outside B's tenant changed at {line}")
    if run.stats["writes that succeeded"] and not differences(state_before, state_after):
        run.failures.append(f"{name} / {variant}: {run.stats['writes that succeeded']} writes of B's succeeded "
                            "but no state changed")

    run.stats["A's reads compared"] = len(before)
    record_property("isolation", dict(run.stats, operations=len(run.walk.authenticated), probes_with_a=len(with_a),
                                      probes_without_a=len(without), controls_built=len(controls)))
    assert not run.failures, f"{len(run.failures)} isolation problem(s):\n" + "\n".join(run.failures[:40])
