"""Intacct's tenants: one company per company id, each with its own ledger, chart of accounts and journals.

The fixture companies (those under `companies`, and every one a fixture token or authorization code names) exist
from the start, each with the fixture chart and journals and its own entries. An OAuth client reaches only the
companies that authorized it (its `companies` in the fixtures; by default every fixture company), as a real
company must authorize a sender ID; a token request for any other company is refused. A tenant made through the
admin API is a new company with a client of its own that reaches nothing else.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Callable, Mapping

from ...auth.oauth import TokenPair, TokenStore
from ...clock import LATEST, Clock, IdGenerator
from ...idempotency import IdempotencyStore
from ...ledger import Account, AccountKind, Book, JournalEntry, Workflow
from ...ledger.book import status_and_date

ACCESS_TTL = timedelta(seconds=3600)
REFRESH_TTL = timedelta(days=30)
CODE_TTL = timedelta(seconds=600)
IDEMPOTENCY_TTL = timedelta(hours=24)

# "Effective" states count in balances; reversed and reversalPending entries stay in the GL next to the
# posted entry that offsets them.
WORKFLOW = Workflow(
    transitions={
        ("draft", "submit"): "submitted", ("declined", "submit"): "submitted",
        ("draft", "post"): "posted",
        ("submitted", "approve"): "approved", ("partiallyApproved", "approve"): "approved",
        ("submitted", "decline"): "declined", ("partiallyApproved", "decline"): "declined",
        ("submitted", "recall"): "draft", ("partiallyApproved", "recall"): "draft",
        ("posted", "reverse"): "reversed", ("approved", "reverse"): "reversed",
        ("posted", "reclassify"): "posted", ("approved", "reclassify"): "approved",
    },
    posted=frozenset({"posted", "approved", "reversalPending", "reversed"}),
    drafts=frozenset({"draft", "declined"}))  # the seed: "Draft transactions do not have to be complete"
# An approval below the company's last level (`approvalLevels`) keeps the entry waiting; kept apart from WORKFLOW
# so its hints name one `approve` action.
PARTIAL_APPROVAL = Workflow(
    transitions={("submitted", "approve"): "partiallyApproved", ("partiallyApproved", "approve"): "partiallyApproved"},
    posted=WORKFLOW.posted)
# automaticReversalDate is not something a caller asks for, so it stays out of WORKFLOW's hints.
AUTO_REVERSAL = Workflow(
    transitions={("posted", "schedule"): "reversalPending", ("approved", "schedule"): "reversalPending"},
    posted=WORKFLOW.posted)

KINDS = {("balanceSheet", "debit"): AccountKind.ASSET, ("balanceSheet", "credit"): AccountKind.LIABILITY,
         ("incomeStatement", "credit"): AccountKind.INCOME, ("incomeStatement", "debit"): AccountKind.EXPENSE}


@dataclass(frozen=True)
class Journal:
    key: str
    id: str
    name: str
    status: str
    is_adjustment: bool
    disallow_direct_posting: bool
    created_at: datetime


@dataclass
class Company:
    id: str
    book: Book
    journals: dict[str, Journal] = field(default_factory=dict)  # by key
    entry_keys: Any = None  # itertools.count
    line_keys: Any = None
    txn_numbers: dict[str, int] = field(default_factory=dict)  # journal key -> last number
    approval_levels: int = 1  # approvals a submitted entry needs before it is approved (dossier section 6)
    name: str | None = None  # set for companies made through the admin API; fixture companies show their id
    idempotency: IdempotencyStore | None = None  # D18: keys are per company

    @property
    def lock(self) -> threading.RLock:
        return self.book.lock

    def next_entry_key(self) -> str:
        return str(next(self.entry_keys))

    def next_line_key(self) -> str:
        return str(next(self.line_keys))

    def next_txn_number(self, journal_key: str) -> int:
        self.txn_numbers[journal_key] = self.txn_numbers.get(journal_key, 0) + 1
        return self.txn_numbers[journal_key]

    def account_by_id(self, account_id: str) -> Account | None:
        return next((a for a in self.book.accounts.values() if a.number == account_id), None)

    def journal_by_id(self, journal_id: str) -> Journal | None:
        return next((j for j in self.journals.values() if j.id == journal_id), None)


@dataclass(frozen=True)
class Client:
    id: str
    secret: str
    companies: frozenset[str]  # the companies that authorized this client


class IntacctState:
    def __init__(self, clock: Clock, ids: IdGenerator, fixtures: Mapping[str, Any],
                 seed_entries: Callable[[Company, list[Mapping[str, Any]]], None]):
        """`seed_entries` books a company's fixture entries (rules.seed_entries: the GL rules sit above this
        module, so they are handed in rather than imported)."""
        self.clock, self.ids = clock, ids
        self.fixtures = fixtures
        self._seed_entries = seed_entries
        self.auth_failure_status = int(fixtures.get("authFailureStatus", 401))
        self.codes: dict[str, str] = dict(fixtures.get("authorizationCodes") or {})  # code -> username
        # D3 rotates refresh tokens; the old access token lives out its hour (calls in flight keep working).
        self.tokens = TokenStore(clock, ids, access_ttl=ACCESS_TTL, refresh_ttl=REFRESH_TTL, code_ttl=CODE_TTL,
                                 refresh_revokes_access=False)
        self.companies: dict[str, Company] = {}
        self._lock = threading.Lock()
        self.fixture_tokens: list[TokenPair] = []
        named = [parse_username(raw["username"])[1] for raw in fixtures.get("tokens", [])] + [
            parse_username(username)[1] for username in self.codes.values()]
        for company_id in dict.fromkeys([*(fixtures.get("companies") or {}), *named]):
            self.companies[company_id] = self._new_company(company_id)
        self.clients = {c["id"]: Client(c["id"], c["secret"], frozenset(c.get("companies") or self.companies))
                        for c in fixtures.get("clients", [])}
        for raw in fixtures.get("tokens", []):  # the fixtures' credentials: they never expire
            user, company, entity = parse_username(raw["username"])
            pair = TokenPair(raw["accessToken"], raw["refreshToken"], LATEST, LATEST, raw["client"], company,
                             {"user": user, "entity": entity})
            self.tokens.add(pair)
            self.fixture_tokens.append(pair)

    def company(self, company_id: str) -> Company:
        return self.companies[company_id]

    def existing_companies(self) -> list[Company]:
        with self._lock:
            return list(self.companies.values())

    def reachable(self, client: Client, company_id: str) -> bool:
        return company_id in client.companies and company_id in self.companies

    def new_company(self, name: str | None, template: str | None) -> tuple[Company, Client]:
        """A company under a fresh id, seeded like `template`'s fixture company (the fixture chart and journals,
        plus `template`'s settings and entries), and a new OAuth client that reaches it alone."""
        with self._lock:
            company_id = "T" + self.ids.token(4).upper()
            while company_id in self.companies:
                company_id = "T" + self.ids.token(4).upper()
            company = self.companies[company_id] = self._new_company(company_id, settings_of=template)
            company.name = name or company_id
            client = Client(f"lm_intacct_client_{self.ids.token(6)}", f"lm_intacct_secret_{self.ids.token(16)}",
                            frozenset({company_id}))
            self.clients[client.id] = client
            return company, client

    def _new_company(self, company_id: str, settings_of: str | None = None) -> Company:
        now = self.clock.now()
        company = Company(company_id, Book(company_id, clock=self.clock, ids=self.ids),
                          idempotency=IdempotencyStore(self.clock, IDEMPOTENCY_TTL))
        for name, key in ENTRY_INDEXES.items():
            company.book.add_entry_index(name, key)
        for number, raw in enumerate(self.fixtures.get("accounts", []), 1):
            kind = KINDS[(raw["accountType"], raw["normalBalance"])]
            company.book.add_account(Account(
                id=str(number), name=raw["name"], kind=kind, created_at=now, updated_at=now, number=str(raw["id"]),
                active=raw.get("status", "active") == "active",
                attrs={"accountType": raw["accountType"], "normalBalance": raw["normalBalance"],
                       "closingType": raw.get("closingType", "closingAccount" if raw["accountType"] ==
                                              "incomeStatement" else "nonClosingAccount"),
                       "disallowDirectPosting": bool(raw.get("disallowDirectPosting"))}))
        for number, raw in enumerate(self.fixtures.get("journals", []), 1):
            company.journals[str(number)] = Journal(
                str(number), raw["id"], raw["name"], raw.get("status", "active"), bool(raw.get("isAdjustment")),
                bool(raw.get("disallowDirectPosting")), now)
        settings = (self.fixtures.get("companies") or {}).get(settings_of or company_id) or {}
        company.approval_levels = int(settings.get("approvalLevels", 1))
        entries = settings.get("entries", [])
        keys = [int(e["key"]) for e in entries] + [int(e["reversalKey"]) for e in entries if "reversalKey" in e]
        line_keys = [int(line["key"]) for e in entries for line in e["lines"]] + [
            int(k) for e in entries for k in e.get("reversalLineKeys", ())]
        company.entry_keys = itertools.count(max(keys, default=0) + 1)
        company.line_keys = itertools.count(max(line_keys, default=0) + 1)
        self._seed_entries(company, entries)
        return company


def _by_key(entry: JournalEntry) -> tuple:
    return (int(entry.id),)  # keys are numbers, and order as numbers


def _by_date(entry: JournalEntry) -> tuple:
    return entry.date, int(entry.id)


def _by_journal(entry: JournalEntry) -> tuple:
    return entry.attrs["journal"], entry.date


# What the entry list and the query service read in order (provider.query_objects): the default order (key), the
# posting date's (ties in key order), each journal's entries by date, and each state's. The posting date's takes
# the place of the book's own "date" index (the inspector's), which would hold the same entries again (80 bytes an
# entry) in creation order: for Intacct the same order but for fixture entries keyed out of theirs.
ENTRY_INDEXES = {"key": _by_key, "date": _by_date, "journal": _by_journal, "status": status_and_date}


def parse_username(username: str) -> tuple[str, str, str | None]:
    """`userId@companyId[|entityId]` -> (user, company, entity); ValueError when it is not that shape."""
    login, _, entity = username.partition("|")
    user, at, company = login.partition("@")
    if not (user and at and company) or "@" in company:
        raise ValueError(username)
    return user, company, entity or None


def to_date(value: Any) -> date:
    return value if isinstance(value, date) else _day(str(value))


@lru_cache(maxsize=4096)
def _day(text: str) -> date:
    return date.fromisoformat(text)  # one object for all the entries of a day rather than one apiece (32 bytes)
