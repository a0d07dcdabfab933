"""The inspector pages under /_mock/ui: fast checks through the Flask test client, and one real headless Chromium
run against a live server (CI installs chromium and chromium-driver; a missing browser fails, never skips)."""

from __future__ import annotations

import json
import re
import shutil
import time
from decimal import Decimal
from html import unescape
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
import yaml

from mock_server.auth.hmac_signing import signature_headers
from mock_server.ledger import format_amount
from tests.conftest import provider
from tests.count.conftest import ACME, ACCRUED, RENT, CountClient, entry_body

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
NASTY = '<img src=x onerror="alert(1)"> & Rent'
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHOWN_AS = {"count": "COUNT", "aden": "Aden", "codat": "Codat", "intacct": "Intacct"}  # the README's names


def page(client, url, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def text_of(html):
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_index_lists_tenants_and_survives_providers_that_do_not_list_theirs(app, monkeypatch):
    def unlisted():
        raise NotImplementedError
    monkeypatch.setattr(provider(app, "codat"), "tenants", unlisted)
    html = page(app.test_client(), "/_mock/ui")
    assert f'href="/_mock/ui/count/{ACME}"' in html
    for name in app.extensions["ledger_mock"].providers:
        assert f"<h2>{name}</h2>" in html
    assert "tenants not listed" in html
    response = app.test_client().get("/_mock/ui/codat/anything")
    assert response.status_code == 404 and response.mimetype == "text/plain"


def fixture_tenants() -> dict[tuple[str, str], str]:
    """(provider, tenant id) -> the name the fixtures give it, read from fixtures/*.yaml as each provider
    defines its tenants: COUNT's workspaces, Aden's organisations' entities (`org/entity`), Codat's clients,
    Intacct's companies (named by their id)."""
    found: dict[tuple[str, str], str] = {}
    for path in sorted(FIXTURES.glob("*.yaml")):
        for name, section in yaml.safe_load(path.read_text()).items():
            if name == "count":
                found.update({(name, w["id"]): w["name"] for w in section["workspaces"]})
            elif name == "aden":
                found.update({(name, f"{o['id']}/{e['id']}"): e["name"]
                              for o in section["organisations"] for e in o["entities"]})
            elif name == "codat":
                found.update({(name, c["id"]): c["name"] for c in section["clients"]})
            elif name == "intacct":
                found.update({(name, str(key)): (company or {}).get("name", str(key))
                              for key, company in section["companies"].items()})
            else:
                raise AssertionError(f"{path}: teach fixture_tenants() where {name}'s tenants are")
    return found


def test_every_fixture_tenant_is_on_the_first_page_from_the_start(make_app):
    app = make_app()
    client = app.test_client()
    assert app.extensions["ledger_mock"].journal.query(limit=1) == []  # no request has reached a provider
    html = page(client, "/_mock/ui")
    text = text_of(html)
    expected = fixture_tenants()
    assert {name for name, _ in expected} == set(app.extensions["ledger_mock"].providers)
    assert len(expected) >= 9 and ("intacct", "DEMO") in expected and ("intacct", "TWOSTEP") in expected
    missing = [(name, tenant, shown) for (name, tenant), shown in expected.items()
               if f'href="/_mock/ui/{name}/{quote(tenant, safe="")}"' not in html or shown not in text]
    assert not missing, f"fixture tenants not on the inspector's first page: {missing}"

    listed = client.get("/_mock/tenants").get_json()["tenants"]  # the admin API lists the same tenants
    assert {(t["provider"], t["id"]): t["name"] for t in listed} == expected


def test_tenant_page_shows_books_entries_history_and_requests_escaped(app):
    count = CountClient(app)
    created = count.post("/journal-entries", entry_body((RENT, "1234.56", None), (ACCRUED, None, "1234.56"),
                                                        description=NASTY, date="2025-02-14"))
    assert created.status_code in (200, 201), created.get_json()
    book = next(t.book for t in provider(app, "count").tenants() if t.id == ACME)
    html = page(app.test_client(), f"/_mock/ui/count/{ACME}")

    assert NASTY not in html and "<img" not in html  # escaped, in the entry row and in the request journal
    assert "&lt;img src=x onerror=" in html
    text = text_of(html)
    assert NASTY in text and "1234.56" in text
    for account in book.accounts.values():  # the chart of accounts, each with its exact balance
        assert re.search(re.escape(unescape(account.name)) + r".*?" + re.escape(format_amount(book.balance(account.id))),
                         text)
    total = re.search(r'id="trial-balance-total">([^<]+)<', html).group(1)
    assert total == format_amount(book.trial_balance()) == "0.00"
    shown = re.findall(r'data-entry-id="([^"]+)"', html)  # newest first, as the book pages them
    assert shown == [e.id for e in book.entries_page(limit=1000, newest_first=True)[0]]
    new_id = shown[0]
    assert book.entry(new_id).memo == NASTY and book.entry(new_id).total_debit == Decimal("1234.56")
    row = html[html.index(f'data-entry-id="{new_id}"'):]
    assert re.search(r"<td>\s*created\s*</td>", row[:row.index("</details>")])  # its history
    assert "createJournalEntry" in html or "POST /count/partners/journal-entries" in text  # its requests


def test_live_journal_refreshes_and_filters(app):
    count = CountClient(app)
    assert count.get("/journal-entries").status_code == 200
    html = page(app.test_client(), "/_mock/ui/journal")
    assert '<meta http-equiv="refresh" content="3">' in html
    assert "GET /count/partners/journal-entries" in text_of(html)
    html = page(app.test_client(), "/_mock/ui/journal?provider=codat&refresh=0")
    assert "http-equiv" not in html and "/count/partners/journal-entries" not in html


def test_token_is_required_when_configured(make_app):
    app = make_app(admin_token="s3cret")
    client = app.test_client()
    for url in ("/_mock/ui", "/_mock/ui/journal", f"/_mock/ui/count/{ACME}", "/_mock/ui?token=wrong"):
        refused = client.get(url)
        assert refused.status_code == 401 and refused.mimetype == "text/plain", url
        assert "admin token" in refused.get_data(as_text=True)
    assert client.get("/_mock/ui", headers={"Authorization": "Bearer wrong"}).status_code == 401
    page(client, "/_mock/ui", headers={"Authorization": "Bearer s3cret"})
    html = page(client, "/_mock/ui?token=s3cret")
    assert f'href="/_mock/ui/count/{ACME}?token=s3cret"' in html  # links keep the token
    page(client, f"/_mock/ui/count/{ACME}?token=s3cret")


# -- a real browser --------------------------------------------------------------------------------------------


@pytest.fixture
def browser(tmp_path, monkeypatch):
    assert shutil.which("chromium") or shutil.which(CHROMIUM), "chromium is not installed (apt-get install chromium)"
    assert shutil.which("chromedriver") or shutil.which(CHROMEDRIVER), \
        "chromedriver is not installed (apt-get install chromium-driver)"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium-manager must never download a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1400,1800", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_browser_sees_a_new_entry_after_reload(make_app, live_server, browser):
    from selenium.webdriver.common.by import By

    app = make_app(frozen_time=None)  # real time: the HMAC timestamps below are the wall clock's
    base = live_server(app)
    browser.get(f"{base}/_mock/ui/count/{ACME}")
    assert "Acme" in browser.title
    memo = f"Inspector check {time.time_ns()} <b>not bold</b>"
    assert memo not in browser.find_element(By.ID, "entries").text

    creds = provider(app, "count").credentials(base + "/count")
    path = "/count/partners/journal-entries"
    body = json.dumps(entry_body((RENT, "4321.09", None), (ACCRUED, None, "4321.09"), description=memo,
                                 date="2025-03-03"), separators=(",", ":")).encode()
    headers = {**signature_headers(creds["client_id"], creds["client_secret"], "POST", path, body),
               "Authorization": f"Bearer {creds['access_token']}", "Content-Type": "application/json"}
    created = requests.post(base + path, data=body, headers=headers, timeout=10)
    assert created.status_code in (200, 201), created.text

    browser.refresh()
    rows = [row for row in browser.find_elements(By.CSS_SELECTOR, "#entries tr.entry")
            if memo in row.find_element(By.CLASS_NAME, "memo").text]
    assert len(rows) == 1, browser.find_element(By.ID, "entries").text[:2000]
    cells = [cell.text for cell in rows[0].find_elements(By.CSS_SELECTOR, ":scope > td")]
    assert cells[0] == "2025-03-03" and cells[3] == "4321.09" and cells[4] == "4321.09", cells
    assert not rows[0].find_elements(By.TAG_NAME, "b")  # the memo's markup is text, not markup
    assert browser.find_element(By.ID, "trial-balance-total").text == "0.00"
    assert "POST /count/partners/journal-entries" in browser.page_source.replace("&nbsp;", " ")


def test_browser_finds_every_provider_on_the_index_and_the_inspector(make_app, live_server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    app = make_app()
    base = live_server(app)
    served = list(app.extensions["ledger_mock"].providers)
    assert set(served) == set(SHOWN_AS)
    for url in (f"{base}/", f"{base}/_mock/ui"):
        browser.get(url)
        assert browser.execute_script("return document.contentType") == "text/html", url  # not `/`'s JSON
        body = browser.find_element(By.TAG_NAME, "body").text
        assert body.strip(), url
        for name in served:
            assert SHOWN_AS[name].lower() in body.lower(), (url, name, body[:2000])
        if url.endswith("/_mock/ui"):
            for name in served:
                assert browser.find_elements(By.XPATH, f"//h2[normalize-space()='{name}']"), (url, name)
        else:
            links = {a.get_attribute("href") for a in browser.find_elements(By.TAG_NAME, "a")}
            for name in served:
                assert f"{base}/_mock/fidelity/{name}" in links and f"{base}/{name}/openapi.yaml" in links
            assert f"{base}/_mock/ui" in links
        shot = browser.get_screenshot_as_png()
        assert shot.startswith(b"\x89PNG\r\n\x1a\n") and len(shot) > 1000, (url, len(shot))
        (tmp_path / ("index.png" if url.endswith("/") else "inspector.png")).write_bytes(shot)


def test_coverage_page_is_linked_from_the_tenant_and_escapes(app):
    client = app.test_client()
    tenant = page(client, f"/_mock/ui/count/{ACME}")
    assert f'href="/_mock/ui/coverage/count/{ACME}"' in tenant
    html = page(client, f"/_mock/ui/coverage/count/{ACME}")
    assert "listAccounts" in html and 'class="cell uncovered"' in html and 'class="cell covered"' not in html
    assert client.get(f"/_mock/ui/coverage/count/{quote(NASTY, safe='')}").status_code == 404
    assert client.get("/_mock/ui/coverage/nope/x").status_code == 404


def test_browser_shows_coverage_with_uncovered_cells_and_their_hints(make_app, live_server, browser):
    from selenium.webdriver.common.by import By

    app = make_app()
    base = live_server(app)
    count = CountClient(app)
    assert count.get("/chart-of-accounts").status_code == 200
    added = requests.post(f"{base}/_mock/faults", json={"provider": "count", "operation": "listJournalEntries",
                                                        "limit": 0}, timeout=10)
    assert added.status_code == 201, added.text
    assert count.get("/journal-entries").status_code == 429

    browser.get(f"{base}/_mock/ui/count/{ACME}")
    browser.find_element(By.ID, "coverage-link").click()
    assert browser.current_url == f"{base}/_mock/ui/coverage/count/{ACME}"
    assert "count: " in browser.find_element(By.ID, "coverage-summary").text

    def cell(operation, status):
        return browser.find_element(By.CSS_SELECTOR, f"tr[data-operation='{operation}'] td[data-status='{status}']")

    assert "covered" in cell("listAccounts", 200).get_attribute("class").split()
    assert "injected" in cell("listJournalEntries", 429).get_attribute("class").split()
    missed = cell("createJournalEntry", 429)
    assert "uncovered" in missed.get_attribute("class").split()
    # highlighted: the uncovered cell is painted differently from a covered one
    assert missed.value_of_css_property("background-color") != \
        cell("listAccounts", 200).value_of_css_property("background-color")
    missed.find_element(By.TAG_NAME, "a").click()
    assert browser.current_url.endswith("#hint-createJournalEntry-429")
    hint = browser.find_element(By.ID, "hint-createJournalEntry-429").text
    assert "/_mock/faults" in hint and '"limit": 0' in hint


def test_a_tenant_page_pages_through_its_entries_and_requests(make_app):
    """Pages, not whole books: `?page=N` walks the entries (ENTRY_LIMIT a page, newest first) and `?requests=N` the
    requests, each page linking to its neighbours, while the trial balance stays that of the whole book."""
    from mock_server.ui import ENTRY_LIMIT, TENANT_JOURNAL_LIMIT

    app = make_app(providers=("count",))
    count = CountClient(app)
    http = app.test_client()
    before = len(provider(app, "count").tenants()[0].book.entries)
    made = 0
    while made < ENTRY_LIMIT + 50:
        rows = min(100, ENTRY_LIMIT + 50 - made)  # the bulk endpoint takes 100 rows
        bulk = count.post("/journal-entries/bulk", {"journalEntries": [
            entry_body(description=f"paged entry {made + n:04d}", date="2030-06-30") for n in range(rows)]})
        assert bulk.status_code == 201 and bulk.get_json()["data"]["errorCount"] == 0
        made += rows
    total = before + made
    ws = provider(app, "count").tenants()[0]
    url = f"/_mock/ui/count/{ws.id}"
    first, second = page(http, url), page(http, url, query_string={"page": 2})
    pages = -(-total // ENTRY_LIMIT)

    def entries(html):
        return html.split('<table id="entries">', 1)[1].split("<h2>Requests for this tenant", 1)[0]
    assert f"page 1 of {pages}" in text_of(first) and f"page 2 of {pages}" in text_of(second)
    assert f"paged entry {made - 1:04d}" in entries(first) and f"paged entry {made - 1:04d}" not in entries(second)
    assert f"paged entry {made - ENTRY_LIMIT - 1:04d}" in entries(second)  # the next older one opens page 2
    assert f"paged entry {made - ENTRY_LIMIT - 1:04d}" not in entries(first)
    assert 'rel="next"' in first and 'rel="prev"' in second
    trial = re.search(r'id="trial-balance-total">([^<]*)<', second).group(1)
    assert trial == re.search(r'id="trial-balance-total">([^<]*)<', first).group(1) and "0.00" in trial
    assert page(http, url, query_string={"page": "x"}) == first  # not a page number: the first page
    for _ in range(TENANT_JOURNAL_LIMIT):
        count.get("/chart-of-accounts")
    requests_first, requests_second = page(http, url), page(http, url, query_string={"requests": 2})
    newest = app.extensions["ledger_mock"].journal.query(provider="count", tenant=str(ws.id), limit=1)[0]
    assert newest["request_id"] in requests_first and newest["request_id"] not in requests_second
    assert 'id="requests-pager"' in requests_first and 'rel="prev"' in requests_second
