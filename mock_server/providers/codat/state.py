"""Codat's backend: clients (the tenants) with API keys, their companies, connections and push operations.

Each company keeps its own ledger `Book`; the book's lock guards everything of the company (connections,
push operations), so a push's checks and its effect stay atomic. Push operations settle lazily: whoever
reads a company's pushes or entries first settles what is due, at the time it was due (mock clock).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Mapping

from ...clock import Clock, IdGenerator
from ...ledger import Account, AccountKind, Book, LedgerError, NewLine, Side, Workflow
from .entries import CHANGED_ON_DELETE
from .indexes import ENTRY_INDEXES

BASE_CURRENCY = "GBP"
DEFAULT_CHART = (("1000", "Bank", "asset", None), ("1100", "Accounts Receivable", "asset", "AR"),
                 ("2100", "Accounts Payable", "liability", "AP"), ("4000", "Sales", "income", None),
                 ("5000", "Cost of Sales", "expense", None), ("6000", "Operating Expenses", "expense", None))
PLATFORMS = {"gbol": "Xero", "qhyg": "QuickBooks Online", "akxx": "Oracle NetSuite", "pqsw": "QuickBooks Desktop",
             "jcrz": "Sage Intacct", "dfxm": "Sandbox"}
PUSH_OUTCOMES = ("Success", "Failed", "NeverComplete")
CONNECTION_STATUSES = ("PendingAuth", "Linked", "Unlinked", "Deauthorized")
STATUS_CODES = {"Pending": 202, "Success": 200, "Failed": 400, "TimedOut": 408}
# What a pull (refresh) fetches: the data types the mock holds; any other completes NotSupported.
PULLED_DATA_TYPES = ("chartOfAccounts", "journalEntries")
# Soft delete: a deleted entry stays readable but no longer counts in balances.
ENTRY_WORKFLOW = Workflow(transitions={("active", "delete"): "deleted"}, posted=frozenset({"active"}))


def platform_name(key: str) -> str:
    return PLATFORMS.get(key, f"Platform {key}")


@dataclass
class ApiKey:
    key: str
    revoked: bool = False


@dataclass
class Connection:
    id: str
    company_id: str
    platform_key: str
    status: str
    created: datetime
    last_sync: datetime | None = None
    push_delay: timedelta = timedelta()
    push_outcome: str = "Success"
    pull_delay: timedelta = timedelta()

    @property
    def integration_id(self) -> str:
        # Integrations are global in Codat: the same platform always has the same ids.
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://api.codat.io/integrations/{self.platform_key}"))

    @property
    def source_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://api.codat.io/sources/{self.platform_key}"))


@dataclass(frozen=True)
class Submission:
    """A push body that passed every rule, in ledger terms plus the Codat fields the ledger does not know."""

    on: date
    description: str | None
    lines: tuple[NewLine, ...]
    extras: Mapping[str, Any]  # journalRef, recordRef, supplementalData as sent


@dataclass(slots=True)  # one per push, kept for the push-operations list: no __dict__ apiece
class PushOperation:
    key: str
    company_id: str
    connection_id: str
    kind: str  # create | delete
    requested: datetime
    due: datetime | None  # when the platform answers; None: never
    outcome: str
    timeout_minutes: int | None = None
    status: str = "Pending"
    completed: datetime | None = None
    error_message: str | None = None
    submission: Submission | None = None
    entry_id: str | None = None
    seed: int = 0  # of the id stream its completion draws from (IdGenerator.stream_seed)

    @property
    def deadline(self) -> datetime | None:
        return None if self.timeout_minutes is None else self.requested + timedelta(minutes=self.timeout_minutes)


@dataclass
class PullOperation:
    """A refresh of one data type through one connection (Codat's dataset): Queued until due, then Complete."""

    id: str
    company_id: str
    connection_id: str
    data_type: str
    requested: datetime
    due: datetime
    status: str = "Queued"
    completed: datetime | None = None


@dataclass
class Company:
    id: str
    client_id: str
    name: str
    created: datetime
    book: Book
    description: str | None = None
    created_by: str | None = None
    last_sync: datetime | None = None
    products: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    control_accounts: dict[str, str] = field(default_factory=dict)  # account id -> AR | AP
    connections: dict[str, Connection] = field(default_factory=dict)
    pushes: dict[str, PushOperation] = field(default_factory=dict)
    pending: dict[str, PushOperation] = field(default_factory=dict)  # the Pending ones: settling reads only these
    pulls: dict[str, PullOperation] = field(default_factory=dict)
    # Data fetched once stays readable: Codat keeps what it pulled when a connection is unlinked or deleted.
    synced: bool = False

    @property
    def lock(self) -> threading.RLock:
        return self.book.lock

    @property
    def currency(self) -> str:
        return self.book.currency

    def add_push(self, push: PushOperation) -> None:
        self.pushes[push.key] = push
        if push.status == "Pending":
            self.pending[push.key] = push

    def settle(self, now: datetime) -> None:
        """Give every Pending push whose answer or deadline has come its final status, at that moment. In the
        order they came due, each at its own instant and in its own id stream: the books come out the same
        whichever request settles them (a replayed log has none of the reads that settled them first)."""
        with self.lock:
            for pull in self.pulls.values():
                if pull.status == "Queued" and pull.due <= now:
                    self.finish_pull(pull, pull.due)
            due = []
            for push in self.pending.values():
                deadline = push.deadline
                if deadline is not None and deadline <= now and (push.due is None or deadline < push.due):
                    due.append((deadline, push.requested, push.key, push, True))
                elif push.due is not None and push.due <= now:
                    due.append((push.due, push.requested, push.key, push, False))
            for at, _, _, push, timed_out in sorted(due, key=lambda item: item[:3]):
                if timed_out:
                    self._finish(push, "TimedOut", at)
                else:
                    self.complete(push, at)

    def finish_pull(self, pull: PullOperation, at: datetime) -> None:
        """The platform's data is fetched: the pull is Complete and the connection and company synced at `at`."""
        pull.status, pull.completed = "Complete", at
        connection = self.connections.get(pull.connection_id)
        if connection is not None:  # a connection deleted meanwhile has no sync to record
            connection.last_sync = max(at, connection.last_sync or at)
        self.last_sync = max(at, self.last_sync or at)
        self.synced = True

    def complete(self, push: PushOperation, at: datetime) -> None:
        """The platform answers `push` at `at` with the connection's configured outcome."""
        with self.book.clock.pinned(at), self.book.ids.stream(push.seed):
            self._complete(push, at)

    def _complete(self, push: PushOperation, at: datetime) -> None:
        if push.outcome == "Failed":
            self._finish(push, "Failed", at, "The accounting platform rejected the push: the connection is "
                                              "configured with pushOutcome Failed.")
            return
        try:
            if push.kind == "create":
                push.entry_id = self._create_entry(push, at).id
            else:
                self._delete_entry(push, at)
        except LedgerError as error:
            self._finish(push, "Failed", at, error.message)
            return
        self._finish(push, "Success", at)

    def _create_entry(self, push: PushOperation, at: datetime) -> Any:
        """The entry a push makes: its own fields read back from it (entries.py); its attrs keep the rest."""
        submission = push.submission
        assert submission is not None
        attrs = dict(submission.extras)
        if submission.description is None:  # the memo is "" either way
            attrs["description"] = None
        return self.book.add_entry(on=submission.on, memo=submission.description or "", lines=submission.lines,
                                   status="active", source="push", attrs=attrs, entry_id=push.entry_id)

    def _delete_entry(self, push: PushOperation, at: datetime) -> None:
        entry = self.book.entry(push.entry_id or "")
        if entry.status == "deleted":
            raise LedgerError(f"Journal entry {entry.id} is already deleted.")
        self.book.transition(entry.id, ENTRY_WORKFLOW, "delete",  # updated at `at`: the clock is pinned there
                             attrs={k: v for k, v in entry.attrs.items() if k not in CHANGED_ON_DELETE})

    def _finish(self, push: PushOperation, status: str, at: datetime, message: str | None = None) -> None:
        push.status, push.completed, push.error_message = status, at, message
        push.submission, push.seed = None, 0  # answered: the entry (or the message) stands for it now
        self.pending.pop(push.key, None)


@dataclass
class Client:
    """A Codat client (the tenant): its keys see all of its companies and nothing else."""

    id: str
    name: str
    company_limit: int | None = None
    new_connection_status: str = "Linked"
    companies: dict[str, Company] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)


class CodatState:
    def __init__(self, clock: Clock, ids: IdGenerator, fixtures: Mapping[str, Any]):
        self.clock, self.ids = clock, ids
        self.fixtures = fixtures
        self.clients: dict[str, Client] = {}
        self.keys: dict[str, tuple[ApiKey, Client]] = {}
        self._tenants = threading.Lock()
        for raw in fixtures.get("clients", []):
            self._seed_client(raw)

    def new_tenant(self, name: str | None) -> tuple[ApiKey, Client]:
        """A client seeded like the fixtures' first one (limits, companies with their charts, connections and
        entries), under new ids for the client, its companies and connections, with one new API key."""
        template = (self.fixtures.get("clients") or [{}])[0]
        with self._tenants:
            client_id = self.ids.uuid()
            companies = [{**company, "id": self.ids.uuid(),
                          "connections": [{**conn, "id": self.ids.uuid()} for conn in company.get("connections", [])]}
                         for company in template.get("companies", [])]
            key = f"lm_codat_key_{self.ids.token(16)}"
            self._seed_client({**template, "id": client_id, "name": name or f"Client {client_id[:8]}",
                               "apiKeys": [{"key": key}], "companies": companies})
            return self.keys[key]

    def new_company(self, client: Client, name: str, *, company_id: str | None = None,
                    description: str | None = None, tags: Mapping[str, str] | None = None,
                    created: datetime | None = None, currency: str = BASE_CURRENCY,
                    chart: tuple[tuple[str, str, str, str | None], ...] = DEFAULT_CHART, **extra: Any) -> Company:
        company_id = company_id or self.ids.uuid()
        created = created or self.clock.now()
        company = Company(company_id, client.id, name, created,
                          Book(company_id, clock=self.clock, ids=self.ids, currency=currency, line_ids=False),
                          description=description, tags=dict(tags or {}), **extra)
        for index_name, key in ENTRY_INDEXES.items():  # what the journal-entry list reads (indexes.py)
            company.book.add_entry_index(index_name, key)
        for account_id, account_name, kind, control in chart:
            company.book.add_account(Account(account_id, account_name, AccountKind(kind), created, created,
                                             number=account_id, currency=currency))
            if control:
                company.control_accounts[account_id] = control
        client.companies[company.id] = company
        return company

    def new_connection(self, company: Company, platform_key: str, status: str, *, connection_id: str | None = None,
                       created: datetime | None = None, **extra: Any) -> Connection:
        connection = Connection(connection_id or self.ids.uuid(), company.id, platform_key, status,
                                created or self.clock.now(), **extra)
        company.connections[connection.id] = connection
        company.synced = company.synced or status != "PendingAuth"  # Unlinked and Deauthorized were Linked once
        return connection

    # -- fixtures -------------------------------------------------------------------------------------------

    def _seed_client(self, raw: Mapping[str, Any]) -> None:
        client = Client(raw["id"], raw.get("name", raw["id"]), raw.get("companyLimit"),
                        raw.get("newConnectionStatus", "Linked"))
        if client.new_connection_status not in CONNECTION_STATUSES:
            raise ValueError(f"codat fixtures: newConnectionStatus must be one of {CONNECTION_STATUSES}")
        self.clients[client.id] = client
        for key in raw.get("apiKeys", []):
            self.keys[key["key"]] = (ApiKey(key["key"], bool(key.get("revoked"))), client)
        for company in raw.get("companies", []):
            self._seed_company(client, company)

    def _seed_company(self, client: Client, raw: Mapping[str, Any]) -> None:
        chart = tuple((str(a["id"]), a["name"], a["type"], a.get("kind")) for a in raw.get("chartOfAccounts", ()))
        company = self.new_company(
            client, raw["name"], company_id=raw["id"], description=raw.get("description"), tags=raw.get("tags"),
            created=_moment(raw.get("created")), currency=raw.get("baseCurrency", BASE_CURRENCY),
            chart=chart or DEFAULT_CHART, created_by=raw.get("createdByUserName"),
            last_sync=_moment(raw.get("lastSync")), products=tuple(raw.get("products", ())))
        for conn in raw.get("connections", []):
            outcome = conn.get("pushOutcome", "Success")
            if outcome not in PUSH_OUTCOMES:
                raise ValueError(f"codat fixtures: pushOutcome must be one of {PUSH_OUTCOMES}, not {outcome!r}")
            self.new_connection(company, conn["platformKey"], conn.get("status", "Linked"), connection_id=conn["id"],
                                created=_moment(conn.get("created")), last_sync=_moment(conn.get("lastSync")),
                                push_delay=timedelta(seconds=conn.get("pushDelaySeconds", 0)), push_outcome=outcome,
                                pull_delay=timedelta(seconds=conn.get("pullDelaySeconds", 0)))
        for entry in raw.get("journalEntries", []):
            self._seed_entry(company, entry)

    def _seed_entry(self, company: Company, raw: Mapping[str, Any]) -> None:
        lines = []
        for line in raw["journalLines"]:
            amount = Decimal(str(line["netAmount"]))
            attrs = {"currency": line.get("currency", company.currency)}
            for key in ("contactRef", "tracking"):
                if key in line:
                    attrs[key] = line[key]
            lines.append(NewLine(str(line["accountRef"]["id"]), Side.DEBIT if amount > 0 else Side.CREDIT,
                                 abs(amount), line.get("description"), attrs))
        posted_on = str(raw["postedOn"])
        created = str(raw["createdOn"])
        modified = str(raw.get("modifiedDate", raw.get("updatedOn", created)))
        attrs = {key: raw[key] for key in ("journalRef", "recordRef", "supplementalData") if key in raw}
        attrs.update(description=raw.get("description"), postedOn=posted_on, createdOn=created,
                     updatedOn=str(raw.get("updatedOn", created)), modifiedDate=modified,
                     sourceModifiedDate=str(raw.get("sourceModifiedDate", modified)))
        entry = company.book.add_entry(on=date.fromisoformat(posted_on[:10]), memo=raw.get("description") or "",
                                       lines=lines, status="active", source="fixture", attrs=attrs,
                                       entry_id=str(raw["id"]))
        if raw.get("isDeleted"):
            company.book.transition(entry.id, ENTRY_WORKFLOW, "delete")


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
