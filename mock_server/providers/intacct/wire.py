"""Domain -> Intacct wire shapes. Every documented member is always emitted; unset references are all-null
objects without `href` (dossier D7). Money leaves as 2-decimal strings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Iterable, Mapping

from ...ledger import Account, JournalEntry, Line, format_amount
from .state import Company, Journal

ENTRY_PATH = "/objects/general-ledger/journal-entry"
LINE_PATH = "/objects/general-ledger/journal-entry-line"
ACCOUNT_PATH = "/objects/general-ledger/account"
JOURNAL_PATH = "/objects/general-ledger/journal"
DIMENSIONS = ("location", "department", "employee", "project", "customer", "vendor", "item", "warehouse", "class",
              "task", "costType", "asset", "contract", "affiliateEntity")
ONE = {"totalCount": 1, "totalSuccess": 1, "totalError": 0}


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


def entry_out(company: Company, entry: JournalEntry, today: date) -> dict[str, Any]:
    a = entry.attrs
    journal = company.journals[a["journal"]]
    state = entry_state(entry, today)
    reversed_by = a.get("reversedBy")
    return {
        "key": entry.id, "id": entry.id, "txnNumber": a["txnNumber"],
        "glJournal": {"key": journal.key, "id": journal.id, "isAdjustment": journal.is_adjustment,
                      "href": f"{JOURNAL_PATH}/{journal.key}"},
        "description": entry.memo, "postingDate": entry.date.isoformat(),
        "automaticReversalDate": a.get("automaticReversalDate"), "reversedFromDate": a.get("reversedFromDate"),
        "reversedBy": ref(ENTRY_PATH, reversed_by) if reversed_by else {"key": None, "id": None},
        "moduleName": a.get("moduleName") or "2.GL", "referenceNumber": entry.reference,
        "attachment": optional_ref("/objects/company-config/attachment", a.get("attachment")),
        "entity": {"key": None, "id": None, "name": None},
        "baseLocation": optional_ref("/objects/company-config/location", a.get("baseLocation")),
        "accountAllocationRun": {"key": None, "id": None},
        "state": state, "sequenceNumber": None,
        "tax": {"taxImplication": a.get("taxImplication"),
                "taxSolution": optional_ref(None, a.get("taxSolution"))},
        "audit": {"createdDateTime": timestamp(entry.created_at), "modifiedDateTime": timestamp(entry.updated_at),
                  "createdBy": a.get("createdBy"), "modifiedBy": a.get("modifiedBy")},
        "lines": [line_out(company, entry, line, number, state) for number, line in enumerate(entry.lines, 1)],
        "href": f"{ENTRY_PATH}/{entry.id}",
    }


def line_out(company: Company, entry: JournalEntry, line: Line, number: int, state: str) -> dict[str, Any]:
    a = line.attrs
    account = company.book.accounts[line.account_id]
    dimensions = a.get("dimensions") or {}
    amount = format_amount(line.amount)
    return {
        "key": a["key"], "id": a["key"], "journalEntry": ref(ENTRY_PATH, entry.id), "lineNumber": number,
        "txnType": line.side.value, "txnAmount": amount, "baseAmount": amount, "entryDate": entry.date.isoformat(),
        "glAccount": {"key": account.id, "id": account.number, "name": account.name,
                      "href": f"{ACCOUNT_PATH}/{account.id}"},
        "dimensions": {name: {"key": None, "id": None, "name": None, **dimensions.get(name, {})}
                       for name in DIMENSIONS},
        "documentId": a.get("documentId"), "description": line.memo, "numberOfUnits": a.get("numberOfUnits"),
        "accountingPeriod": a.get("accountingPeriod"), "isBillable": bool(a.get("isBillable")),
        "currency": {"baseCurrency": "USD", "txnCurrency": "USD"},
        "state": "reversal" if a.get("reversal") else state,
        "href": f"{LINE_PATH}/{a['key']}",
    }


def query_lines(company: Company, entries: Iterable[JournalEntry], today: date) -> list[dict[str, Any]]:
    """Line records for the query service, whose `journalEntry` also carries the header fields a filter on
    `journalEntry.state` or `journalEntry.postingDate` needs."""
    rows = []
    for entry in entries:
        out = entry_out(company, entry, today)
        header = {**ref(ENTRY_PATH, entry.id), "state": out["state"], "postingDate": out["postingDate"],
                  "description": out["description"], "txnNumber": out["txnNumber"]}
        rows.extend({**line, "journalEntry": header} for line in out["lines"])
    return rows


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
