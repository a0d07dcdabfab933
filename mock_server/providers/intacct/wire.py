"""Domain -> Intacct wire shapes. Every documented member is always emitted; unset references are all-null
objects without `href` (dossier D7). Money leaves as 2-decimal strings."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from operator import attrgetter
from typing import Any, Callable, Iterator, Mapping

from ...ledger import Account, JournalEntry, Line, format_amount
from .state import Company, Journal

ENTRY_PATH = "/objects/general-ledger/journal-entry"
LINE_PATH = "/objects/general-ledger/journal-entry-line"
ACCOUNT_PATH = "/objects/general-ledger/account"
JOURNAL_PATH = "/objects/general-ledger/journal"
DIMENSIONS = ("location", "department", "employee", "project", "customer", "vendor", "item", "warehouse", "class",
              "task", "costType", "asset", "contract", "affiliateEntity")
ONE = {"totalCount": 1, "totalSuccess": 1, "totalError": 0}
# Where the objects a journal entry refers to live (vendor spec `href` examples); a stored reference shows its
# `href` when it has a key.
REF_PATHS = {"attachment": "/objects/company-config/attachment", "baseLocation": "/objects/company-config/location",
             "taxSolution": "/objects/tax/tax-solution", "vendor": "/objects/accounts-payable/vendor",
             "customer": "/objects/accounts-receivable/customer", "contact": "/objects/company-config/contact",
             "allocation": "/objects/general-ledger/txn-allocation-template",
             "taxDetail": "/objects/tax/tax-detail"}
TAX_REFS = ("taxSolution", "vendor", "customer", "contact")
# Header members a GET shows that no write sets (vendor schema `readOnly`, and the seed's referenceId and
# taxSolutionId): a write that sends them, as a GET body written back does, has them ignored.
READ_ONLY_SHOWN = ("txnNumber", "reversedFromDate", "reversedBy", "sequenceNumber", "entity",
                   "accountAllocationRun", "audit", "href", "referenceId", "taxSolutionId")


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def ref(path: str, key: str, id_: str | None = None) -> dict[str, Any]:
    return {"key": key, "id": key if id_ is None else id_, "href": f"{path}/{key}"}


def optional_ref(path: str | None, value: Mapping[str, Any] | None) -> dict[str, Any]:
    if not value or (value.get("key") is None and value.get("id") is None):
        return {"key": None, "id": None}
    out = {"key": value.get("key"), "id": value.get("id")}
    if path and value.get("key") is not None:
        out["href"] = f"{path}/{value['key']}"
    return out


def entry_state(entry: JournalEntry, today: date) -> str:
    """A pending automatic reversal reads `reversed` from its reversal date on (dossier section 6)."""
    if entry.status == "reversalPending" and date.fromisoformat(entry.attrs["automaticReversalDate"]) <= today:
        return "reversed"
    return entry.status


def _journal_ref(company: Company, entry: JournalEntry, today: date) -> dict[str, Any]:
    journal = company.journals[entry.attrs["journal"]]
    return {"key": journal.key, "id": journal.id, "isAdjustment": journal.is_adjustment,
            "href": f"{JOURNAL_PATH}/{journal.key}"}


def _lines(company: Company, entry: JournalEntry, today: date) -> list[dict[str, Any]]:
    state = entry_state(entry, today)
    return [line_out(company, entry, line, number, state) for number, line in enumerate(entry.lines, 1)]


# A journal entry's wire fields, each computed on its own: the query service reads only the fields a query
# names, from every record (see EntryRecord), and the full record is all of them (entry_out).
_ENTRY_FIELDS: dict[str, Callable[[Company, JournalEntry, date], Any]] = {
    "key": lambda c, e, t: e.id,
    "id": lambda c, e, t: e.id,
    "txnNumber": lambda c, e, t: e.attrs["txnNumber"],
    "glJournal": _journal_ref,
    "description": lambda c, e, t: e.memo,
    "postingDate": lambda c, e, t: e.date.isoformat(),
    "automaticReversalDate": lambda c, e, t: e.attrs.get("automaticReversalDate"),
    "reversedFromDate": lambda c, e, t: e.attrs.get("reversedFromDate"),
    "reversedBy": lambda c, e, t: (ref(ENTRY_PATH, e.attrs["reversedBy"]) if e.attrs.get("reversedBy")
                                   else {"key": None, "id": None}),
    "moduleName": lambda c, e, t: e.attrs.get("moduleName") or "2.GL",
    "referenceNumber": lambda c, e, t: e.reference,
    "referenceId": lambda c, e, t: e.reference,  # the seed's GET sample names it so; the vendor schema does not
    "attachment": lambda c, e, t: optional_ref(REF_PATHS["attachment"], e.attrs.get("attachment")),
    "entity": lambda c, e, t: {"key": None, "id": None, "name": None},
    "baseLocation": lambda c, e, t: optional_ref(REF_PATHS["baseLocation"], e.attrs.get("baseLocation")),
    "accountAllocationRun": lambda c, e, t: {"key": None, "id": None},
    "state": lambda c, e, t: entry_state(e, t),
    "sequenceNumber": lambda c, e, t: None,
    "tax": lambda c, e, t: {"taxImplication": e.attrs.get("taxImplication"),
                            **{name: optional_ref(REF_PATHS[name], e.attrs.get(name)) for name in TAX_REFS}},
    "taxSolutionId": lambda c, e, t: {"id": (e.attrs.get("taxSolution") or {}).get("id")},  # the seed's form
    "audit": lambda c, e, t: {"createdDateTime": timestamp(e.created_at), "modifiedDateTime": timestamp(e.updated_at),
                              "createdBy": e.attrs.get("createdBy"), "modifiedBy": e.attrs.get("modifiedBy")},
    "lines": _lines,
    "href": lambda c, e, t: f"{ENTRY_PATH}/{e.id}",
}


def entry_out(company: Company, entry: JournalEntry, today: date) -> dict[str, Any]:
    return {name: field(company, entry, today) for name, field in _ENTRY_FIELDS.items()}


class EntryRecord(Mapping[str, Any]):
    """entry_out as a read-only mapping whose fields are computed when read. A query filters and sorts every
    entry of the book but returns one page: building whole records made a query over 100k entries take
    seconds, most of it lines and audit stamps nobody asked for."""

    __slots__ = ("company", "entry", "today")

    def __init__(self, company: Company, entry: JournalEntry, today: date):
        self.company, self.entry, self.today = company, entry, today

    def __getitem__(self, name: str) -> Any:
        return _ENTRY_FIELDS[name](self.company, self.entry, self.today)

    def get(self, name: str, default: Any = None) -> Any:  # the query engine's accessor, without Mapping's detour
        field = _ENTRY_FIELDS.get(name)
        return default if field is None else field(self.company, self.entry, self.today)

    def __iter__(self) -> Iterator[str]:
        return iter(_ENTRY_FIELDS)

    def __len__(self) -> int:
        return len(_ENTRY_FIELDS)


def entry_fields(company: Company, today: date) -> dict[str, Callable[[JournalEntry], Any]]:
    """The query service's field readers: each field of an EntryRecord read off the entry directly (a query
    tests a field of every entry it reads), and the references a filter names most, by dot path."""
    readers: dict[str, Callable[[JournalEntry], Any]] = {
        name: (lambda entry, field=field: field(company, entry, today))
        for name, field in _ENTRY_FIELDS.items() if name not in ("key", "id", "description", "postingDate")}
    journals = company.journals
    return {**readers, "key": attrgetter("id"), "id": attrgetter("id"), "description": attrgetter("memo"),
            "postingDate": _entry_day, "glJournal.key": lambda entry: entry.attrs["journal"],
            "glJournal.id": lambda entry: journals[entry.attrs["journal"]].id}


def _entry_day(entry: JournalEntry) -> str:
    return entry.date.isoformat()


def line_out(company: Company, entry: JournalEntry, line: Line, number: int, state: str) -> dict[str, Any]:
    return {name: field(company, entry, line, number, state) for name, field in _LINE_FIELDS.items()}


def _line_amount(company: Company, entry: JournalEntry, line: Line, number: int, state: str) -> str:
    return format_amount(line.amount)


def _line_account(company: Company, entry: JournalEntry, line: Line, number: int, state: str) -> dict[str, Any]:
    account = company.book.accounts[line.account_id]
    return {"key": account.id, "id": account.number, "name": account.name, "href": f"{ACCOUNT_PATH}/{account.id}"}


def _line_dimensions(company: Company, entry: JournalEntry, line: Line, number: int, state: str) -> dict[str, Any]:
    dimensions = line.attrs.get("dimensions") or {}
    return {name: {"key": None, "id": None, "name": None, **dimensions.get(name, {})} for name in DIMENSIONS}


# A line's wire fields, each computed on its own (as _ENTRY_FIELDS): (company, entry, line, number, entry state).
_LINE_FIELDS: dict[str, Callable[[Company, JournalEntry, Line, int, str], Any]] = {
    "key": lambda c, e, l, n, s: l.id,
    "id": lambda c, e, l, n, s: l.id,
    "journalEntry": lambda c, e, l, n, s: ref(ENTRY_PATH, e.id),
    "lineNumber": lambda c, e, l, n, s: n,
    "txnType": lambda c, e, l, n, s: l.side.value,
    "txnAmount": _line_amount,
    "baseAmount": _line_amount,
    "entryDate": lambda c, e, l, n, s: e.date.isoformat(),
    "glAccount": _line_account,
    "dimensions": _line_dimensions,
    "documentId": lambda c, e, l, n, s: l.attrs.get("documentId"),
    "description": lambda c, e, l, n, s: l.memo,
    "numberOfUnits": lambda c, e, l, n, s: l.attrs.get("numberOfUnits"),
    "accountingPeriod": lambda c, e, l, n, s: l.attrs.get("accountingPeriod"),
    "isBillable": lambda c, e, l, n, s: bool(l.attrs.get("isBillable")),
    "currency": lambda c, e, l, n, s: {"baseCurrency": "USD", "txnCurrency": "USD", **(l.attrs.get("currency") or {})},
    "allocation": lambda c, e, l, n, s: optional_ref(REF_PATHS["allocation"], l.attrs.get("allocation")),
    "taxEntries": lambda c, e, l, n, s: [tax_entry_out(t) for t in l.attrs.get("taxEntries") or ()],
    "state": lambda c, e, l, n, s: "reversal" if l.attrs.get("reversal") else s,
    "href": lambda c, e, l, n, s: f"{LINE_PATH}/{l.id}",
}


def tax_entry_out(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A tax entry as it was sent (amounts as 2-decimal strings; D16: nothing is computed)."""
    out: dict[str, Any] = {}
    for name in ("baseTaxAmount", "txnTaxAmount"):
        if entry.get(name) is not None:
            out[name] = format_amount(entry[name])
    if entry.get("taxRate") is not None:
        out["taxRate"] = entry["taxRate"]
    if entry.get("taxDetail") is not None:
        out["taxDetail"] = optional_ref(REF_PATHS["taxDetail"], entry["taxDetail"])
    return out


class LineRecord(Mapping[str, Any]):
    """A line as the query service shows it, its fields computed when read (as EntryRecord): a query over a
    month of lines tests two fields of each and returns a page. Its `journalEntry` also carries the header
    fields a filter on `journalEntry.state` or `journalEntry.postingDate` needs."""

    __slots__ = ("company", "entry", "line", "number", "state")

    def __init__(self, company: Company, entry: JournalEntry, line: Line, number: int, state: str):
        self.company, self.entry, self.line, self.number, self.state = company, entry, line, number, state

    def __getitem__(self, name: str) -> Any:
        if name == "journalEntry":
            entry = self.entry
            return {**ref(ENTRY_PATH, entry.id), "state": self.state, "postingDate": entry.date.isoformat(),
                    "description": entry.memo, "txnNumber": entry.attrs["txnNumber"]}
        return _LINE_FIELDS[name](self.company, self.entry, self.line, self.number, self.state)

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in _LINE_FIELDS else default

    def __iter__(self) -> Iterator[str]:
        return iter(_LINE_FIELDS)

    def __len__(self) -> int:
        return len(_LINE_FIELDS)


def line_fields(company: Company) -> dict[str, Callable[[LineRecord], Any]]:
    """The query service's field readers for lines (as entry_fields): each field of a LineRecord read off it
    directly, and the dot paths a filter names most."""
    readers: dict[str, Callable[[LineRecord], Any]] = {
        name: (lambda record, field=field: field(record.company, record.entry, record.line, record.number,
                                                 record.state))
        for name, field in _LINE_FIELDS.items() if name != "journalEntry"}  # a record's journalEntry shows more
    accounts = company.book.accounts
    return {**readers, "key": _line_key, "id": _line_key, "entryDate": _line_day, "journalEntry.postingDate": _line_day,
            "journalEntry.key": lambda record: record.entry.id, "journalEntry.state": attrgetter("state"),
            "glAccount.id": lambda record: accounts[record.line.account_id].number,
            "glAccount.key": lambda record: record.line.account_id}


def _line_key(record: LineRecord) -> str:
    return record.line.id


def line_order(line: Line) -> int:
    return int(line.id)  # keys are numbers, and order as numbers


def _line_day(record: LineRecord) -> str:
    return record.entry.date.isoformat()


def line_record(company: Company, today: date) -> Callable[[JournalEntry, int, Line], LineRecord]:
    """The query service's line records: line `number` (from 1) of an entry, as LineRecord."""
    return lambda entry, number, line: LineRecord(company, entry, line, number, entry_state(entry, today))


def account_out(account: Account) -> dict[str, Any]:
    a = account.attrs
    return {"key": account.id, "id": account.number, "name": account.name, "accountType": a["accountType"],
            "normalBalance": a["normalBalance"], "closingType": a["closingType"],
            "disallowDirectPosting": a["disallowDirectPosting"], "status": "active" if account.active else "inactive",
            "audit": {"createdDateTime": timestamp(account.created_at),
                      "modifiedDateTime": timestamp(account.updated_at)},
            "href": f"{ACCOUNT_PATH}/{account.id}"}


def journal_out(journal: Journal) -> dict[str, Any]:
    return {"key": journal.key, "id": journal.id, "name": journal.name, "status": journal.status,
            "isAdjustment": journal.is_adjustment, "disallowDirectPosting": journal.disallow_direct_posting,
            "enableApproval": False, "bookId": "ACCRUAL", "bookType": "accrual",
            "audit": {"createdDateTime": timestamp(journal.created_at),
                      "modifiedDateTime": timestamp(journal.created_at)},
            "href": f"{JOURNAL_PATH}/{journal.key}"}


# -- comparing what a write sends with what a read shows ------------------------------------------------------

def same_amount(sent: Any, shown: Any) -> bool:
    try:
        return shown is not None and Decimal(str(sent)) == Decimal(str(shown))
    except InvalidOperation:
        return False


def differs(sent: Any, shown: Any) -> bool:
    """Whether `sent` asks for anything `shown` does not hold (members left out, or null, change nothing)."""
    if isinstance(sent, Mapping):
        return any(differs(v, (shown or {}).get(k) if isinstance(shown, Mapping) else None)
                   for k, v in sent.items() if v is not None)
    if isinstance(sent, list):
        return not isinstance(shown, list) or len(sent) != len(shown) or any(
            differs(a, b) for a, b in zip(sent, shown))
    if sent is None:
        return False
    if isinstance(sent, bool) or isinstance(shown, bool):
        return sent is not shown
    return not (sent == shown or same_amount(sent, shown))


# Members of a line, and of any reference, that a write cannot set: comparing a write with a read skips them.
READ_ONLY_IN_LINE = frozenset({"id", "lineNumber", "entryDate", "baseAmount", "state", "journalEntry", "href"})
READ_ONLY_IN_REF = frozenset({"href", "name", "isAdjustment"})


def shows(shown: Any, sent: Any, skip: frozenset[str] = READ_ONLY_IN_REF) -> bool:
    """Whether a read showing `shown` already holds exactly what `sent` says, nulls included, read-only members
    aside: sending it back changes nothing."""
    if isinstance(sent, Mapping):
        return isinstance(shown, Mapping) and all(shows(shown.get(k), v) for k, v in sent.items() if k not in skip)
    if isinstance(sent, list):
        return isinstance(shown, list) and len(sent) == len(shown) and all(
            shows(a, b, READ_ONLY_IN_LINE | READ_ONLY_IN_REF) for a, b in zip(shown, sent))
    if sent is None or shown is None or isinstance(sent, bool) or isinstance(shown, bool):
        return sent is shown
    return sent == shown or same_amount(sent, shown)
