"""COUNT's wire format: marshmallow schemas that load request bodies into ledger terms, and the functions
that dump ledger records in COUNT's field names."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Mapping

from marshmallow import fields, pre_load

from ...errors import validation_error
from ...ledger import Account, Book, Flow, JournalEntry, Line, NewLine, Side, Transaction, Workflow, format_amount
from ..marshal import In, Money
from .catalog import SUB_TYPES


class LineIn(In):
    account_id = fields.String(data_key="accountUuid", required=True)
    debit = Money(data_key="amountDebit", allow_none=True)
    credit = Money(data_key="amountCredit", allow_none=True)
    memo = fields.String(data_key="descriptionLine", allow_none=True)


class EntryIn(In):
    memo = fields.String(data_key="descriptionEntry", required=True)
    on = fields.Date(data_key="date", required=True)
    lines = fields.List(fields.Nested(LineIn), required=True)
    reference = fields.String(data_key="refNumber", allow_none=True)
    with_caution = fields.Boolean(data_key="withCaution", allow_none=True)
    status = fields.String(allow_none=True)


# The seed's header `status`: a draft is stored and listed, and counts in balances once posted.
ENTRY_WORKFLOW = Workflow(transitions={("draft", "posted"): "posted"}, posted=frozenset({"posted"}))

TYPE_NAMES = {"expense": "Expense", "income": "Income", "transfer": "Transfer", "journal entry": "Journal Entry",
              "journal": "Journal Entry", "journal_entry": "Journal Entry"}
FLOW_OF_TYPE = {"Expense": Flow.EXPENSE, "Income": Flow.INCOME, "Transfer": Flow.TRANSFER,
                "Journal Entry": Flow.JOURNAL}
TYPE_OF_FLOW = {flow: name for name, flow in FLOW_OF_TYPE.items()}


class TransactionIn(In):
    account_id = fields.String(data_key="accUuid", required=True)
    amount = Money(required=True)
    on = fields.Date(data_key="postedDate", required=True)
    type = fields.Function(deserialize=lambda value: TYPE_NAMES[value.lower()], allow_none=True)
    category_account_id = fields.String(data_key="categoryAccountUuid", allow_none=True)
    vendorUuid = fields.String(allow_none=True)
    customerUuid = fields.String(allow_none=True)
    projectUuid = fields.String(allow_none=True)
    tagUuids = fields.List(fields.String(), allow_none=True)
    description = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    currency = fields.String(allow_none=True)
    authorizedDate = fields.Date(allow_none=True)
    taxes = fields.List(fields.Integer(), allow_none=True)

    @pre_load
    def resolve_aliases(self, data: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
        """D18: legacy spellings are accepted, the `*Uuid` names win; numeric ids are refused outright."""
        for legacy in ("vendorId", "customerId", "accountId"):
            if isinstance(data.get(legacy), (int, Decimal)) and not isinstance(data.get(legacy), bool):
                raise validation_error(f"numeric `{legacy}` is not accepted; use `{legacy[:-2]}Uuid`.")
            if legacy != "accountId" and data.get(legacy) is not None:
                raise validation_error(f"`{legacy}` is not accepted; use `{legacy[:-2]}Uuid`.")
        if "tags" in data:
            raise validation_error("`tags` is not accepted; use `tagUuids`.")
        data = dict(data)
        for name, aliases in (("accUuid", ("accountUuid", "accountId")),
                              ("categoryAccountUuid", ("categoryAccountId",)), ("postedDate", ("date",))):
            if data.get(name) is None:
                alias = next((a for a in aliases if data.get(a) is not None), None)
                if alias is not None:
                    data[name] = data[alias]
        return data


class TransactionPatch(In):
    vendorUuid = fields.String(allow_none=True)
    customerUuid = fields.String(allow_none=True)
    projectUuid = fields.String(allow_none=True)
    tagUuids = fields.List(fields.String(), allow_none=True)
    description = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    amount = Money()
    on = fields.Date(data_key="postedDate")
    authorizedDate = fields.Date(allow_none=True)
    type = fields.Function(deserialize=lambda value: TYPE_NAMES[value.lower()])
    reviewed = fields.Boolean()
    excluded = fields.Boolean()

    @pre_load
    def resolve_date_alias(self, data: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
        """`date` is `postedDate` here as on create (D18); `postedDate` wins."""
        if data.get("postedDate") is None and data.get("date") is not None:
            return {**data, "postedDate": data["date"]}
        return dict(data)


class AccountIn(In):
    name = fields.String(required=True)
    sub_type_id = fields.Integer(data_key="subTypeId", required=True, strict=True)
    number = fields.String(data_key="accountNumber", allow_none=True)
    currency = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    color = fields.String(allow_none=True)
    status = fields.String(allow_none=True)
    parentAccountId = fields.Raw(allow_none=True)
    institutionId = fields.Raw(allow_none=True)
    taxes = fields.List(fields.Integer(), allow_none=True)


def new_lines(rows: list[Mapping[str, Any]]) -> list[NewLine]:
    lines = []
    for number, row in enumerate(rows, 1):
        debit, credit = row.get("debit"), row.get("credit")
        if (debit is None) == (credit is None):
            raise validation_error(f"Line {number} must have exactly one of `amountDebit` or `amountCredit`.")
        side, amount = (Side.DEBIT, debit) if debit is not None else (Side.CREDIT, credit)
        lines.append(NewLine(row["account_id"], side, amount, row.get("memo")))
    return lines


def entry_attrs(fields: Mapping[str, Any]) -> dict[str, Any] | None:
    """Only a cautioned entry carries attrs; the rest share the ledger's empty ones."""
    return {"withCaution": True} if fields.get("with_caution") else None


# -- out ----------------------------------------------------------------------------------------------------

@lru_cache(maxsize=8192)
def timestamp(moment: datetime) -> str:
    # Cached: a list page formats two per entry, and pages are read again and again. isoformat, not strftime
    # (half the cost of a miss, which every create pays): the same text for a four-digit year, which strftime
    # alone writes unpadded below 1000.
    if moment.year < 1000:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.isoformat(timespec="milliseconds")[:23] + "Z"


def day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def line_out(line: Line, entry: JournalEntry, book: Book) -> dict[str, Any]:
    account = book.accounts.get(line.account_id)
    amount = format_amount(line.amount)
    return {"id": line.id, "journalEntryId": entry.id, "accountUuid": line.account_id,
            "accountName": account.name if account else None,
            "amountDebit": amount if line.side is Side.DEBIT else None,
            "amountCredit": amount if line.side is Side.CREDIT else None, "descriptionLine": line.memo}


def entry_out(entry: JournalEntry, book: Book) -> dict[str, Any]:
    total = format_amount(entry.total_debit)
    return {"id": entry.id, "descriptionEntry": entry.memo, "date": entry.date.isoformat(),
            "refNumber": entry.reference, "withCaution": bool(entry.attrs.get("withCaution")),
            "status": entry.status, "source": entry.source, "editable": entry.editable,
            "totalDebit": total, "totalCredit": total,  # equal: the ledger keeps every entry balanced
            "lines": [line_out(line, entry, book) for line in entry.lines],
            "createdAt": timestamp(entry.created_at), "updatedAt": timestamp(entry.updated_at)}


def transaction_out(t: Transaction) -> dict[str, Any]:
    a = t.attrs
    return {"id": t.id, "accountId": t.account_id, "categoryAccountId": t.category_account_id,
            "amount": format_amount(t.amount), "type": TYPE_OF_FLOW[t.flow], "postedDate": t.date.isoformat(),
            "authorizedDate": day(a.get("authorizedDate")), "description": t.description,
            "notes": a.get("notes"), "currency": a["currency"], "vendorUuid": a.get("vendorUuid"),
            "customerUuid": a.get("customerUuid"), "projectUuid": a.get("projectUuid"),
            "tagUuids": list(a.get("tagUuids") or ()), "taxes": list(a.get("taxes") or ()),
            **{flag: bool(a.get(flag)) for flag in ("reviewed", "excluded", "pending", "split", "reconciled")},
            "createdAt": timestamp(t.created_at), "updatedAt": timestamp(t.updated_at)}


def account_out(account: Account, book: Book, *, delete_meta: bool = False,
                balances: bool = False) -> dict[str, Any]:
    a = account.attrs
    sub_type = SUB_TYPES[a["subTypeId"]]
    out = {"id": account.id, "name": account.name, "subTypeId": sub_type.id, "accountNumber": account.number,
           "currency": account.currency, "description": a.get("description"), "color": a.get("color"),
           "status": "active" if account.active else "inactive", "parentAccountId": None,
           "institutionId": a.get("institutionId"), "taxes": list(a.get("taxes") or ()), "type": sub_type.type,
           "subType": {"id": sub_type.id, "name": sub_type.name, "anchorTier": sub_type.anchor_tier},
           "editable": not account.system,
           "createdAt": timestamp(account.created_at), "updatedAt": timestamp(account.updated_at)}
    if delete_meta:
        reason = delete_blocked_reason(account, book)
        out["canDelete"], out["deleteBlockedReason"] = reason is None, reason
    if balances:
        out["balance"] = format_amount(book.balance(account.id))
    return out


def delete_blocked_reason(account: Account, book: Book) -> str | None:
    if account.system:
        return "NOT_EDITABLE"
    if book.account_in_use(account.id):
        return "HAS_JOURNAL_ENTRIES"  # transactions post through internal journal entries (D29)
    return None


def sub_type_out(sub_type_id: int) -> dict[str, Any]:
    s = SUB_TYPES[sub_type_id]
    return {"id": s.id, "type": s.type, "name": s.name, "description": s.description, "anchorTier": s.anchor_tier}
