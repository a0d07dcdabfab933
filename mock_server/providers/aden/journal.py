"""Aden's journal-entry rules and approval workflow, free of HTTP: handlers and the fixture seeder both call
these functions, so seeded entries carry the same audit trails and balances the API itself would produce.

Every function runs under the entity's lock and checks everything before the one ledger write it makes.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

from ...errors import ApiError
from ...ledger import JournalEntry, LedgerError, NewLine, Side, Workflow
from ...ledger.model import attrs_of
from ...ledger.periods import Period, PeriodNotFound
from .state import Entity, User

DRAFT, PENDING, ON_HOLD = "Draft", "Pending Approval", "On Hold"
APPROVED, POSTED, REJECTED, VOIDED = "Approved", "Posted", "Rejected", "Voided"
# The statuses that block a period close, under the keys Aden's close checklist groups them by
# (aden-docs accounting-periods/unposted-entries, close).
UNPOSTED = {DRAFT: "draft", PENDING: "pending_approval", ON_HOLD: "on_hold", APPROVED: "approved"}
SYSTEM = "system"
DEFAULT_CURRENCY = "USD"  # aden-docs journal-entries/create: `currency` default "USD", on every entity
SUBLEDGER = "GL"  # the sub-ledger journal entries post through; only its lock blocks them (D16)

# The dossier's state machine (section 7). The final approval has two outcomes, so it is two internal actions
# (`approve:post`, `approve:hold`); clients only ever name `approve`.
WORKFLOW = Workflow(
    transitions={
        (DRAFT, "update"): DRAFT, (DRAFT, "delete"): DRAFT, (DRAFT, "submit"): PENDING,
        (PENDING, "approve"): PENDING, (PENDING, "approve:post"): POSTED, (PENDING, "approve:hold"): APPROVED,
        (PENDING, "reject"): REJECTED, (ON_HOLD, "reject"): REJECTED,
        (PENDING, "request-change"): DRAFT, (ON_HOLD, "request-change"): DRAFT,
        (PENDING, "hold"): ON_HOLD, (ON_HOLD, "unhold"): PENDING,
        (APPROVED, "post"): POSTED, (POSTED, "reverse"): POSTED,
        # aden-docs journal-entries/delete, "When to Delete vs. Void": void is for Approved, Posted and Rejected
        # entries; Pending Approval and On Hold go back to Draft with Request Change, then get deleted.
        **{(status, "void"): VOIDED for status in (APPROVED, POSTED, REJECTED)},
    },
    posted=frozenset({POSTED}),
)
AUDIT_NAMES = {"create": "Created", "update": "Updated", "submit": "Submit for Approval", "approve": "Approve",
               "reject": "Reject", "request-change": "Request Change", "hold": "Place on Hold",
               "unhold": "Remove from Hold", "post": "Post to GL", "reverse": "Reverse", "void": "Void"}
# The workflow's actions, as the audit trail names them: the entry's approval_history is these records of its trail.
HISTORY = frozenset(AUDIT_NAMES[action] for action in ("submit", "approve", "reject", "request-change", "hold",
                                                       "unhold", "post", "void"))


class AuditRecord(NamedTuple):
    """One record of an entry's audit trail: a tuple rather than a dict apiece, as every entry has some."""

    action: str  # as AUDIT_NAMES words it
    by: str
    at: datetime
    details: Mapping[str, Any]


def error(status: int, code: str, message: str, **details: Any) -> ApiError:
    return ApiError(status, code, message, details=details or None)


# -- checks shared by create, update, submit, approve and post -----------------------------------------------

def resolve_period(entity: Entity, on: date, period_id: str | None) -> Period:
    """D6/D7: the named period, or the regular period containing `on`; open, GL unlocked, `on` inside."""
    if period_id is not None:
        try:
            period = entity.periods.get(period_id)
        except PeriodNotFound as exc:
            raise error(400, "PERIOD_NOT_FOUND", exc.message, posting_period_id=period_id) from None
    else:
        period = entity.periods.containing(on)
        if period is None:
            raise error(400, "PERIOD_NOT_FOUND", f"No accounting period contains {on.isoformat()}; create one or "
                        "send `posting_period_id`.", tran_date=on.isoformat())
    entity.periods.check_postable(period, on, SUBLEDGER)
    return period


def build_lines(entity: Entity, rows: Sequence[Mapping[str, Any]]) -> list[NewLine]:
    """Section 6: one side above zero per line, unique line numbers, balanced, usable accounts."""
    numbers = [row.get("line_number") or index for index, row in enumerate(rows, 1)]
    if len(set(numbers)) != len(numbers):
        raise error(400, "VALIDATION_ERROR", "`line_number` values must be unique within an entry.")
    lines, debits, credits = [], Decimal("0.00"), Decimal("0.00")
    for number, row in zip(numbers, rows):
        debit, credit = row.get("debit") or Decimal(0), row.get("credit") or Decimal(0)
        if (debit > 0) == (credit > 0):
            raise error(400, "VALIDATION_ERROR", f"Line {number} needs exactly one of `debit` or `credit` above "
                        "zero (the other 0 or left out).", line_number=number)
        side, amount = (Side.DEBIT, debit) if debit > 0 else (Side.CREDIT, credit)
        debits, credits = debits + debit, credits + credit
        lines.append(NewLine(row["account_id"], side, amount, row.get("memo"), {"line_number": number}))
    check_balanced(debits, credits)
    check_accounts(entity, (line.account_id for line in lines))
    return lines


def check_balanced(debits: Decimal, credits: Decimal) -> None:
    if debits != credits:
        raise error(400, "UNBALANCED_ENTRY", f"Total debits ({debits}) must equal total credits ({credits}).",
                    total_debits=debits, total_credits=credits, difference=abs(debits - credits))


def check_accounts(entity: Entity, account_ids: Iterable[str]) -> None:
    for account_id in dict.fromkeys(account_ids):
        account = entity.book.accounts.get(account_id)
        if account is None:
            raise error(400, "ACCOUNT_NOT_FOUND", f"Account not found: {account_id}.", account_id=account_id)
        if not account.active:
            raise error(400, "ACCOUNT_INACTIVE", f"Account {account_id} is inactive.", account_id=account_id)
        if account.attrs["is_summary"]:
            raise error(400, "VALIDATION_ERROR", f"Account {account_id} is a summary account; post to one of its "
                        "sub-accounts.", account_id=account_id)


def recheck(entity: Entity, entry: JournalEntry) -> Period:
    """What submit and post verify again: the world may have changed since the entry was written."""
    check_balanced(entry.total_debit, entry.total_credit)
    check_accounts(entity, (line.account_id for line in entry.lines))
    return resolve_period(entity, entry.date, entry.attrs["period_id"])


def unposted(entity: Entity, period_id: str) -> dict[str, list[JournalEntry]]:
    """The period's entries that block its close, by Aden's status key, oldest first."""
    entries, _ = entity.book.entries_page(
        match=lambda e: e.attrs["period_id"] == period_id and e.status in UNPOSTED,
        limit=len(entity.book.entries) + 1, newest_first=False)
    grouped: dict[str, list[JournalEntry]] = {key: [] for key in UNPOSTED.values()}
    for entry in entries:
        grouped[UNPOSTED[entry.status]].append(entry)
    return grouped


def require(entry: JournalEntry, action: str, verb: str | None = None) -> None:
    """409 INVALID_STATUS (or ALREADY_VOIDED) unless `action` is legal from the entry's status."""
    if WORKFLOW.allows(entry.status, action):
        return
    if action == "void" and entry.status == VOIDED:
        raise error(409, "ALREADY_VOIDED", f"Journal entry {entry.id} is already voided.", current_status=VOIDED)
    allowed = sorted({a.split(":")[0] for (s, a) in WORKFLOW.transitions if s == entry.status})
    hint = f"; from {entry.status} you can {', '.join(allowed)}" if allowed else "; it can no longer change"
    details: dict[str, Any] = {"current_status": entry.status}
    if action == "delete":
        details["suggestion"] = "Only Draft entries can be deleted; void the entry instead."
    if action == "void" and entry.status == DRAFT:
        details["suggestion"] = "Draft entries are deleted, not voided."
    if action == "void" and entry.status in (PENDING, ON_HOLD):
        details["suggestion"] = "Return the entry to Draft with Request Change, then delete it."
    raise error(409, "INVALID_STATUS", f"Cannot {verb or action} journal entry {entry.id}: it is {entry.status}{hint}.",
                **details)


# -- approval levels and rights ------------------------------------------------------------------------------

def matching_rules(entity: Entity, document_type: str, amount: Decimal) -> list[Mapping[str, Any]]:
    """D5: active amount-threshold rules whose inclusive bounds hold `amount` (null min = 0, null max = none)."""
    return sorted((r for r in entity.rules.values()
                   if r["is_active"] and r["document_type"] == document_type and r["rule_type"] == "Amount Threshold"
                   and (r["min_amount"] or 0) <= amount and (r["max_amount"] is None or amount <= r["max_amount"])),
                  key=lambda r: (r["priority"], r["rule_id"]))


def required_level(rules: Sequence[Mapping[str, Any]]) -> int:
    return max((r["approval_level"] for r in rules), default=1)


def next_level(entry: JournalEntry) -> int:
    return len(entry.attrs.get("approvals", ())) + 1


def may_act(entry: JournalEntry, user: User, level: int) -> bool:
    """D10: admin; else the submit-time rule for `level`; else role `approve_level_<level>`."""
    if "admin" in user.roles:
        return True
    approvers = [a for a in entry.attrs.get("approvers", ()) if a["level"] == level]
    if not approvers:
        return f"approve_level_{level}" in user.roles
    return any((a["type"] == "role" and a.get("role") in user.roles)
               or (a["type"] == "user" and a.get("user") == user.id)
               or (a["type"] == "manager" and "manager" in user.roles) for a in approvers)


def approved_by(entry: JournalEntry, user: User) -> bool:
    return any(who == user.id for _, who in entry.attrs.get("approvals", ()))


def check_rights(entry: JournalEntry, user: User, verb: str) -> int:
    level = next_level(entry)
    if not may_act(entry, user, level):
        raise error(403, "FORBIDDEN", f"{user.id} may not {verb} journal entry {entry.id} at approval level {level}.",
                    approval_level=level)
    if verb == "approve" and approved_by(entry, user):
        raise error(403, "FORBIDDEN", f"{user.id} already approved a level of journal entry {entry.id}; each level "
                    "needs a different approver.", approval_level=level)
    return level


def awaiting(entry: JournalEntry, user: User) -> bool:
    """Whether `entry` waits for `user`'s approval (the pending-approvals list)."""
    return entry.status == PENDING and may_act(entry, user, next_level(entry)) and not approved_by(entry, user)


# -- the writes ----------------------------------------------------------------------------------------------

def _log(entry_attrs: Mapping[str, Any], action: str, user_id: str, entity: Entity,
         comments: str | None = None, **details: Any) -> dict[str, Any]:
    """New attrs with `action` appended to the audit trail (so to approval_history too for a workflow action).
    `details` use the keys of Aden's audit trail (aden-docs journal-entries/workflow "Get Audit Trail"): `status`
    after the action, `required_level` on submit, `level` on approve, `comments`."""
    # details are shared with every record of the same ones (most are {"status": ...}): one frozen dict for all
    record = AuditRecord(AUDIT_NAMES[action], user_id, entity.clock.now(), attrs_of(
        {k: v for k, v in {**details, "comments": comments}.items() if v is not None}))
    return {**entry_attrs, "audit": (*entry_attrs.get("audit", ()), record)}


def _move(entity: Entity, entry: JournalEntry, action: str, user: User, *, comments: str | None = None,
          log_as: str | None = None, attrs: Mapping[str, Any] | None = None, **details: Any) -> JournalEntry:
    status = WORKFLOW.next(entry.status, action)
    if (log_as or action) != "approve":  # Aden's Approve record names the level it approved, not a status
        details = {"status": status, **details}
    logged = _log({**entry.attrs, **(attrs or {})}, log_as or action, user.id, entity, comments, **details)
    return entity.book.transition(entry.id, WORKFLOW, action, attrs=logged)


def create(entity: Entity, user: User, fields: Mapping[str, Any]) -> JournalEntry:
    entry_id = _entry_id(fields)
    with entity.lock:
        if entry_id in entity.book.entries:
            raise error(400, "VALIDATION_ERROR", f"Journal entry {entry_id} already exists.",
                        field="journal_entry_id", value=entry_id)
        return _add(entity, user, entry_id, fields)


def _add(entity: Entity, user: User, entry_id: str, fields: Mapping[str, Any], **extra: Any) -> JournalEntry:
    on = fields["tran_date"]
    period = resolve_period(entity, on, fields.get("posting_period_id"))
    lines = build_lines(entity, fields["lines"])
    attrs = {"period_id": period.id, "period_auto": fields.get("posting_period_id") is None,
             "entry_type": fields.get("entry_type") or "Standard",
             "currency": fields.get("currency") or DEFAULT_CURRENCY, **extra}  # created_by: the trail's first record
    attrs = _log(attrs, "create", user.id, entity, status=DRAFT, original_entry_id=extra.get("original_entry_id"))
    return entity.book.add_entry(on=on, memo=fields.get("memo"), lines=lines, status=DRAFT, posted=False,
                                 attrs=attrs, entry_id=entry_id)


def _entry_id(fields: Mapping[str, Any]) -> str:
    """D1: `journal_entry_id` or its alias `entry_id`; one is needed, and both must agree."""
    given = {fields[k] for k in ("journal_entry_id", "entry_id") if k in fields}
    if not given:
        raise error(400, "VALIDATION_ERROR", "`journal_entry_id` (or its alias `entry_id`) is required.",
                    field="journal_entry_id")
    if len(given) > 1:
        raise error(400, "VALIDATION_ERROR", "`journal_entry_id` and `entry_id` name the same field and must agree.",
                    field="entry_id")
    return given.pop()


def update(entity: Entity, user: User, entry_id: str, fields: Mapping[str, Any]) -> JournalEntry:
    with entity.lock:
        entry = entity.book.entry(entry_id)
        require(entry, "update")
        a = entry.attrs
        on = fields.get("tran_date", entry.date)
        explicit = fields.get("posting_period_id") or (None if a["period_auto"] else a["period_id"])
        period = resolve_period(entity, on, explicit)
        changes: dict[str, Any] = {"on": on}
        if "lines" in fields:
            changes["lines"] = build_lines(entity, fields["lines"])
        if "memo" in fields:
            changes["memo"] = fields["memo"]
        attrs = {**a, "period_id": period.id, "period_auto": explicit is None,
                 **{k: fields[k] for k in ("entry_type", "currency") if k in fields}}
        attrs = _log(attrs, "update", user.id, entity, status=DRAFT)
        return entity.book.update_entry(entry.id, attrs=attrs, **changes)


def delete(entity: Entity, entry_id: str) -> None:
    with entity.lock:
        entry = entity.book.entry(entry_id)
        require(entry, "delete")
        entity.book.delete_entry(entry.id)


def submit(entity: Entity, user: User, entry_id: str, comments: str | None = None) -> JournalEntry:
    with entity.lock:
        entry = entity.book.entry(entry_id)
        require(entry, "submit")
        recheck(entity, entry)
        rules = matching_rules(entity, "journal_entry", entry.total_debit)
        level = required_level(rules)
        approvers = tuple({"level": r["approval_level"], "type": r["approver_type"], "role": r.get("approver_role"),
                           "user": r.get("approver_user_id")} for r in rules)
        return _move(entity, entry, "submit", user, comments=comments, required_level=level, attrs={
            "required_level": level, "approvals": (), "approvers": approvers,
            "submitted_at": entity.clock.now(), "submitted_by": user.id})


def approve(entity: Entity, user: User, entry_id: str, comments: str | None = None) -> tuple[JournalEntry, int, str]:
    """One level's approval; after the last one, post unless manual posting or a blocked post says otherwise."""
    with entity.lock:
        entry = entity.book.entry(entry_id)
        require(entry, "approve")
        level = check_rights(entry, user, "approve")
        approvals = (*entry.attrs["approvals"], (level, user.id))
        required = entry.attrs["required_level"]
        if level < required:
            moved = _move(entity, entry, "approve", user, comments=comments, level=level,
                          attrs={"approvals": approvals})
            return moved, level, f"Level {level} approved; level {level + 1} approval pending."
        blocked = None
        if entity.auto_post:
            try:
                recheck(entity, entry)
            except (ApiError, LedgerError) as exc:  # D11: the approval stands; the entry waits in Approved for /post
                blocked = exc.message
        if not entity.auto_post or blocked:
            moved = _move(entity, entry, "approve:hold", user, comments=comments, log_as="approve",
                          level=level, attrs={"approvals": approvals})
            reason = f"automatic posting blocked: {blocked.rstrip('.')}" if blocked else "this entity posts manually"
            return moved, level, f"Entry approved; {reason}. Post it with /post."
        approved = {**entry.attrs, "approvals": approvals}
        approved = _log(approved, "approve", user.id, entity, comments, level=level)
        approved = _log(approved, "post", SYSTEM, entity, status=POSTED)
        approved.update(posted_at=entity.clock.now(), posted_by=SYSTEM)
        moved = entity.book.transition(entry.id, WORKFLOW, "approve:post", attrs=approved)
        return moved, level, "Entry approved and posted to GL."


def reject(entity: Entity, user: User, entry_id: str, reason: str) -> JournalEntry:
    with entity.lock:
        entry = entity.book.entry(entry_id)
        require(entry, "reject")
        check_rights(entry, user, "reject")
        return _move(entity, entry, "reject", user, comments=reason, attrs={"reject_reason": reason})


def request_change(entity: Entity, user: User, entry_id: str, comments: str) -> JournalEntry:
    """D13: back to Draft; the approvals so far are discarded and the next submit fixes levels anew."""
    with entity.lock:
        entry = entity.book.entry(entry_id)
        require(entry, "request-change", "request changes to")
        check_rights(entry, user, "request changes to")
        return _move(entity, entry, "request-change", user, comments=comments,
                     attrs={"approvals": (), "required_level": None, "approvers": (),
                            "submitted_at": None, "submitted_by": None})


def hold(entity: Entity, user: User, entry_id: str, reason: str) -> JournalEntry:
    with entity.lock:
        entry = entity.book.entry(entry_id)
        require(entry, "hold", "place on hold")
        check_rights(entry, user, "place on hold")
        return _move(entity, entry, "hold", user, comments=reason)


def unhold(entity: Entity, user: User, entry_id: str, comments: str | None = None) -> JournalEntry:
    with entity.lock:
        entry = entity.book.entry(entry_id)
        require(entry, "unhold", "remove from hold")
        check_rights(entry, user, "remove from hold")
        return _move(entity, entry, "unhold", user, comments=comments)


def post(entity: Entity, user: User, entry_id: str, comments: str | None = None) -> tuple[JournalEntry, Period]:
    with entity.lock:
        entry = entity.book.entry(entry_id)
        require(entry, "post")
        period = recheck(entity, entry)
        moved = _move(entity, entry, "post", user, comments=comments,
                      attrs={"posted_at": entity.clock.now(), "posted_by": user.id})
        return moved, period


def void(entity: Entity, user: User, entry_id: str, reason: str) -> JournalEntry:
    """D3: a Posted entry's balance effect goes away with it, so its period must still accept GL changes. Aden
    documents no void permission; undoing an approved entry takes the rights of its last approval level (D10)."""
    with entity.lock:
        entry = entity.book.entry(entry_id)
        require(entry, "void")
        level = entry.attrs["required_level"]
        if not may_act(entry, user, level):
            raise error(403, "FORBIDDEN", f"{user.id} may not void journal entry {entry.id}: that takes the rights "
                        f"of its approval level {level}.", approval_level=level)
        if entry.status == POSTED:
            entity.periods.check_postable(entity.periods.get(entry.attrs["period_id"]), entry.date, SUBLEDGER)
        return _move(entity, entry, "void", user, comments=reason, attrs={
            "void_reason": reason, "voided_at": entity.clock.now(), "voided_by": user.id})


def reverse(entity: Entity, user: User, entry_id: str, fields: Mapping[str, Any]) -> JournalEntry:
    """D14: a Draft `<id>-REV` of type Reversing with every line's sides swapped; the original stays Posted."""
    with entity.lock:
        entry = entity.book.entry(entry_id)
        require(entry, "reverse")
        reversal_id = f"{entry.id}-REV"
        if reversal_id in entity.book.entries:
            raise error(409, "ALREADY_REVERSED", f"Journal entry {entry.id} already has reversal {reversal_id}; void "
                        "or delete that one first.", reversal_entry_id=reversal_id)
        lines = [{"line_number": line.attrs["line_number"], "account_id": line.account_id,
                  "debit": line.amount if line.side is Side.CREDIT else None,
                  "credit": line.amount if line.side is Side.DEBIT else None,
                  "memo": f"Reversal - {line.memo}" if line.memo else None} for line in entry.lines]
        new_fields = {"tran_date": fields["reversal_date"], "posting_period_id": fields.get("posting_period_id"),
                      "memo": fields.get("memo") or f"Reversal of {entry.id}", "entry_type": "Reversing",
                      "currency": entry.attrs["currency"], "lines": lines}
        reversal = _add(entity, user, reversal_id, new_fields, original_entry_id=entry.id)
        _move(entity, entry, "reverse", user, reversal_entry_id=reversal_id)
        return reversal
