"""`ledger-mock snapshot`: one tenant of a provider (a real sandbox, or a mock) read through the provider's own
documented read API and written as a fixtures file in the shape of `fixtures/<provider>.yaml`, so that
`ledger-mock serve --fixtures FILE` starts with a tenant that is a copy of it.

What each provider's API lets us read, and how it maps to its fixtures, is the provider's own business: a
function `snapshot(reader, credentials, tenant) -> Copy` in its contract plug-in (`contract_tests/plugins/<p>.py`,
or an installed provider plug-in's `ledger_mock.contract_plugins` module). This module is the rest: reading
through the harness's session (so a 429 is waited out exactly as `ledger-mock contract` waits it out: Retry-After,
else the provider's documented limit, within --max-wait), amounts parsed as Decimal, and writing the file.

Secrets are never written. The credentials given to read the tenant stay out of the file (the text is checked
for every one of their values before it is written); the copy gets credentials of its own, made up for the mock
and derived from the tenant name (`mock_secret`), which `ledger-mock credentials --fixtures FILE` prints.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Mapping

import yaml

from .plugins import plugin as load_plugin
from .runner import credentials_for
from .session import HarnessSession


class SnapshotError(Exception):
    """The target refused a read, or would not stop throttling within --max-wait."""


@dataclass
class Copy:
    """A provider's fixtures section for the copy, what it left at a default because no read shows it
    (said in the file's header and on stderr), and how many records of each kind it holds."""

    section: dict[str, Any]
    defaults: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


class Reader:
    """Reads one target: `get` sends a GET through the harness session with the plug-in's `headers` (a mapping,
    or a callable for tokens that expire), and answers the JSON body with every number a Decimal."""

    def __init__(self, session: HarnessSession, base_url: str):
        self.session, self.base_url = session, base_url.rstrip("/")
        self.headers: Mapping[str, str] | Callable[[], Mapping[str, str]] = {}

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, absent: tuple[int, ...] = ()) -> Any:
        """The JSON body; None when the target answers one of the `absent` statuses (data it does not hold)."""
        headers = self.headers() if callable(self.headers) else self.headers
        response = self.session.get(self.base_url + path, params=params, headers=headers, timeout=60)
        if response.status_code in absent:
            return None
        if response.status_code == 429:  # the session waited as long as it may
            raise SnapshotError(f"GET {path}: still rate limited (429) after waiting as long as --max-wait allows; "
                                "raise --max-wait or try later")
        if response.status_code != 200:
            raise SnapshotError(f"GET {path}: {response.status_code} {response.text[:300]}")
        return response.json(parse_float=Decimal)


def mock_secret(provider: str, tenant: str, purpose: str) -> str:
    """A credential for the copy only, the same for the same tenant name every time, named so nobody takes it
    for a real one: `lm_<provider>_snapshot_<tenant>_<purpose>_<16 hex>`."""
    digest = hashlib.sha256(f"ledger-mock snapshot/{provider}/{tenant}/{purpose}".encode()).hexdigest()[:16]
    return f"lm_{provider}_snapshot_{slug(tenant)}_{purpose}_{digest}"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "tenant"


def money(value: Any) -> str | None:
    """An amount as the fixtures write one: a plain decimal string (never a float)."""
    return None if value is None else format(Decimal(str(value)), "f")


def take(provider: str, base_url: str, given: Mapping[str, str], *, tenant: str = "snapshot",
         max_wait: float = 120.0) -> tuple[str, Copy, HarnessSession]:
    """Read PROVIDER's tenant at `base_url` with the `given` credentials (else LEDGER_MOCK_<PROVIDER>_<KEY>), and
    answer the fixtures file's text, the copy, and the session (its `waits`: the 429s waited out)."""
    module = load_plugin(provider)
    read = getattr(module, "snapshot", None)
    if read is None:
        raise LookupError(f"the {provider} contract plug-in has no snapshot reader (a `snapshot` function)")
    credentials = credentials_for(module, provider, given)
    session = HarnessSession(documented_limit=getattr(module, "RATE_LIMIT", None), max_wait=max_wait)
    copy = read(Reader(session, base_url), credentials, tenant)
    text = render(provider, base_url, tenant, copy)
    leaked = sorted(key for key, value in credentials.items() if len(value) >= 4 and value in text)
    if leaked:  # a reader's bug, never the user's problem: refuse rather than write a secret
        raise SnapshotError(f"refusing to write the snapshot: it would contain the value of {', '.join(leaked)}")
    return text, copy, session


def render(provider: str, base_url: str, tenant: str, copy: Copy) -> str:
    header = [f"# {provider} tenant read from {base_url} by `ledger-mock snapshot` (tenant name: {tenant}).",
              "# Serve it with `ledger-mock serve --fixtures THIS_FILE`; `ledger-mock credentials --provider "
              f"{provider} --fixtures THIS_FILE`",
              "# prints the copy's credentials: made up for the mock from the tenant name, none of the ones read with."]
    if copy.defaults:
        header.append("# Not readable through the provider's API, so written as defaults:")
        header += [f"#   - {line}" for line in copy.defaults]
    body = yaml.dump({provider: copy.section}, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    return "\n".join(header) + "\n" + body


class _Dumper(yaml.SafeDumper):
    """Records of plain values on one line each, as `fixtures/*.yaml` writes them (`- {id: '1000', name: Bank}`)."""

    def represent_mapping(self, tag: str, mapping: Any, flow_style: bool | None = None) -> yaml.Node:
        return super().represent_mapping(tag, mapping, _flat(mapping.values()))

    def represent_sequence(self, tag: str, sequence: Any, flow_style: bool | None = None) -> yaml.Node:
        return super().represent_sequence(tag, sequence, _flat(sequence))


def _flat(values: Any) -> bool:
    return all(not isinstance(value, (dict, list)) for value in values)


_Dumper.add_representer(Decimal, lambda dumper, value: dumper.represent_str(format(value, "f")))
