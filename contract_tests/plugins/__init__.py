"""Provider auth plugins. A plugin is a module here named after the provider, exposing

    CREDENTIALS: tuple of the credential keys it needs (from --credential or LEDGER_MOCK_<PROVIDER>_<KEY>)
    ERROR_SCHEMA: the spec component of its usual error body
    MONEY_FIELDS: field names that carry money
    RULE_REFUSALS: statuses with which it refuses well-formed requests that break a business rule
    RATE_LIMIT: (optional) the provider's documented limit, such as "100/m", for a 429 that names no wait
    def unwrap(body) -> the record inside a response envelope
    def install(schema, credentials, session, base_url) -> None
        registers a schemathesis auth provider on `schema` (so schemathesis knows which headers are
        credentials and can probe without them), and may add last-moment hooks to the session
    def probes(session, base_url, credentials, *, read_only) -> Iterator[Probe]
        direct questions about rules random data rarely reaches
    def snapshot(reader, credentials, tenant) -> snapshot.Copy    (optional: `ledger-mock snapshot`)
        reads the tenant the credentials open through the provider's read API (reader.get, paged) into its
        fixtures section, with mock-only credentials made by snapshot.mock_secret from the tenant name

A built-in provider's plugin is the module here named after it; an installed provider plug-in adds its own
through the entry point group `ledger_mock.contract_plugins` (name = the provider's name, value = the module).
The harness itself does not change.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from types import ModuleType

ENTRY_POINTS = "ledger_mock.contract_plugins"


def plugin(provider: str) -> ModuleType:
    try:
        return importlib.import_module(f"{__name__}.{provider}")
    except ModuleNotFoundError:
        pass
    for point in importlib.metadata.entry_points(group=ENTRY_POINTS, name=provider):
        return importlib.import_module(point.value)
    raise LookupError(f"no contract plugin for provider {provider!r}")
