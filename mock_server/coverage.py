"""Client coverage: which parts of each provider's API a client's requests exercised since the last reset, and
which they never did (the 429 never handled, the second page never fetched, the approval never given).

Counting is on the hot path, so a live exchange costs one set insertion under one lock (about 3 µs in all): a
tuple of the operation, its status, whether an injected fault answered, the error code (parsed only from an
error), the query features used (parameters, Codat's query operators, Intacct's query-service filters and date
macros), paging beyond the first page, and the workflow transitions the ledger took meanwhile
(`ledger.workflow.TAKEN`). Replayed records (start, reset, import) are not the client's and are never counted:
the pipeline records only live exchanges.

The universe is computed once per provider, when coverage is first asked for, from what the provider documents:
its spec (operations, the response statuses each documents, the error codes its error examples and schemas
name, query parameters and the operators their descriptions name, states its answers enumerate) and its rule
catalogues (every `ledger.Workflow` its modules declare, Intacct's query OPERATORS and DATE_MACROS). What a
dimension needs per provider (where the error code sits in a body, which parameter pages) is a small table here,
keyed by provider name, rather than a hook in each provider.

Reports (JSON, Markdown, HTML, JUnit XML) are built from the JSON answer of GET /_mock/coverage, so the CLI and
the pytest plugin render what a remote server reports the same way.
"""

from __future__ import annotations

import html
import importlib
import re
import sys
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Mapping

import orjson

from .ledger.workflow import TAKEN, Workflow
from .providers import Provider
from .spec import Spec

# -- per provider: where its error code is, and which query parameter pages ------------------------------------

# Where an error body carries its code (the first path that holds a string wins): COUNT `error`, Intacct
# `ia::result.ia::error.errorId` (and OAuth's `error` at its token endpoint), Aden `error.code`.
CODE_AT: dict[str, tuple[tuple[str, ...], ...]] = {
    "count": (("error",),), "intacct": (("ia::result", "ia::error", "errorId"), ("error",)),
    "aden": (("error", "code"),)}
# (query parameter, its first page): a request with a larger value fetched beyond the first page.
PAGING: dict[str, tuple[str, int]] = {"count": ("page", 1), "intacct": ("start", 1), "aden": ("offset", 0),
                                      "codat": ("page", 1)}


def error_code(provider: str, body: Any) -> str | None:
    """The code of an error body; Codat has none, so its status and the family of its message stand for one
    (`400 Error parsing query` for `Error parsing query - ...`)."""
    if provider == "codat":
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return f"{body.get('statusCode')} {_CODAT_FAMILY.split(body['error'], 1)[0].rstrip('.')}"
        return None
    for path in CODE_AT.get(provider, ()):
        value = body
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str):
            return value
    return None


# A query parameter holding a query language: each operator its spec description names (`=`, `&&`, ...) is a
# feature of its own (Codat's `query`).
QUERY_LANGUAGE: dict[str, str] = {"codat": "query"}
_OPERATOR_IN_TEXT = re.compile(r"`([=!~<>&|{}]+)`")
_OPERATOR = re.compile(r"!=|>=|<=|&&|\|\||[=~<>]|\{")
# A query service taking its query in the body: (its operation, the module whose OPERATORS and DATE_MACROS
# catalogue what its `filters` may say): Intacct's `{"filters": [{"$eq": {"postingDate": "priorMonth"}}]}`.
FILTER_BODY: dict[str, tuple[str, str]] = {"intacct": ("queryObjects", "mock_server.providers.intacct.query")}
# States a provider moves on its own, outside the ledger's workflows, that a client meets in an answer: operation
# -> what the `status` of its answer is (the states are its schema's enum). Codat settles pushes later:
# a client that never read a Failed or TimedOut push never handled one.
ANSWERED_STATUS: dict[str, dict[str, str]] = {
    "codat": {"create-journal-entry": "push", "delete-journal-entry": "push", "get-push-operation": "push"}}
# Where a Codat message stops naming its family and starts on the particulars (an id, a value, the detail).
_CODAT_FAMILY = re.compile(r" - |: | with | for |, not |\. ")
# Aden lists its codes in the description of `error.code` (the ones no example shows, too).
_LISTED_CODE = re.compile(r"\b[A-Z][A-Z_]{2,}[A-Z]\b")


# -- counting -------------------------------------------------------------------------------------------------

@dataclass
class Tally:
    """What the client exercised of one provider (in one tenant, or merged over several)."""

    operations: set[str] = field(default_factory=set)
    statuses: set[tuple[str, int]] = field(default_factory=set)
    injected: set[tuple[str, int]] = field(default_factory=set)  # statuses only injected faults produced
    errors: set[str] = field(default_factory=set)
    transitions: set[tuple[str, str, str]] = field(default_factory=set)
    paging: set[str] = field(default_factory=set)
    query: set[tuple[str, str]] = field(default_factory=set)


class Exchange:
    """One live request being counted: the transitions it takes, and whether a fault answered it."""

    __slots__ = ("taken", "injected")

    def __init__(self) -> None:
        self.taken: list[tuple[str, str, str]] = []
        self.injected = False


# What one exchange exercised, as one hashable value: (operation, status, injected, error code, beyond the first
# page, query features, transitions taken). A client repeats itself, so a tenant's set of these stays
# small, and one insertion per request is all the hot path pays; report time takes them apart.
Seen = tuple[str, int, bool, "str | None", bool, tuple[str, ...], tuple[tuple[str, str, str], ...]]


class Coverage:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str | None], set[Seen]] = {}  # (provider, tenant or None) -> exchanges

    def watch(self) -> Exchange:
        """Before a live request runs: collect the workflow transitions it takes."""
        exchange = Exchange()
        TAKEN.set(exchange.taken)
        return exchange

    def record(self, exchange: Exchange, provider: str, tenant: str | None, operation: str, status: int,
               query: Mapping[str, Any], body: Any, answer: bytes) -> None:
        """After it: what it exercised."""
        TAKEN.set(None)  # what runs outside a watched request (fixtures, replays) is not the client's
        code = None
        if status >= 400:
            try:
                code = error_code(provider, orjson.loads(answer))
            except orjson.JSONDecodeError:
                pass
        elif operation in ANSWERED_STATUS.get(provider, ()):
            try:
                answered = orjson.loads(answer)
            except orjson.JSONDecodeError:
                answered = None
            if isinstance(answered, dict) and isinstance(answered.get("status"), str):
                exchange.taken.append(("", ANSWERED_STATUS[provider][operation], answered["status"]))
        seen = (operation, status, exchange.injected, code, _beyond_first_page(provider, query, body),
                _features(provider, operation, query, body), tuple(exchange.taken))
        key = (provider, tenant)
        with self._lock:
            found = self._seen.get(key)
            if found is None:
                found = self._seen[key] = set()
            found.add(seen)

    def reset(self, provider: str | None = None, tenant: str | None = None) -> None:
        """Forget what was counted: everything, one provider's, or one tenant's (with the state it belongs to)."""
        with self._lock:
            for key in [k for k in self._seen if provider in (None, k[0]) and tenant in (None, k[1])]:
                del self._seen[key]

    def tally(self, provider: str, tenant: str | None = None) -> Tally:
        """Everything counted for `provider` (in `tenant`, when given)."""
        with self._lock:
            exchanges = [seen for (name, at), found in self._seen.items()
                         if name == provider and tenant in (None, at) for seen in found]
        tally, answered = Tally(), set()
        for operation, status, injected, code, paged, query, taken in exchanges:
            tally.operations.add(operation)
            tally.statuses.add((operation, status))
            (tally.injected if injected else answered).add((operation, status))
            if code:
                tally.errors.add(code)
            if paged:
                tally.paging.add(operation)
            tally.query.update((operation, feature) for feature in query)
            tally.transitions.update(taken)
        tally.injected -= answered
        return tally

    def report(self, providers: Mapping[str, Provider], tenant: str | None = None) -> dict[str, Any]:
        """GET /_mock/coverage: per provider, covered and not covered per dimension, with hints."""
        return {"tenant": tenant, "providers": [
            _report(name, universe(provider), self.tally(name, tenant)) for name, provider in providers.items()]}


def _features(provider: str, operation: str, query: Mapping[str, Any], body: Any) -> tuple[str, ...]:
    """The query features one request used: its query parameters, the operators of a query language, and the
    fields, filter operators and date macros of a query service's body."""
    used = [f"?{name}" for name in query]
    language = QUERY_LANGUAGE.get(provider)
    if language is not None and isinstance(text := query.get(language), str):
        used += {f"?{language} {'{}' if o == '{' else o}" for o in _OPERATOR.findall(text)}
    service = FILTER_BODY.get(provider)
    if service is not None and operation == service[0] and isinstance(body, dict):
        used += [f".{key}" for key in body]
        _, macros = _filter_catalogue(provider)
        filters = body.get("filters")
        for condition in filters if isinstance(filters, list) else ():
            if isinstance(condition, dict):
                for operator, fields in condition.items():
                    used.append(f".filters {operator}")
                    values = fields.values() if isinstance(fields, dict) else ()
                    used += [f".filters {v}" for v in values if isinstance(v, str) and v in macros]
    return tuple(used)


@lru_cache(maxsize=None)
def _filter_catalogue(provider: str) -> tuple[tuple[str, ...], frozenset[str]]:
    module = importlib.import_module(FILTER_BODY[provider][1])
    return tuple(module.OPERATORS), frozenset(module.DATE_MACROS)


def _beyond_first_page(provider: str, query: Mapping[str, Any], body: Any) -> bool:
    paging = PAGING.get(provider)
    if paging is None:
        return False
    name, first = paging
    value = query.get(name)
    if value is None and body and isinstance(body, dict):  # Intacct's query service pages in its body
        value = body.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return value is not None and int(value) > first
    except (TypeError, ValueError):
        return False


# -- the universe ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Universe:
    operations: tuple[str, ...]
    statuses: tuple[tuple[str, int], ...]
    errors: tuple[str, ...]
    transitions: tuple[tuple[str, str, str], ...]
    paging: tuple[str, ...]
    query: tuple[tuple[str, str], ...]


def universe(provider: Provider) -> Universe:
    """Computed once per provider class and spec document (the documents live as long as the process)."""
    key = (type(provider), id(provider.spec.document))
    found = _universes.get(key)
    if found is None:
        found = _universes[key] = _universe(provider.name, type(provider), provider.spec)
    return found


_universes: dict[tuple[type, int], Universe] = {}


def _universe(name: str, cls: type, spec: Spec) -> Universe:
    document = spec.document
    operations, statuses, query, paging = [], [], [], []
    page_parameter = PAGING.get(name, (None, 0))[0]
    codes: set[str] = set()
    for item in document.get("paths", {}).values():
        shared = item.get("parameters", [])
        for method, raw in item.items():
            if not isinstance(raw, dict) or "operationId" not in raw or method == "parameters":
                continue
            op = raw["operationId"]
            operations.append(op)
            for status, response in raw.get("responses", {}).items():
                if not str(status).isdigit():
                    continue
                statuses.append((op, int(status)))
                if int(status) >= 400:
                    codes.update(_documented_codes(name, spec.resolve(response), spec))
            for parameter in (spec.resolve(p) for p in [*shared, *raw.get("parameters", [])]):
                if parameter.get("in") != "query":
                    continue
                if parameter["name"] == page_parameter:
                    paging.append(op)
                query.append((op, f"?{parameter['name']}"))
                if parameter["name"] == QUERY_LANGUAGE.get(name):
                    query.extend((op, f"?{parameter['name']} {o}") for o in _OPERATOR_IN_TEXT.findall(
                        parameter.get("description", "")))
            body = _body_properties(spec, raw)
            if page_parameter and page_parameter in body:
                paging.append(op)
            if FILTER_BODY.get(name, ("",))[0] == op:
                operators, macros = _filter_catalogue(name)
                query.extend([*((op, f".{p}") for p in body), *((op, f".filters {o}") for o in operators),
                              *((op, f".filters {m}") for m in macros)])
    transitions = sorted({(before, action, after) for workflow in _workflows(cls)
                          for (before, action), after in workflow.transitions.items()}
                         | _answered_states(name, spec))
    return Universe(tuple(operations), tuple(sorted(set(statuses))), tuple(sorted(codes)), tuple(transitions),
                    tuple(sorted(set(paging))), tuple(sorted(set(query))))


def _answered_states(name: str, spec: Spec) -> set[tuple[str, str, str]]:
    """("", what, state) for each state the successful answers of ANSWERED_STATUS's operations enumerate."""
    wanted = ANSWERED_STATUS.get(name, {})
    found: set[tuple[str, str, str]] = set()
    for item in spec.document.get("paths", {}).values():
        for raw in item.values():
            if isinstance(raw, dict) and raw.get("operationId") in wanted:
                for status, response in raw.get("responses", {}).items():
                    if str(status).startswith("2"):
                        for content in (spec.resolve(response).get("content") or {}).values():
                            schema = spec.resolve(content.get("schema") or {})
                            state = spec.resolve((schema.get("properties") or {}).get("status") or {})
                            found.update(("", wanted[raw["operationId"]], str(v)) for v in state.get("enum", []))
    return found


def _documented_codes(name: str, response: dict, spec: Spec) -> set[str]:
    """The codes an error response documents: its examples', and those its schema's code field enumerates,
    exemplifies or lists in its description (Aden lists every code there, the ones no example shows too)."""
    found: set[str] = set()
    for content in (response.get("content") or {}).values():
        examples = [content.get("example")] + [spec.resolve(e).get("value")
                                               for e in (content.get("examples") or {}).values()]
        found.update(code for example in examples if example is not None
                     for code in [error_code(name, example)] if code)
        for path in CODE_AT.get(name, ()):
            field_schema = spec.resolve(content.get("schema") or {})
            for key in path:
                field_schema = spec.resolve(((field_schema or {}).get("properties") or {}).get(key))
            if isinstance(field_schema, dict):
                found.update(str(v) for v in field_schema.get("enum", []))
                if isinstance(field_schema.get("example"), str):
                    found.add(field_schema["example"])
                found.update(_LISTED_CODE.findall(field_schema.get("description", "")))
    return found


def _body_properties(spec: Spec, raw: dict) -> set[str]:
    content = ((raw.get("requestBody") or {}).get("content") or {}).get("application/json") or {}
    schema = spec.resolve(content.get("schema") or {})
    return set(schema.get("properties") or {}) if isinstance(schema, dict) else set()


def _workflows(cls: type) -> list[Workflow]:
    """Every Workflow the provider's package declares at module level: its transition tables."""
    package = cls.__module__.rsplit(".", 1)[0]
    seen: dict[int, Workflow] = {}
    for module_name, module in list(sys.modules.items()):
        if module is not None and (module_name == package or module_name.startswith(package + ".")):
            for value in vars(module).values():
                if isinstance(value, Workflow):
                    seen[id(value)] = value
    return list(seen.values())


# -- the report -------------------------------------------------------------------------------------------------

def _transition_label(before: str, action: str, after: str) -> str:
    """`draft -submit-> submitted`; a state met in an answer (ANSWERED_STATUS) is `push: Failed`."""
    return f"{action}: {after}" if not before else f"{before} -{action}-> {after}"


def _report(name: str, world: Universe, tally: Tally) -> dict[str, Any]:
    items: dict[str, tuple[list[str], set[str], Callable[[str], str]]] = {
        "operations": ([o for o in world.operations], set(tally.operations), lambda o: f"call {o}"),
        "statuses": ([f"{o} {s}" for o, s in world.statuses], {f"{o} {s}" for o, s in tally.statuses},
                     lambda item: _status_hint(name, *item.rsplit(" ", 1))),
        "errors": (list(world.errors), set(tally.errors),
                   lambda code: f"make a request {name} refuses with {code}"),
        "transitions": ([_transition_label(*t) for t in world.transitions],
                        {_transition_label(*t) for t in tally.transitions}, _transition_hint),
        "paging": (list(world.paging), set(tally.paging),
                   lambda o: f"call {o} with {PAGING[name][0]} beyond the first page ({PAGING[name][0]}="
                             f"{PAGING[name][1] + 1 if PAGING[name][0] != 'offset' else 'the page size'})"),
        "query": ([f"{o} {f}" for o, f in world.query], {f"{o} {f}" for o, f in tally.query}, _query_hint),
    }
    dimensions: dict[str, Any] = {}
    covered_total = total = 0
    for dimension, (every, seen, hint) in items.items():
        covered = [item for item in every if item in seen]
        uncovered = [item for item in every if item not in seen]
        covered_total, total = covered_total + len(covered), total + len(every)
        dimensions[dimension] = {"covered": covered, "uncovered": uncovered,
                                 "ratio": _ratio(len(covered), len(every)),
                                 "hints": {item: hint(item) for item in uncovered}}
    statuses = dimensions["statuses"]
    documented = set(items["statuses"][0])
    statuses["injected"] = sorted(f"{o} {s}" for o, s in tally.injected)
    statuses["undocumented"] = sorted(item for item in items["statuses"][1] if item not in documented)
    return {"provider": name, "ratio": _ratio(covered_total, total), "covered": covered_total, "total": total,
            "dimensions": dimensions}


def _ratio(covered: int, total: int) -> float:
    return round(covered / total, 4) if total else 1.0


_STATUS_HINTS = {
    400: "send a body or parameter the spec refuses",
    401: "call without credentials, or with an expired token",
    403: "call with credentials that may not do this",
    404: "ask for an id that does not exist",
    409: "repeat a change that conflicts (the same key or state twice)",
    413: "send a body over the size limit",
    415: "send the body with a Content-Type other than JSON",
    422: "send a change a business rule refuses",
}


def _status_hint(provider: str, operation: str, status: str) -> str:
    code = int(status)
    fault = (f"inject it: POST /_mock/faults {{\"provider\": \"{provider}\", \"operation\": \"{operation}\", "
             f"\"status\": {code}, \"times\": 1}} (or header `X-Ledger-Mock-Fault: status={code}`)")
    if code == 429:
        return (f"rate-limit it: POST /_mock/faults {{\"provider\": \"{provider}\", \"operation\": "
                f"\"{operation}\", \"limit\": 0}} (or header `X-Ledger-Mock-Fault: status=429`)")
    if code < 400:
        return f"call {operation} successfully"
    if code >= 500:
        return fault
    return f"{_STATUS_HINTS.get(code, 'make a request the provider refuses')}; or {fault}"


def _query_hint(item: str) -> str:
    operation, feature = item.split(" ", 1)
    if feature.startswith("?"):
        name, _, operator = feature[1:].partition(" ")
        return f"call {operation} with {name} using {operator}" if operator else f"call {operation} with ?{name}="
    field_name, _, value = feature[1:].partition(" ")
    return f"call {operation} with a {field_name} condition using {value}" if value else \
        f"call {operation} with `{field_name}` in the body"


def _transition_hint(label: str) -> str:
    if " -" not in label:
        what, state = label.split(": ", 1)
        return (f"read a {what} that is {state} (the connection's push outcome and delay in the fixtures decide "
                f"how pushes settle)")
    before, rest = label.split(" -", 1)
    action, after = rest.split("-> ", 1)
    return f"{action.split(':')[0]} an entry that is {before} (it becomes {after})"


# -- rendering ----------------------------------------------------------------------------------------------------

def fetch(url: str, provider: str | None = None, tenant: str | None = None, token: str | None = None,
          timeout: float = 30) -> dict[str, Any]:
    """GET /_mock/coverage of the server at `url` (the CLI and the pytest plugin; no HTTP library needed)."""
    from urllib.parse import urlencode
    from urllib.request import Request, urlopen

    query = urlencode({k: v for k, v in (("provider", provider), ("tenant", tenant)) if v is not None})
    request = Request(url.rstrip("/") + "/_mock/coverage" + (f"?{query}" if query else ""),
                      headers={"Accept": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})})
    with urlopen(request, timeout=timeout) as answer:  # noqa: S310 (the operator's own server)
        return orjson.loads(answer.read())


def lowest(report: Mapping[str, Any], named: bool = False) -> float:
    """What a threshold compares, in percent: the lowest ratio among the providers the client exercised at all
    (every provider in the report when it was asked for by name); 0 when it exercised none."""
    ratios = [p["ratio"] for p in report["providers"] if named or p["covered"]]
    return round(min(ratios) * 100, 2) if ratios else 0.0


def summary_line(provider: Mapping[str, Any]) -> str:
    parts = ", ".join(f"{d} {len(v['covered'])}/{len(v['covered']) + len(v['uncovered'])}"
                      for d, v in provider["dimensions"].items())
    return (f"{provider['provider']}: {provider['ratio'] * 100:.1f}% ({provider['covered']}/{provider['total']}; "
            f"{parts})")


def render(report: Mapping[str, Any], fmt: str) -> str:
    if fmt == "json":
        return orjson.dumps(report, option=orjson.OPT_INDENT_2).decode()
    return {"md": _markdown, "html": _html, "junit": _junit}[fmt](report)


def _markdown(report: Mapping[str, Any]) -> str:
    lines = ["# ledger-mock client coverage" + (f" (tenant {report['tenant']})" if report.get("tenant") else ""), ""]
    for provider in report["providers"]:
        lines += [f"## {provider['provider']}: {provider['ratio'] * 100:.1f}%", "",
                  "| dimension | covered | ratio |", "|---|---|---|"]
        for dimension, found in provider["dimensions"].items():
            lines.append(f"| {dimension} | {len(found['covered'])}/{len(found['covered']) + len(found['uncovered'])} "
                         f"| {found['ratio'] * 100:.1f}% |")
        lines.append("")
        for dimension, found in provider["dimensions"].items():
            if found["uncovered"]:
                lines.append(f"### not covered: {dimension}")
                lines += [f"- `{item}`: {found['hints'][item]}" for item in found["uncovered"]]
                lines.append("")
    return "\n".join(lines)


def status_table(provider: Mapping[str, Any]) -> dict[str, Any]:
    """Operation x status: each documented cell covered, injected or not (and any undocumented status received);
    what the HTML pages show."""
    statuses = provider["dimensions"]["statuses"]
    covered, injected = set(statuses["covered"]), set(statuses["injected"])
    cells: dict[str, dict[int, dict[str, str]]] = {}
    for item in [*statuses["covered"], *statuses["uncovered"], *statuses["undocumented"]]:
        operation, status = item.rsplit(" ", 1)
        state = "injected" if item in injected else "uncovered" if item in statuses["hints"] else "covered"
        hint = statuses["hints"].get(item) or ("" if item in covered else "received, though the spec does not "
                                                                           "document it")
        cells.setdefault(operation, {})[int(status)] = {"state": state, "hint": hint}
    called = set(provider["dimensions"]["operations"]["covered"])
    columns = sorted({status for row in cells.values() for status in row})
    rows = [{"operation": op, "called": op in called, "cells": cells[op]}
            for op in [*provider["dimensions"]["operations"]["covered"],
                       *provider["dimensions"]["operations"]["uncovered"]] if op in cells]
    return {"columns": columns, "rows": sorted(rows, key=lambda r: r["operation"])}


def _html(report: Mapping[str, Any]) -> str:
    e = html.escape
    out = ["<!doctype html><html lang=en><head><meta charset=utf-8><title>ledger-mock client coverage</title>",
           "<style>body{font:14px system-ui,sans-serif;margin:1rem}table{border-collapse:collapse;margin:.5rem 0}"
           "td,th{border:1px solid #ccd;padding:.2rem .4rem;text-align:center}td.op{text-align:left}"
           ".covered{background:#cdeccf}.injected{background:#fde7b0}.uncovered{background:#f7c6c3}"
           ".none{background:#f4f4f4}li{margin:.1rem 0}</style></head><body>",
           "<h1>ledger-mock client coverage</h1>",
           "<p>green: received; amber: received only from an injected fault; red: documented, never received "
           "(hover for how to reach it)</p>"]
    for provider in report["providers"]:
        table = status_table(provider)
        out.append(f"<h2 id='{e(provider['provider'])}'>{e(provider['provider'])}: "
                   f"{provider['ratio'] * 100:.1f}%</h2><p>{e(summary_line(provider))}</p>")
        out.append("<table class=statuses><tr><th>operation</th>"
                   + "".join(f"<th>{s}</th>" for s in table["columns"]) + "</tr>")
        for row in table["rows"]:
            out.append(f"<tr><td class=op>{e(row['operation'])}</td>" + "".join(
                f"<td class={c['state']} title='{e(c['hint'])}'>{'✓' if c['state'] != 'uncovered' else '✗'}</td>"
                if (c := row["cells"].get(s)) else "<td class=none></td>" for s in table["columns"]) + "</tr>")
        out.append("</table>")
        for dimension, found in provider["dimensions"].items():
            if dimension in ("statuses", "operations") or not found["uncovered"]:
                continue
            out.append(f"<details><summary>{e(dimension)}: {len(found['uncovered'])} not covered</summary><ul>"
                       + "".join(f"<li><code>{e(i)}</code>: {e(found['hints'][i])}</li>" for i in found["uncovered"])
                       + "</ul></details>")
    out.append("</body></html>")
    return "\n".join(out)


def _junit(report: Mapping[str, Any]) -> str:
    """One test case per documented item; an uncovered one fails with its hint."""
    q = html.escape
    suites = []
    for provider in report["providers"]:
        cases = []
        for dimension, found in provider["dimensions"].items():
            cases += [f'<testcase classname="{q(provider["provider"])}.{dimension}" name="{q(i)}"/>'
                      for i in found["covered"]]
            cases += [f'<testcase classname="{q(provider["provider"])}.{dimension}" name="{q(i)}">'
                      f'<failure message="not covered">{q(found["hints"][i])}</failure></testcase>'
                      for i in found["uncovered"]]
        suites.append(f'<testsuite name="ledger-mock coverage {q(provider["provider"])}" tests="{provider["total"]}" '
                      f'failures="{provider["total"] - provider["covered"]}">' + "".join(cases) + "</testsuite>")
    return '<?xml version="1.0" encoding="utf-8"?>\n<testsuites>' + "".join(suites) + "</testsuites>\n"

