"""COUNT's backend: partner clients, workspaces (the tenants) and what lives in them besides the ledger."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Mapping

from ...auth.oauth import TokenPair, TokenStore
from ...auth.ratelimit import RateLimiter
from ...clock import LATEST, Clock, IdGenerator
from ...ledger import Account, Book, Flow, JournalEntry, Transaction
from ...wirecache import WireCache
from ..marshal import load
from . import wire
from .catalog import PHYSICAL, SUB_TYPES

ACCESS_TTL = timedelta(seconds=3600)
REFRESH_TTL = timedelta(days=30)
RATE_LIMIT_PER_MINUTE = 100


@dataclass(frozen=True)
class Client:
    id: str
    secret: str
    name: str
    workspace_id: str  # the workspace its (simulated) user consents to
    redirect_uris: tuple[str, ...] = ()


@dataclass
class Workspace:
    """A tenant. Its book's lock guards everything here, so a check and the change it allows stay atomic."""

    id: str
    name: str
    book: Book
    vendors: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, dict[str, Any]] = field(default_factory=dict)
    wire: WireCache = field(default_factory=WireCache)  # encoded journal entries, for list pages

    @property
    def lock(self):
        return self.book.lock


class CountState:
    def __init__(self, clock: Clock, ids: IdGenerator, fixtures: Mapping[str, Any], *, rate_limiting: bool):
        self.clock, self.ids = clock, ids
        self.clients: dict[str, Client] = {}
        self.workspaces: dict[str, Workspace] = {}
        self.tokens = TokenStore(clock, ids, access_ttl=ACCESS_TTL, refresh_ttl=REFRESH_TTL)
        self.rate_limiter = RateLimiter(RATE_LIMIT_PER_MINUTE, 60, clock) if rate_limiting else None
        self.code_states: dict[str, str] = {}  # authorization code -> the `state` authorize-initiate was given
        self.fixture_tokens: list[TokenPair] = []
        self.fixtures = fixtures
        self._tenants = threading.Lock()
        for raw in fixtures.get("workspaces", []):
            self._seed_workspace(raw)
        for raw in fixtures.get("clients", []):
            self.clients[raw["id"]] = Client(raw["id"], raw["secret"], raw.get("name", raw["id"]),
                                             raw["workspace"], tuple(raw.get("redirectUris", ())))
        for owner, workspace in [*((f"client {c['id']}", c["workspace"]) for c in fixtures.get("clients", [])),
                                 *((f"a token of {t['client']}", t["workspace"]) for t in fixtures.get("tokens", []))]:
            if workspace not in self.workspaces:
                raise ValueError(f"count fixtures: {owner} names workspace {workspace}, which is not defined")
        for raw in fixtures.get("tokens", []):  # the fixtures' credentials: they never expire
            pair = TokenPair(raw["accessToken"], raw["refreshToken"], LATEST, LATEST, raw["client"], raw["workspace"])
            self.tokens.add(pair)
            self.fixture_tokens.append(pair)

    def new_tenant(self, name: str | None) -> TokenPair:
        """A workspace seeded like the fixtures' first one, its own client, and a token pair bound to both."""
        with self._tenants:
            template = self.fixtures.get("workspaces", [{}])[0]
            workspace_id = self.ids.uuid()
            self._seed_workspace({**template, "id": workspace_id, "name": name or f"Workspace {workspace_id[:8]}"})
            client = Client(f"lm_count_client_{self.ids.token(6)}", f"lm_count_secret_{self.ids.token(16)}",
                            name or "Tenant client", workspace_id)
            self.clients[client.id] = client
        return self.tokens.issue(client.id, workspace_id)

    def new_workspace(self, workspace_id: str, name: str, currency: str = "USD") -> Workspace:
        workspace = Workspace(workspace_id, name, Book(workspace_id, clock=self.clock, ids=self.ids,
                                                       currency=currency))
        # what the transaction list reads: the transactions it shows (not excluded), by date and by account
        workspace.book.add_transaction_index("listed", _listed)
        workspace.book.add_transaction_index("listed account", _listed_account)
        self.workspaces[workspace_id] = workspace
        return workspace

    def _seed_workspace(self, raw: Mapping[str, Any]) -> None:
        workspace = self.new_workspace(raw["id"], raw["name"], raw.get("currency", "USD"))
        book = workspace.book
        if raw.get("closedThrough"):
            book.closed_through = date.fromisoformat(str(raw["closedThrough"]))
        now = self.clock.now()
        for row in raw.get("accounts", []):
            fields = load(wire.AccountIn, row)
            book.add_account(make_account(row["id"], fields, book.currency, now, system=row.get("system", False)))
        for kind in ("vendors", "customers", "tags"):
            for row in raw.get(kind, []):
                getattr(workspace, kind)[row["id"]] = {**row, "createdAt": now, "updatedAt": now}
        for row in raw.get("journalEntries", []):
            fields = load(wire.EntryIn, row)
            status = fields.get("status") or "posted"  # a draft is kept as one, as createJournalEntry keeps it
            entry = book.add_entry(on=fields["on"], memo=fields["memo"], lines=wire.new_lines(fields["lines"]),
                                   reference=fields.get("reference"), status=status,
                                   posted=status in wire.ENTRY_WORKFLOW.posted, source=row.get("source", "manual"),
                                   editable=row.get("source", "manual") == "manual", allow_closed_period=True,
                                   attrs=wire.entry_attrs(fields), entry_id=row["id"])
            sync_journal_transactions(book, None, entry)
        for row in raw.get("transactions", []):
            fields = load(wire.TransactionIn, row)
            kind = fields.get("type") or "Expense"
            book.add_transaction(
                account_id=fields["account_id"], amount=fields["amount"], flow=wire.FLOW_OF_TYPE[kind],
                on=fields["on"], category_account_id=fields.get("category_account_id"),
                description=fields.get("description"), transaction_id=row["id"],
                attrs=transaction_attrs(fields, book.currency, flags=row))


def make_account(account_id: str, fields: Mapping[str, Any], currency: str, now: datetime, *,
                 system: bool = False) -> Account:
    sub_type = SUB_TYPES[fields["sub_type_id"]]
    return Account(id=account_id, name=fields["name"], kind=sub_type.kind, created_at=now, updated_at=now,
                   number=fields.get("number"), active=fields.get("status") != "inactive",
                   currency=fields.get("currency") or currency, system=system,
                   attrs={"subTypeId": sub_type.id, "description": fields.get("description"),
                          "color": fields.get("color"), "institutionId": fields.get("institutionId"),
                          "taxes": tuple(fields.get("taxes") or ())})


def sync_journal_transactions(book: Book, old: JournalEntry | None, new: JournalEntry | None) -> None:
    """Seed 002: type JOURNAL is "accounting adjustments created via journal entries", and a transaction is money
    moving in or out of a bank or financial account. So each line of a posted entry on a bank, card or cash account
    shows among that account's transactions as a JOURNAL row whose id is the line's. The row posts nothing (its
    entry did) and follows the entry: call this after every change to one, with the entry before and after."""
    lines = {line.id: line for line in new.lines} if new is not None and new.posted else {}
    for line in old.lines if old is not None else ():
        if line.id in book.transactions and line.id not in lines:
            book.delete_transaction(line.id)
    for line in lines.values():
        if SUB_TYPES[book.accounts[line.account_id].attrs["subTypeId"]].anchor_tier != PHYSICAL:
            continue
        if line.id in book.transactions:  # the same line: the entry's date or description changed
            book.update_transaction(line.id, date=new.date, description=new.memo,
                                    attrs={**book.transactions[line.id].attrs, "notes": line.memo})
        else:
            book.add_transaction(account_id=line.account_id, amount=line.amount, flow=Flow.JOURNAL, on=new.date,
                                 description=new.memo, transaction_id=line.id,
                                 attrs={**transaction_attrs({"notes": line.memo}, book.currency),
                                        "journalEntryId": new.id})


def transaction_attrs(fields: Mapping[str, Any], currency: str, flags: Mapping[str, Any] = {}) -> dict[str, Any]:
    """Only the fields set: every reader takes an absent one as unset (None, no tags, not flagged), and the
    journal row of each bank line would otherwise carry a dozen empty ones (280 bytes an entry)."""
    attrs = {"currency": fields.get("currency") or currency, "notes": fields.get("notes"),
             "authorizedDate": fields.get("authorizedDate"), "vendorUuid": fields.get("vendorUuid"),
             "customerUuid": fields.get("customerUuid"), "projectUuid": fields.get("projectUuid"),
             "tagUuids": tuple(fields.get("tagUuids") or ()), "taxes": tuple(fields.get("taxes") or ())}
    kept = {name: value for name, value in attrs.items() if value is not None and value is not False and value != ()}
    if flags:  # a journal row (every bank line of an entry) has none
        kept.update((flag, True) for flag in ("reviewed", "excluded", "pending", "split", "reconciled")
                    if flags.get(flag))
    return kept


__all__ = ["Client", "CountState", "Flow", "Workspace", "make_account", "sync_journal_transactions",
           "transaction_attrs"]


def _listed(transaction: Transaction) -> tuple | None:
    return None if transaction.attrs.get("excluded") else (transaction.date,)


def _listed_account(transaction: Transaction) -> tuple | None:
    return None if transaction.attrs.get("excluded") else (transaction.account_id, transaction.date)
