"""Turns a provider's OpenAPI document into operations with request validators compiled once, at startup.

The spec is the single source of routes: the app registers exactly the operations found here, and the
request a handler sees has already been checked against them. Response validators are compiled only when
asked for (strict mode, the test suite), so a production-style start stays fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import jsonschema_rs

from . import read_yaml
from .errors import ApiError, validation_error

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_Validator = Any  # jsonschema_rs validator


@lru_cache(maxsize=None)
def load_document(path: Path) -> dict:
    return read_yaml(path)


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    location: str  # query, path, header
    required: bool
    schema: Mapping[str, Any]
    explode: bool

    def read(self, values: list[str]) -> Any:
        """Coerce raw strings to what the schema describes, so the validator can judge them."""
        schema = self.schema
        if _type_of(schema) == "array":
            items = [part for value in values for part in (value.split(",") if not self.explode else [value])]
            return [_coerce(item, schema.get("items", {})) for item in items]
        return _coerce(values[0], schema)


@dataclass(slots=True)
class Operation:
    id: str
    method: str  # upper case
    path: str  # as written in the spec
    security: list[dict[str, list[str]]]
    parameters: list[Parameter]
    body_required: bool = False
    body_media_types: tuple[str, ...] = ()
    _params_validator: _Validator | None = None
    _body_validator: _Validator | None = None
    response_validators: dict[str, _Validator] = field(default_factory=dict)
    query_names: frozenset[str] = frozenset()
    header_names: tuple[str, ...] = ()  # lower case
    changes: bool = False  # it may change state: every method but GET, HEAD, OPTIONS, or `x-ledger-mock-changes`
    greedy: str | None = None  # a last path parameter whose value may hold slashes (`x-ledger-mock-greedy`)
    body_names: frozenset[str] = frozenset()  # every property name the request body schema declares, at any depth

    @property
    def has_body(self) -> bool:
        return bool(self.body_media_types)

    @property
    def security_schemes(self) -> frozenset[str]:
        return frozenset(name for requirement in self.security for name in requirement)

    def read_parameters(self, path_args: Mapping[str, str], query: Mapping[str, list[str]],
                        headers: Mapping[str, str]) -> dict[str, dict[str, Any]]:
        """Coerced and validated parameters by location.

        The spec is the contract, so what it does not allow is refused (D2): an unknown query parameter is a
        400 naming the ones that exist (it catches `pageSize` for `limit`), and an empty value (`?startDate=`)
        is judged like any other.
        """
        unknown = sorted(set(query) - self.query_names)
        if unknown:
            known = ", ".join(f"`{name}`" for name in sorted(self.query_names)) or "none"
            raise validation_error(f"Unknown query parameter `{unknown[0]}`; this operation accepts {known}.")
        found: dict[str, dict[str, Any]] = {"path": {}, "query": {}, "header": {}}
        for param in self.parameters:
            if param.location == "path":
                raw = [path_args[param.name]] if param.name in path_args else []
            elif param.location == "query":
                raw = query.get(param.name, [])
            else:
                raw = [headers[param.name]] if param.name in headers else []
            if raw:
                found[param.location][param.name] = param.read(raw)
        if self._params_validator is not None:
            error = next(self._params_validator.iter_errors(found), None)
            if error is not None:
                raise validation_error(_describe(error, "parameter"))
        for param in self.parameters:  # validated: now hand dates to handlers as dates
            value = found[param.location].get(param.name)
            if isinstance(value, str) and param.schema.get("format") == "date":
                found[param.location][param.name] = date.fromisoformat(value)
        return found

    def check_body(self, body: Any) -> None:
        if self._body_validator is not None:
            error = next(self._body_validator.iter_errors(body), None)
            if error is not None:
                raise validation_error(_describe(error, "body"))

    def response_problem(self, status: int, body: Any) -> str | None:
        """Why a response breaks the spec, or None. Only with response validators compiled."""
        validator = self.response_validators.get(str(status)) or self.response_validators.get(f"{str(status)[0]}XX")
        if validator is None:
            validator = self.response_validators.get("default")
        if validator is None:
            return f"status {status} is not documented for {self.id}"
        error = next(validator.iter_errors(body), None)
        return None if error is None else _describe(error, "response")


class Spec:
    """A provider's OpenAPI document with its operations compiled."""

    def __init__(self, path: Path, *, validate_responses: bool = False):
        self.path = path
        self.document = load_document(path)
        # The document is handed to the validator library once; each operation's schemas point into it.
        self._uri = f"urn:ledger-mock:{path.stem}"
        self._registry = jsonschema_rs.Registry([(self._uri, self.document)])
        self.operations: dict[str, Operation] = {}
        for spec_path, item in self.document.get("paths", {}).items():
            shared = item.get("parameters", [])
            for method in HTTP_METHODS:
                if method in item:
                    operation = self._compile(spec_path, method, item[method], shared, validate_responses)
                    if operation.id in self.operations:
                        raise ValueError(f"{path}: operationId {operation.id} is used twice")
                    self.operations[operation.id] = operation

    def _compile(self, path: str, method: str, raw: dict, shared: list, validate_responses: bool) -> Operation:
        if "operationId" not in raw:
            raise ValueError(f"{self.path}: {method.upper()} {path} has no operationId")
        merged = {(p["name"], p["in"]): p for p in map(self.resolve, shared)}
        merged.update({(p["name"], p["in"]): p for p in map(self.resolve, raw.get("parameters", []))})
        parameters = [
            Parameter(p["name"], p["in"], bool(p.get("required") or p["in"] == "path"),
                      self._resolve_schema(p.get("schema", {})), p.get("explode", p.get("style", "form") == "form"))
            for p in merged.values() if p["in"] in ("path", "query", "header")
        ]
        operation = Operation(
            id=raw["operationId"], method=method.upper(), path=path,
            security=raw.get("security", self.document.get("security", [])), parameters=parameters)
        operation.query_names = frozenset(p.name for p in parameters if p.location == "query")
        operation.header_names = tuple(p.name.lower() for p in parameters if p.location == "header")
        operation.changes = method not in ("get", "head", "options") or bool(raw.get("x-ledger-mock-changes"))
        operation.greedy = next((p["name"] for p in merged.values() if p.get("x-ledger-mock-greedy")), None)
        if parameters:
            operation._params_validator = self._validator({
                "type": "object",
                "properties": {location: {
                    "type": "object",
                    "properties": {p.name: p.schema for p in parameters if p.location == location},
                    "required": [p.name for p in parameters if p.location == location and p.required],
                } for location in ("path", "query", "header")},
            })
        if "requestBody" in raw:
            body = self.resolve(raw["requestBody"])
            content = body.get("content", {})
            operation.body_required = bool(body.get("required"))
            operation.body_media_types = tuple(content)
            media = content.get("application/json") or next(iter(content.values()), {})
            schema = media.get("schema")
            if schema is not None:
                operation._body_validator = self._validator(schema)
                operation.body_names = frozenset(self._property_names(schema, set()))
        if validate_responses:
            for status, response in raw.get("responses", {}).items():
                schema = self.resolve(response).get("content", {}).get("application/json", {}).get("schema")
                operation.response_validators[str(status)] = self._validator(schema or {})
        return operation

    def resolve(self, node: dict) -> dict:
        """Follow a local `$ref` (parameters, request bodies, responses) to the object it names."""
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def _property_names(self, node: Any, seen: set[int]) -> Iterator[str]:
        node = self.resolve(node) if isinstance(node, dict) else node
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, dict):
            yield from (name for name in node.get("properties", {}) if isinstance(name, str))
            for value in node.values():
                yield from self._property_names(value, seen)
        elif isinstance(node, list):
            for value in node:
                yield from self._property_names(value, seen)

    def _resolve_schema(self, schema: dict) -> dict:
        """A parameter schema with its own and its items' `$ref` inlined, so coercion can read types."""
        schema = dict(self.resolve(schema))
        if "items" in schema:
            schema["items"] = self.resolve(schema["items"])
        return schema

    def _validator(self, schema: Mapping[str, Any]) -> _Validator:
        return jsonschema_rs.Draft202012Validator(self._anchored(schema), validate_formats=True,
                                                  registry=self._registry)

    def _anchored(self, node: Any) -> Any:
        """A copy whose local `#/...` references name the spec document, wherever the copy is validated."""
        if isinstance(node, dict):
            return {key: (f"{self._uri}{value}" if key == "$ref" and isinstance(value, str)
                          and value.startswith("#") else self._anchored(value)) for key, value in node.items()}
        if isinstance(node, list):
            return [self._anchored(item) for item in node]
        return node


def check_handlers(spec: Spec, handlers: Mapping[str, Callable], provider: str) -> None:
    """Startup guard: every operation has a handler and every handler an operation."""
    missing = sorted(set(spec.operations) - set(handlers))
    orphans = sorted(set(handlers) - set(spec.operations))
    if missing or orphans:
        raise RuntimeError(f"provider {provider!r}: operations without handlers {missing}, "
                           f"handlers without operations {orphans}")


def _type_of(schema: Mapping[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind


def _coerce(raw: str, schema: Mapping[str, Any]) -> Any:
    """Best-effort conversion; a value that does not convert stays a string and fails validation by name."""
    kind = _type_of(schema)
    if kind == "integer" and re.fullmatch(r"-?\d{1,18}", raw):
        return int(raw)
    if kind == "number":
        try:
            return Decimal(raw)
        except InvalidOperation:
            return raw
    if kind == "boolean" and raw in ("true", "false"):
        return raw == "true"
    return raw


def _describe(error: Any, where: str) -> str:
    location = [str(part) for part in error.instance_path]
    if where == "parameter" and len(location) >= 2:
        return f"Invalid {location[0]} parameter `{location[1]}`: {error.message}."
    if where == "parameter" and location:
        return f"Invalid {location[0]} parameters: {error.message}."
    pointer = "/".join(location)
    if where == "body":
        return f"Invalid request body{f' at `{pointer}`' if pointer else ''}: {error.message}."
    return f"{where} at `/{pointer}`: {error.message}"
