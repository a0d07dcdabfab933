"""ledger-mock against Stoplight Prism on this machine, side by side, and ledger-mock as a tenant grows.

    make bench                                    # both parts with the defaults below (about 8 minutes)
    .venv/bin/python bench/bench.py compare --duration 10 --reps 3
    .venv/bin/python bench/bench.py scaling --sizes 1000,10000,100000
    .venv/bin/python bench/bench.py coverage --reps 6   # what counting client coverage costs, on against off
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
CREATE_PATH = "/partners/journal-entries"

TARGETS = {  # ledger-mock / Prism, from issue 8
    "list req/s": (">=", 1.5), "create req/s": (">=", 1.2), "list p99": ("<=", 1.0), "create p99": ("<=", 1.0),
    "start to first 200": ("<=", 0.2), "idle PSS": ("<=", 0.5), "idle RSS": ("<=", 0.5),
}


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

    def __init__(self) -> None:
        from mock_server.cli import provider_credentials
        self.creds = provider_credentials("count", f"http://{HOST}", root=True)

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
        verdict = "" if target is None else ("yes" if (ratio >= target[1] if target[0] == ">=" else
                                                       ratio <= target[1]) else "NO")
        lines.append(f"| {metric} | {ours:.3g}{unit} | {theirs:.3g}{unit} | {ratio:.2f} | "
                     f"{'' if target is None else f'{target[0]} {target[1]}'} | {verdict} |")
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

    count = Count()
    clients = {on: Client(create_app(Config(providers=("count",), root_provider="count", rate_limiting=False,
                                            coverage=on))) for on in (True, False)}
    body = json.dumps(ENTRY, separators=(",", ":")).encode()
    requests = {"list": ("GET", LIST_PATH, b""), "create": ("POST", CREATE_PATH, body)}
    rounds, per_round = max(5, 4 * args.reps), max(50, int(200 * args.duration / 10))
    timings: dict[tuple[str, bool], list[float]] = {}
    for _ in range(rounds):
        for name, (method, path, payload) in requests.items():
            for on, client in clients.items():
                headers = count.headers(method, path, payload)  # fresh for each round: valid for +-300 s
                started = time.perf_counter()
                for _ in range(per_round):
                    response = client.open(path, method=method, data=payload, headers=headers,
                                           content_type="application/json")
                    assert response.status_code < 300, response.get_data()[:300]
                timings.setdefault((name, on), []).append((time.perf_counter() - started) / per_round * 1e6)
    lines = [f"## Client coverage counting: {rounds} alternating rounds of {per_round} requests in one process "
             "(median us per request)", "", "| request | coverage on | off | on / off | target | met |",
             "|---|---|---|---|---|---|"]
    for name in requests:
        on, off = (statistics.median(timings[(name, flag)]) for flag in (True, False))
        lines.append(f"| {name} | {on:.0f} us | {off:.0f} us | {on / off:.3f} | <= 1.05 | "
                     f"{'yes' if on / off <= 1.05 else 'NO'} |")
    return lines


# -- scaling -------------------------------------------------------------------------------------------------

def scaling(args: argparse.Namespace, workdir: Path) -> list[str]:
    """One server per provider, so each one's memory is its own tenant's and the three grow in parallel.

    The COUNT list is also timed on a reference server kept at the smallest size, in short runs alternating
    with the grown one: sizes are minutes apart, and on a shared machine the same page's p50 moved by half
    between two such moments, so the size ratio is taken against the reference timed alongside."""
    ensure_tools(need_prism=False)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    servers = {name: Server(f"ledger-mock {name}", _serving(name.split("-")[0]), workdir / f"scaling-{name}.log")
               for name in ("count", "intacct", "codat", "count-reference")}
    lines = [f"## ledger-mock as one tenant grows: {args.duration:g} s of 1 connection per query (wrk)", "",
             "| entries | COUNT list page p50 / p99 | same page, reference tenant of "
             f"{sizes[0]:,}, alongside | Intacct query p50 / p99 | Codat query p50 / p99 | "
             "Intacct / Codat date-range query p50 | RSS / PSS: COUNT, Intacct, Codat server | grown in |",
             "|---|---|---|---|---|---|---|---|"]
    indexed: list[tuple[Run, Run]] = []  # (Intacct, Codat) per size
    scanned: list[tuple[Run, Run]] = []
    first: Run | None = None
    try:
        for server in servers.values():
            server.start(lambda port: call(port, "GET", "/_mock/tenants")[0] == 200)
        reference = CountTenant(servers["count-reference"].port)
        reference.grow(sizes[0])
        tenants = [CountTenant(servers["count"].port), IntacctTenant(servers["intacct"].port),
                   CodatTenant(servers["codat"].port)]
        for size in sizes:
            print(f"growing each tenant to {size:,} entries...", flush=True)
            started = time.perf_counter()
            with ThreadPoolExecutor(len(tenants)) as pool:
                list(pool.map(lambda tenant: tenant.grow(size), tenants))
            grown = time.perf_counter() - started
            count_run, reference_run = _alongside(tenants[0], reference, args.duration)
            intacct_run, codat_run = (tenant.query_run(args.duration) for tenant in tenants[1:])
            scanned.append((intacct_run, codat_run))
            indexed.append(tuple(tenant.query_run(args.duration, indexed=True) for tenant in tenants[1:]))
            first = first or count_run
            memory = {name: servers[name].memory() for name in ("count", "intacct", "codat")}
            lines.append(f"| {size:,} | {count_run.p50_ms:.2f} / {count_run.p99_ms:.2f} ms | "
                         f"{reference_run.p50_ms:.2f} ms | "
                         f"{intacct_run.p50_ms:.2f} / {intacct_run.p99_ms:.2f} ms | "
                         f"{codat_run.p50_ms:.2f} / {codat_run.p99_ms:.2f} ms | "
                         f"{indexed[-1][0].p50_ms:.2f} / {indexed[-1][1].p50_ms:.2f} ms | "
                         + ", ".join(f"{m.rss_mib:.0f} / {m.pss_mib:.0f}" for m in memory.values())
                         + f" MiB | {grown:.0f} s |")
            if any(r.errors for r in (count_run, reference_run, intacct_run, codat_run)):
                lines.append(f"WARNING: errors at {size}: count {count_run.errors}, reference "
                             f"{reference_run.errors}, intacct {intacct_run.errors}, codat {codat_run.errors}")
        lines += ["", f"COUNT list page p50 at {sizes[-1]:,} / at {sizes[0]:,} entries: "
                      f"{count_run.p50_ms / reference_run.p50_ms:.2f} against the reference timed alongside "
                      f"(target <= 1.5); {count_run.p50_ms / first.p50_ms:.2f} against its own first timing",
                  f"COUNT server with {sizes[-1]:,} two-line entries: RSS {memory['count'].rss_mib:.0f} MiB, "
                  f"PSS {memory['count'].pss_mib:.0f} MiB (target <= 250 MiB)"]
        grown_by = sizes[-1] - sizes[0]
        for column, name in enumerate(("Intacct", "Codat")):
            ratio = indexed[-1][column].p50_ms / indexed[0][column].p50_ms
            per_entry = (scanned[-1][column].p50_ms - scanned[0][column].p50_ms) * 1000 / grown_by
            lines += [f"{name} date-range query (small page) p50 at {sizes[-1]:,} / at {sizes[0]:,} entries: "
                      f"{ratio:.2f} (target <= 2: {'met' if ratio <= 2 else 'NOT met'})",
                      f"{name} query that scans (a text filter over most of the book): {per_entry:.2f} us per entry "
                      f"(target <= 1: {'met' if per_entry <= 1 else 'NOT met'})"]
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


class CountTenant:
    """Acme Coffee Roasters, grown through the bulk endpoint (100 rows a request, COUNT's cap)."""

    def __init__(self, port: int):
        self.port, self.count, self.have = port, Count(), 0

    def grow(self, size: int) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        while self.have < size:
            rows = [{"descriptionEntry": f"Scaling entry {n}", "date": _day(n), "refNumber": f"S-{n}",
                     "lines": [{"accountUuid": RENT, "amountDebit": _amount(n)},
                               {"accountUuid": BANK, "amountCredit": _amount(n)}]}
                    for n in range(self.have, min(size, self.have + 100))]
            body = json.dumps({"journalEntries": rows}, separators=(",", ":")).encode()
            status, answer = call(self.port, "POST", "/count/partners/journal-entries/bulk", body,
                                  self.count.headers("POST", "/partners/journal-entries/bulk", body), conn)
            if status >= 300 or answer["data"]["errorCount"]:
                raise RuntimeError(f"COUNT bulk create answered {status}: {str(answer)[:300]}")
            self.have += len(rows)
        conn.close()

    def query_run(self, seconds: float) -> Run:
        path = "/count/partners/journal-entries?page=3&limit=25"
        return wrk(self.port, "GET", path, self.count.headers("GET", path), b"", seconds, 1)


class IntacctTenant:
    """Company DEMO, grown one create at a time (Intacct has no bulk create)."""

    PREFIX = "/intacct/ia/api/v1"

    def __init__(self, port: int):
        self.port, self.have = port, 0
        status, token = call(port, "POST", f"{self.PREFIX}/oauth2/token", {
            "grant_type": "client_credentials", "client_id": "mock-client", "client_secret": "mock-secret",
            "username": "admin@DEMO"})
        if status != 200:
            raise RuntimeError(f"Intacct token answered {status}: {token}")
        self.auth = {"Authorization": f"Bearer {token['access_token']}"}

    def grow(self, size: int) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        for n in range(self.have, size):
            status, answer = call(self.port, "POST", f"{self.PREFIX}/objects/general-ledger/journal-entry", {
                "glJournal": {"id": "GJ"}, "postingDate": _day(n), "description": f"Scaling entry {n}",
                "lines": [{"txnType": "debit", "txnAmount": _amount(n), "glAccount": {"id": "6000"}},
                          {"txnType": "credit", "txnAmount": _amount(n), "glAccount": {"id": "1000"}}]},
                self.auth, conn)
            if status != 201:
                raise RuntimeError(f"Intacct create answered {status}: {str(answer)[:300]}")
        self.have = max(self.have, size)
        conn.close()

    def query_run(self, seconds: float, indexed: bool = False) -> Run:
        """`indexed`: a month of posting dates, newest first, one small page (read from the date index)."""
        filters = [{"$between": {"postingDate": ["2025-03-01", "2025-03-31"]}}] if indexed else [
            {"$gte": {"postingDate": "2025-06-01"}}, {"$eq": {"state": "posted"}},
            {"$contains": {"description": "entry 1"}}]
        body = json.dumps({"object": "general-ledger/journal-entry", "fields": ["key", "id", "postingDate", "state"],
                           "filters": filters, "orderBy": [{"postingDate": "desc"}, {"key": "asc"}],
                           "size": 25}).encode()
        return wrk(self.port, "POST", f"{self.PREFIX}/services/core/query", self.auth, body, seconds, 1)


class CodatTenant:
    """Acme Trading's Xero connection, grown one push at a time (pushes settle at once by default)."""

    def __init__(self, port: int):
        from mock_server.cli import provider_credentials
        creds = provider_credentials("codat", f"http://{HOST}", root=True)
        self.port, self.company, self.connection, self.have = port, creds["company_id"], creds["connection_id"], 0
        self.auth = {"Authorization": creds["authorization"]}

    def grow(self, size: int) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        path = f"/codat/companies/{self.company}/connections/{self.connection}/push/journalEntries"
        for n in range(self.have, size):
            amount = float(_amount(n))  # a JSON number, as Codat wants; two decimals print exactly
            status, answer = call(self.port, "POST", path, {
                "description": f"Scaling entry {n}", "postedOn": _day(n) + "T00:00:00",
                "journalLines": [{"netAmount": amount, "accountRef": {"id": "6300"}},
                                 {"netAmount": -amount, "accountRef": {"id": "1000"}}]}, self.auth, conn)
            if status != 200:
                raise RuntimeError(f"Codat push answered {status}: {str(answer)[:300]}")
        self.have = max(self.have, size)
        conn.close()

    def query_run(self, seconds: float, indexed: bool = False) -> Run:
        """`indexed`: one week of posting dates, one small page (read from the date index)."""
        from urllib.parse import quote
        query = quote("postedOn>=2025-03-01&&postedOn<2025-03-08" if indexed
                      else "postedOn>=2025-06-01&&description~entry 1", safe="")
        path = (f"/codat/companies/{self.company}/data/journalEntries?page=2&pageSize=25&query={query}"
                + ("" if indexed else "&orderBy=-postedOn"))
        return wrk(self.port, "GET", path, self.auth, b"", seconds, 1)


# -- main ----------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=["compare", "coverage", "scaling", "all", "smoke"], nargs="?", default="all")
    parser.add_argument("--duration", type=float, default=10, help="seconds per measured load run")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of unrecorded load before measuring")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (starts and load runs)")
    parser.add_argument("--connections", type=int, default=10, help="concurrent connections of the compare runs")
    parser.add_argument("--sizes", default="1000,10000,100000", help="tenant sizes for scaling")
    parser.add_argument("--out", type=Path, help="also write the report (markdown) here")
    args = parser.parse_args()
    if args.part == "smoke":
        args.duration, args.warmup, args.reps, args.sizes = 1, 1, 1, "50,150"
    with tempfile.TemporaryDirectory(prefix="ledger-mock-bench-") as tmp:
        report = [f"machine: {os.cpu_count()} cores, {sys.platform}, Python {sys.version.split()[0]}", ""]
        if args.part in ("compare", "all", "smoke"):
            report += compare(args, Path(tmp)) + [""]
        if args.part in ("coverage", "all", "smoke"):
            report += coverage_cost(args) + [""]
        if args.part in ("scaling", "all", "smoke"):
            report += scaling(args, Path(tmp))
        text = "\n".join(report)
        print("\n" + text)
        if args.out:
            args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
