"""Hostile input against every operation of every spec: bad input gets a 4xx in the provider's own error envelope
(never a 500), and nothing a request carries breaks a later read.

Generated from openapi/*.yaml. Per operation, a plausibly valid baseline: fixture credentials, path ids listed
through the API (else the spec's example), required query parameters from their examples, the body from the
spec's request example (else a minimal object from the schema's required properties). Then every place a client
controls gets every catalogue value, once with valid credentials and once with broken ones (COUNT: signed with a
wrong secret over the hostile bytes; Intacct, Codat, Aden: a forged token; admin: a forged admin token):
the body as a whole and each of its fields at every depth, every declared query parameter and an undeclared one
(`access_token`), every path parameter, and every header the provider reads (its security headers, declared
header parameters, Content-Type, X-Ledger-Mock-Fault, Intacct's X-IA-API-Param-Entity). Each answer is < 500,
and a 4xx is the provider's error envelope. After all of an operation's variants every read still answers 2xx:
each GET of the served specs (ids listed afresh), /_mock/journal, /_mock/state and the inspector pages.

Catalogue (a JSON value in a body; its text, as raw bytes, in a query, path or header):
  nesting        [[..]] and {"a":{..}}, 100, 1000 and 100000 levels deep
  size           a 1 MB string; arrays of 100k numbers and of 100k objects (all within the 1 MiB body limit)
  numbers        10^20, 10^400, -10^30, 1e308, 1e-400, 1e400 (beyond a double), -0, NaN, Infinity, -Infinity
  number text    "1e999", "-1E-999", "1E+999999999", "NaN", "Infinity", "-0", 400 nines (a 400-digit x-timestamp)
  odd text       "", whitespace, NUL, "\\ud800" escaped, raw invalid UTF-8, RTL override, emoji with ZWJ,
                 combining marks, zero-width characters
  wrong types    {}, {"a": 1}, [], [1, "a"], true, false, null, 42
  objects        duplicate keys; undeclared secret-looking keys holding big numbers        (bodies only)
  whole body     not JSON (text, XML, a form, binary), empty, whitespace, truncated, UTF-8 BOM first, the baseline
                 plus secret-looking keys holding big numbers, the baseline with its first key repeated
  Content-Type   every text above, and text/plain, a form, XML, multipart, YAML, JSON in UTF-16, */*
"""

from __future__ import annotations

import copy
import gc
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Iterator
from urllib.parse import quote, quote_from_bytes

import jsonschema_rs
import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Response

from contract_tests.checks import error_envelope
from contract_tests.plugins import plugin
from mock_server import data_dir, providers
from mock_server.auth.hmac_signing import signature_headers
from mock_server.spec import Operation, Spec
from tests.conftest import provider, runtime

ADMIN, ADMIN_TOKEN = "admin", "hostile-suite-admin-token"


# -- the catalogue ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Hostile:
    name: str
    json: bytes  # as a JSON value in a body
    text: bytes | None  # as a query, path or header value (None: only a body can carry it)
    lists_only: bool = False  # in a body field only where the baseline holds a list


def literal(name: str, token: str, text: bool = True) -> Hostile:
    return Hostile(name, token.encode(), token.encode() if text else None)


def string(name: str, value: str) -> Hostile:
    return Hostile(name, json.dumps(value).encode(), value.encode("utf-8", "surrogatepass"))


SECRETS = f'{{"client_secret":{10**30},"apiToken":{-10**30},"password":1e308,"x-signature":{10**20}}}'
CATALOGUE = (
    *(literal(f"array-depth-{n}", "[" * n + "]" * n) for n in (100, 1000, 100_000)),
    *(literal(f"object-depth-{n}", '{"a":' * n + "null" + "}" * n, text=n < 100_000) for n in (100, 1000, 100_000)),
    string("string-1MB", "x" * 1_000_000),  # as text, too: the long strings below are only bodies' structure
    literal("array-100k-numbers", "[" + ",".join(["0"] * 100_000) + "]", text=False),
    replace(literal("array-100k-objects", "[" + ",".join(["{}"] * 100_000) + "]", text=False), lists_only=True),
    literal("int-10^20", str(10**20)), literal("int-10^400", str(10**400)), literal("int--10^30", str(-10**30)),
    literal("1e308", "1e308"), literal("1e-400", "1e-400"), literal("1e400", "1e400"), literal("-0", "-0"),
    literal("NaN", "NaN"), literal("Infinity", "Infinity"), literal("-Infinity", "-Infinity"),
    string("text-1e999", "1e999"), string("text--1E-999", "-1E-999"), string("text-1E+999999999", "1E+999999999"),
    string("text-NaN", "NaN"), string("text-Infinity", "Infinity"), string("text--0", "-0"),
    string("400-digits", "9" * 400),
    string("empty", ""), string("whitespace", " \t\u00a0\u3000 "), string("NUL", "a\u0000b"),
    string("lone-surrogate", "\ud800"), Hostile("invalid-utf8", b'"\xff\xfe\xc3("', b"\xff\xfe\xc3("),
    string("rtl-override", "\u202etxt.exe"), string("emoji", "\U0001f4b8\U0001f9fe\U0001f469\u200d\U0001f467"),
    string("combining-marks", "Z\u0351\u0362a\u0315\u035fl\u0322g\u0358o"), string("zero-width", "\u200b\u200c\u200d\ufeff"),
    literal("object-empty", "{}"), literal("object", '{"a":1}'), literal("array-empty", "[]"),
    literal("array", '[1,"a"]'), literal("true", "true"), literal("false", "false"), literal("null", "null"),
    literal("number-42", "42"),
    literal("duplicate-keys", '{"id":"a","id":{"id":null}}', text=False),
    literal("secret-keys-big-numbers", SECRETS, text=False),
)
TEXTS = tuple({h.text: h for h in reversed(CATALOGUE) if h.text is not None}.values())[::-1]  # one per text
NOT_JSON = {"not-json-text": b"this is not JSON", "not-json-xml": b'<?xml version="1.0"?><entry/>',
            "not-json-form": b"a=1&b=%FF", "not-json-binary": b"\x00\x01\xfe\xff", "empty-body": b"",
            "whitespace-body": b" \r\n\t "}
WRONG_MEDIA_TYPES = ("text/plain", "application/x-www-form-urlencoded", "application/xml",
                     "multipart/form-data; boundary=x", "application/yaml", "application/json; charset=utf-16", "*/*")


def whole_bodies(baseline: bytes, parsed: Any) -> Iterator[tuple[str, bytes]]:
    """What may stand for a whole body: every catalogue value, text that is not JSON, and the baseline mangled."""
    yield from ((h.name, h.json) for h in CATALOGUE)
    yield from NOT_JSON.items()
    yield "truncated", baseline[: len(baseline) // 2]
    yield "utf8-bom", b"\xef\xbb\xbf" + baseline
    if isinstance(parsed, dict) and parsed:
        yield "baseline+secret-keys", baseline[:-1] + b"," + SECRETS[1:].encode()
        first = next(iter(parsed))
        yield "baseline+first-key-repeated", baseline[:-1] + b"," + json.dumps({first: [[]]}).encode()[1:]


# -- the specs ----------------------------------------------------------------------------------------------

SPECS = {name: Spec(data_dir("openapi") / f"{name}.yaml") for name in (*providers.names(), ADMIN)}
MOUNTS = {name: f"/{name}" for name in providers.names()} | {ADMIN: "/_mock"}
HEADERS_OUTSIDE_SPEC = {"intacct": ("X-IA-API-Param-Entity",)}  # read by the provider, declared nowhere
SENTINEL = "__hostile_value__"
BIG = 64 * 1024  # a value this large goes in every field with valid credentials, in the whole body with broken ones


def raw_parameters(spec: Spec, op: Operation) -> dict[tuple[str, str], dict]:
    item = spec.document["paths"][op.path]
    found = [spec.resolve(p) for p in item.get("parameters", []) + item[op.method.lower()].get("parameters", [])]
    return {(p["in"], p["name"]): p for p in found}


def example(node: dict) -> Any:
    if "example" in node:
        return node["example"]
    examples = node.get("examples")
    if isinstance(examples, dict) and examples:
        return next(iter(examples.values())).get("value")
    return examples[0] if isinstance(examples, list) and examples else None


def minimal(spec: Spec, schema: Any, depth: int = 0) -> Any:
    """A small value the schema accepts, from its examples, defaults or required properties."""
    schema = spec.resolve(schema or {})
    if depth > 10 or not isinstance(schema, dict):
        return None
    for key in ("example", "default", "const"):
        if key in schema:
            return schema[key]
    if schema.get("examples") or schema.get("enum"):
        return (schema.get("examples") or schema["enum"])[0]
    if "allOf" in schema:
        return {k: v for part in schema["allOf"] for k, v in (minimal(spec, part, depth + 1) or {}).items()}
    if schema.get("oneOf") or schema.get("anyOf"):
        return minimal(spec, (schema.get("oneOf") or schema["anyOf"])[0], depth + 1)
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
    if kind == "object" or "properties" in schema:
        return {n: minimal(spec, schema.get("properties", {}).get(n), depth + 1) for n in schema.get("required", [])}
    if kind == "array":
        return [minimal(spec, schema.get("items"), depth + 1) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        return {"date": "2025-02-14", "date-time": "2025-02-14T12:00:00Z"}.get(schema.get("format"),
                                                                              "x" * schema.get("minLength", 1))
    return {"integer": schema.get("minimum", 1), "number": schema.get("minimum", 1), "boolean": True}.get(kind)


def baseline_body(spec: Spec, op: Operation) -> Any:
    if not op.has_body:
        return None
    content = spec.resolve(spec.document["paths"][op.path][op.method.lower()]["requestBody"])["content"]
    media = content.get("application/json") or next(iter(content.values()))
    found = example(media)
    return found if found is not None else minimal(spec, media.get("schema"))


def fields(value: Any, at: tuple = ()) -> Iterator[tuple]:
    """Where every value inside a JSON document sits, at any depth."""
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield (*at, key)
        yield from fields(child, (*at, key))


def security_headers(spec: Spec) -> tuple[str, ...]:
    schemes = spec.document.get("components", {}).get("securitySchemes", {}).values()
    return tuple(dict.fromkeys(s["name"] if s.get("in") == "header" else "Authorization" for s in schemes))


def header_locations(name: str, op: Operation) -> tuple[str, ...]:
    declared = [p.name for p in op.parameters if p.location == "header"]
    faults = () if name == ADMIN else ("X-Ledger-Mock-Fault",)
    found = (*security_headers(SPECS[name]), *declared, *HEADERS_OUTSIDE_SPEC.get(name, ()), "Content-Type", *faults)
    return tuple({h.lower(): h for h in reversed(found)}.values())[::-1]


def locations(name: str, op: Operation) -> list[str]:
    """Every place a client controls in a request for `op`, as `body/lines/0/amountDebit`, `query/page`, ..."""
    body = baseline_body(SPECS[name], op)
    return ["body", *("body/" + "/".join(map(str, at)) for at in fields(body)),
            *(f"query/{q}" for q in sorted(op.query_names)), "query/access_token",
            *(f"path/{p.name}" for p in op.parameters if p.location == "path"),
            *(f"header/{h}" for h in header_locations(name, op))]


# -- requests -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Probe:
    name: str  # provider, or ADMIN
    op: Operation
    path: dict[str, bytes]
    query: dict[str, bytes]
    headers: dict[str, bytes]  # sent after, and over, the credentials
    body: bytes | None
    credentials: str = "valid"  # or "broken"


class Mock:
    """An app under test, spoken to the way each provider's clients speak to it."""

    def __init__(self, app):
        self.app = app
        self.served = [*app.extensions["ledger_mock"].providers, ADMIN]
        self.envelopes = {n: envelope(n) for n in self.served if n != ADMIN}

    def credentials(self, name: str, valid: bool, method: str, path: str, body: bytes) -> dict[str, str]:
        if name == ADMIN:
            return {"Authorization": f"Bearer {ADMIN_TOKEN if valid else 'forged'}"}
        creds = provider(self.app, name).credentials("")
        if name == "count":
            stamp = str(int(runtime(self.app).clock.timestamp()))
            secret = creds["client_secret"] if valid else "not-the-secret"
            return {**signature_headers(creds["client_id"], secret, method, path, body, stamp),
                    "Authorization": f"Bearer {creds['access_token']}"}
        authorization = creds.get("authorization") or f"Bearer {creds['access_token']}"
        return {"Authorization": authorization if valid else authorization.split()[0] + " forged"}

    def send(self, probe: Probe):
        def fill(match: re.Match) -> bytes:
            return probe.path[match.group(1).decode()]
        raw_path = re.sub(rb"\{(\w+)\}", fill, (MOUNTS[probe.name] + probe.op.path).encode())
        body = probe.body or b""
        environ = {"PATH_INFO": raw_path.decode("latin-1"),
                   "QUERY_STRING": "&".join(f"{quote(k)}={escaped(v)}" for k, v in probe.query.items())}
        sent = {**self.credentials(probe.name, probe.credentials == "valid", probe.op.method,
                                   raw_path.decode("utf-8", "replace"), body),
                **({"Content-Type": "application/json"} if probe.body is not None else {})}
        sent.update({k: v.decode("latin-1") for k, v in probe.headers.items()})
        for header, value in sent.items():
            key = header.upper().replace("-", "_")
            environ[key if key == "CONTENT_TYPE" else "HTTP_" + key] = value
        return self.call(probe.op.method, body, environ)

    def call(self, method: str, body: bytes, overrides: dict[str, str]) -> Response:
        """Straight into the WSGI app: the test client's URL and cookie handling take seconds over a 1 MB query."""
        environ = EnvironBuilder(method=method, data=body).get_environ()
        environ.update(overrides)
        return Response(*run_wsgi_app(self.app, environ, buffered=True))

    def get(self, path: str, **headers: str) -> Response:
        """GET `path` (decoded, as WSGI has it) with its query."""
        location, _, query = path.partition("?")
        return self.call("GET", b"", {"PATH_INFO": location, "QUERY_STRING": query,
                                      **{"HTTP_" + k.upper(): v for k, v in headers.items()}})

    def problem(self, probe: Probe, response) -> str | None:
        """Why an answer breaks the promise (a 5xx, or a 4xx outside the provider's error envelope), or None."""
        status, shown = response.status_code, response.data[:300]
        if status >= 500:
            return f"{status} {shown!r}"
        if status < 400:
            return None
        if probe.name == ADMIN:
            body = response.get_json(silent=True)
            fine = isinstance(body, dict) and set(body) == {"error", "message", "requestId"}
        else:
            case = SimpleNamespace(operation=SimpleNamespace(label=f"{probe.op.method} {probe.op.path}"))
            try:
                self.envelopes[probe.name](None, SimpleNamespace(status_code=status, content=response.data), case)
                fine = True
            except AssertionError:
                fine = False
        return None if fine else f"{status} outside the error envelope: {shown!r}"

    @staticmethod
    def in_envelope(name: str, response) -> bool:
        """Whether an answer of any status is the provider's usual error body (its plugin's ERROR_SCHEMA)."""
        document = SPECS[name].document
        schema = {"$ref": f"#/components/schemas/{plugin(name).ERROR_SCHEMA}",
                  "components": document["components"]}
        body = response.get_json(silent=True)
        return body is not None and jsonschema_rs.Draft202012Validator(schema).is_valid(body)

    # -- baselines and ids ------------------------------------------------------------------------------

    def baseline(self, name: str, op: Operation, ids: dict[str, str] | None = None) -> Probe:
        spec, raw = SPECS[name], raw_parameters(SPECS[name], op)
        ids = self.listed_ids(name, op) if ids is None else ids
        path = {p.name: str(ids.get(p.name) or example(raw[("path", p.name)]) or "x").encode()
                for p in op.parameters if p.location == "path"}
        query = {p.name: str(example(raw[("query", p.name)]) or minimal(spec, p.schema)).encode()
                 for p in op.parameters if p.location == "query" and p.required}
        body = baseline_body(spec, op)
        return Probe(name, op, path, query, {}, None if body is None else json.dumps(body, default=str).encode())

    def listed_ids(self, name: str, op: Operation) -> dict[str, str]:
        """Ids for the path parameters of `op` that exist now, listed through the API (outer ids first)."""
        ids: dict[str, str] = {}
        for param in re.findall(r"\{(\w+)\}", op.path):
            collection = op.path[:op.path.index("{" + param + "}")].rstrip("/")
            lister = next((o for o in SPECS[name].operations.values() if o.method == "GET" and o.path == collection),
                          None)
            if lister is None:
                break
            found = first_id(self.send(self.baseline(name, lister, ids)).get_json(silent=True), param)
            if found is None:
                break
            ids[param] = str(found)
        return ids

    def reads(self) -> dict[str, Any]:
        """Every read of the served specs whose ids can be listed now, the journal, the state and the inspector."""
        answers = {}
        for name in self.served:
            for op in SPECS[name].operations.values():
                if op.method == "GET" and not op.changes:
                    ids = self.listed_ids(name, op)
                    if len(ids) == op.path.count("{"):
                        answers[f"{name} {op.id}"] = self.send(self.baseline(name, op, ids))
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        tenants = self.get("/_mock/tenants", **auth).get_json()["tenants"]
        pages = ["/_mock/journal?limit=500", "/_mock/state", "/_mock/ui", "/_mock/ui/journal",
                 *(f"/_mock/ui/{t['provider']}/{t['id']}" for t in tenants)]
        return answers | {page: self.get(page, **auth) for page in pages}


@lru_cache(maxsize=None)
def envelope(name: str):
    """The provider's error-envelope check: one validator per operation, too costly to compile for every Mock."""
    return error_envelope(SPECS[name].document, plugin(name).ERROR_SCHEMA)


@lru_cache(maxsize=None)
def escaped(value: bytes) -> str:
    return quote_from_bytes(value, safe="")


def first_id(listing: Any, param: str) -> Any:
    """The first record's id in a list answer: its `param` field, else `id`, else `key`."""
    stack = [listing]
    while stack:
        node = stack.pop(0)
        if isinstance(node, dict):
            for key in (param, "id", "key"):
                if isinstance(node.get(key), (str, int)) and not isinstance(node.get(key), bool):
                    return node[key]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def variants(mock: Mock, base: Probe, location: str) -> Iterator[tuple[str, Probe]]:
    """The baseline with `location` replaced by each hostile value."""
    kind, _, where = location.partition("/")
    if kind == "body":
        parsed = json.loads(base.body) if base.body else None
        if not where:
            for label, body in whole_bodies(base.body or b"{}", parsed):
                yield label, replace(base, body=body)
            return
        marked = copy.deepcopy(parsed)
        *outer, last = [int(k) if isinstance(node, list) else k for node, k in walk(parsed, where.split("/"))]
        target = marked
        for key in outer:
            target = target[key]
        in_list, target[last] = isinstance(target[last], list), SENTINEL
        template = json.dumps(marked, default=str).encode()
        for hostile in CATALOGUE:
            if base.credentials == "broken" and len(hostile.json) > BIG or hostile.lists_only and not in_list:
                continue  # refused before the body is parsed: where in it the bytes sit cannot matter
            yield hostile.name, replace(base, body=template.replace(json.dumps(SENTINEL).encode(), hostile.json))
        return
    values = [(h.name, h.text) for h in TEXTS]
    if location.lower() == "header/content-type":
        values += [(media, media.encode()) for media in WRONG_MEDIA_TYPES]
    for label, text in values:
        if kind == "header":
            yield label, replace(base, headers={**base.headers, where: text})
        else:
            yield label, replace(base, **{kind: {**getattr(base, kind), where: text}})


def walk(document: Any, keys: list[str]) -> Iterator[tuple[Any, str]]:
    node = document
    for key in keys:
        yield node, key
        node = node[int(key)] if isinstance(node, list) else node[key]


def credential_variants(name: str, op: Operation, location: str) -> tuple[str, ...]:
    """Valid credentials, and broken ones where the operation checks any (a credential header is itself the test)."""
    credential = location.startswith("header/") and location[7:] in security_headers(SPECS[name])
    return ("valid",) if credential or (name != ADMIN and not op.security_schemes) else ("valid", "broken")


# -- the test -----------------------------------------------------------------------------------------------

OPERATIONS = [pytest.param(name, op_id, id=f"{name}-{op_id}") for name, spec in SPECS.items() for op_id in spec.operations]


@pytest.mark.parametrize(("name", "operation_id"), OPERATIONS)
def test_hostile_input_is_refused_in_the_envelope_and_breaks_no_read(make_app, name, operation_id):
    app = make_app(admin_token=ADMIN_TOKEN) if name == ADMIN else make_app(providers=(name,))
    mock, op = Mock(app), SPECS[name].operations[operation_id]
    broken_before = {read: r.status_code for read, r in mock.reads().items() if r.status_code >= 300}
    assert not broken_before, f"a read fails before any hostile request (a bad baseline): {broken_before}"
    with without_cycle_collection():
        failures = list(sweep(mock, name, op))
    assert not failures, f"{len(failures)} hostile requests broke the promise:\n" + "\n".join(failures[:40])
    broken_after = {read: (r.status_code, r.data[:200]) for read, r in mock.reads().items() if r.status_code >= 300}
    if broken_after and op.changes:  # a valid delete of a parent (a Codat company) leaves reads failing too
        control = Mock(make_app(admin_token=ADMIN_TOKEN) if name == ADMIN else make_app(providers=(name,)))
        control.send(control.baseline(name, op))
        expected = {read: r.status_code for read, r in control.reads().items()}
        broken_after = {read: answer for read, answer in broken_after.items() if expected.get(read) != answer[0]}
    assert not broken_after, f"reads broken by the hostile requests to {operation_id}: {broken_after}"


def sweep(mock: Mock, name: str, op: Operation) -> Iterator[str]:
    """Every hostile variant of the baseline request for `op`; what broke the promise."""
    base = mock.baseline(name, op)
    for location in locations(name, op):
        for credentials in credential_variants(name, op, location):
            for label, probe in variants(mock, replace(base, credentials=credentials), location):
                found = mock.problem(probe, mock.send(probe))
                if found:
                    yield f"{location} = {label} ({credentials} credentials): {found}"


@contextmanager
def without_cycle_collection() -> Iterator[None]:
    """The 100k-element bodies allocate enough to start a full collection every few requests, over everything
    this process holds: most of the suite's time. Nothing here leaves cycles behind for long; collect once after."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def _first_list(value: Any, at: tuple = ()) -> tuple | None:
    """Where the first list of objects in a JSON document sits."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return at
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return next((found for key, child in children if (found := _first_list(child, (*at, key))) is not None), None)


LISTED = [pytest.param(name, op_id, id=f"{name}-{op_id}") for name, spec in SPECS.items() if name != ADMIN
          for op_id, op in spec.operations.items() if _first_list(baseline_body(spec, op)) is not None]


@pytest.mark.parametrize(("name", "operation_id"), LISTED)
def test_a_body_of_thousands_of_wrong_rows_costs_the_server_one_problem_not_one_per_row(make_app, monkeypatch,
                                                                                        name, operation_id):
    """The validator builds every error of a body before it hands over the first: 100k wrong rows held a server
    for 2 s. Past a few thousand values, the 400 (in the provider's envelope) names the first problem alone."""
    import jsonschema_rs

    mock, op = Mock(make_app(providers=(name,))), SPECS[name].operations[operation_id]
    probe = mock.baseline(name, op)
    body = json.loads(probe.body)
    where = _first_list(body)
    holder = body
    for key in where[:-1]:
        holder = holder[key]
    holder[where[-1]] = [[]] * 3000  # each row a list where its schema wants an object
    built = []
    real = jsonschema_rs.ValidationError.__init__
    monkeypatch.setattr(jsonschema_rs.ValidationError, "__init__",
                        lambda self, *args, **kwargs: built.append(1) or real(self, *args, **kwargs))
    answer = mock.send(replace(probe, body=json.dumps(body).encode()))
    assert 400 <= answer.status_code < 500 and mock.problem(probe, answer) is None, answer.data[:300]
    assert len(built) <= 3, f"{len(built)} validation errors built for one request"
