"""Production serving: granian's Rust runtime does the HTTP, and requests run on its Python thread(s) against the
one in-memory state, all in this one process.

Granian normally runs a supervising process that forks the workers. Here that costs more than it gives: the
supervisor's copy of the interpreter was a third of the idle memory (RSS summed over both), and a worker it
respawned after a crash would silently be a fresh mock with its state gone. Granian's MTServer runs the same
worker as a thread of the calling process. Granian picks it only for free-threaded builds, where several worker
threads run in parallel, and guards that with a check (`_check_gil`); with one worker the interpreter lock costs
nothing, so `_InProcess` skips the check. tests/count/test_served.py serves through it end to end, so a granian
release that changes this fails the suite."""

from __future__ import annotations

import gc
import logging

from .config import Config


def serve(config: Config, host: str, port: int, threads: int) -> None:
    from granian.constants import Interfaces
    from granian.server import MTServer

    from .app import create_app

    class _InProcess(MTServer):
        def _check_gil(self) -> None:
            pass

    logging.basicConfig(level=config.log_level.upper(), format="%(message)s")
    # The log line is the message alone: skip collecting what it never shows (the logging HOWTO's
    # "Optimization" settings), a third of the cost of logging each request.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    app = create_app(config)  # before listening: a state file that cannot be replayed stops the start
    gc.callbacks.append(_freeze_survivors)
    server = _InProcess("mock_server.app:create_app", address=host, port=port, interface=Interfaces.WSGI,
                        workers=1, blocking_threads=threads, log_level=config.log_level, log_access=False)
    logging.getLogger("_granian").addFilter(_not_free_threading_notice)
    server.serve(target_loader=lambda _target: app)


def _not_free_threading_notice(record: logging.LogRecord) -> bool:
    """MTServer announces free-threaded Python as experimental; this process does not run on it."""
    return "free-threaded" not in record.getMessage()


def _freeze_survivors(phase: str, info: dict) -> None:
    """After each full collection, put what survived out of the collector's sight (gc.freeze).

    The ledger is large, long-lived and free of cycles; scanning all of it again made every full collection a
    pause that grew with the state (create p99 went from 13 to 75 ms by 30k entries; with this it stays near
    11). Whatever a reset drops is handed back to the collector (app.Mock.reset)."""
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()
