"""Accounts, accounting periods and approval rules: the checks Aden makes before storing one, shared by the
HTTP handlers and the fixture seeder."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Iterable, Mapping

from ...clock import IdGenerator
from ...ledger import Account, AccountKind
from ...ledger.periods import Period
from .journal import error
from .state import Entity, User

KINDS = {"Asset": AccountKind.ASSET, "Liability": AccountKind.LIABILITY, "Equity": AccountKind.EQUITY,
         "Revenue": AccountKind.INCOME, "Expense": AccountKind.EXPENSE}
DIGITS = re.compile(r"[0-9]{1,12}")
IMMUTABLE = ("account_id", "account_number", "account_type", "normal_balance", "currency", "opening_balance",
             "is_summary")
RULE_FIELDS = ("rule_name", "document_type", "rule_type", "is_active", "priority", "min_amount", "max_amount",
               "approval_level", "approver_type", "approver_role", "approver_user_id")


def inactive_flag(fields: Mapping[str, Any]) -> bool | None:
    """D2: `is_inactive`, or the inverse `is_active`; both must agree when both are sent."""
    inactive, active = fields.get("is_inactive"), fields.get("is_active")
    if inactive is not None and active is not None and inactive == active:
        raise error(400, "VALIDATION_ERROR", "`is_inactive` and `is_active` contradict each other; send one.",
                    field="is_active")
    return inactive if inactive is not None else (None if active is None else not active)


def check_parent(entity: Entity, parent_id: str | None, own_id: str) -> None:
    if parent_id is None:
        return
    if parent_id == own_id:
        raise error(400, "VALIDATION_ERROR", "An account cannot be its own parent.", field="parent_account_id")
    if parent_id not in entity.book.accounts:
        raise error(400, "ACCOUNT_NOT_FOUND", f"Parent account not found: {parent_id}.", account_id=parent_id)


def new_account(entity: Entity, fields: Mapping[str, Any]) -> Account:
    account_id = fields["account_id"]
    number = fields.get("account_number")
    if number is None:
        # Aden's quickstart creates `{"account_id": "1000", ...}` without a number: the digits are the number.
        if not DIGITS.fullmatch(account_id):
            raise error(400, "VALIDATION_ERROR", "`account_number` is required when `account_id` is not all digits.",
                        field="account_number")
        number = int(account_id)
    with entity.lock:
        if account_id in entity.book.accounts:
            raise error(400, "VALIDATION_ERROR", f"Account ID already exists: {account_id}.", field="account_id",
                        value=account_id)
        if any(a.attrs["account_number"] == number for a in entity.book.accounts.values()):
            raise error(400, "VALIDATION_ERROR", f"Account number already exists: {number}.", field="account_number",
                        value=number)
        check_parent(entity, fields.get("parent_account_id"), account_id)
        now = entity.clock.now()
        return entity.book.add_account(Account(
            id=account_id, name=fields["account_name"], kind=KINDS[fields["account_type"]], created_at=now,
            updated_at=now, number=str(number), active=not inactive_flag(fields),
            currency=fields.get("currency") or entity.currency,
            attrs={"account_number": number, "account_type": fields["account_type"],
                   "normal_balance": fields["normal_balance"], "opening_balance": fields.get("opening_balance") or Decimal("0.00"),
                   "is_summary": bool(fields.get("is_summary")), "parent_account_id": fields.get("parent_account_id"),
                   "description": fields.get("description")}))


def update_account(entity: Entity, account_id: str, body: Mapping[str, Any], fields: Mapping[str, Any]) -> Account:
    """D19: name, active flag, description and parent may change; the fields that define the account may not."""
    frozen = next((key for key in IMMUTABLE if key in body), None)
    if frozen is not None:
        raise error(400, "IMMUTABLE_FIELD", f"`{frozen}` cannot be changed; create a new account instead.",
                    field=frozen)
    inactive = inactive_flag(fields)
    with entity.lock:
        account = entity.book.account(account_id)
        check_parent(entity, fields.get("parent_account_id"), account.id)
        attrs = {**account.attrs, **{k: fields[k] for k in ("description", "parent_account_id") if k in fields}}
        changes: dict[str, Any] = {"attrs": attrs}
        if "account_name" in fields:
            changes["name"] = fields["account_name"]
        if inactive is not None:
            changes["active"] = not inactive
        return entity.book.update_account(account.id, **changes)


def new_period(entity: Entity, fields: Mapping[str, Any], ids: IdGenerator, locks: Iterable[str] = ()) -> Period:
    with entity.lock:
        period_id = fields.get("period_id") or ids.token(9)  # D18: 18 letters and digits
        if period_id in entity.periods.periods:
            raise error(400, "VALIDATION_ERROR", f"Accounting period already exists: {period_id}.", field="period_id",
                        value=period_id)
        return entity.periods.add(period_id=period_id, name=fields["period_name"], start=fields["start_date"],
                                  end=fields["end_date"], adjustment=fields["is_adjustment_period"],
                                  locks=locks,
                                  attrs={"fiscal_year_id": fields["fiscal_year_id"], "quarter": fields["quarter"]})


def check_rule(rule: Mapping[str, Any]) -> None:
    low, high = rule.get("min_amount"), rule.get("max_amount")
    if low is not None and high is not None and low > high:
        raise error(400, "VALIDATION_ERROR", f"`min_amount` ({low}) cannot exceed `max_amount` ({high}).",
                    field="min_amount")
    needs = {"role": "approver_role", "user": "approver_user_id"}.get(rule["approver_type"])
    if needs and not rule.get(needs):
        raise error(400, "VALIDATION_ERROR", f"`{needs}` is required when `approver_type` is {rule['approver_type']}.",
                    field=needs)


def new_rule(entity: Entity, user: User, fields: Mapping[str, Any]) -> dict[str, Any]:
    now = entity.clock.now()
    rule = {"rule_id": fields["rule_id"], "min_amount": None, "max_amount": None,
            **{k: fields[k] for k in RULE_FIELDS if k in fields}, "created_at": now, "created_by": user.id,
            "updated_at": now}
    check_rule(rule)
    with entity.lock:
        if rule["rule_id"] in entity.rules:
            raise error(400, "VALIDATION_ERROR", f"Approval rule already exists: {rule['rule_id']}.", field="rule_id",
                        value=rule["rule_id"])
        entity.rules[rule["rule_id"]] = rule
    return rule


def update_rule(entity: Entity, rule_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    with entity.lock:
        rule = {**rule_of(entity, rule_id), **{k: fields[k] for k in RULE_FIELDS if k in fields},
                "updated_at": entity.clock.now()}
        check_rule(rule)
        entity.rules[rule_id] = rule
        return rule


def rule_of(entity: Entity, rule_id: str) -> dict[str, Any]:
    rule = entity.rules.get(rule_id)
    if rule is None:
        raise error(404, "NOT_FOUND", f"Approval rule not found: {rule_id}.", rule_id=rule_id)
    return rule
