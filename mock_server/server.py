"""Production serving: one granian worker process holds the state (it is in memory and must stay coherent);
granian's Rust runtime does the HTTP, and requests run on the worker's Python thread(s). The config travels to
the worker as JSON in the environment."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
from datetime import datetime
from pathlib import Path

from typing import TYPE_CHECKING

from .config import Config

if TYPE_CHECKING:
    from flask import Flask

ENV_VAR = "LEDGER_MOCK_CONFIG"


def config_to_env(config: Config) -> str:
    return json.dumps(dataclasses.asdict(config), default=str)


def config_from_env() -> Config:
    raw = json.loads(os.environ.get(ENV_VAR, "{}"))
    if raw.get("providers") is not None:
        raw["providers"] = tuple(raw["providers"])
    for key in ("fixtures", "state_file"):
        if raw.get(key):
            raw[key] = Path(raw[key])
    if raw.get("frozen_time"):
        raw["frozen_time"] = datetime.fromisoformat(raw["frozen_time"])
    return Config(**raw)


def app_from_env() -> "Flask":
    import logging

    from .app import create_app  # here, in the worker: the supervising process never needs Flask

    config = config_from_env()
    logging.basicConfig(level=config.log_level.upper(), format="%(message)s")
    # The log line is the message alone: skip collecting what it never shows (the logging HOWTO's
    # "Optimization" settings), a third of the cost of logging each request.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    gc.callbacks.append(_freeze_survivors)
    return create_app(config)


def _freeze_survivors(phase: str, info: dict) -> None:
    """After each full collection, put what survived out of the collector's sight (gc.freeze).

    The ledger is large, long-lived and free of cycles; scanning all of it again made every full collection a
    pause that grew with the state (create p99 went from 13 to 75 ms by 30k entries; with this it stays near
    11). Whatever a reset drops is handed back to the collector (app.Mock.reset)."""
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


def serve(config: Config, host: str, port: int, threads: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    os.environ[ENV_VAR] = config_to_env(config)
    Granian("mock_server.server:app_from_env", factory=True, address=host, port=port, interface=Interfaces.WSGI,
            workers=1, blocking_threads=threads, log_level=config.log_level, log_access=False).serve()
