"""Every provider's hand-written spec is valid OpenAPI 3.1 and mounts: each operation has its handler; and every
number a client can send is bounded, so nothing accepted is too big to send back."""

import pytest
from openapi_spec_validator import validate

from mock_server import data_dir, providers
from mock_server.spec import HTTP_METHODS, Spec, check_handlers, load_document


@pytest.mark.parametrize("name", providers.names())
def test_spec_is_valid_openapi_and_matches_the_handlers(name):
    provider = providers.load(name)
    document = load_document(data_dir("openapi") / provider.spec_file)
    assert document["openapi"] == "3.1.0"
    validate(document)
    check_handlers(Spec(data_dir("openapi") / provider.spec_file), provider.handlers, name)


def test_admin_spec_is_valid_openapi_and_matches_its_handlers():
    from mock_server.admin import Admin
    document = load_document(data_dir("openapi") / Admin.spec_file)
    validate(document)
    check_handlers(Spec(data_dir("openapi") / Admin.spec_file), Admin.handlers, "_mock")


_SPECS = ["count.yaml", "intacct.yaml", "codat.yaml", "aden.yaml", "admin.yaml"]
_BRANCHES = ("allOf", "oneOf", "anyOf", "prefixItems")
_SCHEMAS = ("items", "additionalProperties", "not", "contains", "unevaluatedItems", "unevaluatedProperties",
            "propertyNames", "if", "then", "else")
_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")


def _unbounded_numbers(document):
    """JSON pointers of request-side numeric schemas that lack a lower or an upper bound.

    A number the mock accepts it must be able to send back (orjson stops at 64 bits, datetime at year 9999),
    so every integer or number a client can send is bounded on both sides in the spec.
    """
    offenders, seen = [], set()

    def lookup(ref):
        node = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def walk(node, pointer):
        if not isinstance(node, dict):
            return
        if isinstance(node.get("$ref"), str) and node["$ref"].startswith("#"):
            ref = node["$ref"]
            if ref not in seen:  # each component is judged once, which also ends $ref cycles
                seen.add(ref)
                walk(lookup(ref), ref)
        kinds = node.get("type", [])
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if {"integer", "number"} & set(kinds):
            missing = [side for side, keys in (("lower", ("minimum", "exclusiveMinimum")),
                                               ("upper", ("maximum", "exclusiveMaximum")))
                       if not any(key in node for key in keys)]
            if missing:
                offenders.append(f"{pointer} (no {' or '.join(missing)} bound)")
        for key in _BRANCHES:
            for index, branch in enumerate(node.get(key, [])):
                walk(branch, f"{pointer}/{key}/{index}")
        for key in _SCHEMAS:
            walk(node.get(key), f"{pointer}/{key}")
        for key in _MAPS:
            for name, sub in (node.get(key) or {}).items():
                walk(sub, f"{pointer}/{key}/{name.replace('~', '~0').replace('/', '~1')}")

    def parameter(node, pointer):
        if "$ref" in node:
            pointer, node = node["$ref"], lookup(node["$ref"])
        walk(node.get("schema"), f"{pointer}/schema")
        for media, content in (node.get("content") or {}).items():
            walk(content.get("schema"), f"{pointer}/content/{media.replace('/', '~1')}/schema")

    for path, item in document.get("paths", {}).items():
        base = f"#/paths/{path.replace('~', '~0').replace('/', '~1')}"
        for index, param in enumerate(item.get("parameters", [])):
            parameter(param, f"{base}/parameters/{index}")
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            for index, param in enumerate(operation.get("parameters", [])):
                parameter(param, f"{base}/{method}/parameters/{index}")
            body, pointer = operation.get("requestBody"), f"{base}/{method}/requestBody"
            if body is None:
                continue
            if "$ref" in body:
                pointer, body = body["$ref"], lookup(body["$ref"])
            for media, content in (body.get("content") or {}).items():
                walk(content.get("schema"), f"{pointer}/content/{media.replace('/', '~1')}/schema")
    return sorted(set(offenders))  # a shared parameter is reached from every operation that uses it


@pytest.mark.parametrize("spec_file", _SPECS)
def test_every_number_a_client_can_send_is_bounded(spec_file):
    offenders = _unbounded_numbers(load_document(data_dir("openapi") / spec_file))
    assert not offenders, f"{spec_file}: numeric request schemas without bounds:\n" + "\n".join(offenders)
