"""`ledger-mock proxy`: a client's own traffic, checked against our spec on its way to the provider.

    ledger-mock proxy --provider count --target https://dev-api.getcount.com --port 8081 --report drift.md

A local server that sends every request on to the target as it came (method, path below the target's base URL,
query, headers but the hop-by-hop ones, body) and hands back the target's answer as it came. Only the base URL
differs, so a COUNT signature, which covers the path after `/partners`, still verifies. Each exchange is judged
by the pieces the mock and `contract` already judge with: the routes and request validators the mock compiles
from the spec (mock_server.routes, mock_server.spec: is the client sending what the spec says?), the statuses and
response schemas the spec documents, and the provider plugin's checks (contract_tests.checks: its error envelope
on every 4xx, its money fields as 2-decimal amounts). A path the spec does not have is a finding too.

Findings go to a contract Run (`--report`, `--html-report`, `--junit-xml`, written when the proxy stops: on
SIGINT and SIGTERM too), to a journal of exchanges shown at /_proxy/ (JSON at /_proxy/journal), and with
`--drift-header` to an `X-Ledger-Mock-Drift` header on each answer: `0`, or the exchange's number of findings and
the first. Secrets are redacted wherever an exchange is kept or shown: headers, query parameters and body
fields with secret-looking names (mock_server.journal's rule), and their values wherever a finding quotes them.

Served by granian in this process, as `serve` is; requests go on through one urllib3 connection pool (what
`requests` pools with, without its per-request work), from a thread pool, so a slow target holds up no other
client. Each exchange is judged on the event loop just after its answer went back, or before with --drift-header.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable, Iterator
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit
from xml.sax.saxutils import escape, quoteattr

import orjson
import urllib3
from urllib3.util import SKIP_HEADER
from werkzeug.exceptions import MethodNotAllowed, NotFound

from mock_server import providers
from mock_server.auth.hmac_signing import URL_PATH_SAFE
from mock_server.bodies import read_json
from mock_server.errors import ApiError
from mock_server.journal import REDACTED, SECRET, Exchange, RequestJournal, redact_body, redact_query
from mock_server.routes import Routes
from mock_server.spec import Operation, Spec

from . import checks
from .findings import Run
from .plugins import plugin as load_plugin

# RFC 9110 section 7.6.1: these describe one connection and are never passed on (nor any a Connection header
# names); Host and Content-Length are the next hop's own.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                        "upgrade", "proxy-authenticate", "proxy-authorization"})
NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length"}
DRIFT_HEADER = "X-Ledger-Mock-Drift"
PAGE = "/_proxy"
REQUEST, UNKNOWN_PATH, STATUS, SCHEMA = ("request conforms to the spec", "unknown path", "status code documented",
                                         "response conforms to the schema")
Found = tuple[str, str]  # (check, message)
log = logging.getLogger("ledger_mock.proxy")


class Judge:
    """Every check of one provider's exchanges, compiled once from its spec and plugin."""

    def __init__(self, provider: str):
        plugin = load_plugin(provider)
        self.spec = Spec(providers.load(provider).spec_path(), validate_responses=True)
        self.routes = Routes()
        for operation in self.spec.operations.values():
            self.routes.add(operation.path, operation.method, operation.id, operation.greedy)
        self.rules = [checks.error_envelope(self.spec.document, plugin.ERROR_SCHEMA),
                      checks.money_fields(plugin.MONEY_FIELDS)]

    def operation(self, method: str, path: str) -> tuple[Operation | None, dict[str, str], list[Found]]:
        """The spec operation a request is for and its path parameters, or the finding that there is none."""
        try:
            operation_id, path_args = self.routes.match(path, method)
        except NotFound:
            return None, {}, [(UNKNOWN_PATH, f"{method} {path} is no operation of the spec")]
        except MethodNotAllowed as exc:
            return None, {}, [(UNKNOWN_PATH, f"{method} {path} is no operation of the spec; that path documents "
                                             f"{', '.join(exc.valid_methods or ())}")]
        return self.spec.operations[operation_id], path_args, []

    def request(self, operation: Operation, path_args: dict[str, str], query: dict[str, list[str]],
                headers: Any, body: bytes) -> Iterator[Found]:
        """What the mock would refuse as breaking the spec, each part judged (query, parameters, body)."""
        undeclared = operation.undeclared_query(query)
        if undeclared:
            yield from _refused(operation.refuse_undeclared_query, undeclared)
        yield from _refused(operation.read_parameters, path_args, query, headers)
        if operation.has_body:
            yield from _refused(_check_body, operation, body, headers.get("content-type"))

    def response(self, operation: Operation, status: int, content_type: str | None,
                 content: bytes | None) -> Iterator[Found]:
        """The status documented, the body as the schema says, and the plugin's rules. `content` None: a body
        in an encoding this proxy does not read, judged by its status alone."""
        body, readable = None, True
        if content and content.strip():
            try:
                body = orjson.loads(content)
            except orjson.JSONDecodeError:
                readable = False
        problem = operation.response_problem(status, body)
        if problem and problem.startswith("status "):  # spec.py's wording for a status the operation lacks
            yield STATUS, problem
        elif problem and content is not None:
            yield SCHEMA, problem if readable else (f"the {status} body is not JSON (Content-Type: "
                                                    f"{content_type or 'none'}), as the spec documents it")
        if content is None:
            return
        answer, case = SimpleNamespace(status_code=status, content=content), \
            SimpleNamespace(operation=SimpleNamespace(label=f"{operation.method} {operation.path}"))
        for rule in self.rules:
            try:
                rule(None, answer, case)
            except AssertionError as exc:
                yield rule.__name__.replace("_", " "), str(exc)


def _refused(check: Any, *args: Any) -> Iterator[Found]:
    try:
        check(*args)
    except ApiError as refusal:  # the first problem, then any others, each naming its field
        yield REQUEST, "\n".join([refusal.message, *(
            p.message if p.field is None or p.field in p.message else f"{p.location} `{p.field}`: {p.message}"
            for p in refusal.problems[1:])])


def _check_body(operation: Operation, raw: bytes, content_type: str | None) -> None:
    """The body as the mock's pipeline reads it before validating (pipeline._read_body), without a request
    object: required, of a documented media type, parsed, then the schema with undeclared fields refused."""
    if not raw.strip():
        if operation.body_required:
            raise ApiError(400, "validation_error", "A request body is required.")
        return
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in operation.body_media_types:
        raise ApiError(415, "unsupported_media_type", f"Content-Type {media_type or 'missing'} is not one the "
                                                      f"spec documents ({', '.join(operation.body_media_types)}).")
    if media_type == "application/x-www-form-urlencoded":
        body: Any = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    else:
        body = read_json(raw)
    operation.check_body(body, undeclared="refuse")


@dataclass
class _Sent:
    """A request as findings.Run reads one (method, url, headers, body), secrets already out."""
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class _Answered:
    request: _Sent
    status_code: int
    content: bytes


class Proxy:
    """The RSGI app: forwards, judges, records, answers."""

    def __init__(self, provider: str, target: str, *, drift_header: bool = False, threads: int = 16):
        split = urlsplit(target)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise ValueError(f"--target must be an http(s) URL such as https://dev-api.getcount.com, not {target!r}")
        self.provider, self.target, self.prefix = provider, target.rstrip("/"), split.path.rstrip("/")
        self.judge = Judge(provider)
        self.run = Run(provider, self.target)
        self.journal = RequestJournal()
        self.drift_header = drift_header
        self.pool = urllib3.connection_from_url(target, maxsize=threads, block=False, retries=False,
                                                timeout=urllib3.Timeout(connect=10, read=120))
        self.threads = ThreadPoolExecutor(threads, thread_name_prefix="ledger-mock-proxy")
        self.loop: asyncio.AbstractEventLoop | None = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.threads.shutdown(wait=False, cancel_futures=True)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":
            return
        if scope.path == PAGE or scope.path.startswith(PAGE + "/"):
            protocol.response_bytes(*self.page(scope.path[len(PAGE):].strip("/"), scope.query_string))
            return
        body = await protocol()
        started = time.perf_counter()
        # Granian hands over the path decoded: sent on as a URL parser encodes it, which is what COUNT's mock
        # rebuilds it as too (hmac_signing.wire_path), so what a client signed is what arrives.
        path = quote(scope.path.encode("utf-8", "surrogateescape"), safe=URL_PATH_SAFE)
        url = self.prefix + path + (f"?{scope.query_string}" if scope.query_string else "")
        headers = urllib3.HTTPHeaderDict()
        for name, value in scope.headers.items():
            headers.add(name, value)
        try:
            status, answer_headers, content = await self.loop.run_in_executor(
                self.threads, self.forward, scope.method, url, headers, body)
        except Exception as exc:  # unreachable, timed out, or a request urllib3 would not send
            log.warning("%s %s: the target did not answer: %s", scope.method, scope.path, exc)
            message = f"ledger-mock proxy: {self.target} did not answer ({type(exc).__name__}: {exc})"
            protocol.response_bytes(502, [("content-type", "application/json")],
                                    orjson.dumps({"error": "bad_gateway", "message": message}))
            return
        out = [(name, value) for name, value in answer_headers if name.lower() not in HOP_BY_HOP]
        exchange = (scope.method, scope.path, scope.query_string, headers, body, status, answer_headers, content,
                    url, started)
        if self.drift_header:
            out.append((DRIFT_HEADER, drift_summary(self.judged(exchange))))
            protocol.response_bytes(status, out, content)
        else:  # answered first, judged just after (nothing awaited between, so before the next request is read)
            protocol.response_bytes(status, out, content)
            self.judged(exchange)

    def judged(self, exchange: tuple) -> list[Found]:
        """`record`, which never stands between a client and its answer: a failure to judge is this proxy's bug,
        logged, not the target's drift."""
        try:
            return self.record(*exchange)
        except Exception:
            log.exception("could not judge %s %s", exchange[0], exchange[1])
            return []

    def forward(self, method: str, url: str, headers: urllib3.HTTPHeaderDict,
                body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        named = {part.strip().lower() for value in headers.get_all("connection") for part in value.split(",")}
        sent = urllib3.HTTPHeaderDict()
        for name, value in headers.iteritems():
            if name.lower() not in NOT_FORWARDED and name.lower() not in named:
                sent.add(name, value)
        for own in ("user-agent", "accept-encoding"):  # urllib3 adds its own unless told not to
            if own not in sent:
                sent[own] = SKIP_HEADER
        answer = self.pool.urlopen(method, url, body=body or None, headers=sent, redirect=False, retries=False,
                                   assert_same_host=False, decode_content=False)
        return answer.status, list(answer.headers.iteritems()), answer.data

    def record(self, method: str, path: str, query_string: str, headers: urllib3.HTTPHeaderDict, body: bytes,
               status: int, answer_headers: list[tuple[str, str]], content: bytes, url: str,
               started: float) -> list[Found]:
        """Judge one exchange, and keep it in the run and the journal; the findings, for the drift header."""
        operation, path_args, found = self.judge.operation(method, path)
        query = parse_qs(query_string, keep_blank_values=True)
        answered = {name.lower(): value for name, value in answer_headers}
        readable = _decoded(content, answered.get("content-encoding"))
        if operation is not None:
            found += [*self.judge.request(operation, path_args, query, headers, body),
                      *self.judge.response(operation, status, answered.get("content-type"), readable)]
        label = f"{operation.method} {operation.path}" if operation is not None else f"{method} {path}"
        self.run.requests += 1
        self.run.cases[label] += 1
        if found:
            secrets = _secret_values(headers.iteritems(), query, (body, headers.get("content-type")),
                                     (readable, answered.get("content-type")))
            found = [(check, _scrubbed(message, secrets)) for check, message in found]
            shown = _Answered(_Sent(method, self.target + _url_shown(url[len(self.prefix):]), _headers_shown(
                headers.iteritems()), _body_shown(body, headers.get("content-type"))), status,
                _body_shown(readable or b"", answered.get("content-type")))
            for check, message in found:
                self.run.add(label, check, message, shown)
        self.journal.record(
            {"at": datetime.now(UTC).isoformat(timespec="milliseconds"), "request_id": None,
             "provider": self.provider, "operation": operation.id if operation is not None else None,
             "label": label, "tenant": None, "method": method, "path": path, "query": query_string,
             "status": status, "duration_ms": round((time.perf_counter() - started) * 1000, 2),
             "findings": [f"{check}: {message}" for check, message in found]},
            Exchange.of(list(headers.iteritems()), body, headers.get("content-type")),
            Exchange.of(answer_headers, readable if readable is not None else b"", answered.get("content-type")))
        return found

    def page(self, part: str, query_string: str) -> tuple[int, list[tuple[str, str]], bytes]:
        """/_proxy/: the findings and the latest exchanges as HTML; /_proxy/journal: the exchanges as JSON."""
        asked = {k: v[-1] for k, v in parse_qs(query_string).items()}
        limit = int(asked["limit"]) if asked.get("limit", "").isdigit() else 50
        status = int(asked["status"]) if asked.get("status", "").isdigit() else None
        entries = self.journal.query(operation=asked.get("operation"), status=status, limit=min(limit, 500))
        if part == "journal":
            return 200, [("content-type", "application/json"), ("cache-control", "no-store")], \
                orjson.dumps(entries, default=str)
        if part:
            return 404, [("content-type", "text/plain")], f"No page {PAGE}/{part}: see {PAGE}/.\n".encode()
        from mock_server.ui import _env

        html = _env.from_string(PAGE_TEMPLATE).render(
            provider=self.provider, target=self.target, run=self.run, summary=self.run.summary().splitlines(),
            journal=entries, link=lambda *parts, **params: PAGE + "/")
        return 200, [("content-type", "text/html; charset=utf-8"), ("cache-control", "no-store")], html.encode()

    def write(self, report: Path | None, html_report: Path | None, junit_xml: Path | None) -> None:
        for path, text in ((report, self.run.markdown), (html_report, self.run.html),
                           (junit_xml, lambda: junit(self.run))):
            if path:
                Path(path).write_text(text(), encoding="utf-8")


def drift_summary(found: list[Found]) -> str:
    """The X-Ledger-Mock-Drift value: `0`, or `2; response conforms to the schema: response at ...` (the count,
    then the first finding's first line), printable ASCII, at most 300 characters."""
    if not found:
        return "0"
    check, message = found[0]
    text = f"{len(found)}; {check}: {message.splitlines()[0] if message else ''}"
    text = "".join(c if " " <= c <= "~" else "?" for c in text)
    return text if len(text) <= 300 else text[:297] + "..."


def _decoded(content: bytes, encoding: str | None) -> bytes | None:
    """The body as the client's library would read it; None for an encoding this proxy does not read."""
    encoding = (encoding or "identity").strip().lower()
    try:
        if encoding in ("identity", ""):
            return content
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompress(content, 16 + zlib.MAX_WBITS)
        if encoding == "deflate":
            return zlib.decompress(content)
    except zlib.error:
        return None
    return None


def _secret_values(headers: Iterable[tuple[str, str]], query: dict[str, list[str]],
                   *bodies: tuple[bytes | None, str | None]) -> set[str]:
    """The values that sit under secret-looking names in this exchange, so that a finding quoting one (a
    validator echoes what it refuses) has it replaced too."""
    found: set[str] = set()
    for name, value in headers:
        if SECRET.search(name):
            found.update((value, value.split(" ", 1)[-1]))  # and the credential after `Bearer `
    found.update(v for name, values in query.items() if SECRET.search(name) for v in values)
    for raw, content_type in bodies:
        if not raw or not content_type:
            continue
        if "x-www-form-urlencoded" in content_type:
            found.update(v for k, v in parse_qsl(raw.decode("utf-8", "replace")) if SECRET.search(k))
        elif "json" in content_type:
            try:
                document = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            stack = [document]
            while stack:
                node = stack.pop()
                if isinstance(node, dict):
                    found.update(str(v) for k, v in node.items() if SECRET.search(k) and isinstance(v, (str, int)))
                    stack.extend(node.values())
                elif isinstance(node, list):
                    stack.extend(node)
    return {value for value in found if len(value) >= 4}


def _scrubbed(text: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _headers_shown(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Secret-looking headers redacted; Authorization keeps its scheme word, which says how the client
    authenticated (findings.curl keeps it too)."""
    shown = {}
    for name, value in headers:
        if name.lower() in NOT_FORWARDED:
            continue
        if SECRET.search(name):
            scheme = value.split(" ", 1)[0] if name.lower() == "authorization" and " " in value else ""
            value = f"{scheme} {REDACTED}".strip()
        shown[name] = value
    return shown


def _url_shown(url: str) -> str:
    path, _, query = url.partition("?")
    return path + (f"?{redact_query(query)}" if query else "")


def _body_shown(raw: bytes, content_type: str | None) -> bytes:
    shown = redact_body(raw, content_type)
    if shown is None:
        return b""
    return shown.encode() if isinstance(shown, str) else orjson.dumps(shown, default=str)


def junit(run: Run) -> str:
    """One test case per operation the traffic reached (or path it tried), failing with that operation's
    findings: a CI job's test report shows the drift by operation."""
    grouped = run.by_operation()
    operations = sorted(set(run.cases) | set(grouped))
    cases = []
    for operation in operations:
        failures = "".join(
            f"<failure message={quoteattr(f'{f.check}: ' + (f.message.splitlines() or [''])[0])}>"
            f"{escape(f'{f.message}{chr(10)}Sent: {f.request}{chr(10)}Got: {f.status}{chr(10)}{f.curl}')}</failure>"
            for f in grouped.get(operation, []))
        cases.append(f"<testcase classname={quoteattr(f'proxy.{run.provider}')} name={quoteattr(operation)}>"
                     f"{failures}</testcase>")
    failing = sum(1 for operation in operations if operation in grouped)
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<testsuites><testsuite name={quoteattr(f"proxy-{run.provider}")} '
            f'tests="{len(operations)}" failures="{failing}" errors="0" skipped="0">{"".join(cases)}'
            "</testsuite></testsuites>\n")


PAGE_TEMPLATE = """{% from "_requests.html" import requests %}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ledger-mock proxy · {{ provider }}</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 1rem 1.2rem; color: #1d232a; max-width: 1400px; }
  table { border-collapse: collapse; width: 100%; margin-bottom: .5rem; }
  th, td { border: 1px solid #e0e4e8; padding: .25rem .5rem; text-align: left; vertical-align: top; }
  th { background: #eef1f4; } td.num { text-align: right; } .muted { color: #6b7785; }
  .bad { color: #b3261e; font-weight: 600; } .ok { color: #1b7a32; font-weight: 600; }
  .status-2 { color: #1b7a32; } .status-4 { color: #9a5b00; } .status-5 { color: #b3261e; }
  pre { background: #f3f5f7; padding: .4rem; white-space: pre-wrap; word-break: break-word; }
</style></head><body>
<h1>ledger-mock proxy · {{ provider }} → <code>{{ target }}</code></h1>
{% for line in summary %}<p class="{{ 'bad' if run.findings and loop.first else 'muted' }}">{{ line }}</p>{% endfor %}
<p class="muted">Secrets are redacted. The same as JSON: <a href="journal">{{ '/_proxy/journal' }}</a>
(filters: <code>operation</code>, <code>status</code>, <code>limit</code>).</p>
{% if run.findings %}
<h2>Findings</h2>
<table><thead><tr><th>operation</th><th>check</th><th>difference</th><th class="num">status</th></tr></thead><tbody>
{% for operation, findings in run.by_operation().items() %}{% for f in findings %}
<tr><td><code>{{ operation }}</code></td><td>{{ f.check }}</td><td><pre>{{ f.message }}</pre></td><td class="num">{{ f.status }}</td></tr>
{% endfor %}{% endfor %}
</tbody></table>
{% endif %}
<h2>Latest exchanges</h2>
{{ requests(journal, link, show_provider=False) }}
</body></html>
"""


def serve(provider: str, target: str, *, host: str = "127.0.0.1", port: int = 8081, report: Path | None = None,
          html_report: Path | None = None, junit_xml: Path | None = None, drift_header: bool = False,
          log_level: str = "warning") -> tuple[int, Run]:
    """Proxy until SIGINT or SIGTERM, then write the reports; exit code 1 when anything drifted, else 0."""
    from mock_server.server import check_port, in_process_granian

    logging.basicConfig(level=log_level.upper(), format="%(message)s")
    proxy = Proxy(provider, target, drift_header=drift_header)
    check_port(host, port)
    server = in_process_granian(host, port, log_level)
    base = f"http://{host}:{port}"
    print(f"ledger-mock proxy for {provider} on {base} -> {proxy.target}\n  exchanges and findings  {base}{PAGE}/"
          f"\n  reports when stopped    {', '.join(str(p) for p in (report, html_report, junit_xml) if p) or 'none'}",
          file=sys.stderr, flush=True)
    try:
        server.serve(target_loader=lambda _target: proxy)
    finally:
        proxy.write(report, html_report, junit_xml)
    return (1 if proxy.run.findings else 0), proxy.run
