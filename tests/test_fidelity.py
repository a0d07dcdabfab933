"""The departures ledgers (openapi/<provider>.fidelity.yaml) are complete and honest, and the mock does what they
say: every spec operation has an entry, every test an entry names exists, the pages under docs/fidelity/ are
current and linked from the README, every operation listed as not mocked answers 501 in the provider's envelope,
and unknown query parameters and body fields follow each provider's policy (warned about, or refused, and
refused under --strict), for every operation of every provider."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from mock_server import fidelity, providers
from tests.test_hostile import ADMIN_TOKEN, SPECS, Mock

ROOT = Path(__file__).resolve().parent.parent
PROVIDERS = providers.names()
PROBE = "ledgerMockProbe"  # a name no provider declares


def ledger(name: str) -> fidelity.Ledger:
    path = fidelity.path_of(name)
    assert path.exists(), f"{path} is missing: every provider ships its departures ledger"
    return fidelity.parse(name, __import__("yaml").safe_load(path.read_text()), path)


@pytest.mark.parametrize("name", PROVIDERS)
def test_every_operation_of_the_spec_has_an_entry_and_every_entry_a_real_operation(name):
    covered = {op for b in ledger(name).behaviours for op in b.operations}
    operations = set(SPECS[name].operations)
    assert operations - covered == set(), "spec operations without a ledger entry"
    assert covered - operations == set(), "ledger entries naming operations the spec does not have"


def test_every_test_a_ledger_names_exists():
    named = {t for name in PROVIDERS for b in ledger(name).behaviours for t in b.tests}
    files = sorted({t.split("::")[0] for t in named})
    missing_files = [f for f in files if not (ROOT / f).exists()]
    assert not missing_files
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-o", "addopts=",
                                "-p", "no:cacheprovider", "--assert=plain", *files],  # nothing runs: no rewriting
                               cwd=ROOT, capture_output=True, text=True)
    ids = set(collected.stdout.split())
    functions = {i.split("[")[0] for i in ids}
    absent = sorted(t for t in named if t not in (ids if "[" in t else functions))
    assert not absent, f"ledger entries name tests that do not exist: {absent}"


@pytest.mark.parametrize("name", PROVIDERS)
def test_not_mocked_operations_are_not_served(name, make_app):
    app = make_app(providers=(name,))
    routes = app.extensions["ledger_mock"].front.routes
    for missing in ledger(name).not_mocked:
        path = "/" + name + re.sub(r"\{[^}/]+\}", "x1", missing.path)
        try:
            routes.match(path, missing.method)
        except (NotFound, MethodNotAllowed):
            continue
        pytest.fail(f"{missing.method} {missing.path} is listed as not mocked but the spec serves it")


@pytest.mark.parametrize("name", PROVIDERS)
def test_not_mocked_operations_answer_501_in_the_providers_envelope(name, make_app):
    mock = Mock(make_app(providers=(name,)))
    entries = ledger(name).not_mocked
    assert len(entries) >= 3, "the docs name operations this mock does not serve; list them"
    for missing in entries:
        path = "/" + name + re.sub(r"\{[^}/]+\}", "x1", missing.path)
        body = b"{}" if missing.method in ("POST", "PUT", "PATCH") else b""
        answer = mock.call(missing.method, body, {"PATH_INFO": path, "CONTENT_TYPE": "application/json"})
        assert answer.status_code == 501, (missing, answer.data[:300])
        assert "not mock" in answer.get_data(as_text=True), answer.data[:300]
        assert mock.in_envelope(name, answer), \
            f"{missing.method} {missing.path}: outside the envelope: {answer.data[:300]!r}"


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_path_that_exists_nowhere_is_still_404(name, make_app):
    mock = Mock(make_app(providers=(name,)))
    assert mock.get(f"/{name}/no-such-resource-anywhere").status_code == 404


@pytest.mark.parametrize("name", PROVIDERS)
def test_the_generated_page_is_current_and_linked_from_the_readme(name):
    page = ROOT / "docs" / "fidelity" / f"{name}.md"
    assert page.exists() and page.read_text() == fidelity.page(ledger(name), fidelity.title(SPECS[name].document)), \
        f"{page} is not current: run `ledger-mock fidelity --write`"
    assert f"docs/fidelity/{name}.md" in (ROOT / "README.md").read_text()


def test_the_page_shows_every_departure_with_how_and_why():
    for name in PROVIDERS:
        text = fidelity.page(ledger(name), fidelity.title(SPECS[name].document))
        for b in ledger(name).behaviours:
            if b.status == "departs":
                assert b.title in text and " ".join(b.departure.split())[:60] in " ".join(text.split())


@pytest.mark.parametrize("name", PROVIDERS)
def test_the_served_departures_page_lists_every_departure(name, make_app):
    """GET /_mock/fidelity/<provider>, open to all: what the server itself says about where it departs."""
    page = make_app(providers=(name,)).test_client().get(f"/_mock/fidelity/{name}")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = html.unescape(page.get_data(as_text=True))
    for b in ledger(name).behaviours:
        if b.status == "departs":
            assert b.title in text and " ".join(b.departure.split())[:60] in " ".join(text.split()), b.id
    for n in ledger(name).not_mocked:
        assert n.path in text


def test_a_ledger_that_says_too_little_is_refused():
    good = {"provider": "x", "unknown": {"query": "ignore", "body": "refuse", "evidence": "docs"},
            "behaviours": [{"id": "a", "title": "A", "source": "s", "status": "faithful",
                            "tests": ["tests/test_fidelity.py::test_x"]}]}
    fidelity.parse("x", good, "x.yaml")
    for broken in ({**good, "unknown": {"query": "maybe", "body": "refuse", "evidence": "docs"}},
                   {**good, "behaviours": [{**good["behaviours"][0], "status": "departs"}]},
                   {**good, "behaviours": [{**good["behaviours"][0], "tests": []}]},
                   {**good, "behaviours": [{**good["behaviours"][0], "tests": ["test_x"]}]},
                   {**good, "behaviours": good["behaviours"] * 2},
                   {**good, "not_mocked": [{"method": "GET", "path": "no-slash", "title": "t", "source": "s"}]}):
        with pytest.raises(fidelity.LedgerProblem):
            fidelity.parse("x", broken, "x.yaml")


# -- unknown input: the provider's policy, the warning, and --strict --------------------------------------------

@pytest.mark.parametrize("name", PROVIDERS)
def test_unknown_input_follows_the_providers_policy_and_strict_refuses_it(make_app, name):
    """For every operation whose baseline request succeeds: an undeclared query parameter, and an undeclared body
    field, are either refused with a 400 in the envelope (the provider refuses them) or answered as the baseline
    is with an X-Ledger-Mock-Warning naming them (the provider ignores them); under --strict always a 400."""
    policy, failures, checked = ledger(name), [], {"query": 0, "body": 0}
    for op in SPECS[name].operations.values():
        for strict in (False, True):
            mock = Mock(make_app(providers=(name,), refuse_ignored=strict))
            base = mock.baseline(name, op)
            if mock.send(base).status_code >= 400:  # needs state this sweep does not build
                continue
            for where in ("query", "body"):
                if where == "query":
                    probe = replace(base, query={**base.query, PROBE: b"1"})
                elif base.body and base.body.startswith(b"{") and base.body != b"{}":
                    probe = replace(base, body=base.body[:-1] + b',"%s":1}' % PROBE.encode())
                else:
                    continue
                mock = Mock(make_app(providers=(name,), refuse_ignored=strict))  # as before the baseline ran
                answer, rule = mock.send(probe), getattr(policy, f"unknown_{where}")
                checked[where] += 1
                text, warnings = answer.get_data(as_text=True), answer.headers.getlist("X-Ledger-Mock-Warning")
                if rule == "refuse" or strict:
                    if answer.status_code != 400 or PROBE not in text or mock.problem(probe, answer):
                        failures.append(f"{op.id} {where} strict={strict}: {answer.status_code} {text[:200]}")
                elif answer.status_code >= 400 or not any(PROBE in w for w in warnings):
                    failures.append(f"{op.id} {where}: {answer.status_code} {warnings} {text[:200]}")
    assert not failures, "\n".join(failures)
    # The sweep reached most operations: a baseline that stopped working would otherwise pass it vacuously.
    assert checked["query"] >= len(SPECS[name].operations), checked
    assert checked["body"] >= 2, checked


@pytest.mark.parametrize("name", [n for n in PROVIDERS if ledger(n).unknown_body == "ignore"])
def test_a_flood_of_ignored_fields_is_one_bounded_warning(make_app, name):
    """A fuzzer's body with hundreds of unknown fields (or a query with hundreds of unknown parameters) is
    answered as the baseline is, with a bounded number of warning headers: Python's http.client refuses a
    response with more than 100 headers, which once broke the contract harness on Codat."""
    mock = Mock(make_app(providers=(name,)))
    for op in SPECS[name].operations.values():
        base = mock.baseline(name, op)
        if not (base.body and base.body.startswith(b"{") and base.body != b"{}"):
            continue
        if mock.send(base).status_code >= 400:
            continue
        mock = Mock(make_app(providers=(name,)))
        flood = b"".join(b',"%s%d":%d' % (PROBE.encode(), n, n) for n in range(300))
        answer = mock.send(replace(base, body=base.body[:-1] + flood + b"}",
                                   query={**base.query, **{f"{PROBE}{n}": b"1" for n in range(300)}}))
        warnings = answer.headers.getlist("X-Ledger-Mock-Warning")
        assert answer.status_code < 400, answer.get_data(as_text=True)[:300]
        assert 2 <= len(warnings) <= 40 and all(len(w) <= 303 for w in warnings), warnings
        assert any("and 290 more" in w for w in warnings), warnings
        return
    pytest.fail(f"no operation of {name} takes a JSON object body")


def test_warnings_reach_the_journal(make_app):
    for name in (n for n in PROVIDERS if ledger(n).unknown_query == "ignore"):
        mock = Mock(make_app(providers=(name,)))
        op = next(op for op in SPECS[name].operations.values() if op.method == "GET" and "{" not in op.path
                  and mock.send(mock.baseline(name, op)).status_code == 200)
        mock.send(replace(mock.baseline(name, op), query={PROBE: b"1"}))
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        entry = mock.get("/_mock/journal?limit=1", **auth).get_json()["entries"][0]
        assert any(PROBE in w for w in entry["warnings"]), entry
