"""Sage Intacct REST API: OAuth2 bearer tokens per company, `ia::result`/`ia::meta` envelopes, `ia::error`
bodies, journal entries with their workflows on the shared ledger, and the query service."""

from __future__ import annotations

import re
from operator import attrgetter
from typing import Any, Callable, Mapping, Sequence


from ...auth.oauth import GrantInvalid, TokenExpired, TokenInvalid
from ...errors import ApiError, Problem, excerpt
from ...idempotency import KeyInFlight, KeyReused, fingerprint
from ...ledger import (InvalidAmount, InvalidEntry, InvalidTransition, JournalEntry, LedgerError, NotFound,
                       Unbalanced, UnknownReference)
from .. import Call, FixturesLack, Provider, Reply, Runtime, Tenant, handles
from . import ignored, rules, wire
from .query import Indexed, LinesOf, QueryError, run_query
from .state import Client, IntacctState, parse_username, to_date

TOKEN_PATH = "/oauth2/token"
IDEMPOTENT = frozenset({"createJournalEntry", "submitJournalEntry", "approveJournalEntry", "declineJournalEntry",
                        "recallJournalEntry", "reverseJournalEntry", "reclassifyJournalEntry"})
PATH_OBJECTS = {"getJournalEntry": "entry", "updateJournalEntry": "entry", "deleteJournalEntry": "entry",
                "getAccount": "account", "getJournal": "journal"}
# neutral or provider code -> (Intacct `code`, errorId, messageId); GL-xxxx and REST-12xx codes pass through.
ERRORS = {
    "payload_required": ("invalidRequest", "REST-1028", "IA.REQUEST_REQUIRES_A_PAYLOAD"),
    "malformed_json": ("invalidRequest", "REST-1029", "IA.INVALID_JSON"),
    "validation_error": ("invalidRequest", "REST-1064", "IA.PAYLOAD_CONTAINS_ERRORS"),
    "not_found": ("notFound", "REST-1100", "IA.NOT_FOUND"),
    "method_not_allowed": ("methodNotAllowed", "REST-1105", "IA.METHOD_NOT_ALLOWED"),
    "unauthorized": ("unauthorized", "REST-2101", "IA.AUTHORIZATION_REQUIRED"),
    "token_invalid": ("tokenInvalid", "REST-2102", "IA.TOKEN_IS_INVALID"),
    "conflict": ("conflict", "REST-1409", "IA.IDEMPOTENCY_KEY_REUSED"),
    "payload_too_large": ("invalidRequest", "REST-1413", "IA.PAYLOAD_TOO_LARGE"),
    "unsupported_media_type": ("invalidRequest", "REST-1415", "IA.UNSUPPORTED_MEDIA_TYPE"),
    "internal_error": ("internalError", "REST-1500", "IA.INTERNAL_ERROR"),
    # Statuses an operator's fault (or the mock's own 503) may force. 429 is the gateway's GW-0010 (dossier D14;
    # developer.intacct.com/web-services/error-handling "429 errors (GW-0010)"); the code is the status name of
    # Sage's REST error-handling guide (429 TooManyRequests, 403 Forbidden, 422 UnprocessableEntity). The rest
    # are mock-only, like every starred row of dossier section 9.
    "rate_limited": ("tooManyRequests", "GW-0010", "IA.TOO_MANY_REQUESTS"),
    "request_timeout": ("invalidRequest", "REST-1408", "IA.REQUEST_TIMEOUT"),
    "service_unavailable": ("serviceUnavailable", "REST-1503", "IA.SERVICE_UNAVAILABLE"),
    "bad_gateway": ("serviceUnavailable", "REST-1503", "IA.SERVICE_UNAVAILABLE"),
    "gateway_timeout": ("serviceUnavailable", "REST-1503", "IA.SERVICE_UNAVAILABLE"),
    "forbidden": ("forbidden", "REST-1403", "IA.FORBIDDEN"),
    "unprocessable": ("businessRuleViolation", "REST-1422", "IA.BUSINESS_RULE_VIOLATION"),
    # An operation Intacct has and the mock does not serve (issue 15): mock-only, named after HTTP 501.
    "not_mocked": ("notImplemented", "REST-1501", "IA.NOT_IMPLEMENTED"),
}
# A problem of a schema-invalid request as an Intacct detail: errorId, messageId, message (vendor spec
# error-response: `/newDate is not a valid field`, REST-1043, IA.NOT_A_VALID_FIELD; dossier section 9).
DETAILS = {"unknown": ("REST-1043", "IA.NOT_A_VALID_FIELD", "{target} is not a valid field"),
           "missing": ("REST-1045", "IA.REQUIRED_FIELD_MISSING", "{target} is required"),
           "invalid": ("REST-1046", "IA.INVALID_VALUE", "{target}: {message}")}
# RFC 6749 has no code for an overloaded token endpoint but `temporarily_unavailable` (section 4.1.2.1).
OAUTH_STATUS = {401: "invalid_client", 429: "temporarily_unavailable", 503: "temporarily_unavailable"}
OAUTH_ERRORS = {"invalid_request", "invalid_client", "invalid_grant", "unsupported_grant_type"}
# The token request's grant members, and the grants that read each (client_id and client_secret: every grant).
GRANT_MEMBERS = {"username": ("client_credentials",), "refresh_token": ("refresh_token",),
                 "code": ("authorization_code",), "redirect_uri": ("authorization_code",)}
GRANTS = frozenset({"client_credentials", "refresh_token", "authorization_code"})
_SCHEMA_MESSAGE = re.compile(r"Invalid request body(?: at `([^`]*)`)?: (.*)$", re.S)
_UNEXPECTED = re.compile(r"'([^']+)' was unexpected")
_REQUIRED = re.compile(r"^['\"]([^'\"]+)['\"] is a required property")


def envelope(result: Any, meta: Mapping[str, Any] = wire.ONE) -> dict[str, Any]:
    return {"ia::result": result, "ia::meta": dict(meta)}


def page_meta(total: int, start: int, size: int) -> dict[str, Any]:
    return {"totalCount": total, "start": start, "pageSize": size,
            "next": start + size if start + size <= total else None,
            "previous": max(1, start - size) if start > 1 else None}


class IntacctProvider(Provider):
    name = "intacct"
    spec_file = "intacct.yaml"

    def __init__(self, runtime: Runtime, fixtures: Mapping[str, Any]):
        super().__init__(runtime, fixtures)
        self.state = IntacctState(runtime.clock, runtime.ids, fixtures, rules.seed_entries)

    # -- auth, errors ---------------------------------------------------------------------------------------

    def authenticate(self, call: Call) -> None:
        """Bearer lookup, then (dossier D2) the path key and the presence of a body, before schema checks."""
        if not call.operation.security_schemes:
            return
        scheme, _, token = call.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise self._auth_error("unauthorized", "Send an access token: Authorization: Bearer <token>.")
        try:
            pair = self.state.tokens.access(token.strip())
        except (TokenInvalid, TokenExpired):
            raise self._auth_error("token_invalid", "Token is not valid") from None
        call.tenant = self.state.company(pair.tenant_id)
        call.principal = {"user": pair.claims.get("user"),
                          "entity": call.request.headers.get("X-IA-API-Param-Entity") or pair.claims.get("entity")}
        kind = PATH_OBJECTS.get(call.operation.id)
        if kind is not None:
            self._lookup(call.tenant, kind, call.path["key"])
        if call.operation.body_required and not call.raw_body.strip():
            raise ApiError(400, "payload_required", f"A {call.operation.method} request requires a payload")

    def who(self, call: Call) -> dict[str, Any]:
        if call.tenant is None:  # the token endpoint: the client it authenticated
            return {"client": call.principal.id} if isinstance(call.principal, Client) else {}
        return {"company": call.tenant.id, "user": call.principal["user"], "entity": call.principal["entity"]}

    def assume(self, call: Call, who: dict[str, Any]) -> None:
        if "client" in who:
            call.principal = self.state.clients.get(who["client"])
            if call.principal is None:
                raise ApiError(401, "invalid_client", f"The recorded client {who['client']} no longer exists.")
            return
        if "company" not in who:
            return
        company = self.state.companies.get(who["company"])
        if company is None:
            raise self._auth_error("token_invalid", f"The recorded company {who['company']} no longer exists.")
        call.tenant, call.principal = company, {"user": who.get("user"), "entity": who.get("entity")}

    def _auth_error(self, code: str, message: str) -> ApiError:
        status = self.state.auth_failure_status
        return ApiError(status, code, "Invalid token" if status == 400 else message,
                        headers={"WWW-Authenticate": "Bearer"})

    def render_error(self, error: ApiError, request_id: str, path: str) -> dict[str, Any]:
        if path.endswith(TOKEN_PATH):  # RFC 6749 section 5.2 bodies, whatever went wrong
            code = error.code if error.code in OAUTH_ERRORS else OAUTH_STATUS.get(error.status) or (
                "server_error" if error.status >= 500 else "invalid_request")
            return {"error": code, "error_description": error.message}
        code = error.code
        if code == "validation_error" and error.message.startswith("Malformed JSON"):
            code = "malformed_json"
        if code.startswith("GL-"):
            ia_code, error_id, message_id = "businessRuleViolation", code, "IA.GL_RULE_VIOLATION"
        elif code.startswith("REST-"):
            ia_code, error_id, message_id = "invalidRequest", code, "IA.INVALID_QUERY"
        elif code in ERRORS:
            ia_code, error_id, message_id = ERRORS[code]
        elif error.status >= 500:  # a status no row names (a fault's 507): the server failed
            ia_code, error_id, message_id = ERRORS["internal_error"]
        elif code == "error":  # a fault's 4xx no row names (418): the request was refused, not its payload
            ia_code, error_id, message_id = "invalidRequest", f"REST-1{error.status}", "IA.INVALID_REQUEST"
        else:
            ia_code, error_id, message_id = ERRORS["validation_error"]
        body: dict[str, Any] = {"code": ia_code, "message": error.message, "errorId": error_id,
                                "supportId": request_id.replace("-", "")[:20],
                                "additionalInfo": {"messageId": message_id, "placeholders": {}, "propertySet": {}}}
        if error.problems and not isinstance(error.details, list):
            body["details"] = [_detail(p) for p in error.problems]
            return {"ia::result": {"ia::error": body}, "ia::meta": {"totalCount": 1, "totalSuccess": 0,
                                                                     "totalError": 1}}
        details = error.details if isinstance(error.details, list) else _schema_details(code, error.message)
        if details:
            body["details"] = [{"code": "invalidRequest", "message": d["message"], "errorId": d["errorId"],
                                "target": d["target"],
                                "additionalInfo": {"messageId": "IA.NOT_A_VALID_FIELD", "placeholders": {},
                                                   "propertySet": {}}} for d in details]
        return {"ia::result": {"ia::error": body}, "ia::meta": {"totalCount": 1, "totalSuccess": 0, "totalError": 1}}

    def ledger_error(self, error: LedgerError) -> ApiError:
        if isinstance(error, NotFound):
            return ApiError(404, "not_found", error.message)
        if isinstance(error, InvalidAmount):
            return ApiError(400, "validation_error", error.message)
        codes = {Unbalanced: "GL-1001", InvalidEntry: "GL-1002", UnknownReference: "GL-1003",
                 InvalidTransition: "GL-1006"}
        return ApiError(422, codes.get(type(error), "GL-1006"), error.message)

    def credentials(self, base_url: str) -> dict[str, Any]:
        return self._credentials(base_url, self._first_token())

    def _credentials(self, base_url: str, pair: Any) -> dict[str, Any]:
        client = self.state.clients[pair.client_id]
        api = f"{base_url}/ia/api/v1"
        return {"provider": self.name, "base_url": api, "token_url": api + TOKEN_PATH, "client_id": client.id,
                "client_secret": client.secret, "username": f"{pair.claims['user']}@{pair.tenant_id}",
                "company_id": pair.tenant_id, "access_token": pair.access_token, "refresh_token": pair.refresh_token}

    def _first_token(self) -> Any:
        if not self.state.fixture_tokens:  # credentials show it; new companies are seeded like its company
            raise FixturesLack("The intacct fixtures define no token: credentials show the first, and new "
                               "companies are seeded like its company, for its user.")
        return self.state.fixture_tokens[0]

    def tenants(self) -> list[Tenant]:
        return [Tenant(c.id, c.name or c.id, c.book) for c in self.state.existing_companies()]

    def swap_tenant(self, tenant: str, other: IntacctProvider) -> None:
        """A company holds all its requests change, its idempotency keys included; tokens and clients change
        only through the token endpoint, which acts as no company."""
        mine, theirs = self.state.companies, other.state.companies
        mine[tenant], theirs[tenant] = theirs[tenant], mine[tenant]

    def create_tenant(self, base_url: str, name: str | None = None) -> dict[str, Any]:
        """A new company seeded like the first fixture token's (chart, journals, settings and entries), a client
        of its own that reaches only it, and a token pair for its admin user."""
        template = self._first_token()
        company, client = self.state.new_company(name, template.tenant_id)
        pair = self.state.tokens.issue(client.id, company.id, user=template.claims["user"], entity=None)
        return {**self._credentials(base_url, pair), "tenant": company.id}

    def dispatch(self, call: Call) -> Reply:
        """Idempotency-Key on POSTs (D18): per company, same body replays, another body is a conflict."""
        key = call.request.headers.get("Idempotency-Key")
        if call.operation.id not in IDEMPOTENT or not key:
            return super().dispatch(call)
        store, print_ = call.tenant.idempotency, fingerprint(call.operation.id, call.raw_body)
        try:
            stored = store.begin(key, print_)
        except (KeyReused, KeyInFlight) as exc:
            raise ApiError(409, "conflict", f"{exc} Use a new Idempotency-Key for a new request.") from None
        if stored is not None:
            return stored.reply
        try:
            reply = super().dispatch(call)
        except BaseException:
            store.abandon(key)
            raise
        store.finish(key, print_, reply)
        return reply

    # -- OAuth2 ---------------------------------------------------------------------------------------------

    @handles("getToken")
    def get_token(self, call: Call) -> Reply:
        body = call.body or {}
        client = call.principal if call.replaying else self._client(call)
        call.principal = client
        grant = body.get("grant_type")
        tokens = self.state.tokens
        for name in GRANT_MEMBERS:  # RFC 6749 section 3.2: what a grant does not read is ignored; say so
            if grant in GRANT_MEMBERS[name] or body.get(name) in (None, "") or grant not in GRANTS:
                continue
            call.warn(f"body field `{name}` is not read for grant_type {grant} and was ignored")
        if grant == "client_credentials":
            user, company, entity = self._username(body.get("username"))
            self._check_reach(client, company)
            pair = tokens.issue(client.id, company, user=user, entity=entity)
        elif grant == "refresh_token":
            if not body.get("refresh_token"):
                raise ApiError(400, "invalid_request", "refresh_token is required for grant_type refresh_token.")
            try:
                pair = tokens.refresh(body["refresh_token"], client.id)
            except GrantInvalid:
                raise ApiError(400, "invalid_grant", "The refresh token is invalid, expired or already used.") from None
        elif grant == "authorization_code":
            pair = self._redeem(call, client.id, body.get("code"), body.get("redirect_uri"))
        elif not grant:
            raise ApiError(400, "invalid_request", "grant_type is required: client_credentials, refresh_token or "
                                                   "authorization_code.")
        else:
            raise ApiError(400, "unsupported_grant_type", f"grant_type {excerpt(grant)} is not supported.")
        return 200, {"access_token": pair.access_token, "token_type": "Bearer",
                     "expires_in": int(tokens.access_ttl.total_seconds()), "refresh_token": pair.refresh_token}

    def _client(self, call: Call) -> Client:
        """The client the token request authenticates, from the form body or HTTP Basic (RFC 6749 2.3.1)."""
        body, basic = call.body or {}, call.request.authorization
        client_id = body.get("client_id") or (basic.username if basic and basic.type == "basic" else None)
        secret = body.get("client_secret") or (basic.password if basic and basic.type == "basic" else None)
        client = self.state.clients.get(client_id or "")
        if client is None or client.secret != secret:
            raise ApiError(401, "invalid_client", "Client authentication failed: check client_id and client_secret.")
        return client

    @staticmethod
    def _username(username: str | None) -> tuple[str, str, str | None]:
        try:
            return parse_username(username or "")
        except ValueError:
            raise ApiError(400, "invalid_request", "username must be userId@companyId or userId@companyId|entityId."
                           ) from None

    def _check_reach(self, client: Any, company: str) -> None:
        """A client reaches only the companies that authorized it; any other, or one that does not exist, is
        refused as an invalid grant."""
        if not self.state.reachable(client, company):
            raise ApiError(400, "invalid_grant", f"Company {company} does not exist or has not authorized client "
                                                 f"{client.id}.")

    def _redeem(self, call: Call, client_id: str, code: str | None, redirect_uri: str | None) -> Any:
        """D3: a new code exchange revokes the same user's older refresh tokens for that company (D3 names refresh
        tokens only: access tokens, the fixture one `ledger-mock credentials` prints included, live on)."""
        if not code:
            raise ApiError(400, "invalid_request", "code is required for grant_type authorization_code.")
        tokens = self.state.tokens
        username = self.state.codes.get(code)
        if username is not None and redirect_uri:
            call.warn("body field `redirect_uri` was ignored: a fixture authorization code is exchanged with any "
                      "redirect_uri")
        if username is not None:
            user, company, entity = parse_username(username)
            self._check_reach(self.state.clients[client_id], company)
            del self.state.codes[code]
            tokens.revoke_refresh_where(lambda p: p.tenant_id == company and p.claims.get("user") == user)
            return tokens.issue(client_id, company, user=user, entity=entity)
        try:
            pair = tokens.redeem_code(code, client_id, redirect_uri)
        except GrantInvalid:
            raise ApiError(400, "invalid_grant", "The authorization code is invalid, expired or already used.") from None
        tokens.revoke_refresh_where(lambda p: p is not pair and p.tenant_id == pair.tenant_id
                            and p.claims.get("user") == pair.claims.get("user"))
        return pair

    # -- journal entries ------------------------------------------------------------------------------------

    @handles("listJournalEntries")
    def list_journal_entries(self, call: Call) -> Reply:
        by_key = call.tenant.book.entry_index("key")
        start, size = call.query.get("start", 1), call.query.get("size", 100)
        with call.tenant.lock:
            keys = list(by_key.ids(start - 1, start - 1 + size))
            total = len(by_key)
        return 200, envelope([wire.ref(wire.ENTRY_PATH, key) for key in keys], page_meta(total, start, size))

    @handles("createJournalEntry")
    def create_journal_entry(self, call: Call) -> Reply:
        company = call.tenant
        with company.lock:
            _warn(call, ignored.on_create(company, call.body, self._today()))
            entry = rules.create_entry(company, call.body, call.principal["user"])
        return 201, envelope(wire.ref(wire.ENTRY_PATH, entry.id))

    @handles("getJournalEntry")
    def get_journal_entry(self, call: Call) -> Reply:
        company = call.tenant
        entry = self._lookup(company, "entry", call.path["key"])
        return 200, envelope(wire.entry_out(company, entry, self._today()))

    @handles("updateJournalEntry")
    def update_journal_entry(self, call: Call) -> Reply:
        company = call.tenant
        with company.lock:
            entry = self._lookup(company, "entry", call.path["key"])
            today = self._today()
            shown = wire.entry_out(company, entry, today)
            _warn(call, ignored.on_update(company, entry, call.body, today, shown))
            rules.update_entry(company, entry, call.body, call.principal["user"], shown)
        return 200, envelope(wire.ref(wire.ENTRY_PATH, entry.id))

    @handles("deleteJournalEntry")
    def delete_journal_entry(self, call: Call) -> Reply:
        company = call.tenant
        with company.lock:
            rules.delete_entry(company, self._lookup(company, "entry", call.path["key"]))
        return 204, None

    # -- workflows ------------------------------------------------------------------------------------------

    @handles("submitJournalEntry")
    def submit_journal_entry(self, call: Call) -> Reply:
        return self._workflow(call, lambda c, e, user: rules.submit(c, e, user))

    @handles("approveJournalEntry")
    def approve_journal_entry(self, call: Call) -> Reply:
        _warn(call, _notes(call))
        return self._workflow(call, lambda c, e, user: rules.approve(c, e, user, call.body.get("notes")))

    @handles("declineJournalEntry")
    def decline_journal_entry(self, call: Call) -> Reply:
        _warn(call, _notes(call))
        return self._workflow(call, lambda c, e, user: rules.simple_action(c, e, "decline", user,
                                                                           call.body.get("notes")))

    @handles("recallJournalEntry")
    def recall_journal_entry(self, call: Call) -> Reply:
        return self._workflow(call, lambda c, e, user: rules.simple_action(c, e, "recall", user))

    @handles("reverseJournalEntry")
    def reverse_journal_entry(self, call: Call) -> Reply:
        on = to_date(call.body["reverseDate"])
        return self._workflow(call, lambda c, e, user: rules.reverse(c, e, on, user))

    @handles("reclassifyJournalEntry")
    def reclassify_journal_entry(self, call: Call) -> Reply:
        def reclassify(company: Any, entry: JournalEntry, user: str) -> JournalEntry:
            _warn(call, ignored.on_reclassify(company, entry, call.body, self._today()))
            return rules.reclassify(company, entry, call.body, user)
        return self._workflow(call, reclassify)

    def _workflow(self, call: Call, act: Callable[[Any, JournalEntry, str], JournalEntry]) -> Reply:
        company = call.tenant
        with company.lock:
            entry = act(company, self._lookup(company, "entry", call.body["key"]), call.principal["user"])
        return 200, envelope({**wire.ref(wire.ENTRY_PATH, entry.id),
                              "state": wire.entry_state(entry, self._today())})

    # -- query service --------------------------------------------------------------------------------------

    @handles("queryObjects")
    def query_objects(self, call: Call, *, scan: bool = False) -> Reply:
        company, today = call.tenant, self._today()
        flags = (call.body or {}).get("filterParameters") or {}
        for flag in ("includePrivate", "includeHierarchyFields"):  # dossier section 7: accepted, nothing to change
            if flags.get(flag) is True:
                call.warn(f"body field `filterParameters/{flag}` changes nothing: ledger-mock has no private or "
                          f"hierarchy records")
        book, accounts, account_of = company.book, company.book.accounts, attrgetter("account_id")

        def state_shown(status: str) -> tuple[str, ...]:  # a pending reversal reads `reversed` from its date on
            return ("reversalPending", "reversed") if status == "reversalPending" else (status,)

        entries = Indexed(
            record=lambda entry: wire.EntryRecord(company, entry, today),
            fields=wire.entry_fields(company, today), by_key=book.entry_index("key"), date_field="postingDate",
            by_date=book.entry_index("date"), day=attrgetter("date"),
            kept_by={"state": (book.entry_index("status"), state_shown),
                     "glJournal.id": (book.entry_index("journal"), lambda key: (company.journals[key].id,)),
                     "glJournal.key": (book.entry_index("journal"), lambda key: (key,))})
        objects = {
            "general-ledger/journal-entry": entries,
            "general-ledger/journal-entry-line": LinesOf(
                entries, parts=attrgetter("lines"), record=wire.line_record(company, today),
                date_fields=("entryDate", "journalEntry.postingDate"), fields=wire.line_fields(company),
                kept_by={"glAccount.id": (account_of, accounts.keys, lambda key: (accounts[key].number,)),
                         "glAccount.key": (account_of, accounts.keys, lambda key: (key,))},
                order=wire.line_order),
            "general-ledger/account": lambda: [wire.account_out(a) for a in book.accounts.values()],
            "general-ledger/journal": lambda: [wire.journal_out(j) for j in company.journals.values()],
        }
        try:
            with company.lock:  # one state for every index the query reads
                result = run_query(call.body, objects, today=today, scan=scan)
        except QueryError as exc:
            raise ApiError(400, exc.error_id, exc.message, details=[
                {"errorId": exc.error_id, "target": exc.target or "", "message": exc.message}]) from None
        return 200, envelope(result.rows, result.meta)

    # -- accounts and journals ------------------------------------------------------------------------------

    @handles("listAccounts")
    def list_accounts(self, call: Call) -> Reply:
        accounts = call.tenant.book.accounts
        return self._refs(call, sorted(accounts, key=int), wire.ACCOUNT_PATH, lambda key: accounts[key].number)

    @handles("getAccount")
    def get_account(self, call: Call) -> Reply:
        return 200, envelope(wire.account_out(self._lookup(call.tenant, "account", call.path["key"])))

    @handles("listJournals")
    def list_journals(self, call: Call) -> Reply:
        journals = call.tenant.journals
        return self._refs(call, sorted(journals, key=int), wire.JOURNAL_PATH, lambda key: journals[key].id)

    @handles("getJournal")
    def get_journal(self, call: Call) -> Reply:
        return 200, envelope(wire.journal_out(self._lookup(call.tenant, "journal", call.path["key"])))

    # -- shared pieces --------------------------------------------------------------------------------------

    def _today(self) -> Any:
        return self.clock.now().date()

    @staticmethod
    def _lookup(company: Any, kind: str, key: str) -> Any:
        found = {"entry": company.book.entries, "account": company.book.accounts,
                 "journal": company.journals}[kind].get(key)
        if found is None:
            label = {"entry": "Journal entry", "account": "GL account", "journal": "Journal"}[kind]
            raise ApiError(404, "not_found", f"{label} {excerpt(key)} was not found in company {company.id}.")
        return found

    @staticmethod
    def _refs(call: Call, keys: Sequence[str], path: str, id_of: Callable[[str], str]) -> Reply:
        start, size = call.query.get("start", 1), call.query.get("size", 100)
        rows = [wire.ref(path, key, id_of(key)) for key in keys[start - 1:start - 1 + size]]
        return 200, envelope(rows, page_meta(len(keys), start, size))


def _warn(call: Call, said: Sequence[str]) -> None:
    """What the write sends and the record will not show (read-only members, see `ignored`): named before any
    change, as `serve --strict` refuses the request on the first."""
    for message in said:
        call.warn(message)


def _notes(call: Call) -> list[str]:
    """Sage Intacct keeps approval notes in the entry's approval history, which no mocked read serves."""
    if (call.body or {}).get("notes") is None:
        return []
    return ["body field `notes` was not kept: Sage Intacct shows approval notes in the entry's approval history, "
            "which ledger-mock does not serve"]


def _detail(problem: Problem) -> dict[str, Any]:
    """One `details[]` item: the problem's field as a JSON pointer (`/lines/0/txnAmount`; a parameter by its
    name), its errorId by kind (unknown REST-1043, missing REST-1045, bad value REST-1046)."""
    target = "/" + problem.field if problem.field else ""
    error_id, message_id, text = DETAILS.get(problem.kind, DETAILS["invalid"])
    message = problem.message.rstrip(".")
    found = _SCHEMA_MESSAGE.match(message)
    return {"code": "invalidRequest", "errorId": error_id, "target": target,
            "message": text.format(target=target or "/", message=found.group(2) if found else message),
            "additionalInfo": {"messageId": message_id, "placeholders": {}, "propertySet": {}}}


def _schema_details(code: str, message: str) -> list[dict[str, Any]]:
    """One detail for a spec violation the framework found: unknown field, missing field, or bad value."""
    if code != "validation_error":
        return []
    found = _SCHEMA_MESSAGE.match(message)
    if found is None:
        return []
    pointer, reason = ("/" + found.group(1)) if found.group(1) else "", found.group(2)
    unexpected, required = _UNEXPECTED.search(reason), _REQUIRED.search(reason)
    if unexpected:
        return [{"errorId": "REST-1043", "target": f"{pointer}/{unexpected.group(1)}",
                 "message": f"{unexpected.group(1)} is not a valid field"}]
    if required:
        return [{"errorId": "REST-1045", "target": f"{pointer}/{required.group(1)}",
                 "message": f"{required.group(1)} is required"}]
    return [{"errorId": "REST-1046", "target": pointer, "message": reason.rstrip(".")}]
