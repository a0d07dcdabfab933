"""COUNT's bank and card transactions: list (with the review-queue filters), get, create (one or in bulk), partial
update, category change, delete; journal-entry rows are read-only here (they change through their entry)."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from ...errors import excerpt, validation_error
from ...ledger import NotEditable, UnknownReference
from .. import Call, Reply, handles
from ..marshal import load
from . import wire
from .catalog import PHYSICAL, SUB_TYPES
from .common import CountHandlers, success
from .state import Workspace, transaction_attrs

# Set by COUNT itself: `pending` by the bank feed, `split` by POST /transactions/{id}/split (not served, D14).
WARN_INTERNAL = ("billId", "linkedTransferTransactionId", "providerTransactionId", "pending", "split")
# D18: a transaction field and its aliases, in the order they win (the first sent is used).
TRANSACTION_ALIASES = (("accUuid", "accountUuid", "accountId"), ("categoryAccountUuid", "categoryAccountId"),
                       ("postedDate", "date"))
TRANSACTION_PATCH_FIELDS = ("vendorUuid", "customerUuid", "projectUuid", "tagUuids", "description", "notes",
                            "amount", "postedDate", "date", "authorizedDate", "type", "reviewed", "excluded")
# count-cli COUNT_bulk_exclude_transactions: "a transaction that is reviewed/reconciled/pending ... becomes one entry
# in the response `failures`"; the same rows refuse `excluded: true` one at a time.
EXCLUDE_BLOCKERS = ("reviewed", "reconciled", "pending")
# Seed 002: "Uncategorized transactions will appear in COUNT's review queue", the unreviewed rows (`reviewed=false`,
# the filter count-cli's exclude-bulk recipe uses): so an uncategorised row stays unreviewed.
UNCATEGORISED_REVIEW = "Transaction is uncategorized: give it a category before marking it reviewed."



def _warn_aliases(call: Call, body: Mapping[str, Any], prefix: str = "") -> None:
    """D18: of a field and its aliases the first sent wins; another one sent with a different value is ignored,
    and said so (before anything is written)."""
    for names in TRANSACTION_ALIASES:
        sent = [(name, body[name]) for name in names if body.get(name) is not None]
        for name, value in sent[1:]:
            if value != sent[0][1]:
                call.warn(f"body field `{prefix}{name}` was ignored: `{prefix}{sent[0][0]}` was sent too, and wins")


def _account_filter(query: Mapping[str, Any]) -> str | None:
    """The transaction list's account filter: `accUuid` (COUNT's code), `accountUuid`, or the seed's `accountId`;
    two of them with different values is a 400 naming both (a list filtered by a guess would look right)."""
    sent = [(name, query[name]) for name in ("accUuid", "accountUuid", "accountId") if query.get(name)]
    for name, value in sent[1:]:
        if value != sent[0][1]:
            raise validation_error(f"`{sent[0][0]}` and `{name}` name the same filter with different accounts; "
                                   f"send one.")
    return sent[0][1] if sent else None


class TransactionHandlers(CountHandlers):
    @handles("listTransactions")
    def list_transactions(self, call: Call) -> Reply:
        ws, q = call.tenant, call.query
        if "transactionTypes" in q and "type" in q:
            raise validation_error("Send `transactionTypes` or `type`, not both.")
        page, limit = q.get("page", 1), q.get("limit", 25)
        types = q.get("transactionTypes", q.get("type"))
        wanted_types = {wire.TYPE_NAMES[t.lower()] for t in ([types] if isinstance(types, str) else types or [])}
        account = _account_filter(q)
        tags = set(q.get("tagUuids") or ())
        search = (q.get("search") or "").lower()
        checks: list[Callable[[Any], bool]] = []  # excluded transactions are not in the indexes read
        if "categoryAccountUuid" in q:
            checks.append(lambda t: t.category_account_id == q["categoryAccountUuid"])
        for key in ("vendorUuid", "customerUuid", "projectUuid"):
            if key in q:
                checks.append(lambda t, key=key: t.attrs.get(key) == q[key])
        if tags:
            checks.append(lambda t: bool(tags.intersection(t.attrs.get("tagUuids") or ())))
        if wanted_types:
            checks.append(lambda t: wire.TYPE_OF_FLOW[t.flow] in wanted_types)
        for flag in ("reviewed", "reconciled"):
            if flag in q:
                checks.append(lambda t, flag=flag: bool(t.attrs.get(flag)) == q[flag])
        if search:
            checks.append(lambda t: search in (t.description or "").lower()
                          or search in (t.attrs.get("notes") or "").lower())
        transactions, total = ws.book.transactions_page(
            start=q.get("startDate"), end=q.get("endDate"),
            match=checks[0] if len(checks) == 1 else (lambda t: all(check(t) for check in checks)) if checks
            else None, offset=(page - 1) * limit, limit=limit,
            **({"index": "listed account", "prefix": (account,)} if account else {"index": "listed"}))
        return success(200, {"transactions": [wire.transaction_out(t) for t in transactions],
                             "totalRecords": total, "page": page, "limit": limit}, "Transactions fetched.")

    @handles("getTransaction")
    def get_transaction(self, call: Call) -> Reply:
        transaction = call.tenant.book.transaction(self._id(call, "Transaction"))
        return success(200, wire.transaction_out(transaction), "Transaction fetched.")

    @handles("createTransaction")
    def create_transaction(self, call: Call) -> Reply:
        _warn_aliases(call, call.body)
        return success(201, wire.transaction_out(self._create_transaction(call.tenant, call.body)),
                       "Transaction created.")

    @handles("bulkCreateTransactions")
    def bulk_create_transactions(self, call: Call) -> Reply:
        for index, row in enumerate(call.body["transactions"]):  # every row's, before the first is created
            if isinstance(row, Mapping):
                _warn_aliases(call, row, f"transactions/{index}/")
        return self._bulk(call, "transactions", "transaction", "createTransaction",
                          lambda row: wire.transaction_out(self._create_transaction(call.tenant, row)))

    def _create_transaction(self, ws: Workspace, body: Mapping[str, Any]) -> Any:
        fields = load(wire.TransactionIn, body)
        book = ws.book
        with ws.lock:
            account = self._account_ref(ws, fields["account_id"], "accUuid")
            if SUB_TYPES[account.attrs["subTypeId"]].anchor_tier != PHYSICAL:
                raise validation_error("`accUuid` must be a bank, card or cash account.")
            category_id = fields.get("category_account_id")
            category = self._account_ref(ws, category_id, "categoryAccountUuid") if category_id else None
            self._check_party_refs(ws, fields)
            kind = fields.get("type") or self._inferred_type(category)
            return book.add_transaction(account_id=account.id, amount=fields["amount"],
                                        flow=wire.FLOW_OF_TYPE[kind], on=fields["on"],
                                        category_account_id=category_id, description=fields.get("description"),
                                        attrs=transaction_attrs(fields, book.currency))

    @staticmethod
    def _inferred_type(category: Any) -> str:
        """D22: an income category means income, a bank/card category a transfer, anything else an expense."""
        if category is None:
            return "Expense"
        if SUB_TYPES[category.attrs["subTypeId"]].anchor_tier == PHYSICAL:
            return "Transfer"
        return "Income" if SUB_TYPES[category.attrs["subTypeId"]].type == "Income" else "Expense"

    @handles("updateTransaction")
    def update_transaction(self, call: Call) -> Reply:
        ws, body = call.tenant, call.body
        sent = next((k for k in ("categoryAccountUuid", "categoryAccountId") if k in body), None)
        if sent is not None:
            raise validation_error(f"`{sent}` cannot be changed here; use PATCH /transactions/{{id}}/change-category.")
        fields = load(wire.TransactionPatch, body, partial=True)
        if not fields:
            raise validation_error(f"Send at least one of {', '.join(f'`{f}`' for f in TRANSACTION_PATCH_FIELDS)}.")
        warnings = [{"field": key, "reason": "internal_only", "message": f"`{key}` is managed by COUNT and was ignored."}
                    if key in WARN_INTERNAL else
                    {"field": key, "reason": "unknown_field", "message": f"`{key}` is not a known field and was ignored."}
                    for key in (*call.ignored, *body) if key not in TRANSACTION_PATCH_FIELDS and "/" not in key]
        if body.get("postedDate") is not None and body.get("date") not in (None, body["postedDate"]):
            warnings.append({"field": "date", "reason": "unknown_field",
                             "message": "`date` was ignored: `postedDate` was sent too, and wins."})
        with ws.lock:
            transaction = self._own_transaction(ws, call)
            if transaction.attrs.get("reconciled") and {"amount", "on", "type"} & set(fields):
                raise NotEditable("Transaction is reconciled: its amount, date and type are locked.")
            if fields.get("reviewed") and transaction.category_account_id is None:
                raise NotEditable(UNCATEGORISED_REVIEW)
            if fields.get("excluded") and not transaction.attrs.get("excluded"):
                for flag in EXCLUDE_BLOCKERS:
                    if transaction.attrs.get(flag):
                        raise NotEditable(f"Transaction is {flag} and cannot be excluded.")
            self._check_party_refs(ws, fields)
            attrs = dict(transaction.attrs)
            attrs.update({k: (tuple(v or ()) if k == "tagUuids" else v) for k, v in fields.items()
                          if k in ("vendorUuid", "customerUuid", "projectUuid", "tagUuids", "notes", "authorizedDate",
                                   "reviewed", "excluded")})
            changes: dict[str, Any] = {"attrs": attrs}
            for key in ("amount", "description"):
                if key in fields:
                    changes[key] = fields[key]
            if "on" in fields:
                changes["date"] = fields["on"]
            if "type" in fields:
                changes["flow"] = wire.FLOW_OF_TYPE[fields["type"]]
            updated = ws.book.update_transaction(transaction.id, **changes)
        out = wire.transaction_out(updated)
        if warnings:
            out["_partnerWarnings"] = warnings
        return success(200, out, "Transaction updated.")

    @handles("changeTransactionCategory")
    def change_transaction_category(self, call: Call) -> Reply:
        ws, body = call.tenant, call.body
        with ws.lock:
            transaction = self._own_transaction(ws, call)
            for flag in ("reviewed", "reconciled", "pending"):
                if transaction.attrs.get(flag):
                    raise NotEditable(f"Transaction is {flag}: its category cannot change.")
            category_id = body["categoryAccountUuid"]
            if category_id is not None:
                self._account_ref(ws, category_id, "categoryAccountUuid")
            attrs = dict(transaction.attrs)
            if "notes" in body:
                attrs["notes"] = body["notes"]
            if body.get("autoReview"):
                if category_id is None:
                    raise NotEditable(UNCATEGORISED_REVIEW)
                attrs["reviewed"] = True
            updated = ws.book.update_transaction(transaction.id, category_account_id=category_id, attrs=attrs)
        return success(200, wire.transaction_out(updated), "Transaction category changed.")

    @handles("deleteTransaction")
    def delete_transaction(self, call: Call) -> Reply:
        ws = call.tenant
        with ws.lock:
            transaction = self._own_transaction(ws, call)
            if transaction.attrs.get("reconciled"):
                raise NotEditable("Transaction is reconciled and cannot be deleted.")
            ws.book.delete_transaction(transaction.id)
        return success(200, {"id": transaction.id}, "Transaction deleted.")

    def _own_transaction(self, ws: Workspace, call: Call) -> Any:
        """The transaction at `{id}`, unless a journal entry made it: that one changes through its entry."""
        transaction = ws.book.transaction(self._id(call, "Transaction"))
        if transaction.attrs.get("journalEntryId"):
            raise NotEditable(f"Transaction comes from journal entry {transaction.attrs['journalEntryId']}; "
                              f"change or delete the journal entry instead.")
        return transaction

    def _check_party_refs(self, ws: Workspace, fields: Mapping[str, Any]) -> None:
        if fields.get("vendorUuid") is not None and fields["vendorUuid"] not in ws.vendors:
            raise UnknownReference("Vendor not found.")
        if fields.get("customerUuid") is not None and fields["customerUuid"] not in ws.customers:
            raise UnknownReference("Customer not found.")
        if fields.get("projectUuid") is not None:
            raise UnknownReference(f"Project not found: `projectUuid` {excerpt(str(fields['projectUuid']))} "
                                   f"(projects are not served by ledger-mock, D14).")
        for tag in fields.get("tagUuids") or ():
            if tag not in ws.tags:
                raise UnknownReference(f"Tag not found: {tag}.")
