"""Checks on top of schemathesis's defaults, for what an accounting API promises beyond its schema.

Each factory closes over what the provider plugin says about itself (its error schema, its money fields,
how to unwrap its envelope), so the harness stays the same for every provider.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, Callable, Mapping
from urllib.parse import quote

import jsonschema_rs

MONEY_TEXT = re.compile(r"^-?\d+\.\d{2}$")
Check = Callable[[Any, Any, Any], None]


def _json(response: Any) -> Any:
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        return None


def error_envelope(document: Mapping[str, Any], default_component: str) -> Check:
    """Every 4xx carries the provider's own error body: one of the error shapes the operation documents, or,
    for statuses it does not list (405, 406, ...), the provider's usual error component."""
    components = document.get("components", {})
    fallback = {"$ref": f"#/components/schemas/{default_component}"}
    shapes: dict[str, list[Any]] = {}
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                shapes[f"{method.upper()} {path}"] = [
                    schema for status, response in operation["responses"].items() if str(status).startswith("4")
                    for schema in [_content_schema(document, response)] if schema is not None]
    validators = {label: jsonschema_rs.Draft202012Validator({"anyOf": found or [fallback], "components": components})
                  for label, found in shapes.items()}

    def provider_error_envelope_on_4xx(ctx: Any, response: Any, case: Any) -> None:
        if 400 <= response.status_code < 500:
            body = _json(response)
            validator = validators.get(case.operation.label)
            if validator is not None and (body is None or not validator.is_valid(body)):
                raise AssertionError(f"{response.status_code} body is not one of the provider's error envelopes "
                                     f"documented for {case.operation.label}")
    return provider_error_envelope_on_4xx


def _content_schema(document: Mapping[str, Any], response: Any) -> Any:
    while isinstance(response, dict) and "$ref" in response:
        node: Any = document
        for part in response["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        response = node
    content = (response or {}).get("content", {})
    return (content.get("application/json") or next(iter(content.values()), {})).get("schema")


def money_fields(names: frozenset[str]) -> Check:
    """Money fields are exact amounts with two decimals: strings like "12.30", or numbers with <= 2 decimals."""
    def money_fields_are_two_decimal_amounts(ctx: Any, response: Any, case: Any) -> None:
        if response.status_code >= 300:
            return
        for path, value in _walk(_json(response), "", names):
            if value is None or isinstance(value, (dict, list)):
                continue  # a schema-like description of a money field (Codat's create model) is no amount
            if isinstance(value, str) and MONEY_TEXT.match(value):
                continue
            if isinstance(value, (int, Decimal)) and not isinstance(value, bool) and \
                    Decimal(value) == Decimal(value).quantize(Decimal("0.01")):
                continue
            raise AssertionError(f"money field {path} = {value!r} is not a 2-decimal amount")
    return money_fields_are_two_decimal_amounts


IDEMPOTENCY_HEADERS = ("idempotency-key", "x-idempotency-key")


def idempotency_key(case: Any) -> str | None:
    return next((v for k, v in (case.headers or {}).items() if k.lower() in IDEMPOTENCY_HEADERS), None)


def reads_back(document: Mapping[str, Any], unwrap: Callable[[Any], Any], session: Any, base_url: str) -> Check:
    """A created record reads back identical through the GET of its collection item that its 201 links to."""
    getters = _linked_getters(document)

    def created_record_reads_back_identical(ctx: Any, response: Any, case: Any) -> None:
        if response.status_code != 201 or case.operation.label not in getters:
            return
        created = _json(response)
        for path, parameters in getters[case.operation.label]:
            url = base_url.rstrip("/") + path
            for name, expression in parameters.items():
                value = _resolve(created, expression)
                if value is None:
                    raise AssertionError(f"link parameter {name} ({expression}) is missing from the 201 body")
                url = url.replace("{" + name + "}", quote(str(value), safe=""))
            # The case's own credentials, not the sent request's: a signature covers one request only.
            headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "content-type"}
            read = session.get(url, headers=headers, timeout=30)
            if read.status_code != 200:
                raise AssertionError(f"GET {path} of the record just created answered {read.status_code}")
            difference = _first_difference(unwrap(created), unwrap(json.loads(read.content, parse_float=Decimal)))
            if difference:
                raise AssertionError(f"GET {path} does not return the record as created: {difference}")
    return created_record_reads_back_identical


def _first_difference(created: Any, read: Any, path: str = "") -> str | None:
    """Where `read` disagrees with what the create answered (a create may answer with fewer fields, as
    Intacct's `{key, id, href}` does; every field it does answer must read back the same)."""
    if isinstance(created, dict) and isinstance(read, dict):
        for key, value in created.items():
            if key not in read:
                return f"{path}/{key} is missing"
            found = _first_difference(value, read[key], f"{path}/{key}")
            if found:
                return found
        return None
    return None if created == read else f"{path or '/'} was {created!r}, reads back as {read!r}"


def _linked_getters(document: Mapping[str, Any]) -> dict[str, list[tuple[str, dict[str, str]]]]:
    by_id = {op["operationId"]: (method.upper(), path) for path, item in document.get("paths", {}).items()
             for method, op in item.items() if isinstance(op, dict) and "operationId" in op}
    getters: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for path, item in document.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict):
                continue
            for link in (op.get("responses", {}).get("201", {}) or {}).get("links", {}).values():
                target = by_id.get(link.get("operationId"))
                # Only the item of the collection just posted to reads the record back (not its balance or log).
                if target and target[0] == "GET" and re.fullmatch(re.escape(path.rstrip("/")) + r"/\{[^}/]+\}",
                                                                  target[1]):
                    getters.setdefault(f"{method.upper()} {path}", []).append((target[1], link.get("parameters", {})))
    return getters


def _resolve(body: Any, expression: str) -> Any:
    if not expression.startswith("$response.body#"):
        return None
    node = body
    for part in expression.split("#", 1)[1].strip("/").split("/"):
        if part == "":
            continue
        node = node.get(part) if isinstance(node, dict) else (
            node[int(part)] if isinstance(node, list) and part.isdigit() and int(part) < len(node) else None)
    return node


def _walk(node: Any, path: str, names: frozenset[str], found: list | None = None) -> list[tuple[str, Any]]:
    """(path, value) of every member named one of `names`, at any depth, in document order. Paths are spelt out
    only for containers and matches, and no generator chain is built: the proxy runs this on every answer."""
    found = [] if found is None else found
    if isinstance(node, dict):
        for key, value in node.items():
            if key in names:
                found.append((f"{path}/{key}", value))
            if isinstance(value, (dict, list)):
                _walk(value, f"{path}/{key}", names, found)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, (dict, list)):
                _walk(value, f"{path}/{index}", names, found)
    return found
