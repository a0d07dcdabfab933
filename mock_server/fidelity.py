"""The departures ledger: per provider, every documented behaviour and how faithfully the mock keeps it.

One file per provider, `openapi/<provider>.fidelity.yaml`, next to the spec it describes:

    provider: count
    sources:                       # what the entries cite, by short name
      seed-000: ../shared/seeds/000_0c8bd0cbf4f374b3.txt (COUNT API reference)
      dossier: ../shared/providers/count.md
    unknown:                       # what the real API does with what it does not know (issue 15, item 4)
      query: ignore                # ignore | refuse: an undeclared query parameter
      body: ignore                 # ignore | refuse: an undeclared field in a request body
      evidence: >-                 # why we believe so: a source and what it says
        ...
    behaviours:
      - id: hmac-signature         # unique within the file; kebab-case
        title: Requests are signed with HMAC-SHA256 over method, path, timestamp and body hash
        source: seed-000 "Authentication"; dossier D4
        status: faithful           # faithful | departs | not mocked
        operations: [createJournalEntry, listJournalEntries]  # spec operationIds it covers (may be empty)
        tests: [tests/test_count.py::test_signature_over_the_wire_path]  # required unless `not mocked`
        departure: >-              # required when `departs`: how the mock differs, and why
          ...
        decision: >-               # optional: where the docs leave a point open, what was decided and on what
          ...
    not_mocked:                    # operations the real API has and this mock does not serve: answered 501
      - method: GET
        path: /partners/dimensions # below the provider's mount, in the spec's path style ({id} for parameters)
        title: List dimensions
        source: dossier section 4

Every spec operation appears in at least one behaviour's `operations`; every test named exists; the pages under
docs/fidelity/ are generated from these files (`ledger-mock fidelity --write`) and a test keeps them current.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import providers, read_yaml

STATUSES = ("faithful", "departs", "not mocked")
POLICIES = ("ignore", "refuse")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
TEST = re.compile(r"^tests/[\w/]+\.py::\w+(\[[^\]]*\])?$")


class LedgerProblem(Exception):
    """A fidelity file that does not say what it must."""


@dataclass(frozen=True)
class Behaviour:
    id: str
    title: str
    source: str
    status: str
    operations: tuple[str, ...]
    tests: tuple[str, ...]
    departure: str | None
    decision: str | None = None


@dataclass(frozen=True)
class NotMocked:
    method: str
    path: str
    title: str
    source: str

    @property
    def pattern(self) -> re.Pattern[str]:
        """The path as a regular expression: each {parameter} is one non-empty segment."""
        parts = re.split(r"(\{[^}/]+\})", self.path)
        return re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "/?$")


@dataclass(frozen=True)
class Ledger:
    provider: str
    sources: dict[str, str]
    unknown_query: str
    unknown_body: str
    evidence: str
    behaviours: tuple[Behaviour, ...]
    not_mocked: tuple[NotMocked, ...]

    def unmocked(self, method: str, path: str) -> NotMocked | None:
        """The known-but-unmocked operation a request below the mount asks for, if any."""
        return next((n for n in self.not_mocked if n.method == method and n.pattern.match(path)), None)

    def unmocked_methods(self, path: str) -> list[str]:
        return sorted({n.method for n in self.not_mocked if n.pattern.match(path)})


def path_of(provider: str) -> Path:
    return providers.load(provider).files("openapi") / f"{provider}.fidelity.yaml"


@lru_cache(maxsize=None)
def load(provider: str) -> Ledger:
    """The provider's ledger; without one (a provider still being written), the spec is the whole contract:
    unknown input is refused and nothing is known to be missing. tests/test_fidelity.py requires one of
    every provider shipped."""
    path = path_of(provider)
    if not path.exists():
        return Ledger(provider, {}, "refuse", "refuse", f"{path.name} does not exist", (), ())
    return parse(provider, read_yaml(path), path)


def parse(provider: str, raw: Any, where: Path | str) -> Ledger:
    def need(cond: bool, message: str) -> None:
        if not cond:
            raise LedgerProblem(f"{where}: {message}")

    need(isinstance(raw, dict), "the document is not a mapping")
    need(raw.get("provider") == provider, f"`provider` is {raw.get('provider')!r}, not {provider!r}")
    unknown = raw.get("unknown") or {}
    for key in ("query", "body"):
        need(unknown.get(key) in POLICIES, f"unknown.{key} must be one of {POLICIES}")
    need(bool(unknown.get("evidence")), "unknown.evidence must say what the policy rests on")
    behaviours, seen = [], set()
    for n, entry in enumerate(raw.get("behaviours") or []):
        here = f"behaviours[{n}] ({entry.get('id')})"
        need(isinstance(entry.get("id"), str) and entry["id"] not in seen, f"{here}: a missing or repeated id")
        seen.add(entry["id"])
        need(entry.get("status") in STATUSES, f"{here}: status must be one of {STATUSES}")
        need(bool(entry.get("title")) and bool(entry.get("source")), f"{here}: title and source are required")
        tests = tuple(entry.get("tests") or ())
        need(entry["status"] == "not mocked" or bool(tests), f"{here}: name the tests that prove it")
        need(all(isinstance(t, str) and TEST.match(t) for t in tests),
             f"{here}: tests are written tests/<file>.py::<test name>[<parameters>]")
        need(entry["status"] != "departs" or bool(entry.get("departure")), f"{here}: say how and why it departs")
        behaviours.append(Behaviour(entry["id"], str(entry["title"]), str(entry["source"]), entry["status"],
                                    tuple(entry.get("operations") or ()), tests, entry.get("departure"),
                                    entry.get("decision")))
    not_mocked = []
    for n, entry in enumerate(raw.get("not_mocked") or []):
        here = f"not_mocked[{n}]"
        need(entry.get("method") in METHODS, f"{here}: method must be one of {METHODS}")
        need(str(entry.get("path", "")).startswith("/"), f"{here}: path starts with /")
        need(bool(entry.get("title")) and bool(entry.get("source")), f"{here}: title and source are required")
        not_mocked.append(NotMocked(entry["method"], entry["path"], str(entry["title"]), str(entry["source"])))
    return Ledger(provider, dict(raw.get("sources") or {}), unknown["query"], unknown["body"],
                  str(unknown["evidence"]), tuple(behaviours), tuple(not_mocked))


def title(spec_document: dict[str, Any]) -> str:
    """The provider's name as its spec's title gives it."""
    return str(spec_document.get("info", {}).get("title", "")).replace(" (ledger-mock)", "")


def page(ledger: Ledger, title: str) -> str:
    """The human-readable page of a ledger (docs/fidelity/<provider>.md)."""
    counts = {s: sum(b.status == s for b in ledger.behaviours) for s in STATUSES}
    lines = [f"# {title}: where ledger-mock differs from the real API", "",
             f"<!-- generated from openapi/{ledger.provider}.fidelity.yaml by `ledger-mock fidelity --write`; "
             "edit that file, not this one -->", "",
             f"{counts['faithful']} behaviours faithful, {counts['departs']} departing, {counts['not mocked']} not "
             f"mocked; {len(ledger.not_mocked)} operations of the real API answer 501 here.", "",
             "## Departures", ""]
    departing = [b for b in ledger.behaviours if b.status == "departs"]
    for b in departing:
        lines += [f"- **{b.title}** (`{b.id}`; {b.source}). {b.departure.strip()}"
                  + (f" Proved by {', '.join(f'`{t}`' for t in b.tests)}." if b.tests else ""), ""]
    if not departing:
        lines += ["None.", ""]
    lines += ["## What the mock does not do", ""]
    for b in (b for b in ledger.behaviours if b.status == "not mocked"):
        lines += [f"- **{b.title}** (`{b.id}`; {b.source}).", ""]
    lines += ["Operations of the real API that answer `501` in the provider's own error envelope:", "",
              "| Method | Path | What | Source |", "|---|---|---|---|"]
    lines += [f"| {n.method} | `{n.path}` | {n.title} | {n.source} |" for n in ledger.not_mocked]
    lines += ["", "## Unknown input", "",
              f"- Unknown query parameters: **{ledger.unknown_query}d**. Unknown body fields: "
              f"**{ledger.unknown_body}d**. Ignored ones are named in an `X-Ledger-Mock-Warning` header and the "
              "request journal; `serve --strict` refuses them with a 400.",
              f"- Evidence: {' '.join(ledger.evidence.split())}", "",
              "## Faithful", "", "| Behaviour | Source | Tests |", "|---|---|---|"]
    lines += [f"| {b.title} | {b.source}{' Decided: ' + ' '.join(b.decision.split()) if b.decision else ''} | "
              f"{'<br>'.join(f'`{t}`' for t in b.tests)} |" for b in ledger.behaviours if b.status == "faithful"]
    if ledger.sources:
        lines += ["", "## Sources", ""] + [f"- `{k}`: {v}" for k, v in ledger.sources.items()]
    return "\n".join(lines).rstrip() + "\n"
