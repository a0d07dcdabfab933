"""Aden's General Ledger API: `jwt` token auth, Aden's error envelope, idempotency keys, and one handler per
spec operation. The rules themselves live in `journal` (entries and workflow) and `records` (accounts,
periods, approval rules)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any, Callable, Mapping, Sequence

from ...errors import ApiError
from ...idempotency import KeyInFlight, KeyReused, fingerprint
from ...ledger import (Account, Duplicate, InvalidAmount, InvalidEntry, InvalidTransition, JournalEntry, LedgerError,
                       NotFound, PeriodClosed, Unbalanced, UnknownReference)
from ...ledger.periods import (DateOutsidePeriod, HardClosed, Period, PeriodNotClosed, PeriodNotFound, PeriodOverlap,
                               SubledgerLocked)
from .. import Call, FixturesLack, Provider, Reply, Runtime, Tenant, handles
from ..marshal import load
from . import journal, records, wire
from .journal import error
from .seed import new_organisation, seed
from .state import AdenState, Entity

NEUTRAL_CODES = {"validation_error": "VALIDATION_ERROR", "bad_request": "VALIDATION_ERROR", "not_found": "NOT_FOUND",
                 "unauthorized": "UNAUTHORIZED", "forbidden": "FORBIDDEN", "method_not_allowed": "METHOD_NOT_ALLOWED",
                 "payload_too_large": "PAYLOAD_TOO_LARGE", "unsupported_media_type": "UNSUPPORTED_MEDIA_TYPE",
                 "internal_error": "INTERNAL_ERROR",
                 # Statuses an operator's fault (or the mock's own 503) may force. Aden documents no 422 use, no
                 # rate limit and no 5xx code (dossier sections 9, D23): 422 is a VALIDATION_ERROR, a bare 409 the
                 # generic INVALID_STATUS, and 429 and 502/503/504 get the mock's own RATE_LIMITED and
                 # SERVICE_UNAVAILABLE (openapi/aden.yaml Error.code lists them).
                 "unprocessable": "VALIDATION_ERROR", "conflict": "INVALID_STATUS", "rate_limited": "RATE_LIMITED",
                 "service_unavailable": "SERVICE_UNAVAILABLE", "bad_gateway": "SERVICE_UNAVAILABLE",
                 "gateway_timeout": "SERVICE_UNAVAILABLE"}
LEDGER_CODES: Sequence[tuple[type[LedgerError], int, str]] = (
    (InvalidAmount, 400, "VALIDATION_ERROR"), (InvalidEntry, 400, "VALIDATION_ERROR"),
    (Duplicate, 400, "VALIDATION_ERROR"), (PeriodOverlap, 400, "VALIDATION_ERROR"),
    (Unbalanced, 400, "UNBALANCED_ENTRY"), (UnknownReference, 400, "ACCOUNT_NOT_FOUND"),
    (PeriodNotFound, 400, "PERIOD_NOT_FOUND"), (DateOutsidePeriod, 400, "DATE_OUTSIDE_PERIOD"),
    (NotFound, 404, "NOT_FOUND"), (InvalidTransition, 409, "INVALID_STATUS"), (PeriodClosed, 409, "PERIOD_CLOSED"),
    (SubledgerLocked, 409, "SUBLEDGER_LOCKED"), (HardClosed, 409, "HARD_CLOSED"),
    (PeriodNotClosed, 409, "PERIOD_NOT_CLOSED"),
)
LEDGER_NAMES = {"date": "tran_date"}  # a ledger error's detail names, as Aden's wire names them
MUTATING = frozenset({"POST", "PUT", "DELETE"})
# The unposted-entries checklist's document types besides journal entries (none of them is mocked).
OTHER_DOCUMENT_TYPES = ("bills", "invoices", "bill_payments", "invoice_payments", "credit_memos")


def unauthorized(hint: str) -> ApiError:
    # One body for every token problem, as Aden documents; the hint header tells a person which one it was.
    return ApiError(401, "UNAUTHORIZED", "Missing or invalid token",
                    headers={"WWW-Authenticate": "jwt", "X-Ledger-Mock-Hint": hint})


class AdenProvider(Provider):
    name = "aden"
    spec_file = "aden.yaml"

    def __init__(self, runtime: Runtime, fixtures: Mapping[str, Any]):
        super().__init__(runtime, fixtures)
        self.fixtures = fixtures
        self.state = AdenState(self.clock, self.ids)
        seed(self.state, fixtures, self.ids)

    # -- pipeline -------------------------------------------------------------------------------------------

    def authenticate(self, call: Call) -> None:
        scheme, _, token = call.request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "jwt" or not token.strip():
            raise unauthorized("send Authorization: jwt <token> (the scheme word is jwt, not Bearer)")
        found = self.state.tokens.get(token.strip())
        if found is None:
            raise unauthorized("unknown token; `ledger-mock credentials --provider aden` lists the fixture tokens")
        if found.expires_at is not None and found.expires_at <= self.clock.now():
            raise unauthorized(f"token expired at {wire.timestamp(found.expires_at)}")
        call.tenant, call.principal = self.state.caller(found)

    def who(self, call: Call) -> dict[str, Any]:
        return {"organisation": call.tenant.organisation_id, "entity": call.tenant.entity_id,
                "user": call.principal.id}

    def assume(self, call: Call, who: dict[str, Any]) -> None:
        try:
            call.tenant = self.state.entities[(who["organisation"], who["entity"])]
            call.principal = self.state.users[who["organisation"]][who["user"]]
        except KeyError:
            raise unauthorized("the recorded caller no longer exists") from None

    def dispatch(self, call: Call) -> Reply:
        """D4: a retried key replays the first success; errors are not stored, so the key stays usable. Keys are
        the caller's own (issue 16): another user of the entity sending the same key is a request of its own."""
        sent = call.headers.get("X-Idempotency-Key")
        if sent is None or call.operation.method not in MUTATING:
            return super().dispatch(call)
        store, key = call.tenant.idempotency, (call.principal.id, sent)
        request_print = fingerprint(call.operation.id, json.dumps(call.path, sort_keys=True),
                                    json.dumps(call.body, sort_keys=True, default=str))
        try:
            stored = store.begin(key, request_print)
        except KeyReused as exc:
            raise error(409, "IDEMPOTENCY_KEY_REUSED", str(exc), idempotency_key=sent) from None
        except KeyInFlight as exc:
            raise error(409, "IDEMPOTENCY_KEY_IN_USE", str(exc), idempotency_key=sent) from None
        if stored is not None:
            status, payload, headers = stored.reply
            return status, payload, {**headers, "X-Idempotency-Replayed": "true"}
        try:
            reply = super().dispatch(call)
        except BaseException:
            store.abandon(key)
            raise
        status, payload, headers = reply if len(reply) == 3 else (*reply, {})
        store.finish(key, request_print, (status, payload, headers))
        return status, payload, headers

    def render_error(self, error: ApiError, request_id: str, path: str) -> dict[str, Any]:
        """Aden's envelope. A request with several problems lists them all in `details.errors` (`field`,
        `location`, `message` each), `details.field` naming the first field as Aden's one-field errors do (D15)."""
        if error.code == "error":  # a fault's status no row names
            code = "INTERNAL_ERROR" if error.status >= 500 else "VALIDATION_ERROR"
        else:
            code = NEUTRAL_CODES.get(error.code, error.code.upper())
        body: dict[str, Any] = {"code": code, "message": error.message}
        details = error.details
        if error.problems and (details is None or isinstance(details, Mapping)):
            first = next((p.field for p in error.problems if p.field), None)
            details = {**({"field": first.replace("/", ".")} if first else {}), **(details or {}),
                       "errors": [{**({"field": p.field.replace("/", ".")} if p.field else {}),
                                   "location": p.location, "message": p.message} for p in error.problems]}
        if details:
            body["details"] = details
        return {"error": body}

    def ledger_error(self, error: LedgerError) -> ApiError:
        status, code = next(((s, c) for kind, s, c in LEDGER_CODES if isinstance(error, kind)),
                            (400, "VALIDATION_ERROR"))
        details = {LEDGER_NAMES.get(k, k): v for k, v in error.details.items()}
        return ApiError(status, code, error.message, details=details or None)

    def credentials(self, base_url: str) -> dict[str, Any]:
        now = self.clock.now()
        usable = [t for t in self.state.fixture_tokens if t.expires_at is None or t.expires_at > now]
        if not usable:
            raise FixturesLack("The aden fixtures define no token that has not expired; POST /_mock/tenants makes "
                               "an organisation with never-expiring ones, seeded like the fixtures' first.")
        return self._credentials(base_url, usable)

    def _credentials(self, base_url: str, usable: Sequence[Any]) -> dict[str, Any]:
        first = usable[0]
        creds = {"provider": self.name, "base_url": f"{base_url}/service/general-ledger",
                 "authorization": f"jwt {first.value}", "token": first.value,
                 "organisation_id": first.organisation_id, "entity_id": first.entity_id, "user_id": first.user_id}
        for token in usable:
            creds[f"token_{token.organisation_id}_{token.entity_id}_{token.user_id}"] = token.value
        return creds

    def tenants(self) -> list[Tenant]:
        """One per entity (each has its own books), as `organisation/entity`, the id the journal records."""
        return [Tenant(e.id, e.name, e.book) for e in list(self.state.entities.values())]

    def swap_tenant(self, tenant: str, other: AdenProvider) -> None:
        """An entity holds all its requests change (books, periods, rules, idempotency keys); users, tokens and
        organisations come from fixtures and tenant creation alone. Each entity sees its own state's users."""
        key = tuple(tenant.split("/", 1))
        mine, theirs = self.state.entities, other.state.entities
        mine[key], theirs[key] = theirs[key], mine[key]
        mine[key].users, theirs[key].users = self.state.users[key[0]], other.state.users[key[0]]

    def create_tenant(self, base_url: str, name: str | None = None) -> dict[str, Any]:
        """A new organisation like the fixtures' first; the tenant is its first entity, which `token` opens."""
        entities, tokens = new_organisation(self.state, self.fixtures, self.ids, name)
        return {**self._credentials(base_url, tokens), "tenant": entities[0].id}

    # -- journal entries ------------------------------------------------------------------------------------

    @handles("createJournalEntry")
    def create_journal_entry(self, call: Call) -> Reply:
        entity = call.tenant
        entry = journal.create(entity, call.principal, load(wire.EntryIn, call.body))
        return 201, self._entry_out(entity, entry)

    @handles("listJournalEntries")
    def list_journal_entries(self, call: Call) -> Reply:
        entity, q = call.tenant, call.query
        checks: list[Callable[[JournalEntry], bool]] = []
        if "entry_type" in q:
            checks.append(lambda e: e.attrs["entry_type"] == q["entry_type"])
        if "posting_period_id" in q:
            checks.append(lambda e: e.attrs["period_id"] == q["posting_period_id"])
        limit, offset = q.get("limit", 20), q.get("offset", 0)
        # a status reads that status's entries alone, by date (the book's status index)
        entries, total = entity.book.entries_page(
            start=_day(q.get("start_date")), end=_day(q.get("end_date")),
            match=checks[0] if len(checks) == 1 else (lambda e: all(check(e) for check in checks)) if checks
            else None, offset=offset, limit=limit, newest_first=False,
            **({"index": "status", "prefix": (q["status"],)} if "status" in q else {}))
        return 200, {"data": [wire.entry_summary(e) for e in entries],
                     "pagination": _pagination(total, limit, offset, len(entries))}

    @handles("listPendingApprovals")
    def list_pending_approvals(self, call: Call) -> Reply:
        entity, user, q = call.tenant, call.principal, call.query
        with entity.lock:
            waiting = [e for e in entity.book.entries.values() if journal.awaiting(e, user)]
        waiting.sort(key=lambda e: (e.attrs["submitted_at"], e.seq))
        limit, offset = q.get("limit", 20), q.get("offset", 0)
        rows = [{**wire.entry_summary(e), "required_approval_level": e.attrs["required_level"],
                 "current_approval_level": len(e.attrs["approvals"]),
                 "submitted_at": wire.timestamp(e.attrs["submitted_at"]), "submitted_by": e.attrs["submitted_by"]}
                for e in waiting[offset:offset + limit]]
        keys = ("journal_entry_id", "tran_date", "memo", "total_debit", "required_approval_level",
                "current_approval_level", "submitted_at", "submitted_by")
        return 200, {"data": [{k: row[k] for k in keys if k in row} for row in rows], "total": len(waiting)}

    @handles("getJournalEntry")
    def get_journal_entry(self, call: Call) -> Reply:
        entity = call.tenant
        return 200, self._entry_out(entity, entity.book.entry(call.path["journal_entry_id"]))

    @handles("updateJournalEntry")
    def update_journal_entry(self, call: Call) -> Reply:
        entity = call.tenant
        fields = load(wire.EntryIn, call.body, partial=True)
        entry = journal.update(entity, call.principal, call.path["journal_entry_id"], fields)
        return 200, self._entry_out(entity, entry)

    @handles("deleteJournalEntry")
    def delete_journal_entry(self, call: Call) -> Reply:
        journal.delete(call.tenant, call.path["journal_entry_id"])
        return 204, None

    @handles("submitJournalEntry")
    def submit_journal_entry(self, call: Call) -> Reply:
        entry = journal.submit(call.tenant, call.principal, call.path["journal_entry_id"], _text(call, "comments"))
        a = entry.attrs
        return 200, {"journal_entry_id": entry.id, "status": entry.status, "required_approval_level": a["required_level"],
                     "submitted_at": wire.timestamp(a["submitted_at"]), "submitted_by": a["submitted_by"]}

    @handles("approveJournalEntry")
    def approve_journal_entry(self, call: Call) -> Reply:
        user = call.principal
        entry, level, message = journal.approve(call.tenant, user, call.path["journal_entry_id"],
                                                _text(call, "comments"))
        return 200, {"journal_entry_id": entry.id, "status": entry.status, "posted": entry.posted, "level": level,
                     "message": message, "approved_at": wire.timestamp(entry.updated_at), "approved_by": user.id}

    @handles("rejectJournalEntry")
    def reject_journal_entry(self, call: Call) -> Reply:
        reason = _text(call, "reason")
        entry = journal.reject(call.tenant, call.principal, call.path["journal_entry_id"], reason)
        return 200, {"journal_entry_id": entry.id, "status": entry.status, "reason": reason,
                     "rejected_at": wire.timestamp(entry.updated_at), "rejected_by": call.principal.id}

    @handles("requestJournalEntryChange")
    def request_journal_entry_change(self, call: Call) -> Reply:
        comments = _text(call, "comments")
        entry = journal.request_change(call.tenant, call.principal, call.path["journal_entry_id"], comments)
        return 200, {"journal_entry_id": entry.id, "status": entry.status, "comments": comments,
                     "returned_at": wire.timestamp(entry.updated_at), "returned_by": call.principal.id}

    @handles("holdJournalEntry")
    def hold_journal_entry(self, call: Call) -> Reply:
        reason = _text(call, "reason")
        entry = journal.hold(call.tenant, call.principal, call.path["journal_entry_id"], reason)
        return 200, {"journal_entry_id": entry.id, "status": entry.status, "reason": reason,
                     "held_at": wire.timestamp(entry.updated_at), "held_by": call.principal.id}

    @handles("unholdJournalEntry")
    def unhold_journal_entry(self, call: Call) -> Reply:
        entry = journal.unhold(call.tenant, call.principal, call.path["journal_entry_id"], _text(call, "comments"))
        return 200, {"journal_entry_id": entry.id, "status": entry.status,
                     "unheld_at": wire.timestamp(entry.updated_at), "unheld_by": call.principal.id}

    @handles("postJournalEntry")
    def post_journal_entry(self, call: Call) -> Reply:
        entry, period = journal.post(call.tenant, call.principal, call.path["journal_entry_id"],
                                     _text(call, "comments"))
        return 200, {"journal_entry_id": entry.id, "status": entry.status,
                     "posted_at": wire.timestamp(entry.attrs["posted_at"]), "posted_by": entry.attrs["posted_by"],
                     "posting_period_id": period.id, "posting_period_name": period.name}

    @handles("reverseJournalEntry")
    def reverse_journal_entry(self, call: Call) -> Reply:
        entity, body = call.tenant, call.body
        fields = {"reversal_date": date.fromisoformat(body["reversal_date"]), "memo": body.get("memo"),
                  "posting_period_id": body.get("posting_period_id")}
        reversal = journal.reverse(entity, call.principal, call.path["journal_entry_id"], fields)
        return 201, self._entry_out(entity, reversal)

    @handles("voidJournalEntry")
    def void_journal_entry(self, call: Call) -> Reply:
        body = call.body
        reasons = {body[k] for k in ("void_reason", "reason") if k in body}
        if len(reasons) > 1:
            raise error(400, "VALIDATION_ERROR", "`void_reason` and its alias `reason` must agree.", field="reason")
        reason = reasons.pop()
        entry = journal.void(call.tenant, call.principal, call.path["journal_entry_id"], reason)
        return 200, {"journal_entry_id": entry.id, "status": entry.status, "void_reason": reason,
                     "voided_at": wire.timestamp(entry.attrs["voided_at"]), "voided_by": entry.attrs["voided_by"]}

    @handles("getJournalEntryAuditTrail")
    def get_journal_entry_audit_trail(self, call: Call) -> Reply:
        entry = call.tenant.book.entry(call.path["journal_entry_id"])
        return 200, {"journal_entry_id": entry.id, "audit_trail": [wire.audit_out(r) for r in entry.attrs["audit"]]}

    def _entry_out(self, entity: Entity, entry: JournalEntry) -> dict[str, Any]:
        return wire.entry_out(entry, entity.book.accounts, entity.periods.get(entry.attrs["period_id"]))

    # -- accounts -------------------------------------------------------------------------------------------

    @handles("createAccount")
    def create_account(self, call: Call) -> Reply:
        entity = call.tenant
        fields = load(wire.AccountIn, call.body)
        sent = (call.body or {}).get("balance")
        if sent is not None and Decimal(str(sent)) != (fields.get("opening_balance") or Decimal(0)):
            call.warn("body field `balance` was ignored: balances come from posted entries (a new account's balance "
                      "is its opening_balance)")
        account = records.new_account(entity, fields)
        return 201, wire.account_out(account, self._balance(entity, account))

    @handles("listAccounts")
    def list_accounts(self, call: Call) -> Reply:
        entity, q = call.tenant, call.query
        until = self._period_in_query(entity, q.get("accounting_period_id"))
        with entity.lock:
            found = [a for a in entity.book.accounts.values()
                     if (q.get("is_inactive") or a.active) and q.get("account_type") in (None, a.attrs["account_type"])]
            found.sort(key=lambda a: (a.attrs["account_number"], a.id))
            limit, offset = q.get("limit", 20), q.get("offset", 0)
            page = found[offset:offset + limit]
            totals = _posted_totals(entity, until.end) if until else None
            data = [wire.account_out(a, self._balance(entity, a, totals)) for a in page]
        return 200, {"data": data, "pagination": _pagination(len(found), limit, offset, len(page))}

    @handles("getAccount")
    def get_account(self, call: Call) -> Reply:
        entity = call.tenant
        account = entity.book.account(call.path["account_id"])
        return 200, wire.account_out(account, self._balance(entity, account))

    @handles("updateAccount")
    def update_account(self, call: Call) -> Reply:
        entity = call.tenant
        fields = load(wire.AccountIn, call.body, partial=True)
        account = records.update_account(entity, call.path["account_id"], call.body, fields)
        return 200, wire.account_out(account, self._balance(entity, account))

    @handles("getAccountBalance")
    def get_account_balance(self, call: Call) -> Reply:
        entity, q = call.tenant, call.query
        start, end = _day(q["start_date"]), _day(q["end_date"])
        if start > end:
            raise error(400, "VALIDATION_ERROR", "`start_date` must not be after `end_date`.", field="start_date")
        with entity.lock:
            account = entity.book.account(call.path["account_id"])
            before = debits = credits = Decimal("0.00")
            for entry in _posted(entity, end):
                for line in entry.lines:
                    if line.account_id != account.id:
                        continue
                    if entry.date < start:
                        before += line.signed
                    elif line.signed > 0:
                        debits += line.amount
                    else:
                        credits += line.amount
        opening = account.attrs["opening_balance"] + _direction(account, before)
        net = _direction(account, debits - credits)
        return 200, {"account_id": account.id, "account_name": account.name,
                     "account_type": account.attrs["account_type"], "currency": account.currency,
                     "start_date": start.isoformat(), "end_date": end.isoformat(),
                     "opening_balance": wire.money(opening), "total_debits": wire.money(debits),
                     "total_credits": wire.money(credits), "net_change": wire.money(net),
                     "ending_balance": wire.money(opening + net)}

    def _balance(self, entity: Entity, account: Account,
                 totals: Mapping[str, Decimal] | None = None) -> Decimal:
        """Opening balance plus posted entries, in the account's normal-balance direction."""
        moved = entity.book.balance(account.id) if totals is None else totals.get(account.id, Decimal(0))
        return account.attrs["opening_balance"] + _direction(account, moved)

    def _period_in_query(self, entity: Entity, period_id: str | None) -> Period | None:
        if period_id is None:
            return None
        try:
            return entity.periods.get(period_id)
        except PeriodNotFound as exc:
            raise error(400, "PERIOD_NOT_FOUND", exc.message, accounting_period_id=period_id) from None

    # -- accounting periods ---------------------------------------------------------------------------------

    @handles("createAccountingPeriod")
    def create_accounting_period(self, call: Call) -> Reply:
        period = records.new_period(call.tenant, load(wire.PeriodIn, call.body), self.ids)
        return 201, wire.period_out(period)

    @handles("listAccountingPeriods")
    def list_accounting_periods(self, call: Call) -> Reply:
        q = call.query
        start, end = _day(q.get("start_date")), _day(q.get("end_date"))
        found = call.tenant.periods.listing(lambda p: (
            q.get("fiscal_year_id") in (None, p.attrs["fiscal_year_id"]) and q.get("is_closed") in (None, p.closed)
            and (start is None or p.start >= start) and (end is None or p.end <= end)))
        limit, offset = q.get("limit", 20), q.get("offset", 0)
        page = found[offset:offset + limit]
        return 200, {"data": [wire.period_out(p) for p in page],
                     "pagination": _pagination(len(found), limit, offset, len(page))}

    @handles("getAccountingPeriod")
    def get_accounting_period(self, call: Call) -> Reply:
        return 200, wire.period_out(self._path_period(call))

    @handles("closeAccountingPeriod")
    def close_accounting_period(self, call: Call) -> Reply:
        """D17: `all` closes the period; `ap`/`ar`/`payroll` are recorded and leave journal entries alone."""
        entity, body, user = call.tenant, call.body or {}, call.principal
        close_type, now = body.get("close_type", "all"), self.clock.now()
        with entity.lock:
            period = self._path_period(call)
            scopes = set(period.attrs.get("closed_scopes", ()))
            if period.closed or close_type in scopes:
                raise error(409, "PERIOD_CLOSED", f"Accounting period {period.id} ({period.name}) is already closed"
                            f"{'' if period.closed else f' for {close_type}'}.", period_id=period.id,
                            period_name=period.name, close_type=close_type)
            stamp = {"closed_at": now, "closed_by": user.id, "close_type": close_type}
            if close_type != "all":
                period = entity.periods.annotate(period.id, closed_scopes=tuple(sorted(scopes | {close_type})),
                                                 **stamp)
            else:
                grouped = journal.unposted(entity, period.id)
                counts = {key: len(entries) for key, entries in grouped.items() if entries}
                if counts and not body.get("force"):
                    raise error(409, "UNPOSTED_ENTRIES", f"{sum(counts.values())} entries of the period are not "
                                "posted; post, void or delete them, or close with `force: true`.",
                                journal_entries=counts)
                period = entity.periods.close(period.id, **stamp)
        return 200, {"period_id": period.id, "period_name": period.name, "is_closed": period.closed,
                     "closed_at": wire.timestamp(now), "closed_by": user.id, "close_type": close_type}

    @handles("reopenAccountingPeriod")
    def reopen_accounting_period(self, call: Call) -> Reply:
        entity, body, user = call.tenant, call.body, call.principal
        reopen_type, now = body.get("reopen_type", "all"), self.clock.now()
        stamp = {"reopened_at": now, "reopened_by": user.id, "reopen_reason": body["reason"]}
        with entity.lock:
            period = self._path_period(call)
            scopes = set(period.attrs.get("closed_scopes", ()))
            if reopen_type == "all" or period.hard_closed:
                period = entity.periods.reopen(period.id, **stamp)
            elif reopen_type in scopes:
                period = entity.periods.annotate(period.id, closed_scopes=tuple(sorted(scopes - {reopen_type})),
                                                 **stamp)
            else:
                raise error(409, "PERIOD_NOT_CLOSED", f"Accounting period {period.id} ({period.name}) is not closed "
                            f"for {reopen_type}.", period_id=period.id, period_name=period.name,
                            reopen_type=reopen_type)
        return 200, {"period_id": period.id, "period_name": period.name, "is_closed": period.closed,
                     "reopened_at": wire.timestamp(now), "reopened_by": user.id, "reason": body["reason"],
                     "reopen_type": reopen_type}

    @handles("getUnpostedEntries")
    def get_unposted_entries(self, call: Call) -> Reply:
        """Aden's close checklist. The mock keeps journal entries only, so the other document types Aden lists
        are always empty."""
        entity = call.tenant
        with entity.lock:
            period = self._path_period(call)
            grouped = journal.unposted(entity, period.id)
        journal_entries = {key: [wire.unposted_item(e) for e in entries] for key, entries in grouped.items()}
        empty = {key: [] for key in grouped}
        return 200, {"period_id": period.id, "period_name": period.name,
                     "total_unposted": sum(len(entries) for entries in grouped.values()),
                     "by_document_type": {"journal_entries": journal_entries,
                                          **{kind: empty for kind in OTHER_DOCUMENT_TYPES}},
                     "summary": {"by_status": {key: len(entries) for key, entries in grouped.items()}}}

    def _path_period(self, call: Call) -> Period:
        try:
            return call.tenant.periods.get(call.path["period_id"])
        except PeriodNotFound as exc:
            raise error(404, "NOT_FOUND", exc.message, period_id=call.path["period_id"]) from None

    # -- approval rules -------------------------------------------------------------------------------------

    @handles("createApprovalRule")
    def create_approval_rule(self, call: Call) -> Reply:
        rule = records.new_rule(call.tenant, call.principal, load(wire.RuleIn, call.body))
        return 200, wire.rule_out(rule)

    @handles("listApprovalRules")
    def list_approval_rules(self, call: Call) -> Reply:
        entity, q = call.tenant, call.query
        with entity.lock:
            found = [r for r in entity.rules.values()
                     if all(q.get(k) in (None, r[k]) for k in ("document_type", "is_active", "rule_type"))]
        found.sort(key=lambda r: (r["priority"], r["rule_id"]))
        limit, offset = q.get("limit", 20), q.get("offset", 0)
        return 200, {"rules": [wire.rule_out(r) for r in found[offset:offset + limit]], "total": len(found)}

    @handles("getApplicableApprovalRules")
    def get_applicable_approval_rules(self, call: Call) -> Reply:
        amount = Decimal(call.query["amount"])
        with call.tenant.lock:
            rules = journal.matching_rules(call.tenant, call.query["document_type"], amount)
        return 200, {"applicable_rules": [wire.rule_out(r) for r in rules],
                     "max_approval_level_required": journal.required_level(rules), "total_rules_matched": len(rules)}

    @handles("getApprovalRule")
    def get_approval_rule(self, call: Call) -> Reply:
        return 200, wire.rule_out(records.rule_of(call.tenant, call.path["rule_id"]))

    @handles("updateApprovalRule")
    def update_approval_rule(self, call: Call) -> Reply:
        fields = load(wire.RuleIn, call.body, partial=True)
        return 200, wire.rule_out(records.update_rule(call.tenant, call.path["rule_id"], fields))

    @handles("deleteApprovalRule")
    def delete_approval_rule(self, call: Call) -> Reply:
        entity = call.tenant
        with entity.lock:
            rule = records.rule_of(entity, call.path["rule_id"])
            del entity.rules[rule["rule_id"]]
        return 200, {"message": "Approval rule deleted", "rule_id": rule["rule_id"]}


def _text(call: Call, key: str) -> Any:
    return (call.body or {}).get(key)


def _day(value: str | date | None) -> date | None:
    """Query dates, validated as `format: date` (the pipeline may already have made them dates)."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def _pagination(total: int, limit: int, offset: int, returned: int) -> dict[str, Any]:
    return {"total": total, "limit": limit, "offset": offset, "has_more": offset + returned < total}


def _direction(account: Account, debit_positive: Decimal) -> Decimal:
    return debit_positive if account.attrs["normal_balance"] == "debit" else -debit_positive


def _posted(entity: Entity, until: date | None) -> list[JournalEntry]:
    entries, _ = entity.book.entries_page(end=until, match=lambda e: e.posted, limit=len(entity.book.entries) + 1,
                                          newest_first=False)
    return entries


def _posted_totals(entity: Entity, until: date) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for entry in _posted(entity, until):
        for line in entry.lines:
            totals[line.account_id] = totals.get(line.account_id, Decimal(0)) + line.signed
    return totals
