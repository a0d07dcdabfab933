"""Turns a provider's OpenAPI document into operations with request validators compiled once, at startup.

The spec is the single source of routes: the app registers exactly the operations found here, and the
request a handler sees has already been checked against them. Response validators are compiled only when
asked for (strict mode, the test suite), so a production-style start stays fast.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import jsonschema_rs

from . import read_yaml
from .bodies import count_nodes
from .errors import EXCERPT, ApiError, Problem, excerpt, validation_error

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_Validator = Any  # jsonschema_rs validator
MAX_PROBLEMS = 50  # listed in one 400: enough to fix a body in one go, few enough to read
# jsonschema_rs builds every error of an instance before it yields the first: a body of 100k wrong rows took 2 s
# (one request held the server). Past this many nodes, a body's 400 names its first problem alone.
ALL_PROBLEMS_UP_TO = 2_000
_JSON = json.JSONDecoder()  # reads the value a validator message opens with


@lru_cache(maxsize=None)
def load_document(path: Path) -> dict:
    return read_yaml(path)


_COMPILED: dict[tuple[Path, bool], "Spec"] = {}  # see Spec.__init__


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
    body_schema: Any = None
    _resolve: Callable[[Any], Any] | None = None
    _places: dict[tuple[int, ...], _Place] = field(default_factory=dict)  # see _place
    response_validators: dict[str, _Validator] = field(default_factory=dict)
    query_names: frozenset[str] = frozenset()
    header_names: tuple[str, ...] = ()  # lower case
    changes: bool = False  # it may change state: every method but GET, HEAD, OPTIONS, or `x-ledger-mock-changes`
    greedy: str | None = None  # a last path parameter whose value may hold slashes (`x-ledger-mock-greedy`)
    body_names: frozenset[str] = frozenset()  # every property name the request body schema declares, at any depth
    security_schemes: frozenset[str] = frozenset()  # the names `security` uses, in any of its requirements

    @property
    def has_body(self) -> bool:
        return bool(self.body_media_types)

    def undeclared_query(self, query: Mapping[str, list[str]]) -> list[str]:
        """The query parameters this operation does not declare (what a provider then does is its own policy)."""
        return sorted(set(query) - self.query_names)

    def refuse_undeclared_query(self, names: list[str]) -> None:
        """The spec as the contract (D2): an unknown query parameter is a 400 naming the ones that exist, which
        catches `pageSize` for `limit`."""
        known = ", ".join(f"`{name}`" for name in sorted(self.query_names)) or "none"
        raise validation_error(f"Unknown query parameter `{_excerpt(names[0])}`; this operation accepts {known}.",
                               problems=tuple(Problem("query", _excerpt(n), "not a parameter of this operation",
                                                      "unknown") for n in names[:MAX_PROBLEMS]))

    def read_parameters(self, path_args: Mapping[str, str], query: Mapping[str, list[str]],
                        headers: Mapping[str, str]) -> dict[str, dict[str, Any]]:
        """The declared parameters, coerced and validated, by location (an empty value, `?startDate=`, is judged
        like any other); every problem found is in the 400."""
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
        validator = self._params_validator
        if validator is not None and not validator.is_valid(found):  # is_valid first: far cheaper than iter_errors
            errors = list(islice(validator.iter_errors(found), MAX_PROBLEMS))
            if errors:
                raise _refusal(errors, "parameter")
        for param in self.parameters:  # validated: now hand dates to handlers as dates
            value = found[param.location].get(param.name)
            if isinstance(value, str) and param.schema.get("format") == "date":
                found[param.location][param.name] = date.fromisoformat(value)
        return found

    def check_body(self, body: Any, *, undeclared: str = "refuse") -> list[str]:
        """A 400 listing every way `body` breaks the schema. `undeclared` says what happens to a field no schema
        that applies to its place declares, `additionalProperties` or not (a misspelt field is never taken
        silently): "refuse" lists it in the 400; "drop" takes it out of `body` (for a provider that ignores
        them) and returns its path; "schema" leaves it to the schema (the admin API, whose objects are open)."""
        if self._body_validator is None:
            return []
        found = [] if undeclared == "schema" else \
            list(dict.fromkeys(_undeclared([self.body_schema], body, self._resolve, (), self._places, [])))
        if undeclared != "drop" or not found:
            errors = _errors(self._body_validator, body)
            if errors or found:
                raise _refusal(errors, "body", found)
            return []
        # The provider reads the body as if the ignored fields were never sent, but judges what was sent: a body
        # of only ignored fields is not "empty" (`{"colour": 1}` is not refused for minProperties). A body too
        # large to list its problems is judged once they are dropped.
        ignored = {(path, name) for path, name in found}
        broken = not self._body_validator.is_valid(body) and (
            not _listable(body) or any(not _only_ignored(e, ignored) for e in self._body_validator.iter_errors(body)))
        dropped: list[str] = []
        for path, name in found:
            holder = _at(body, path)
            if isinstance(holder, dict) and name in holder:
                del holder[name]
                dropped.append("/".join([*map(str, path), name]))
        if broken:
            errors = _errors(self._body_validator, body)
            if errors:
                raise _refusal(errors, "body")
        return dropped

    def response_problem(self, status: int, body: Any) -> str | None:
        """Why a response breaks the spec, or None. Only with response validators compiled."""
        validator = self.response_validators.get(str(status)) or self.response_validators.get(f"{str(status)[0]}XX")
        if validator is None:
            validator = self.response_validators.get("default")
        if validator is None:
            return f"status {status} is not documented for {self.id}"
        error = _first_error(validator, body)
        return None if error is None else _describe(error, "response")


class Spec:
    """A provider's OpenAPI document with its operations compiled."""

    def __init__(self, path: Path, *, validate_responses: bool = False):
        self.path = path
        self.document = load_document(path)
        # The document is handed to the validator library once; each operation's schemas point into it.
        self._uri = f"urn:ledger-mock:{path.stem}"
        # Compiled once per process: nothing changes a compiled spec, and its validators cost more than the rest
        # of an app, which every reset, tenant and test (each building its app again from the log) would pay.
        compiled = _COMPILED.get((path, validate_responses))
        if compiled is not None:
            self._registry, self.operations = compiled._registry, compiled.operations
            return
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
        _COMPILED[path, validate_responses] = self

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
        operation.security_schemes = frozenset(name for requirement in operation.security for name in requirement)
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
                operation.body_schema, operation._resolve = schema, self.resolve
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


_INTEGER = re.compile(r"-?\d{1,18}")


def _coerce(raw: str, schema: Mapping[str, Any]) -> Any:
    """Best-effort conversion; a value that does not convert stays a string and fails validation by name."""
    kind = _type_of(schema)
    if kind == "integer" and _INTEGER.fullmatch(raw):
        return int(raw)
    if kind == "number":
        try:
            return Decimal(raw)
        except InvalidOperation:
            return raw
    if kind == "boolean" and raw in ("true", "false"):
        return raw == "true"
    return raw


def _refusal(errors: list[Any], where: str, undeclared: list[tuple[tuple[Any, ...], str]] = ()) -> ApiError:
    """A 400 naming the first problem and carrying every one found (an error naming several undeclared fields
    is one problem per field), at most MAX_PROBLEMS of them."""
    found = [p for error in errors for p in _problems(error, where)]
    named = {p.field for p in found}
    for path, name in undeclared:
        prefix = [excerpt(str(part)) for part in path]
        field_ = "/".join([*prefix, excerpt(str(name))])
        if field_ not in named:
            pointer = "/".join(prefix)
            found.append(Problem("body", field_, f"Invalid request body{f' at `{pointer}`' if pointer else ''}: "
                                 f"Additional properties are not allowed ('{excerpt(str(name), 40)}' was "
                                 "unexpected).", "unknown"))
    problems = tuple(found[:MAX_PROBLEMS])
    more = f" ({len(problems) - 1} more problem{'s' if len(problems) > 2 else ''} listed)" if len(problems) > 1 else ""
    return validation_error(problems[0].message + more, problems=problems)


@dataclass(frozen=True)
class _Place:
    """What the schemas applying to one place in a body say about its members, worked out once per operation."""
    declared: dict[str, list[Any]]  # member name -> the schemas that apply to it
    patterns: list[tuple[re.Pattern[str], Any]]
    extra: list[Any]  # `additionalProperties` schemas
    open: bool  # any member is welcome
    items: list[Any]  # for an array: the schemas of its items
    schemas: tuple[Any, ...]  # kept alive, as the cache is keyed by their ids


def _place(schemas: list[Any], resolve: Callable[[Any], Any], cache: dict[tuple[int, ...], _Place]) -> _Place:
    key = tuple(map(id, schemas))
    place = cache.get(key)
    if place is None:
        found: list[dict] = []
        for schema in schemas:
            _applying(schema, resolve, found)
        describes = any("properties" in s or "patternProperties" in s or s.get("additionalProperties") is False
                        for s in found)
        extra = [s["additionalProperties"] for s in found if isinstance(s.get("additionalProperties"), dict)]
        declared: dict[str, list[Any]] = {}
        for s in found:
            for name, child in s.get("properties", {}).items():
                declared.setdefault(name, []).append(child)
        place = cache[key] = _Place(
            declared, [(re.compile(pattern), child) for s in found
                       for pattern, child in s.get("patternProperties", {}).items()],
            extra, not describes or bool(extra) or any(s.get("additionalProperties") is True for s in found),
            [s["items"] for s in found if isinstance(s.get("items"), dict)], tuple(schemas))
    return place


def _undeclared(schemas: list[Any], value: Any, resolve: Callable[[Any], Any], path: tuple[Any, ...],
                cache: dict[tuple[int, ...], _Place], found: list[tuple[tuple[Any, ...], str]]
                ) -> list[tuple[tuple[Any, ...], str]]:
    """`found` with (where, name) of each field of `value` that none of the schemas applying to its place declares
    added. A place is open only when a schema says so (`additionalProperties: true` or a schema) or describes no
    fields at all (`{type: object}`); in an anyOf/oneOf a field any branch declares counts as declared. A list and
    a call, not a generator, and no call for a scalar (it has no fields): this runs on every body."""
    if not isinstance(value, (dict, list)):
        return found
    place = _place(schemas, resolve, cache)
    if isinstance(value, dict):
        for name, item in value.items():
            children = place.declared.get(name, [])
            if place.patterns:
                children = [*children, *(child for pattern, child in place.patterns if pattern.search(name))]
            if not children and not place.open:
                found.append((path, name))
            elif (children or place.extra) and isinstance(item, (dict, list)):
                _undeclared(children or place.extra, item, resolve, (*path, name), cache, found)
    elif place.items:
        for n, item in enumerate(value):
            if isinstance(item, (dict, list)):
                _undeclared(place.items, item, resolve, (*path, n), cache, found)
    return found


def _errors(validator: _Validator, instance: Any) -> list[Any]:
    """Up to MAX_PROBLEMS ways `instance` breaks the schema; past ALL_PROBLEMS_UP_TO nodes, the first alone."""
    if validator.is_valid(instance):
        return []
    if _listable(instance):
        return list(islice(validator.iter_errors(instance), MAX_PROBLEMS))
    return [error] if (error := _first_error(validator, instance)) is not None else []


def _listable(instance: Any) -> bool:
    """Whether every problem of `instance` may be looked for: `iter_errors` builds them all before the first."""
    return count_nodes(instance, budget=ALL_PROBLEMS_UP_TO) <= ALL_PROBLEMS_UP_TO


def _first_error(validator: _Validator, instance: Any) -> Any:
    """The first way `instance` breaks the schema, or None: `validate` stops there, unlike `iter_errors`."""
    try:
        validator.validate(instance)
    except jsonschema_rs.ValidationError as error:
        return error
    return None


def _only_ignored(error: Any, ignored: set[tuple[tuple[Any, ...], str]]) -> bool:
    """Whether a validator error is only about fields being dropped."""
    kind = error.kind
    return isinstance(kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties) and all(
        (tuple(error.instance_path), name) in ignored for name in kind.unexpected)


def _applying(schema: Any, resolve: Callable[[Any], Any], found: list[dict]) -> list[dict]:
    """`schema` with its references followed and its allOf/anyOf/oneOf members taken in, flat."""
    if not isinstance(schema, dict) or any(s is schema for s in found):
        return found
    found.append(schema)
    if "$ref" in schema:
        _applying(resolve({"$ref": schema["$ref"]}), resolve, found)
    for keyword in ("allOf", "anyOf", "oneOf"):
        for member in schema.get(keyword, ()):
            _applying(member, resolve, found)
    return found


def _problems(error: Any, where: str) -> list[Problem]:
    """The problems one validator error stands for, each naming its field: a missing property by its own path,
    and each undeclared property separately."""
    path = [excerpt(str(part)) for part in error.instance_path]
    location, prefix = (path[0] if path else "query", path[1:]) if where == "parameter" else ("body", path)
    kind = error.kind
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Required):
        name = excerpt(str(kind.property))
        return [Problem(location, "/".join([*prefix, name]), _describe(error, where), "missing")]
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties):
        names = [excerpt(str(name)) for name in kind.unexpected]
        return [Problem(location, "/".join([*prefix, name]),
                        _describe(error, where, f"Additional properties are not allowed ('{name}' was unexpected)"),
                        "unknown") for name in names]
    return [Problem(location, "/".join(prefix) or None, _describe(error, where), "invalid")]


def _at(document: Any, path: Any) -> Any:
    for part in path:
        document = document[part]
    return document


def _excerpt(text: str, limit: int = 80) -> str:
    """What a message may echo of the request: the start of it."""
    return excerpt(text, limit)


def _reason(error: Any) -> str:
    """The validator's message with the request value it quotes cut to an excerpt. Most messages open with the
    offending value written as JSON (`[{...}, ...] has more than 100 items` quotes the whole array), so that
    leading value is shortened; whatever else a message holds comes from the spec, and the whole stays bounded."""
    kind = error.kind
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties):
        names = [f"'{excerpt(str(name), 40)}'" for name in kind.unexpected]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        return f"Additional properties are not allowed ({shown} {'was' if len(names) == 1 else 'were'} unexpected)"
    message = error.message
    if len(message) <= EXCERPT:
        return message
    try:
        _, end = _JSON.raw_decode(message)
    except ValueError:
        end = 0
    if end > EXCERPT:
        message = excerpt(message[:end]) + message[end:]
    return excerpt(message, 4 * EXCERPT)


def _describe(error: Any, where: str, reason: str | None = None) -> str:
    reason = _reason(error) if reason is None else reason
    location = [excerpt(str(part)) for part in error.instance_path]
    if where == "parameter" and len(location) >= 2:
        return f"Invalid {location[0]} parameter `{location[1]}`: {reason}."
    if where == "parameter" and location:
        return f"Invalid {location[0]} parameters: {reason}."
    pointer = "/".join(location)
    if where == "body":
        return f"Invalid request body{f' at `{pointer}`' if pointer else ''}: {reason}."
    return f"{where} at `/{pointer}`: {reason}"
