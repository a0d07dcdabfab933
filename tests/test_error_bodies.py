"""Error bodies that tell a client everything, in the provider's own words (issue 15, items 5 and 6).

A schema-invalid request lists every problem in the provider's own detail format: COUNT joins them into its one
`message` (it has no `errors[]`), Intacct lists `details[]` (REST-1043 unknown field, REST-1045 missing, REST-1046
bad value, each with a JSON-pointer `target`), Codat lists `validation.errors[]` (`itemId` as
`journalLines[1].accountRef.id`), Aden lists `error.details.errors`. No message echoes more than an excerpt of what
was sent, however long the value. Aden's ledger rules carry the details it documents (PERIOD_CLOSED with
`period_id` and `period_name`, NOT_FOUND with the id, ...). A forced status (fault rule from the admin API, the
fixtures or the X-Ledger-Mock-Fault header) answers in the code the provider uses for that status."""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import replace

import pytest

from mock_server import data_dir, faults, providers
from mock_server.errors import EXCERPT, ApiError, Problem, validation_error
from tests.aden.conftest import AdenClient, entry_body as aden_entry
from tests.codat.conftest import CodatClient
from tests.conftest import provider
from tests.count.conftest import CountClient, entry_body as count_entry
from tests.intacct.conftest import JE, IntacctClient, entry_body as intacct_entry
from tests.test_admin import OPERATIONS, read
from tests.test_hostile import SPECS, Mock, baseline_body, fields

PROVIDERS = providers.names()

# -- render_error: every problem, in the provider's own format ----------------------------------------------

PROBLEMS = (
    Problem("body", "colour", "Invalid request body: Additional properties are not allowed ('colour' was "
                              "unexpected).", "unknown"),
    Problem("body", "lines/1/glAccount", 'Invalid request body at `lines/1`: "glAccount" is a required property.',
            "missing"),
    Problem("body", "lines/0/txnAmount", 'Invalid request body at `lines/0/txnAmount`: "1.001" does not match '
                                         '"^\\d+(\\.\\d{1,2})?$".', "invalid"),
    Problem("query", "size", "Invalid query parameter `size`: 4001 is greater than the maximum of 4000."),
)


def several() -> ApiError:
    return validation_error(PROBLEMS[0].message + " (3 more problems listed)", problems=PROBLEMS)


def rendered(make_app, name: str, error: ApiError, path: str = "/x") -> dict:
    return provider(make_app(providers=(name,)), name).render_error(error, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                                                                    path)


def test_count_joins_every_problem_into_its_one_message(make_app):
    body = rendered(make_app, "count", several())
    assert set(body) == {"status", "statusCode", "error", "message", "isOperational", "requestId"}
    assert body["error"] == "validation_error" and body["statusCode"] == 400
    for problem in PROBLEMS:
        assert problem.message in body["message"]


def test_intacct_lists_every_problem_in_details(make_app):
    error = rendered(make_app, "intacct", several())["ia::result"]["ia::error"]
    assert (error["code"], error["errorId"]) == ("invalidRequest", "REST-1064")
    assert [(d["errorId"], d["target"]) for d in error["details"]] == [
        ("REST-1043", "/colour"), ("REST-1045", "/lines/1/glAccount"), ("REST-1046", "/lines/0/txnAmount"),
        ("REST-1046", "/size")]
    assert error["details"][0]["message"] == "/colour is not a valid field"  # the vendor spec's sample wording
    assert error["details"][1]["message"] == "/lines/1/glAccount is required"
    assert "does not match" in error["details"][2]["message"]
    assert all(d["code"] == "invalidRequest" and d["additionalInfo"]["messageId"] for d in error["details"])


def test_codat_lists_every_problem_in_validation_errors(make_app):
    body = rendered(make_app, "codat", several())
    assert body["error"] == "Error processing request - not valid."
    assert [(i.get("itemId"), i["message"]) for i in body["validation"]["errors"]] == [
        ("colour", PROBLEMS[0].message), ("lines[1].glAccount", PROBLEMS[1].message),
        ("lines[0].txnAmount", PROBLEMS[2].message), ("size", PROBLEMS[3].message)]
    assert body["validation"]["warnings"] == []


def test_codat_bad_paging_is_a_malformed_query_listing_both_parameters(make_app):
    codat = CodatClient(make_app(providers=("codat",)))
    body = codat.get("/companies", params={"page": 0, "pageSize": 0}).get_json()
    assert body["statusCode"] == 400 and body["error"] == "Error parsing query - Malformed query."
    assert [i["itemId"] for i in body["validation"]["errors"]] == ["page", "pageSize"]


def test_aden_lists_every_problem_in_error_details(make_app):
    body = rendered(make_app, "aden", several())
    assert body["error"]["code"] == "VALIDATION_ERROR"
    details = body["error"]["details"]
    assert details["field"] == "colour"
    assert details["errors"] == [{"field": p.field.replace("/", "."), "location": p.location, "message": p.message}
                                 for p in PROBLEMS]


@pytest.mark.parametrize("name", PROVIDERS)
def test_an_error_without_a_problem_list_renders_as_it_always_did(make_app, name):
    """`problems` empty: the one message, and no detail list made up from nothing."""
    body = rendered(make_app, name, validation_error("`date` must be YYYY-MM-DD."))
    text = json.dumps(body)
    assert "`date` must be YYYY-MM-DD." in text
    if name == "count":
        assert body["message"] == "`date` must be YYYY-MM-DD."
    elif name == "intacct":
        assert "details" not in body["ia::result"]["ia::error"]
    elif name == "codat":
        assert body["validation"]["errors"] == [{"message": "`date` must be YYYY-MM-DD.", "validatorName": "Request"}]
    else:
        assert body == {"error": {"code": "VALIDATION_ERROR", "message": "`date` must be YYYY-MM-DD."}}


# -- end to end: a body broken in several ways --------------------------------------------------------------

def test_count_schema_invalid_entry_names_every_field_in_its_message(make_app):
    count = CountClient(make_app(providers=("count",)))
    answer = count.post("/journal-entries", {"descriptionEntry": 5, "date": "31/01/2025",
                                             "lines": [{"accountUuid": "x", "amountDebit": "10.00"}]})
    body = answer.get_json()
    assert answer.status_code == 400 and body["error"] == "validation_error"
    for field in ("`descriptionEntry`", "`date`", "`lines`", "`lines/0/accountUuid`"):
        assert field in body["message"], body["message"]


def test_intacct_schema_invalid_entry_has_one_detail_per_problem(make_app):
    ia = IntacctClient(make_app(providers=("intacct",)))
    body = intacct_entry(colour="red")
    body["lines"][0]["txnAmount"] = "1.001"
    del body["lines"][1]["glAccount"]
    error = ia.post(JE, body).get_json()["ia::result"]["ia::error"]
    assert error["errorId"] == "REST-1064"
    assert sorted((d["errorId"], d["target"]) for d in error["details"]) == [
        ("REST-1043", "/colour"), ("REST-1045", "/lines/1/glAccount"), ("REST-1046", "/lines/0/txnAmount")]


def test_intacct_several_unknown_fields_are_one_detail_each(make_app):
    ia = IntacctClient(make_app(providers=("intacct",)))
    error = ia.post(JE, intacct_entry(colour="red", flavour="sweet")).get_json()["ia::result"]["ia::error"]
    assert sorted(d["target"] for d in error["details"] if d["errorId"] == "REST-1043") == ["/colour", "/flavour"]


def test_codat_schema_invalid_push_has_one_validation_error_per_problem(make_app):
    codat = CodatClient(make_app(providers=("codat",)))
    body = codat.push({"postedOn": 5, "journalLines": [{"netAmount": "x", "accountRef": {}},
                                                       {"accountRef": {"id": 3}}]}).get_json()
    assert body["statusCode"] == 400 and body["error"] == "Error processing request - not valid."
    assert sorted(i["itemId"] for i in body["validation"]["errors"]) == [
        "journalLines[0].accountRef.id", "journalLines[0].netAmount", "journalLines[1].accountRef.id",
        "journalLines[1].netAmount", "postedOn"]


def test_aden_schema_invalid_entry_lists_every_field(make_app):
    aden = AdenClient(make_app(providers=("aden",)))
    body = aden_entry("JE-X", currency="usd")
    body["tran_date"], body["lines"] = "2025-13-01", body["lines"][:1]
    error = aden.post("/journal-entries", body).get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert sorted((e["field"], e["location"]) for e in error["details"]["errors"]) == [
        ("currency", "body"), ("lines", "body"), ("tran_date", "body")]
    assert error["details"]["field"] == error["details"]["errors"][0]["field"]


def test_aden_bad_query_parameters_are_all_listed(make_app):
    aden = AdenClient(make_app(providers=("aden",)))
    error = aden.get("/journal-entries", params={"limit": 0, "offset": -1}).get_json()["error"]
    assert [(e["field"], e["location"]) for e in error["details"]["errors"]] == [("limit", "query"),
                                                                              ("offset", "query")]


# -- no message echoes more than an excerpt of the request ----------------------------------------------------

def test_a_101_row_bulk_body_is_refused_in_a_short_message(make_app):
    """Once the whole array came back in the message: 24 KB for 101 rows."""
    count = CountClient(make_app(providers=("count",)))
    answer = count.post("/journal-entries/bulk", {"journalEntries": [count_entry()] * 101})
    body = answer.get_json()
    assert answer.status_code == 400 and body["error"] == "validation_error"
    assert "has more than 100 items" in body["message"] and len(body["message"]) < 300, body["message"]
    assert len(answer.data) < 600


LONG = "Q" * 5000  # no provider stores or refuses a value with a reason that needs it whole
LEAK = "Q" * (EXCERPT + 1)


def long_variants(name: str, op, base):
    """The baseline request with one place holding LONG: each body value, a new key in each body object, the
    whole body, each path and query parameter (and an undeclared one), each header the mock reads."""
    parsed = baseline_body(SPECS[name], op)
    if parsed is not None:
        for at in fields(parsed):
            changed = copy.deepcopy(parsed)
            *outer, last = at
            holder = changed
            for key in outer:
                holder = holder[key]
            holder[last] = LONG
            yield "body/" + "/".join(map(str, at)), replace(base, body=json.dumps(changed).encode())
        for at in [(), *(at for at in fields(parsed))]:
            changed = copy.deepcopy(parsed)
            holder = changed
            for key in at:
                holder = holder[key]
            if isinstance(holder, dict):
                holder[LONG] = 1
                yield "key at body/" + "/".join(map(str, at)), replace(base, body=json.dumps(changed).encode())
        yield "whole body", replace(base, body=json.dumps(LONG).encode())
        yield "101 long rows", replace(base, body=json.dumps([{"a": LONG[:200]}] * 101).encode())
    for param in op.parameters:
        if param.location in ("path", "query"):
            yield f"{param.location}/{param.name}", replace(base, **{param.location: {
                **getattr(base, param.location), param.name: LONG.encode()}})
    yield "undeclared query", replace(base, query={**base.query, LONG: b"1"})
    headers = ["X-Ledger-Mock-Fault", "Content-Type", *(p.name for p in op.parameters if p.location == "header")]
    for header in headers:
        yield f"header {header}", replace(base, headers={**base.headers, header: LONG.encode()})
    yield "fault header key", replace(base, headers={**base.headers, "X-Ledger-Mock-Fault": (LONG + "=1").encode()})


@pytest.mark.parametrize("name", PROVIDERS)
def test_no_error_echoes_more_than_an_excerpt_of_a_long_value(make_app, name):
    mock = Mock(make_app(providers=(name,)))
    leaks, refused = [], 0
    for op in SPECS[name].operations.values():
        base = mock.baseline(name, op)
        for where, probe in long_variants(name, op, base):
            answer = mock.send(probe)
            if answer.status_code >= 400:
                refused += 1
                text = answer.get_data(as_text=True).upper()  # a media type comes back lower-cased
                if LEAK in text:
                    at = text.index(LEAK)
                    leaks.append(f"{op.id} {where}: {answer.status_code} ...{text[max(0, at - 120):at + 90]}")
    assert refused > 20, "the long values were not refused anywhere: the sweep proves nothing"
    assert not leaks, f"{len(leaks)} errors echo more than {EXCERPT} characters of the request:\n" + \
                      "\n".join(leaks[:30])


# -- Aden's ledger rules carry the details they document -------------------------------------------------------

def aden_error(response, status, code):
    body = response.get_json()
    assert response.status_code == status and body["error"]["code"] == code, body
    return body["error"]


def test_aden_period_rules_name_the_period(make_app):
    aden = AdenClient(make_app(providers=("aden",)))
    closed = aden_error(aden.post("/journal-entries", aden_entry("JE-C", date="2023-12-05")), 409, "PERIOD_CLOSED")
    assert closed["details"] == {"period_id": "P2023M12", "period_name": "December 2023"}
    again = aden_error(aden.post("/accounting-periods/P2023M12/close", {}), 409, "PERIOD_CLOSED")
    assert {k: again["details"][k] for k in ("period_id", "period_name")} == {"period_id": "P2023M12",
                                                                              "period_name": "December 2023"}
    locked = aden_error(aden.post("/journal-entries", aden_entry("JE-L", date="2024-03-05")), 409,
                        "SUBLEDGER_LOCKED")
    assert locked["details"] == {"period_id": "P2024M03", "period_name": "March 2024", "subledger": "GL"}
    outside = aden_error(aden.post("/journal-entries", aden_entry("JE-O", date="2024-04-05",
                                                                  posting_period_id="P2024M03")),
                         400, "DATE_OUTSIDE_PERIOD")
    assert outside["details"] == {"tran_date": "2024-04-05", "period_id": "P2024M03", "period_name": "March 2024",
                                  "start_date": "2024-03-01", "end_date": "2024-03-31"}
    hard = aden_error(aden.post("/accounting-periods/P2023M11/reopen", {"reason": "fix"}), 409, "HARD_CLOSED")
    assert hard["details"] == {"period_id": "P2023M11", "period_name": "November 2023"}


@pytest.mark.parametrize(("path", "key"), [("/journal-entries/JE-NOPE", "journal_entry_id"),
                                           ("/journal-entries/JE-NOPE/audit-trail", "journal_entry_id"),
                                           ("/accounts/9999", "account_id"),
                                           ("/accounts/9999/balance?start_date=2025-01-01&end_date=2025-01-31",
                                            "account_id"),
                                           ("/accounting-periods/NOPE", "period_id"),
                                           ("/approval-rules/NOPE", "rule_id")])
def test_aden_not_found_names_the_id(make_app, path, key):
    aden = AdenClient(make_app(providers=("aden",)))
    error = aden_error(aden.get(path), 404, "NOT_FOUND")
    assert error["details"] == {key: path.split("/")[2]}


def test_aden_not_found_on_an_action_names_the_id(make_app):
    aden = AdenClient(make_app(providers=("aden",)))
    error = aden_error(aden.post("/journal-entries/JE-NOPE/submit-for-approval", {}), 404, "NOT_FOUND")
    assert error["details"] == {"journal_entry_id": "JE-NOPE"}


# -- injected faults speak the provider's language for their status -----------------------------------------

UNLISTED = (402, 418, 501, 507)  # statuses faults.CODES does not name: each provider picks its closest code
STATUSES = (*sorted(faults.CODES), *UNLISTED)
TOO_MANY = "You have made too many requests in a given amount of time; please retry later."
OFFLINE = "The Codat API is temporarily offline for maintenance. Please try again later."
SERVER = "There is a problem with our server. Please try again later."
NOT_VALID = "Error processing request - not valid."
IA_UNAVAILABLE = ("serviceUnavailable", "REST-1503")
EXPECTED = {
    # COUNT `error` (dossier section 8): internal_error is its only 5xx name; no 409 or 422 of its own.
    "count": {400: "validation_error", 401: "invalid_token", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 408: "request_timeout", 409: "duplicate", 413: "payload_too_large",
              415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited", 500: "internal_error",
              502: "internal_error", 503: "internal_error", 504: "internal_error", 402: "validation_error",
              418: "validation_error", 501: "internal_error", 507: "internal_error"},
    # Intacct (`code`, `errorId`): GW-0010 for 429 (dossier D14).
    "intacct": {400: ("invalidRequest", "REST-1064"), 401: ("unauthorized", "REST-2101"),
                403: ("forbidden", "REST-1403"), 404: ("notFound", "REST-1100"),
                405: ("methodNotAllowed", "REST-1105"), 408: ("invalidRequest", "REST-1408"),
                409: ("conflict", "REST-1409"), 413: ("invalidRequest", "REST-1413"),
                415: ("invalidRequest", "REST-1415"), 422: ("businessRuleViolation", "REST-1422"),
                429: ("tooManyRequests", "GW-0010"), 500: ("internalError", "REST-1500"), 502: IA_UNAVAILABLE,
                503: IA_UNAVAILABLE, 504: IA_UNAVAILABLE, 402: ("invalidRequest", "REST-1402"),
                418: ("invalidRequest", "REST-1418"), 501: ("internalError", "REST-1500"),
                507: ("internalError", "REST-1500")},
    # Codat `error` text (vendor spec components/responses).
    "codat": {400: NOT_VALID, 401: "Unauthorized", 403: "You are using an outdated API key or a key not associated "
              "with that resource.", 404: "One or more of the resources you referenced could not be found.",
              405: NOT_VALID, 408: NOT_VALID, 409: "The data set has not been requested.", 413: NOT_VALID,
              415: NOT_VALID, 422: NOT_VALID, 429: TOO_MANY, 500: SERVER, 502: OFFLINE, 503: OFFLINE, 504: OFFLINE,
              402: "Company limit exceeded", 418: NOT_VALID, 501: SERVER, 507: SERVER},
    # Aden `error.code` (dossier section 9): no rate limit and no 5xx code documented.
    "aden": {400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
             405: "METHOD_NOT_ALLOWED", 408: "REQUEST_TIMEOUT", 409: "INVALID_STATUS", 413: "PAYLOAD_TOO_LARGE",
             415: "UNSUPPORTED_MEDIA_TYPE", 422: "VALIDATION_ERROR", 429: "RATE_LIMITED",
             500: "INTERNAL_ERROR", 502: "SERVICE_UNAVAILABLE", 503: "SERVICE_UNAVAILABLE",
             504: "SERVICE_UNAVAILABLE", 402: "VALIDATION_ERROR", 418: "VALIDATION_ERROR", 501: "INTERNAL_ERROR",
             507: "INTERNAL_ERROR"},
}


def code_of(name: str, body: dict):
    """What a client of `name` branches on."""
    if name == "count":
        return body["error"]
    if name == "intacct":
        error = body["ia::result"]["ia::error"]
        return error["code"], error["errorId"]
    if name == "codat":
        return body["error"]
    return body["error"]["code"]


def test_every_status_a_fault_may_name_has_a_code_for_every_provider():
    for name in PROVIDERS:
        assert set(faults.CODES) <= set(EXPECTED[name]), name


@pytest.fixture(scope="module")
def one_app_each():
    """Read-only use: one app per provider for the whole status matrix (faults by header change nothing)."""
    from datetime import UTC, datetime

    from mock_server.app import create_app
    from mock_server.config import Config
    return {name: create_app(Config(frozen_time=datetime(2025, 2, 15, 12, tzinfo=UTC), validate_responses=True,
                                    rate_limiting=False, providers=(name,))) for name in PROVIDERS}


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("name", PROVIDERS)
def test_a_forced_status_answers_in_the_providers_code_for_it(one_app_each, name, status):
    answer = read(one_app_each[name], name, **{"X-Ledger-Mock-Fault": f"status={status}"})
    body = answer.get_json()
    assert answer.status_code == status, body
    assert code_of(name, body) == EXPECTED[name][status], body
    if name in ("count", "codat"):
        assert body["statusCode"] == status
    if status in (429, 503):
        assert answer.headers["Retry-After"] == "1"


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_rate_limit_rule_answers_in_the_providers_429(make_app, name):
    app = make_app(providers=(name,))
    app.test_client().post("/_mock/faults", json={"provider": name, "limit": 1, "window_s": 60})
    assert read(app, name).status_code == 200
    limited = read(app, name)
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert code_of(name, limited.get_json()) == EXPECTED[name][429]
    if name == "count":
        assert limited.get_json()["type"] == "RATE_LIMITED"


@pytest.mark.parametrize("name", PROVIDERS)
def test_admin_and_fixture_faults_answer_like_the_header(make_app, tmp_path, name):
    folder = tmp_path / "fixtures"
    shutil.copytree(data_dir("fixtures"), folder)
    (folder / "_mock.yaml").write_text(
        f"_mock:\n  faults:\n    - {{provider: {name}, operation: {OPERATIONS[name]}, status: 503, times: 1}}\n")
    app = make_app(fixtures=folder, providers=(name,))
    from_fixture = read(app, name)
    assert from_fixture.status_code == 503 and code_of(name, from_fixture.get_json()) == EXPECTED[name][503]
    app.test_client().post("/_mock/faults", json={"provider": name, "status": 503, "times": 1})
    from_admin = read(app, name)
    assert from_admin.status_code == 503 and code_of(name, from_admin.get_json()) == EXPECTED[name][503]


def test_codat_keeps_the_operators_own_message(make_app):
    app = make_app(providers=("codat",))
    answer = read(app, "codat", **{"X-Ledger-Mock-Fault": "status=503; message=planned outage"})
    assert answer.status_code == 503 and answer.get_json()["error"] == "planned outage"


@pytest.mark.parametrize(("status", "code"), [(429, "temporarily_unavailable"), (503, "temporarily_unavailable"),
                                              (500, "server_error"), (401, "invalid_client"),
                                              (400, "invalid_request")])
def test_intacct_token_endpoint_faults_answer_in_rfc_6749_codes(one_app_each, status, code):
    answer = one_app_each["intacct"].test_client().post(
        "/intacct/ia/api/v1/oauth2/token", headers={"X-Ledger-Mock-Fault": f"status={status}"},
        data={"grant_type": "client_credentials", "client_id": "mock-client", "client_secret": "mock-secret",
              "username": "admin@DEMO"})
    assert answer.status_code == status and answer.get_json()["error"] == code, answer.get_json()
