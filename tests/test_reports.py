"""The contract and drift reports as a person reads them: a summary table first, one line per finding, the detail
one click away, in a real headless Chromium (CI installs it; a missing browser fails, never skips)."""

from __future__ import annotations

import re

from tests import test_inspector
from tests.conftest import VENDOR_SPECS, provider
from tests.test_contract import Rewrite, cli, created_as_200, renamed

browser = test_inspector.browser


def bent_count_report(make_app, live_server, tmp_path):
    """A real run against COUNT bent two ways: tags answer `label` for `name`, a vendor is created with 200."""
    app = make_app(providers=("count",), validate_responses=False, frozen_time=None)  # HMAC uses the wall clock
    base = live_server(Rewrite(Rewrite(app, "/tags", renamed("name", "label")), "/vendors", created_as_200))
    env = {f"LEDGER_MOCK_COUNT_{key.upper()}": value for key, value in provider(app, "count").credentials("").items()
           if isinstance(value, str)}
    result = cli("contract", "--provider", "count", "--base-url", base + "/count", "--max-examples", "3",
                 "--no-stateful", "--seed", "1", "--include", "listTags", "--include", "createVendor",
                 "--report", "report.md", "--html-report", "report.html", env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    return tmp_path / "report.md", tmp_path / "report.html"


def test_contract_report_opens_on_a_summary_whose_links_open_the_finding(make_app, live_server, tmp_path, browser):
    from selenium.webdriver.common.by import By

    markdown, html = bent_count_report(make_app, live_server, tmp_path)
    text = markdown.read_text()
    assert text.index("| operation | kind of finding | findings |") < text.index("\n## ")  # the table comes first
    assert "| POST /partners/vendors | Undocumented status code | 1 |" in text

    page = html.read_text()
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=", page)  # nothing to fetch: it opens offline
    assert re.findall(r"href=", page) and not re.search(r"""href=(?!["']?#)""", page)  # links within the page

    browser.get(html.as_uri())
    table = browser.find_element(By.ID, "summary")
    kinds = [cell.text for cell in table.find_elements(By.CSS_SELECTOR, "thead th")]
    assert "Undocumented status code" in kinds and "Response violates schema" in kinds, kinds
    rows = {row.find_element(By.TAG_NAME, "th").text: row for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")}
    assert set(rows) == {"GET /partners/tags", "POST /partners/vendors"}, rows.keys()

    findings = browser.find_elements(By.CSS_SELECTOR, "details.finding")
    assert findings and not any(f.get_attribute("open") for f in findings)  # collapsed, one line each
    assert not any(curl.is_displayed() for curl in browser.find_elements(By.CSS_SELECTOR, "pre.curl"))
    lines = [f.find_element(By.TAG_NAME, "summary").text for f in findings]
    assert any("name" in line or "label" in line for line in lines), lines  # names the field
    assert any("200" in line for line in lines), lines  # names the status

    link = rows["POST /partners/vendors"].find_elements(By.TAG_NAME, "td")[kinds.index("Undocumented status code") - 1]
    assert link.text == "1"
    link.find_element(By.TAG_NAME, "a").click()
    opened = [f for f in browser.find_elements(By.CSS_SELECTOR, "details.finding") if f.get_attribute("open")]
    assert len(opened) == 1
    curl = opened[0].find_element(By.CSS_SELECTOR, "pre.curl")
    assert curl.is_displayed() and curl.text.startswith("curl -X POST") and "/partners/vendors" in curl.text
    assert "Received: 200" in opened[0].find_element(By.TAG_NAME, "summary").text
    exchange = opened[0].find_element(By.CSS_SELECTOR, ".exchange").text  # what was sent, and what came back
    assert exchange.startswith("POST http://") and '"status": "success"' in exchange, exchange


def test_drift_html_report_has_the_same_summary(tmp_path, browser):
    from selenium.webdriver.common.by import By

    report = tmp_path / "drift.html"
    vendor = VENDOR_SPECS / "codat" / "Codat-Sync-Payroll.yaml"
    result = cli("drift", "--provider", "codat", "--vendor-spec", str(vendor), "--html-report", str(report))
    assert result.returncode == 0, result.stderr
    browser.get(report.as_uri())
    table = browser.find_element(By.ID, "summary")
    kinds = [cell.text for cell in table.find_elements(By.CSS_SELECTOR, "thead th")]
    assert kinds[:3] == ["operation", "breaking", "not breaking"], kinds
    row = next(row for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")
               if row.find_element(By.TAG_NAME, "th").text == "GET /companies/{companyId}/data/journalEntries")
    row.find_elements(By.CSS_SELECTOR, "td a")[0].click()
    target = browser.find_element(By.ID, browser.current_url.split("#", 1)[1])
    assert "subsidiaryRefs" in target.text and target.is_displayed()
