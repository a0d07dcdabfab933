"""What a contract run found, and the reports made from it: Markdown and HTML grouped by operation."""

from __future__ import annotations

import html
import shlex
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

SECRET_HEADERS = ("authorization", "x-signature", "cookie", "x-api-key", "api-key", "token", "secret", "password")
MAX_BODY = 2000


@dataclass
class Finding:
    operation: str
    check: str
    message: str
    request: str  # method and URL
    request_body: str
    status: int | None
    response_body: str
    curl: str


@dataclass
class Run:
    provider: str
    base_url: str
    findings: list[Finding] = field(default_factory=list)
    cases: Counter = field(default_factory=Counter)
    requests: int = 0  # sent, retries included
    waits: list[float] = field(default_factory=list)  # seconds, one per 429 waited out
    stopped: str | None = None  # why the run ended before it was through (a budget)
    unexercised: list[str] = field(default_factory=list)  # what it did not reach, or left part way
    _seen: set = field(default_factory=set)

    def add(self, operation: str, check: str, message: str, response: Any) -> None:
        """Record one failure, once: the same operation, check and first message line count as one drift."""
        key = (operation, check, message.strip().splitlines()[0] if message.strip() else "")
        if key in self._seen:
            return
        self._seen.add(key)
        request = getattr(response, "request", None)
        self.findings.append(Finding(
            operation=operation, check=check, message=message.strip(),
            request=f"{request.method} {request.url}" if request is not None else "",
            request_body=_text(getattr(request, "body", None)),
            status=getattr(response, "status_code", None), response_body=_text(getattr(response, "content", None)),
            curl=curl(request) if request is not None else ""))

    def by_operation(self) -> dict[str, list[Finding]]:
        grouped: dict[str, list[Finding]] = {}
        for finding in sorted(self.findings, key=lambda f: (f.operation, f.check)):
            grouped.setdefault(finding.operation, []).append(finding)
        return grouped

    def summary(self) -> str:
        operations = self.by_operation()
        if not operations:
            found = (f"No drift: {sum(self.cases.values())} generated cases over {len(self.cases)} operations "
                     f"matched the {self.provider} spec at {self.base_url}.")
        else:
            found = (f"Drift: {len(self.findings)} finding(s) in {len(operations)} operation(s) of the "
                     f"{self.provider} spec at {self.base_url}: " + "; ".join(
                         f"{op} ({', '.join(sorted({f.check for f in fs}))})" for op, fs in operations.items()))
        return "\n".join([found, self.traffic(), *([self.left()] if self.stopped else [])])

    def traffic(self) -> str:
        return (f"{self.requests} requests sent; waited {sum(self.waits):.1f} s for {len(self.waits)} "
                f"rate-limited answer(s) (429) before sending again.")

    def left(self) -> str:
        return f"Stopped early: {self.stopped}. Not exercised: {', '.join(self.unexercised) or 'nothing'}."

    def markdown(self) -> str:
        lines = [f"# Contract drift report: {self.provider}", "", f"Target: `{self.base_url}`", "",
                 *(f"{line}\n" for line in self.summary().splitlines())]
        for operation, findings in self.by_operation().items():
            lines += [f"## {operation}", ""]
            for f in findings:
                lines += [f"### {f.check}", "", "```", f.message, "```", "",
                          f"Sent: `{f.request}`", ""]
                if f.request_body:
                    lines += ["```json", f.request_body, "```", ""]
                lines += [f"Got: **{f.status}**", "", "```", f.response_body, "```", "",
                          "Reproduce:", "", "```sh", f.curl, "```", ""]
        if self.cases:
            lines += ["## Generated cases per operation", "", "| operation | cases |", "|---|---|"]
            lines += [f"| {op} | {n} |" for op, n in sorted(self.cases.items())]
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        parts = [f"<!doctype html><meta charset=utf-8><title>Contract drift: {html.escape(self.provider)}</title>",
                 "<style>body{font:14px system-ui;margin:2em;max-width:70em}pre{background:#f5f5f5;padding:.6em;"
                 "overflow:auto}h2{border-bottom:1px solid #ccc}.ok{color:#070}.drift{color:#a00}</style>",
                 f"<h1>Contract drift report: {html.escape(self.provider)}</h1>",
                 f"<p>Target: <code>{html.escape(self.base_url)}</code></p>",
                 *(f"<p class={'drift' if self.findings and not n else 'ok'}>{html.escape(line)}</p>"
                   for n, line in enumerate(self.summary().splitlines()))]
        for operation, findings in self.by_operation().items():
            parts.append(f"<h2>{html.escape(operation)}</h2>")
            for f in findings:
                parts += [f"<h3>{html.escape(f.check)}</h3><pre>{html.escape(f.message)}</pre>",
                          f"<p>Sent <code>{html.escape(f.request)}</code></p>",
                          f"<pre>{html.escape(f.request_body)}</pre>" if f.request_body else "",
                          f"<p>Got <b>{f.status}</b></p><pre>{html.escape(f.response_body)}</pre>",
                          f"<p>Reproduce</p><pre>{html.escape(f.curl)}</pre>"]
        return "\n".join(parts) + "\n"


def curl(request: Any) -> str:
    """A curl line for the request as sent, with credentials replaced by placeholders."""
    parts = ["curl", "-X", request.method, request.url]
    for name, value in request.headers.items():
        if name.lower() in ("content-length", "accept-encoding", "connection", "user-agent"):
            continue
        if any(secret in name.lower() for secret in SECRET_HEADERS):
            value = "<redacted>" if name.lower() != "authorization" else f"{value.split(' ', 1)[0]} <redacted>"
        parts += ["-H", f"{name}: {value}"]
    body = _text(request.body, limit=None)
    if body:
        parts += ["--data-raw", body]
    return " ".join(shlex.quote(p) for p in parts)


def _text(data: Any, limit: int | None = MAX_BODY) -> str:
    if data is None:
        return ""
    text = data.decode("utf-8", "replace") if isinstance(data, (bytes, bytearray)) else str(data)
    return text if limit is None or len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more)"


def failures_of(error: BaseException) -> Iterable[tuple[str, str]]:
    """(check title, message) pairs from a schemathesis failure group or a single assertion."""
    nested = getattr(error, "exceptions", None)
    if nested:
        for inner in nested:
            yield from failures_of(inner)
    else:
        yield getattr(error, "title", None) or type(error).__name__, getattr(error, "message", None) or str(error)
