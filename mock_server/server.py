"""Production serving: granian's Rust runtime does the HTTP, and requests run against the one in-memory state, all
in this one process.

Granian reads each request and hands it to `_Bridge` on granian's one Python thread. A request's body is read
by the Rust runtime, within a deadline and a size limit, before any Python thread, lock or state is involved: a
client that sends `Content-Length: 10` and one byte holds nothing but its own socket, and a chunked body past the
limit is a 413, never cut short. The whole request then runs through the WSGI app (the same one the tests drive),
on that thread, or on a pool with `--threads N`.

Granian normally runs a supervising process that forks the workers. Here that costs more than it gives: the
supervisor's copy of the interpreter was a third of the idle memory, and a worker it respawned after a crash
would silently be a fresh mock with its state gone. Granian's MTServer runs the same worker as a thread of the
calling process. Granian picks it only for free-threaded builds and guards that with a check (`_check_gil`);
with one worker the interpreter lock costs nothing, so `_InProcess` skips the check. The worker itself is ours
(`_Bridge.worker`, built on granian's RSGIWorker and CallbackScheduler): see `_Bridge` for why. These are granian's
internals, hence the pin to granian 2.8 in pyproject.toml; tests/test_server.py serves through them end to end, so
a granian release that changes them fails the suite."""

from __future__ import annotations

import asyncio
import errno
import gc
import io
import logging
import math
import os
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, NoReturn

from .config import Config
from .pipeline import environ_key, http_error

MIB = 1 << 20


class PortInUse(RuntimeError):
    pass


def serve(config: Config, host: str, port: int, threads: int, ready: Callable[[Any], None] | None = None,
          stopping: Callable[[], None] = lambda: None) -> None:
    """Serve until stopped; `ready` gets the mock (mock.Mock) once it is built, just before granian listens, and
    `stopping` is called when a stop begins (granian then waits for every open connection to finish)."""
    from .app import create_app

    logging.basicConfig(level=config.log_level.upper(), format="%(message)s")
    # The log line is the message alone: skip collecting what it never shows (the logging HOWTO's
    # "Optimization" settings), a third of the cost of logging each request.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    check_port(host, port)
    app = create_app(config)  # before listening: a state file that cannot be replayed stops the start
    mock = app.extensions["ledger_mock"]
    gc.callbacks.append(freeze_survivors)
    bridge = _Bridge(app, mock, lambda path, status: http_error(mock, path, status), threads)

    def stop() -> None:
        bridge.refuse_reads(503)
        stopping()

    server = in_process_granian(host, port, config.log_level, stopping=stop)
    if ready is not None:
        ready(mock)
    server.serve(spawn_target=bridge.worker, target_loader=lambda _target: bridge)


def exit_after_serving(code: int) -> NoReturn:
    """End the process once `serve` has returned and everything is written, without finalizing the interpreter.
    Granian's runtime threads can outlive the server and reach into Python while the interpreter tears down, a
    Rust panic that aborts the process: `proxy` then exited -6 instead of its verdict (seen in loaded test runs).
    Nothing of ours waits for finalization: the state file is fsynced per change and the reports are written."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def in_process_granian(host: str, port: int, log_level: str, stopping: Callable[[], None] = lambda: None) -> Any:
    """Granian speaking RSGI with its one worker a thread of this process (see above); `.serve(target_loader=...)`
    runs until SIGINT or SIGTERM, then calls `stopping` and returns once every answer is sent. `ledger-mock proxy`
    serves through it too."""
    from granian.constants import Interfaces
    from granian.server import MTServer

    class _InProcess(MTServer):
        def _check_gil(self) -> None:
            pass

        def shutdown(self, exit_code: int = 0) -> None:
            stopping()
            super().shutdown(exit_code)

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
    """granian's Rust HTTP in front, the WSGI app behind; a request reaches the app only once its body is whole.

    granian hands each request to `request` on its one Python thread. Its RSGI worker would start a coroutine on an
    asyncio loop in another thread for each, and each hop costs a wake-up of that loop and a hand-over of the
    interpreter lock: half the server's time, and half its throughput, measured. Here a request without a body is
    answered where it arrives, and one with a body is answered by the callback of its body's read (`_Read`), on the
    thread that completes the read (see `_Loop`). The loop only keeps time: every `SWEEP_S` it refuses, 408, the
    reads past their deadline."""

    SWEEP_S = 0.1

    def __init__(self, app: Callable, mock: Any, refuse: Callable[[str, int], Any], threads: int):
        self.app, self.mock, self.refuse = app, mock, refuse
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="ledger-mock") if threads > 1 else None
        self.timeout = mock.config.body_timeout_s
        self.reading: set[_Read] = set()
        self.base = {"SCRIPT_NAME": "", "SERVER_SOFTWARE": "ledger-mock (granian)", "wsgi.version": (1, 0),
                     "wsgi.errors": sys.stderr, "wsgi.multithread": threads > 1, "wsgi.multiprocess": False,
                     "wsgi.run_once": False}

    def worker(self, worker_id: int, shutdown: Any, _target: Any, sock: Any, _loop_impl: str, runtime_mode: Any,
               runtime_threads: int, runtime_blocking_threads: int, blocking_threads: int, idle_timeout: int,
               backpressure: int, _task_impl: Any, http_mode: Any, http1_settings: Any, http2_settings: Any,
               websockets: bool, static_path: Any, _access_log: Any, ssl_ctx: Any, _scope_opts: Any,
               metrics: Any) -> None:
        """granian's worker thread (`serve(spawn_target=...)`), as its own RSGI one, except that requests go to
        `request` instead of to coroutines."""
        from granian._granian import CallbackScheduler, RSGIWorker
        from granian.server.common import WORKERS_METHODS

        loop = _Loop()
        stop = asyncio.Event()
        shutdown.add_cb(lambda: loop.call_soon_threadsafe(stop.set))
        worker = RSGIWorker(worker_id, sock, None, runtime_threads, runtime_blocking_threads, blocking_threads,
                            idle_timeout, backpressure, http_mode, http1_settings, http2_settings, websockets,
                            static_path, *ssl_ctx, metrics)
        scheduler = CallbackScheduler(loop, None, None, None, None)  # only its `_schedule_fn` is ever called
        scheduler._schedule_fn = self.request
        loop.call_soon(self._sweep, loop)
        getattr(worker, WORKERS_METHODS[runtime_mode][(sock[0] or sock[1]).is_uds()])(scheduler, loop, shutdown)
        try:
            loop.run_until_complete(stop.wait())
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=False, cancel_futures=True)
            loop.close()

    def request(self, watcher: Any) -> None:
        scope, protocol = watcher.scope, watcher.proto
        if scope.proto != "http":
            watcher.done()
            return
        try:
            environ = self._environ(scope)
            length = environ.get("CONTENT_LENGTH")
            http1 = scope.http_version < "2"
            # In HTTP/1 a request with neither Content-Length nor Transfer-Encoding has no body; HTTP/2 may stream one
            if "HTTP_TRANSFER_ENCODING" not in environ and (length == "0" or length is None and http1):
                environ["wsgi.input"] = io.BytesIO()
                self.answer(protocol, environ)
            else:
                _Read(self, protocol, environ, http1)
        except Exception:  # a bug here: the client still gets an answer, granian's empty 500
            logging.getLogger("ledger_mock").exception("unhandled error taking %s", scope.path)
            watcher.done()

    def answer(self, protocol: Any, environ: dict[str, Any]) -> None:
        if self.pool is None:
            self._answer(protocol, environ)
        else:
            self.pool.submit(self._answer, protocol, environ)

    def _answer(self, protocol: Any, environ: dict[str, Any]) -> None:
        try:
            status, headers, body = self._run(environ)
        except Exception:  # the app renders its own failures; this is the last line, for a bug in that
            logging.getLogger("ledger_mock").exception("unhandled error serving %s", environ["PATH_INFO"])
            answer = self.refuse(environ["PATH_INFO"], 500)
            status, headers, body = 500, answer.headers, answer.body
        protocol.response_bytes(status, headers, body)

    def refuse_reads(self, status: int, due: float = math.inf) -> None:
        """Refuse, `status`, the bodies still arriving whose deadline is before `due`: all of them when the server
        stops, so that it stops at once instead of when the slowest client's deadline passes."""
        for read in list(self.reading):  # list() copies in one step: the Python thread adds and removes meanwhile
            future = read.future
            if read.deadline <= due and future is not None and future.cancel():  # False: it completed just now
                self.reading.discard(read)
                read.refuse(status)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        self.refuse_reads(408, time.monotonic())
        loop.call_later(self.SWEEP_S, self._sweep, loop)

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
            key = environ_key(name)
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        if len(readable) < len(headers):  # granian hands over no value holding bytes beyond visible ASCII...
            for name in set(headers.keys()) - {name for name, _ in readable}:
                environ[environ_key(name)] = "\x80"  # ...so the app sees one it will refuse, not none at all
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


class _Read:
    """One request's body on its way in. It arrives whole, within the size limit and by its deadline (the body
    timeout plus a second per MiB, growing with what arrived when streamed), and the request is answered; or it is
    refused in the provider's envelope: 413 past the limit, 408 past the deadline, 400 cut short (never run as if
    whole). A slow client holds only its own socket: no thread waits for it. Each read's future calls this back
    when done."""

    __slots__ = ("bridge", "protocol", "environ", "http1", "path", "limit", "length", "chunks", "size", "started",
                 "deadline", "future")

    def __init__(self, bridge: _Bridge, protocol: Any, environ: dict[str, Any], http1: bool):
        self.bridge, self.protocol, self.environ, self.http1 = bridge, protocol, environ, http1
        self.path = environ["PATH_INFO"].encode("latin-1").decode("utf-8", "replace")
        self.limit = bridge.mock.front.body_limit(self.path, environ["REQUEST_METHOD"])
        declared = environ.get("CONTENT_LENGTH")
        self.length = int(declared) if declared and declared.isdigit() and len(declared) < 19 else None
        if declared is not None and self.length is None:
            return self.refuse(400)
        if self.length is not None and self.length > self.limit:
            return self.refuse(413)
        self.chunks: list[bytes] = []
        self.size = 0
        self.started = time.monotonic()
        self.deadline = self.started + bridge.timeout + (self.length or 0) / MIB
        if self.length is not None:
            self.wait(protocol())  # within the limit: read whole, in one wait
        else:
            protocol.__aiter__()
            self.wait(protocol.__anext__())

    def wait(self, future: Any) -> None:
        self.future = future
        self.bridge.reading.add(self)
        future.add_done_callback(self)

    def __call__(self, future: Any) -> None:
        self.future = None  # it keeps this read as its callback: drop the pair now, not at a collection
        if future.cancelled():  # refused while it waited: past its deadline (408) or the server stopping (503)
            return
        self.bridge.reading.discard(self)
        try:
            if self.length is not None:
                whole = future.result()  # raises when the stream broke off: the client went away mid-body
                return self.answer(whole) if len(whole) == self.length else self.refuse(400)
            chunk = future.result()  # b"" at the stream's end, and where it broke off: told apart below
            self.size += len(chunk)
            if self.size > self.limit:
                return self.refuse(413)
            self.chunks.append(chunk)
            try:
                following = self.protocol.__anext__()
            except StopAsyncIteration:  # the stream ended: the body is whole
                return self.answer(b"".join(self.chunks))
            if not chunk and self.http1:  # HTTP/1 ends a body with one b"": a stream that goes on broke off (or
                following.cancel()  # sends trailers). HTTP/2 may send empty frames: it only ends by ending.
                return self.refuse(400)
            self.deadline = self.started + self.bridge.timeout + self.size / MIB  # streamed: 1 MiB/s earns time
            self.wait(following)
        except Exception:  # a body cut short is refused, never run as if it were whole
            self.refuse(400)

    def answer(self, body: bytes) -> None:
        environ = self.environ
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input"] = io.BytesIO(body)
        self.bridge.answer(self.protocol, environ)

    def refuse(self, status: int) -> None:
        answer = self.bridge.refuse(self.path, status)
        self.protocol.response_bytes(status, [*answer.headers, ("Connection", "close")], answer.body)


class _Loop(asyncio.SelectorEventLoop):
    """The loop granian completes its futures through: it calls `call_soon_threadsafe(callback, future)` from its
    Python thread when a read completes. A `_Read` is called there and then, and answers its request on that
    thread, instead of waking this loop's thread to do it (a pipe write, a wake-up and a switch of the interpreter
    lock, per request)."""

    def call_soon_threadsafe(self, callback: Any, *args: Any, context: Any = None) -> Any:
        if type(callback) is _Read:
            return callback(*args)
        return super().call_soon_threadsafe(callback, *args, context=context)

    def call_soon(self, callback: Any, *args: Any, context: Any = None) -> Any:  # a read already done when awaited
        if type(callback) is _Read:
            return callback(*args)
        return super().call_soon(callback, *args, context=context)


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


def freeze_survivors(phase: str, info: dict) -> None:
    """After each full collection, put what survived out of the collector's sight (gc.freeze).

    The ledger is large, long-lived and free of cycles; scanning all of it again made every full collection a
    pause that grew with the state (create p99 went from 13 to 75 ms by 30k entries; with this it stays near
    11). Whatever a reset drops is handed back to the collector (mock.Mock.reset)."""
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()
