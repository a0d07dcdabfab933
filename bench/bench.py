"""ledger-mock against Stoplight Prism on this machine, side by side, and ledger-mock as a tenant grows.

    make bench                                    # both parts with the defaults below (about 8 minutes)
    .venv/bin/python bench/bench.py compare --duration 10 --reps 3
    .venv/bin/python bench/bench.py scaling --sizes 1000,10000,100000
    .venv/bin/python bench/bench.py coverage --reps 6   # what counting client coverage costs, on against off
    .venv/bin/python bench/bench.py proxy         # what `ledger-mock proxy` adds to a request against a local mock
    .venv/bin/python bench/bench.py smoke         # a few seconds of each part; CI runs it to keep this working

compare: both servers serve openapi/count.yaml (ledger-mock with real HMAC + Bearer auth, validation and
state; Prism with `--verboseLevel error`, its fastest setting). For each: time from process start to the
first 200, memory idle and after load, and requests/s with p50/p99 latency of a paged journal-entry list
and of creating a balanced entry. Warm-up first, then repetitions interleaved between the two servers so
drift on a shared machine hits both alike; the medians and the ledger-mock / Prism ratios are printed.

scaling: list-page latency (COUNT), a filtered and ordered query (Intacct query service) and a Codat
`query` at each tenant size, grown through the public API, and memory at the largest size.

Memory is the whole process tree (both servers are one process each, but a tree is what a user pays for): RSS
summed (what `ps` shows; a page shared between processes counts once in each) and PSS summed (shared pages
split between the processes: what the tree costs).

What it installs when missing: wrk (Debian package) and @stoplight/prism-cli (npm, into bench/.tools).
Traffic goes only to 127.0.0.1, every load run is bounded by wrk's --duration, and it stops only the
process groups it started.
"""

from __future__ import annotations

import argparse
import compileall
import gc
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mock_server.auth import hmac_signing  # noqa: E402  (after the path: runs from a checkout)

TOOLS = ROOT / "bench" / ".tools"
PRISM_VERSION = "5.14.2"
HOST = "127.0.0.1"

# COUNT's default fixtures: rent expense and the operating bank account of Acme Coffee Roasters.
RENT, BANK = "a0000000-0000-4000-8000-000000006000", "a0000000-0000-4000-8000-000000001000"
ENTRY = {"descriptionEntry": "Bench rent", "date": "2025-03-31", "refNumber": "BENCH",
         "lines": [{"accountUuid": RENT, "amountDebit": "100.00"}, {"accountUuid": BANK, "amountCredit": "100.00"}]}
LIST_PATH = "/partners/journal-entries?page=1&limit=25"
INSPECTOR_PAGE = "/_mock/ui/count/7d3e6c1a-2b4f-4e8a-9c5d-1f2a3b4c5d6e"  # Acme's page: first entries and requests
CREATE_PATH = "/partners/journal-entries"

TARGETS = {  # ledger-mock / Prism, from issue 8
    "list req/s": (">=", 1.5), "create req/s": (">=", 1.2), "list p99": ("<=", 1.0), "create p99": ("<=", 1.0),
    "start to first 200": ("<=", 0.2), "idle PSS": ("<=", 0.5), "idle RSS": ("<=", 0.5),
}


# Every target measured in this run, for the table that ends the report: (target, measured, wanted, met).
VERDICTS: list[tuple[str, str, str, bool]] = []


def verdict(target: str, measured: str, wanted: str, met: bool) -> str:
    VERDICTS.append((target, measured, wanted, met))
    return f"{target}: {measured} (target {wanted}: {'met' if met else 'NOT met'})"


def verdict_table() -> list[str]:
    return ["## Targets", "", "| target | measured | wanted | met |", "|---|---|---|---|",
            *(f"| {t} | {m} | {w} | {'yes' if ok else '**no**'} |" for t, m, w, ok in VERDICTS)]


# -- tools ---------------------------------------------------------------------------------------------------

def ensure_tools(need_prism: bool) -> Path | None:
    if not shutil.which("wrk"):
        if not shutil.which("apt-get"):
            sys.exit("wrk is missing and there is no apt-get to install it; install wrk and run again")
        print("installing wrk (apt-get)...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    if not need_prism:
        return None
    prism = TOOLS / "node_modules" / ".bin" / "prism"
    if not prism.exists():
        print(f"installing @stoplight/prism-cli@{PRISM_VERSION} (npm, into {TOOLS})...", flush=True)
        TOOLS.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(TOOLS), "--no-audit", "--no-fund", "--loglevel=error",
                        f"@stoplight/prism-cli@{PRISM_VERSION}"], check=True)
    return prism


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# -- processes -----------------------------------------------------------------------------------------------

@dataclass
class Memory:
    rss_mib: float
    pss_mib: float


class Server:
    """A server in its own process group: started, probed until it answers 200, measured, stopped."""

    def __init__(self, name: str, command: Callable[[int], list[str]], log: Path):
        self.name, self.command, self.log = name, command, log
        self.port = 0
        self.process: subprocess.Popen | None = None

    def start(self, ready: Callable[[int], bool], timeout: float = 60) -> float:
        """Seconds from spawning the process (on a fresh port) to the first time `ready(port)` holds."""
        self.port = free_port()
        argv = self.command(self.port)
        started = time.perf_counter()
        self.process = subprocess.Popen(argv, cwd=ROOT, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                                        start_new_session=True)
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log}")
            try:
                if ready(self.port):
                    return time.perf_counter() - started
            except OSError:
                pass
            time.sleep(0.005)
        raise RuntimeError(f"{self.name} did not answer within {timeout} s; see {self.log}")

    def memory(self) -> Memory:
        rss = pss = 0
        for pid in self._group():
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in rollup.splitlines()[1:])
            rss += int(fields["Rss"].split()[0])
            pss += int(fields["Pss"].split()[0])
        return Memory(rss / 1024, pss / 1024)

    def _group(self) -> Iterator[int]:
        assert self.process is not None
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[2]) == self.process.pid:  # field 5: process group
                    yield int(entry.name)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # our own group only
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


# -- HTTP ----------------------------------------------------------------------------------------------------

class Count:
    """COUNT's auth from the default fixtures: fresh HMAC headers (valid for +-300 s) plus the bearer."""

    def __init__(self, tenant: dict[str, str] | None = None) -> None:
        from mock_server.cli import provider_credentials
        self.creds = tenant or provider_credentials("count", f"http://{HOST}", root=True)

    def headers(self, method: str, path: str, body: bytes = b"") -> dict[str, str]:
        signed = hmac_signing.signature_headers(self.creds["client_id"], self.creds["client_secret"], method,
                                                path, body)
        return {**signed, "Authorization": f"Bearer {self.creds['access_token']}"}


def call(port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
         conn: http.client.HTTPConnection | None = None) -> tuple[int, Any]:
    raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    sent = {**({"Content-Type": "application/json"} if raw is not None else {}), **(headers or {})}
    own = conn is None
    conn = conn or http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request(method, path, raw, sent)
        response = conn.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data[:1] in (b"{", b"[") else data)
    finally:
        if own:
            conn.close()


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers and socket errors: a run with any is reported, never averaged in silently


def wrk(port: int, method: str, path: str, headers: dict[str, str], body: bytes, seconds: float,
        connections: int) -> Run:
    """One bounded wrk run against 127.0.0.1 (one wrk thread: the other core is the server's)."""
    script = ["wrk.method = " + json.dumps(method), "wrk.body = " + _lua_string(body.decode())]
    script += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    if body:
        script.append('wrk.headers["Content-Type"] = "application/json"')
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write("\n".join(script) + "\n")
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
                              "-s", handle.name, f"http://{HOST}:{port}{path}"],
                             capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    finally:
        os.unlink(handle.name)
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return Run(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
               _latency(out, "50"), _latency(out, "99"), errors)


def _latency(out: str, percentile: str) -> float:
    value, unit = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


# -- compare -------------------------------------------------------------------------------------------------

@dataclass
class Side:
    name: str
    server: Server
    starts: list[float] = field(default_factory=list)
    idle: list[Memory] = field(default_factory=list)
    after_load: Memory | None = None
    runs: dict[str, list[Run]] = field(default_factory=dict)


def compare(args: argparse.Namespace, workdir: Path) -> list[str]:
    prism = ensure_tools(need_prism=True)
    # Start as an installed package starts: with its bytecode compiled (`make install` does it). An edit since
    # leaves it stale, and where PYTHONDONTWRITEBYTECODE is set (this machine) Python compiles the edited modules
    # again at every start, 80 ms of each start measured.
    compileall.compile_dir(ROOT / "mock_server", quiet=1)
    count = Count()
    spec = ROOT / "openapi" / "count.yaml"

    mock = Server("ledger-mock", lambda port: [
        sys.executable, "-m", "mock_server.cli", "serve", "--port", str(port), "--providers", "count",
        "--root-provider", "count", "--no-rate-limit"], workdir / "ledger-mock.log")
    # The same server not counting client coverage: what counting costs, measured in the same run (issue 19).
    uncounted = Server("ledger-mock, coverage off", lambda port: [
        sys.executable, "-m", "mock_server.cli", "serve", "--port", str(port), "--providers", "count",
        "--root-provider", "count", "--no-rate-limit", "--no-coverage"], workdir / "ledger-mock-uncounted.log")
    prism_server = Server("prism", lambda port: [
        str(prism), "mock", "-h", HOST, "-p", str(port), "--verboseLevel", "error", str(spec)], workdir / "prism.log")

    def lists(port: int) -> bool:
        return call(port, "GET", LIST_PATH, headers=count.headers("GET", LIST_PATH))[0] == 200

    sides = [Side("ledger-mock", mock), Side("prism", prism_server), Side("coverage off", uncounted)]
    print(f"start to first 200 and idle memory, {args.reps} starts each...", flush=True)
    for _ in range(args.reps):
        for side in sides:
            try:
                side.starts.append(side.server.start(lists))
                time.sleep(1)  # settle: idle means after startup work, not during it
                side.idle.append(side.server.memory())
            finally:
                side.server.stop()

    body = json.dumps(ENTRY, separators=(",", ":")).encode()
    operations = {"list": ("GET", LIST_PATH, b""), "create": ("POST", CREATE_PATH, body)}
    try:
        for side in sides:
            side.server.start(lists)
        for name, (method, path, payload) in operations.items():
            for side in sides:  # warm-up, not recorded
                wrk(side.server.port, method, path, count.headers(method, path, payload), payload, args.warmup,
                    args.connections)
        for rep in range(args.reps):
            print(f"load, repetition {rep + 1} of {args.reps}...", flush=True)
            for name, (method, path, payload) in operations.items():
                for side in sides:
                    run = wrk(side.server.port, method, path, count.headers(method, path, payload), payload,
                              args.duration, args.connections)
                    side.runs.setdefault(name, []).append(run)
        for side in sides:
            side.after_load = side.server.memory()
    finally:
        for side in sides:
            side.server.stop()
    return _compare_report(sides, args)


def _compare_report(sides: list[Side], args: argparse.Namespace) -> list[str]:
    mock, prism, uncounted = sides
    rows: list[tuple[str, float, float, str]] = []
    for op in ("list", "create"):
        for metric, unit, get in (("req/s", "", lambda r: r.rps), ("p50", " ms", lambda r: r.p50_ms),
                                  ("p99", " ms", lambda r: r.p99_ms)):
            rows.append((f"{op} {metric}", statistics.median(map(get, mock.runs[op])),
                         statistics.median(map(get, prism.runs[op])), unit))
    rows.append(("start to first 200", statistics.median(mock.starts), statistics.median(prism.starts), " s"))
    rows.append(("idle RSS", statistics.median(m.rss_mib for m in mock.idle),
                 statistics.median(m.rss_mib for m in prism.idle), " MiB"))
    rows.append(("idle PSS", statistics.median(m.pss_mib for m in mock.idle),
                 statistics.median(m.pss_mib for m in prism.idle), " MiB"))
    rows.append(("after-load RSS", mock.after_load.rss_mib, prism.after_load.rss_mib, " MiB"))
    rows.append(("after-load PSS", mock.after_load.pss_mib, prism.after_load.pss_mib, " MiB"))

    lines = [f"## ledger-mock vs Prism {PRISM_VERSION}: {args.reps} repetitions of {args.duration:g} s, "
             f"{args.connections} connections, after {args.warmup:g} s warm-up (medians)", "",
             "| metric | ledger-mock | Prism | ratio | target | met |", "|---|---|---|---|---|---|"]
    for metric, ours, theirs, unit in rows:
        ratio = ours / theirs if theirs else float("inf")
        target = TARGETS.get(metric)
        met = target is not None and (ratio >= target[1] if target[0] == ">=" else ratio <= target[1])
        if target is not None:
            verdict(f"{metric}, ledger-mock / Prism", f"{ratio:.2f}", f"{target[0]} {target[1]}", met)
        lines.append(f"| {metric} | {ours:.3g}{unit} | {theirs:.3g}{unit} | {ratio:.2f} | "
                     f"{'' if target is None else f'{target[0]} {target[1]}'} | "
                     f"{'' if target is None else 'yes' if met else 'NO'} |")
    lines += ["", "Client coverage counting (issue 19): throughput with it on, over the same server with it off "
              "(target >= 0.95):", "", "| metric | on | off | ratio | met |", "|---|---|---|---|---|"]
    for op in ("list", "create"):
        on, off = (statistics.median(r.rps for r in side.runs[op]) for side in (mock, uncounted))
        lines.append(f"| {op} req/s | {on:.0f} | {off:.0f} | {on / off:.2f} | {'yes' if on / off >= 0.95 else 'NO'} |")
    lines += ["", "each run (req/s, p50 ms, p99 ms, errors):"]
    for side in sides:
        for op, runs in side.runs.items():
            lines.append(f"  {side.name:11} {op:6} " + "  ".join(
                f"{r.rps:.0f}/{r.p50_ms:.2f}/{r.p99_ms:.2f}/{r.errors}" for r in runs))
        lines.append(f"  {side.name:11} starts " + " ".join(f"{s:.3f}" for s in side.starts))
    if any(r.errors for side in sides for runs in side.runs.values() for r in runs):
        lines.append("WARNING: some runs had non-2xx answers or socket errors (last column)")
    return lines


# -- what counting client coverage costs ------------------------------------------------------------------

def coverage_cost(args: argparse.Namespace) -> list[str]:
    """Client coverage on against off, in one process, alternating in short rounds (issue 19).

    Between servers, wrk's throughput on this shared machine moves by a third between identical rounds, far more
    than the few percent in question; two apps in one process, interleaved round by round and compared by their
    medians, see the same machine at the same moments."""
    from werkzeug.test import Client

    from mock_server.app import create_app
    from mock_server.config import Config
    from mock_server.server import freeze_survivors

    count = Count()
    clients = {on: Client(create_app(Config(providers=("count",), root_provider="count", rate_limiting=False,
                                            coverage=on))) for on in (True, False)}
    body = json.dumps(ENTRY, separators=(",", ":")).encode()
    requests = {"list": ("GET", LIST_PATH, b""), "create": ("POST", CREATE_PATH, body)}
    rounds, per_round = max(24, 8 * args.reps), max(50, int(200 * args.duration / 10))
    timings: dict[tuple[str, bool], list[float]] = {}
    # As `serve` runs them: full collections do not scan the books again. Without it, a collection scanning both
    # apps' books landed in whichever round ran then, and the ratio moved by a third from one run to the next.
    gc.callbacks.append(freeze_survivors)
    try:
        for number in range(rounds):
            for name, (method, path, payload) in requests.items():
                # Each side goes first every other round; time is this thread's CPU, not the neighbours' on a
                # shared machine.
                for on, client in sorted(clients.items(), reverse=number % 2 == 1):
                    headers = count.headers(method, path, payload)  # fresh for each round: valid for +-300 s
                    started = time.thread_time()
                    for _ in range(per_round):
                        response = client.open(path, method=method, data=payload, headers=headers,
                                               content_type="application/json")
                        assert response.status_code < 300, response.get_data()[:300]
                    timings.setdefault((name, on), []).append((time.thread_time() - started) / per_round * 1e6)
    finally:
        gc.callbacks.remove(freeze_survivors)
    lines = [f"## Client coverage counting: {rounds} alternating rounds of {per_round} requests in one process "
             "(median us of CPU per request)", "", "| request | coverage on | off | on / off | target | met |",
             "|---|---|---|---|---|---|"]
    for name in requests:
        on, off = (statistics.median(timings[(name, flag)]) for flag in (True, False))
        lines.append(f"| {name} | {on:.0f} us | {off:.0f} us | {on / off:.3f} | <= 1.05 | "
                     f"{'yes' if on / off <= 1.05 else 'NO'} |")
    return lines


# -- proxy ---------------------------------------------------------------------------------------------------

def proxy_cost(args: argparse.Namespace, workdir: Path) -> list[str]:
    """What `ledger-mock proxy` adds to a request (issue 18): the same signed requests to a local `ledger-mock
    serve`, directly and through the proxy, one kept-alive connection each, alternating in short rounds; the
    median of each side's per-request times, and their difference."""
    count = Count()
    target = Server("ledger-mock", _serving("count"), workdir / "proxy-target.log")
    proxy = Server("proxy", lambda port: [
        sys.executable, "-m", "mock_server.cli", "proxy", "--provider", "count", "--port", str(port),
        "--target", f"http://{HOST}:{target.port}/count"], workdir / "proxy.log")
    body = json.dumps(ENTRY, separators=(",", ":")).encode()
    requests = {"list": ("GET", LIST_PATH, b""), "create": ("POST", CREATE_PATH, body)}
    rounds, per_round = max(5, 4 * args.reps), max(50, int(200 * args.duration / 10))
    times: dict[tuple[str, str], list[float]] = {}
    try:
        target.start(lambda port: call(port, "GET", "/_mock/clock")[0] == 200)
        proxy.start(lambda port: call(port, "GET", "/_proxy/journal")[0] == 200)
        sides = {"direct": (target.port, "/count"), "proxy": (proxy.port, "")}
        connections = {side: http.client.HTTPConnection(HOST, port, timeout=30) for side, (port, _) in sides.items()}
        for round_ in range(rounds + 1):  # the first round warms up, unrecorded
            for name, (method, path, payload) in requests.items():
                headers = count.headers(method, path, payload)  # fresh each round: valid for +-300 s
                for side, (_, prefix) in sides.items():
                    for _ in range(per_round):
                        started = time.perf_counter()
                        status, _answer = call(0, method, prefix + path, payload, headers, connections[side])
                        elapsed = time.perf_counter() - started
                        assert status < 300, (side, status, _answer)
                        if round_:
                            times.setdefault((name, side), []).append(elapsed * 1000)
    finally:
        proxy.stop()
        target.stop()
    lines = [f"## Proxy: added time per request, {rounds} alternating rounds of {per_round} sequential requests "
             "(median ms per request, one connection each)", "",
             "| request | direct | through the proxy | added |", "|---|---|---|---|"]
    for name in requests:
        direct, proxied = (statistics.median(times[(name, side)]) for side in ("direct", "proxy"))
        lines.append(f"| {name} | {direct:.2f} ms | {proxied:.2f} ms | {proxied - direct:.2f} ms |")
    return lines


# -- scaling -------------------------------------------------------------------------------------------------

def scaling(args: argparse.Namespace, workdir: Path) -> list[str]:
    """One server per provider, so each one's memory is its own tenant's and the four grow in parallel; then,
    at each size, every query of issue 20 item 1 (`Tenant.QUERIES`) for `--duration` seconds.

    An indexed query's target is its p50 at the largest size over its p50 at the smallest (<= 2); a query no
    index can answer scans, and its target is the p50 it gains per entry the book grows by (<= 1 us).

    The COUNT list is also timed on a reference server kept at the smallest size, in short runs alternating
    with the grown one: sizes are minutes apart, and on a shared machine the same page's p50 moved by half
    between two such moments, so the size ratio is taken against the reference timed alongside."""
    ensure_tools(need_prism=False)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    providers = ("count", "intacct", "codat", "aden")
    servers = {name: Server(f"ledger-mock {name}", _serving(name.split("-")[0]), workdir / f"scaling-{name}.log")
               for name in (*providers, "count-reference", "count-transactions")}
    lines = [f"## ledger-mock as one tenant grows: {args.duration:g} s of 1 connection per query (wrk)", "",
             "| entries | COUNT list page p50 / p99 | same page, reference tenant of "
             f"{sizes[0]:,}, alongside | RSS / PSS: COUNT, Intacct, Codat, Aden server | grown in |",
             "|---|---|---|---|---|"]
    p50: dict[str, list[float]] = {}
    errors: list[str] = []
    first: Run | None = None
    try:
        for server in servers.values():
            server.start(lambda port: call(port, "GET", "/_mock/tenants")[0] == 200)
        reference = CountTenant(servers["count-reference"].port)
        reference.grow(sizes[0])
        tenants = [CountTenant(servers["count"].port), CountTransactions(servers["count-transactions"].port),
                   IntacctTenant(servers["intacct"].port), CodatTenant(servers["codat"].port),
                   AdenTenant(servers["aden"].port)]
        for size in sizes:
            print(f"growing each tenant to {size:,} entries...", flush=True)
            started = time.perf_counter()
            with ThreadPoolExecutor(len(tenants)) as pool:
                list(pool.map(lambda tenant: tenant.grow(size), tenants))
            grown = time.perf_counter() - started
            count_run, reference_run = _alongside(tenants[0], reference, args.duration)
            page = wrk(servers["count"].port, "GET", INSPECTOR_PAGE, {}, b"", max(1.0, args.duration / 3), 1)
            p50.setdefault("inspector", []).append(page.p50_ms)
            for tenant in tenants:
                for name, (method, path, body, _) in tenant.QUERIES.items():
                    timed = (tenant.port, method, tenant.PREFIX + path, tenant.headers(method, path, body), body)
                    wrk(*timed, 1, 1)  # unrecorded: the first run after the growth ran slow for no query's fault
                    run = wrk(*timed, args.duration, 1)
                    p50.setdefault(name, []).append(run.p50_ms)
                    if run.errors:
                        errors.append(f"WARNING: {run.errors} errors from {name} at {size:,}")
            first = first or count_run
            memory = {name: servers[name].memory() for name in providers}
            lines.append(f"| {size:,} | {count_run.p50_ms:.2f} / {count_run.p99_ms:.2f} ms | "
                         f"{reference_run.p50_ms:.2f} ms | "
                         + ", ".join(f"{m.rss_mib:.0f} / {m.pss_mib:.0f}" for m in memory.values())
                         + f" MiB | {grown:.0f} s |")
        grown_by = sizes[-1] - sizes[0]
        lines += ["", "| query (small page) | " + " | ".join(f"p50 at {size:,}" for size in sizes) + " | target |",
                  "|---|" + "---|" * len(sizes) + "---|"]
        verdicts = []
        for tenant in tenants:
            for name, (_, _, _, scans) in tenant.QUERIES.items():
                times = p50[name]
                if scans:
                    per_entry = (times[-1] - times[0]) * 1000 / grown_by
                    verdicts.append(verdict(f"{name}: p50 gained per entry", f"{per_entry:.2f} us", "<= 1 us",
                                            per_entry <= 1))
                else:
                    ratio = times[-1] / times[0]
                    verdicts.append(verdict(f"{name}: p50 at {sizes[-1]:,} / at {sizes[0]:,} entries",
                                            f"{ratio:.2f}", "<= 2", ratio <= 2))
                lines.append(f"| {name} | " + " | ".join(f"{t:.2f} ms" for t in times)
                             + f" | {'<= 1 us per entry' if scans else '<= 2x'} |")
        ratio = count_run.p50_ms / reference_run.p50_ms
        lines += ["", *errors, *(f"- {line}" for line in verdicts),
                  "- " + verdict(f"COUNT list page p50 at {sizes[-1]:,} / at {sizes[0]:,} entries (the reference "
                                 f"timed alongside)", f"{ratio:.2f}", "<= 1.5", ratio <= 1.5)
                  + f"; {count_run.p50_ms / first.p50_ms:.2f} against its own first timing",
                  "- " + verdict(f"inspector tenant page p50 at {sizes[-1]:,} entries (COUNT)",
                                 f"{p50['inspector'][-1]:.1f} ms", "<= 150 ms", p50["inspector"][-1] <= 150),
                  *("- " + verdict(f"{name} server RSS with {sizes[-1]:,} two-line entries",
                                   f"{memory[name].rss_mib:.0f} MiB", "<= 250 MiB", memory[name].rss_mib <= 250)
                    for name in providers)]
    finally:
        for server in servers.values():
            server.stop()
    return lines


def _alongside(grown: "CountTenant", reference: "CountTenant", seconds: float, rounds: int = 3) -> tuple[Run, Run]:
    """The list on both tenants in alternating runs; each side's run with the median p50."""
    runs: tuple[list[Run], list[Run]] = ([], [])
    for _ in range(rounds):
        for tenant, kept in zip((grown, reference), runs):
            kept.append(tenant.query_run(seconds / rounds))
    return tuple(sorted(kept, key=lambda run: run.p50_ms)[len(kept) // 2] for kept in runs)  # type: ignore


def _serving(provider: str) -> Callable[[int], list[str]]:
    return lambda port: [sys.executable, "-m", "mock_server.cli", "serve", "--port", str(port), "--providers",
                         provider, "--no-rate-limit", "--log-level", "warning"]


def _day(n: int) -> str:
    return f"{2025 + n % 2}-{1 + n % 10:02d}-{1 + n % 28:02d}"  # open periods in every provider's fixtures


def _amount(n: int) -> str:
    return f"{1 + n % 9000}.{n % 100:02d}"


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _get(path: str, scans: bool = False) -> tuple[str, str, bytes, bool]:
    return "GET", path, b"", scans


class _CountBulk:
    """A COUNT tenant grown through one of its bulk endpoints, 100 rows a request (COUNT's cap)."""

    PREFIX = "/count"
    BULK = ""  # the bulk endpoint, under PREFIX
    ROWS = ""  # the request's list of rows

    def __init__(self, port: int, tenant: dict[str, str] | None = None):
        self.port, self.count, self.have = port, Count(tenant), 0

    def row(self, n: int) -> dict:
        raise NotImplementedError

    def headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        return self.count.headers(method, path, body)

    def grow(self, size: int) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        while self.have < size:
            rows = [self.row(n) for n in range(self.have, min(size, self.have + 100))]
            body = _json({self.ROWS: rows})
            status, answer = call(self.port, "POST", self.PREFIX + self.BULK, body,
                                  self.headers("POST", self.BULK, body), conn)
            if status >= 300 or answer["data"]["errorCount"]:
                raise RuntimeError(f"COUNT {self.BULK} answered {status}: {str(answer)[:300]}")
            self.have += len(rows)
        conn.close()


class CountTenant(_CountBulk):
    """Acme Coffee Roasters' journal entries. Its list page is timed against a reference tenant (`_alongside`);
    `QUERIES` are timed like every other tenant's. `tenant`: one POST /_mock/tenants made (its credentials),
    instead of the fixtures' Acme."""

    BULK, ROWS = "/partners/journal-entries/bulk", "journalEntries"
    QUERIES = {"COUNT journal-entry list, search (scans)": _get("/partners/journal-entries?search=entry+1&limit=25",
                                                                 scans=True)}

    def row(self, n: int) -> dict:
        return {"descriptionEntry": f"Scaling entry {n}", "date": _day(n), "refNumber": f"S-{n}",
                "lines": [{"accountUuid": RENT, "amountDebit": _amount(n)},
                          {"accountUuid": BANK, "amountCredit": _amount(n)}]}

    def query_run(self, seconds: float) -> Run:
        path = "/count/partners/journal-entries?page=3&limit=25"
        return wrk(self.port, "GET", path, self.count.headers("GET", path), b"", seconds, 1)


class CountTransactions(_CountBulk):
    """Acme Coffee Roasters' bank transactions, on a server of their own (the entries' keeps its memory)."""

    BULK, ROWS = "/partners/transactions/bulk", "transactions"
    QUERIES = {"COUNT transactions list": _get("/partners/transactions?page=3&limit=25"),
               "COUNT transactions list, one account and a month": _get(
                   f"/partners/transactions?accountUuid={BANK}&startDate=2025-03-01&endDate=2025-03-31&page=2"
                   "&limit=25"),
               "COUNT transactions list, search (scans)": _get("/partners/transactions?search=scaling+1&limit=25",
                                                               scans=True)}

    def row(self, n: int) -> dict:
        return {"accUuid": BANK, "amount": _amount(n), "postedDate": _day(n), "description": f"Scaling {n}"}


def _intacct_query(filters: list[dict], order_by: list[dict] | None = None, start: int = 1,
                   scans: bool = False) -> tuple[str, str, bytes, bool]:
    return "POST", "/services/core/query", _json(
        {"object": "general-ledger/journal-entry", "fields": ["key", "id", "postingDate", "state"],
         "filters": filters, **({"orderBy": order_by} if order_by else {}), "start": start, "size": 25}), scans


class IntacctTenant:
    """Company DEMO, grown one create at a time (Intacct has no bulk create); every fourth entry in journal EJ."""

    PREFIX = "/intacct/ia/api/v1"
    QUERIES = {
        "Intacct query, a month of postingDate, newest first": _intacct_query(
            [{"$between": {"postingDate": ["2025-03-01", "2025-03-31"]}}],
            [{"postingDate": "desc"}, {"key": "asc"}], start=26),
        "Intacct query, state": _intacct_query([{"$eq": {"state": "posted"}}], [{"postingDate": "desc"}], start=26),
        "Intacct query, journal": _intacct_query([{"$eq": {"glJournal.id": "EJ"}}], start=26),
        "Intacct query, orderBy postingDate": _intacct_query([], [{"postingDate": "asc"}], start=51),
        "Intacct journal-entry list (default order)": _get("/objects/general-ledger/journal-entry?start=51&size=25"),
        "Intacct query, text filter (scans)": _intacct_query(
            [{"$gte": {"postingDate": "2025-06-01"}}, {"$eq": {"state": "posted"}},
             {"$contains": {"description": "entry 1"}}], [{"postingDate": "desc"}, {"key": "asc"}], scans=True),
        # lines are no index's items: a month's entries are read from the date index and their lines filtered
        "Intacct journal-entry-line query, one account in a month (reads the month)": (
            "POST", "/services/core/query", _json(
            {"object": "general-ledger/journal-entry-line", "fields": ["key", "entryDate", "txnAmount"],
             "filters": [{"$between": {"entryDate": ["2025-03-01", "2025-03-31"]}}, {"$eq": {"glAccount.id": "6000"}}],
             "start": 26, "size": 25}), True),
    }

    def __init__(self, port: int):
        self.port, self.have = port, 0
        status, token = call(port, "POST", f"{self.PREFIX}/oauth2/token", {
            "grant_type": "client_credentials", "client_id": "mock-client", "client_secret": "mock-secret",
            "username": "admin@DEMO"})
        if status != 200:
            raise RuntimeError(f"Intacct token answered {status}: {token}")
        self.auth = {"Authorization": f"Bearer {token['access_token']}"}

    def headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        return self.auth

    def grow(self, size: int) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        for n in range(self.have, size):
            status, answer = call(self.port, "POST", f"{self.PREFIX}/objects/general-ledger/journal-entry", {
                "glJournal": {"id": "EJ" if n % 4 == 0 else "GJ"}, "postingDate": _day(n),
                "description": f"Scaling entry {n}",
                "lines": [{"txnType": "debit", "txnAmount": _amount(n), "glAccount": {"id": "6000"}},
                          {"txnType": "credit", "txnAmount": _amount(n), "glAccount": {"id": "1000"}}]},
                self.auth, conn)
            if status != 201:
                raise RuntimeError(f"Intacct create answered {status}: {str(answer)[:300]}")
        self.have = max(self.have, size)
        conn.close()


def _codat_list(query: str | None, order_by: str | None = None, page: int = 2,
                scans: bool = False) -> tuple[str, str, bytes, bool]:
    from urllib.parse import quote
    return _get(f"/data/journalEntries?page={page}&pageSize=25" + (f"&query={quote(query, safe='')}" if query else "")
                + (f"&orderBy={order_by}" if order_by else ""), scans)


class CodatTenant:
    """Acme Trading's Xero connection, grown one push at a time (pushes settle at once by default); every fourth
    entry in journal GJ."""

    PREFIX = "/codat/companies/{company}"
    QUERIES = {
        "Codat query, a week of postedOn": _codat_list("postedOn>=2025-03-01&&postedOn<2025-03-08"),
        "Codat query, metadata.isDeleted": _codat_list("metadata.isDeleted=false"),
        "Codat query, journalRef.id": _codat_list("journalRef.id=GJ"),
        "Codat orderBy -postedOn": _codat_list(None, "-postedOn"),
        "Codat journal-entry list (default order)": _codat_list(None, page=3),
        "Codat query, text filter (scans)": _codat_list("postedOn>=2025-06-01&&description~entry 1", "-postedOn",
                                                        scans=True),
    }

    def __init__(self, port: int):
        from mock_server.cli import provider_credentials
        creds = provider_credentials("codat", f"http://{HOST}", root=True)
        self.port, self.company, self.connection, self.have = port, creds["company_id"], creds["connection_id"], 0
        self.PREFIX = CodatTenant.PREFIX.format(company=self.company)
        self.auth = {"Authorization": creds["authorization"]}

    def headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        return self.auth

    def grow(self, size: int) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        path = f"{self.PREFIX}/connections/{self.connection}/push/journalEntries"
        for n in range(self.have, size):
            amount = float(_amount(n))  # a JSON number, as Codat wants; two decimals print exactly
            status, answer = call(self.port, "POST", path, {
                "description": f"Scaling entry {n}", "postedOn": _day(n) + "T00:00:00",
                **({"journalRef": {"id": "GJ"}} if n % 4 == 0 else {}),
                "journalLines": [{"netAmount": amount, "accountRef": {"id": "6300"}},
                                 {"netAmount": -amount, "accountRef": {"id": "1000"}}]}, self.auth, conn)
            if status != 200:
                raise RuntimeError(f"Codat push answered {status}: {str(answer)[:300]}")
        self.have = max(self.have, size)
        conn.close()


ADEN_YEAR = time.gmtime().tm_year  # the fixtures open a period for each month of the clock's year and the next


class AdenTenant:
    """The first fixture entity, grown one create at a time, dated this year and the next; every fourth entry
    submitted for approval."""

    PREFIX = "/aden/service/general-ledger"
    QUERIES = {
        "Aden journal-entry list, status and a month": _get(
            f"/journal-entries?status=Pending+Approval&start_date={ADEN_YEAR}-03-01&end_date={ADEN_YEAR}-03-31"
            "&offset=20&limit=20"),
        "Aden journal-entry list (default order)": _get("/journal-entries?offset=40&limit=20"),
        "Aden journal-entry list, entry_type (scans)": _get("/journal-entries?entry_type=Closing&limit=20",
                                                            scans=True),
    }

    def __init__(self, port: int):
        from mock_server.cli import provider_credentials
        self.port, self.have = port, 0
        self.auth = {"Authorization": provider_credentials("aden", f"http://{HOST}", root=True)["authorization"]}

    def headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        return self.auth

    def grow(self, size: int) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        for n in range(self.have, size):
            amount = float(_amount(n))
            status, answer = call(self.port, "POST", f"{self.PREFIX}/journal-entries", {
                "journal_entry_id": f"S-{n}", "tran_date": f"{ADEN_YEAR + n % 2}{_day(n)[4:]}",
                "memo": f"Scaling entry {n}",
                "lines": [{"account_id": "6300", "debit": amount, "credit": 0},
                          {"account_id": "1010", "debit": 0, "credit": amount}]}, self.auth, conn)
            if status == 201 and n % 4 == 0:
                status, answer = call(self.port, "POST", f"{self.PREFIX}/journal-entries/S-{n}/submit-for-approval",
                                      {}, self.auth, conn)
                status = 201 if status == 200 else status
            if status != 201:
                raise RuntimeError(f"Aden create answered {status}: {str(answer)[:300]}")
        self.have = max(self.have, size)
        conn.close()


# -- main ----------------------------------------------------------------------------------------------------

# -- restart -------------------------------------------------------------------------------------------------

def restart_cost(args: argparse.Namespace, workdir: Path) -> list[str]:
    """Issue 20 item 2: a COUNT server with --state-file takes `--changes` acknowledged creates (wrk, 4
    connections), checkpointing every tenth of them; it is killed (-9) and started again on the same file, from
    its last checkpoint plus the log after it, and once more replaying the whole log (--checkpoint-every 0).
    The fork that starts each checkpoint is the only time requests wait for it: the server logs each pause.
    The state file is on /dev/shm when there is one, so the run measures the mock rather than this disk's fsync."""
    ensure_tools(need_prism=False)
    count, changes = Count(), args.changes
    place = Path("/dev/shm") if Path("/dev/shm").is_dir() else workdir
    state = Path(tempfile.mkdtemp(prefix="ledger-mock-restart-", dir=place))
    log = workdir / "restart.log"

    def serving(every: int) -> Callable[[int], list[str]]:
        return lambda port: [*_serving("count")(port)[:-2], "--log-level", "info", "--state-file",
                             str(state / "state.log"), "--checkpoint-every", str(every)]

    body = json.dumps(ENTRY).encode()
    listing = "/count/partners/journal-entries?page=1&limit=1"

    def ready(port: int) -> bool:
        return call(port, "GET", listing, headers=count.headers("GET", "/partners/journal-entries?page=1&limit=1"))[
            0] == 200

    server = Server("ledger-mock", serving(max(1, changes // 10)), log)
    lines = [f"## Restarts after {changes:,} acknowledged changes (--state-file, checkpoint every "
             f"{max(1, changes // 10):,})", ""]
    try:
        server.start(ready)
        written, worst_ms = 0, 0.0
        while written < changes:
            run = wrk(server.port, "POST", "/count" + CREATE_PATH, count.headers("POST", CREATE_PATH, body), body,
                      min(20.0, max(1.0, (changes - written) / 1500)), 4)
            worst_ms = max(worst_ms, run.p99_ms)
            written = sum(1 for _ in (state / "state.log").open("rb")) - 1
        # The running server alone: a checkpoint's child shares its pages, and the group's RSS counts them twice.
        while (state / "state.log.checkpoint.new").exists() or any(_alive(pid) for pid in server._group()
                                                                     if pid != server.process.pid):
            time.sleep(0.05)
        running = server.memory()
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
        pauses = [float(p) for p in re.findall(r"changes paused ([\d.]+) ms for the fork", log.read_text())]
        resumed = Server("ledger-mock", serving(max(1, changes // 10)), log)
        resumed_s = resumed.start(ready, timeout=600)
        after = resumed.memory()
        resumed.stop()
        replayed = Server("ledger-mock", serving(0), log)
        replayed_s = replayed.start(ready, timeout=1200)
        replayed.stop()
    finally:
        server.stop()
        shutil.rmtree(state, ignore_errors=True)
    lines += [f"- {written:,} changes written; checkpoints taken: {len(pauses)}; p99 of the writes meanwhile: "
              f"{worst_ms:.1f} ms (worst run)",
              "- " + verdict("restart from a checkpoint, to the first answer", f"{resumed_s:.2f} s", "<= 5 s",
                             resumed_s <= 5),
              "- " + verdict("RSS after that restart / before the kill",
                             f"{after.rss_mib:.0f} / {running.rss_mib:.0f} MiB = {after.rss_mib / running.rss_mib:.2f}",
                             "<= 2", after.rss_mib <= 2 * running.rss_mib),
              "- " + verdict("longest pause of requests for a checkpoint (the fork)",
                             f"{max(pauses, default=0):.1f} ms", "<= 50 ms", bool(pauses) and max(pauses) <= 50),
              f"- the same restart replaying the whole log instead: {replayed_s:.2f} s"]
    return lines


def _alive(pid: int) -> bool:
    """Whether the process runs (a child that is done stays a zombie until its parent reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# -- tenants -------------------------------------------------------------------------------------------------

def tenant_cost(args: argparse.Namespace, workdir: Path) -> list[str]:
    """Issue 20 item 4: what the pytest plugin pays for isolation. POST /_mock/tenants (what
    `ledger_mock_tenant` calls) p50 per provider over `--reps` x 20 tenants, on one server serving all four;
    then one COUNT tenant grown to `--reset-size` entries and reset (POST /_mock/reset with its tenant)."""
    server = Server("ledger-mock", lambda port: [sys.executable, "-m", "mock_server.cli", "serve", "--port", str(port),
                                                 "--no-rate-limit", "--log-level", "warning",
                                                 "--max-tenants", "100000"], workdir / "tenants.log")
    lines = ["## Tenants for tests (the pytest plugin)", ""]
    try:
        server.start(lambda port: call(port, "GET", "/_mock/tenants")[0] == 200)
        conn = http.client.HTTPConnection(HOST, server.port, timeout=60)
        for provider in ("count", "aden", "codat", "intacct"):
            times = []
            for n in range(20 * args.reps):
                started = time.perf_counter()
                status, _ = call(server.port, "POST", "/_mock/tenants", {"provider": provider}, conn=conn)
                times.append((time.perf_counter() - started) * 1000)
                assert status == 201, status
            p50 = statistics.median(times)
            lines.append("- " + verdict(f"fresh {provider} tenant p50", f"{p50:.2f} ms", "<= 5 ms", p50 <= 5))
        status, tenant = call(server.port, "POST", "/_mock/tenants", {"provider": "count", "name": "grown"}, conn=conn)
        grown = CountTenant(server.port, tenant)
        grown.grow(args.reset_size)
        started = time.perf_counter()
        status, _ = call(server.port, "POST", "/_mock/reset", {"provider": "count", "tenant": tenant["tenant"]},
                         conn=conn)
        reset_ms = (time.perf_counter() - started) * 1000
        assert status == 200, status
        lines.append("- " + verdict(f"reset of one tenant with {args.reset_size:,} entries", f"{reset_ms:.0f} ms",
                                    "<= 100 ms", reset_ms <= 100))
    finally:
        server.stop()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=["compare", "coverage", "proxy", "scaling", "restart", "tenants", "all",
                                         "smoke"], nargs="?",
                        default="all")
    parser.add_argument("--duration", type=float, default=10, help="seconds per measured load run")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of unrecorded load before measuring")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (starts and load runs)")
    parser.add_argument("--connections", type=int, default=10, help="concurrent connections of the compare runs")
    parser.add_argument("--sizes", default="1000,10000,100000", help="tenant sizes for scaling")
    parser.add_argument("--changes", type=int, default=100_000, help="acknowledged changes before the restart")
    parser.add_argument("--reset-size", type=int, default=10_000, help="entries of the tenant that is reset")
    parser.add_argument("--out", type=Path, help="also write the report (markdown) here")
    args = parser.parse_args()
    if args.part == "smoke":
        args.duration, args.warmup, args.reps, args.sizes, args.changes, args.reset_size = 1, 1, 1, "50,150", 300, 200
    with tempfile.TemporaryDirectory(prefix="ledger-mock-bench-") as tmp:
        report = [f"machine: {os.cpu_count()} cores, {sys.platform}, Python {sys.version.split()[0]}", ""]
        parts = {"compare": lambda: compare(args, Path(tmp)), "coverage": lambda: coverage_cost(args),
                 "proxy": lambda: proxy_cost(args, Path(tmp)), "scaling": lambda: scaling(args, Path(tmp)),
                 "restart": lambda: restart_cost(args, Path(tmp)), "tenants": lambda: tenant_cost(args, Path(tmp))}
        for name, part in parts.items():
            if args.part in (name, "all", "smoke"):
                report += part() + [""]
                print("\n".join(report[-40:]), flush=True)  # as it comes: a later part failing loses nothing
        report += verdict_table()
        text = "\n".join(report)
        print("\n" + text)
        if args.out:
            args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
