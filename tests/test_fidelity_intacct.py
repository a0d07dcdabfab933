"""Sage Intacct behaviours that openapi/intacct.fidelity.yaml names and no other test proves.

Tests named `test_departs_*` pin a departure from Intacct's documentation exactly as the mock behaves today. When a
change makes the mock faithful, such a test fails on purpose: update the ledger entry that names it (status,
`departure:` text) together with the test.
"""

from __future__ import annotations

import json

from tests.conftest import advance
from tests.intacct.conftest import API, JE, WF, IntacctClient, assert_error, entry_body
from tests.intacct.conftest import app, ia  # noqa: F401  (the fixtures, shared with tests/intacct/)

TOKEN = API + "/oauth2/token"
CLIENT = {"client_id": "mock-client", "client_secret": "mock-secret"}
ENTRY = "general-ledger/journal-entry"
WARNING = "X-Ledger-Mock-Warning"


def token(ia, **form):
    return ia.http.post(TOKEN, data={**CLIENT, **form})


def details(response):
    return response.get_json()["ia::result"]["ia::error"].get("details", [])


# -- authentication ------------------------------------------------------------------------------------------

def test_refresh_tokens_live_thirty_days_on_the_mock_clock(app, ia):
    """D3: a refresh token lives 30 days; after that the refresh grant is invalid_grant."""
    fresh, stale = ia.token_for("jane@DEMO"), ia.token_for("ann@DEMO")
    advance(app, 30 * 24 * 3600 - 1)
    assert token(ia, grant_type="refresh_token", refresh_token=fresh["refresh_token"]).status_code == 200
    advance(app, 2)
    expired = token(ia, grant_type="refresh_token", refresh_token=stale["refresh_token"])
    assert expired.status_code == 400 and expired.get_json()["error"] == "invalid_grant"


def test_departs_the_entity_header_partitions_nothing(app, ia):
    """D6: the entity (`|entityId` in the username, or X-IA-API-Param-Entity) is recorded but does not partition
    the company's data, and an entry's `entity` stays null."""
    everything = ia.get(JE).get_json()["ia::result"]
    in_entity = ia.get(JE, headers={"X-IA-API-Param-Entity": "US1"})
    assert in_entity.status_code == 200 and in_entity.get_json()["ia::result"] == everything
    other = IntacctClient(app, ia.token_for("jane@DEMO|EU2")["access_token"])
    assert other.get(JE).get_json()["ia::result"] == everything
    key = other.create()
    assert ia.entry(key)["entity"] == {"key": None, "id": None, "name": None}


def test_departs_no_rate_limit_of_its_own(make_app):
    """D14: Intacct's gateway answers 429 GW-0010 under load; the mock (rate limiting on) never does by itself."""
    ia = IntacctClient(make_app(providers=("intacct",), rate_limiting=True))
    assert {ia.get(JE).status_code for _ in range(150)} == {200}


def test_checks_run_auth_then_path_key_then_schema_then_rules(ia):
    """D2: route, auth (401), path key (404), schema (400), rules (422); workflow keys after the schema."""
    assert_error(ia.patch(f"{JE}/999", {"postingDate": "not-a-date"}, token="bad"), 401, "REST-2102")
    assert_error(ia.patch(f"{JE}/999", {"postingDate": "not-a-date"}), 404, "REST-1100")
    assert_error(ia.patch(f"{JE}/17", {"postingDate": "not-a-date", "glJournal": {"id": "ADJ"}}), 400, "REST-1064")
    assert_error(ia.patch(f"{JE}/17", {"glJournal": {"id": "ADJ"}}), 422, "GL-1009")
    assert_error(ia.post(f"{WF}/reverse", {"key": "999"}), 400, "REST-1064")
    assert_error(ia.post(f"{WF}/reverse", {"key": "999", "reverseDate": "2030-01-01"}), 404, "REST-1100")


# -- journal entries -----------------------------------------------------------------------------------------

def test_departs_number_of_units_beyond_int32_is_refused(ia):
    """Issue 17 item 6: a numberOfUnits the books cannot sum within 64 bits is refused (400, REST-1046 detail),
    where the vendor schema says only `integer`; the 500 on read that issue 17 reports no longer happens."""
    body = entry_body()
    body["lines"][0]["numberOfUnits"] = 10 ** 20
    refused = ia.post(JE, body)
    assert_error(refused, 400, "REST-1064")
    assert details(refused)[0]["target"] == "/lines/0/numberOfUnits"
    body["lines"][0]["numberOfUnits"] = 2 ** 31 - 1
    assert ia.entry(ia.create(body))["lines"][0]["numberOfUnits"] == 2 ** 31 - 1


def test_departs_another_currency_or_rate_is_refused(ia):
    """D16: the book is USD at rate 1; a line in another currency, or at another rate, is a 400 naming the member,
    where a multi-currency Intacct company would book it."""
    for currency, target in (({"txnCurrency": "EUR"}, "/lines/0/currency/txnCurrency"),
                             ({"baseCurrency": "GBP"}, "/lines/0/currency/baseCurrency"),
                             ({"exchangeRate": 1.1}, "/lines/0/currency/exchangeRate")):
        body = entry_body()
        body["lines"][0]["currency"] = currency
        refused = ia.post(JE, body)
        assert_error(refused, 400, "REST-1064")
        assert details(refused)[0]["target"] == target, details(refused)
    body = entry_body()
    body["lines"][0]["currency"] = {"txnCurrency": "USD", "exchangeRate": 1, "exchangeRateDate": "2025-02-01"}
    line = ia.entry(ia.create(body))["lines"][0]
    assert line["currency"]["txnCurrency"] == "USD" and line["baseAmount"] == line["txnAmount"]


def test_departs_tax_entries_are_kept_as_sent_not_computed(ia):
    """The spec's LineIn: taxEntries are kept as sent; an amount that does not match the rate is neither
    recomputed nor refused, and no tax line is posted."""
    before = ia.balance("6000")
    body = entry_body("100.00")
    body["lines"][0]["taxEntries"] = [{"txnTaxAmount": "99.00", "baseTaxAmount": "1.00", "taxRate": 5}]
    response = ia.post(JE, body)
    assert response.status_code == 201 and not response.headers.getlist(WARNING)
    line = ia.entry(response.get_json()["ia::result"]["key"])["lines"][0]
    assert line["taxEntries"] == [{"txnTaxAmount": "99.00", "baseTaxAmount": "1.00", "taxRate": 5}]
    assert ia.balance("6000") == before + 100


def test_departs_read_only_members_are_ignored_with_a_warning(ia):
    """ignored.py: read-only members (lineNumber, entryDate, baseAmount, a line's state, ...) are ignored as Sage
    ignores them, and each that differs from what the record shows is named in X-Ledger-Mock-Warning."""
    body = entry_body()
    body["lines"][0].update(lineNumber=7, entryDate="2020-01-01", baseAmount="1.00", state="draft")
    response = ia.post(JE, body)
    assert response.status_code == 201
    warnings = " ".join(response.headers.getlist(WARNING))
    for member in ("lines/0/lineNumber", "lines/0/entryDate", "lines/0/baseAmount", "lines/0/state"):
        assert member in warnings, warnings
    line = ia.entry(response.get_json()["ia::result"]["key"])["lines"][0]
    assert (line["lineNumber"], line["entryDate"], line["baseAmount"], line["state"]) == (
        1, "2025-02-01", "250.00", "posted")


def test_departs_dimensions_are_kept_unvalidated(ia):
    """D17: dimensions are stored as sent, by key and id, without checking that the object exists, and shown
    without a name."""
    body = entry_body()
    body["lines"][0]["dimensions"] = {"project": {"id": "NO-SUCH-PROJECT"}, "class": {"key": "424242"}}
    line = ia.entry(ia.create(body))["lines"][0]
    assert line["dimensions"]["project"] == {"key": None, "id": "NO-SUCH-PROJECT", "name": None}
    assert line["dimensions"]["class"] == {"key": "424242", "id": None, "name": None}


def test_departs_workflows_run_on_a_journal_without_approval_enabled(ia):
    """D8: `enableApproval` is not enforced: GJ has it false, yet a draft in it is submitted and approved."""
    assert ia.get("/objects/general-ledger/journal/1").get_json()["ia::result"]["enableApproval"] is False
    key = ia.create(state="draft")
    assert ia.workflow("submit", key).get_json()["ia::result"]["state"] == "submitted"
    assert ia.workflow("approve", key).get_json()["ia::result"]["state"] == "approved"


def test_departs_a_zero_amount_is_refused(ia):
    """The dossier's amount pattern `^\\d{1,13}(\\.\\d{1,2})?$` admits 0; the spec's Amount needs more than zero."""
    assert_error(ia.post(JE, entry_body("0.00")), 400, "REST-1064")
    assert ia.post(JE, entry_body("0.01")).status_code == 201


def test_body_too_large_is_413(ia):
    body = entry_body(description="x" * (2 * 1024 * 1024))
    assert_error(ia.post(JE, body), 413, "REST-1413", code="invalidRequest")


# -- workflows -----------------------------------------------------------------------------------------------

def test_departs_workflows_take_one_object_and_answer_one_of_one(ia):
    """D13: the seed's workflow samples answer meta 3/2/1 (a batch); the mock takes one object (an array is 400)
    and answers 1/1/0."""
    assert_error(ia.post(f"{WF}/submit", [{"key": "132"}]), 400, "REST-1064")
    answer = ia.workflow("submit", "132").get_json()
    assert answer["ia::meta"] == {"totalCount": 1, "totalSuccess": 1, "totalError": 0}


# -- query service -------------------------------------------------------------------------------------------

def test_departs_a_query_of_another_modules_object_is_unknown(ia):
    """The query service serves four general-ledger objects; Intacct's other objects (the SDK queries vendors,
    customers, dimensions...) are 400 REST-1201 "Unknown object" instead of rows."""
    for name in ("accounts-payable/vendor", "company-config/department", "general-ledger/reporting-period"):
        assert_error(ia.query(object=name), 400, "REST-1201", "Unknown object")


def test_query_service_serves_the_four_objects(ia):
    for name, total in ((ENTRY, 11), ("general-ledger/account", 9), ("general-ledger/journal", 5)):
        assert ia.query(object=name).get_json()["ia::meta"]["totalCount"] == total
    assert ia.query(object="general-ledger/journal-entry-line").get_json()["ia::meta"]["totalCount"] > 11


# -- errors and unknown input --------------------------------------------------------------------------------

def test_departs_missing_and_invalid_details_use_message_ids_the_mock_invented(ia):
    """Dossier section 9: REST-1043 / IA.NOT_A_VALID_FIELD is Sage's (vendor error-response example); the
    details for a missing member (REST-1045, IA.REQUIRED_FIELD_MISSING) and a bad value (REST-1046,
    IA.INVALID_VALUE) use ids the mock made up."""
    body = entry_body(colour="red")
    body["lines"][0]["txnAmount"] = "1.001"
    del body["lines"][1]["glAccount"]
    found = {d["errorId"]: d["additionalInfo"]["messageId"] for d in details(ia.post(JE, body))}
    assert found == {"REST-1043": "IA.NOT_A_VALID_FIELD", "REST-1045": "IA.REQUIRED_FIELD_MISSING",
                     "REST-1046": "IA.INVALID_VALUE"}


def test_departs_an_echoed_value_is_cut_to_80_characters(ia):
    """Any value an error message echoes is cut to its first 80 characters and an ellipsis; Sage echoes it whole."""
    key = "9" * 200
    error = assert_error(ia.get(f"{JE}/{key}"), 404, "REST-1100")
    assert "9" * 80 + "..." in error["message"] and "9" * 81 not in error["message"]


def test_departs_a_forced_503_answers_service_unavailable_rest_1503(ia):
    """Sage documents no REST errorId for an unavailable service: the mock answers code serviceUnavailable with
    errorId REST-1503 (and Retry-After), ids of its own."""
    answer = ia.get(JE, headers={"X-Ledger-Mock-Fault": "status=503"})
    error = assert_error(answer, 503, "REST-1503", code="serviceUnavailable")
    assert error["additionalInfo"]["messageId"] == "IA.SERVICE_UNAVAILABLE" and answer.headers["Retry-After"]


def test_unknown_query_parameters_are_ignored_with_a_warning_and_unknown_body_fields_refused(ia):
    listed = ia.get(JE, query_string={"colour": "red"})
    assert listed.status_code == 200 and "colour" in " ".join(listed.headers.getlist(WARNING))
    refused = ia.post(JE, entry_body(colour="red"))
    assert_error(refused, 400, "REST-1064")
    assert [(d["errorId"], d["target"], d["message"]) for d in details(refused)] == [
        ("REST-1043", "/colour", "/colour is not a valid field")]


def test_departs_an_operation_intacct_has_answers_501_not_implemented(ia):
    """Operations the ledger lists as not mocked answer 501 `notImplemented` REST-1501 (ids of the mock's own)
    in Intacct's envelope; Sage serves them."""
    for method, path in (("GET", "/services/company-config/dimensions/list"),
                         ("GET", "/objects/general-ledger/journal-entry-line/1"),
                         ("POST", "/objects/general-ledger/account")):
        answer = ia.request(method, path, json={} if method == "POST" else None)
        error = assert_error(answer, 501, "REST-1501", "not mock", code="notImplemented")
        assert error["additionalInfo"]["messageId"] == "IA.NOT_IMPLEMENTED"
        assert "/_mock/fidelity/intacct" in error["message"]
    # A method Intacct has on a path the mock serves is this 501 too, not a 405.
    assert_error(ia.patch("/objects/general-ledger/account/1", {"name": "x"}), 501, "REST-1501",
                 code="notImplemented")
    # A path neither has is still a 404.
    assert_error(ia.get("/objects/general-ledger/no-such-object"), 404, "REST-1100")


# -- added with the ledger: departures the tests above do not pin --------------------------------------------

def test_departs_a_json_token_request_is_accepted(ia):
    """Dossier sections 2-3: the token request is a form; the mock answers a JSON body as it answers the form."""
    as_json = ia.http.post(TOKEN, json={"grant_type": "client_credentials", "username": "jane@DEMO", **CLIENT})
    assert as_json.status_code == 200
    assert set(as_json.get_json()) >= {"access_token", "token_type", "expires_in", "refresh_token"}


def test_departs_a_missing_bearer_answers_invented_unauthorized_rest_2101(ia):
    """Dossier section 9: `unauthorized` REST-2101 is starred (mock-only); a bad token's REST-2102 is Sage's."""
    missing = ia.get(JE, token="")
    error = assert_error(missing, 401, "REST-2101", code="unauthorized")
    assert error["additionalInfo"]["messageId"] == "IA.AUTHORIZATION_REQUIRED"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(ia.get(JE, token="not-a-token"), 401, "REST-2102", "Token is not valid", code="tokenInvalid")


def test_departs_any_user_id_of_an_authorized_company_gets_a_token(app, ia):
    """D4: the mock has no user directory; any user id in a company that authorized the client gets a token."""
    stranger = IntacctClient(app, ia.token_for("nobody-at-all@DEMO")["access_token"])
    assert stranger.get(JE).get_json()["ia::result"] == ia.get(JE).get_json()["ia::result"]


def test_a_forced_429_is_the_gateways_gw_0010(ia):
    """D14: 429 GW-0010 is Sage's gateway id; forced, it carries Retry-After."""
    answer = ia.get(JE, headers={"X-Ledger-Mock-Fault": "status=429"})
    assert_error(answer, 429, "GW-0010", code="tooManyRequests")
    assert answer.headers["Retry-After"]


def test_departs_lists_page_by_start_and_size(ia):
    """D11: Sage's lists declare no parameters; the mock pages by `start` and `size` and refuses a size out of
    range with a 400."""
    everything = ia.get(JE).get_json()
    paged = ia.get(JE, query_string={"start": 2, "size": 3}).get_json()
    assert paged["ia::result"] == everything["ia::result"][1:4]
    assert paged["ia::meta"] == {"totalCount": everything["ia::meta"]["totalCount"], "start": 2, "pageSize": 3,
                                 "next": 5, "previous": 1}
    assert everything["ia::meta"]["pageSize"] == 100
    for path in (JE, "/objects/general-ledger/account", "/objects/general-ledger/journal"):
        assert len(ia.get(path, query_string={"size": 1}).get_json()["ia::result"]) == 1
        assert_error(ia.get(path, query_string={"size": 0}), 400, "REST-1064")
        assert_error(ia.get(path, query_string={"size": 4001}), 400, "REST-1064")


def test_departs_ledger_rules_answer_invented_gl_error_ids(ia):
    """Dossier section 9: a ledger rule is a 422 `businessRuleViolation` GL-10xx, ids the mock invented."""
    unbalanced = entry_body()
    unbalanced["lines"][1]["txnAmount"] = "10.00"
    error = assert_error(ia.post(JE, unbalanced), 422, "GL-1001", code="businessRuleViolation")
    assert error["additionalInfo"]["messageId"] == "IA.GL_RULE_VIOLATION"
    assert_error(ia.post(JE, entry_body(debit="9999")), 422, "GL-1003", code="businessRuleViolation")


def test_departs_a_reused_idempotency_key_answers_invented_conflict_rest_1409(ia):
    """D18 and dossier section 9: the same body replays; another body under the key is 409 `conflict` REST-1409."""
    first = ia.post(JE, entry_body(), headers={"Idempotency-Key": "k-1"})
    again = ia.post(JE, entry_body(), headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201 and again.get_json() == first.get_json()
    error = assert_error(ia.post(JE, entry_body("3.00"), headers={"Idempotency-Key": "k-1"}), 409, "REST-1409",
                         code="conflict")
    assert error["additionalInfo"]["messageId"] == "IA.IDEMPOTENCY_KEY_REUSED"


def test_departs_query_errors_use_invented_rest_120x_ids(ia):
    """Dossier section 9: one invented errorId per kind of query problem, messageId IA.INVALID_QUERY."""
    for body, error_id in (({"object": "general-ledger/nothing"}, "REST-1201"),
                           ({"object": ENTRY, "fields": ["nope"]}, "REST-1202"),
                           ({"object": ENTRY, "filters": [{"$has": {"id": "1"}}]}, "REST-1203"),
                           ({"object": ENTRY, "filterExpression": "1 and"}, "REST-1204"),
                           ({"object": ENTRY, "size": 4001}, "REST-1205")):
        error = assert_error(ia.query(**body), 400, error_id, code="invalidRequest")
        assert error["additionalInfo"]["messageId"] == "IA.INVALID_QUERY"


def test_departs_routing_and_body_errors_use_ids_the_mock_invented(ia):
    """Dossier section 9: 404 notFound REST-1100, 405 methodNotAllowed REST-1105 (with Allow), a body that is not
    JSON REST-1029, another Content-Type 415 REST-1415: Intacct's statuses, the mock's ids."""
    assert_error(ia.get(f"{JE}/999"), 404, "REST-1100", code="notFound")
    assert_error(ia.get("/objects/no-such-module/thing"), 404, "REST-1100", code="notFound")
    wrong = ia.request("PUT", f"{JE}/17", json={})
    assert_error(wrong, 405, "REST-1105", code="methodNotAllowed")
    assert "PATCH" in wrong.headers["Allow"]
    auth = {"Authorization": f"Bearer {ia.token}"}
    not_json = ia.http.post(API + JE, data=b"{", headers={**auth, "Content-Type": "application/json"})
    assert_error(not_json, 400, "REST-1029", code="invalidRequest")
    as_text = ia.http.post(API + JE, data=b"a=b", headers={**auth, "Content-Type": "text/plain"})
    assert_error(as_text, 415, "REST-1415", code="invalidRequest")


def test_departs_a_forced_502_or_504_answers_the_same_rest_1503(ia):
    """provider.py ERRORS: a forced 502 or 504 keeps its status but answers serviceUnavailable REST-1503."""
    for status in (502, 504):
        answer = ia.get(JE, headers={"X-Ledger-Mock-Fault": f"status={status}"})
        error = assert_error(answer, status, "REST-1503", code="serviceUnavailable")
        assert error["additionalInfo"]["messageId"] == "IA.SERVICE_UNAVAILABLE"


def test_departs_forced_403_422_and_408_use_error_ids_the_mock_invented(ia):
    """provider.py ERRORS: forced statuses Sage gives no REST id for answer ids the mock made up."""
    for status, code, error_id, message_id in (
            (403, "forbidden", "REST-1403", "IA.FORBIDDEN"),
            (422, "businessRuleViolation", "REST-1422", "IA.BUSINESS_RULE_VIOLATION"),
            (408, "invalidRequest", "REST-1408", "IA.REQUEST_TIMEOUT")):
        answer = ia.get(JE, headers={"X-Ledger-Mock-Fault": f"status={status}"})
        error = assert_error(answer, status, error_id, code=code)
        assert error["additionalInfo"]["messageId"] == message_id


def test_departs_an_unknown_query_parameter_is_named_in_a_warning_and_refused_under_strict(make_app):
    """D11: ignored as Intacct ignores it, but named in X-Ledger-Mock-Warning; `serve --strict` refuses it."""
    lenient = IntacctClient(make_app(providers=("intacct",)))
    answer = lenient.get("/objects/general-ledger/account", query_string={"colour": "red"})
    assert answer.status_code == 200 and "colour" in " ".join(answer.headers.getlist(WARNING))
    strict = IntacctClient(make_app(providers=("intacct",), refuse_ignored=True))
    refused = assert_error(strict.get("/objects/general-ledger/account", query_string={"colour": "red"}), 400,
                           "REST-1064")
    assert "colour" in json.dumps(refused)
