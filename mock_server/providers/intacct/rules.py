"""Intacct's general-ledger rules (dossier section 6) on top of the neutral ledger: reference resolution,
posting checks, create/update/delete, the workflow actions, reversal and reclassification.

Callers hold `company.lock`; every function validates fully before its first write, so a refused request
leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from ...errors import ApiError, Problem, excerpt
from ...ledger import Account, JournalEntry, Line, NewLine, Side, parse_amount
from .state import AUTO_REVERSAL, PARTIAL_APPROVAL, WORKFLOW, Company, Journal, to_date
from . import wire
from .wire import DIMENSIONS

LINE_FIELDS = ("txnType", "txnAmount", "glAccount", "dimensions", "documentId", "description", "numberOfUnits",
               "accountingPeriod", "isBillable", "currency", "allocation", "taxEntries")
RECLASSIFY_LINE_FIELDS = ("txnType", "txnAmount", "glAccount", "dimensions", "documentId", "description")
ALWAYS_EDITABLE = frozenset({"description", "referenceNumber", "attachment"})
NOT_EDITABLE_WHEN_POSTED = frozenset({"glJournal", "automaticReversalDate"})
READ_ONLY = frozenset({"key", "id", "state", *wire.READ_ONLY_SHOWN})
BOOK_CURRENCY = "USD"  # D16: one currency, rate 1
EXCHANGE = ("exchangeRateDate", "exchangeRateTypeId", "exchangeRate")  # kept as sent (vendor GET shows them)
DELETABLE = frozenset({"draft", "declined", "posted"})


def rule(code: str, message: str) -> ApiError:
    """A GL-xxxx business rule: 422 with the rule id as errorId."""
    return ApiError(422, code, message)


# -- references -------------------------------------------------------------------------------------------

def _resolve(ref: Mapping[str, Any], by_key: Any, by_id: Any, label: str, missing_code: str) -> Any:
    """A reference by key and/or id (the spec or the caller has made sure one is there)."""
    key, id_ = ref.get("key"), ref.get("id")
    found_by_key = by_key(str(key)) if key is not None else None
    found_by_id = by_id(str(id_)) if id_ is not None else None
    if key is not None and found_by_key is None:
        raise rule(missing_code, f"{label} with key {excerpt(key)} was not found.")
    if id_ is not None and found_by_id is None:
        raise rule(missing_code, f"{label} {excerpt(id_)} was not found.")
    if found_by_key is not None and found_by_id is not None and found_by_key is not found_by_id:
        raise rule("GL-1011", f"{label} key {excerpt(key)} and id {excerpt(id_)} name different objects.")
    return found_by_key if found_by_key is not None else found_by_id


def resolve_account(company: Company, ref: Mapping[str, Any]) -> Account:
    return _resolve(ref, company.book.accounts.get, company.account_by_id, "GL account", "GL-1003")


def resolve_journal(company: Company, ref: Mapping[str, Any]) -> Journal:
    return _resolve(ref, company.journals.get, company.journal_by_id, "Journal", "GL-1004")


def _names_something(ref: Mapping[str, Any] | None) -> bool:
    """`{}` (as the seed's samples send) means "leave it as it is" on updates."""
    return bool(ref) and (ref.get("key") is not None or ref.get("id") is not None)


def _dimensions(raw: Mapping[str, Any] | None, current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Dimensions are stored as sent (D17); sending a dimension replaces it, an all-empty one clears it."""
    merged = dict(current or {})
    for name in DIMENSIONS:
        if raw and name in raw:
            value = {k: raw[name].get(k) for k in ("key", "id", "name") if raw[name].get(k) is not None}
            if value:
                merged[name] = {"key": None, "id": None, "name": None, **{k: str(v) for k, v in value.items()}}
            else:
                merged.pop(name, None)
    return merged


# -- posting checks ----------------------------------------------------------------------------------------

def posting_checks(company: Company, journal: Journal, lines: Sequence[NewLine]) -> None:
    """What an entry must satisfy before it is posted or submitted (GL-1001..1004)."""
    if journal.status != "active" or journal.disallow_direct_posting:
        why = "inactive" if journal.status != "active" else "closed to direct posting"
        raise rule("GL-1004", f"Journal {journal.id} is {why}; choose another journal.")
    for line in lines:
        account = company.book.accounts[line.account_id]
        if not account.active or account.attrs["disallowDirectPosting"]:
            why = "inactive" if not account.active else "closed to direct posting"
            raise rule("GL-1003", f"GL account {account.number} is {why}; choose another account.")
    company.book.check_lines(lines)


def _check_reversal_date(posting: date, reversal: Any, field: str) -> None:
    if reversal is not None and to_date(reversal) <= posting:
        raise rule("GL-1007", f"{field} ({to_date(reversal).isoformat()}) must be after the posting date "
                              f"({posting.isoformat()}).")


# -- lines -------------------------------------------------------------------------------------------------

def _new_line(company: Company, raw: Mapping[str, Any], target: str) -> NewLine:
    missing = [name for name in ("txnType", "txnAmount") if name not in raw] + (
        [] if _names_something(raw.get("glAccount")) else ["glAccount (key or id)"])
    if missing:
        # The spec cannot tell new lines from edits of keyed ones, so this is a rule of the entry, not a 400.
        raise rule("GL-1002", f"Line {target.rsplit('/', 1)[-1]} is a new line and needs {', '.join(missing)}.")
    line = NewLine(account_id="", side=Side.DEBIT, amount=Decimal("0"))
    return _apply(company, line, raw, target, LINE_FIELDS)


def _apply(company: Company, line: NewLine, raw: Mapping[str, Any], target: str,
           fields: Iterable[str]) -> NewLine:
    changes: dict[str, Any] = {}
    attrs = dict(line.attrs)
    for name in fields:
        if name not in raw:
            continue
        value = raw[name]
        if name == "txnType":
            changes["side"] = Side(value)
        elif name == "txnAmount":
            changes["amount"] = parse_amount(value, field=f"{target[1:]}/txnAmount")
        elif name == "glAccount":
            if _names_something(value):
                changes["account_id"] = resolve_account(company, value).id
        elif name == "dimensions":
            attrs["dimensions"] = _dimensions(value, attrs.get("dimensions"))
        elif name == "description":
            changes["memo"] = value
        elif name == "currency":
            attrs["currency"] = _currency(value or {}, attrs.get("currency"), f"{target[1:]}/currency")
        elif name == "allocation":
            attrs["allocation"] = _stored_ref(value)
        elif name == "taxEntries":
            attrs["taxEntries"] = tuple(_tax_entry(item, f"{target[1:]}/taxEntries/{n}")
                                        for n, item in enumerate(value or ()))
        else:
            attrs[name] = value
    return replace(line, attrs=attrs, **changes)


def _currency(raw: Mapping[str, Any], current: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """D16: the book is USD at rate 1; another currency or rate cannot be booked, so it is refused (400 naming
    the member). The exchange-rate date and type are kept as sent."""
    for name in ("baseCurrency", "txnCurrency"):
        if raw.get(name) is not None and str(raw[name]).upper() != BOOK_CURRENCY:
            raise _refused(f"{where}/{name}", f"{name} {excerpt(str(raw[name]))} cannot be booked: the mock's "
                                              f"companies book {BOOK_CURRENCY} only (multi-currency is not mocked).")
    if raw.get("exchangeRate") is not None and Decimal(str(raw["exchangeRate"])) != 1:
        raise _refused(f"{where}/exchangeRate", f"exchangeRate {excerpt(str(raw['exchangeRate']))} cannot be booked:"
                                                f" the mock's companies book {BOOK_CURRENCY} at rate 1.")
    kept = dict(current or {})
    kept.update({name: raw[name] for name in EXCHANGE if raw.get(name) is not None})
    return kept


def _tax_entry(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for name in ("baseTaxAmount", "txnTaxAmount"):
        if raw.get(name) is not None:
            entry[name] = parse_amount(raw[name], field=f"{where}/{name}", positive=False)
    if raw.get("taxRate") is not None:
        entry["taxRate"] = Decimal(str(raw["taxRate"]))
    if raw.get("taxDetail") is not None:
        entry["taxDetail"] = _stored_ref(raw["taxDetail"])
    return entry


def _stored_ref(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A reference the mock keeps as sent, by key and id (`{}` or all-null clears it)."""
    value = {k: (raw or {}).get(k) for k in ("key", "id")}
    return value if any(v is not None for v in value.values()) else None


def _refused(field: str, message: str) -> ApiError:
    return ApiError(400, "validation_error", message, problems=(Problem("body", field, message),))


def _as_new(line: Line) -> NewLine:
    return NewLine(line.account_id, line.side, line.amount, line.memo, dict(line.attrs), line.id)


def _merge_lines(company: Company, entry: JournalEntry, items: Sequence[Mapping[str, Any]], *,
                 reclassify: bool) -> list[NewLine]:
    """PATCH: a keyed item updates that line, an unkeyed one is appended. Reclassify cannot change an entry's
    shape, so there an unkeyed item updates the entry's line at the same position."""
    lines = [_as_new(line) for line in entry.lines]
    positions = {line.id: index for index, line in enumerate(lines)}
    fields = RECLASSIFY_LINE_FIELDS if reclassify else LINE_FIELDS
    for index, item in enumerate(items):
        target = f"/lines/{index}"
        if item.get("key") is not None:
            position = positions.get(str(item["key"]))
            if position is None:
                raise rule("GL-1010", f"Line {item['key']} does not belong to journal entry {entry.id}.")
            lines[position] = _apply(company, lines[position], item, target, fields)
        elif reclassify:
            if index >= len(lines):
                raise rule("GL-1010", f"Journal entry {entry.id} has {len(lines)} lines; reclassify cannot add "
                                      f"line {index + 1}.")
            lines[index] = _apply(company, lines[index], item, target, fields)
        else:
            lines.append(_new_line(company, item, target))
    return lines


def _with_keys(company: Company, lines: Sequence[NewLine]) -> list[NewLine]:
    return [line if line.id else replace(line, id=company.next_line_key()) for line in lines]


# -- create ------------------------------------------------------------------------------------------------

def create_entry(company: Company, body: Mapping[str, Any], user: str) -> JournalEntry:
    journal = resolve_journal(company, body["glJournal"])
    state = body.get("state", "posted")
    if state not in ("draft", "posted"):
        raise rule("GL-1005", f"A new journal entry can be created as draft or posted, not {state}; create it as "
                              f"draft and use the workflows to move it on.")
    posting = to_date(body["postingDate"])
    _check_reversal_date(posting, body.get("automaticReversalDate"), "automaticReversalDate")
    lines = [_new_line(company, raw, f"/lines/{index}") for index, raw in enumerate(body["lines"])]
    if state == "posted":
        posting_checks(company, journal, lines)
    attrs = {"journal": journal.key, "txnNumber": None, "createdBy": user, "modifiedBy": user,
             **_header_attrs(body, {})}
    entry = company.book.add_entry(
        on=posting, memo=body["description"], lines=_with_keys(company, lines), reference=body.get("referenceNumber"),
        status=state, posted=state in WORKFLOW.posted, draft=state in WORKFLOW.drafts,
        entry_id=company.next_entry_key(),
        attrs={**attrs, "txnNumber": company.next_txn_number(journal.key)})
    if state == "posted":
        entry = _schedule_automatic_reversal(company, entry)
    return entry


def _header_attrs(body: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    attrs = dict(current)
    if "automaticReversalDate" in body:
        value = body["automaticReversalDate"]
        attrs["automaticReversalDate"] = None if value is None else to_date(value).isoformat()
    for name in ("attachment", "baseLocation"):
        if name in body:
            attrs[name] = {k: body[name].get(k) for k in ("key", "id")}
    if "moduleName" in body:
        attrs["moduleName"] = body["moduleName"]
    if "tax" in body:
        if "taxImplication" in body["tax"]:
            attrs["taxImplication"] = body["tax"]["taxImplication"]
        for name in ("taxSolution", "vendor", "customer", "contact"):
            if name in body["tax"]:
                attrs[name] = {k: body["tax"][name].get(k) for k in ("key", "id")}
    return attrs


def _schedule_automatic_reversal(company: Company, entry: JournalEntry) -> JournalEntry:
    """An effective entry with automaticReversalDate gets its reversing entry at once (dossier section 6)."""
    when = entry.attrs.get("automaticReversalDate")
    if not when or entry.status not in ("posted", "approved"):
        return entry
    reversal = _add_reversal(company, entry, date.fromisoformat(when))
    return company.book.transition(entry.id, AUTO_REVERSAL, "schedule",
                                   attrs={**entry.attrs, "reversedBy": reversal.id})


def _add_reversal(company: Company, entry: JournalEntry, on: date, key: str | None = None,
                  line_keys: Sequence[str] = ()) -> JournalEntry:
    keys = list(line_keys) or [company.next_line_key() for _ in entry.lines]
    lines = [NewLine(line.account_id, Side.CREDIT if line.side is Side.DEBIT else Side.DEBIT, line.amount,
                     line.memo, {**line.attrs, "reversal": True}, line_key)
             for line, line_key in zip(entry.lines, keys)]
    journal_key = entry.attrs["journal"]
    attrs = {**entry.attrs, "txnNumber": company.next_txn_number(journal_key), "automaticReversalDate": None,
             "reversedBy": None, "reversalOf": entry.id, "reversedFromDate": entry.date.isoformat()}
    return company.book.add_entry(on=on, memo=entry.memo, lines=lines, reference=entry.reference, status="posted",
                                  posted=True, entry_id=key or company.next_entry_key(), attrs=attrs)


# -- update ------------------------------------------------------------------------------------------------

def update_entry(company: Company, entry: JournalEntry, body: Mapping[str, Any], user: str,
                 shown: Mapping[str, Any]) -> JournalEntry:
    """`shown`: the entry as a GET shows it now (wire.entry_out); what a body repeats of it changes nothing."""
    if body.get("key") is not None and str(body["key"]) != entry.id:
        # A cross-field check the spec cannot express; 422 like other key/id disagreements (GL-1011).
        raise rule("GL-1011", f"The body key {body['key']!r} does not match the journal entry key {entry.id} in "
                              f"the path.")
    status = entry.status
    # What a GET shows, sent back unchanged, changes nothing: a GET body written back is not refused for it.
    sent = {name for name in set(body) - READ_ONLY if not wire.shows(shown.get(name), body[name])}
    if status in ("draft", "declined"):
        locked: set[str] = set()
    elif status == "posted":
        locked = sent & NOT_EDITABLE_WHEN_POSTED
    else:
        locked = sent - ALWAYS_EDITABLE
    if locked:
        raise rule("GL-1009", f"{', '.join(sorted(locked))} cannot be changed on a {status} journal entry"
                              f"{'' if status == 'posted' else '; only description, referenceNumber and attachment can'}.")
    action = _requested_action(status, body.get("state"))
    journal = resolve_journal(company, body["glJournal"]) if _names_something(body.get("glJournal")) else \
        company.journals[entry.attrs["journal"]]
    posting = to_date(body["postingDate"]) if "postingDate" in body else entry.date
    attrs = _header_attrs(body, entry.attrs)
    _check_reversal_date(posting, attrs.get("automaticReversalDate"), "automaticReversalDate")
    lines = _merge_lines(company, entry, body["lines"], reclassify=False) if "lines" in body else \
        [_as_new(line) for line in entry.lines]
    if status == "posted" or action is not None:
        posting_checks(company, journal, lines)

    changes: dict[str, Any] = {"attrs": {**attrs, "journal": journal.key, "modifiedBy": user}}
    if "postingDate" in body:
        changes["on"] = posting
    if "description" in body:
        changes["memo"] = body["description"]
    if "referenceNumber" in body:
        changes["reference"] = body["referenceNumber"]
    if "lines" in body:
        changes["lines"] = _with_keys(company, lines)
    updated = company.book.update_entry(entry.id, **changes)
    if action is not None:
        updated = company.book.transition(entry.id, WORKFLOW, action)
    if updated.status == "posted":
        updated = _schedule_automatic_reversal(company, updated)
    return updated


def _requested_action(status: str, state: str | None) -> str | None:
    """PATCH `state`: the current one is ignored; draft -> posted and draft/declined -> submitted happen."""
    if state is None or state == status:
        return None
    action = {"posted": "post", "submitted": "submit"}.get(state)
    if action is None or not WORKFLOW.allows(status, action):
        raise rule("GL-1006", f"`state` {excerpt(str(state))}: a {status} journal entry cannot be moved to it by an "
                              f"update; use the workflow endpoints.")
    return action


# -- delete ------------------------------------------------------------------------------------------------

def delete_entry(company: Company, entry: JournalEntry) -> None:
    if entry.status not in DELETABLE:
        raise rule("GL-1006", f"A {entry.status} journal entry cannot be deleted; only draft, declined and posted "
                              f"entries can.")
    if entry.attrs.get("reversedBy") or entry.attrs.get("reversalOf"):
        raise rule("GL-1006", f"Journal entry {entry.id} is part of a reversal pair and cannot be deleted.")
    company.book.delete_entry(entry.id)


# -- workflows ---------------------------------------------------------------------------------------------

def _refusal(entry: JournalEntry, action: str) -> str | None:
    """Why `action` cannot be taken on `entry` now (None if it can); the hint lists only actions that would work."""
    if action == "reverse" and entry.attrs.get("reversalOf"):
        return f"Journal entry {entry.id} is itself a reversal and cannot be reversed."
    if action == "reverse" and entry.attrs.get("reversedBy"):
        return f"Journal entry {entry.id} is already reversed by {entry.attrs['reversedBy']}."
    if WORKFLOW.allows(entry.status, action):
        return None
    # Posting a draft is no workflow endpoint: a PATCH with state posted does it.
    possible = [a for a in WORKFLOW.actions(entry.status) if a != "post" and _refusal(entry, a) is None]
    hint = f"; from {entry.status} you can {', '.join(possible)}" if possible else ""
    if WORKFLOW.allows(entry.status, "post"):
        hint += f"{' (or' if possible else '; you can'} PATCH state posted to post it{')' if possible else ''}"
    return f"Cannot {action} an entry that is {entry.status}{hint}."


def check_action(entry: JournalEntry, action: str) -> None:
    refusal = _refusal(entry, action)
    if refusal is not None:
        raise rule("GL-1006", refusal)


def submit(company: Company, entry: JournalEntry, user: str) -> JournalEntry:
    check_action(entry, "submit")
    posting_checks(company, company.journals[entry.attrs["journal"]], [_as_new(line) for line in entry.lines])
    return company.book.transition(entry.id, WORKFLOW, "submit",
                                   attrs={**entry.attrs, "modifiedBy": user, "approvals": ()})


def approve(company: Company, entry: JournalEntry, user: str, notes: str | None) -> JournalEntry:
    """One approval level per call: partiallyApproved until the company's last level, then approved."""
    check_action(entry, "approve")
    approvals = (*entry.attrs.get("approvals", ()), user)
    workflow = WORKFLOW if len(approvals) >= company.approval_levels else PARTIAL_APPROVAL
    approved = company.book.transition(entry.id, workflow, "approve",
                                       attrs={**entry.attrs, "modifiedBy": user, "notes": notes,
                                              "approvals": approvals})
    return _schedule_automatic_reversal(company, approved) if approved.status == "approved" else approved


def simple_action(company: Company, entry: JournalEntry, action: str, user: str,
                  notes: str | None = None) -> JournalEntry:
    check_action(entry, action)
    attrs = {**entry.attrs, "modifiedBy": user}
    if notes is not None:
        attrs["notes"] = notes
    return company.book.transition(entry.id, WORKFLOW, action, attrs=attrs)


def reverse(company: Company, entry: JournalEntry, on: date, user: str, *, key: str | None = None,
            line_keys: Sequence[str] = ()) -> JournalEntry:
    check_action(entry, "reverse")
    _check_reversal_date(entry.date, on, "reverseDate")
    reversal = _add_reversal(company, entry, on, key, line_keys)
    return company.book.transition(entry.id, WORKFLOW, "reverse",
                                   attrs={**entry.attrs, "reversedBy": reversal.id, "modifiedBy": user})


def reclassify(company: Company, entry: JournalEntry, body: Mapping[str, Any], user: str) -> JournalEntry:
    check_action(entry, "reclassify")
    lines = _merge_lines(company, entry, body.get("lines") or (), reclassify=True)
    posting_checks(company, company.journals[entry.attrs["journal"]], lines)
    total = sum((line.amount for line in lines if line.side is Side.DEBIT), Decimal("0.00"))
    if total != entry.total_debit:
        raise rule("GL-1008", f"Reclassification must keep the entry's total at {entry.total_debit} "
                              f"(the new lines total {total}).")
    changes: dict[str, Any] = {"lines": _with_keys(company, lines),
                               "attrs": {**_header_attrs({k: body[k] for k in ("attachment",) if k in body},
                                                         entry.attrs), "modifiedBy": user}}
    if "description" in body:
        changes["memo"] = body["description"]
    if "referenceNumber" in body:
        changes["reference"] = body["referenceNumber"]
    return company.book.update_entry(entry.id, **changes)


# -- fixtures ----------------------------------------------------------------------------------------------

def seed_entries(company: Company, entries: Iterable[Mapping[str, Any]]) -> None:
    for raw in entries:
        journal = company.journal_by_id(raw["journal"])
        lines = [NewLine(company.account_by_id(str(line["account"])).id, Side(line["txnType"]),
                         Decimal(str(line["txnAmount"])), line.get("description"),
                         {"dimensions": _dimensions(line.get("dimensions"))}, str(line["key"]))
                 for line in raw["lines"]]
        state = raw["state"]
        entry = company.book.add_entry(
            on=to_date(raw["postingDate"]), memo=raw["description"], lines=lines,
            reference=raw.get("referenceNumber"), status=state, posted=state in WORKFLOW.posted,
            draft=state in WORKFLOW.drafts, entry_id=str(raw["key"]),
            attrs={"journal": journal.key, "txnNumber": company.next_txn_number(journal.key), "createdBy": "admin",
                   "modifiedBy": "admin"})
        if raw.get("reverseDate"):
            reverse(company, entry, to_date(raw["reverseDate"]), "admin", key=str(raw["reversalKey"]),
                    line_keys=[str(k) for k in raw["reversalLineKeys"]])
