"""COUNT's HMAC signing, checked against the dossier's test vectors."""

from mock_server.auth import hmac_signing as s

SECRET, TS = "example-client-secret", "1735689600"
BODY = (b'{"descriptionEntry":"Accrue rent","date":"2025-01-31","lines":[{"accountUuid":"11111111-1111-4111-8111-'
        b'111111111111","amountDebit":"1000.00"},{"accountUuid":"22222222-2222-4222-8222-222222222222",'
        b'"amountCredit":"1000.00"}]}')


def test_get_vector():
    assert s.sign(SECRET, "GET", "/partners/chart-of-accounts", TS) == \
        "9ceca8bb2ba5efc98aaf6ff93c09f2b9b687a9f3c8fb271fa761a1e6312c853c"


def test_post_vector():
    assert s.body_hash("POST", BODY) == "c8da0bcafcf2fb41c47251f56156e3754bbfede2162604f441895a46eabdd228"
    assert s.string_to_sign("POST", "/journal-entries", TS, s.body_hash("POST", BODY)).startswith(
        "POST:/journal-entries:1735689600:c8da0bca")
    assert s.sign(SECRET, "POST", "/partners/journal-entries", TS, BODY) == \
        "48234a73fbef3d4209435deaecf95e7e3709c8eedde0c3a7fcda1a716f7805b6"


def test_empty_object_hash():
    assert s.EMPTY_OBJECT_HASH == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


def test_signed_path_drops_mount_partners_and_query():
    assert s.signed_path("/count/partners/tags?search=re") == "/tags"
    assert s.signed_path("/partners") == "/"
    assert s.signed_path("/partners/journal-entries/abc") == "/journal-entries/abc"


def test_verify_accepts_any_hex_case_and_rejects_tampering():
    good = s.sign(SECRET, "POST", "/partners/journal-entries", TS, BODY)
    assert s.verify(SECRET, "POST", "/count/partners/journal-entries", TS, BODY, good.upper())
    assert not s.verify(SECRET, "POST", "/partners/journal-entries", TS, BODY.replace(b"1000.00", b"1000.01"), good)
    assert not s.verify(SECRET, "POST", "/partners/journal-entries/x", TS, BODY, good)
    assert not s.verify("other-secret", "POST", "/partners/journal-entries", TS, BODY, good)
    assert not s.verify(SECRET, "POST", "/partners/journal-entries", "1735689601", BODY, good)


def test_verify_accepts_javascript_reserialisation_of_the_body():
    """A client that signed JSON.stringify(data) while its HTTP library sent the body pretty-printed (D4)."""
    compact = b'{"name":"Rent","amount":1.5,"n":2}'
    pretty = b'{\n  "name": "Rent",\n  "amount": 1.50,\n  "n": 2.0\n}'
    signature = s.sign(SECRET, "POST", "/partners/tags", TS, compact)
    assert s.verify(SECRET, "POST", "/partners/tags", TS, pretty, signature)


def test_body_less_post_accepts_empty_and_empty_object_hash():
    for signed in (b"", b"{}"):
        signature = s.sign(SECRET, "POST", "/partners/refresh-user-access-token", TS, signed)
        assert s.verify(SECRET, "POST", "/partners/refresh-user-access-token", TS, b"{}", signature)
        assert s.verify(SECRET, "POST", "/partners/refresh-user-access-token", TS, b"", signature)


def test_wire_path_prefers_the_raw_uri_and_rebuilds_it_as_a_url_parser_would():
    assert s.wire_path({"RAW_URI": "/count/partners/x/%C3%A9?q=%20", "PATH_INFO": "/ignored"}) == \
        "/count/partners/x/%C3%A9"
    assert s.wire_path({"REQUEST_URI": "/partners/x/%c3%a9", "PATH_INFO": "/ignored"}) == "/partners/x/%c3%a9"
    decoded = "/partners/x/\u00e9 \"#<>?`{}%!$&'()*+,;=:@[]^|~".encode().decode("latin-1")  # WSGI's Latin-1 form
    assert s.wire_path({"SCRIPT_NAME": "/count", "PATH_INFO": decoded}) == \
        "/count/partners/x/%C3%A9%20%22%23%3C%3E%3F%60%7B%7D%25!$&'()*+,;=:@[]%5E|~"


def test_verify_tries_each_path_form_in_turn():
    signature = s.sign(SECRET, "DELETE", "/partners/journal-entries/%C3%A9", TS)
    assert s.verify(SECRET, "DELETE", ("/partners/journal-entries/%C3%A9", "/partners/journal-entries/\u00e9"), TS,
                    b"", signature)
    assert not s.verify(SECRET, "DELETE", "/partners/journal-entries/\u00e9", TS, b"", signature)
    assert s.expected_base("DELETE", ("/count/partners/a%20b", "/count/partners/a b"), TS, b"x") == \
        f"DELETE:/a%20b:{TS}:"
