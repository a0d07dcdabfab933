"""The machinery of tests/test_isolation.py: walk a provider's spec, learn a tenant's ids through its own
credentials, and build the requests that put tenant A's ids into tenant B's calls.

Nothing here names an operation: paths, parameters, example bodies and the fields in them that reference records
all come from the spec (`Spec.operations`), so an operation added to a spec is probed without this file changing.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urlencode

from mock_server.spec import Operation, Spec

PARAM = re.compile(r"\{(\w+)\}")
# Body fields that reference a record: `id`, `key`, `accountUuid`, `tagUuids`, `account_id`, `glAccount.id`, ...
REFERENCE = re.compile(r"(^id$|^key$|Uuids?$|Ids?$|_ids?$|Keys?$)")
SECRET = re.compile(r"(?i)^refresh_?token$")  # a body field that carries a credential of the caller's
PAGE_SIZES = ("limit", "pageSize", "size")
VOLATILE = {"requestId", "correlationId", "supportId"}  # differ on every answer, whatever was asked
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

Auth = Callable[[str, str, bytes], dict[str, str]]  # (method, path, body) -> headers


def params(template: str) -> list[str]:
    return PARAM.findall(template)


def fill(template: str, binding: Mapping[str, str]) -> str:
    return PARAM.sub(lambda m: binding[m.group(1)], template)


def key_of(binding: Mapping[str, str]) -> tuple:
    return tuple(sorted(binding.items()))


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name).replace("_", " ").replace("-", " ")
    return [w.lower() for w in spaced.split() if w]


def _prefix(a: str, b: str) -> int:
    """Length of the common prefix (`entry`/`entries` share 4)."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


# -- requests ---------------------------------------------------------------------------------------------------

@dataclass
class Probe:
    """One request of the spec's operation `op`, and where tenant A's values sit in it."""

    op: Operation
    path: str  # the spec path with its parameters filled
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    form: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    a_values: tuple[str, ...] = ()  # A's ids or secrets this request carries
    label: str = ""  # which slots hold A's values
    fake: Probe | None = None  # the same request with never-existing values where A's are
    in_path: bool = False  # one of A's values is a path parameter

    def describe(self) -> str:
        body = "" if self.body is None else " " + json.dumps(self.body, separators=(",", ":"))[:300]
        query = f"?{urlencode(self.query)}" if self.query else ""
        return f"{self.op.id} [{self.label}] {self.op.method} {self.path}{query}{body}"

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if self.form:
            return urlencode(self.body).encode()
        return json.dumps(self.body, separators=(",", ":")).encode()

    def sent_strings(self, headers: Mapping[str, str]) -> set[str]:
        """Everything the caller put in the request: an answer may echo it back without leaking anything."""
        found = {part for part in self.path.split("/") if part}
        found |= {str(v) for v in self.query.values()}
        for value in headers.values():
            found |= {value, *value.replace(",", " ").split()}
        stack = [self.body]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                stack.extend(value.values())
            elif isinstance(value, list):
                stack.extend(value)
            elif isinstance(value, str):
                found |= {value, *value.split("|"), *value.split("@")}
        return {s for s in found if len(s) >= 4}


@dataclass
class Answer:
    status: int
    body: bytes
    sent_headers: dict[str, str]  # the request's, auth included


def send(app: Any, prefix: str, probe: Probe, auth: Auth | None) -> Answer:
    raw = probe.encoded()
    path = prefix + probe.path
    headers = dict(auth(probe.op.method, path, raw)) if auth else {}
    headers.update(probe.headers)
    if raw:
        headers["Content-Type"] = "application/x-www-form-urlencoded" if probe.form else "application/json"
    response = app.test_client().open(path, method=probe.op.method, data=raw, headers=headers,
                                      query_string=probe.query)
    return Answer(response.status_code, response.get_data(), headers)


def fake_of(value: str) -> str:
    """A value shaped like `value` (so it passes the same schema) that names nothing anywhere."""
    if UUID.match(value):
        return str(uuid.UUID(int=uuid.UUID(value).int ^ 0x5A5A5A5A5A5A))  # version and variant bits kept
    if value.isdigit():
        return "9" * (len(value) + 4)
    if re.fullmatch(r"[0-9a-f]{16,}", value):
        return "f" * len(value)
    return "nx" + value


def normalized(answer: Answer, values: tuple[str, ...], new_ids: bool = False) -> Any:
    """The answer with the probed values blanked out and the fields that differ on every answer dropped; with
    `new_ids`, the ids the mock gave what the request created are blanked out too (they differ between twins)."""
    text = answer.body.decode("utf-8", "replace")
    for value in sorted(values, key=len, reverse=True):
        text = re.sub(r"(?<![\w-])" + re.escape(value) + r"(?![\w-])", "<ID>", text)
    try:
        document = json.loads(text)
    except ValueError:
        return answer.status, text

    def clean(node: Any, key: str = "") -> Any:
        if isinstance(node, dict):
            return {k: clean(v, k) for k, v in node.items() if k not in VOLATILE}
        if isinstance(node, list):
            return [clean(v, key) for v in node]
        if new_ids and isinstance(node, str) and (UUID.match(node) or REFERENCE.search(key) and node.isdigit()):
            return "<NEW>"
        if new_ids and isinstance(node, str):  # and in links: `/objects/general-ledger/journal-entry/133`
            node = re.sub(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<NEW>",
                          node)
            return re.sub(r"(?<=/)\d+(?=$|[/?])", "<NEW>", node)
        return node
    return answer.status, clean(document)


def leaked(answer: Answer, probe: Probe, secrets: set[str]) -> list[str]:
    """Which of A's markers, ids and credentials the answer holds, beyond what the request itself carried."""
    text = answer.body.decode("utf-8", "replace")
    for sent in sorted(probe.sent_strings(answer.sent_headers), key=len, reverse=True):
        text = text.replace(sent, "")
    return sorted(s for s in secrets if s in text)


# -- a spec, walked ---------------------------------------------------------------------------------------------

class SpecWalk:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.operations = list(spec.operations.values())
        self.authenticated = [op for op in self.operations if op.security_schemes]
        self.gets = {op.path: op for op in self.authenticated if op.method == "GET"}
        # Templates that end in a parameter name a record; their last static segment names its kind.
        self.records = {op.path for op in self.operations if op.path.endswith("}")}

    def raw(self, op: Operation) -> dict:
        return self.spec.document["paths"][op.path][op.method.lower()]

    @staticmethod
    def resource(template: str) -> str:
        """The last word of the last static segment before a template's last parameter: `accounts` for
        `/partners/chart-of-accounts/{id}`, `entries` for `/companies/{companyId}/data/journalEntries/{id}`."""
        before = template[:template.rindex("{")] if "{" in template else template
        static = [s for s in before.split("/") if s and not s.startswith("{")]
        return (_words(static[-1]) or [""])[-1] if static else ""

    def record_for(self, names: list[str]) -> str | None:
        """The record template a field references, by the last word of its name (`categoryAccountUuid` ->
        account -> `.../chart-of-accounts/{id}`), singular or plural; the first name that matches wins."""
        for name in names:
            words = _words(name)
            if not words:
                continue
            word, best, choice = words[-1], 0, None
            for template in sorted(self.records, key=lambda t: (len(t), t)):
                score = _prefix(word, self.resource(template))
                if score >= max(3, 0.6 * len(word)) and score > best:
                    best, choice = score, template
            if choice:
                return choice
        return None

    def query_for(self, op: Operation, listing: bool = True) -> dict[str, Any]:
        """Required query parameters (from the spec's example, enum or bounds), and the largest page size."""
        query: dict[str, Any] = {}
        raw = {(p.get("name"), p.get("in")): p for p in map(self.spec.resolve, self.raw(op).get("parameters", []))}
        for param in op.parameters:
            if param.location != "query":
                continue
            schema = param.schema
            if param.required:
                example = raw.get((param.name, "query"), {}).get("example", schema.get("example"))
                if example is None:
                    example = (schema.get("enum") or [None])[0]
                if example is None:
                    example = max(schema.get("minimum", 1), 1) if schema.get("type") in ("integer", "number") else "x"
                query[param.name] = example
            elif listing and param.name in PAGE_SIZES and "maximum" in schema:
                query[param.name] = schema["maximum"]
        return query

    def example_body(self, op: Operation) -> tuple[Any, bool]:
        """A body the spec accepts: its example, less what its own schema refuses; and whether it is a form."""
        raw = self.raw(op).get("requestBody")
        if raw is None:
            return None, False
        content = self.spec.resolve(raw).get("content", {})
        media_type = "application/json" if "application/json" in content else next(iter(content))
        media = content[media_type]
        example = media.get("example")
        if example is None and media.get("examples"):
            example = self.spec.resolve(next(iter(media["examples"].values()))).get("value")
        schema = self.spec.resolve(media.get("schema", {}))
        candidates = [example]
        if isinstance(example, dict):
            known = schema.get("properties", {})
            candidates.append({k: v for k, v in example.items() if k in known})
            candidates.append({k: v for k, v in example.items() if k in schema.get("required", [])})
        for candidate in candidates:
            try:
                op.check_body(candidate)
            except Exception:
                continue
            return json.loads(json.dumps(candidate)), media_type != "application/json"
        return example, media_type != "application/json"

    def reference_fields(self, op: Operation, body: Any) -> list[tuple[tuple, str]]:
        """(JSON path, record template) of every body field that references a record, and of credentials (the
        template is then `secret:<field>`). A create's field naming the record it creates is not a reference."""
        own = op.path if op.method == "POST" and not op.path.endswith("}") else None
        found: list[tuple[tuple, str]] = []

        def walk(node: Any, path: tuple, parent: str | None) -> None:
            if isinstance(node, dict):
                for key, value in node.items():
                    if isinstance(value, (dict, list)) and not (isinstance(value, list) and _strings(value)):
                        walk(value, (*path, key), key)
                    elif SECRET.match(key) and isinstance(value, str):
                        found.append(((*path, key), f"secret:{key}"))
                    elif REFERENCE.search(key) and (isinstance(value, str) or isinstance(value, list)):
                        stem = REFERENCE.sub("", key)
                        names = [n for n in (stem, re.sub(r"Ref$", "", parent or "")) if n]
                        if not names:  # a top-level `key`/`id`: the record the operation's path is about
                            names = [s for s in reversed(op.path.split("/")) if s and not s.startswith("{")]
                        template = self.record_for(names)
                        if template is None:
                            continue
                        if own is not None and template.startswith(op.path + "/"):
                            continue  # names the record being created
                        found.append(((*path, key), template))
            elif isinstance(node, list):
                for index, item in enumerate(node):
                    walk(item, (*path, index), parent)
        walk(body, (), None)
        return found


def _strings(value: list) -> bool:
    return all(isinstance(v, str) for v in value)


def set_at(document: Any, path: tuple, value: str) -> None:
    *head, last = path
    for part in head:
        document = document[part]
    document[last] = [value] if isinstance(document[last], list) else value


# -- a tenant, seen through its own credentials -----------------------------------------------------------------

class TenantView:
    """What one set of credentials reaches: every binding of every path template (crawled from the list
    operations), and the answers of every read."""

    def __init__(self, app: Any, prefix: str, walk: SpecWalk, auth: Auth):
        self.app, self.prefix, self.walk, self.auth = app, prefix, walk, auth
        self._bindings: dict[str, list[dict[str, str]]] = {}
        self.requests = 0

    def get(self, op: Operation, binding: Mapping[str, str], query: Mapping[str, Any]) -> Answer:
        self.requests += 1
        return send(self.app, self.prefix, Probe(op, fill(op.path, binding), dict(query)), self.auth)

    def pages(self, op: Operation, binding: Mapping[str, str]) -> Iterator[Answer]:
        """Every page of a read, following whichever paging parameter the operation has."""
        query = self.walk.query_for(op)
        step = next((name for name in ("page", "offset", "start") if name in op.query_names), None)
        size = next((query[n] for n in PAGE_SIZES if n in query), None)
        seen: set[str] = set()
        for _ in range(100):
            answer = self.get(op, binding, query)
            yield answer
            rows = rows_of(answer)
            if step is None or not rows or answer.status != 200:
                return
            marker = json.dumps(rows, sort_keys=True)
            if marker in seen:
                return
            seen.add(marker)
            if step == "page":
                query["page"] = query.get("page", 1) + 1
            elif step == "offset":
                query["offset"] = query.get("offset", 0) + (size or len(rows))
            else:
                query["start"] = query.get("start", 1) + (size or len(rows))

    def bindings(self, template: str) -> list[dict[str, str]]:
        """Every assignment of `template`'s path parameters to records these credentials reach."""
        if template in self._bindings:
            return self._bindings[template]
        names = params(template)
        if not names:
            return [{}]
        last = names[-1]
        head = template[:template.index("{" + last + "}")].rstrip("/")
        source = self.walk.gets.get(head) or next(
            (self.walk.gets[t[:t.index("/{" + last + "}")]] for t in self.walk.gets
             if "/{" + last + "}" in t and t[:t.index("/{" + last + "}")] in self.walk.gets), None)
        found: list[dict[str, str]] = []
        if source is not None:
            for parent in self.bindings(head):
                wanted = {k: v for k, v in parent.items() if k in params(source.path)}
                for answer in self.pages(source, wanted):
                    for row in rows_of(answer):
                        value = next((row[k] for k in (last, "id", "key") if isinstance(row.get(k), str)), None)
                        if value is not None and {**parent, last: value} not in found:
                            found.append({**parent, last: value})
        self._bindings[template] = found
        return found

    def snapshot(self) -> dict[tuple, tuple[int, bytes]]:
        """Every read operation's every page for every binding: the tenant as its owner sees it, byte for byte
        (an error answer less its request id, which differs on every answer)."""
        seen = {}
        for op in self.walk.gets.values():
            for binding in self.bindings(op.path):
                for number, answer in enumerate(self.pages(op, binding)):
                    body = answer.body if answer.status < 400 else json.dumps(normalized(answer, ())).encode()
                    seen[(op.id, key_of(binding), number)] = (answer.status, body)
        return seen


def rows_of(answer: Answer) -> list[dict]:
    """The records of a list answer: the shallowest list of objects in it."""
    try:
        level = [json.loads(answer.body)]
    except ValueError:
        return []
    while level:
        for node in level:
            if isinstance(node, list) and node and all(isinstance(x, dict) for x in node):
                return node
        level = [child for node in level for child in
                 (node.values() if isinstance(node, dict) else node if isinstance(node, list) else [])]
    return []


def strings_in(document: Any) -> Iterator[tuple[str, str]]:
    """(key, value) of every string under a key in a JSON document."""
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str):
                    yield key, value
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)


# -- the probes --------------------------------------------------------------------------------------------------

@dataclass
class Ids:
    """Tenant A's and tenant B's records per path template, and A's secrets a request may carry."""

    a: dict[str, list[dict[str, str]]]  # A's bindings that no binding of B's equals, A's own records first
    b: dict[str, list[dict[str, str]]]  # B's bindings that no binding of A's equals
    shared: dict[str, list[dict[str, str]]]  # bindings both tenants have (seeded alike)
    # `refreshToken`, and `idempotency`: a key A has used, on the operation `idempotency_op`
    a_secrets: dict[str, str] = field(default_factory=dict)
    b_secrets: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.b_reaches = {v for rows in (*self.b.values(), *self.shared.values()) for row in rows
                          for v in row.values()}


Slot = tuple  # ("path", name) | ("body", JSON path) | ("header", name)


def probes(walk: SpecWalk, ids: Ids, per_template: int = 3, mixes: int = 8) -> tuple[list[Probe], list[Probe],
                                                                                    list[Probe]]:
    """(with A's values, without them, controls with B's own values) for every authenticated operation.

    A request's slots are its path parameters, the body fields that reference a record of a kind A has (or carry a
    refresh token), and its idempotency-key header. With A's values: for each of A's own bindings of the path (up
    to `per_template`), the request with every slot holding A's value, and, where there are several slots, one
    request per slot with A's value there and B's in the others (an idempotency key is never alone: on B's own
    record it would be a plain change of B's). Each has a twin with never-existing values in A's places. Without:
    the operations where A has nothing to put (lists, plain creates, records both tenants were seeded with).
    Controls: every slot B's, to show the request reaches a record when it is the caller's own.
    """
    with_a, without, controls = [], [], []
    for op in walk.authenticated:
        body, form = walk.example_body(op)
        query = walk.query_for(op, listing=False)
        path_names = params(op.path)
        refs = dict(walk.reference_fields(op, body))

        def value(owner: str, slot: Slot, binding: Mapping[str, str]) -> str | None:
            kind, where = slot
            if kind == "path":
                return binding.get(where)
            if kind == "header":
                return ids.a_secrets.get("idempotency") if owner == "a" else None
            template = refs[where]
            if template.startswith("secret:"):
                return (ids.a_secrets if owner == "a" else ids.b_secrets).get(template[7:])
            rows = (ids.a if owner == "a" else ids.b).get(template) or []
            if owner == "b" and not rows:
                rows = ids.shared.get(template) or []
            return rows[0][params(template)[-1]] if rows else None

        def build(values: dict[Slot, str | None], a_slots: set, label: str) -> Probe:
            binding = {where: v for (kind, where), v in values.items() if kind == "path"}
            new_body = json.loads(json.dumps(body))
            headers = {}
            for (kind, where), v in values.items():
                if kind == "body":
                    set_at(new_body, where, v)
                elif kind == "header" and v is not None:
                    headers[where] = v
            return Probe(op, fill(op.path, binding), dict(query), new_body, form, headers,
                         a_values=tuple(dict.fromkeys(values[s] for s in a_slots)), label=label,
                         in_path=any(kind == "path" for kind, _ in a_slots))

        slots: list[Slot] = [("path", n) for n in path_names]
        slots += [("body", where) for where in refs if value("a", ("body", where), {}) is not None]
        if op.id == ids.a_secrets.get("idempotency_op"):  # the operation A sent its idempotency key to
            slots += [("header", p.name) for p in op.parameters
                      if p.location == "header" and "idempotency" in p.name.lower()]
        b_binding = (ids.b.get(op.path) or ids.shared.get(op.path) or [{}])[0] if path_names else {}
        b_values = {s: value("b", s, b_binding) for s in slots}
        b_complete = all(v is not None for s, v in b_values.items() if s[0] != "header")
        made = 0
        for binding in ids.a.get(op.path, [{}] if not path_names else [])[:per_template]:
            a_values = {s: value("a", s, binding) for s in slots}
            # A value B reaches too is not A's, wherever it goes: Codat's chart ids (`1000`) repeat in every company.
            a_slots = {s for s, v in a_values.items() if v is not None and v not in ids.b_reaches}
            if not a_slots:
                continue
            everything = {s: a_values[s] if s in a_slots else b_values[s] or a_values[s] for s in slots}
            if any(v is None for s, v in everything.items() if s[0] != "header"):
                continue
            cases = [(everything, a_slots, "A in " + ", ".join(_slot_name(s) for s in sorted(a_slots, key=str)))]
            if len(slots) > 1 and b_complete:
                alone = [s for s in sorted(a_slots, key=str) if s[0] != "header"]
                cases += [({**b_values, s: a_values[s]}, {s}, f"A in {_slot_name(s)}, B elsewhere")
                          for s in islice(alone, mixes)]
            for values, chosen, label in cases:
                probe = build(values, chosen, label)
                probe.fake = build({s: fake_of(v) if s in chosen else v for s, v in values.items()}, chosen,
                                   label + " (never-existing)")
                with_a.append(probe)
                made += 1
        if slots and b_complete and not any(refs.get(where, "").startswith("secret:") for _, where in slots):
            controls.append(build(b_values, set(), "B's own"))
        if made == 0:  # nothing of A's to put in: the operation still must show B nothing of A's
            shared = ids.shared.get(op.path) or [] if path_names else [{}]
            if not shared:
                continue
            values = {s: v for s in slots if (v := value("b", s, shared[0])) is not None}
            without.append(build(values, set(), "id both tenants have" if path_names else "no A id"))
    return with_a, without, controls


def _slot_name(slot: Slot) -> str:
    kind, where = slot
    return {"path": f"path {{{where}}}", "header": f"header {where}"}.get(kind) or "body " + ".".join(map(str, where))


def order(probes_: list[Probe], walk: SpecWalk) -> list[Probe]:
    """Reads first, then changes, then deletes (the deepest path first), then creates: a record B creates may get
    an id A's records have too (Intacct numbers each company's entries from the same point), and would then answer
    for it. Deletes of a record other operations live under (a Codat company) come last: they take those along."""
    rank = {"GET": 0, "HEAD": 0, "DELETE": 2}

    def creates(op: Operation) -> bool:
        return op.method == "POST" and any(t.startswith(op.path + "/{") for t in walk.records)

    def removes_a_parent(op: Operation) -> bool:
        return op.method == "DELETE" and any(o.path.startswith(op.path + "/") for o in walk.operations)

    def key(p: Probe) -> tuple[int, int]:
        first = 4 if removes_a_parent(p.op) else 3 if creates(p.op) else rank.get(p.op.method, 1)
        return first, -p.op.path.count("/") if p.op.method == "DELETE" else 0  # the deepest delete first
    return sorted(probes_, key=key)

