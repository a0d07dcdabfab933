"""Production serving: granian's Rust runtime does the HTTP, and requests run against the one in-memory state, all
in this one process.

Granian speaks RSGI to `_Bridge`, which reads each body asynchronously, within a deadline and a size limit,
before any Python thread, lock or state is involved: a client that sends `Content-Length: 10` and one byte holds
nothing but its own socket, and a chunked body past the limit is a 413, never cut short. The complete request
then runs through the WSGI app (the same one the tests drive), inline on the event loop with one thread, or on a
pool with `--threads N`.

Granian normally runs a supervising process that forks the workers. Here that costs more than it gives: the
supervisor's copy of the interpreter was a third of the idle memory, and a worker it respawned after a crash
would silently be a fresh mock with its state gone. Granian's MTServer runs the same worker as a thread of the
calling process. Granian picks it only for free-threaded builds and guards that with a check (`_check_gil`);
with one worker the interpreter lock costs nothing, so `_InProcess` skips the check. tests/test_served.py serves
through it end to end, so a granian release that changes this fails the suite."""

from __future__ import annotations

import asyncio
import errno
import gc
import io
import logging
import os
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, NoReturn

from .config import Config

MIB = 1 << 20


class PortInUse(RuntimeError):
    pass


def serve(config: Config, host: str, port: int, threads: int, ready: Callable[[Any], None] | None = None) -> None:
    """Serve until stopped; `ready` gets the mock (mock.Mock) once it is built, just before granian listens."""
    from .app import create_app
    from .pipeline import http_error

    logging.basicConfig(level=config.log_level.upper(), format="%(message)s")
    # The log line is the message alone: skip collecting what it never shows (the logging HOWTO's
    # "Optimization" settings), a third of the cost of logging each request.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    check_port(host, port)
    app = create_app(config)  # before listening: a state file that cannot be replayed stops the start
    gc.callbacks.append(_freeze_survivors)
    bridge = _Bridge(app, app.extensions["ledger_mock"], lambda path, status: http_error(
        app.extensions["ledger_mock"], path, status), threads)
    server = in_process_granian(host, port, config.log_level)
    if ready is not None:
        ready(app.extensions["ledger_mock"])
    server.serve(target_loader=lambda _target: bridge)


def exit_after_serving(code: int) -> NoReturn:
    """End the process once `serve` has returned and everything is written, without finalizing the interpreter.
    Granian's runtime threads can outlive the server and reach into Python while the interpreter tears down, a
    Rust panic that aborts the process: `proxy` then exited -6 instead of its verdict (seen in loaded test runs).
    Nothing of ours waits for finalization: the state file is fsynced per change and the reports are written."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def in_process_granian(host: str, port: int, log_level: str) -> Any:
    """Granian speaking RSGI with its one worker a thread of this process (see above); `.serve(target_loader=...)`
    runs until SIGINT or SIGTERM, then returns. `ledger-mock proxy` serves through it too."""
    from granian.constants import Interfaces
    from granian.server import MTServer

    class _InProcess(MTServer):
        def _check_gil(self) -> None:
            pass

    server = _InProcess("mock_server.app:create_app", address=host, port=port, interface=Interfaces.RSGI,
                        workers=1, log_access=False,  # its info lines (from Rust too) only at --log-level debug
                        log_level=log_level if log_level in ("debug", "error") else "warning")
    logging.getLogger("_granian").addFilter(_GranianAtDebug(log_level == "debug"))
    return server


def check_port(host: str, port: int) -> None:
    """Granian listens with SO_REUSEPORT, so a second server on a taken port would start and the kernel would
    split requests between two different states: refuse instead, the way a plain bind would."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are no obstacle
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(f"port {port} on {host} is already in use (another ledger-mock?); stop it or "
                                f"choose another with --port") from None
            raise


class _Bridge:
    """RSGI in front, WSGI behind: bodies arrive here whole (or are refused) before the app sees the request."""

    def __init__(self, app: Callable, mock: Any, refuse: Callable[[str, int], Any], threads: int):
        self.app, self.mock, self.refuse = app, mock, refuse
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="ledger-mock") if threads > 1 else None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.timeout = mock.config.body_timeout_s
        self.base = {"SCRIPT_NAME": "", "SERVER_SOFTWARE": "ledger-mock (granian)", "wsgi.version": (1, 0),
                     "wsgi.errors": sys.stderr, "wsgi.multithread": threads > 1, "wsgi.multiprocess": False,
                     "wsgi.run_once": False}

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":
            return
        environ = self._environ(scope)
        if environ.get("CONTENT_LENGTH", "0") != "0" or "HTTP_TRANSFER_ENCODING" in environ:
            body = await self._body(scope, environ, protocol)
            if body is None:
                return
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ["wsgi.input"] = io.BytesIO(body)
        else:
            environ["wsgi.input"] = io.BytesIO()
        try:
            if self.pool is None:
                status, headers, body = self._run(environ)
            else:
                status, headers, body = await self.loop.run_in_executor(self.pool, self._run, environ)
        except Exception:  # the app renders its own failures; this is the last line, for a bug in that
            logging.getLogger("ledger_mock").exception("unhandled error serving %s", environ["PATH_INFO"])
            answer = self.refuse(environ["PATH_INFO"], 500)
            status, headers, body = 500, answer.headers, answer.body
        protocol.response_bytes(status, headers, body)

    async def _body(self, scope: Any, environ: dict[str, Any], protocol: Any) -> bytes | None:
        """The whole body; None when the answer (413, 408) is already sent or the client went away."""
        path = environ["PATH_INFO"].encode("latin-1").decode("utf-8", "replace")
        limit = self.mock.front.body_limit(path, scope.method)
        declared = environ.get("CONTENT_LENGTH")
        length = int(declared) if declared and declared.isdigit() and len(declared) < 19 else None
        if declared is not None and length is None:
            return self._refuse(protocol, path, 400)
        if length is not None and length > limit:
            return self._refuse(protocol, path, 413)
        chunks, size = [], 0
        started = self.loop.time()
        try:
            async with asyncio.timeout_at(started + self.timeout + (length or 0) / MIB) as deadline:
                if length is not None:  # within the limit: read whole, in one wait (each wait is a thread hop)
                    whole = await protocol()
                    return whole if len(whole) == length else None  # cut short: never run a partial body
                async for chunk in protocol:
                    size += len(chunk)
                    if size > limit:
                        return self._refuse(protocol, path, 413)
                    chunks.append(chunk)
                    if length is None:  # chunked: the deadline grows with what arrived, at 1 MiB/s
                        deadline.reschedule(started + self.timeout + size / MIB)
        except TimeoutError:
            return self._refuse(protocol, path, 408)
        except Exception:  # the client went away mid-body
            return None
        if length is not None and size < length:
            return None  # cut short: never run a partial body as if it were whole
        return b"".join(chunks)

    def _refuse(self, protocol: Any, path: str, status: int) -> None:
        answer = self.refuse(path, status)
        protocol.response_bytes(status, [*answer.headers, ("Connection", "close")], answer.body)
        return None

    def _environ(self, scope: Any) -> dict[str, Any]:
        server, _, server_port = scope.server.rpartition(":")
        client, _, client_port = scope.client.rpartition(":")
        environ = {**self.base, "REQUEST_METHOD": scope.method,
                   "PATH_INFO": scope.path.encode("utf-8", "surrogateescape").decode("latin-1"),
                   "QUERY_STRING": scope.query_string, "SERVER_NAME": server, "SERVER_PORT": server_port,
                   "SERVER_PROTOCOL": f"HTTP/{scope.http_version}", "REMOTE_ADDR": client,
                   "REMOTE_PORT": client_port, "wsgi.url_scheme": scope.scheme}
        headers = scope.headers
        readable = headers.items()
        for name, value in readable:
            key = name.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        if len(readable) < len(headers):  # granian hands over no value holding bytes beyond visible ASCII...
            for name in set(headers.keys()) - {name for name, _ in readable}:
                key = name.upper().replace("-", "_")  # ...so the app sees one it will refuse, not none at all
                environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = "\x80"
        return environ

    def _run(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        answered: list[Any] = []
        result = self.app(environ, lambda status, headers, *_: answered.extend((status, headers)))
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return int(answered[0].split(" ", 1)[0]), answered[1], body


class _GranianAtDebug(logging.Filter):
    """Granian's own progress lines (starting, listening, workers) are debug detail here: the mock's banner says
    where it listens. Its warnings and errors still show. Its notice that free-threaded Python is experimental
    never does (MTServer announces it; this process does not run on it)."""

    def __init__(self, debug: bool):
        super().__init__()
        self.debug = debug

    def filter(self, record: logging.LogRecord) -> bool:
        if "free-threaded" in record.getMessage():
            return False
        if record.levelno < logging.WARNING:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return self.debug
        return True


def _freeze_survivors(phase: str, info: dict) -> None:
    """After each full collection, put what survived out of the collector's sight (gc.freeze).

    The ledger is large, long-lived and free of cycles; scanning all of it again made every full collection a
    pause that grew with the state (create p99 went from 13 to 75 ms by 30k entries; with this it stays near
    11). Whatever a reset drops is handed back to the collector (mock.Mock.reset)."""
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()
