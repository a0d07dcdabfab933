"""COUNT's chart of accounts: list (D25: every row unless a limit is given), create (one or in bulk), update,
delete (blocked while used), and the account sub-type catalogue."""

from __future__ import annotations

from typing import Any, Mapping

from ...errors import ApiError, validation_error
from ...ledger import DeleteBlocked, Duplicate, UnknownReference
from .. import Call, Reply, handles
from ..marshal import load
from . import wire
from .catalog import CATEGORY, SUB_TYPES
from .common import CountHandlers, success
from .state import Workspace, make_account


class AccountHandlers(CountHandlers):
    @handles("listAccounts")
    def list_accounts(self, call: Call) -> Reply:
        ws, q = call.tenant, call.query
        search = (q.get("search") or "").lower()
        with ws.lock:
            accounts = [a for a in ws.book.accounts.values()
                        if (a.active or q.get("inactive"))
                        and ("type" not in q or SUB_TYPES[a.attrs["subTypeId"]].type == q["type"])
                        and ("subTypeId" not in q or a.attrs["subTypeId"] == q["subTypeId"])
                        and (not q.get("onlyCategoryAccounts")
                             or SUB_TYPES[a.attrs["subTypeId"]].anchor_tier == CATEGORY)
                        and (not search or search in a.name.lower() or search in (a.number or "").lower())]
            accounts.sort(key=lambda a: (a.number is None, a.number or "", a.name, a.id))
            page = q.get("page", 1)
            limit = q.get("limit") or max(len(accounts), 1)  # D25: all rows when no limit is given
            rows = [wire.account_out(a, ws.book, delete_meta=bool(q.get("includeDeleteMeta")),
                                     balances=bool(q.get("includeBalances")))
                    for a in accounts[(page - 1) * limit: page * limit]]
        return success(200, {"accounts": rows, "totalRecords": len(accounts), "page": page, "limit": limit},
                       "Accounts fetched.")

    @handles("createAccount")
    def create_account(self, call: Call) -> Reply:
        account = self._create_account(call.tenant, call.body)
        return success(201, wire.account_out(account, call.tenant.book), "Account created.")

    @handles("bulkCreateAccounts")
    def bulk_create_accounts(self, call: Call) -> Reply:
        return self._bulk(call, "accounts", "account", "createAccount",
                          lambda row: wire.account_out(self._create_account(call.tenant, row), call.tenant.book))

    def _create_account(self, ws: Workspace, body: Mapping[str, Any]) -> Any:
        fields = load(wire.AccountIn, body)
        self._check_account_fields(fields)
        with ws.lock:
            self._check_number_free(ws, fields.get("number"))
            return ws.book.add_account(make_account(self.ids.uuid(), fields, ws.book.currency, self.clock.now()))

    @handles("updateAccount")
    def update_account(self, call: Call) -> Reply:
        ws = call.tenant
        fields = load(wire.AccountIn, call.body, partial=True)
        if not fields:
            raise validation_error("Send at least one field to update.")
        self._check_account_fields(fields)
        with ws.lock:
            account = ws.book.account(self._id(call, "Account"))
            if account.system:
                raise ApiError(403, "forbidden", "System account is protected.")
            changes: dict[str, Any] = {}
            attrs = dict(account.attrs)
            if "sub_type_id" in fields:
                if SUB_TYPES[fields["sub_type_id"]].type != SUB_TYPES[account.attrs["subTypeId"]].type:
                    raise validation_error("`subTypeId` can only change within the same account type.")
                attrs["subTypeId"] = fields["sub_type_id"]
            if "name" in fields:
                if not fields["name"]:
                    raise validation_error("`name` cannot be empty.")
                changes["name"] = fields["name"]
            if "number" in fields:
                if fields["number"] != account.number:
                    self._check_number_free(ws, fields["number"])
                changes["number"] = fields["number"]
            if fields.get("currency"):
                changes["currency"] = fields["currency"]
            if "status" in fields:
                changes["active"] = fields["status"] != "inactive"
            for key in ("description", "color", "institutionId"):
                if key in fields:
                    attrs[key] = fields[key]
            if "taxes" in fields:
                attrs["taxes"] = tuple(fields["taxes"] or ())
            updated = ws.book.update_account(account.id, attrs=attrs, **changes)
        return success(200, wire.account_out(updated, ws.book), "Account updated.")

    @handles("deleteAccount")
    def delete_account(self, call: Call) -> Reply:
        ws = call.tenant
        with ws.lock:
            account = ws.book.account(self._id(call, "Account"))
            if account.system:
                raise ApiError(403, "forbidden", "System account is protected.")
            reason = wire.delete_blocked_reason(account, ws.book)
            if reason:
                raise DeleteBlocked(f"Cannot delete: {reason}. Set `status` to `inactive` instead.")
            ws.book.remove_account(account.id)
        return success(200, {"id": account.id}, "Account deleted.")

    @staticmethod
    def _check_account_fields(fields: Mapping[str, Any]) -> None:
        if "sub_type_id" in fields and fields["sub_type_id"] not in SUB_TYPES:
            raise UnknownReference("Account sub type not found.")
        if fields.get("parentAccountId") is not None:
            raise validation_error("`parentAccountId` is not supported: sub-accounts are not available.")

    @staticmethod
    def _check_number_free(ws: Workspace, number: str | None) -> None:
        if number and any(a.number == number for a in ws.book.accounts.values()):
            raise Duplicate(f"Account number {number} already exists.")

    @handles("listAccountSubTypes")
    def list_account_sub_types(self, call: Call) -> Reply:
        rows = [wire.sub_type_out(s.id) for s in SUB_TYPES.values()
                if "type" not in call.query or s.type == call.query["type"]]
        return success(200, {"subTypes": rows, "totalRecords": len(rows)}, "Account sub types fetched.")
