"""No silent drops (issue 15, item 2): every field a provider's spec accepts on a write is (a) stored and shown by
the reads of that record, (b) refused with a 4xx in the provider's envelope that names it, or (c) where the real
provider ignores it, named in an `X-Ledger-Mock-Warning` header (or the provider's own channel: COUNT's
`_partnerWarnings`).

Generated from openapi/*.yaml, for every operation that may change state (`Operation.changes`) of every provider,
each provider described by a `Plan`:

- Record writes (`writes`: creates, updates, bulk creates, and workflow calls that write a record's fields: an
  Aden reversal or void, an Intacct reclassification). Hypothesis draws a body with every property the request
  schema declares set, at every depth (bulk rows take the single create's schema; a `patternProperties` entry
  that names one property counts as declared), with distinctive values (the field's name, random letters and a
  serial). Only what the provider's business rules constrain is drawn from a named set (`values`: fixture
  accounts, open periods, sub-types of the same type), and what cannot be drawn field by field is settled by a
  named fixup (`fixups`: balanced amounts, unique line numbers, dates after the posting date, aliases that agree).
  A drawn body must pass the operation's schema before it is sent. After the write, the record is read back
  through every read that shows it (its GET, the lists, Intacct's query service for entries and for lines), and
  every leaf of the body is judged: kept when each read whose response schema declares the field shows the same
  value (and at least one does), else warned, else a silent drop. Where the write and the read name a field
  differently (COUNT `accUuid` -> `accountId`, Aden `reversal_date` -> `tran_date`, `is_active` -> `is_inactive`,
  Codat `platformKey` -> `integrationKey`) it is in `renames`; a value's normal form (`Debit` -> `debit`, `EXPENSE`
  -> `Expense`, a Codat date -> its midnight) in `normal`; a value the provider derives (an Intacct entry's state
  once its automatic reversal is scheduled) in `derived`; which line a body line became (Intacct: by key, or
  appended) in `align`. Each is a small named mapping, none a weaker comparison; money compares as Decimal.
- Refusals (`refused`): values the mock refuses on purpose (a currency other than the book's, a project that cannot
  exist, a state an update cannot reach, aliases that contradict each other) are sent one at a time on a body
  drawn to be accepted: a 4xx in the provider's envelope naming the field, and the record unchanged.
- Writes that are not record writes (`actions`), each checked against what its docs say its body changes:
  Intacct `getToken` (each member its grant reads decides the answer; the members it does not read are warned,
  RFC 6749 section 3.2), `submit`/`recall` (the `key` moves that entry), `approve`/`decline` (`notes` goes to an
  approval history no mocked read serves: warned), `reverse` (`reverseDate` is the reversal's postingDate),
  `queryObjects` (a read: `includePrivate`/`includeHierarchyFields` change nothing in the mock, so `true` is
  warned; its other members are covered by tests/intacct/test_query*.py); COUNT `grantAccessToken` and
  `refreshUserAccessToken` (code or refresh token spent, `client_id`/`client_secret`/`state` checked, a losing
  `refresh_token` alias warned); Aden's workflow actions (`comments`/`reason` in `approval_history` and the audit
  trail), `closeAccountingPeriod` (`close_type` and `force`, dossier D17) and `reopenAccountingPeriod` (`reason`
  and `reopen_type` echoed, the scope reopened). Codat has none.
- Operations without a request body (`no_body`: deletes, COUNT's authorize-initiate, whose query the token check
  uses) cannot drop a field; the meta test checks they declare none, and that every operation that changes state
  is in exactly one of these tables.

Hypothesis runs derandomized with a fixed number of examples, so every run sends the same bodies. A last test
checks that `serve --strict` turns one warned field per provider into a 400 before anything changes.
"""

from __future__ import annotations

import copy
import json
import random
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from itertools import count
from typing import Any, Callable, Iterator, Mapping

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mock_server.spec import Operation, Spec
from tests.test_hostile import ADMIN, ADMIN_TOKEN, SPECS as ALL_SPECS, Mock

SPECS = {name: spec for name, spec in ALL_SPECS.items() if name != ADMIN}
EXAMPLES = 12  # per write operation: enough to set every enum value and both sides of every boolean
WARNING = "X-Ledger-Mock-Warning"
OMIT = object()  # a VALUES entry that leaves the field out of accepted bodies (it is in REFUSED instead)
LETTERS = "abcdefghjkmnpqrstuvwxyz23456789"  # of tokens
Path = tuple  # a place in a JSON document: keys and list indices


# -- spec helpers -------------------------------------------------------------------------------------------

def resolve(spec: Spec, node: Any) -> Any:
    return spec.resolve(node) if isinstance(node, dict) else node


def body_schema(spec: Spec, op: Operation) -> dict:
    raw = spec.resolve(spec.document["paths"][op.path][op.method.lower()]["requestBody"])
    media = raw["content"].get("application/json") or next(iter(raw["content"].values()))
    return media.get("schema", {})


def response_schema(spec: Spec, op_id: str) -> dict:
    op = spec.operations[op_id]
    responses = spec.document["paths"][op.path][op.method.lower()]["responses"]
    status = next(s for s in responses if str(s).startswith("2"))
    return resolve(spec, responses[status]).get("content", {}).get("application/json", {}).get("schema", {})


def branches(spec: Spec, schema: Any) -> list[dict]:
    """Every schema `schema` may stand for: itself with its allOf parts, and each oneOf/anyOf branch."""
    schema = resolve(spec, schema)
    if not isinstance(schema, dict):
        return []
    found = [schema]
    for part in schema.get("allOf", []):
        found += branches(spec, part)
    for part in schema.get("oneOf", []) + schema.get("anyOf", []):
        found += branches(spec, part)
    return found


def declares(spec: Spec, schema: Any, path: Path) -> bool:
    """Whether `schema` names the member at `path` (list indices step into `items`)."""
    if not path:
        return True
    head, rest = path[0], path[1:]
    for node in branches(spec, schema):
        if isinstance(head, int):
            if "items" in node and declares(spec, node["items"], rest):
                return True
        elif head in node.get("properties", {}):
            if declares(spec, node["properties"][head], rest):
                return True
        elif isinstance(node.get("additionalProperties"), dict) and declares(spec, node["additionalProperties"], rest):
            return True  # a map (tags, supplemental data): every key is a member
        elif node.get("type") == "object" and not node.get("properties") and node.get("additionalProperties",
                                                                                          True) is True:
            return True  # a free-form object holds whatever it holds
    return False


def at(document: Any, path: Path) -> Any:
    for key in path:
        if isinstance(key, int):
            if not isinstance(document, list) or key >= len(document):
                raise KeyError(key)
        elif not isinstance(document, dict) or key not in document:
            raise KeyError(key)
        document = document[key]
    return document


def put(document: Any, path: Path, value: Any) -> None:
    for key in path[:-1]:
        if isinstance(document, dict) and key not in document:
            document[key] = {}
        document = document[key]
    document[path[-1]] = value


def leaves(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every scalar inside a body with its path (nulls, which mean "absent", and empty containers left out)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from leaves(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from leaves(child, (*path, index))
    elif value is not None:
        yield path, value


def text(path: Path) -> str:
    return "/".join(map(str, path))


def pattern(path: Path) -> str:
    return "/".join("*" if isinstance(k, int) else str(k) for k in path)


@lru_cache(maxsize=None)
def _glob(glob: str) -> re.Pattern[str]:
    return re.compile(re.escape(glob).replace(r"\*\*", ".*").replace(r"\*", "[^/]+"))


def matches(glob: str, path: Path) -> bool:
    return _glob(glob).fullmatch(pattern(path)) is not None


# -- the body generator -------------------------------------------------------------------------------------

@dataclass
class Gen:
    """Draws a body for a schema with every declared property set; VALUES entries decide constrained fields."""

    spec: Spec
    data: Any  # hypothesis `st.data()`
    ctx: Any  # the provider's context: fixture ids read through the API
    values: Mapping[str, Callable[["Gen", Path], Any]]
    serial: Iterator[int]
    target: Any = None  # the Target of the write being built
    # A Hypothesis draw costs more the more its test case has drawn, and a body here takes two thousand. A token's
    # letters need no shrinking (the tests only generate), so they come from a Random seeded by one draw.
    rng: random.Random = field(default_factory=random.Random)

    def draw(self, strategy: Any, label: str | None = None) -> Any:
        return self.data.draw(strategy, label=label)

    def token(self, path: Path) -> str:
        """A value found nowhere else: the field's name (letters and digits), random letters, a serial."""
        name = re.sub(r"[^A-Za-z0-9]", "", str(path[-1])) if path else "v"
        return f"{name or 'v'}-{self.letters()}-{next(self.serial)}"

    def letters(self) -> str:
        return "".join(self.rng.choices(LETTERS, k=8))

    def value(self, schema: Any, path: Path = ()) -> Any:
        for glob, make in self.values.items():
            if matches(glob, path):
                return make(self, path)
        node = self.merged(schema)
        if "const" in node:
            return node["const"]
        if "enum" in node:
            return self.draw(st.sampled_from([v for v in node["enum"] if v is not None]), text(path))
        kind = node.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"]
            kind = self.draw(st.sampled_from(kinds), text(path)) if kinds else "null"
        if kind is None:
            kind = "object" if "properties" in node else None
        if kind == "object":
            out = {}
            named = {m.group(1): sub for key, sub in node.get("patternProperties", {}).items()
                     if (m := re.fullmatch(r"\^(\w+)\$", key))}  # a pattern naming one property declares it
            for name, sub in {**node.get("properties", {}), **named}.items():
                made = self.value(sub, (*path, name))
                if made is not OMIT:
                    out[name] = made
            extra = node.get("additionalProperties")
            if not node.get("properties") and extra is not False:
                for _ in range(self.draw(st.integers(1, 2))):
                    out[self.token((*path, "k"))] = self.value(extra if isinstance(extra, dict) else {"type": "string"},
                                                               (*path, "v"))
            return out
        if kind == "array":
            low, high = max(node.get("minItems", 1), 1), min(node.get("maxItems", 3), 3)
            items = [self.value(node.get("items", {"type": "string"}), (*path, index))
                     for index in range(self.draw(st.integers(low, max(low, high))))]
            return [item for item in items if item is not OMIT]
        if kind == "string":
            return self.string(node, path)
        if kind == "integer":
            low, high = node.get("minimum", 1), node.get("maximum", 10**6)
            return self.draw(st.integers(max(low, 1) if low <= 1 <= high else low, min(high, max(low, 1) + 10**6)))
        if kind == "number":
            low = max(Decimal(str(node.get("minimum", "0.01"))), Decimal("0.01"))
            high = min(Decimal(str(node.get("maximum", "99999.99"))), Decimal("99999.99"))
            return self.draw(st.decimals(low, high, places=2))
        if kind == "boolean":
            return self.draw(st.booleans(), text(path))
        if kind == "null":
            return None
        return self.token(path)

    def string(self, node: Mapping[str, Any], path: Path) -> str:
        form = node.get("format")
        if form == "date":
            return self.day().isoformat()
        if form == "date-time":
            return f"{self.day().isoformat()}T{self.draw(st.integers(0, 23)):02d}:00:00Z"
        if form == "email":
            return f"{path[-1]}.{self.letters()}{next(self.serial)}@example.com".lower()
        if form == "uuid":
            return str(self.draw(st.uuids(version=4)))
        made = self.token(path)
        made = made[: node.get("maxLength", len(made))].ljust(node.get("minLength", 0), "x")
        if "pattern" in node and not re.search(node["pattern"], made):  # JSON Schema patterns search
            anchored = node["pattern"].startswith("^") and node["pattern"].endswith("$")
            return self.draw(st.from_regex(node["pattern"], fullmatch=anchored))
        return made

    def day(self, start: date = date(2025, 3, 1), days: int = 600) -> date:
        return start + timedelta(days=self.draw(st.integers(0, days)))

    def amount(self, low: str = "1.00", high: str = "9999.99") -> Decimal:
        return self.draw(st.decimals(Decimal(low), Decimal(high), places=2))

    def merged(self, schema: Any) -> dict:
        """One concrete schema: allOf parts merged, one oneOf/anyOf branch chosen (never a bare null)."""
        node = resolve(self.spec, schema)
        if not isinstance(node, dict):
            return {}
        node = dict(node)
        choices = [b for b in node.pop("oneOf", []) + node.pop("anyOf", [])
                   if resolve(self.spec, b).get("type") != "null"]
        parts = node.pop("allOf", [])
        if choices:
            parts = [*parts, choices[self.draw(st.integers(0, len(choices) - 1))]]
        for part in parts:
            part = self.merged(part)
            properties = dict(node.get("properties", {}))
            for name, sub in part.get("properties", {}).items():
                properties[name] = {"allOf": [properties[name], sub]} if name in properties else sub
            node = {**part, **node, "properties": properties,
                    "required": [*node.get("required", []), *part.get("required", [])]}
            if not properties:
                node.pop("properties")
        return node


# -- talking to the mock ------------------------------------------------------------------------------------

@dataclass
class Answer:
    status: int
    body: Any
    warnings: list[str]
    raw: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def send(mock: Mock, name: str, op_id: str, ids: Mapping[str, str] | None = None, body: Any = None,
         query: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None) -> Answer:
    op = SPECS[name].operations[op_id]
    base = mock.baseline(name, op, {k: str(v) for k, v in (ids or {}).items()})
    probe = base.__class__(base.name, op, base.path, {**base.query, **{k: str(v).encode() for k, v in
                                                                          (query or {}).items()}},
                           {k: v.encode() for k, v in (headers or {}).items()},
                           None if body is None else dumps(body))
    response = mock.send(probe)
    parsed = json.loads(response.data, parse_float=Decimal) if response.data else None
    return Answer(response.status_code, parsed, warnings_of(mock, response), response.data)


def warnings_of(mock: Mock, response: Any) -> list[str]:
    """Every warning of the request: the headers carry the first 39 and point to the journal for the rest."""
    shown = response.headers.getlist(WARNING)
    if shown and shown[-1].endswith("see this request in /_mock/journal"):
        entry = mock.get("/_mock/journal?limit=1", Authorization=f"Bearer {ADMIN_TOKEN}").get_json()["entries"][0]
        assert entry["warnings"][:len(shown) - 1] == shown[:-1], "the journal's entry is not this request's"
        return entry["warnings"]
    return shown


def dumps(body: Any) -> bytes:
    """JSON with Decimal as an exact JSON number, the way a client sends money."""
    return orjson.dumps(body, default=lambda v: orjson.Fragment(str(v).encode()) if isinstance(v, Decimal) else str(v))


def must(answer: Answer, what: str) -> Any:
    assert answer.ok, f"{what}: {answer.status} {answer.raw[:600]!r}"
    return answer.body


def find(document: Any, key: str, value: str, path: Path = ()) -> Path | None:
    """Where the object whose `key` is `value` sits in a response (the first found)."""
    if isinstance(document, dict):
        if str(document.get(key)) == str(value):
            return path
        children = document.items()
    elif isinstance(document, list):
        children = enumerate(document)
    else:
        return None
    for child_key, child in children:
        found = find(child, key, value, (*path, child_key))
        if found is not None:
            return found
    return None


# -- reads --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Shown:
    """One read's view of the record: the record, and its schema in that read's response (None: the read has no
    schema for it, so it mirrors another read, and declares what it holds)."""

    label: str
    record: Mapping[str, Any]
    schema: Any


@dataclass(frozen=True)
class Get:
    op: str
    param: str  # the path parameter that takes the record's id
    key: str  # the record's id member in the answer
    more: Mapping[str, str] = field(default_factory=dict)  # other path parameters, from the context

    def read(self, mock: Mock, name: str, ctx: Any, record_id: str) -> Shown:
        ids = {self.param: record_id, **{k: getattr(ctx, v) for k, v in self.more.items()}}
        return self.read_in(mock, name, ids, record_id)

    def read_in(self, mock: Mock, name: str, ids: Mapping[str, str], record_id: str) -> Shown:
        body = must(send(mock, name, self.op, ids), f"{self.op} {record_id}")
        where = find(body, self.key, record_id)
        assert where is not None, f"{self.op} {record_id} does not show the record: {body!r:.400}"
        return Shown(self.op, at(body, where), schema_along(SPECS[name], response_schema(SPECS[name], self.op), where))


@dataclass(frozen=True)
class Listing:
    op: str
    key: str
    size: tuple[str, int]  # the page-size parameter and the largest page
    page: Callable[[int, int], dict[str, int]]  # page number, size -> the paging parameters
    query: Mapping[str, Any] = field(default_factory=dict)
    more: Mapping[str, str] = field(default_factory=dict)

    def read(self, mock: Mock, name: str, ctx: Any, record_id: str) -> Shown:
        ids = {k: getattr(ctx, v) for k, v in self.more.items()}
        for number in range(1, 200):
            body = must(send(mock, name, self.op, ids, query={**self.query, **self.page(number, self.size[1])}),
                        self.op)
            where = find(body, self.key, record_id)
            if where is not None:
                return Shown(self.op, at(body, where),
                             schema_along(SPECS[name], response_schema(SPECS[name], self.op), where))
            if not any(isinstance(v, list) and v for v in _lists(body)):
                break
        raise AssertionError(f"{self.op} never lists record {record_id}")


def _lists(body: Any) -> Iterator[Any]:
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, list):
                yield value
            else:
                yield from _lists(value)


def schema_along(spec: Spec, schema: Any, path: Path) -> Any:
    """The schema of the value at `path` inside a response described by `schema`."""
    for key in path:
        options = [b for b in branches(spec, schema)
                   if ("items" in b if isinstance(key, int) else key in b.get("properties", {}))]
        if not options:
            return None
        schema = options[0]["items"] if isinstance(key, int) else options[0]["properties"][key]
    return schema


# -- what a write is and how it is judged --------------------------------------------------------------------

@dataclass
class Write:
    """A record write: how to make what it needs, build its body, find the record and read it back."""

    op: str
    reads: tuple  # Get / Listing / custom callables(mock, ctx, record_id, primary) -> Shown
    record: Callable[[Answer, "Target"], str]  # the written record's id
    prepare: Callable[[Mock, Any, Gen], "Target"] | None = None
    rows: tuple[str, str] | None = None  # bulk: (the body's list, the single create whose schema a row has)
    rows_record: Callable[[Answer, int], str] | None = None  # bulk: the id of row i's record


@dataclass
class Target:
    ids: dict[str, str] = field(default_factory=dict)  # path parameters
    record: str | None = None  # the existing record the write changes
    before: Mapping[str, Any] | None = None  # that record as its primary read showed it before the write
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    """One provider: its context, record writes, refusals, mappings and the checks of its other writes."""

    name: str
    context: Callable[[Mock], Any]
    writes: dict[str, Write]
    actions: dict[str, Callable[[Mock, Any, Gen], None]]  # op -> check; each documents which fields it covers
    no_body: frozenset[str]
    values: Mapping[str, Mapping[str, Callable[[Gen, Path], Any]]]  # op (or "*") -> glob -> maker
    fixups: Mapping[str, Callable[[Gen, Any, Target], None]] = field(default_factory=dict)
    renames: Mapping[str, Mapping[str, Path]] = field(default_factory=dict)  # op -> glob -> read path (* kept)
    normal: Mapping[str, Mapping[str, Callable[[Any], Any]]] = field(default_factory=dict)  # op (or "*") -> glob ->
    # the sent value's normal form
    derived: Mapping[str, Mapping[str, Callable[[Any, Path, Target], Any]]] = field(default_factory=dict)
    align: Mapping[str, Callable[[Path, Any, Mapping[str, Any], Target], Path]] = field(default_factory=dict)
    refused: Mapping[str, Mapping[str, Callable[[Gen, Path, Any], Any]]] = field(default_factory=dict)
    warned: Callable[[Answer], set[str]] = lambda answer: set()  # the provider's own warning channel


def renamed(plan: Plan, op_id: str, path: Path) -> Path:
    for glob, target in plan.renames.get(op_id, {}).items():
        if matches(glob, path):
            indices = iter(k for k in path if isinstance(k, int))
            return tuple(next(indices) if k == "*" else k for k in target) + path[len(glob.split("/")):]
    return path


def same(sent: Any, shown: Any) -> bool:
    """Equal, with numbers (and numeric strings, as amounts travel) compared as Decimal."""
    if sent == shown and type(sent) is type(shown):
        return True
    if isinstance(sent, bool) or isinstance(shown, bool):
        return False
    try:
        numeric = [isinstance(v, (int, Decimal, float)) or (isinstance(v, str) and re.fullmatch(r"-?\d+(\.\d+)?", v))
                   for v in (sent, shown)]
        return all(numeric) and Decimal(str(sent)) == Decimal(str(shown))
    except ArithmeticError:
        return False


def warned(answer: Answer, plan: Plan, path: Path) -> bool:
    """Whether a warning names `path` or a member that holds it."""
    named = {text(path[:n]) for n in range(1, len(path) + 1)}
    channel = plan.warned(answer)
    return bool(named & channel) or any(f"`{p}`" in w for w in answer.warnings for p in named)


def judge(plan: Plan, op_id: str, body: Any, answer: Answer, views: list[Shown], target: Target,
          offset: Path = ()) -> list[str]:
    """Every leaf of `body` that no read shows and no warning names."""
    problems = []
    spec = SPECS[plan.name]
    for path, value in leaves(body):
        full = (*offset, *path)
        where = renamed(plan, op_id, path)
        for glob, realign in plan.align.items():
            if matches(glob, path):
                where = realign(where, body, views[0].record, target)
        expected = next((make(body, path, target) for glob, make in plan.derived.get(op_id, {}).items()
                         if matches(glob, path)), None)
        if expected is None:
            forms = {**plan.normal.get("*", {}), **plan.normal.get(op_id, {})}
            normal = next((f for glob, f in forms.items() if matches(glob, path)), None)
            expected = normal(value) if normal else value
        declaring = [v for v in views if (declares(spec, v.schema, where) if v.schema is not None
                                          else _holds(v.record, where))]
        wrong = []
        for view in declaring:
            try:
                shown = at(view.record, where)
            except KeyError:
                wrong.append(f"{view.label} leaves out {text(where)}")
                continue
            if not same(expected, shown):
                wrong.append(f"{view.label} shows {text(where)} = {shown!r}")
        if declaring and not wrong:
            continue
        if warned(answer, plan, full):
            continue
        why = "; ".join(wrong) if wrong else "no read shows it"
        problems.append(f"{op_id}: `{text(full)}` = {value!r} silently dropped ({why})")
    return problems


def _holds(record: Any, path: Path) -> bool:
    """A read without a schema (a query mirrors the GET) declares what it holds."""
    try:
        at(record, path)
        return True
    except KeyError:
        return False


def names_field(answer: Answer, path: Path) -> bool:
    """Whether a refusal names the field: its path, or its own name, somewhere in the error body."""
    body = answer.raw.decode("utf-8", "replace")
    names = {text(path), ".".join(map(str, path)), str(path[-1])}
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", body) for n in names)


# -- running a plan -----------------------------------------------------------------------------------------

def gen(plan: Plan, op_id: str, data: Any, ctx: Any, serial: Iterator[int]) -> Gen:
    values = {**plan.values.get("*", {}), **plan.values.get(op_id, {})}
    return Gen(SPECS[plan.name], data, ctx, values, serial, rng=random.Random(data.draw(st.integers(0, 2**32))))


def build(plan: Plan, op_id: str, g: Gen, target: Target) -> Any:
    spec, write = SPECS[plan.name], plan.writes.get(op_id)
    if write is not None and write.rows is not None:
        key, single = write.rows
        row_gen = gen(plan, single, g.data, g.ctx, g.serial)
        row_gen.target = target
        rows = [row_gen.value(body_schema(spec, spec.operations[single])) for _ in range(g.draw(st.integers(1, 3)))]
        for row in rows:
            if single in plan.fixups:
                plan.fixups[single](row_gen, row, target)
        return {key: rows}
    body = g.value(body_schema(spec, spec.operations[op_id]))
    if op_id in plan.fixups:
        plan.fixups[op_id](g, body, target)
    return body


def check_schema(plan: Plan, op_id: str, body: Any) -> None:
    """A generated body must pass the operation's own schema: otherwise the generator, not the mock, is wrong."""
    spec = SPECS[plan.name]
    try:
        spec.operations[op_id].check_body(copy.deepcopy(body))
        for key, single in [plan.writes[op_id].rows] if op_id in plan.writes and plan.writes[op_id].rows else []:
            for row in body[key]:
                spec.operations[single].check_body(copy.deepcopy(row))
    except Exception as exc:  # ApiError: the generator drew a body its own schema refuses
        raise AssertionError(f"generated body for {op_id} breaks its schema: {exc}\n{body!r:.2000}") from None


def read_all(plan: Plan, write: Write, mock: Mock, ctx: Any, record_id: str) -> list[Shown]:
    views: list[Shown] = []
    for read in write.reads:
        if isinstance(read, (Get, Listing)):
            views.append(read.read(mock, plan.name, ctx, record_id))
        else:
            views.append(read(mock, ctx, record_id, views[0] if views else None))
    return views


def round_trip(plan: Plan, op_id: str, mock: Mock, ctx: Any, data: Any, serial: Iterator[int]) -> None:
    write = plan.writes[op_id]
    g = gen(plan, op_id, data, ctx, serial)
    target = write.prepare(mock, ctx, g) if write.prepare else Target()
    g.target = target
    body = build(plan, op_id, g, target)
    check_schema(plan, op_id, body)
    answer = send(mock, plan.name, op_id, target.ids, body)
    assert answer.ok, (f"{op_id} refused a body built to be accepted: {answer.status} {answer.raw[:800]!r}\n"
                       f"{body!r:.3000}")
    problems: list[str] = []
    if write.rows is not None:
        key, single = write.rows
        for index, row in enumerate(body[key]):
            views = read_all(plan, write, mock, ctx, write.rows_record(answer, index))
            problems += judge(plan, single, row, answer, views, target, offset=(key, index))
    else:
        views = read_all(plan, write, mock, ctx, write.record(answer, target))
        problems += judge(plan, op_id, body, answer, views, target)
    assert not problems, "\n".join(problems) + f"\nbody: {json.dumps(body, default=str)[:3000]}"
    for glob, make in plan.refused.get(op_id, {}).items():
        refuse(plan, op_id, write, mock, ctx, g, glob, make)


def refuse(plan: Plan, op_id: str, write: Write, mock: Mock, ctx: Any, g: Gen, glob: str,
           make: Callable[[Gen, Path, Any], Any]) -> None:
    """An accepted body with the field at `glob` set to a value the mock refuses: a 4xx naming the field, and the
    record it would have changed unchanged."""
    target = write.prepare(mock, ctx, g) if write.prepare else Target()
    g.target = target
    body = build(plan, op_id, g, target)
    path = tuple(int(k) if k.isdigit() else k for k in glob.replace("*", "0").split("/"))
    if write.rows is not None:
        body = {write.rows[0]: body[write.rows[0]][:1]}
        path = (write.rows[0], 0, *path)
    put(body, path, make(g, path, body))
    before = read_all(plan, write, mock, ctx, target.record) if target.record else None
    answer = send(mock, plan.name, op_id, target.ids, body)
    if write.rows is not None:  # bulk: the row fails alone, inside a 201
        result = answer.body["data"]["results"][0]
        assert answer.ok and not result["success"], f"{op_id}: a row with {glob} was accepted: {answer.raw[:400]!r}"
        assert names_field(Answer(400, result, [], json.dumps(result).encode()), path), (
            f"{op_id}: the refusal of {glob} does not name it: {result!r}")
        return
    assert 400 <= answer.status < 500, (f"{op_id}: {glob} = {at(body, path)!r} was not refused: {answer.status} "
                                        f"{answer.raw[:400]!r}")
    assert names_field(answer, path), f"{op_id}: the refusal of {glob} does not name it: {answer.raw[:400]!r}"
    if before is not None:
        after = read_all(plan, write, mock, ctx, target.record)
        assert [v.record for v in after] == [v.record for v in before], f"{op_id}: a refused write changed the record"


# -- shared makers ------------------------------------------------------------------------------------------

def flip(g: Gen) -> bool:
    return g.draw(st.booleans())


def balanced(g: Gen, count_: int) -> list[tuple[str, Decimal]]:
    """`count_` (side, amount) pairs, at least one debit and one credit, whose debits equal their credits."""
    amounts = [g.amount() for _ in range(count_ - 1)]
    pairs = [("debit", a) for a in amounts] + [("credit", sum(amounts, Decimal("0.00")))]
    if flip(g):
        pairs = [("credit" if side == "debit" else "debit", amount) for side, amount in pairs]
    return pairs


# -- Sage Intacct -------------------------------------------------------------------------------------------

IA_ENTRY = "general-ledger/journal-entry"
IA_TODAY = date(2025, 2, 15)  # tests/conftest.py FROZEN


def ia(answer: Answer | Mapping[str, Any]) -> Any:
    return (answer.body if isinstance(answer, Answer) else answer)["ia::result"]


@dataclass
class IntacctContext:
    accounts: list[dict]  # postable: active, open to direct posting
    journals: list[dict]


def intacct_context(mock: Mock) -> IntacctContext:
    def every(list_op: str, get_op: str) -> list[dict]:
        refs = ia(send(mock, "intacct", list_op, query={"size": 4000}))
        return [ia(send(mock, "intacct", get_op, {"key": ref["key"]})) for ref in refs]
    accounts = [a for a in every("listAccounts", "getAccount")
                if a["status"] == "active" and not a["disallowDirectPosting"]]
    journals = [j for j in every("listJournals", "getJournal")
                if j["status"] == "active" and not j["disallowDirectPosting"]]
    return IntacctContext(accounts, journals)


def ia_existing(kind: str, href: str) -> Callable[[Gen, Path], Any]:
    """A reference to a fixture object, by key and id (they agree); `name` and `href` right or not at random
    (read-only members: the read shows the object's own, and a different one sent must be warned)."""
    def make(g: Gen, path: Path) -> dict:
        obj = g.draw(st.sampled_from(getattr(g.ctx, kind)))
        ref = {"key": obj["key"], "id": obj["id"]}
        ref["name"] = obj["name"] if flip(g) else g.token((*path, "name"))
        ref["href"] = f"{href}/{obj['key']}" if flip(g) else g.token((*path, "href"))
        return ref
    return make


def ia_lines(g: Gen, body: Any, amounts: list[tuple[str, Decimal]]) -> None:
    for line, (side, amount) in zip(body["lines"], amounts):
        line["txnType"], line["txnAmount"] = side, str(amount)
        if flip(g):  # read-only members: the same value as the read shows, or another one (then warned)
            line["baseAmount"] = line["txnAmount"]
        if flip(g) and "postingDate" in body:
            line["entryDate"] = body["postingDate"]


def ia_entry_fixup(g: Gen, body: Any, target: Target) -> None:
    posting = date.fromisoformat(body["postingDate"])
    body["automaticReversalDate"] = (posting + timedelta(days=g.draw(st.integers(1, 90)))).isoformat()
    before = (target.before or {}).get("lines", [])
    if before and flip(g):  # update the entry's own lines, by key
        body["lines"] = body["lines"][:len(before)]
        while len(body["lines"]) < len(before):
            body["lines"].append(copy.deepcopy(body["lines"][0]))
        for line, old in zip(body["lines"], before):
            line["key"] = old["key"]
    elif before:  # append new lines
        for line in body["lines"]:
            line.pop("key", None)
    ia_lines(g, body, balanced(g, len(body["lines"])))
    for index, line in enumerate(body["lines"], 1):
        if flip(g):
            line["lineNumber"] = index
    if target.extra.get("key"):
        body["key"] = target.extra["key"]
        if flip(g):
            body["id"] = target.extra["key"]


def ia_reclassify_fixup(g: Gen, body: Any, target: Target) -> None:
    before = target.before["lines"]
    body["key"] = target.extra["key"]
    if flip(g):
        body["id"] = target.extra["key"]
    body["lines"] = (body["lines"] * len(before))[:len(before)]
    body["lines"] = [copy.deepcopy(line) for line in body["lines"]]
    keyed = flip(g)
    for line, old in zip(body["lines"], before):
        if keyed:
            line["key"] = old["key"]
        else:
            line.pop("key", None)
    total = sum((Decimal(line["txnAmount"]) for line in before if line["txnType"] == "debit"), Decimal("0.00"))
    ia_lines(g, body, [("debit", total), ("credit", total)] if flip(g) else [("credit", total), ("debit", total)])


def ia_state(body: Any) -> str:
    """The state an entry shows after a write asking for `state` (dossier section 6: an effective entry with an
    automaticReversalDate is reversalPending until that date, reversed from it)."""
    state = body.get("state", "posted")
    if state == "posted" and body.get("automaticReversalDate"):
        return "reversed" if date.fromisoformat(body["automaticReversalDate"]) <= IA_TODAY else "reversalPending"
    return state


def ia_prepare(state: str) -> Callable[[Mock, Any, Gen], Target]:
    def prepare(mock: Mock, ctx: IntacctContext, g: Gen) -> Target:
        debit, credit = ctx.accounts[0], ctx.accounts[1]
        body = {"glJournal": {"id": ctx.journals[0]["id"]}, "postingDate": "2025-02-01", "state": state,
                "description": "round-trip target",
                "lines": [{"txnType": "debit", "txnAmount": "120.00", "glAccount": {"id": debit["id"]}},
                          {"txnType": "credit", "txnAmount": "120.00", "glAccount": {"id": credit["id"]}}]}
        key = ia(must(send(mock, "intacct", "createJournalEntry", body=body), "prepare an entry"))["key"]
        record = ia(send(mock, "intacct", "getJournalEntry", {"key": key}))
        return Target(ids={"key": key}, record=key, before=record, extra={"key": key})
    return prepare


def ia_query_entry(mock: Mock, ctx: Any, key: str, primary: Shown) -> Shown:
    fields = [k for k, v in primary.record.items() if not isinstance(v, list)]
    rows = ia(must(send(mock, "intacct", "queryObjects", body={"object": IA_ENTRY, "fields": fields,
                                                               "filters": [{"$eq": {"key": key}}]}), "query"))
    assert len(rows) == 1, rows
    return Shown("queryObjects journal-entry", rows[0], None)


def ia_query_lines(mock: Mock, ctx: Any, key: str, primary: Shown) -> Shown:
    fields = [k for k, v in primary.record["lines"][0].items() if not isinstance(v, list) and k != "journalEntry"]
    rows = ia(must(send(mock, "intacct", "queryObjects", body={
        "object": IA_ENTRY + "-line", "fields": fields, "filters": [{"$eq": {"journalEntry.key": key}}],
        "orderBy": [{"lineNumber": "asc"}], "size": 4000}), "query lines"))
    return Shown("queryObjects journal-entry-line", {"lines": rows}, None)


def ia_align(where: Path, body: Any, record: Mapping[str, Any], target: Target) -> Path:
    """Body line i -> the line it wrote: a keyed item its line; unkeyed, an update appends (after the lines
    that were there) and a reclassify takes the line at the same position."""
    index = where[1]
    item = body["lines"][index]
    if target.before is None:  # a create: lines in order (a `key` sent there is read-only)
        position = index
    elif item.get("key") is not None:
        position = next(n for n, line in enumerate(record["lines"]) if line["key"] == str(item["key"]))
    elif "reclassify" not in target.extra:
        old = {line["key"] for line in target.before["lines"]}
        new = [n for n, line in enumerate(record["lines"]) if line["key"] not in old]
        unkeyed = [n for n, line in enumerate(body["lines"]) if line.get("key") is None]
        position = new[unkeyed.index(index)]
    else:
        position = index
    return ("lines", position, *where[2:])


IA_READS = (Get("getJournalEntry", "key", "key"),
            Listing("listJournalEntries", "key", ("size", 4000), lambda n, size: {"start": (n - 1) * size + 1,
                                                                               "size": size}),
            ia_query_entry, ia_query_lines)
IA_ENTRY_VALUES = {
    "glJournal": ia_existing("journals", "/objects/general-ledger/journal"),
    "lines/*/glAccount": ia_existing("accounts", "/objects/general-ledger/account"),
    "lines/*/currency/baseCurrency": lambda g, p: "USD",
    "lines/*/currency/txnCurrency": lambda g, p: "USD",
    "lines/*/currency/exchangeRate": lambda g, p: 1,
    "lines/*/taxEntries/*/baseTaxAmount": lambda g, p: str(g.amount("0.01", "999.99")),
    "lines/*/taxEntries/*/txnTaxAmount": lambda g, p: str(g.amount("0.01", "999.99")),
}
def intacct_token(mock: Mock, ctx: Any, g: Gen) -> None:
    """getToken: per grant, the members it reads decide the answer (a wrong one is refused, RFC 6749 section
    5.2); the members a grant does not read are named in a warning (RFC 6749 section 3.2: ignored)."""
    creds = {"client_id": "mock-client", "client_secret": "mock-secret"}
    grants = {
        "client_credentials": {"username": "admin@DEMO"},
        "refresh_token": {"refresh_token": None},
        "authorization_code": {"code": "test-code", "redirect_uri": "https://example.com/callback"},
    }
    grant = g.draw(st.sampled_from(sorted(grants)))
    fresh = ia_token(mock, {"grant_type": "client_credentials", **creds, "username": "admin@DEMO"})
    used = {k: (fresh["refresh_token"] if v is None else v) for k, v in grants[grant].items()}
    if grant == "authorization_code":
        mock_code = provider_state(mock, "intacct").tokens.issue_code("mock-client", "DEMO", used["redirect_uri"],
                                                                      user="admin", entity=None)
        used["code"] = mock_code
    unused = {k: g.token((k,)) for name, fields in grants.items() if name != grant for k in fields
              if k not in used}
    wrong_values = {"username": "admin@NO-SUCH-COMPANY", "refresh_token": "not-a-refresh-token",
                    "code": "not-a-code", "redirect_uri": "https://elsewhere.example/callback",
                    "client_id": "not-a-client", "client_secret": "not-the-secret"}
    for name in [*used, *creds]:  # each member the grant reads changes the answer
        wrong = send_form(mock, {"grant_type": grant, **creds, **used, name: wrong_values[name]})
        assert wrong.status in (400, 401), f"getToken {grant}: a wrong {name} was accepted"
        if grant == "authorization_code":  # the code was spent by the refused attempt: a new one
            used["code"] = provider_state(mock, "intacct").tokens.issue_code(
                "mock-client", "DEMO", used["redirect_uri"], user="admin", entity=None)
    answer = send_form(mock, {"grant_type": grant, **creds, **used, **unused})
    assert answer.ok, answer.raw
    missing = [k for k in unused if not any(f"`{k}`" in w for w in answer.warnings)]
    assert not missing, f"getToken {grant} ignores {missing} without a warning: {answer.warnings}"


def ia_token(mock: Mock, form: Mapping[str, str]) -> Any:
    return must(send_form(mock, form), "token")


def send_form(mock: Mock, form: Mapping[str, str]) -> Answer:
    from urllib.parse import urlencode
    op = SPECS["intacct"].operations["getToken"]
    response = mock.call("POST", urlencode(form).encode(), {
        "PATH_INFO": "/intacct" + op.path, "CONTENT_TYPE": "application/x-www-form-urlencoded"})
    parsed = json.loads(response.data, parse_float=Decimal) if response.data else None
    return Answer(response.status_code, parsed, warnings_of(mock, response), response.data)


def provider_state(mock: Mock, name: str) -> Any:
    return mock.app.extensions["ledger_mock"].providers[name].state


def intacct_workflow(action: str, state: str, before: str) -> Callable[[Mock, Any, Gen], None]:
    """A workflow action: `key` names the entry it moves; `notes` (approve, decline), which Sage Intacct keeps
    in an approval history no mocked read serves, is named in a warning."""
    def check(mock: Mock, ctx: Any, g: Gen) -> None:
        key = ia_prepare("draft")(mock, ctx, g).extra["key"]
        for step in {"submitted": ["submitJournalEntry"], "draft": []}[before]:
            must(send(mock, "intacct", step, body={"key": key}), step)
        body = {"key": key}
        declared = body_schema(SPECS["intacct"], SPECS["intacct"].operations[action])
        if "notes" in resolve(SPECS["intacct"], declared).get("properties", {}):
            body["notes"] = g.token(("notes",))
        answer = send(mock, "intacct", action, body=body)
        assert ia(must(answer, action))["state"] == state
        assert ia(send(mock, "intacct", "getJournalEntry", {"key": key}))["state"] == state
        if "notes" in body:
            assert any("`notes`" in w for w in answer.warnings), f"{action}: notes dropped without a warning"
    return check


def intacct_reverse(mock: Mock, ctx: Any, g: Gen) -> None:
    """reverse: `reverseDate` is the reversal's postingDate; the original shows reversedBy and is reversed."""
    key = ia_prepare("posted")(mock, ctx, g).extra["key"]
    on = g.day(date(2025, 2, 2), 300).isoformat()
    must(send(mock, "intacct", "reverseJournalEntry", body={"key": key, "reverseDate": on}), "reverse")
    original = ia(send(mock, "intacct", "getJournalEntry", {"key": key}))
    reversal = ia(send(mock, "intacct", "getJournalEntry", {"key": original["reversedBy"]["key"]}))
    assert (original["state"], reversal["postingDate"], reversal["reversedFromDate"]) == (
        "reversed", on, original["postingDate"])


def intacct_query(mock: Mock, ctx: Any, g: Gen) -> None:
    """queryObjects reads: `object`, `fields`, `filters`, `filterExpression`, `orderBy`, `start`, `size`,
    `asOfDate` and `caseSensitiveComparison` each decide the rows (tests/intacct/test_query.py and
    test_query_service.py). `includePrivate` and `includeHierarchyFields` change nothing in the mock (no private
    or hierarchy records; dossier section 7): set to true, they are named in a warning."""
    flags = {"includePrivate": flip(g), "includeHierarchyFields": flip(g)}
    answer = send(mock, "intacct", "queryObjects", body={"object": IA_ENTRY, "filterParameters": flags})
    must(answer, "query")
    for name, value in flags.items():
        said = any(f"`filterParameters/{name}`" in w for w in answer.warnings)
        assert said == value, f"queryObjects {name}={value}: warned {said}: {answer.warnings}"


INTACCT = Plan(
    name="intacct",
    context=intacct_context,
    writes={
        "createJournalEntry": Write("createJournalEntry", IA_READS, lambda a, t: ia(a)["key"]),
        "updateJournalEntry": Write("updateJournalEntry", IA_READS, lambda a, t: t.record,
                                    prepare=ia_prepare("draft")),
        "reclassifyJournalEntry": Write("reclassifyJournalEntry", IA_READS, lambda a, t: t.record,
                                        prepare=lambda m, c, g: _reclassify_target(ia_prepare("posted")(m, c, g))),
    },
    actions={
        "getToken": intacct_token,
        "submitJournalEntry": intacct_workflow("submitJournalEntry", "submitted", "draft"),
        "approveJournalEntry": intacct_workflow("approveJournalEntry", "approved", "submitted"),
        "declineJournalEntry": intacct_workflow("declineJournalEntry", "declined", "submitted"),
        "recallJournalEntry": intacct_workflow("recallJournalEntry", "draft", "submitted"),
        "reverseJournalEntry": intacct_reverse,
        "queryObjects": intacct_query,
    },
    no_body=frozenset({"deleteJournalEntry"}),
    values={
        "createJournalEntry": {**IA_ENTRY_VALUES, "state": lambda g, p: g.draw(st.sampled_from(["draft", "posted"]))},
        "updateJournalEntry": {**IA_ENTRY_VALUES,
                               "state": lambda g, p: g.draw(st.sampled_from(["draft", "posted", "submitted"]))},
        "reclassifyJournalEntry": IA_ENTRY_VALUES,
    },
    fixups={"createJournalEntry": ia_entry_fixup, "updateJournalEntry": ia_entry_fixup,
            "reclassifyJournalEntry": ia_reclassify_fixup},
    derived={op: {"state": lambda body, path, target: ia_state(body)}
             for op in ("createJournalEntry", "updateJournalEntry", "reclassifyJournalEntry")},
    align={"lines/**": ia_align},
    refused={
        "createJournalEntry": {
            "lines/*/currency/txnCurrency": lambda g, p, b: "EUR",
            "lines/*/currency/baseCurrency": lambda g, p, b: "GBP",
            "lines/*/currency/exchangeRate": lambda g, p, b: Decimal("0.78"),
        },
        "updateJournalEntry": {
            "key": lambda g, p, b: "999999",
            "state": lambda g, p, b: g.draw(st.sampled_from(["approved", "declined", "reversed"])),
            "lines/*/currency/txnCurrency": lambda g, p, b: "EUR",
        },
    },
)


def _reclassify_target(target: Target) -> Target:
    target.extra["reclassify"] = True
    return target


# -- COUNT --------------------------------------------------------------------------------------------------

COUNT_TYPES = {"expense": "Expense", "income": "Income", "transfer": "Transfer", "journal entry": "Journal Entry",
               "journal": "Journal Entry", "journal_entry": "Journal Entry"}  # dossier section 5: type in -> out


@dataclass
class CountContext:
    physical: list[str]  # bank, card and cash accounts (a transaction's own account)
    categories: list[str]
    accounts: list[str]  # every active account
    sub_types: list[dict]
    vendors: list[str]
    customers: list[str]
    tags: list[str]


def count_data(answer: Answer | Mapping[str, Any]) -> Any:
    return (answer.body if isinstance(answer, Answer) else answer)["data"]


def count_context(mock: Mock) -> CountContext:
    accounts = count_data(send(mock, "count", "listAccounts", query={"limit": 5000}))["accounts"]
    directory = {kind: [r["id"] for r in count_data(send(mock, "count", op, query={"limit": 100}))[kind]]
                 for kind, op in (("vendors", "listVendors"), ("customers", "listCustomers"), ("tags", "listTags"))}
    return CountContext(
        physical=[a["id"] for a in accounts if a["subType"]["anchorTier"] == "PHYSICAL_ACCOUNT"],
        categories=[a["id"] for a in accounts if a["subType"]["anchorTier"] == "CATEGORY" and a["editable"]],
        accounts=[a["id"] for a in accounts],
        sub_types=count_data(send(mock, "count", "listAccountSubTypes"))["subTypes"], **directory)


def count_page(number: int, size: int) -> dict[str, int]:
    return {"page": number, "limit": size}


def count_amount(g: Gen, path: Path) -> Any:
    """A positive amount, as a JSON number or a numeric string (both are accepted)."""
    amount = g.amount()
    return amount if flip(g) else str(amount)


def one_of(kind: str) -> Callable[[Gen, Path], Any]:
    return lambda g, path: g.draw(st.sampled_from(getattr(g.ctx, kind)), text(path))


def agree(g: Gen, body: Any, names: tuple[str, ...]) -> None:
    """Aliases of one field: at random all the same value (each then kept), or as drawn (then the losers must be
    warned or the write refused, as the provider documents)."""
    present = [n for n in names if n in body]
    if present and flip(g):
        for name in present[1:]:
            body[name] = body[present[0]]


def count_entry_fixup(g: Gen, body: Any, target: Target) -> None:
    for line, (side, amount) in zip(body["lines"], balanced(g, len(body["lines"]))):
        line.pop("amountDebit", None), line.pop("amountCredit", None)
        line["amountDebit" if side == "debit" else "amountCredit"] = amount if flip(g) else str(amount)


def count_transaction_fixup(g: Gen, body: Any, target: Target) -> None:
    agree(g, body, ("accUuid", "accountUuid", "accountId"))
    agree(g, body, ("categoryAccountUuid", "categoryAccountId"))
    agree(g, body, ("postedDate", "date"))


def count_prepare(op: str, make: Callable[[Gen], dict], **extra: Any) -> Callable[[Mock, Any, Gen], Target]:
    def prepare(mock: Mock, ctx: CountContext, g: Gen) -> Target:
        body = make(g)
        record = count_data(must(send(mock, "count", op, body=body), f"prepare {op}"))
        return Target(ids={"id": record["id"]}, record=record["id"], before=record,
                      extra={k: f(record) for k, f in extra.items()})
    return prepare


def count_entry_body(g: Gen) -> dict:
    debit, credit = g.ctx.accounts[:2]
    return {"descriptionEntry": g.token(("descriptionEntry",)), "date": "2025-03-03",
            "lines": [{"accountUuid": debit, "amountDebit": "10.00"}, {"accountUuid": credit, "amountCredit": "10.00"}]}


def count_transaction_body(g: Gen) -> dict:
    return {"accUuid": g.ctx.physical[0], "amount": "12.34", "postedDate": "2025-03-03",
            "categoryAccountUuid": g.ctx.categories[0], "description": g.token(("description",))}


def count_account_body(g: Gen) -> dict:
    return {"name": g.token(("name",)), "subTypeId": 15}


def count_token(grant: str) -> Callable[[Mock, Any, Gen], None]:
    """The token calls: the grant's own member (`code`, `refreshToken`/`refresh_token`) decides which grant is
    spent; `client_id`, `client_secret` and (for a code) `state` are checked when sent, so a wrong one is a 400
    (dossier D9); `grantType`/`grant_type` take one value. `refresh_token` beside a different `refreshToken` is
    ignored (`refreshToken` wins) and named in a warning."""
    def check(mock: Mock, ctx: Any, g: Gen) -> None:
        client = mock.app.extensions["ledger_mock"].providers["count"].credentials("")
        secret_of = {"client_id": client["client_id"], "client_secret": client["client_secret"]}
        state = g.token(("state",))

        def code() -> str:
            answer = must(send(mock, "count", "initiateAuthorization", query={
                "clientId": client["client_id"], "redirectUri": "http://localhost:3000/oauth/callback",
                "state": state}), "initiate")
            return re.search(r"code=([^&]+)", answer["data"]["redirectUri"]).group(1)

        def refresh() -> str:
            return count_data(must(send(mock, "count", "grantAccessToken", body={"code": code()}), "grant"))[
                "result"]["refreshToken"]

        if grant == "grantAccessToken":
            full = lambda: {"grantType": "authorization_code", "grant_type": "authorization_code", "code": code(),
                            **secret_of, "state": state}
            wrong = {"code": "not-a-code", "client_id": "not-the-client", "client_secret": "not-the-secret",
                     "state": "not-the-state"}
        else:
            full = lambda: {"grantType": "refresh_token", "grant_type": "refresh_token", "refreshToken": refresh(),
                            **secret_of}
            wrong = {"refreshToken": "not-a-refresh-token", "client_id": "not-the-client",
                     "client_secret": "not-the-secret"}
        for name, value in wrong.items():
            answer = send(mock, "count", grant, body={**full(), name: value})
            assert answer.status == 400 and names_field(answer, (name,)) or name in ("code", "refreshToken") \
                and answer.status == 400, f"{grant}: a wrong {name} was not refused by name: {answer.raw[:300]!r}"
        body = full()
        must(send(mock, "count", grant, body=body), grant)
        again = send(mock, "count", grant, body=body)
        assert again.status == 400, f"{grant}: its grant was not spent by the first call"
        if grant == "refreshUserAccessToken":
            body = {**full(), "refresh_token": "rt-" + g.token(("refresh_token",))}
            answer = must_answer(send(mock, "count", grant, body=body), grant)
            assert any("`refresh_token`" in w for w in answer.warnings), answer.warnings
    return check


def must_answer(answer: Answer, what: str) -> Answer:
    must(answer, what)
    return answer


COUNT_JE_READS = (Listing("listJournalEntries", "id", ("limit", 100), count_page),)
COUNT_TXN_READS = (Get("getTransaction", "id", "id"), Listing("listTransactions", "id", ("limit", 100), count_page))
COUNT_ACCOUNT_READS = (Listing("listAccounts", "id", ("limit", 5000), count_page, {"inactive": "true"}),)
COUNT_ENTRY_VALUES = {"lines/*/accountUuid": one_of("accounts")}
COUNT_TXN_VALUES = {
    "accUuid": one_of("physical"), "accountUuid": one_of("physical"), "accountId": one_of("physical"),
    "categoryAccountUuid": one_of("categories"), "categoryAccountId": one_of("categories"),
    "vendorUuid": one_of("vendors"), "customerUuid": one_of("customers"), "projectUuid": lambda g, p: OMIT,
    "tagUuids": lambda g, p: g.draw(st.lists(st.sampled_from(g.ctx.tags), min_size=1, unique=True)),
    "amount": count_amount,
    # Legacy spellings COUNT's docs name and the mock refuses by name (dossier section 5), in REFUSED.
    "vendorId": lambda g, p: OMIT, "customerId": lambda g, p: OMIT, "tags": lambda g, p: OMIT,
}
# An update does not move the category (change-category does): refused by name, in REFUSED.
COUNT_TXN_UPDATE_VALUES = {**COUNT_TXN_VALUES, "categoryAccountUuid": lambda g, p: OMIT,
                           "categoryAccountId": lambda g, p: OMIT,
                           # an excluded row leaves the list this plan reads back (tests/count covers excluding)
                           "excluded": lambda g, p: False}
COUNT_TXN_RENAMES = {"accUuid": ("accountId",), "accountUuid": ("accountId",), "accountId": ("accountId",),
                     "categoryAccountUuid": ("categoryAccountId",), "categoryAccountId": ("categoryAccountId",),
                     "date": ("postedDate",)}


def count_record(key: str | None = None) -> Callable[[Answer, Target], str]:
    return lambda answer, target: count_data(answer)["id"]


def count_row(key: str) -> Callable[[Answer, int], str]:
    def record(answer: Answer, index: int) -> str:
        made = count_data(answer)["results"][index]
        assert made["success"], made
        return made[key][0]["journalEntryId"] if key == "journalEntry" else made[key]["id"]
    return record


def same_type_sub_type(g: Gen, path: Path) -> int:
    kind = g.target.extra["type"]
    return g.draw(st.sampled_from([s["id"] for s in g.ctx.sub_types if s["type"] == kind]))


COUNT = Plan(
    name="count",
    context=count_context,
    writes={
        "createJournalEntry": Write("createJournalEntry", COUNT_JE_READS, count_record()),
        "bulkCreateJournalEntries": Write("bulkCreateJournalEntries", COUNT_JE_READS, count_record(),
                                          rows=("journalEntries", "createJournalEntry"),
                                          rows_record=count_row("journalEntry")),
        "updateJournalEntry": Write("updateJournalEntry", COUNT_JE_READS, lambda a, t: t.record,
                                    prepare=count_prepare("createJournalEntry", count_entry_body)),
        "createTransaction": Write("createTransaction", COUNT_TXN_READS, count_record()),
        "bulkCreateTransactions": Write("bulkCreateTransactions", COUNT_TXN_READS, count_record(),
                                        rows=("transactions", "createTransaction"),
                                        rows_record=count_row("transaction")),
        "updateTransaction": Write("updateTransaction", COUNT_TXN_READS, lambda a, t: t.record,
                                   prepare=count_prepare("createTransaction", count_transaction_body)),
        "changeTransactionCategory": Write("changeTransactionCategory", COUNT_TXN_READS, lambda a, t: t.record,
                                           prepare=count_prepare("createTransaction", count_transaction_body)),
        "createAccount": Write("createAccount", COUNT_ACCOUNT_READS, count_record()),
        "bulkCreateAccounts": Write("bulkCreateAccounts", COUNT_ACCOUNT_READS, count_record(),
                                   rows=("accounts", "createAccount"), rows_record=count_row("account")),
        "updateAccount": Write("updateAccount", COUNT_ACCOUNT_READS, lambda a, t: t.record,
                               prepare=count_prepare("createAccount", count_account_body, type=lambda r: r["type"])),
        "createVendor": Write("createVendor", (Listing("listVendors", "id", ("limit", 100), count_page),),
                              count_record()),
        "updateVendor": Write("updateVendor", (Listing("listVendors", "id", ("limit", 100), count_page),),
                              lambda a, t: t.record,
                              prepare=count_prepare("createVendor", lambda g: {"name": g.token(("name",))})),
        "createCustomer": Write("createCustomer", (Get("getCustomer", "id", "id"),
                                                   Listing("listCustomers", "id", ("limit", 100), count_page)),
                                count_record()),
        "updateCustomer": Write("updateCustomer", (Get("getCustomer", "id", "id"),
                                                   Listing("listCustomers", "id", ("limit", 100), count_page)),
                                lambda a, t: t.record,
                                prepare=count_prepare("createCustomer", lambda g: {"customer": g.token(("c",))})),
        "createTag": Write("createTag", (Get("getTag", "id", "id"), Listing("listTags", "id", ("limit", 100), count_page)),
                           count_record()),
        "updateTag": Write("updateTag", (Get("getTag", "id", "id"), Listing("listTags", "id", ("limit", 100), count_page)),
                           lambda a, t: t.record,
                           prepare=count_prepare("createTag", lambda g: {"name": g.token(("name",))})),
    },
    actions={"grantAccessToken": count_token("grantAccessToken"),
             "refreshUserAccessToken": count_token("refreshUserAccessToken")},
    no_body=frozenset({"initiateAuthorization", "initiateAuthorizationAlias", "deleteJournalEntry",
                       "deleteTransaction", "deleteAccount", "deleteVendor", "deleteCustomer", "deleteTag"}),
    values={
        "createJournalEntry": COUNT_ENTRY_VALUES, "updateJournalEntry": COUNT_ENTRY_VALUES,
        "createTransaction": COUNT_TXN_VALUES, "updateTransaction": COUNT_TXN_UPDATE_VALUES,
        "changeTransactionCategory": {"categoryAccountUuid": one_of("categories")},
        "createAccount": {"subTypeId": lambda g, p: g.draw(st.sampled_from([s["id"] for s in g.ctx.sub_types])),
                          "accountNumber": lambda g, p: str(70000 + next(g.serial))},
        "updateAccount": {"subTypeId": same_type_sub_type,
                          "accountNumber": lambda g, p: str(70000 + next(g.serial))},
    },
    fixups={"createJournalEntry": count_entry_fixup, "updateJournalEntry": count_entry_fixup,
            "createTransaction": count_transaction_fixup,
            "updateTransaction": lambda g, body, t: agree(g, body, ("postedDate", "date")),
            "createVendor": lambda g, body, t: agree(g, body, ("name", "vendor")),
            "updateVendor": lambda g, body, t: agree(g, body, ("name", "vendor"))},
    renames={"createTransaction": COUNT_TXN_RENAMES, "updateTransaction": {"date": ("postedDate",)},
             "changeTransactionCategory": {"categoryAccountUuid": ("categoryAccountId",), "autoReview": ("reviewed",)},
             "createVendor": {"vendor": ("name",)}, "updateVendor": {"vendor": ("name",)}},
    normal={"*": {"type": lambda sent: COUNT_TYPES[sent.lower()]}},
    refused={"createTransaction": {"projectUuid": lambda g, p, b: str(g.draw(st.uuids(version=4))),
                                   "vendorId": lambda g, p, b: 12, "customerId": lambda g, p, b: "c-1",
                                   "tags": lambda g, p, b: ["retail"]},
             "updateTransaction": {"projectUuid": lambda g, p, b: str(g.draw(st.uuids(version=4))),
                                   "categoryAccountUuid": lambda g, p, b: g.ctx.categories[0],
                                   "categoryAccountId": lambda g, p, b: g.ctx.categories[0]}},
    warned=lambda answer: {w["field"] for w in ((answer.body or {}).get("data") or {}).get("_partnerWarnings", [])}
    if isinstance(answer.body, dict) and isinstance(answer.body.get("data"), dict) else set(),
)


# -- Aden ---------------------------------------------------------------------------------------------------

ADEN_MANUAL = {"Authorization": "jwt lm_aden_demo_manual_admin_9c2e5b7d"}  # the entity that posts by hand


@dataclass
class AdenContext:
    accounts: list[str]  # active, not summary: a line may post to them
    every_account: list[str]
    periods: list[dict]  # open periods made for the test, one per month of 2031


def aden_context(mock: Mock) -> AdenContext:
    accounts = must(send(mock, "aden", "listAccounts", query={"limit": 100, "is_inactive": "true"}), "accounts")
    periods = []
    for month in range(1, 13):
        start = date(2031, month, 1)
        end = (date(2031 + month // 12, month % 12 + 1, 1) - timedelta(days=1))
        periods.append(must(send(mock, "aden", "createAccountingPeriod", body={
            "period_id": f"RT2031M{month:02d}", "period_name": f"Round trip {start:%B %Y}", "fiscal_year_id": "FY2031",
            "start_date": start.isoformat(), "end_date": end.isoformat(), "quarter": (month - 1) // 3 + 1}), "period"))
    return AdenContext([a["account_id"] for a in accounts["data"] if not a["is_inactive"] and not a["is_summary"]],
                       [a["account_id"] for a in accounts["data"]], periods)


def aden_page(number: int, size: int) -> dict[str, int]:
    return {"offset": (number - 1) * size, "limit": size}


def aden_dated(g: Gen, body: Any, date_field: str) -> None:
    """A date inside an open period, and that period named."""
    period = g.draw(st.sampled_from(g.ctx.periods))
    start, end = date.fromisoformat(period["start_date"]), date.fromisoformat(period["end_date"])
    body[date_field] = g.day(start, (end - start).days).isoformat()
    body["posting_period_id"] = period["period_id"]


def aden_entry_fixup(g: Gen, body: Any, target: Target) -> None:
    if "entry_id" in body:
        body["entry_id"] = body["journal_entry_id"]  # aliases that agree; one that differs is refused (REFUSED)
    aden_dated(g, body, "tran_date")
    numbers = g.draw(st.lists(st.integers(1, 500), min_size=len(body["lines"]), max_size=len(body["lines"]),
                              unique=True))
    for line, number, (side, amount) in zip(body["lines"], numbers, balanced(g, len(body["lines"]))):
        line["line_number"] = number
        line["debit"], line["credit"] = (amount, Decimal("0")) if side == "debit" else (Decimal("0"), amount)


def aden_account_fixup(g: Gen, body: Any, target: Target) -> None:
    if "account_number" in body:
        body["account_number"] = 500000 + next(g.serial)
    body["is_active"] = not body["is_inactive"]  # inverse aliases that agree; a contradiction is refused
    if "balance" in body and flip(g):  # a new account's balance is its opening balance (else ignored, warned)
        body["balance"] = body["opening_balance"]


def aden_rule_fixup(g: Gen, body: Any, target: Target) -> None:
    low, high = sorted([body["min_amount"], body["max_amount"]])
    body["min_amount"], body["max_amount"] = low, high


def aden_period_fixup(g: Gen, body: Any, target: Target) -> None:
    n = next(g.serial)
    start = date(2200 + n // 12, n % 12 + 1, 1)
    body["start_date"], body["end_date"] = start.isoformat(), (start + timedelta(days=27)).isoformat()


def aden_entry(mock: Mock, g: Gen, steps: tuple[str, ...] = (), headers: Mapping[str, str] | None = None) -> str:
    """A balanced entry (main entity: in a period made for the test; manual: February 2025), moved by `steps`."""
    manual = headers is not None
    period = {"period_id": "EU2025M02", "start_date": "2025-02-10"} if manual else g.ctx.periods[0]
    body = {"journal_entry_id": g.token(("je",)), "tran_date": period["start_date"],
            "posting_period_id": period["period_id"], "memo": "round-trip target",
            "lines": [{"account_id": "6300", "debit": 25}, {"account_id": "1010", "credit": 25}]}
    entry = must(send(mock, "aden", "createJournalEntry", body=body, headers=headers), "prepare an entry")
    ids = {"journal_entry_id": entry["journal_entry_id"]}
    for step in steps:
        body = {"reason": "waiting"} if step == "holdJournalEntry" else {}
        must(send(mock, "aden", step, ids, body=body, headers=headers), step)
    return entry["journal_entry_id"]


def aden_prepare_entry(*steps: str) -> Callable[[Mock, Any, Gen], Target]:
    def prepare(mock: Mock, ctx: AdenContext, g: Gen) -> Target:
        entry_id = aden_entry(mock, g, steps)
        return Target(ids={"journal_entry_id": entry_id}, record=entry_id)
    return prepare


def aden_prepare(op: str, key: str, make: Callable[[Gen], dict]) -> Callable[[Mock, Any, Gen], Target]:
    def prepare(mock: Mock, ctx: AdenContext, g: Gen) -> Target:
        record = must(send(mock, "aden", op, body=make(g)), f"prepare {op}")
        return Target(ids={key: record[key]}, record=record[key])
    return prepare


def aden_unposted(mock: Mock, ctx: Any, entry_id: str, primary: Shown) -> Shown:
    """The period's unposted entries list a Draft entry (as `{id, memo, amount, created_at}`)."""
    return Get("getUnpostedEntries", "period_id", "id").read_in(
        mock, "aden", {"period_id": primary.record["posting_period_id"]}, entry_id)


def aden_history(action: str, field_name: str, shown_as: str, steps: tuple[str, ...],
                 headers: Mapping[str, str] | None = None) -> Callable[[Mock, Any, Gen], None]:
    """A workflow action: its `comments` or `reason` shows in the entry's approval_history (dossier section 7)
    and in the audit trail's details."""
    def check(mock: Mock, ctx: Any, g: Gen) -> None:
        entry_id = aden_entry(mock, g, steps, headers)
        said = g.token((field_name,))
        must(send(mock, "aden", action, {"journal_entry_id": entry_id}, body={field_name: said}, headers=headers),
             action)
        entry = must(send(mock, "aden", "getJournalEntry", {"journal_entry_id": entry_id}, headers=headers), "get")
        history = [h for h in entry["approval_history"] if h["action"] == shown_as]
        assert history and history[-1].get("comments") == said, f"{action}: {field_name} not in the history: {entry}"
        trail = must(send(mock, "aden", "getJournalEntryAuditTrail", {"journal_entry_id": entry_id},
                          headers=headers), "audit trail")["audit_trail"]
        assert [t for t in trail if t["action"] == shown_as][-1]["details"].get("comments") == said, trail
    return check


def aden_period(mock: Mock, g: Gen) -> dict:
    body = {"period_name": g.token(("p",)), "fiscal_year_id": "FY-RT", "start_date": "", "end_date": "",
            "quarter": 1}
    aden_period_fixup(g, body, Target())
    return must(send(mock, "aden", "createAccountingPeriod", body=body), "period")


def aden_close(mock: Mock, ctx: Any, g: Gen) -> None:
    """close: `close_type` all sets is_closed; ap, ar or payroll are recorded, leave is_closed false, and a
    second close of that scope is 409 PERIOD_CLOSED (D17); `force` closes over unposted entries, which refuse
    the close without it (409 UNPOSTED_ENTRIES). The answer echoes close_type."""
    period = aden_period(mock, g)
    ids = {"period_id": period["period_id"]}
    close_type = g.draw(st.sampled_from(["all", "ap", "ar", "payroll"]))
    if close_type == "all":
        body = {"journal_entry_id": g.token(("je",)), "tran_date": period["start_date"],
                "lines": [{"account_id": "6300", "debit": 5}, {"account_id": "1010", "credit": 5}]}
        must(send(mock, "aden", "createJournalEntry", body=body), "an unposted entry")
        refused = send(mock, "aden", "closeAccountingPeriod", ids, body={"close_type": "all", "force": False})
        assert refused.status == 409 and b"UNPOSTED_ENTRIES" in refused.raw, refused.raw
    answer = must(send(mock, "aden", "closeAccountingPeriod", ids, body={"close_type": close_type, "force": True}),
                  "close")
    assert answer["close_type"] == close_type
    shown = must(send(mock, "aden", "getAccountingPeriod", ids), "period")
    assert shown["is_closed"] == (close_type == "all")
    again = send(mock, "aden", "closeAccountingPeriod", ids, body={"close_type": close_type})
    assert again.status == 409 and b"PERIOD_CLOSED" in again.raw, again.raw


def aden_reopen(mock: Mock, ctx: Any, g: Gen) -> None:
    """reopen: `reopen_type` reopens that scope (all: the period, is_closed false); `reason` is echoed in the
    answer (dossier section 5: the reopen returns reason and reopen_type; no read shows a period's history)."""
    period = aden_period(mock, g)
    ids = {"period_id": period["period_id"]}
    scope = g.draw(st.sampled_from(["all", "ap", "ar", "payroll"]))
    must(send(mock, "aden", "closeAccountingPeriod", ids, body={"close_type": scope}), "close")
    reason = g.token(("reason",))
    answer = must(send(mock, "aden", "reopenAccountingPeriod", ids, body={"reason": reason, "reopen_type": scope}),
                  "reopen")
    assert (answer["reason"], answer["reopen_type"], answer["is_closed"]) == (reason, scope, False)
    must(send(mock, "aden", "closeAccountingPeriod", ids, body={"close_type": scope}), "closable again")


ADEN_ENTRY_READS = (Get("getJournalEntry", "journal_entry_id", "journal_entry_id"),
                    Listing("listJournalEntries", "journal_entry_id", ("limit", 100), aden_page), aden_unposted)
ADEN_ACCOUNT_READS = (Get("getAccount", "account_id", "account_id"),
                      Listing("listAccounts", "account_id", ("limit", 100), aden_page, {"is_inactive": "true"}))
ADEN_RULE_READS = (Get("getApprovalRule", "rule_id", "rule_id"),
                   Listing("listApprovalRules", "rule_id", ("limit", 100), aden_page))
ADEN_PERIOD_READS = (Get("getAccountingPeriod", "period_id", "period_id"),
                     Listing("listAccountingPeriods", "period_id", ("limit", 100), aden_page))
ADEN_ENTRY_VALUES = {"lines/*/account_id": one_of("accounts")}
ADEN_ACCOUNT_VALUES = {"parent_account_id": one_of("every_account")}


def aden_id(key: str) -> Callable[[Answer, Target], str]:
    return lambda answer, target: answer.body[key]


ADEN = Plan(
    name="aden",
    context=aden_context,
    writes={
        "createJournalEntry": Write("createJournalEntry", ADEN_ENTRY_READS, aden_id("journal_entry_id")),
        "updateJournalEntry": Write("updateJournalEntry", ADEN_ENTRY_READS, lambda a, t: t.record,
                                    prepare=aden_prepare_entry()),
        "reverseJournalEntry": Write("reverseJournalEntry", ADEN_ENTRY_READS, aden_id("journal_entry_id"),
                                     prepare=aden_prepare_entry("submitJournalEntry", "approveJournalEntry")),
        "voidJournalEntry": Write("voidJournalEntry", ADEN_ENTRY_READS[:2], lambda a, t: t.record,
                                  prepare=aden_prepare_entry("submitJournalEntry", "approveJournalEntry")),
        "createAccount": Write("createAccount", ADEN_ACCOUNT_READS, aden_id("account_id")),
        "updateAccount": Write("updateAccount", ADEN_ACCOUNT_READS, lambda a, t: t.record,
                               prepare=aden_prepare("createAccount", "account_id", lambda g: {
                                   "account_id": g.token(("a",)), "account_number": 600000 + next(g.serial),
                                   "account_name": "round trip", "account_type": "Expense",
                                   "normal_balance": "debit"})),
        "createAccountingPeriod": Write("createAccountingPeriod", ADEN_PERIOD_READS, aden_id("period_id")),
        "createApprovalRule": Write("createApprovalRule", ADEN_RULE_READS, aden_id("rule_id")),
        "updateApprovalRule": Write("updateApprovalRule", ADEN_RULE_READS, lambda a, t: t.record,
                                    prepare=aden_prepare("createApprovalRule", "rule_id", lambda g: {
                                        "rule_id": g.token(("r",)), "rule_name": "round trip",
                                        "document_type": "bill", "rule_type": "Amount Threshold", "is_active": True,
                                        "priority": 5, "approval_level": 1, "approver_type": "manager"})),
    },
    actions={
        "submitJournalEntry": aden_history("submitJournalEntry", "comments", "Submit for Approval", ()),
        "approveJournalEntry": aden_history("approveJournalEntry", "comments", "Approve", ("submitJournalEntry",)),
        "rejectJournalEntry": aden_history("rejectJournalEntry", "reason", "Reject", ("submitJournalEntry",)),
        "requestJournalEntryChange": aden_history("requestJournalEntryChange", "comments", "Request Change",
                                                  ("submitJournalEntry",)),
        "holdJournalEntry": aden_history("holdJournalEntry", "reason", "Place on Hold", ("submitJournalEntry",)),
        "unholdJournalEntry": aden_history("unholdJournalEntry", "comments", "Remove from Hold",
                                           ("submitJournalEntry", "holdJournalEntry")),
        "postJournalEntry": aden_history("postJournalEntry", "comments", "Post to GL",
                                         ("submitJournalEntry", "approveJournalEntry"), ADEN_MANUAL),
        "closeAccountingPeriod": aden_close,
        "reopenAccountingPeriod": aden_reopen,
    },
    no_body=frozenset({"deleteJournalEntry", "deleteApprovalRule"}),
    values={"createJournalEntry": ADEN_ENTRY_VALUES, "updateJournalEntry": ADEN_ENTRY_VALUES,
            "createAccount": ADEN_ACCOUNT_VALUES, "updateAccount": ADEN_ACCOUNT_VALUES},
    fixups={"createJournalEntry": aden_entry_fixup, "updateJournalEntry": aden_entry_fixup,
            "reverseJournalEntry": lambda g, body, t: aden_dated(g, body, "reversal_date"),
            "voidJournalEntry": lambda g, body, t: body.__setitem__("reason", body["void_reason"]),
            "createAccount": aden_account_fixup, "updateAccount": aden_account_fixup,
            "createApprovalRule": aden_rule_fixup, "updateApprovalRule": aden_rule_fixup,
            "createAccountingPeriod": aden_period_fixup},
    renames={"createJournalEntry": {"entry_id": ("journal_entry_id",)},
             "reverseJournalEntry": {"reversal_date": ("tran_date",)},
             "voidJournalEntry": {"reason": ("void_reason",)},
             "createAccount": {"is_active": ("is_inactive",)}, "updateAccount": {"is_active": ("is_inactive",)}},
    normal={"*": {"normal_balance": str.lower},
            **{op: {"is_active": lambda sent: not sent} for op in ("createAccount", "updateAccount")}},
    refused={
        "createJournalEntry": {"entry_id": lambda g, p, b: b["journal_entry_id"] + "-other"},
        "voidJournalEntry": {"reason": lambda g, p, b: b["void_reason"] + " (other)"},
        "createAccount": {"is_active": lambda g, p, b: not b["is_active"]},
        "updateAccount": {"is_active": lambda g, p, b: not b["is_active"]},
    },
)


# -- Codat --------------------------------------------------------------------------------------------------

@dataclass
class CodatContext:
    company: str
    connection: str
    accounts: list[dict]  # {id, name}: accounts a line may use without a contact (no AR/AP control accounts)
    currency: str


def codat_context(mock: Mock) -> CodatContext:
    companies = must(send(mock, "codat", "list-companies"), "companies")["results"]
    company = next(c for c in companies
                   if any(d["status"] == "Linked" for d in c["dataConnections"]) and c["name"] == "Acme Trading Ltd")
    connection = next(d["id"] for d in company["dataConnections"] if d["status"] == "Linked")
    model = must(send(mock, "codat", "get-create-journalEntries-model",
                      {"companyId": company["id"], "connectionId": connection}), "model")
    options = model["properties"]["journalLines"]["properties"]["accountRef"]["properties"]["id"]["options"]
    entries = must(send(mock, "codat", "list-journal-entries", {"companyId": company["id"]}), "entries")["results"]
    return CodatContext(company["id"], connection,
                        [{"id": o["value"], "name": o["displayName"]} for o in options
                         if not re.search("Receivable|Payable", o["displayName"])],
                        entries[0]["journalLines"][0]["currency"])


def codat_account(g: Gen, path: Path) -> dict:
    """An account of the chart; its `name` the chart's (kept) or another (Codat shows the chart's: warned)."""
    account = g.draw(st.sampled_from(g.ctx.accounts))
    return {"id": account["id"], "name": account["name"] if flip(g) else g.token((*path, "name"))}


def codat_posted_on(g: Gen, path: Path) -> str:
    day = g.day()
    return g.draw(st.sampled_from([day.isoformat(), f"{day.isoformat()}T00:00:00", f"{day.isoformat()}T10:30:00Z"]))


def codat_posted_on_normal(sent: str) -> str:
    """Codat's postedOn: the day as written, at midnight local to the business (the ledger's posted-on-day)."""
    return f"{sent[:10]}T00:00:00"


def codat_entry_fixup(g: Gen, body: Any, target: Target) -> None:
    for line, (side, amount) in zip(body["journalLines"], balanced(g, len(body["journalLines"]))):
        line["netAmount"] = amount if side == "debit" else -amount


def codat_connection_read(mock: Mock, ctx: CodatContext, connection_id: str, primary: Shown | None) -> Shown:
    """A company shows its connections in `dataConnections`."""
    return Get("get-company", "companyId", "id").read_in(mock, "codat", {"companyId": ctx.company}, connection_id)


def codat_page(number: int, size: int) -> dict[str, int]:
    return {"page": number, "pageSize": size}


def codat_here(mock: Mock, ctx: CodatContext, g: Gen) -> Target:
    return Target(ids={"companyId": ctx.company, "connectionId": ctx.connection})


def codat_unlink(mock: Mock, ctx: CodatContext, g: Gen) -> None:
    """unlink: PATCH `status: Unlinked` on a linked connection; the connection then reads Unlinked, and entries
    pulled before stay readable (Codat: previously pulled data can still be viewed)."""
    made = must(send(mock, "codat", "create-connection", {"companyId": ctx.company},
                     body={"platformKey": "gbol"}), "a connection")
    ids = {"companyId": ctx.company, "connectionId": made["id"]}
    answer = must(send(mock, "codat", "unlink-connection", ids, body={"status": "Unlinked"}), "unlink")
    assert answer["status"] == "Unlinked", answer
    assert must(send(mock, "codat", "get-connection", ids), "the connection")["status"] == "Unlinked"
    must(send(mock, "codat", "list-journal-entries", {"companyId": ctx.company}), "entries after the unlink")


CODAT = Plan(
    name="codat",
    context=codat_context,
    writes={
        "create-company": Write("create-company", (Get("get-company", "companyId", "id"),
                                                   Listing("list-companies", "id", ("pageSize", 5000), codat_page)),
                                lambda a, t: a.body["id"]),
        "create-connection": Write("create-connection", (
            Listing("list-connections", "id", ("pageSize", 5000), codat_page, more={"companyId": "company"}),
            codat_connection_read), lambda a, t: a.body["id"], prepare=codat_here),
        "create-journal-entry": Write("create-journal-entry", (
            Get("get-journal-entry", "journalEntryId", "id", more={"companyId": "company"}),
            Listing("list-journal-entries", "id", ("pageSize", 5000), codat_page, more={"companyId": "company"})),
            lambda a, t: a.body["data"]["id"], prepare=codat_here),
        "replace-company": Write("replace-company", (Get("get-company", "companyId", "id"),
                                                     Listing("list-companies", "id", ("pageSize", 5000), codat_page)),
                                 lambda a, t: a.body["id"], prepare=codat_here),
    },
    actions={"unlink-connection": codat_unlink},
    no_body=frozenset({"delete-journal-entry", "delete-company", "delete-connection", "refresh-company-data",
                       "refresh-data-type"}),
    values={"create-journal-entry": {
        "postedOn": codat_posted_on,
        "journalLines/*/accountRef": codat_account,
        "journalLines/*/currency": lambda g, p: g.draw(st.sampled_from([g.ctx.currency, g.ctx.currency.lower()])),
        "currencyRef/id": lambda g, p: g.ctx.currency,
        "currencyRate": lambda g, p: 1,
        "supplementalData/content": lambda g, p: {g.token(("k",)): {g.token(("f",)): g.token(("v",)),
                                                                     g.token(("n",)): g.draw(st.integers(-99, 99))}},
    }},
    fixups={"create-journal-entry": codat_entry_fixup},
    renames={"create-connection": {"platformKey": ("integrationKey",)}},
    normal={"create-journal-entry": {"postedOn": codat_posted_on_normal, "journalLines/*/currency": str.upper}},
    refused={"create-journal-entry": {"journalLines/*/currency": lambda g, p, b: "JPY",
                                      "currencyRef/id": lambda g, p, b: "JPY",
                                      "currencyRate": lambda g, p, b: Decimal("1.25")}},
)


# -- the tests ----------------------------------------------------------------------------------------------

PLANS = {plan.name: plan for plan in (INTACCT, COUNT, ADEN, CODAT)}


def changing(name: str) -> list[str]:
    return [op_id for op_id, op in SPECS[name].operations.items() if op.changes]


def test_every_write_operation_is_covered_once():
    problems = []
    for name in SPECS:
        plan = PLANS.get(name)
        if plan is None:
            problems.append(f"{name}: no plan")
            continue
        for op_id in changing(name):
            places = [t for t, ops in (("writes", plan.writes), ("actions", plan.actions), ("no_body", plan.no_body))
                      if op_id in ops]
            if len(places) != 1:
                problems.append(f"{name} {op_id}: in {places or 'no table'}")
            if op_id in plan.no_body and SPECS[name].operations[op_id].has_body:
                problems.append(f"{name} {op_id}: listed as having no body, but its spec declares one")
        for op_id in [*plan.writes, *plan.actions, *plan.no_body]:
            if op_id not in changing(name):
                problems.append(f"{name} {op_id}: not an operation that changes state")
    assert not problems, "\n".join(problems)


# Authorization codes come from a consent screen the mock does not serve: the token check issues them in the
# provider's state, which its write log cannot replay.
OUTSIDE_THE_API = {("intacct", "getToken")}
COVERED = [pytest.param(name, op_id, id=f"{name}-{op_id}",
                        marks=[pytest.mark.state_outside_the_api] if (name, op_id) in OUTSIDE_THE_API else [])
           for name, plan in PLANS.items() for op_id in [*plan.writes, *plan.actions]]


@pytest.mark.parametrize(("name", "op_id"), COVERED)
def test_written_fields_are_kept_refused_or_warned(make_app, name, op_id):
    mock, plan = Mock(make_app(providers=(name,))), PLANS[name]
    books_before = books(mock.app, name)
    ctx, serial = plan.context(mock), count(1)

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        ran.append(1)
        if op_id in plan.writes:
            round_trip(plan, op_id, mock, ctx, data, serial)
        else:
            plan.actions[op_id](mock, ctx, gen(plan, op_id, data, ctx, serial))

    ran: list[int] = []
    run()
    assert op_id not in plan.writes or len(ran) >= EXAMPLES, f"only {len(ran)} bodies were tried"

    # Resetting the tenants these writes went to takes back every one of them, and nothing else: their books are
    # as the fixtures made them, and make_app's teardown proves the rewritten log rebuilds the rest as it is.
    touched = reset_touched_tenants(mock.app, name)
    assert touched or op_id in plan.actions, f"{op_id}: the journal shows no tenant written to"
    assert books(mock.app, name) == books_before


def books(app, name: str) -> dict[str, Any]:
    """Every tenant's books as plain data (tests/snapshot.py), by tenant id."""
    from tests.snapshot import _plain

    provider = app.extensions["ledger_mock"].providers[name]
    provider.settle()
    return {tenant.id: _plain(tenant.book) for tenant in provider.tenants()}


def reset_touched_tenants(app, name: str) -> set[str]:
    """POST /_mock/reset for every tenant of `name` the request journal shows a successful write to."""
    client = app.test_client()
    journal = client.get("/_mock/journal", query_string={"provider": name, "limit": 500}).get_json()["entries"]
    touched = {e["tenant"] for e in journal if e["tenant"] and e["method"] != "GET" and e["status"] < 300}
    for tenant in touched:
        answer = client.post("/_mock/reset", json={"provider": name, "tenant": tenant})
        assert answer.status_code == 200, answer.get_data(as_text=True)
    return touched


# Under `serve --strict` (Config.refuse_ignored) a warning is a 400 naming the field, before anything changes:
# one warned field per provider, and the list that would show the record unchanged.
STRICT = [
    ("intacct", "createJournalEntry", lambda ctx: {
        "glJournal": {"id": "GJ"}, "postingDate": "2025-03-03", "description": "strict",
        "lines": [{"txnType": "debit", "txnAmount": "5.00", "glAccount": {"id": ctx.accounts[0]["id"]},
                   "lineNumber": 7},
                  {"txnType": "credit", "txnAmount": "5.00", "glAccount": {"id": ctx.accounts[1]["id"]}}]},
     "lines/0/lineNumber", "listJournalEntries"),
    ("count", "createVendor", lambda ctx: {"name": "Strict Supplies", "vendor": "Other Name"}, "vendor",
     "listVendors"),
    ("aden", "createAccount", lambda ctx: {"account_id": "9911", "account_name": "Strict", "account_type": "Asset",
                                           "normal_balance": "debit", "opening_balance": 10, "balance": 99},
     "balance", "listAccounts"),
    ("codat", "create-journal-entry", lambda ctx: {
        "postedOn": "2025-03-03", "journalLines": [
            {"netAmount": 5, "accountRef": {"id": ctx.accounts[0]["id"], "name": "Not its name"}},
            {"netAmount": -5, "accountRef": {"id": ctx.accounts[1]["id"]}}]},
     "journalLines/0/accountRef/name", "list-journal-entries"),
]


@pytest.mark.parametrize(("name", "op_id", "body", "field_name", "listing"), STRICT,
                         ids=[f"{s[0]}-{s[1]}" for s in STRICT])
def test_strict_refuses_a_warned_field_before_any_change(make_app, name, op_id, body, field_name, listing):
    mock, plan = Mock(make_app(providers=(name,), refuse_ignored=True)), PLANS[name]
    ctx = plan.context(mock)
    ids = {"companyId": ctx.company, "connectionId": ctx.connection} if name == "codat" else {}
    list_ids = {"companyId": ctx.company} if name == "codat" else {}
    before = send(mock, name, listing, list_ids, query={"limit": 100} if name in ("count", "aden") else None).raw
    answer = send(mock, name, op_id, ids, body=body(ctx))
    assert answer.status == 400 and names_field(answer, tuple(field_name.split("/"))), answer.raw[:400]
    after = send(mock, name, listing, list_ids, query={"limit": 100} if name in ("count", "aden") else None).raw
    assert after == before, f"{op_id} changed {listing} before refusing"
