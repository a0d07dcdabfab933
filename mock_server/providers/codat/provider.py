"""Codat: Basic API-key auth, Codat's error body and paging envelope, and one handler per spec operation."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Callable, Mapping
from urllib.parse import quote, unquote, urlencode

from ...errors import ApiError, excerpt
from ...faults import InjectedFault
from ...ledger import Book, LedgerError
from .. import Call, FixturesLack, Provider, Reply, Runtime, Tenant, handles
from . import indexes, wire
from .query import MAX_QUERY_LENGTH, QueryError, compile_query, conjunction, order_field, sort_records
from .state import PULLED_DATA_TYPES, ApiKey, Client, CodatState, Company, Connection, PullOperation, PushOperation

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
NOT_VALID = "Error processing request - not valid."
MALFORMED = "Error parsing query - Malformed query."
FORBIDDEN = "You are using an outdated API key or a key not associated with that resource."
ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")
PAGING_PARAMETER = re.compile(r"^Invalid query parameter `(page|pageSize)`")
# Codat's `error` text per status, from the vendor spec's shared responses (Codat-Sync-Payroll.yaml
# components/responses: Bad-Request, Unauthorized, Forbidden, Not-Found, Conflict, Too-Many-Requests,
# Internal-Server-Error, Service-Unavailable) and the mock's 402 (dossier section 8). An injected fault without
# an operator's message says what Codat says for its status.
TOO_MANY = "You have made too many requests in a given amount of time; please retry later."
SERVER_PROBLEM = "There is a problem with our server. Please try again later."
OFFLINE = "The Codat API is temporarily offline for maintenance. Please try again later."
STATUS_TEXT = {400: NOT_VALID, 401: "Unauthorized", 402: "Company limit exceeded", 403: FORBIDDEN,
               404: "One or more of the resources you referenced could not be found.",
               409: "The data set has not been requested.", 429: TOO_MANY, 500: SERVER_PROBLEM, 503: OFFLINE,
               502: OFFLINE, 504: OFFLINE}  # 502 and 504 (undocumented): the service cannot be reached, as 503

ENTRY_FIELDS = ("id", "description", "postedOn", "createdOn", "updatedOn", "modifiedDate", "sourceModifiedDate",
                "journalRef.id", "journalRef.name", "recordRef.id", "recordRef.dataType", "metadata.isDeleted")
ACCOUNT_FIELDS = ("id", "nominalCode", "name", "fullyQualifiedCategory", "fullyQualifiedName", "currency", "type",
                  "status", "modifiedDate", "sourceModifiedDate", "metadata.isDeleted")
COMPANY_FIELDS = ("id", "name", "description", "created", "lastSync", "createdByUserName",
                  "dataConnections[].status", "dataConnections[].integrationKey", "dataConnections[].platformName")
CONNECTION_FIELDS = ("id", "integrationId", "integrationKey", "sourceId", "sourceType", "platformName", "status",
                     "created", "lastSync")
PULL_FIELDS = ("id", "connectionId", "dataType", "status", "requested", "completed", "progress")
PUSH_FIELDS = ("pushOperationKey", "dataConnectionKey", "dataType", "status", "statusCode", "requestedOnUtc",
               "completedOnUtc", "timeoutInMinutes")
# A key starts only after a character no key holds: without the lookbehind a long run of key characters with no
# operator after it was retried from each of its positions (quadratic; a 1 MB `tags` took minutes).
TAG_KEY = re.compile(r"(?<![^\s{}=!~&|<>])([^\s{}=!~&|<>]+)\s*(?:!=|=|~)")


def _item_id(field: str | None) -> str | None:
    """`journalLines/1/accountRef/id` as Codat's `itemId` writes it: `journalLines[1].accountRef.id`."""
    if field is None:
        return None
    out = ""
    for part in field.split("/"):
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


def not_valid(*items: dict[str, Any]) -> ApiError:
    return ApiError(400, "validation_error", NOT_VALID, details=list(items))


def query_error(error: QueryError, item_id: str) -> ApiError:
    return ApiError(400, "query_error", error.message, details=[wire.item(item_id, error.detail, "Query")])


class NotFound(ApiError):
    def __init__(self, message: str, service: str = "PublicApi"):
        super().__init__(404, "not_found", message)
        self.service = service


class CodatProvider(Provider):
    name = "codat"
    spec_file = "codat.yaml"

    def __init__(self, runtime: Runtime, fixtures: Mapping[str, Any]):
        super().__init__(runtime, fixtures)
        self.state = CodatState(runtime.clock, runtime.ids, fixtures)

    # -- auth, errors, credentials --------------------------------------------------------------------------

    def authenticate(self, call: Call) -> None:
        scheme, _, token = call.request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "basic" or not token.strip():
            raise ApiError(401, "unauthorized", "Unauthorized")
        try:
            key = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(401, "unauthorized", "Unauthorized") from None
        found = self.state.keys.get(key)
        if found is None:
            raise ApiError(401, "unauthorized", "Unauthorized")
        api_key, client = found
        if api_key.revoked:
            raise ApiError(403, "forbidden", FORBIDDEN)
        call.tenant = client

    def who(self, call: Call) -> dict[str, Any]:
        return {"client": call.tenant.id}

    def assume(self, call: Call, who: dict[str, Any]) -> None:
        call.tenant = self.state.clients.get(who.get("client"))
        if call.tenant is None:
            raise ApiError(401, "unauthorized", "Unauthorized")

    def render_error(self, error: ApiError, request_id: str, path: str) -> dict[str, Any]:
        message, items = error.message, error.details
        if isinstance(error, InjectedFault):  # a forced status, 400 included: Codat's text or the operator's
            if not error.worded:
                message = STATUS_TEXT.get(error.status) or (SERVER_PROBLEM if error.status >= 500 else NOT_VALID)
        elif error.code == "validation_error" and items is None and error.problems:
            # A request the spec refuses: one `validation.errors` item per problem, its `itemId` the field's
            # path as Codat writes it (`journalLines[1].accountRef.id`); bad paging is a malformed query.
            first = error.problems[0]
            paging = first.location == "query" and first.field in ("page", "pageSize")
            items = [wire.item(_item_id(p.field), p.message, "Request") for p in error.problems]
            message = MALFORMED if paging else NOT_VALID
        elif error.code == "validation_error" and items is None:
            # One problem without a field list (a body that is not JSON, a bad fault header, ...).
            paging = PAGING_PARAMETER.match(error.message)
            items = [wire.item(paging.group(1) if paging else None, error.message, "Request")]
            message = MALFORMED if paging else NOT_VALID
        body: dict[str, Any] = {"statusCode": error.status, "service": getattr(error, "service", "PublicApi"),
                                "error": message, "correlationId": request_id.replace("-", ""),
                                "canBeRetried": "Unknown", "detailedErrorCode": 0}
        if items:
            body["validation"] = {"errors": items, "warnings": []}
        return body

    def ledger_error(self, error: LedgerError) -> ApiError:
        return not_valid(wire.item(None, error.message))

    def credentials(self, base_url: str) -> dict[str, Any]:
        for api_key, client in self.state.keys.values():
            if not api_key.revoked:
                return self._credentials(base_url, api_key, client)
        raise FixturesLack("The codat fixtures define no API key that is not revoked; POST /_mock/tenants makes "
                           "a client with a key of its own.")

    def _credentials(self, base_url: str, api_key: ApiKey, client: Client) -> dict[str, Any]:
        with client.lock:
            company = next((c for c in client.companies.values() if c.connections), None)
        creds = {"provider": self.name, "base_url": base_url, "api_key": api_key.key,
                 "authorization": "Basic " + base64.b64encode(api_key.key.encode()).decode(),
                 "client_id": client.id}
        if company is not None:
            creds.update(company_id=company.id, connection_id=next(iter(company.connections)))
        return creds

    def tenants(self) -> list[Tenant]:
        """One per client, the tenant the journal records (its id), shown with its first company's book
        (an empty book when it has no company yet)."""
        tenants = []
        for client in list(self.state.clients.values()):
            with client.lock:
                company = next(iter(client.companies.values()), None)
            book = company.book if company is not None else Book(client.id, clock=self.clock, ids=self.ids)
            tenants.append(Tenant(client.id, client.name, book))
        return tenants

    def settle(self) -> None:
        now = self.clock.now()
        for client in list(self.state.clients.values()):
            with client.lock:
                companies = list(client.companies.values())
            for company in companies:
                company.settle(now)

    def swap_tenant(self, tenant: str, other: CodatProvider) -> None:
        """A client holds all its requests change (its companies, and theirs); its API keys point at it."""
        mine, theirs = self.state, other.state
        mine.clients[tenant], theirs.clients[tenant] = theirs.clients[tenant], mine.clients[tenant]
        for state in (mine, theirs):
            for key, (api_key, client) in list(state.keys.items()):
                if client.id == tenant:
                    state.keys[key] = (api_key, state.clients[tenant])

    def create_tenant(self, base_url: str, name: str | None = None) -> dict[str, Any]:
        api_key, client = self.state.new_tenant(name)
        return {**self._credentials(base_url, api_key, client), "tenant": client.id}

    # -- companies ------------------------------------------------------------------------------------------

    @handles("list-companies")
    def list_companies(self, call: Call) -> Reply:
        client = call.tenant
        keep = self._query(call, COMPANY_FIELDS, "Company")
        order_by = self._order_by(call, COMPANY_FIELDS, "Company")
        keep_tags = self._tags_filter(call.query.get("tags"))
        with client.lock:
            companies = list(client.companies.values())
        now = self.clock.now()
        for company in companies:
            company.settle(now)
        rows = [row for row in (wire.company_out(c) for c in companies) if keep(row) and keep_tags(row)]
        return self._page(call, rows, order_by, COMPANY_FIELDS, "Company")

    @handles("create-company")
    def create_company(self, call: Call) -> Reply:
        client, body = call.tenant, call.body
        with client.lock:
            if client.company_limit is not None and len(client.companies) >= client.company_limit:
                raise ApiError(402, "payment_required", "Company limit exceeded")
            company = self.state.new_company(client, body["name"], description=body.get("description"),
                                             tags=body.get("tags"))
        return 200, wire.company_out(company)

    @handles("get-company")
    def get_company(self, call: Call) -> Reply:
        return 200, wire.company_out(self._company(call))

    @handles("replace-company")
    def replace_company(self, call: Call) -> Reply:
        company, body = self._company(call), call.body
        with company.lock:  # a replace: what the body leaves out is cleared
            company.name, company.description, company.tags = body["name"], body.get("description"), dict(
                body.get("tags") or {})
            return 200, wire.company_out(company)

    @handles("delete-company")
    def delete_company(self, call: Call) -> Reply:
        company = self._company(call)
        with call.tenant.lock:
            call.tenant.companies.pop(company.id, None)  # None: a concurrent delete came first
        return 204, None

    # -- connections ----------------------------------------------------------------------------------------

    @handles("list-connections")
    def list_connections(self, call: Call) -> Reply:
        return self._company_list(call, CONNECTION_FIELDS, "Connection",
                                  lambda company: [wire.connection_out(c) for c in company.connections.values()])

    @handles("create-connection")
    def create_connection(self, call: Call) -> Reply:
        company = self._company(call)
        with company.lock:
            connection = self.state.new_connection(company, call.body["platformKey"],
                                                   call.tenant.new_connection_status)
        return 200, wire.connection_out(connection)

    @handles("get-connection")
    def get_connection(self, call: Call) -> Reply:
        company = self._company(call)
        with company.lock:
            return 200, wire.connection_out(self._connection(company, call))

    @handles("unlink-connection")
    def unlink_connection(self, call: Call) -> Reply:
        company = self._company(call)
        with company.lock:
            connection = self._connection(company, call)
            connection.status = call.body["status"]  # the spec allows Unlinked only
            return 200, wire.connection_out(connection)

    @handles("delete-connection")
    def delete_connection(self, call: Call) -> Reply:
        company = self._company(call)
        with company.lock:
            del company.connections[self._connection(company, call).id]
        return 200, None

    # -- refreshing data (pull operations) ------------------------------------------------------------------

    @handles("refresh-company-data")
    def refresh_company_data(self, call: Call) -> Reply:
        company = self._company(call)
        with company.lock:
            for connection in self._pulling_connections(company, None):
                for data_type in PULLED_DATA_TYPES:
                    self._pull(company, connection, data_type)
        return 204, None

    @handles("refresh-data-type")
    def refresh_data_type(self, call: Call) -> Reply:
        company = self._company(call)
        with company.lock:
            pulls = [self._pull(company, connection, call.path["dataType"])
                     for connection in self._pulling_connections(company, call.query.get("connectionId"))]
            return 200, wire.pull_out(pulls[0])

    @handles("get-company-data-status")
    def get_company_data_status(self, call: Call) -> Reply:
        company = self._company(call)
        with company.lock:
            return 200, wire.data_status(company)

    @handles("list-pull-operations")
    def list_pull_operations(self, call: Call) -> Reply:
        return self._company_list(call, PULL_FIELDS, "PullOperation",
                                  lambda company: [wire.pull_out(p) for p in company.pulls.values()])

    @handles("get-pull-operation")
    def get_pull_operation(self, call: Call) -> Reply:
        company = self._company(call)
        dataset_id = call.path["datasetId"]
        with company.lock:
            pull = company.pulls.get(dataset_id.lower())
            if pull is None:
                raise NotFound(f"No dataset was found with ID {excerpt(dataset_id)}")
            return 200, wire.pull_out(pull)

    def _pulling_connections(self, company: Company, connection_id: str | None) -> list[Connection]:
        if connection_id is not None:
            connection = company.connections.get(connection_id.lower()) if UUID.match(connection_id) else None
            if connection is None:
                raise NotFound(f"Data connection {excerpt(connection_id)} not found")
            candidates = [connection]
        else:
            candidates = list(company.connections.values())
        linked = [c for c in candidates if c.status == "Linked"]
        if not linked:
            raise not_valid(wire.item("connectionId", "A refresh needs a Linked connection; the company has none"
                                                      + (" by that id." if connection_id else "."), "Connection"))
        return linked

    def _pull(self, company: Company, connection: Connection, data_type: str) -> PullOperation:
        now = self.clock.now()
        pull = PullOperation(self.ids.uuid(), company.id, connection.id, data_type, now, now + connection.pull_delay)
        company.pulls[pull.id] = pull
        if data_type not in PULLED_DATA_TYPES:
            pull.status, pull.completed = "NotSupported", now
        elif pull.due == now:
            company.finish_pull(pull, now)
        return pull

    # -- journal entries ------------------------------------------------------------------------------------

    @handles("list-journal-entries")
    def list_journal_entries(self, call: Call, *, scan: bool = False) -> Reply:
        """`scan` tests every entry and sorts the matches (tests compare it with the indexed path)."""
        keep = self._query(call, ENTRY_FIELDS, "JournalEntry")
        order_by = self._order_by(call, ENTRY_FIELDS, "JournalEntry")
        page, size = call.query.get("page", 1), call.query.get("pageSize", 100)
        company = self._readable_company(call)
        with company.lock:
            if scan:
                rows = [row for row in (wire.EntryRecord(e, company) for e in company.book.entries_between())
                        if keep(row)]
                return self._page(call, rows, order_by, ENTRY_FIELDS, "JournalEntry")
            conditions, pure = conjunction(self._query_text(call), fields=ENTRY_FIELDS, type_name="JournalEntry")
            entries, total = indexes.entries_page(
                company.book, conditions, pure, keep, lambda entry: wire.EntryRecord(entry, company), order_by,
                order_field(order_by, fields=ENTRY_FIELDS, type_name="JournalEntry"), (page - 1) * size, size,
                fields=ENTRY_FIELDS)
            rows = [wire.entry_out(e, company) for e in entries]
        return self._envelope(call, rows, total)

    @handles("get-journal-entry")
    def get_journal_entry(self, call: Call) -> Reply:
        return self._one(call, "journalEntryId", "journal entry", lambda book: book.entries, wire.entry_out)

    # -- accounts -------------------------------------------------------------------------------------------

    @handles("list-accounts")
    def list_accounts(self, call: Call) -> Reply:
        keep = self._query(call, ACCOUNT_FIELDS, "Account")
        order_by = self._order_by(call, ACCOUNT_FIELDS, "Account")
        company = self._readable_company(call)
        with company.lock:
            rows = [wire.account_out(a, company) for a in company.book.accounts.values()]
        return self._page(call, [row for row in rows if keep(row)], order_by, ACCOUNT_FIELDS, "Account")

    @handles("get-account")
    def get_account(self, call: Call) -> Reply:
        return self._one(call, "accountId", "account", lambda book: book.accounts, wire.account_out)

    def _one(self, call: Call, parameter: str, what: str, records: Callable[[Book], Mapping[str, Any]],
             out: Callable[[Any, Company], dict]) -> Reply:
        """One record of a readable company by the id in the path, shown by `out`; Codat's 404 when there is none."""
        company = self._readable_company(call)
        with company.lock:
            found = records(company.book).get(call.path[parameter])
            if found is None:
                raise NotFound(f"No {what} was found with ID {excerpt(call.path[parameter])}")
            return 200, out(found, company)

    @handles("get-create-journalEntries-model")
    def get_create_model(self, call: Call) -> Reply:
        company = self._company(call)
        self._connection(company, call)
        with company.lock:
            return 200, wire.create_model(company)

    @handles("create-journal-entry")
    def create_journal_entry(self, call: Call) -> Reply:
        timeout = self._timeout(call)
        company = self._company(call)
        with company.lock:
            connection = self._connection(company, call)
            self._check_linked(connection)
            submission, errors = wire.check_push(call.body, company)
            if submission is None:
                raise not_valid(*errors)
            if wire.drops_time(call.body["postedOn"]):
                call.warn("body field `postedOn` was kept as its date: a journal entry is posted on a day, local to "
                          "the business, so its time of day and zone were left out")
            for index, line in enumerate(call.body["journalLines"]):  # D19: a line's account name is the chart's
                sent, account = line["accountRef"].get("name"), company.book.accounts.get(line["accountRef"]["id"])
                if sent is not None and account is not None and sent != account.name:
                    call.warn(f"body field `journalLines/{index}/accountRef/name` was ignored: the line shows the "
                              f"account's own name")
            company.settle(self.clock.now())
            push = self._push(company, connection, "create", timeout)
            push.submission = submission
            self._start(company, push)
            out = wire.push_out(push)
            if push.status == "Success":
                out["data"] = wire.entry_out(company.book.entry(push.entry_id or ""), company)
            elif push.status == "Pending":
                out["data"] = wire.submission_out(submission, company)
        return 200, out

    @handles("delete-journal-entry")
    def delete_journal_entry(self, call: Call) -> Reply:
        timeout = self._timeout(call)
        company = self._company(call)
        entry_id = call.path["journalEntryId"]
        with company.lock:
            connection = self._connection(company, call)
            company.settle(self.clock.now())
            entry = company.book.entries.get(entry_id)
            if entry is None:
                raise NotFound(f"No journal entry was found with ID {excerpt(entry_id)}")
            self._check_linked(connection)
            push = self._push(company, connection, "delete", timeout)
            push.entry_id = entry.id
            if entry.status == "deleted":
                push.status, push.completed = "Failed", push.requested
                push.error_message = f"Journal entry {entry.id} is already deleted."
            else:
                self._start(company, push)
            return 200, wire.push_out(push)

    # -- push operations ------------------------------------------------------------------------------------

    @handles("list-push-operations")
    def list_push_operations(self, call: Call) -> Reply:
        def rows(company: Any) -> list[dict]:
            company.settle(self.clock.now())
            return [wire.push_out(p) for p in company.pushes.values()]
        return self._company_list(call, PUSH_FIELDS, "PushOperation", rows)

    @handles("get-push-operation")
    def get_push_operation(self, call: Call) -> Reply:
        company = self._company(call)
        key = call.path["pushOperationKey"]
        with company.lock:
            company.settle(self.clock.now())
            push = company.pushes.get(key)
            if push is None:
                raise NotFound(f"No push operation was found with key {excerpt(key)}")
            return 200, wire.push_out(push)

    # -- shared pieces --------------------------------------------------------------------------------------

    def _company(self, call: Call) -> Company:
        company_id = call.path["companyId"]
        company = call.tenant.companies.get(company_id.lower()) if UUID.match(company_id) else None
        if company is None:
            raise NotFound(f"No company was found with ID {excerpt(company_id)}", "ClientsApi")
        company.settle(self.clock.now())  # pushes and pulls due by now, before anything reads the company
        return company

    def _readable_company(self, call: Call) -> Company:
        company = self._company(call)
        if not company.synced:
            raise ApiError(409, "conflict", "The data set has not been requested.")
        company.settle(self.clock.now())
        return company

    @staticmethod
    def _connection(company: Company, call: Call) -> Connection:
        connection_id = call.path["connectionId"]
        connection = company.connections.get(connection_id.lower()) if UUID.match(connection_id) else None
        if connection is None:
            raise NotFound(f"Data connection {excerpt(connection_id)} not found")
        return connection

    @staticmethod
    def _check_linked(connection: Connection) -> None:
        if connection.status != "Linked":
            raise not_valid(wire.item("connectionId", f"Data connection {connection.id} is {connection.status}; "
                                                      f"pushes need a Linked connection.", "Connection"))

    @staticmethod
    def _timeout(call: Call) -> int | None:
        timeout = call.query.get("timeoutInMinutes")
        if timeout is not None and timeout < 1:
            raise not_valid(wire.item("timeoutInMinutes", "timeoutInMinutes must be a whole number of minutes, "
                                                          "1 or more.", "Request"))
        return timeout

    def _push(self, company: Company, connection: Connection, kind: str, timeout: int | None) -> PushOperation:
        now, delay = self.clock.now(), connection.push_delay
        # without a delay `now` itself, not an equal datetime apiece (a push is kept as long as its company)
        due = None if connection.push_outcome == "NeverComplete" else now + delay if delay else now
        push = PushOperation(self.ids.uuid(), company.id, connection.id, kind, now, due, connection.push_outcome,
                             timeout, seed=self.ids.stream_seed())
        company.add_push(push)
        return push

    def _start(self, company: Company, push: PushOperation) -> None:
        """With no delay the platform answers within the request; otherwise the push stays Pending."""
        if push.due == push.requested:
            company.complete(push, push.requested)

    @staticmethod
    def _query_text(call: Call) -> str | None:
        query = call.query.get("query")
        if query is not None and ENCODED.search(query):
            # Codat's querying docs encode the query twice (`query=id%253D...`): what arrives once decoded
            # still holds %XX escapes, which Codat decodes again. No operator or name contains `%`.
            query = unquote(query)
        return query

    def _query(self, call: Call, fields: tuple[str, ...], type_name: str) -> Callable[[dict], bool]:
        try:
            return compile_query(self._query_text(call), fields=fields, type_name=type_name)
        except QueryError as error:
            raise query_error(error, "query") from None

    @staticmethod
    def _order_by(call: Call, fields: tuple[str, ...], type_name: str) -> str | None:
        order_by = call.query.get("orderBy")
        if order_by is not None and order_by.strip():
            try:
                sort_records([], order_by, fields=fields, type_name=type_name)
            except QueryError as error:
                raise query_error(error, "orderBy") from None
            return order_by
        return None

    @staticmethod
    def _tags_filter(tags: str | None) -> Callable[[dict], bool]:
        """`tags` is the query language over tag keys (=, != and ~ only); companies without a key never match."""
        if tags is None or not tags.strip():
            return lambda row: True
        if len(tags) > MAX_QUERY_LENGTH:  # the same bound as `query`, before any regex reads it
            raise query_error(QueryError(MALFORMED, f"tags is {len(tags)} characters; it must be under 2048"), "tags")
        if re.search(r"[<>]", tags):
            raise query_error(QueryError(MALFORMED, "tags only support =, != and ~"), "tags")
        keys = tuple(sorted({key.casefold() for key in TAG_KEY.findall(tags)}))
        try:
            keep = compile_query(tags, fields=keys, type_name="Tags")
        except QueryError as error:
            raise query_error(error, "tags") from None
        return lambda row: keep({key.casefold(): value for key, value in row["tags"].items()})

    def _company_list(self, call: Call, fields: tuple[str, ...], type_name: str,
                      rows: Callable[[Any], list[dict]]) -> Reply:
        """A list of the company's records (`rows`, read under its lock) filtered by `query`, ordered by `orderBy`
        and paged; both are checked before the company is looked up."""
        keep = self._query(call, fields, type_name)
        order_by = self._order_by(call, fields, type_name)
        company = self._company(call)
        with company.lock:
            found = rows(company)
        return self._page(call, [r for r in found if keep(r)], order_by, fields, type_name)

    def _page(self, call: Call, rows: list[dict], order_by: str | None, fields: tuple[str, ...],
              type_name: str) -> Reply:
        rows = sort_records(rows, order_by, fields=fields, type_name=type_name)
        page, size = call.query.get("page", 1), call.query.get("pageSize", 100)
        return self._envelope(call, [dict(row) for row in rows[(page - 1) * size: page * size]], len(rows))

    @staticmethod
    def _envelope(call: Call, results: list[dict], total: int) -> Reply:
        page, size = call.query.get("page", 1), call.query.get("pageSize", 100)
        path = call.request.path

        def href(number: int) -> dict[str, str]:
            params = {"page": number, "pageSize": size}
            params.update({k: call.query[k] for k in ("query", "orderBy") if k in call.query})
            return {"href": f"{path}?{urlencode(params, quote_via=quote)}"}

        links = {"self": {"href": path}, "current": href(page)}
        if page * size < total:
            links["next"] = href(page + 1)
        if page > 1:  # past the end, back to the last page that has results (page 1 of an empty list)
            links["previous"] = href(min(page - 1, max(1, -(-total // size))))
        return 200, {"results": results, "pageNumber": page, "pageSize": size, "totalResults": total,
                     "_links": links}
