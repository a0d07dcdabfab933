"""Codat's wire format: push bodies checked into `Submission`s, and domain records dumped as Codat objects.

Field names follow Codat's published spec and SDK models (dossier D1); absent optional fields are omitted
(D19). Amounts stay Decimal: debit positive, credit negative on the wire.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterator, Mapping

from ...errors import excerpt
from ...ledger import Account, InvalidAmount, JournalEntry, NewLine, Side, parse_amount
from .entries import entry_field, posted_on, stamp
from .state import (PULLED_DATA_TYPES, STATUS_CODES, Company, Connection, PullOperation, PushOperation, Submission,
                    platform_name)

VALIDATOR = "JournalEntry"
ZERO = Decimal("0.00")


def item(item_id: str | None, message: str, validator: str = VALIDATOR) -> dict[str, Any]:
    found = {"message": message, "validatorName": validator}
    return {"itemId": item_id, **found} if item_id else found


# -- push bodies --------------------------------------------------------------------------------------------


def check_push(body: Mapping[str, Any], company: Company) -> tuple[Submission | None, list[dict[str, Any]]]:
    """Apply Codat's push rules to a schema-valid body: the submission, or every broken rule as a validation item."""
    errors: list[dict[str, Any]] = []
    day = _posted_on(body["postedOn"])
    currency_ref = (body.get("currencyRef") or {}).get("id")
    if currency_ref is not None and currency_ref.upper() != company.currency:
        errors.append(item("currencyRef.id", f"Pushing data will fail if the business has not enabled or does not "
                                             f"support multiple currency: {excerpt(repr(currency_ref))} is not the "
                                             f"company's base currency {company.currency}."))
    rate = body.get("currencyRate")
    if rate is not None and Decimal(rate) != 1:
        errors.append(item("currencyRate", "currencyRate is not applicable when multi-currency is not supported: "
                                           "the entry is in the base currency, whose rate is 1."))
    if day is None:
        errors.append(item("postedOn", f"postedOn must be an ISO 8601 date or date-time, not "
                                       f"{excerpt(repr(body['postedOn']))}."))
    lines: list[NewLine] = []
    total, amounts_ok = ZERO, True
    for index, raw in enumerate(body["journalLines"]):
        where = f"journalLines[{index}]"
        amount = _amount(raw["netAmount"], f"{where}.netAmount", errors)
        tax = None if raw.get("taxAmount") is None else _amount(raw["taxAmount"], f"{where}.taxAmount", errors,
                                                                 nonzero=False)
        if amount is None:
            amounts_ok = False
        else:
            total += amount
        account_id = raw["accountRef"]["id"]
        account = company.book.accounts.get(account_id)
        if account is None or not account.active:
            errors.append(item(f"{where}.accountRef.id", f"Account {excerpt(repr(account_id))} does not exist in "
                                                         f"the company's chart of accounts; the create model lists "
                                                         f"the accounts."))
        currency = raw.get("currency")
        if currency is not None and currency.upper() != company.currency:
            errors.append(item(f"{where}.currency", f"Journal entries can only be pushed in the company's base "
                                                    f"currency {company.currency}, not {excerpt(repr(currency))}."))
        control = company.control_accounts.get(account_id)
        if control:
            wanted = "customers" if control == "AR" else "suppliers"
            contact_type = (raw.get("contactRef") or {}).get("dataType")
            if contact_type != wanted:
                kind = "Accounts Receivable" if control == "AR" else "Accounts Payable"
                errors.append(item(f"{where}.contactRef", f"Lines on {kind} account {excerpt(repr(account_id))} "
                                                          f"need a contactRef "
                                                          f"with dataType {wanted!r}."))
        if amount is not None:
            lines.append(NewLine(account_id, Side.DEBIT if amount > 0 else Side.CREDIT, abs(amount),
                                 raw.get("description"), _line_attrs(raw, company, tax)))
    if amounts_ok and total != ZERO:
        errors.append(item("journalLines", f"The netAmount of the journal lines must sum to zero (debits positive, "
                                           f"credits negative); they sum to {total}."))
    if errors or day is None:
        return None, errors
    extras: dict[str, Any] = {}
    if body.get("journalRef") is not None:
        extras["journalRef"] = _ref(body["journalRef"], ("id", "name"))
    if body.get("recordRef") is not None:
        extras["recordRef"] = _ref(body["recordRef"], ("id", "dataType"))
    if body.get("supplementalData") is not None:
        content = body["supplementalData"].get("content")
        extras["supplementalData"] = {} if content is None else {"content": content}
    if body.get("subsidiaryRefs") is not None:
        extras["subsidiaryRefs"] = [_ref(r, ("id", "name")) for r in body["subsidiaryRefs"]]
    if body.get("currencyRef") is not None:  # the base currency, as checked above
        extras["currencyRef"] = _ref(body["currencyRef"], ("id", "name"))
    if rate is not None:
        extras["currencyRate"] = Decimal(rate)
    return Submission(day, body.get("description"), tuple(lines), extras), []


def _posted_on(raw: str) -> date | None:
    """The accounting date as the client wrote it, at midnight local to the business (entries.posted_on): Codat
    returns platform dates without a zone as "times local to the business"
    (docs.codat.io/docs/datamodel-shared-date), and a journal's posting date is a calendar date, so
    `2025-03-01T00:30:00+01:00` is 1 March, not 28 February."""
    try:
        return datetime.fromisoformat(raw.strip()).date()
    except ValueError:
        return None


def drops_time(raw: str) -> bool:
    """Whether `_posted_on` leaves out a time of day or a zone the client sent."""
    moment = datetime.fromisoformat(raw.strip())
    return moment.tzinfo is not None or moment.time() != datetime.min.time()


def _amount(raw: Any, where: str, errors: list[dict[str, Any]], *, nonzero: bool = True) -> Decimal | None:
    try:
        amount = parse_amount(raw, field=where.rpartition(".")[2], positive=False)
    except InvalidAmount as error:
        errors.append(item(where, error.message))
        return None
    if nonzero and amount == ZERO:
        errors.append(item(where, "netAmount cannot be zero: debits are positive, credits negative."))
        return None
    return amount


def _line_attrs(raw: Mapping[str, Any], company: Company, tax: Decimal | None) -> dict[str, Any]:
    attrs: dict[str, Any] = {"currency": (raw.get("currency") or company.currency).upper()}
    if raw.get("contactRef") is not None:
        attrs["contactRef"] = _ref(raw["contactRef"], ("id", "dataType"))
    if raw.get("tracking") is not None:
        refs = raw["tracking"].get("recordRefs") or []
        attrs["tracking"] = {"recordRefs": [_ref(r, ("id", "dataType")) for r in refs]}
    if tax is not None:
        attrs["taxAmount"] = tax
    if raw.get("taxRateRef") is not None:
        attrs["taxRateRef"] = _ref(raw["taxRateRef"], ("id", "name"))
    return attrs


def _ref(raw: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: raw[key] for key in keys if raw.get(key) is not None}


# -- journal entries ----------------------------------------------------------------------------------------


def _line_out(account_id: str, signed: Decimal, memo: str | None, attrs: Mapping[str, Any],
              company: Company) -> dict[str, Any]:
    account = company.book.accounts.get(account_id)
    line: dict[str, Any] = {"netAmount": signed}
    if memo is not None:
        line["description"] = memo
    line["currency"] = attrs.get("currency", company.currency)
    line["accountRef"] = {"id": account_id, **({"name": account.name} if account else {})}
    for key in ("contactRef", "tracking", "taxAmount", "taxRateRef"):
        if key in attrs:
            line[key] = attrs[key]
    return line


def _optional(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {key: attrs[key] for key in ("journalRef", "recordRef", "supplementalData", "currencyRef", "currencyRate",
                                        "subsidiaryRefs") if attrs.get(key) is not None}


def entry_out(entry: JournalEntry, company: Company) -> dict[str, Any]:
    out: dict[str, Any] = {"id": entry.id}
    description = entry_field(entry, "description")
    if description is not None:
        out["description"] = description
    out.update((name, entry_field(entry, name)) for name in ("postedOn", "createdOn", "updatedOn"))
    out.update(_optional(entry.attrs))
    out["journalLines"] = [_line_out(line.account_id, line.signed, line.memo, line.attrs, company)
                           for line in entry.lines]
    out["metadata"] = {"isDeleted": entry.status == "deleted"}
    out.update((name, entry_field(entry, name)) for name in ("modifiedDate", "sourceModifiedDate"))
    return out


_ABSENT = object()


class EntryRecord(Mapping[str, Any]):
    """entry_out as a read-only mapping that builds the record only when a field beyond the plain ones is read.
    A `query` is evaluated against every entry of the book and usually names dates or the description; building
    every whole record (lines and all) made a query over 100k entries take seconds."""

    __slots__ = ("entry", "company", "_built")
    _PLAIN = frozenset({"postedOn", "createdOn", "updatedOn", "modifiedDate", "sourceModifiedDate"})
    _OPTIONAL = frozenset({"description", "journalRef", "recordRef"})

    def __init__(self, entry: JournalEntry, company: Company):
        self.entry, self.company, self._built = entry, company, None

    def __getitem__(self, name: str) -> Any:
        value = self.get(name, _ABSENT)
        if value is _ABSENT:
            raise KeyError(name)
        return value

    def get(self, name: str, default: Any = None) -> Any:  # the query engine's accessor, without Mapping's detour
        if name in self._PLAIN:
            return entry_field(self.entry, name)
        if name == "id":
            return self.entry.id
        if name in self._OPTIONAL:  # as entry_out shows them: present when not null
            value = entry_field(self.entry, name)
            return default if value is None else value
        if name == "metadata":
            return {"isDeleted": self.entry.status == "deleted"}
        return self._record().get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._record())

    def __len__(self) -> int:
        return len(self._record())

    def _record(self) -> dict[str, Any]:
        if self._built is None:
            self._built = entry_out(self.entry, self.company)
        return self._built


def submission_out(submission: Submission, company: Company) -> dict[str, Any]:
    """What a Pending create shows as `data`: the normalised submission, not yet an entry."""
    out: dict[str, Any] = {}
    if submission.description is not None:
        out["description"] = submission.description
    out["postedOn"] = posted_on(submission.on)
    out.update(_optional(submission.extras))
    out["journalLines"] = [_line_out(line.account_id, line.amount if line.side is Side.DEBIT else -line.amount,
                                     line.memo, line.attrs, company) for line in submission.lines]
    out["metadata"] = {"isDeleted": False}
    return out


# -- accounts -----------------------------------------------------------------------------------------------

# Codat's category for the control accounts, in the form its push validation names them ("the FullyQualifiedCategory
# is 'Asset.AccountsReceivable','Liability.AccountsPayable'", accounting-spec, QuickBooks Desktop options).
CONTROL_CATEGORIES = {"AR": "Asset.AccountsReceivable", "AP": "Liability.AccountsPayable"}


def account_out(account: Account, company: Company) -> dict[str, Any]:
    type_name = account.kind.value.capitalize()
    category = CONTROL_CATEGORIES.get(company.control_accounts.get(account.id, ""), type_name)
    moment = stamp(account.updated_at)
    return {"id": account.id, "nominalCode": account.number, "name": account.name,
            "fullyQualifiedCategory": category, "fullyQualifiedName": f"{category}.{account.name}",
            "currency": account.currency or company.currency, "currentBalance": company.book.balance(account.id),
            "type": type_name, "status": "Active" if account.active else "Archived", "isBankAccount": False,
            "metadata": {"isDeleted": False}, "modifiedDate": moment, "sourceModifiedDate": moment}


# -- companies, connections, pushes -------------------------------------------------------------------------


def connection_out(connection: Connection) -> dict[str, Any]:
    out = {"id": connection.id, "integrationId": connection.integration_id,
           "integrationKey": connection.platform_key, "sourceId": connection.source_id, "sourceType": "Accounting",
           "platformName": platform_name(connection.platform_key),
           "linkUrl": f"https://link-api.codat.io/companies/{connection.company_id}/connections/{connection.id}/start",
           "status": connection.status, "created": stamp(connection.created)}
    if connection.last_sync is not None:
        out["lastSync"] = stamp(connection.last_sync)
    return out


def company_out(company: Company) -> dict[str, Any]:
    out: dict[str, Any] = {"id": company.id, "name": company.name}
    if company.description is not None:
        out["description"] = company.description
    out.update(redirect=f"https://link.codat.io/company/{company.id}", created=stamp(company.created))
    if company.last_sync is not None:
        out["lastSync"] = stamp(company.last_sync)
    if company.created_by is not None:
        out["createdByUserName"] = company.created_by
    out.update(products=list(company.products), tags=dict(company.tags), referenceSubsidiaryCompanies=[],
               dataConnections=[connection_out(c) for c in company.connections.values()])
    return out


def push_out(push: PushOperation) -> dict[str, Any]:
    out: dict[str, Any] = {"companyId": push.company_id, "pushOperationKey": push.key,
                           "dataConnectionKey": push.connection_id, "dataType": "journalEntries",
                           "requestedOnUtc": stamp(push.requested)}
    if push.completed is not None:
        out["completedOnUtc"] = stamp(push.completed)
    if push.timeout_minutes is not None:
        out["timeoutInMinutes"] = push.timeout_minutes
    out.update(status=push.status, statusCode=STATUS_CODES[push.status])
    if push.error_message is not None:
        out["errorMessage"] = push.error_message
    ref = {"id": push.entry_id} if push.entry_id and (push.kind == "delete" or push.status == "Success") else {}
    out["changes"] = [{"type": "Created" if push.kind == "create" else "Deleted",
                       "recordRef": {**ref, "dataType": "journalEntries"}}]
    return out


def pull_out(pull: PullOperation) -> dict[str, Any]:
    out: dict[str, Any] = {"id": pull.id, "companyId": pull.company_id, "connectionId": pull.connection_id,
                           "dataType": pull.data_type, "status": pull.status}
    if pull.status == "NotSupported":
        out["statusDescription"] = f"The mock holds no {pull.data_type}: it serves {', '.join(PULLED_DATA_TYPES)}."
    out["requested"] = stamp(pull.requested)
    if pull.completed is not None:
        out["completed"] = stamp(pull.completed)
    out.update(progress=0 if pull.status == "Queued" else 100, isCompleted=pull.status == "Complete",
               isErrored=False)
    return out


def data_status(company: Company) -> dict[str, Any]:
    """Per data type, its latest pull and latest Complete one. The data a Linked connection brought before any
    refresh ("fetch on first link") shows as Complete as of that connection's last sync or creation."""
    statuses: dict[str, dict[str, Any]] = {}
    linked = [c for c in company.connections.values() if c.status == "Linked"]
    if linked:
        synced = max(c.last_sync or c.created for c in linked)
        for data_type in PULLED_DATA_TYPES:
            statuses[data_type] = {"dataType": data_type, "currentStatus": "Complete",
                                   "lastSuccessfulSync": stamp(synced)}
    for pull in company.pulls.values():  # oldest first: the last one of each type wins
        status = statuses.setdefault(pull.data_type, {"dataType": pull.data_type})
        status.update(currentStatus=pull.status, latestSyncId=pull.id)
        if pull.status == "Complete":
            status.update(lastSuccessfulSync=stamp(pull.completed), latestSuccessfulSyncId=pull.id)
    return statuses


def create_model(company: Company) -> dict[str, Any]:
    """The journal-entry push model (D22): the rules the push checks, with the chart as account choices."""
    def prop(kind: str, name: str, description: str, required: bool, **more: Any) -> dict[str, Any]:
        return {"type": kind, "displayName": name, "description": description, "required": required, **more}

    accounts = [{"value": a.id, "displayName": a.name, "type": "String"}
                for a in company.book.accounts.values() if a.active]
    line = {
        "netAmount": prop("Number", "Net amount", "Debit positive, credit negative, at most 2 decimals, not zero.",
                          True),
        "description": prop("String", "Description", "Description of the line.", False),
        "currency": prop("String", "Currency", "ISO 4217 code; defaults to the base currency.", False,
                         validation={"warnings": [{"field": "currency", "details": f"Only the company's base currency "
                                                                                   f"{company.currency} is supported."}]}),
        "accountRef": prop("Object", "Account", "The account of the line.", True, properties={
            "id": prop("String", "Account id", "Id of an account in the company's chart of accounts.", True,
                       options=accounts)}),
        "contactRef": prop("Object", "Contact", "Customer or supplier of the line; required on Accounts "
                                                "Receivable (customers) and Accounts Payable (suppliers) lines.", False,
                           properties={"id": prop("String", "Contact id", "Id of the customer or supplier.", True),
                                       "dataType": prop("String", "Contact type", "customers or suppliers.", False,
                                                        options=[{"value": v, "displayName": v, "type": "String"}
                                                                 for v in ("customers", "suppliers")])}),
    }
    return prop("Object", "Journal entry", "A balanced journal entry in the company's base currency.", True,
                properties={
                    "description": prop("String", "Description", "Description of the journal entry.", False),
                    "postedOn": prop("DateTime", "Posted on", "Date the entry affects the general ledger "
                                                             "(ISO 8601 date or date-time).", True),
                    "journalRef": prop("Object", "Journal", "Journal the entry belongs to.", False, properties={
                        "id": prop("String", "Journal id", "Id of the journal.", True)}),
                    "journalLines": prop("Array", "Journal lines", "At least two lines whose netAmount sums to zero.",
                                         True, properties=line),
                },
                validation={"information": [{"field": "journalLines",
                                             "details": "Lines must balance: the netAmounts sum to zero."}]})
