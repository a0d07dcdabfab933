"""Tally: companies with an API key each, and balanced journal entries on ledger-mock's shared ledger.

Everything a provider plug-in must give ledger-mock is here: the handlers of its spec's operations (`@handles`),
authentication, its error body, who made a change (for the write log), its credentials and tenants. The ledger
(`mock_server.ledger.Book`) keeps the books and enforces double entry; the pipeline validates requests against the
spec before a handler runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Mapping

from mock_server.errors import ApiError
from mock_server.ledger import (Account, AccountKind, Book, JournalEntry, LedgerError, NewLine, NotFound, Side,
                                format_amount)
from mock_server.providers import Call, Provider, Reply, Runtime, Tenant, handles


@dataclass
class Company:
    id: str
    name: str
    api_key: str
    book: Book


class TallyProvider(Provider):
    name = "tally"
    spec_file = "tally.yaml"
    home = Path(__file__).parent  # openapi/ and fixtures/ of this package

    def __init__(self, runtime: Runtime, fixtures: Mapping[str, Any]):
        super().__init__(runtime, fixtures)
        self.template = (fixtures.get("tenants") or [{}])[0]
        self.companies: dict[str, Company] = {}
        for raw in fixtures.get("tenants") or []:
            self._add(raw["id"], raw["name"], raw["apiKey"], raw.get("accounts") or [])

    def _add(self, company_id: str, name: str, api_key: str, accounts: list[Mapping[str, Any]]) -> Company:
        book = Book(company_id, clock=self.clock, ids=self.ids)
        now = self.clock.now()
        for raw in accounts:
            book.add_account(Account(str(raw["id"]), raw["name"], AccountKind(raw["kind"]), now, now))
        company = self.companies[company_id] = Company(company_id, name, api_key, book)
        return company

    # -- what every provider gives ledger-mock ----------------------------------------------------------------

    def authenticate(self, call: Call) -> None:
        key = call.request.headers.get("X-Api-Key", "")
        call.tenant = next((c for c in self.companies.values() if key and c.api_key == key), None)
        if call.tenant is None:
            raise ApiError(401, "unauthorized", "Send the company's API key in X-Api-Key.")

    def who(self, call: Call) -> dict[str, Any]:
        return {"company": call.tenant.id}

    def assume(self, call: Call, who: dict[str, Any]) -> None:
        call.tenant = self.companies.get(who["company"])
        if call.tenant is None:
            raise ApiError(401, "unauthorized", "The recorded company no longer exists.")

    def render_error(self, error: ApiError, request_id: str, path: str) -> dict[str, Any]:
        return {"error": {"code": error.code, "message": error.message}}

    def ledger_error(self, error: LedgerError) -> ApiError:
        return ApiError(404 if isinstance(error, NotFound) else 400, error.code, error.message)

    def credentials(self, base_url: str) -> dict[str, Any]:
        first = next(iter(self.companies.values()))
        return {"provider": self.name, "base_url": base_url, "api_key": first.api_key, "company": first.id}

    def tenants(self) -> list[Tenant]:
        return [Tenant(c.id, c.name, c.book) for c in list(self.companies.values())]

    def create_tenant(self, base_url: str, name: str | None = None) -> dict[str, Any]:
        company_id = f"c{self.ids.token(6)}"
        company = self._add(company_id, name or company_id, f"tally-key-{self.ids.token(16)}",
                            self.template.get("accounts") or [])
        return {"provider": self.name, "base_url": base_url, "api_key": company.api_key, "company": company.id,
                "tenant": company.id}

    # -- the spec's operations --------------------------------------------------------------------------------

    @handles("createEntry")
    def create_entry(self, call: Call) -> Reply:
        body, book = call.body, call.tenant.book
        lines = [NewLine(line["account"], Side(line["side"]), line["amount"]) for line in body["lines"]]
        entry = book.add_entry(on=date.fromisoformat(body["date"]), memo=body.get("memo", ""), lines=lines)
        return 201, _entry_out(entry)

    @handles("getEntry")
    def get_entry(self, call: Call) -> Reply:
        return 200, _entry_out(call.tenant.book.entry(call.path["id"]))


def _entry_out(entry: JournalEntry) -> dict[str, Any]:
    return {"id": entry.id, "date": entry.date.isoformat(), "memo": entry.memo,
            "total": format_amount(entry.total_debit),
            "lines": [{"account": line.account_id, "side": str(line.side), "amount": format_amount(line.amount)}
                      for line in entry.lines]}
