"""Plain configuration object for `create_app`; the CLI and tests build one of these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class Config:
    providers: tuple[str, ...] | None = None  # None: every provider found under mock_server/providers
    fixtures: Path | None = None  # a YAML file or a folder of them; None: the embedded defaults
    root_provider: str | None = None  # serve this one provider at its real root paths instead of /<name>
    seed: int | None = 0  # ids repeat run after run; None for fresh randomness
    frozen_time: datetime | None = None
    rate_limiting: bool = True  # off for load and fuzz runs
    coverage: bool = True  # count what clients exercise (coverage.py); off only to measure what counting costs
    validate_responses: bool = False  # strict: a response that breaks the spec becomes a 500
    refuse_ignored: bool = False  # strict: what the provider would ignore (and the mock warns about) is a 400
    max_body_bytes: int = 1 << 20
    max_import_bytes: int = 1 << 32  # PUT /_mock/state and POST /_mock/fixtures: any export must import back
    body_timeout_s: float = 30.0  # a body must arrive within this, plus a second per MiB (served only)
    max_tenants: int = 1000  # tenants made with POST /_mock/tenants, all providers together
    public_base_url: str = "http://127.0.0.1:8080"  # what `credentials` and links report
    admin_token: str | None = None  # required on /_mock calls when set
    log_level: str = "info"  # the one structured line per request is logged at info
    state_file: Path | None = None  # durable write log, replayed at start
    checkpoint_every: int = 10_000  # changes between checkpoints of the state (checkpoint.py); 0: none
