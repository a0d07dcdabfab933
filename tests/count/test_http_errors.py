"""Every failure is a COUNT error envelope, never Flask's HTML, and every documented response matches the spec."""

from __future__ import annotations

from mock_server import data_dir
from tests.count.conftest import assert_error, entry_body


def test_unknown_route_and_wrong_method(count):
    assert_error(count.get("/nothing-here"), 404, "not_found", "Route not found.")
    wrong = count.request("PUT", "/journal-entries", entry_body())
    assert_error(wrong, 405, "method_not_allowed")
    assert set(wrong.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_malformed_json_and_wrong_content_type(count):
    assert_error(count.post("/tags", raw=b'{"name": "x",'), 400, "validation_error", "Malformed JSON")
    assert_error(count.post("/tags", raw=b'{"name": NaN}'), 400, "validation_error", "Malformed JSON")
    assert_error(count.post("/tags", raw=b"name=x", content_type="application/x-www-form-urlencoded"), 415,
                 "unsupported_media_type", "application/json")
    assert_error(count.post("/tags", raw=b"[1, 2]"), 400, "validation_error", "body")
    assert_error(count.post("/tags"), 400, "validation_error", "body is required")


def test_oversized_body(count):
    huge = b'{"name": "' + b"x" * (1 << 20) + b'"}'
    assert_error(count.post("/tags", raw=huge), 413, "payload_too_large")


def test_schema_violation_names_the_field(count):
    response = count.post("/journal-entries", {"descriptionEntry": "x", "date": "2025-01-01",
                                               "lines": [{"amountDebit": "1"}, {"amountCredit": "1"}]})
    assert_error(response, 400, "validation_error", "lines/0")


def test_money_stays_exact_through_large_amounts(count):
    amount = "9999999999999.99"
    body = entry_body(("a0000000-0000-4000-8000-000000006000", amount, None),
                      ("a0000000-0000-4000-8000-000000002200", None, amount))
    created = count.post("/journal-entries", body).get_json()["data"]
    assert created["totalDebit"] == amount and created["lines"][0]["amountDebit"] == amount


def test_one_provider_at_its_real_root_paths(make_app):
    from tests.count.conftest import CountClient
    app = make_app(providers=("count",), root_provider="count")
    count = CountClient(app, prefix="/partners")
    assert count.get("/tags").status_code == 200
    assert count.http.get("/count/partners/tags").status_code == 404


def test_startup_refuses_a_spec_and_handlers_that_disagree():
    import pytest

    from mock_server.spec import Spec, check_handlers
    spec = Spec(data_dir("openapi") / "count.yaml")
    handlers = {operation_id: None for operation_id in spec.operations}
    check_handlers(spec, handlers, "count")
    with pytest.raises(RuntimeError, match=r"operations without handlers \['listTags'\]"):
        check_handlers(spec, {k: v for k, v in handlers.items() if k != "listTags"}, "count")
    with pytest.raises(RuntimeError, match=r"handlers without operations \['archiveTag'\]"):
        check_handlers(spec, {**handlers, "archiveTag": None}, "count")


def test_a_static_path_shadows_the_templated_one_for_every_method(count):
    """`/journal-entries/bulk` is the bulk path, never the entry with id "bulk": other methods there are 405."""
    response = count.delete("/journal-entries/bulk")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST"
    assert count.delete("/journal-entries/e0000000-0000-4000-8000-000000000004").status_code == 200


def test_head_answers_like_get_without_a_body(count):
    """Health checks and proxies probe with HEAD: the GET's status and headers, no body."""
    got, head = count.get("/journal-entries"), count.request("HEAD", "/journal-entries")
    assert head.status_code == got.status_code == 200
    assert head.data == b"" and head.headers["Content-Length"] == got.headers["Content-Length"]
    assert count.request("HEAD", "/journal-entries/bulk").status_code == 405
