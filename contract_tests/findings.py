"""What a contract run found, and the reports made from it: Markdown and HTML, a summary table first, then the
findings grouped by operation (the HTML page is shared with `ledger-mock drift`)."""

from __future__ import annotations

import html
import json
import re
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
        if self.findings:
            lines += ["| operation | kind of finding | findings |", "|---|---|---|"]
            lines += [f"| {op} | {check} | {n} |" for (op, check), n in
                      sorted(Counter((f.operation, f.check) for f in self.findings).items())]
            lines.append("")
        for operation, findings in self.by_operation().items():
            lines += [f"## {operation}", ""]
            for f in findings:
                lines += [f"### {f.check}: {headline(f.message)}", "", "```", f.message, "```", "",
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
        entries = [Entry(f.operation, f.check, headline(f.message), str(f.status or ""), (
            ("Why", f.message, "why"),
            ("Exchange", "\n\n".join(filter(None, (f.request, _pretty(f.request_body),
                                                     f"→ {f.status}" if f.status else "", _pretty(f.response_body)))),
             "exchange"),
            ("Reproduce", f.curl, "curl"))) for f in sorted(self.findings, key=lambda f: (f.operation, f.check))]
        return html_page(f"Contract drift report: {self.provider}", self.base_url, self.summary().splitlines(),
                         entries, alarm=bool(self.findings))


@dataclass(frozen=True)
class Entry:
    """One line of an HTML report: what differs, in which operation, and what is one click away."""
    operation: str
    kind: str
    headline: str
    status: str = ""
    parts: tuple[tuple[str, str, str], ...] = ()  # (label, preformatted text, css class)


def headline(message: str) -> str:
    """The line that names what differs: a message's first paragraph (`"name" is a required property`;
    `Received: 200 · Documented: 201, 400`), on one line."""
    first = message.strip().split("\n\n", 1)[0]
    line = " · ".join(part.strip() for part in first.splitlines() if part.strip())
    return line if len(line) <= 200 else line[:199] + "…"


def html_page(title: str, target: str, summary: Iterable[str], entries: Iterable[Entry], *, alarm: bool,
              kinds: Iterable[str] = ()) -> str:
    """A self-contained page (no external assets: it opens offline): a table of operation by kind of finding
    whose counts link to the findings, then each finding collapsed to one line, its detail one click away."""
    entries = list(entries)
    operations = list(dict.fromkeys(e.operation for e in entries))
    kinds = list(dict.fromkeys([*kinds, *(e.kind for e in entries)]))
    counts = Counter((e.operation, e.kind) for e in entries)
    esc = html.escape
    parts = [f"<!doctype html><meta charset=utf-8><title>{esc(title)}</title><style>{_STYLE}</style>",
             f"<h1>{esc(title)}</h1>", *([f"<p>Target: <code>{esc(target)}</code></p>"] if target else []),
             *(f"<p class={'drift' if alarm and not n else 'ok'}>{esc(line)}</p>" for n, line in enumerate(summary))]
    if entries:
        parts.append("<table id=summary><thead><tr><th>operation</th>"
                     + "".join(f"<th>{esc(kind)}</th>" for kind in kinds) + "</tr></thead><tbody>")
        for i, operation in enumerate(operations):
            cells = "".join(f"<td><a href='#op{i}-k{j}'>{counts[operation, kind]}</a></td>"
                            if counts[operation, kind] else "<td></td>" for j, kind in enumerate(kinds))
            parts.append(f"<tr><th><a href='#op{i}'>{esc(operation)}</a></th>{cells}</tr>")
        parts.append("</tbody></table>")
    for i, operation in enumerate(operations):
        parts.append(f"<section id=op{i}><h2>{esc(operation)}</h2>")
        for j, kind in enumerate(kinds):
            found = [e for e in entries if e.operation == operation and e.kind == kind]
            if not found:
                continue
            parts.append(f"<div class=kind id=op{i}-k{j}><h3>{esc(kind)} ({len(found)})</h3>")
            for e in found:
                status = f"<span class=status>{esc(e.status)}</span> " if e.status else ""
                line = f"{status}<span class=line>{_code(esc(e.headline))}</span>"
                if not e.parts:
                    parts.append(f"<p class=entry>{line}</p>")
                    continue
                parts.append(f"<details class=finding><summary>{line}</summary>" + "".join(
                    f"<h4>{esc(label)}</h4><pre class={css}>{esc(text)}</pre>" for label, text, css in e.parts if text)
                    + "</details>")
            parts.append("</div>")
        parts.append("</section>")
    parts.append(f"<script>{_SCRIPT}</script>")
    return "\n".join(parts) + "\n"


_STYLE = ("body{font:14px system-ui;margin:2em;max-width:80em}h2{border-bottom:1px solid #ccc;margin-top:1.6em}"
          "pre{background:#f5f5f5;padding:.6em;white-space:pre-wrap;overflow-wrap:anywhere;margin:.2em 0 .8em}"
          "h3{font-size:1em;margin:.8em 0 .3em}h4{margin:.6em 0 0;font-size:.9em}.ok{color:#070}.drift{color:#a00}"
          "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.25em .6em}td{text-align:right}"
          "thead th{font-weight:normal;font-size:.9em}tbody th{text-align:left;font-weight:normal}"
          "summary{cursor:pointer;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}"
          "details,.entry{margin:.15em 0}details[open]{border-left:3px solid #ccc;padding-left:.6em}"
          ".status{font-family:monospace;background:#eee;padding:0 .3em}:target{background:#fffbe0}")
# A link opens the findings it leads to (the browser then scrolls there), as does opening the page at one.
_SCRIPT = ("function reveal(id){var t=document.getElementById(id);if(!t)return;"
           "if(t.tagName==='DETAILS')t.open=true;t.querySelectorAll('details').forEach(function(d){d.open=true})}"
           "document.addEventListener('click',function(e){var a=e.target.closest('a[href^=\"#\"]');"
           "if(a)reveal(decodeURIComponent(a.hash.slice(1)))});"
           "if(location.hash)reveal(decodeURIComponent(location.hash.slice(1)));")


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


def _pretty(body: str) -> str:
    """A JSON body indented, so the field that differs is found by eye; anything else (cut short) as it is."""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


def _code(escaped: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


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
