"""Tenants through the admin API, for every provider: `POST /_mock/tenants` gives a fresh tenant whose credentials
work with the provider's own auth, whose books nobody else sees, and which `GET /_mock/tenants` lists."""

from __future__ import annotations

import base64
import copy
import gc
import threading
import weakref
from urllib.parse import urlsplit

import pytest
import yaml

from mock_server import data_dir, providers
from tests.conftest import provider
from tests.count.conftest import CountClient, entry_body as count_entry
from tests.snapshot import differences, state_of

NAMES = providers.names()


class Session:
    """One set of credentials (the shape `credentials()` / `POST /_mock/tenants` return), spoken in the provider's
    own auth: write an entry with a memo, and list the memos of every entry the credentials can see."""

    def __init__(self, app, name, creds):
        self.app, self.name, self.creds = app, name, creds
        self.http = app.test_client()
        self.prefix = urlsplit(creds["base_url"]).path

    def _call(self, method, path, json=None, params=None):
        if self.name == "count":
            client = CountClient(self.app, client_id=self.creds["client_id"], secret=self.creds["client_secret"],
                                 token=self.creds["access_token"], prefix=self.prefix)
            return client.request(method, path, json, params=params)
        auth = {"intacct": lambda c: f"Bearer {c['access_token']}", "codat": lambda c: c["authorization"],
                "aden": lambda c: c["authorization"]}[self.name](self.creds)
        return self.http.open(self.prefix + path, method=method, json=json, query_string=params,
                              headers={"Authorization": auth})

    def write(self, memo):
        if self.name == "count":
            response = self._call("POST", "/journal-entries", count_entry(description=memo))
        elif self.name == "intacct":
            response = self._call("POST", "/objects/general-ledger/journal-entry", {
                "glJournal": {"id": "GJ"}, "postingDate": "2025-02-01", "description": memo,
                "lines": [{"txnType": "debit", "txnAmount": "75.00", "glAccount": {"id": "6000"}},
                          {"txnType": "credit", "txnAmount": "75.00", "glAccount": {"id": "1000"}}]})
        elif self.name == "codat":
            company, connection = self.creds["company_id"], self.creds["connection_id"]
            response = self._call("POST", f"/companies/{company}/connections/{connection}/push/journalEntries", {
                "description": memo, "postedOn": "2025-02-14",
                "journalLines": [{"netAmount": 75, "accountRef": {"id": "6300"}},
                                 {"netAmount": -75, "accountRef": {"id": "1000"}}]})
            assert response.status_code == 200 and response.get_json()["status"] == "Success", response.get_json()
            return
        else:
            response = self._call("POST", "/journal-entries", {
                "journal_entry_id": memo, "tran_date": "2025-02-12", "memo": memo,
                "lines": [{"account_id": "6300", "debit": 75, "credit": 0},
                          {"account_id": "1010", "debit": 0, "credit": 75}]})
        assert response.status_code == 201, response.get_json()

    def memos(self):
        if self.name == "count":
            response = self._call("GET", "/journal-entries", params={"limit": 100})
            rows, field = response.get_json()["data"]["journalEntries"], "descriptionEntry"
        elif self.name == "intacct":
            response = self._call("POST", "/services/core/query", {
                "object": "general-ledger/journal-entry", "fields": ["key", "description"], "size": 1000})
            rows, field = response.get_json()["ia::result"], "description"
        elif self.name == "codat":
            response = self._call("GET", f"/companies/{self.creds['company_id']}/data/journalEntries",
                                  params={"pageSize": 5000})
            rows, field = response.get_json()["results"], "description"
        else:
            response = self._call("GET", "/journal-entries", params={"limit": 100})
            rows, field = response.get_json()["data"], "memo"
        assert response.status_code == 200, response.get_json()
        return [row[field] for row in rows]

    def read_status(self):
        """The status of a plain authenticated read (the cheap one each provider has)."""
        paths = {"count": "/tags", "intacct": "/objects/general-ledger/account", "codat": "/companies",
                 "aden": "/accounts"}
        return self._call("GET", paths[self.name]).status_code


@pytest.fixture(params=NAMES)
def name(request):
    return request.param


@pytest.fixture
def app(make_app, name):
    return make_app(providers=(name,))


@pytest.fixture
def admin(app):
    return app.test_client()


def create(admin, name, tenant_name=None):
    body = {"provider": name, **({"name": tenant_name} if tenant_name else {})}
    response = admin.post("/_mock/tenants", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def default(app, name):
    return Session(app, name, provider(app, name).credentials(f"http://localhost/{name}"))


def test_created_tenant_has_credentials_shaped_like_the_fixtures(app, admin, name):
    creds = create(admin, name, "ci-job-1")
    fixture = provider(app, name).credentials(f"http://localhost/{name}")
    def shape(keys):  # Aden has one `token_<org>_<entity>_<user>` key per token, named after its organisation
        return {k.split("_")[0] if k.startswith("token_") else k for k in keys}
    assert shape(set(creds) - {"tenant"}) == shape(fixture)
    assert creds["provider"] == name and creds["base_url"] == fixture["base_url"]
    assert creds["tenant"]
    secrets = [k for k in fixture if k in ("access_token", "refresh_token", "api_key", "authorization", "token",
                                           "client_secret")]
    for key in secrets:
        if name == "count" or key != "client_secret":  # Intacct's new company shares the one OAuth client
            assert creds[key] != fixture[key], key
    assert Session(app, name, creds).read_status() == 200


def test_created_tenant_starts_like_the_first_fixture_tenant(app, admin, name):
    memos = default(app, name).memos()
    creds = create(admin, name)
    assert sorted(Session(app, name, creds).memos()) == sorted(memos)
    assert memos  # the fixture tenant has entries, so "the same" means something


def test_writes_stay_in_their_tenant(app, admin, name):
    fresh, fixture = Session(app, name, create(admin, name, "isolated")), default(app, name)
    before = sorted(fixture.memos())
    fresh.write("only-in-new")
    assert "only-in-new" in fresh.memos()
    assert sorted(fixture.memos()) == before
    fixture.write("only-in-default")
    assert "only-in-default" in fixture.memos()
    assert "only-in-default" not in fresh.memos() and fresh.memos().count("only-in-new") == 1


def test_two_tenants_are_distinct_and_isolated(app, admin, name):
    first, second = create(admin, name, "job-a"), create(admin, name, "job-b")
    assert first["tenant"] != second["tenant"]
    a, b = Session(app, name, first), Session(app, name, second)
    a.write("only-in-a")
    assert "only-in-a" in a.memos() and "only-in-a" not in b.memos()


def test_journal_records_the_tenant_id_returned(app, admin, name):
    creds = create(admin, name)
    assert Session(app, name, creds).read_status() == 200
    default(app, name).read_status()
    entries = admin.get("/_mock/journal", query_string={"provider": name}).get_json()["entries"]
    tenants = [e["tenant"] for e in entries]
    assert tenants[1] == creds["tenant"] and tenants[0] != creds["tenant"]
    mine = admin.get("/_mock/journal", query_string={"tenant": creds["tenant"]}).get_json()["entries"]
    assert len(mine) == 1


def test_listed_with_its_name(app, admin, name):
    creds = create(admin, name, "ci-job-4711")
    listed = admin.get("/_mock/tenants", query_string={"provider": name}).get_json()["tenants"]
    assert {"provider": name, "id": creds["tenant"], "name": "ci-job-4711"} in listed
    assert len({t["id"] for t in listed}) == len(listed)  # one row per tenant id
    ids = {t.id: t for t in provider(app, name).tenants()}
    assert ids[creds["tenant"]].book is not None and ids[creds["tenant"]].book.entries


def test_unnamed_tenant_is_listed_too(app, admin, name):
    creds = create(admin, name)
    listed = admin.get("/_mock/tenants", query_string={"provider": name}).get_json()["tenants"]
    assert creds["tenant"] in {t["id"] for t in listed}


def test_created_tenants_repeat_with_the_seed(make_app, name):
    runs = []
    for _ in range(2):
        app = make_app(providers=(name,))
        runs.append(create(app.test_client(), name, "same"))
    assert runs[0] == runs[1]


@pytest.mark.state_outside_the_api  # calls the providers directly, from threads
def test_concurrent_creation_gives_distinct_working_tenants(app, name):
    mounted = provider(app, name)
    results, errors = {}, []
    start = threading.Barrier(8)

    def make(i):
        try:
            start.wait()
            results[f"job-{i}"] = mounted.create_tenant(f"http://localhost/{name}", f"job-{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=make, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 8
    assert len({creds["tenant"] for creds in results.values()}) == 8
    listed = {t.id: t.name for t in mounted.tenants()}
    assert {job: listed[creds["tenant"]] for job, creds in results.items()} == {job: job for job in results}
    for creds in results.values():
        assert Session(app, name, creds).read_status() == 200


def test_unknown_provider_is_404(make_app):
    admin = make_app(providers=("count",)).test_client()
    assert admin.post("/_mock/tenants", json={"provider": "nope"}).status_code == 404


def _lacking(name, what):
    """Fixtures for `name` with no usable credentials: the defaults with every token expired or key revoked (or
    none), or an empty section."""
    if what == "an empty section":
        return {name: {}}
    section = copy.deepcopy(yaml.safe_load((data_dir("fixtures") / f"{name}.yaml").read_text())[name])
    if name == "aden":
        section["tokens"] = [{**t, "expires_at": "2025-01-31T00:00:00Z"} for t in section["tokens"]]
    elif name == "codat":
        for client in section["clients"]:
            client["apiKeys"] = [{**k, "revoked": True} for k in client["apiKeys"]]
    else:
        section["tokens"] = []
    return {name: section}


# Whether POST /_mock/tenants still has a tenant to seed the new one like: COUNT and Codat start from empty books.
SEEDABLE = {("count", "an empty section"), ("codat", "an empty section"), ("count", "no usable credentials"),
            ("codat", "no usable credentials"), ("aden", "no usable credentials")}


@pytest.mark.parametrize("loaded", ["at start", "through POST /_mock/fixtures"])
@pytest.mark.parametrize("what", ["no usable credentials", "an empty section"])
def test_fixtures_that_lack_credentials_get_a_409_and_nothing_changes(make_app, tmp_path, name, what, loaded):
    """Once a 500 (an IndexError): credentials, or a new tenant, asked of a server whose fixtures define none."""
    fixtures = _lacking(name, what)
    if loaded == "at start":
        path = tmp_path / "fixtures.yaml"
        path.write_text(yaml.safe_dump(fixtures))
        app = make_app(providers=(name,), fixtures=path)
    else:
        app = make_app(providers=(name,))
        loaded = app.test_client().post("/_mock/fixtures", data=yaml.safe_dump(fixtures),
                                        content_type="application/yaml")
        assert loaded.status_code == 200, loaded.get_json()
    admin = app.test_client()
    refused = admin.get("/_mock/credentials", query_string={"provider": name})
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["error"] == "conflict"
    assert f"The {name} fixtures define no" in refused.get_json()["message"]
    assert admin.get("/_mock/credentials").get_json() == {}  # every provider's: those that have some
    before = state_of(app)
    created = admin.post("/_mock/tenants", json={"provider": name, "name": "fresh"})
    if (name, what) in SEEDABLE:
        assert created.status_code == 201, created.get_json()
        assert Session(app, name, created.get_json()).read_status() == 200
    else:
        assert created.status_code == 409, created.get_json()
        assert f"The {name} fixtures" in created.get_json()["message"]
        assert not differences(before, state_of(app)), "a refused tenant left something behind"


# -- per provider: the credentials work the way that provider's clients use them ---------------------------------

@pytest.mark.parametrize("name", ["intacct"])
def test_intacct_username_works_with_client_credentials(app, admin, name):
    creds = create(admin, name, "cc")
    token = app.test_client().post(urlsplit(creds["token_url"]).path, data={
        "grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": creds["client_secret"],
        "username": creds["username"]})
    assert token.status_code == 200, token.get_json()
    session = Session(app, name, {**creds, "access_token": token.get_json()["access_token"]})
    session.write("via-client-credentials")
    assert "via-client-credentials" in Session(app, name, creds).memos()
    assert creds["username"].endswith("@" + creds["company_id"]) and creds["company_id"] == creds["tenant"]
    refreshed = app.test_client().post(urlsplit(creds["token_url"]).path, data={
        "grant_type": "refresh_token", "client_id": creds["client_id"], "client_secret": creds["client_secret"],
        "refresh_token": creds["refresh_token"]})
    assert refreshed.status_code == 200


@pytest.mark.parametrize("name", ["codat"])
def test_codat_tenant_is_a_client_with_its_own_companies(app, admin, name):
    creds = create(admin, name, "codat-ci")
    assert creds["authorization"] == "Basic " + base64.b64encode(creds["api_key"].encode()).decode()
    fixture = default(app, name).creds
    fresh = Session(app, name, creds)
    assert creds["tenant"] == creds["client_id"] != fixture["client_id"]
    assert creds["company_id"] != fixture["company_id"] and creds["connection_id"] != fixture["connection_id"]
    mine = fresh._call("GET", "/companies", params={"pageSize": 100}).get_json()["results"]
    theirs = default(app, name)._call("GET", "/companies", params={"pageSize": 100}).get_json()["results"]
    assert [c["name"] for c in mine] == [c["name"] for c in theirs]  # seeded like the first client's companies
    assert not {c["id"] for c in mine} & {c["id"] for c in theirs}
    linked = next(c for c in mine if c["id"] == creds["company_id"])
    assert [d["status"] for d in linked["dataConnections"]] == ["Linked"]
    assert default(app, name)._call("GET", f"/companies/{creds['company_id']}").status_code == 404
    assert fresh._call("GET", f"/companies/{fixture['company_id']}").status_code == 404


@pytest.mark.parametrize("name", ["aden"])
def test_aden_tenant_is_an_organisation_with_every_user(app, admin, name):
    creds = create(admin, name, "aden-ci")
    assert creds["authorization"] == f"jwt {creds['token']}"
    org, entity = creds["organisation_id"], creds["entity_id"]
    assert creds["tenant"] == f"{org}/{entity}" and org != "org_demo"
    users = {key for key in creds if key.startswith("token_")}
    assert users == {f"token_{org}_{e}_{u}" for e in ("main", "manual")
                     for u in ("usr_admin", "usr_approver1", "usr_approver2", "usr_clerk")}
    # The approval levels came along: a 7,500 entry needs both levels, from the new organisation's own users.
    clerk = Session(app, name, {**creds, "authorization": f"jwt {creds[f'token_{org}_main_usr_clerk']}"})
    level1 = Session(app, name, {**creds, "authorization": f"jwt {creds[f'token_{org}_main_usr_approver1']}"})
    level2 = Session(app, name, {**creds, "authorization": f"jwt {creds[f'token_{org}_main_usr_approver2']}"})
    made = clerk._call("POST", "/journal-entries", {
        "journal_entry_id": "BIG-1", "tran_date": "2025-02-12", "memo": "big",
        "lines": [{"account_id": "6300", "debit": 7500, "credit": 0}, {"account_id": "1010", "debit": 0,
                                                                       "credit": 7500}]})
    assert made.status_code == 201, made.get_json()
    assert clerk._call("POST", "/journal-entries/BIG-1/submit-for-approval").status_code == 200
    first = level1._call("POST", "/journal-entries/BIG-1/approve", {"comments": "level 1"})
    assert first.status_code == 200 and first.get_json()["status"] == "Pending Approval", first.get_json()
    assert level1._call("POST", "/journal-entries/BIG-1/approve", {"comments": "again"}).status_code == 403
    second = level2._call("POST", "/journal-entries/BIG-1/approve", {"comments": "level 2"})
    assert second.status_code == 200 and second.get_json()["status"] == "Posted", second.get_json()
    # The fixture admin's token does not open the new organisation's entry.
    assert default(app, name)._call("GET", "/journal-entries/BIG-1").status_code == 404
    periods = Session(app, name, creds)._call("GET", "/accounting-periods").get_json()["data"]
    assert [p["period_id"] for p in periods][:2] == ["P2023M11", "P2023M12"]


# -- resetting one tenant ------------------------------------------------------------------------------------

def test_a_reset_tenant_is_as_created_and_the_others_keep_their_changes(app, admin, name):
    """Every provider resets one tenant alone (Provider.swap_tenant): a tenant made through the admin API comes
    back as it was made, with working credentials, while another made tenant and a fixture tenant keep theirs."""
    a, b = (Session(app, name, create(admin, name, label)) for label in ("reset-a", "reset-b"))
    fixture, as_made = default(app, name), sorted(a.memos())
    for session, memo in ((a, "a-1"), (b, "b-1"), (fixture, "fixture-1"), (a, "a-2")):
        session.write(memo)
    tenant = a.creds["tenant"]
    answer = admin.post("/_mock/reset", json={"provider": name, "tenant": tenant})
    assert answer.status_code == 200 and answer.get_json() == {"reset": [f"{name}/{tenant}"]}
    assert sorted(a.memos()) == as_made
    assert "b-1" in b.memos() and "fixture-1" in fixture.memos()
    a.write("a-3")  # the same credentials still work
    assert sorted(a.memos()) == sorted([*as_made, "a-3"])


def test_a_tenant_reset_frees_its_old_books_without_a_collection(app, admin, name):
    """The server keeps its long-lived state out of the collector's sight (server.freeze_survivors), so what a
    reset drops must be freed by reference counting alone: a tenant's state holds no reference cycles."""
    session = Session(app, name, create(admin, name))
    session.write("to-be-dropped")
    book = next(t.book for t in provider(app, name).tenants() if t.id == session.creds["tenant"])
    old = weakref.ref(book)
    del book
    gc.collect()
    gc.freeze()
    try:
        assert admin.post("/_mock/reset", json={"provider": name, "tenant": session.creds["tenant"]}).status_code \
            == 200
        assert old() is None, "the reset tenant's old books outlived the reset"
    finally:
        gc.unfreeze()
