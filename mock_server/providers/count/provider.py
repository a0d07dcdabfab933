"""COUNT's partner API: HMAC + OAuth bearer auth, COUNT's envelopes, and one handler per spec operation."""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlencode, urlsplit

from ...auth import hmac_signing
from ...auth.oauth import GrantInvalid, TokenExpired, TokenInvalid
from ...errors import ApiError, excerpt, validation_error
from ...ledger import DeleteBlocked, Duplicate, LedgerError, NotEditable, NotFound, UnknownReference
from .. import Call, Provider, Reply, Runtime, Tenant, handles
from ..marshal import load
from . import wire
from .catalog import CATEGORY, PHYSICAL, SUB_TYPES
from .state import CountState, Workspace, make_account, transaction_attrs

log = logging.getLogger("ledger_mock.count")

SKEW_SECONDS = 300
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# COUNT's own `error` strings where they differ from the mock's neutral codes (dossier section 8).
ERROR_NAMES = {"invalid_signature": "Invalid HMAC signature", "bad_request": "validation_error",
               "invalid_amount": "validation_error", "invalid_entry": "validation_error",
               "invalid_transition": "validation_error"}
# Errors the mock raises with a neutral name for a status COUNT documents its own name for (faults forced by the
# operator, the mock's own 503): dossier section 8 documents only `internal_error` for 5xx, `invalid_token` as the
# 401 a client refreshes on (D12), no 409 (`duplicate` is its clash-with-existing-data name) and no 422.
STATUS_NAMES = {"unauthorized": "invalid_token", "conflict": "duplicate", "unprocessable": "validation_error",
                "bad_gateway": "internal_error", "service_unavailable": "internal_error",
                "gateway_timeout": "internal_error"}
WARN_INTERNAL = ("billId", "linkedTransferTransactionId", "providerTransactionId")
# D18: a transaction field and its aliases, in the order they win (the first sent is used).
TRANSACTION_ALIASES = (("accUuid", "accountUuid", "accountId"), ("categoryAccountUuid", "categoryAccountId"),
                       ("postedDate", "date"))
TRANSACTION_PATCH_FIELDS = ("vendorUuid", "customerUuid", "projectUuid", "tagUuids", "description", "notes",
                            "amount", "postedDate", "authorizedDate")


def unauthorized(code: str, message: str, hint: str | None = None) -> ApiError:
    # The hint header tells a person why a signature failed without changing COUNT's body.
    # Header values must be one line of Latin-1, and a hint may quote a path with any characters in it.
    safe = hint.encode("unicode_escape").decode("ascii") if hint else None
    return ApiError(401, code, message, headers={"X-Ledger-Mock-Hint": safe} if safe else None)


def _error_name(error: ApiError) -> str:
    """COUNT's `error` for `error`: its own name, or for a status it names otherwise the name it uses there; a
    status COUNT never sends (an operator's fault) gets `validation_error` (4xx) or `internal_error` (5xx)."""
    if error.code == "error":
        return "internal_error" if error.status >= 500 else "validation_error"
    return STATUS_NAMES.get(error.code) or ERROR_NAMES.get(error.code, error.code)


def _warn_aliases(call: Call, body: Mapping[str, Any], prefix: str = "") -> None:
    """D18: of a field and its aliases the first sent wins; another one sent with a different value is ignored,
    and said so (before anything is written)."""
    for names in TRANSACTION_ALIASES:
        sent = [(name, body[name]) for name in names if body.get(name) is not None]
        for name, value in sent[1:]:
            if value != sent[0][1]:
                call.warn(f"body field `{prefix}{name}` was ignored: `{prefix}{sent[0][0]}` was sent too, and wins")


def _warn_vendor_alias(call: Call, body: Mapping[str, Any]) -> None:
    if body.get("name") is not None and body.get("vendor") not in (None, body["name"]):
        call.warn("body field `vendor` was ignored: `name` was sent too, and wins")


def _account_filter(query: Mapping[str, Any]) -> str | None:
    """The transaction list's account filter: `accUuid` (COUNT's code), `accountUuid`, or the seed's `accountId`;
    two of them with different values is a 400 naming both (a list filtered by a guess would look right)."""
    sent = [(name, query[name]) for name in ("accUuid", "accountUuid", "accountId") if query.get(name)]
    for name, value in sent[1:]:
        if value != sent[0][1]:
            raise validation_error(f"`{sent[0][0]}` and `{name}` name the same filter with different accounts; "
                                   f"send one.")
    return sent[0][1] if sent else None


def success(status: int, data: Any, message: str) -> Reply:
    return status, {"status": "success", "message": message, "data": data}


class CountProvider(Provider):
    name = "count"
    spec_file = "count.yaml"

    def __init__(self, runtime: Runtime, fixtures: Mapping[str, Any]):
        super().__init__(runtime, fixtures)
        self.state = CountState(runtime.clock, runtime.ids, fixtures, rate_limiting=runtime.config.rate_limiting)

    # -- auth ---------------------------------------------------------------------------------------------

    def authenticate(self, call: Call) -> None:
        schemes = call.operation.security_schemes
        if not schemes:
            return
        headers = call.request.headers
        client_id, stamp, signature = (headers.get(h) for h in ("x-client-id", "x-timestamp", "x-signature"))
        if not (client_id and stamp and signature):
            raise unauthorized("missing_credentials", "Missing credentials.",
                               "send x-client-id, x-timestamp and x-signature")
        client = self.state.clients.get(client_id)
        if client is None:
            raise unauthorized("invalid_signature", "Invalid HMAC signature.", "unknown x-client-id")
        if self.state.rate_limiter is not None and not call.replaying:  # a recorded change was within limits
            wait = self.state.rate_limiter.hit(client_id)
            if wait is not None:
                raise ApiError(429, "rate_limited", "Rate limit exceeded.", headers={"Retry-After": str(wait)})
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 13):
            raise unauthorized("invalid_signature", "Invalid HMAC signature.",
                               "x-timestamp must be Unix time in seconds or milliseconds (digits only)")
        seconds = int(stamp) / 1000 if int(stamp) > 10**12 else int(stamp)
        if abs(seconds - self.clock.timestamp()) > SKEW_SECONDS:
            raise unauthorized("invalid_signature", "Invalid HMAC signature.",
                               f"x-timestamp is more than {SKEW_SECONDS}s away from the server clock")
        # The path as sent (what a JavaScript client signs: `new URL(...).pathname`), then the decoded one.
        paths = (hmac_signing.wire_path(call.request.environ), call.request.path)
        if not hmac_signing.verify(client.secret, call.request.method, paths, stamp, call.raw_body, signature):
            method, body = call.request.method, call.raw_body
            expected = [hmac_signing.expected_base(method, path, stamp, body)
                        for path in hmac_signing.candidate_paths(paths)]
            hint = f"expected HMAC over {expected[0]}"
            if len(expected) > 1:
                hint += f" (or, with the path decoded, {expected[1]})"
            raise unauthorized("invalid_signature", "Invalid HMAC signature.", hint)
        call.principal = client
        if "bearer" not in schemes:
            return
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("missing_credentials", "Missing credentials.", "send Authorization: Bearer <token>")
        try:
            pair = self.state.tokens.access(token.strip(), client_id)
        except TokenExpired:
            raise unauthorized("token_expired", "The access token expired") from None
        except TokenInvalid:
            raise unauthorized("invalid_token", "The access token is invalid") from None
        call.tenant = self.state.workspaces[pair.tenant_id]

    def who(self, call: Call) -> dict[str, Any]:
        return {"client": getattr(call.principal, "id", None), "workspace": getattr(call.tenant, "id", None)}

    def assume(self, call: Call, who: dict[str, Any]) -> None:
        try:
            call.principal = None if who.get("client") is None else self.state.clients[who["client"]]
            call.tenant = None if who.get("workspace") is None else self.state.workspaces[who["workspace"]]
        except KeyError as missing:
            raise unauthorized("invalid_token", f"The recorded caller {missing} no longer exists") from None

    def render_error(self, error: ApiError, request_id: str, path: str) -> dict[str, Any]:
        """COUNT's envelope; a request with several problems gets them all in its one `message` (COUNT has no
        `errors[]`: section 8 and the spec's Error schema)."""
        name = _error_name(error)
        message = " ".join(p.message for p in error.problems) if error.problems else error.message
        body = {"status": "error", "statusCode": error.status, "error": name,
                "message": message, "isOperational": True, "requestId": request_id}
        if name in ("invalid_token", "token_expired"):
            body["error_description"] = error.message
        if name == "rate_limited":
            body["type"] = "RATE_LIMITED"
        return body

    def ledger_error(self, error: LedgerError) -> ApiError:
        return ApiError(404 if isinstance(error, NotFound) else 400, error.code, error.message)

    def credentials(self, base_url: str) -> dict[str, Any]:
        return self._credentials(base_url, self.state.fixture_tokens[0])

    def _credentials(self, base_url: str, pair: Any) -> dict[str, Any]:
        client = self.state.clients[pair.client_id]
        return {"provider": self.name, "base_url": f"{base_url}/partners", "auth_base_url": f"{base_url}/auth2",
                "client_id": client.id, "client_secret": client.secret, "access_token": pair.access_token,
                "refresh_token": pair.refresh_token, "workspace_id": pair.tenant_id}

    def tenants(self) -> list[Tenant]:
        return [Tenant(w.id, w.name, w.book) for w in list(self.state.workspaces.values())]

    def create_tenant(self, base_url: str, name: str | None = None) -> dict[str, Any]:
        pair = self.state.new_tenant(name)
        return {**self._credentials(base_url, pair), "tenant": pair.tenant_id}

    # -- OAuth ----------------------------------------------------------------------------------------------

    @handles("initiateAuthorization")
    def initiate_authorization(self, call: Call) -> Reply:
        q = call.query
        client = self.state.clients.get(q["clientId"])
        if client is None:
            raise ApiError(400, "invalid_request", "Unknown clientId.")
        if q["redirectUri"] not in client.redirect_uris:
            raise ApiError(400, "invalid_request", "Invalid redirectUri.")
        # No consent screen: the simulated user approves at once, for the client's own workspace (D8).
        code = self.state.tokens.issue_code(client.id, client.workspace_id, q["redirectUri"])
        self.state.code_states[code] = q["state"]  # D9: a grant that sends `state` must send this one
        joiner = "&" if urlsplit(q["redirectUri"]).query else "?"
        callback = q["redirectUri"] + joiner + urlencode({"code": code, "state": q["state"]})
        return success(200, {"redirectUri": callback}, "Authorization initiated.")

    @handles("initiateAuthorizationAlias")
    def initiate_authorization_alias(self, call: Call) -> Reply:
        return self.initiate_authorization(call)

    @handles("grantAccessToken")
    def grant_access_token(self, call: Call) -> Reply:
        body, client = call.body, call.principal
        self._check_client_fields(body, client)
        issued_with = self.state.code_states.get(str(body["code"]))
        if body.get("state") is not None and issued_with is not None and body["state"] != issued_with:
            raise ApiError(400, "invalid_grant", "`state` does not match the one sent to authorize-initiate.")
        try:
            pair = self.state.tokens.redeem_code(str(body["code"]), client.id)
        except GrantInvalid as exc:
            raise ApiError(400, "invalid_grant", str(exc)) from None
        return success(200, {"result": self._token_result(pair)}, "Access token granted.")

    @handles("refreshUserAccessToken")
    def refresh_user_access_token(self, call: Call) -> Reply:
        body, client = call.body or {}, call.principal
        self._check_client_fields(body, client)
        token = body.get("refreshToken") or body.get("refresh_token")
        if body.get("refreshToken") and body.get("refresh_token") not in (None, "", token):
            call.warn("body field `refresh_token` was ignored: `refreshToken` was sent too, and wins")
        if not token:
            raise validation_error("`refreshToken` is required.")
        try:
            pair = self.state.tokens.refresh(str(token), client.id)
        except GrantInvalid as exc:
            raise ApiError(400, "invalid_grant", str(exc)) from None
        return success(200, {"result": self._token_result(pair)}, "Access token refreshed.")

    @staticmethod
    def _check_client_fields(body: Mapping[str, Any], client: Any) -> None:
        """D9: `client_id`/`client_secret` are optional, but must be the signing client's when sent."""
        if body.get("client_id") not in (None, client.id) or body.get("client_secret") not in (None, client.secret):
            raise ApiError(400, "invalid_grant", "client_id or client_secret does not match the signing client.")

    def _token_result(self, pair: Any) -> dict[str, Any]:
        workspace = self.state.workspaces[pair.tenant_id]
        return {"accessToken": pair.access_token, "refreshToken": pair.refresh_token,
                "accessTokenExpiresAt": wire.timestamp(pair.access_expires_at),
                "refreshTokenExpiresAt": wire.timestamp(pair.refresh_expires_at),
                "workspaceId": workspace.id, "workspaceName": workspace.name}

    # -- journal entries ------------------------------------------------------------------------------------

    @handles("listJournalEntries")
    def list_journal_entries(self, call: Call) -> Reply:
        ws, q = call.tenant, call.query
        page, limit = q.get("page", 1), q.get("limit", 25)
        search = (q.get("search") or "").lower()

        def match(entry: Any) -> bool:
            return search in entry.memo.lower() or search in (entry.reference or "").lower() or any(
                search in (line.memo or "").lower() for line in entry.lines)
        entries, total = ws.book.entries_page(start=q.get("startDate"), end=q.get("endDate"),
                                              match=match if search else None,
                                              offset=(page - 1) * limit, limit=limit)
        version = ws.book.accounts_version  # lines show their account's name
        encoded = [ws.wire.encoded(e.id, e, version, lambda e=e: wire.entry_out(e, ws.book)) for e in entries]
        return success(200, {"journalEntries": encoded, "totalRecords": total, "page": page, "limit": limit},
                       "Journal entries fetched.")

    @handles("createJournalEntry")
    def create_journal_entry(self, call: Call) -> Reply:
        entry = self._create_entry(call.tenant, call.body)
        return success(201, wire.entry_out(entry, call.tenant.book), "Journal entry created.")

    @handles("bulkCreateJournalEntries")
    def bulk_create_journal_entries(self, call: Call) -> Reply:
        return self._bulk(call, "journalEntries", "journalEntry", "createJournalEntry",
                          lambda row: [wire.line_out(line, entry, call.tenant.book)
                                       for entry in [self._create_entry(call.tenant, row)] for line in entry.lines])

    def _create_entry(self, ws: Workspace, body: Mapping[str, Any]) -> Any:
        fields = load(wire.EntryIn, body)
        caution = bool(fields.get("with_caution"))
        return ws.book.add_entry(on=fields["on"], memo=fields["memo"], lines=wire.new_lines(fields["lines"]),
                                 reference=fields.get("reference"), attrs=wire.entry_attrs(fields),
                                 allow_closed_period=caution)

    @handles("updateJournalEntry")
    def update_journal_entry(self, call: Call) -> Reply:
        ws = call.tenant
        fields = load(wire.EntryIn, call.body, partial=True)
        if not fields:
            raise validation_error("Send at least one of `descriptionEntry`, `date`, `refNumber`, `withCaution`, "
                                   "`lines`.")
        with ws.lock:
            entry = ws.book.entry(self._id(call, "Journal entry"))
            if not entry.editable:
                raise NotEditable("Journal entry is not editable.")
            caution = fields.get("with_caution")
            caution = bool(entry.attrs.get("withCaution")) if caution is None else caution
            changes: dict[str, Any] = {"attrs": {**entry.attrs, "withCaution": caution}}
            if "on" in fields:
                changes["on"] = fields["on"]
            if "memo" in fields:
                if fields["memo"] is None:
                    raise validation_error("`descriptionEntry` cannot be null.")
                changes["memo"] = fields["memo"]
            if "reference" in fields:
                changes["reference"] = fields["reference"]
            if "lines" in fields:
                if fields["lines"] is None:
                    raise validation_error("`lines` cannot be null.")
                changes["lines"] = wire.new_lines(fields["lines"])
            updated = ws.book.update_entry(entry.id, allow_closed_period=caution, **changes)
        return success(200, wire.entry_out(updated, ws.book), "Journal entry updated.")

    @handles("deleteJournalEntry")
    def delete_journal_entry(self, call: Call) -> Reply:
        ws = call.tenant
        with ws.lock:
            entry = ws.book.entry(self._id(call, "Journal entry"))
            if not entry.editable:
                raise NotEditable("Journal entry is not editable.")
            ws.book.delete_entry(entry.id, allow_closed_period=bool(entry.attrs.get("withCaution")))
        return success(200, {"id": entry.id}, "Journal entry deleted.")

    # -- transactions ---------------------------------------------------------------------------------------

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
        checks: list[Callable[[Any], bool]] = [lambda t: not t.attrs.get("excluded")]
        if account:
            checks.append(lambda t: t.account_id == account)
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
            start=q.get("startDate"), end=q.get("endDate"), match=lambda t: all(check(t) for check in checks),
            offset=(page - 1) * limit, limit=limit)
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
        with ws.lock:
            transaction = ws.book.transaction(self._id(call, "Transaction"))
            if transaction.attrs.get("reconciled") and ("amount" in fields or "on" in fields):
                raise NotEditable("Transaction is reconciled: its amount and date are locked.")
            self._check_party_refs(ws, fields)
            attrs = dict(transaction.attrs)
            attrs.update({k: (tuple(v or ()) if k == "tagUuids" else v) for k, v in fields.items()
                          if k in ("vendorUuid", "customerUuid", "projectUuid", "tagUuids", "notes", "authorizedDate")})
            changes: dict[str, Any] = {"attrs": attrs}
            for key in ("amount", "description"):
                if key in fields:
                    changes[key] = fields[key]
            if "on" in fields:
                changes["date"] = fields["on"]
            updated = ws.book.update_transaction(transaction.id, **changes)
        out = wire.transaction_out(updated)
        if warnings:
            out["_partnerWarnings"] = warnings
        return success(200, out, "Transaction updated.")

    @handles("changeTransactionCategory")
    def change_transaction_category(self, call: Call) -> Reply:
        ws, body = call.tenant, call.body
        with ws.lock:
            transaction = ws.book.transaction(self._id(call, "Transaction"))
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
                attrs["reviewed"] = True
            updated = ws.book.update_transaction(transaction.id, category_account_id=category_id, attrs=attrs)
        return success(200, wire.transaction_out(updated), "Transaction category changed.")

    @handles("deleteTransaction")
    def delete_transaction(self, call: Call) -> Reply:
        ws = call.tenant
        with ws.lock:
            transaction = ws.book.transaction(self._id(call, "Transaction"))
            if transaction.attrs.get("reconciled"):
                raise NotEditable("Transaction is reconciled and cannot be deleted.")
            ws.book.delete_transaction(transaction.id)
        return success(200, {"id": transaction.id}, "Transaction deleted.")

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

    @staticmethod
    def _account_ref(ws: Workspace, account_id: str, field: str) -> Any:
        try:
            return ws.book.usable_account(account_id)
        except UnknownReference:
            raise UnknownReference(f"Account not found: `{field}` {account_id}.") from None

    # -- chart of accounts ----------------------------------------------------------------------------------

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

    # -- vendors, customers, tags ---------------------------------------------------------------------------

    @handles("listVendors")
    def list_vendors(self, call: Call) -> Reply:
        return self._list_directory(call, "vendors", "name", lambda r, s: s in r["name"].lower()
                                    or s in (r.get("email") or "").lower())

    @handles("createVendor")
    def create_vendor(self, call: Call) -> Reply:
        body = call.body
        name = body.get("name") or body.get("vendor")
        if not name:
            raise validation_error("`name` is required.")
        _warn_vendor_alias(call, body)
        record = self._add(call.tenant.vendors, {"name": name, "email": body.get("email")})
        return success(201, self._vendor_out(record), "Vendor created.")

    @handles("updateVendor")
    def update_vendor(self, call: Call) -> Reply:
        _warn_vendor_alias(call, call.body)
        if call.body.get("name") is None and call.body.get("vendor") is not None:  # the alias, as on create
            call.body = {**call.body, "name": call.body["vendor"]}
        record = self._update(call, "vendors", "Vendor", ("name", "email"))
        return success(200, self._vendor_out(record), "Vendor updated.")

    @handles("deleteVendor")
    def delete_vendor(self, call: Call) -> Reply:
        return self._delete_party(call, "vendors", "Vendor", "vendorUuid")

    @handles("listCustomers")
    def list_customers(self, call: Call) -> Reply:
        return self._list_directory(call, "customers", "customer", lambda r, s: s in r["customer"].lower()
                                    or s in (r.get("email") or "").lower())

    @handles("createCustomer")
    def create_customer(self, call: Call) -> Reply:
        ws = call.tenant
        with ws.lock:
            self._check_customer_email(ws, call.body.get("email"), None)
            record = self._add(ws.customers, self._customer_fields(call.body))
        return success(201, self._customer_out(record), "Customer created.")

    @handles("getCustomer")
    def get_customer(self, call: Call) -> Reply:
        return success(200, self._customer_out(self._record(call, "customers", "Customer")), "Customer fetched.")

    @handles("updateCustomer")
    def update_customer(self, call: Call) -> Reply:
        ws = call.tenant
        with ws.lock:
            record = self._record(call, "customers", "Customer")
            self._check_customer_email(ws, call.body.get("email"), record["id"])
            changes = {k: v for k, v in self._customer_fields(call.body).items() if k in call.body}
            record = {**record, **changes, "updatedAt": self.clock.now()}
            ws.customers[record["id"]] = record
        return success(200, self._customer_out(record), "Customer updated.")

    @handles("deleteCustomer")
    def delete_customer(self, call: Call) -> Reply:
        return self._delete_party(call, "customers", "Customer", "customerUuid")

    @handles("listTags")
    def list_tags(self, call: Call) -> Reply:
        return self._list_directory(call, "tags", "name", lambda r, s: r["name"].lower().startswith(s))

    @handles("createTag")
    def create_tag(self, call: Call) -> Reply:
        ws = call.tenant
        with ws.lock:
            self._check_tag_name(ws, call.body["name"], None)
            record = self._add(ws.tags, {"name": call.body["name"], "color": call.body.get("color")})
        return success(201, self._tag_out(record), "Tag created.")

    @handles("getTag")
    def get_tag(self, call: Call) -> Reply:
        return success(200, self._tag_out(self._record(call, "tags", "Tag")), "Tag fetched.")

    @handles("updateTag")
    def update_tag(self, call: Call) -> Reply:
        ws = call.tenant
        with ws.lock:
            if call.body.get("name") is not None:
                self._check_tag_name(ws, call.body["name"], self._id(call, "Tag"))
            record = self._update(call, "tags", "Tag", ("name", "color"))
        return success(200, self._tag_out(record), "Tag updated.")

    @handles("deleteTag")
    def delete_tag(self, call: Call) -> Reply:
        ws = call.tenant
        with ws.lock:
            record = self._record(call, "tags", "Tag")
            del ws.tags[record["id"]]
            for transaction in list(ws.book.transactions.values()):  # deleting a tag detaches it
                if record["id"] in (transaction.attrs.get("tagUuids") or ()):
                    tags = tuple(t for t in transaction.attrs["tagUuids"] if t != record["id"])
                    ws.book.update_transaction(transaction.id, attrs={**transaction.attrs, "tagUuids": tags})
        return success(200, {"id": record["id"]}, "Tag deleted.")

    # -- shared pieces --------------------------------------------------------------------------------------

    def _bulk(self, call: Call, list_key: str, row_key: str, single_operation: str,
              create: Callable[[Mapping[str, Any]], Any]) -> Reply:
        """Rows succeed or fail one by one, each with the single call's rules and message; always 201."""
        validate_row = self.spec.operations[single_operation].check_body
        results = []
        for index, row in enumerate(call.body[list_key]):
            try:
                validate_row(row)
                results.append({"index": index, "success": True, row_key: create(row)})
            except ApiError as error:
                results.append({"index": index, "success": False, "error": error.message})
            except LedgerError as error:
                results.append({"index": index, "success": False, "error": error.message})
        succeeded = sum(1 for r in results if r["success"])
        return success(201, {"successCount": succeeded, "errorCount": len(results) - succeeded,
                             "results": results}, f"{succeeded} of {len(results)} rows created.")

    def _list_directory(self, call: Call, kind: str, name_key: str,
                        matches: Callable[[Mapping[str, Any], str], bool]) -> Reply:
        ws, q = call.tenant, call.query
        page, limit = q.get("page", 1), q.get("limit", 25)
        search = (q.get("search") or "").lower()
        with ws.lock:
            records = [r for r in getattr(ws, kind).values() if not search or matches(r, search)]
        records.sort(key=lambda r: (r[name_key].lower(), r["id"]))
        out = getattr(self, f"_{kind[:-1]}_out")
        return success(200, {kind: [out(r) for r in records[(page - 1) * limit: page * limit]],
                             "totalRecords": len(records), "page": page, "limit": limit}, f"{kind.title()} fetched.")

    def _add(self, directory: dict[str, dict[str, Any]], fields: Mapping[str, Any]) -> dict[str, Any]:
        now = self.clock.now()
        record = {"id": self.ids.uuid(), **fields, "createdAt": now, "updatedAt": now}
        directory[record["id"]] = record
        return record

    def _record(self, call: Call, kind: str, label: str) -> dict[str, Any]:
        record = getattr(call.tenant, kind).get(self._id(call, label))
        if record is None:
            raise NotFound(f"{label} not found.")
        return record

    def _update(self, call: Call, kind: str, label: str, keys: Iterable[str]) -> dict[str, Any]:
        ws = call.tenant
        changes = {k: call.body[k] for k in keys if k in call.body}
        if not changes:
            raise validation_error(f"Send at least one of {', '.join(f'`{k}`' for k in keys)}.")
        if "name" in changes and not changes["name"]:
            raise validation_error("`name` cannot be empty.")
        with ws.lock:
            record = {**self._record(call, kind, label), **changes, "updatedAt": self.clock.now()}
            getattr(ws, kind)[record["id"]] = record
        return record

    def _delete_party(self, call: Call, kind: str, label: str, reference: str) -> Reply:
        ws = call.tenant
        with ws.lock:
            record = self._record(call, kind, label)
            if any(t.attrs.get(reference) == record["id"] for t in ws.book.transactions.values()):
                raise DeleteBlocked(f"Cannot delete: {label.lower()} is used by transactions.")
            del getattr(ws, kind)[record["id"]]
        return success(200, {"id": record["id"]}, f"{label} deleted.")

    @staticmethod
    def _id(call: Call, label: str) -> str:
        """Path ids that are not UUIDs cannot exist: 404, like an unknown one."""
        identifier = call.path["id"]
        if not UUID.match(identifier):
            raise NotFound(f"{label} not found.")
        return identifier

    @staticmethod
    def _customer_fields(body: Mapping[str, Any]) -> dict[str, Any]:
        keys = ("customer", "email", "mainPhone", "website", "notes", "paymentTerm", "taxNumber",
                "billingAddress", "shippingAddress")
        fields = {k: body.get(k) for k in keys}
        fields["status"] = body.get("status") or "active"
        fields["contacts"] = [{k: c.get(k) for k in ("name", "email", "phone")} for c in body.get("contacts") or ()]
        return fields

    @staticmethod
    def _check_customer_email(ws: Workspace, email: str | None, own_id: str | None) -> None:
        if email and any((r.get("email") or "").lower() == email.lower() and r["id"] != own_id
                         for r in ws.customers.values()):
            raise Duplicate("Customer email already exists.")

    @staticmethod
    def _check_tag_name(ws: Workspace, name: str, own_id: str | None) -> None:
        if any(r["name"].lower() == name.lower() and r["id"] != own_id for r in ws.tags.values()):
            raise Duplicate("Tag name already exists.")

    @staticmethod
    def _vendor_out(r: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": r["id"], "name": r["name"], "email": r.get("email"), "createdAt": wire.timestamp(r["createdAt"]),
                "updatedAt": wire.timestamp(r["updatedAt"])}

    @staticmethod
    def _tag_out(r: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": r["id"], "name": r["name"], "color": r.get("color"), "createdAt": wire.timestamp(r["createdAt"]),
                "updatedAt": wire.timestamp(r["updatedAt"])}

    @staticmethod
    def _customer_out(r: Mapping[str, Any]) -> dict[str, Any]:
        def address(value: Any) -> Any:
            keys = ("street", "city", "state", "zipCode", "country")
            return None if value is None else {k: value.get(k) for k in keys}
        return {"id": r["id"], "customer": r["customer"],
                **{k: r.get(k) for k in ("email", "mainPhone", "website", "notes", "paymentTerm", "taxNumber")},
                "status": r.get("status") or "active",
                "contacts": [{k: c.get(k) for k in ("name", "email", "phone")} for c in r.get("contacts") or ()],
                "billingAddress": address(r.get("billingAddress")), "shippingAddress": address(r.get("shippingAddress")),
                "createdAt": wire.timestamp(r["createdAt"]), "updatedAt": wire.timestamp(r["updatedAt"])}
