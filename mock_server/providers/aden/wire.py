"""Aden's wire format: marshmallow loaders from request bodies (already checked against the spec) to plain
fields in domain terms, and the dump functions that put ledger records back in Aden's field names."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping

from marshmallow import fields

from ...ledger import Account, JournalEntry, Side
from ...ledger.periods import Period
from ..marshal import In, Money
from .journal import HISTORY, AuditRecord

ZERO = Decimal("0.00")


class LineIn(In):
    line_number = fields.Integer(allow_none=True)
    account_id = fields.String(required=True)
    debit = Money(zero_ok=True, allow_none=True)
    credit = Money(zero_ok=True, allow_none=True)
    memo = fields.String(allow_none=True)


class EntryIn(In):
    journal_entry_id = fields.String()
    entry_id = fields.String()
    tran_date = fields.Date()
    posting_period_id = fields.String()
    memo = fields.String()
    entry_type = fields.String()
    currency = fields.String()
    lines = fields.List(fields.Nested(LineIn))


class AccountIn(In):
    account_id = fields.String()
    account_number = fields.Integer()
    account_name = fields.String()
    account_type = fields.String()
    normal_balance = fields.Function(deserialize=lambda value: value.lower())
    currency = fields.String()
    opening_balance = Money(zero_ok=True)
    is_summary = fields.Boolean()
    is_inactive = fields.Boolean()
    is_active = fields.Boolean()
    parent_account_id = fields.String()
    description = fields.String()


class PeriodIn(In):
    period_id = fields.String()
    period_name = fields.String(required=True)
    fiscal_year_id = fields.String(required=True)
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    quarter = fields.Integer(required=True)
    is_adjustment_period = fields.Boolean(load_default=False)


class RuleIn(In):
    rule_id = fields.String()
    rule_name = fields.String()
    document_type = fields.String()
    rule_type = fields.String()
    is_active = fields.Boolean()
    priority = fields.Integer()
    min_amount = Money(zero_ok=True, allow_none=True)
    max_amount = Money(zero_ok=True, allow_none=True)
    approval_level = fields.Integer()
    approver_type = fields.String()
    approver_role = fields.String()
    approver_user_id = fields.String()


# -- out ----------------------------------------------------------------------------------------------------

def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"))


def _present(**values: Any) -> dict[str, Any]:
    """Aden leaves keys without a value out of its answers."""
    return {key: value for key, value in values.items() if value is not None}


def entry_out(entry: JournalEntry, accounts: Mapping[str, Account], period: Period) -> dict[str, Any]:
    a = entry.attrs
    lines = []
    for line in entry.lines:
        account = accounts.get(line.account_id)
        lines.append(_present(
            line_number=line.attrs["line_number"], account_id=line.account_id,
            account_name=account.name if account else line.account_id,
            debit=money(line.amount) if line.side is Side.DEBIT else ZERO,
            credit=money(line.amount) if line.side is Side.CREDIT else ZERO, memo=line.memo))
    required = a.get("required_level")
    return _present(
        journal_entry_id=entry.id, tran_date=entry.date.isoformat(), posting_period_id=period.id,
        posting_period_name=period.name, memo=entry.memo, entry_type=a["entry_type"], currency=a["currency"],
        status=entry.status, total_debit=money(entry.total_debit), total_credit=money(entry.total_credit),
        lines=lines, original_entry_id=a.get("original_entry_id"), required_approval_level=required,
        current_approval_level=len(a.get("approvals", ())) if required is not None else None,
        submitted_at=_stamp(a.get("submitted_at")), submitted_by=a.get("submitted_by"),
        created_at=timestamp(entry.created_at), created_by=a["audit"][0].by, updated_at=timestamp(entry.updated_at),
        posted_at=_stamp(a.get("posted_at")), posted_by=a.get("posted_by"), void_reason=a.get("void_reason"),
        voided_at=_stamp(a.get("voided_at")), voided_by=a.get("voided_by"),
        approval_history=[_present(action=r.action, performed_by=r.by, performed_at=timestamp(r.at),
                                   comments=r.details.get("comments")) for r in a["audit"] if r.action in HISTORY])


def entry_summary(entry: JournalEntry) -> dict[str, Any]:
    a = entry.attrs
    return _present(
        journal_entry_id=entry.id, tran_date=entry.date.isoformat(), posting_period_id=a["period_id"],
        memo=entry.memo, entry_type=a["entry_type"], currency=a["currency"], status=entry.status,
        total_debit=money(entry.total_debit), total_credit=money(entry.total_credit),
        created_at=timestamp(entry.created_at))


def unposted_item(entry: JournalEntry) -> dict[str, Any]:
    return _present(id=entry.id, memo=entry.memo, amount=money(entry.total_debit),
                    created_at=timestamp(entry.created_at))


def audit_out(record: AuditRecord) -> dict[str, Any]:
    return {"action": record.action, "performed_by": record.by, "performed_at": timestamp(record.at),
            "details": dict(record.details)}


def account_out(account: Account, balance: Decimal) -> dict[str, Any]:
    a = account.attrs
    return _present(
        account_id=account.id, account_number=a["account_number"], account_name=account.name,
        account_type=a["account_type"], normal_balance=a["normal_balance"], currency=account.currency,
        opening_balance=money(a["opening_balance"]), balance=money(balance), is_summary=a["is_summary"],
        is_inactive=not account.active, parent_account_id=a.get("parent_account_id"),
        description=a.get("description"), created_at=timestamp(account.created_at),
        updated_at=timestamp(account.updated_at))


def period_out(period: Period) -> dict[str, Any]:
    a = period.attrs
    return {"period_id": period.id, "period_name": period.name, "fiscal_year_id": a["fiscal_year_id"],
            "start_date": period.start.isoformat(), "end_date": period.end.isoformat(), "quarter": a["quarter"],
            "is_adjustment_period": period.adjustment, "is_closed": period.closed,
            "created_at": timestamp(period.created_at), "updated_at": timestamp(period.updated_at)}


def rule_out(rule: Mapping[str, Any]) -> dict[str, Any]:
    out = {key: rule[key] for key in ("rule_id", "rule_name", "document_type", "rule_type", "is_active", "priority",
                                      "approval_level", "approver_type", "created_by")}
    out["min_amount"] = None if rule["min_amount"] is None else money(rule["min_amount"])
    out["max_amount"] = None if rule["max_amount"] is None else money(rule["max_amount"])
    out["created_at"], out["updated_at"] = timestamp(rule["created_at"]), timestamp(rule["updated_at"])
    out.update(_present(approver_role=rule.get("approver_role"), approver_user_id=rule.get("approver_user_id")))
    return out


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else timestamp(moment)
