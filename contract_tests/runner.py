"""Runs the contract suite for one provider against one target and writes the reports a CI job reads.

    ledger-mock contract --provider count --base-url https://dev-api.getcount.com \
        --credential client_id=... --credential client_secret=... --credential access_token=...

Without --base-url the target is a mock started in this process. Credentials come from --credential or from
LEDGER_MOCK_<PROVIDER>_<KEY> environment variables, never from files. Exit code: 0 no drift, 1 drift, other
codes for a run that could not complete. A run stopped by --max-requests or --time-budget is judged on what it
reached, and its summary lists what it did not.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Iterator, Mapping, Sequence

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from mock_server import cache_dir, providers

from .findings import Run
from .plugins import plugin as load_plugin
from .session import Budget, HarnessSession

SUITE = Path(__file__).with_name("suite.py")


@dataclass
class Job:
    provider: str
    base_url: str
    credentials: Mapping[str, str]
    plugin: ModuleType
    spec_path: Path
    max_examples: int = 10
    seed: int | None = None
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    rate_limit: str | None = None
    read_only: bool = False
    stateful: bool = True
    max_requests: int | None = None
    time_budget: float | None = None  # seconds
    max_wait: float = 120.0  # seconds one request's 429s are waited out before they count as drift
    run: Run = field(init=False)
    session: HarnessSession = field(init=False)

    def __post_init__(self) -> None:
        self.run = Run(self.provider, self.base_url)
        self.session = HarnessSession(self.rate_limit, documented_limit=getattr(self.plugin, "RATE_LIMIT", None),
                                      max_wait=self.max_wait, budget=Budget(self.max_requests, self.time_budget))


_active: Job | None = None


def active() -> Job:
    if _active is None:
        raise RuntimeError("contract_tests.suite runs only under `ledger-mock contract`")
    return _active


def credentials_for(plugin: ModuleType, provider: str, given: Mapping[str, str],
                    env: Mapping[str, str] = os.environ) -> dict[str, str]:
    found = {key: given.get(key) or env.get(f"LEDGER_MOCK_{provider.upper()}_{key.upper()}")
             for key in plugin.CREDENTIALS}
    missing = [key for key, value in found.items() if not value]
    if missing:
        raise ValueError("missing credentials: " + ", ".join(
            f"--credential {key}=... (or LEDGER_MOCK_{provider.upper()}_{key.upper()})" for key in missing))
    return found


@contextmanager
def in_process_mock(provider: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The mock on a free loopback port, provider rate limits off (a fuzz run is not a client to throttle), and
    strict: the run checks the spec as a contract, so what a provider would only ignore (with a warning) is
    refused, as the spec's `additionalProperties: false` says."""
    import logging

    from werkzeug.serving import make_server

    from mock_server.app import create_app
    from mock_server.config import Config

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app(Config(providers=(provider,), rate_limiting=False, refuse_ignored=True))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}/{provider}"
    try:
        yield base, app.extensions["ledger_mock"].providers[provider].credentials(base)
    finally:
        server.shutdown()


def run_contract(provider: str, base_url: str | None = None, credentials: Mapping[str, str] | None = None, *,
                 junit_xml: Path | None = None, report: Path | None = None, html_report: Path | None = None,
                 **options) -> tuple[int, Run]:
    global _active
    plugin = load_plugin(provider)
    with (in_process_mock(provider) if base_url is None else _given(base_url, credentials or {})) as (url, creds):
        job = Job(provider, url.rstrip("/"), credentials_for(plugin, provider, {**creds, **(credentials or {})}),
                  plugin, providers.load(provider).spec_path(), **options)
        args = [str(SUITE), "-c", str(SUITE.with_name("pytest.ini")), "--rootdir", str(SUITE.parent), "-q",
                "--tb=line", "-W", "ignore::DeprecationWarning"]
        if junit_xml:
            args += [f"--junitxml={junit_xml}", "-o", f"junit_suite_name=contract-{provider}"]
        if job.seed is not None:
            args.append(f"--hypothesis-seed={job.seed}")
        _active = job
        try:
            with _hypothesis_storage():
                code = pytest.main(args, plugins=[_Progress()] if sys.stderr.isatty() else [])
        finally:
            _active = None
    job.run.requests, job.run.waits = job.session.budget.sent, job.session.waits
    job.run.stopped = job.session.budget.spent
    for path, text in ((report, job.run.markdown), (html_report, job.run.html)):
        if path:
            Path(path).write_text(text(), encoding="utf-8")
    return int(code), job.run


@contextmanager
def _hypothesis_storage() -> Iterator[None]:
    """Hypothesis keeps its Unicode tables and the constants it reads from modules under a storage folder, by
    default `.hypothesis` in the working directory: a run there would leave that folder in the user's project,
    and a run from a fresh folder (every CI job) would spend 1.5 s rebuilding the tables. Keep them in our
    cache folder instead, unless the user named one (HYPOTHESIS_STORAGE_DIRECTORY)."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        yield
        return
    set_hypothesis_home_dir(cache_dir() / "hypothesis")
    try:
        yield
    finally:
        set_hypothesis_home_dir(None)


@contextmanager
def _given(base_url: str, credentials: Mapping[str, str]) -> Iterator[tuple[str, Mapping[str, str]]]:
    yield base_url, credentials


class _Progress:
    """A one-line progress bar on a terminal; CI logs get pytest's own percentages instead."""

    def __init__(self) -> None:
        self.total = self.done = 0

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.total = len(session.items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.outcome != "passed":
            self.done += 1
            filled = int(30 * self.done / max(self.total, 1))
            label = report.nodeid.split("[", 1)[-1].rstrip("]")[:50]
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} {label:<50}")
            if self.done >= self.total:
                sys.stderr.write("\n")
