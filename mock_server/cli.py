"""`ledger-mock serve | credentials | sign`."""

from __future__ import annotations

import json
import os
import shlex
import sys
from datetime import datetime
from pathlib import Path

import click

from .config import Config


@click.group()
def main() -> None:
    """Offline mocks of accounting providers' journal-entry APIs."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--fixtures", type=click.Path(exists=True, path_type=Path), help="YAML file or folder [embedded defaults]")
@click.option("--providers", help="Comma-separated providers to serve [all]")
@click.option("--root-provider", help="Serve this one provider at its real root paths (e.g. /partners/...)")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for ids; -1 for random ids")
@click.option("--freeze-time", type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
              help="Start with the clock frozen at this UTC time")
@click.option("--no-rate-limit", is_flag=True, help="Disable provider rate limits (load tests, fuzzing)")
@click.option("--no-coverage", is_flag=True, help="Do not count what clients exercise (GET /_mock/coverage then "
                                                 "answers 404); for measuring what counting costs")
@click.option("--strict", is_flag=True, help="Refuse (400) the query parameters and body fields the provider would "
                                            "ignore, instead of warning; validate every response (500 on violation)")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Python threads serving requests. One is fastest (they share one interpreter lock; more "
                   "only add hand-offs); raise it when injected latency should not hold up other requests")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]),
              help="info: one JSON line per request (method, path, provider, tenant, status, duration)")
@click.option("--admin-token", envvar="LEDGER_MOCK_ADMIN_TOKEN",
              help="Bearer token for /_mock calls [none on localhost; generated and printed otherwise]")
@click.option("--state-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Keep state across restarts: every accepted change is written here before it is answered")
@click.option("--checkpoint-every", default=10_000, show_default=True, type=click.IntRange(0),
              help="With --state-file: checkpoint the state every N changes, so a restart replays only the "
                   "changes since (0: never; every restart replays the whole log)")
@click.option("--max-tenants", default=1000, show_default=True, type=click.IntRange(0),
              help="Tenants POST /_mock/tenants may make (DELETE /_mock/tenants/{tenant} frees them)")
@click.option("--body-timeout", default=30.0, show_default=True, type=click.FloatRange(0.1, 3600),
              help="Seconds a request body may take to arrive (plus one per MiB), then 408")
@click.option("--stop-timeout", default=10.0, show_default=True, type=click.FloatRange(0.1, 3600),
              help="Seconds a stop (SIGTERM, Ctrl-C) waits for open connections to finish before exiting anyway")
def serve(host: str, port: int, fixtures: Path | None, providers: str | None, root_provider: str | None, seed: int,
          freeze_time: datetime | None, no_rate_limit: bool, no_coverage: bool, strict: bool, threads: int, log_level: str,
          admin_token: str | None, state_file: Path | None, checkpoint_every: int, max_tenants: int,
          body_timeout: float, stop_timeout: float) -> None:
    """Serve the mock (all providers under /<provider>, or one at its root)."""
    import secrets
    import threading

    from .persistence import StateFileError
    from .server import PortInUse, exit_after_serving, serve as run

    selected = tuple(p.strip() for p in providers.split(",")) if providers else None
    if root_provider and selected is None:
        selected = (root_provider,)
    generated = admin_token is None and not _loopback(host)
    if generated:
        admin_token = secrets.token_urlsafe(24)
    config = Config(providers=selected, fixtures=fixtures.resolve() if fixtures else None,
                    root_provider=root_provider, seed=None if seed < 0 else seed, frozen_time=freeze_time,
                    rate_limiting=not no_rate_limit, coverage=not no_coverage, validate_responses=strict,
                    refuse_ignored=strict,
                    public_base_url=f"http://{host}:{port}", admin_token=admin_token, log_level=log_level,
                    state_file=state_file.resolve() if state_file else None, checkpoint_every=checkpoint_every,
                    max_tenants=max_tenants,
                    body_timeout_s=body_timeout)
    base = _reachable(host, port)

    def ready(mock) -> None:
        _banner(mock, base, admin_token if generated else None)
        _record_serve(base, root_provider, config.fixtures)

    def stopping() -> None:  # a client that never reads (an HTTP/2 one ignoring the shutdown) would hold it forever
        timer = threading.Timer(stop_timeout, give_up)
        timer.daemon = True
        timer.start()

    def give_up() -> None:  # every acknowledged change is already durable: nothing is lost by leaving now
        click.echo(f"ledger-mock: connections still open {stop_timeout:g} s into the stop; exiting anyway",
                   err=True)
        _forget_serve()
        exit_after_serving(0)

    try:
        run(config, host, port, threads, ready, stopping)
    except (StateFileError, PortInUse, ValueError) as exc:  # here, where the message reaches whoever starts it
        raise click.ClickException(str(exc)) from None
    finally:
        _forget_serve()
    exit_after_serving(0)


def _reachable(host: str, port: int) -> str:
    """The base URL a client on this machine uses: a wildcard address is reached through loopback."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _banner(mock, base: str, generated_token: str | None) -> None:
    """Where everything is, on stderr before serving, and the same facts as one JSON log line."""
    import logging

    from .ui import about

    facts = about(mock, base)
    clock = mock.runtime.clock
    state_file = mock.config.state_file
    lines = [f"ledger-mock serving on {base}  (index: {base}/)"]
    width = max(len(p["name"]) for p in facts["providers"])
    lines += [f"  {p['name']:<{width}}  {p['base_url']}   spec {p['spec_yaml']}" for p in facts["providers"]]
    lines += [f"  inspector    {facts['inspector']}",
              f"  admin API    {facts['admin']}  (openapi/admin.yaml)",
              f"  credentials  ledger-mock credentials --provider {facts['providers'][0]['name']}  "
              f"(or GET {base}/_mock/credentials?provider=...)"]
    if state_file:
        lines.append(f"  state file   {state_file}")
    if generated_token:
        lines.append(f"  admin token  {generated_token}  (the server listens beyond localhost; send "
                     "`Authorization: Bearer <token>` to /_mock, or ?token= to the inspector)")
    now = clock.now().isoformat().replace("+00:00", "Z")
    if clock.frozen:
        lines.append(f"  mock clock   frozen at {now}")
    click.echo("\n".join(lines), err=True)
    logging.getLogger("ledger_mock").info(json.dumps({
        "event": "serving", "base_url": base, "providers": {p["name"]: p["base_url"] for p in facts["providers"]},
        "inspector": facts["inspector"], "admin": facts["admin"],
        "credentials": "ledger-mock credentials --provider P", "state_file": str(state_file) if state_file else None,
        "admin_token": generated_token, "clock_frozen_at": now if clock.frozen else None}))


def serve_record() -> Path:
    """Where `serve` notes its base URL for `credentials` on the same machine: the user's runtime folder (gone
    at logout), else their cache folder."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    folder = Path(runtime) if runtime else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return folder / "ledger-mock" / "last-serve.json"


def _record_serve(base: str, root_provider: str | None, fixtures: Path | None) -> None:
    record = serve_record()
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        temporary = record.with_name(f".{record.name}.{os.getpid()}")
        temporary.write_text(json.dumps({"pid": os.getpid(), "base_url": base, "root_provider": root_provider,
                                         "fixtures": str(fixtures) if fixtures else None}), encoding="utf-8")
        os.replace(temporary, record)
    except OSError:  # only a convenience: `credentials --base-url` still works
        pass


def _forget_serve() -> None:
    found = _live_serve(check_alive=False)
    if found is not None and found.get("pid") == os.getpid():
        serve_record().unlink(missing_ok=True)


def _live_serve(check_alive: bool = True) -> dict | None:
    """The most recent `serve`'s record, if that process still runs."""
    try:
        found = json.loads(serve_record().read_text(encoding="utf-8"))
        pid = int(found["pid"])
        if not isinstance(found.get("base_url"), str):
            return None
        if check_alive:
            os.kill(pid, 0)
    except PermissionError:  # alive, under another user
        return found
    except (OSError, ValueError, KeyError, TypeError):  # none, unreadable, or its process is gone
        return None
    return found


def _loopback(host: str) -> bool:
    import ipaddress
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@main.command("providers")
def list_providers() -> None:
    """List the providers this installation serves and where each comes from."""
    from . import providers as found

    for name, source in found.sources().items():
        try:
            spec = str(found.load(name).spec_path())
        except Exception as exc:  # a broken plug-in is listed with its problem, not fatal to the listing
            spec = f"cannot be loaded: {exc}"
        click.echo(f"{name:<12} {source.origin:<32} {source.target:<40} {spec}")
    for point in found.plugin_entry_points():
        if found.sources()[point.name].target != point.value:
            click.echo(f"{point.name:<12} {found.origin(point):<32} {point.value:<40} ignored: the built-in "
                       f"provider {point.name} has that name")


@main.command()
@click.option("--provider", required=True)
@click.option("--format", "fmt", default="json", show_default=True, type=click.Choice(["json", "env"]))
@click.option("--base-url", help="Where the server listens [$LEDGER_MOCK_URL, else the latest `ledger-mock serve` "
                                   "still running on this machine, else http://127.0.0.1:8080]")
@click.option("--root", is_flag=True, help="The server runs with --root-provider PROVIDER")
@click.option("--fixtures", type=click.Path(exists=True, path_type=Path))
def credentials(provider: str, fmt: str, base_url: str | None, root: bool, fixtures: Path | None) -> None:
    """Print ready-to-use credentials from the fixtures."""
    base_url, source, record = find_server(base_url)
    if record is not None:  # the running server's layout and fixtures, unless told otherwise
        root = root or record.get("root_provider") == provider
        if fixtures is None and record.get("fixtures") and Path(record["fixtures"]).exists():
            fixtures = Path(record["fixtures"])
    click.echo(f"credentials for the server at {base_url} ({source})", err=True)
    try:
        found = provider_credentials(provider, base_url, root, fixtures)
    except (LookupError, ValueError) as exc:  # an unknown provider, fixtures that cannot be read or lack them
        raise click.ClickException(str(exc)) from None
    click.echo(render_credentials(found, fmt))


def find_server(base_url: str | None) -> tuple[str, str, dict | None]:
    """The server `credentials` describes, where that was learnt, and the record of its `serve` if from one."""
    if base_url:
        return base_url, "--base-url", None
    if os.environ.get("LEDGER_MOCK_URL"):
        return os.environ["LEDGER_MOCK_URL"], "$LEDGER_MOCK_URL", None
    record = _live_serve()
    if record is not None:
        return record["base_url"], f"the `ledger-mock serve` running as pid {record['pid']}", record
    return "http://127.0.0.1:8080", "the default; no `ledger-mock serve` is running on this machine", None


def provider_credentials(provider: str, base_url: str, root: bool = False, fixtures: Path | None = None) -> dict:
    from .app import create_mock

    mock = create_mock(Config(providers=(provider,), fixtures=fixtures))
    return mock.providers[provider].credentials(base_url.rstrip("/") + ("" if root else f"/{provider}"))


def render_credentials(creds: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(creds, indent=2)
    prefix = f"LEDGER_MOCK_{creds['provider'].upper()}_"
    return "\n".join(f"{prefix}{key.upper()}={shlex.quote(str(value))}" for key, value in creds.items())


@main.command()
@click.argument("method")
@click.argument("url")
@click.option("--data", default="", help="The exact request body to sign and send")
@click.option("--client-id", help="[the default fixtures' client]")
@click.option("--secret", help="[the default fixtures' secret]")
@click.option("--token", help="Bearer token [the default fixtures' access token]")
@click.option("--curl", "as_curl", is_flag=True, help="Print a complete curl command instead of headers")
def sign(method: str, url: str, data: str, client_id: str | None, secret: str | None, token: str | None,
         as_curl: bool) -> None:
    """Print COUNT's HMAC headers (and the bearer) for one request, e.g.

    ledger-mock sign GET http://127.0.0.1:8080/count/partners/chart-of-accounts --curl
    """
    from urllib.parse import urlsplit

    from .auth.hmac_signing import signature_headers

    if not (client_id and secret and token):
        defaults = provider_credentials("count", "http://127.0.0.1:8080")
        client_id = client_id or defaults["client_id"]
        secret = secret or defaults["client_secret"]
        token = token or defaults["access_token"]
    headers = signature_headers(client_id, secret, method, urlsplit(url).path, data.encode())
    headers["Authorization"] = f"Bearer {token}"
    if data:
        headers["Content-Type"] = "application/json"
    if as_curl:
        parts = ["curl", "-sS", "-X", method.upper(), url] + [a for k, v in headers.items() for a in ("-H", f"{k}: {v}")]
        parts += ["--data-raw", data] if data else []
        click.echo(" ".join(shlex.quote(p) for p in parts))
    else:
        click.echo("\n".join(f"{k}: {v}" for k, v in headers.items()))


@main.command()
@click.option("--provider", required=True)
@click.option("--base-url", help="Target root, e.g. http://127.0.0.1:8080/count [a mock started in-process]")
@click.option("--credential", "credential_pairs", multiple=True, metavar="KEY=VALUE",
              help="Provider credential (repeatable); else LEDGER_MOCK_<PROVIDER>_<KEY> from the environment")
@click.option("--max-examples", default=10, show_default=True, type=click.IntRange(1))
@click.option("--seed", type=int, help="Seed for a reproducible run [derandomized]")
@click.option("--include", multiple=True, metavar="OPERATION_ID", help="Only these operations (repeatable)")
@click.option("--exclude", multiple=True, metavar="OPERATION_ID", help="Skip these operations (repeatable)")
@click.option("--rate-limit", help="Client-side limit such as 100/m (COUNT's real quota)")
@click.option("--read-only", is_flag=True, help="Send no mutating request: safe against a production tenant")
@click.option("--no-stateful", is_flag=True, help="Skip the stateful sequences through OpenAPI links")
@click.option("--max-requests", type=click.IntRange(1), help="Send at most this many requests, retries included")
@click.option("--time-budget", type=click.FloatRange(0, min_open=True), metavar="SECONDS",
              help="Stop after this long, waits included; the summary lists what was not exercised")
@click.option("--max-wait", default=120.0, show_default=True, type=click.FloatRange(0), metavar="SECONDS",
              help="How long one request's 429s are waited out (Retry-After, else the provider's documented "
                   "limit) before the rate limit is reported as drift")
@click.option("--junit-xml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Markdown drift report")
@click.option("--html-report", type=click.Path(dir_okay=False, path_type=Path), help="HTML drift report")
def contract(provider: str, base_url: str | None, credential_pairs: tuple[str, ...], max_examples: int,
             seed: int | None, include: tuple[str, ...], exclude: tuple[str, ...], rate_limit: str | None,
             read_only: bool, no_stateful: bool, max_requests: int | None, time_budget: float | None,
             max_wait: float, junit_xml: Path | None, report: Path | None, html_report: Path | None) -> None:
    """Fuzz a target from our spec for PROVIDER and report where it drifts; exit 1 on drift."""
    from contract_tests.runner import run_contract

    given = dict(pair.split("=", 1) for pair in credential_pairs)
    try:
        code, run = run_contract(provider, base_url, given, max_examples=max_examples, seed=seed, include=include,
                                 exclude=exclude, rate_limit=rate_limit, read_only=read_only,
                                 stateful=not no_stateful, max_requests=max_requests,
                                 time_budget=time_budget, max_wait=max_wait, junit_xml=junit_xml, report=report,
                                 html_report=html_report)
    except (LookupError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(run.summary())
    sys.exit(code)


@main.command()
@click.option("--provider", required=True)
@click.option("--target", required=True, help="The provider's base URL the client would use, e.g. "
                                              "https://dev-api.getcount.com or http://127.0.0.1:8080/count")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=int)
@click.option("--junit-xml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Markdown drift report")
@click.option("--html-report", type=click.Path(dir_okay=False, path_type=Path), help="HTML drift report")
@click.option("--drift-header", is_flag=True, help="Answer with X-Ledger-Mock-Drift: 0, or the exchange's number "
                                                  "of findings and the first")
def proxy(provider: str, target: str, host: str, port: int, junit_xml: Path | None, report: Path | None,
          html_report: Path | None, drift_header: bool) -> None:
    """Forward a client's traffic to TARGET unchanged, checking every exchange against our PROVIDER spec; the
    reports are written when stopped (Ctrl-C, SIGTERM); exit 1 on drift."""
    from contract_tests.proxy import serve as run

    from .server import PortInUse, exit_after_serving

    try:
        code, found = run(provider, target, host=host, port=port, report=report, html_report=html_report,
                          junit_xml=junit_xml, drift_header=drift_header)
    except (LookupError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    except PortInUse as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(found.summary())
    exit_after_serving(code)


@main.command()
@click.option("--provider", required=True)
@click.option("--vendor-spec", "vendor_specs", required=True, multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Vendor OpenAPI file (repeatable)")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Write the Markdown here too")
@click.option("--html-report", type=click.Path(dir_okay=False, path_type=Path), help="HTML drift report")
@click.option("--fail-on-breaking", is_flag=True, help="Exit 1 when a breaking difference is found")
def drift(provider: str, vendor_specs: tuple[Path, ...], report: Path | None, html_report: Path | None,
          fail_on_breaking: bool) -> None:
    """Compare our spec for PROVIDER with a vendor-published one, operation by operation."""
    from contract_tests.drift import compare, render, render_html

    from . import providers

    if provider not in providers.names():
        raise click.UsageError(f"no provider {provider!r}; installed: {', '.join(providers.names())}")
    ours = providers.load(provider).spec_path()
    try:
        differences, counts = compare(ours, vendor_specs)
    except ValueError as exc:  # a reference that names nothing: a report would be built on a hole
        raise click.ClickException(str(exc)) from None
    text = render(ours, list(vendor_specs), differences, counts)
    click.echo(text)
    if report:
        report.write_text(text, encoding="utf-8")
    if html_report:
        html_report.write_text(render_html(ours, list(vendor_specs), differences, counts), encoding="utf-8")
    sys.exit(1 if fail_on_breaking and any(d.breaking for d in differences) else 0)


@main.command()
@click.option("--write", is_flag=True, help="Write docs/fidelity/<provider>.md instead of checking them")
@click.option("--docs", type=click.Path(file_okay=False, path_type=Path), default=Path("docs/fidelity"),
              show_default=True, help="Where the pages live")
def fidelity(write: bool, docs: Path) -> None:
    """Check (or --write) the departures pages generated from openapi/<provider>.fidelity.yaml."""
    from . import fidelity as ledgers, providers, read_yaml

    stale = []
    for name in providers.names():
        spec = read_yaml(providers.load(name).spec_path())
        text = ledgers.page(ledgers.load(name), ledgers.title(spec))
        page = docs / f"{name}.md"
        if write:
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(text, encoding="utf-8")
            click.echo(f"wrote {page}")
        elif not page.exists() or page.read_text(encoding="utf-8") != text:
            stale.append(str(page))
    if stale:
        raise click.ClickException(f"not current: {', '.join(stale)}; run `ledger-mock fidelity --write`")


@main.command("coverage")
@click.option("--url", required=True, help="The running `ledger-mock serve` (e.g. http://127.0.0.1:8080)")
@click.option("--provider", help="Only this provider [every provider the client exercised]")
@click.option("--tenant", help="Only this tenant of --provider")
@click.option("--format", "fmt", default="md", show_default=True, type=click.Choice(["md", "html", "json", "junit"]))
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here [stdout]")
@click.option("--fail-under", type=click.FloatRange(0, 100), help="Exit 1 when coverage (percent) is below this")
@click.option("--admin-token", envvar="LEDGER_MOCK_ADMIN_TOKEN", help="The server's admin token, if it has one")
def coverage_report(url: str, provider: str | None, tenant: str | None, fmt: str, output: Path | None,
                    fail_under: float | None, admin_token: str | None) -> None:
    """What a client's tests exercised of each provider's API since the last reset, and what they never did."""
    from urllib.error import HTTPError, URLError

    from . import coverage

    try:
        report = coverage.fetch(url, provider, tenant, admin_token)
    except HTTPError as exc:
        raise click.ClickException(f"{url} refused: {exc.code} {exc.read().decode('utf-8', 'replace')[:300]}") \
            from None
    except (URLError, OSError) as exc:
        raise click.ClickException(f"{url} is not reachable: {exc}") from None
    text = coverage.render(report, fmt)
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text)
    for found in report["providers"]:
        click.echo("coverage " + coverage.summary_line(found), err=True)
    if fail_under is not None:
        reached = coverage.lowest(report, named=provider is not None)
        if reached < fail_under:
            click.echo(f"coverage {reached:.2f}% is under --fail-under {fail_under:g}%", err=True)
            sys.exit(1)


@main.command()
@click.option("--provider", required=True)
@click.option("--base-url", required=True, help="The tenant's API root, e.g. https://api.codat.io or "
                                                "http://127.0.0.1:8080/codat")
@click.option("--credential", "credential_pairs", multiple=True, metavar="KEY=VALUE",
              help="Provider credential to read with (repeatable); else LEDGER_MOCK_<PROVIDER>_<KEY>. Never written")
@click.option("--tenant", default="snapshot", show_default=True,
              help="The copy's name; its mock-only credentials are derived from it")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Fixtures file to write [stdout]")
@click.option("--max-wait", default=120.0, show_default=True, type=click.FloatRange(0), metavar="SECONDS",
              help="How long one request's 429s are waited out (Retry-After, else the provider's documented limit)")
def snapshot(provider: str, base_url: str, credential_pairs: tuple[str, ...], tenant: str, output: Path | None,
             max_wait: float) -> None:
    """Copy a tenant into a fixtures file through the provider's read API, for `serve --fixtures`."""
    from contract_tests.snapshot import SnapshotError, take

    given = dict(pair.split("=", 1) for pair in credential_pairs)
    try:
        text, copy, session = take(provider, base_url, given, tenant=tenant, max_wait=max_wait)
    except (LookupError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    except (SnapshotError, OSError) as exc:  # requests' connection errors are OSErrors
        raise click.ClickException(str(exc)) from None
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    waited = f"; waited {sum(session.waits):.1f} s for rate limits ({len(session.waits)} 429s)" if session.waits else ""
    where = output or "THE_FILE"
    click.echo(f"read {', '.join(f'{n} {kind}' for kind, n in copy.counts.items())} in {session.budget.sent} "
               f"requests{waited}", err=True)
    click.echo("\n".join(["not readable, so written as defaults:", *(f"  - {line}" for line in copy.defaults)]),
               err=True)
    click.echo(f"serve it: ledger-mock serve --fixtures {where}\n"
               f"its credentials (mock-only, from the tenant name {tenant!r}; none you read with is in the file): "
               f"ledger-mock credentials --provider {provider} --fixtures {where}", err=True)


if __name__ == "__main__":
    sys.exit(main())
