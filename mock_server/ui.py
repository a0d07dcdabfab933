"""The inspector: read-only HTML pages under /_mock/ui showing what the mock holds and what it was asked.

    /_mock/ui                         every provider's tenants, and the latest requests
    /_mock/ui/journal                 the request journal across providers (refreshes itself)
    /_mock/ui/<provider>/<tenant>     one tenant's chart of accounts with balances, trial balance, journal
                                      entries (newest first, each with its history) and requests
    /_mock/ui/coverage/<provider>/<tenant>
                                      what clients exercised of the provider's API in that tenant, and how to
                                      reach what they did not (coverage.py)

Beside them, open to all (like the specs they point to): `/`, what this server serves (HTML for a browser,
JSON otherwise), `/<provider>/openapi.yaml|json`, the spec the mock runs with `servers` naming this server,
and `/_mock/fidelity/<provider>`, the departures page.

Plain Flask routes, not spec operations: they answer HTML, not a provider's JSON. Server-rendered from
mock_server/templates/ui with autoescaping on, no JavaScript and no external assets. When an admin token is
configured it is required here too, as `?token=` (kept on every link) or `Authorization: Bearer`.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import orjson
from flask import Flask, Response, abort, request
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from . import fidelity
from .coverage import status_table, summary_line
from .ledger import Side, format_amount
from .providers import Provider, Tenant

if TYPE_CHECKING:
    from .mock import Mock

PREFIX = "/_mock/ui"
FIDELITY_PREFIX = "/_mock/fidelity"  # /<provider>: where the mock departs from the real API
ENTRY_LIMIT = 200  # entries shown on a tenant page, newest first
JOURNAL_LIMIT = 100
TENANT_JOURNAL_LIMIT = 50
LIVE_REFRESH_SECONDS = 3

_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates" / "ui"), autoescape=True,
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def money(amount: Decimal) -> str:
    """Exact two-decimal text; a zero never shows as -0.00."""
    return format_amount(amount if amount != 0 else Decimal("0.00"))


def moment(at: datetime | str | None) -> str:
    if at is None:
        return ""
    if isinstance(at, str):
        return at.replace("+00:00", "Z")
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def pretty(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    # orjson: a page of 50 journal requests, each a 100-entry bulk body, took 300 ms with json.dumps
    return orjson.dumps(value, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()


_env.filters.update(money=money, moment=moment, pretty=pretty)


@dataclass
class ProviderTenants:
    name: str
    tenants: list[Tenant] | None  # None: the provider does not list its tenants
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)  # tenant id -> counts and trial balance


def mount(app: Flask, mock: "Mock") -> None:
    def guard() -> Response | None:
        token = mock.config.admin_token
        if token is None:
            return None
        given = request.args.get("token")
        if given is None:
            scheme, _, rest = request.headers.get("Authorization", "").partition(" ")
            given = rest.strip() if scheme.lower() == "bearer" else ""
        if hmac.compare_digest(given.encode(), token.encode()):
            return None
        return _text(401, "The inspector needs the admin token: add ?token=<admin token> to the URL or send "
                          "`Authorization: Bearer <admin token>` (printed by `ledger-mock serve` at start).\n",
                     {"WWW-Authenticate": 'Bearer realm="ledger-mock"'})

    def render(template: str, refresh: int = 0, **context: Any) -> Response:
        """A page; `refresh` seconds (0: never) until the browser reloads it."""
        page = _env.get_template(template).render(
            link=_linker(), now=moment(mock.runtime.clock.now()), frozen=mock.runtime.clock.frozen,
            providers=list(mock.providers), refresh=refresh, **context)
        return Response(page, mimetype="text/html", headers={"Cache-Control": "no-store"})

    def index() -> Response:
        refused = guard()
        if refused:
            return refused
        return render("index.html", listing=[_listing(name, provider) for name, provider in mock.providers.items()],
                      journal=mock.journal.query(limit=20), refresh=_refresh(0))

    def journal() -> Response:
        refused = guard()
        if refused:
            return refused
        wanted = request.args.get("provider") or None
        return render("journal.html", journal=mock.journal.query(provider=wanted, limit=JOURNAL_LIMIT),
                      wanted=wanted, refresh=_refresh(LIVE_REFRESH_SECONDS))

    def find_tenant(provider: str, tenant_id: str) -> tuple[Any, Any] | Response:
        """The provider and its tenant (None from a provider that does not list its tenants), or the 404."""
        found = mock.providers.get(provider)
        if found is None:
            return _text(404, f"No provider {provider!r} is served; served: {', '.join(mock.providers)}.\n")
        try:
            tenant = next((t for t in found.tenants() if str(t.id) == tenant_id), None)
        except NotImplementedError:
            return found, None
        if tenant is None:
            return _text(404, f"{provider} has no tenant {tenant_id!r}.\n")
        return found, tenant

    def tenant(provider: str, tenant_id: str) -> Response:
        looked = guard() or find_tenant(provider, tenant_id)
        if isinstance(looked, Response):
            return looked
        found, tenant = looked
        if tenant is None:
            return _text(404, f"{provider} does not list its tenants yet, so the inspector cannot show one.\n")
        found.settle()
        # Pages, not whole books: `?page=N` through the entries, `?requests=N` through the requests.
        page, requests_page = _page_arg("page"), _page_arg("requests")
        return render("tenant.html", provider=provider, tenant=tenant, view=_tenant_view(tenant.book, page),
                      journal=mock.journal.query(provider=provider, tenant=str(tenant.id),
                                                 limit=TENANT_JOURNAL_LIMIT,
                                                 offset=(requests_page - 1) * TENANT_JOURNAL_LIMIT),
                      requests_page=requests_page, requests_per_page=TENANT_JOURNAL_LIMIT, refresh=_refresh(0))

    def coverage_page(provider: str, tenant_id: str) -> Response:
        # A provider that does not list its tenants: what was counted for the id is all there is.
        looked = guard() or find_tenant(provider, tenant_id)
        if isinstance(looked, Response):
            return looked
        found, _ = looked
        (report,) = mock.coverage.report({provider: found}, tenant_id)["providers"]
        return render("coverage.html", provider=provider, tenant_id=tenant_id, report=report,
                      table=status_table(report), summary=summary_line(report), refresh=_refresh(0))

    def departures(provider: str) -> Response:
        """The provider's departures ledger as a page: open to all, like the specs it describes."""
        if provider not in mock.providers:
            return _text(404, f"No provider {provider!r} is served; served: {', '.join(mock.providers)}.\n")
        return render("fidelity.html", provider=provider, ledger=fidelity.load(provider),
                      title=fidelity.title(mock.providers[provider].spec.document))

    def home() -> Response:
        facts = about(mock, request.host_url)
        accept = request.accept_mimetypes
        if accept["text/html"] > accept["application/json"]:  # a browser; API clients (and */*) get JSON
            return render("home.html", about=facts)
        return Response(json.dumps(facts, indent=2), mimetype="application/json",
                        headers={"Cache-Control": "no-store"})

    def spec(provider: str, fmt: str) -> Response:
        if provider not in mock.providers:
            abort(404)
        return Response(served_spec(mock.specs[provider].document, base_url(mock, request.host_url, provider), fmt),
                        mimetype="application/json" if fmt == "json" else "application/yaml")

    app.add_url_rule("/", endpoint="_mock_ui.home", view_func=home, methods=["GET"])
    app.add_url_rule("/<provider>/openapi.<any(yaml, json):fmt>", endpoint="_mock_ui.spec", view_func=spec,
                     methods=["GET"])
    app.add_url_rule(FIDELITY_PREFIX + "/<provider>", endpoint="_mock_ui.fidelity", view_func=departures,
                     methods=["GET"])
    app.add_url_rule(PREFIX, endpoint="_mock_ui.index", view_func=index, methods=["GET"])
    app.add_url_rule(PREFIX + "/journal", endpoint="_mock_ui.journal", view_func=journal, methods=["GET"])
    app.add_url_rule(PREFIX + "/coverage/<provider>/<path:tenant_id>", endpoint="_mock_ui.coverage",
                     view_func=coverage_page, methods=["GET"])
    app.add_url_rule(PREFIX + "/<provider>/<path:tenant_id>", endpoint="_mock_ui.tenant", view_func=tenant,
                     methods=["GET"])


def base_url(mock: "Mock", host_url: str, provider: str) -> str:
    """Where `provider` is served, as a client reaching this server at `host_url` sees it."""
    return host_url.rstrip("/") + mock.prefix_of(provider)


def about(mock: "Mock", host_url: str) -> dict[str, Any]:
    """What this server serves and where: the index at `/`, and the startup banner."""
    root = host_url.rstrip("/")
    return {"service": "ledger-mock",
            "providers": [{"name": name, "base_url": base_url(mock, host_url, name),
                           "spec_yaml": f"{root}/{name}/openapi.yaml", "spec_json": f"{root}/{name}/openapi.json",
                           "departures": f"{root}{FIDELITY_PREFIX}/{name}",
                           "credentials": f"{root}/_mock/credentials?provider={name}"} for name in mock.providers],
            "inspector": root + PREFIX, "admin": root + "/_mock"}


def served_spec(document: dict[str, Any], base: str, fmt: str) -> str:
    """The spec the mock runs, with `servers` naming this server (what a client generator should point at)."""
    key = (id(document), base, fmt)  # the documents live as long as the process (spec.load_document)
    text = _served.get(key)
    if text is None:
        if len(_served) > 32:
            _served.clear()
        text = _served[key] = _dump_spec(document, base, fmt)
    return text


_served: dict[tuple[int, str, str], str] = {}


def _dump_spec(document: dict[str, Any], base: str, fmt: str) -> str:
    served = {**document, "servers": [{"url": base, "description": "this ledger-mock server"}]}
    if fmt == "json":
        return json.dumps(served, indent=2, ensure_ascii=False, default=str)
    import yaml
    return yaml.dump(served, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False,
                     allow_unicode=True)


def _listing(name: str, provider: Provider) -> ProviderTenants:
    provider.settle()
    try:
        tenants = list(provider.tenants())
    except NotImplementedError:
        return ProviderTenants(name, None)
    listing = ProviderTenants(name, tenants)
    for t in tenants:
        with t.book.lock:
            listing.stats[str(t.id)] = {"accounts": len(t.book.accounts), "entries": len(t.book.entries),
                                        "trial_balance": t.book.trial_balance()}
    return listing


def _tenant_view(book: Any, page: int = 1) -> dict[str, Any]:
    """A consistent snapshot of one book, taken under its lock (the page renders after it is released): the
    chart and trial balance whole, the entries one page of ENTRY_LIMIT, newest first."""
    with book.lock:
        accounts = sorted(book.accounts.values(), key=lambda a: (a.number is None, a.number or "", a.name, a.id))
        chart = [{"account": a, "balance": book.balance(a.id)} for a in accounts]
        names = {a.id: a.name for a in accounts}
        rows = [row for row in chart if row["balance"] != 0]
        debits = sum((r["balance"] for r in rows if r["balance"] > 0), Decimal("0.00"))
        credits = sum((-r["balance"] for r in rows if r["balance"] < 0), Decimal("0.00"))
        entries, total = book.entries_page(offset=(page - 1) * ENTRY_LIMIT, limit=ENTRY_LIMIT, newest_first=True)
        shown = [{"entry": e, "history": book.history(e.id),
                  "lines": [{"line": line, "account": names.get(line.account_id, line.account_id),
                             "debit": line.amount if line.side is Side.DEBIT else None,
                             "credit": line.amount if line.side is Side.CREDIT else None} for line in e.lines]}
                 for e in entries]
        return {"currency": book.currency, "closed_through": book.closed_through, "chart": chart,
                "trial_rows": rows, "debits": debits, "credits": credits, "trial_balance": book.trial_balance(),
                "entries": shown, "entries_total": total, "page": page,
                "pages": max(1, -(-total // ENTRY_LIMIT)), "first_shown": (page - 1) * ENTRY_LIMIT + 1}


def _linker():
    """Links within the inspector, carrying a `?token=` the page was opened with."""
    root = request.script_root
    token = request.args.get("token")

    def link(*parts: str, **params: Any) -> str:
        path = root + PREFIX + "".join("/" + quote(str(part), safe="") for part in parts)
        query = {k: v for k, v in params.items() if v is not None}
        if token is not None:
            query["token"] = token
        return path + ("?" + urlencode(query) if query else "")

    return link


def _page_arg(name: str) -> int:
    """A 1-based page number from the query string; anything else is the first page."""
    value = request.args.get(name, "1")
    return min(int(value), 10**9) if value.isdigit() and int(value) > 0 else 1


def _refresh(default: int) -> int:
    """Seconds between automatic reloads (`?refresh=N`, 0 for none)."""
    try:
        return max(0, min(3600, int(request.args.get("refresh", default))))
    except ValueError:
        return default


def _text(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(text, status=status, mimetype="text/plain", headers=headers or {})
