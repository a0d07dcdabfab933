"""Static drift: our hand-written spec against a vendor-published one, operation by operation.

No maintained Python library diffs OpenAPI 3.1 documents (the established tool, oasdiff, is a Go binary that
cannot be installed from the registries this project uses), so this is a focused comparison of what a client
depends on: which operations exist, their parameters, request and response fields, types, enum values and
status codes. Each difference is classified from the point of view of a client written against OUR spec and
then pointed at the vendor: "breaking" when that client would send something the vendor refuses or read
something the vendor does not send; "compatible" otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import unquote, urlsplit

from mock_server.spec import load_document

from .findings import Entry, html_page

METHODS = ("get", "put", "post", "delete", "patch")
MAX_DEPTH = 10  # fields inside fields (`results[].journalLines[].tracking.recordRefs[].id` is 9 deep)


@dataclass(frozen=True)
class Difference:
    operation: str
    where: str  # parameter, request, response 200, status
    what: str
    breaking: bool


@dataclass(frozen=True)
class Field:
    types: frozenset[str]
    enum: frozenset[str] | None
    required: bool


class Document:
    def __init__(self, raw: Mapping[str, Any]):
        self.raw = raw
        server = next((s["url"] for s in raw.get("servers", []) if "://" in s.get("url", "")), "")
        self.prefix = urlsplit(server).path.rstrip("/")

    def operations(self) -> dict[tuple[str, str], tuple[str, Mapping[str, Any]]]:
        found = {}
        for path, item in self.raw.get("paths", {}).items():
            full = self.prefix + path if not path.startswith(self.prefix + "/") else path
            for method in METHODS:
                if method in item:
                    operation = dict(item[method])
                    operation["parameters"] = [*item.get("parameters", []), *operation.get("parameters", [])]
                    found[(method.upper(), _normal(full))] = (f"{method.upper()} {path}", operation)
        return found

    def resolve(self, node: Any) -> Any:
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 20:
            node, seen = self.pointer(node["$ref"]), seen + 1
        return node

    def pointer(self, ref: str) -> Any:
        """The node a local reference names: an RFC 6901 pointer in a URI fragment (percent-decoded first),
        through mappings and lists alike. A reference that names nothing is an error, not an empty schema: read
        as empty, every field behind it would be reported as missing at the vendor."""
        document, _, fragment = ref.partition("#")
        if document:
            raise ValueError(f"{ref}: references to other files are not followed")
        target: Any = self.raw
        for token in unquote(fragment).split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            try:
                target = target[int(token) if isinstance(target, list) else token]
            except (KeyError, IndexError, TypeError, ValueError):
                raise ValueError(f"{ref}: names nothing in the document (at `{token}`)") from None
        return target

    def fields(self, schema: Any, prefix: str = "", required: bool = True, depth: int = 0,
               expanding: frozenset[str] = frozenset()) -> dict[str, Field]:
        """Flatten a schema into dot paths (`lines[].txnAmount`) with their types, enums and requiredness.

        `depth` counts fields, not the `allOf` and references a vendor composes one field from; `expanding` holds
        those references, so a schema composed of itself ends (one that nests itself ends at MAX_DEPTH)."""
        ref = schema.get("$ref") if isinstance(schema, dict) else None
        if ref in expanding:
            return {}
        expanding = expanding | {ref} if ref else expanding
        schema = self.resolve(schema) or {}
        if depth > MAX_DEPTH or not isinstance(schema, dict):
            return {}
        out: dict[str, Field] = {}
        for key in ("allOf", "oneOf", "anyOf"):
            for part in schema.get(key, []):
                for path, found in self.fields(part, prefix, required and key == "allOf", depth,
                                               expanding).items():
                    out[path] = _merge(out.get(path), found)
        types = schema.get("type", [])
        types = frozenset([types] if isinstance(types, str) else types) - {"null"}
        if schema.get("nullable") or "properties" in schema:
            types |= {"object"} if "properties" in schema else set()
        # a `null` among the values is the field's nullability, dropped with the `null` type above
        enum = frozenset(str(v) for v in schema["enum"] if v is not None) if "enum" in schema else None
        if prefix and (types or enum):
            out[prefix] = _merge(out.get(prefix), Field(types, enum, required))
        must = set(schema.get("required", []))
        for name, sub in (schema.get("properties") or {}).items():
            out.update(self.fields(sub, f"{prefix}.{name}" if prefix else name, name in must, depth + 1))
        if "items" in schema:
            out.update(self.fields(schema["items"], f"{prefix}[]", required, depth + 1))
        return out

    def body(self, operation: Mapping[str, Any]) -> dict[str, Field]:
        return self.fields(_json_schema(self.resolve(operation.get("requestBody")) or {}, self))

    def responses(self, operation: Mapping[str, Any]) -> dict[str, dict[str, Field]]:
        return {str(status): self.fields(_json_schema(self.resolve(response) or {}, self))
                for status, response in (operation.get("responses") or {}).items()}

    def parameters(self, operation: Mapping[str, Any]) -> dict[str, Field]:
        out = {}
        for param in map(self.resolve, operation.get("parameters", [])):
            if param.get("in") in ("query", "path", "header") and not _is_auth_header(param):
                schema = self.resolve(param.get("schema", {}))
                flat = self.fields(schema, "x").get("x", Field(frozenset(), None, False))
                out[f"{param['in']} {param['name']}"] = Field(flat.types, flat.enum, bool(param.get("required")))
        return out


def compare(ours_path: Path, vendor_paths: Iterable[Path]) -> tuple[list[Difference], dict[str, int]]:
    ours = Document(load_document(ours_path))
    vendor_ops: dict[tuple[str, str], tuple[str, Mapping[str, Any], Document]] = {}
    for path in vendor_paths:
        vendor = Document(load_document(path))
        for key, (label, operation) in vendor.operations().items():
            vendor_ops.setdefault(key, (label, operation, vendor))
    differences: list[Difference] = []
    ours_ops = ours.operations()
    compared = 0
    for key, (label, operation) in sorted(ours_ops.items()):
        if key not in vendor_ops:
            differences.append(Difference(label, "operation", "not in the vendor spec", True))
            continue
        compared += 1
        _, theirs, vendor = vendor_ops[key]
        differences += _parameters(label, ours.parameters(operation), vendor.parameters(theirs))
        differences += _fields(label, "request", ours.body(operation), vendor.body(theirs), sent=True)
        ours_responses, their_responses = ours.responses(operation), vendor.responses(theirs)
        for status in sorted(set(ours_responses) | set(their_responses)):
            if status not in their_responses:  # a status only we document costs a client nothing
                differences.append(Difference(label, "status", f"{status} is ours only", False))
            elif status not in ours_responses:
                differences.append(Difference(label, "status", f"{status} is the vendor's only",
                                              status.startswith("2")))
            elif status.startswith("2"):
                differences += _fields(label, f"response {status}", ours_responses[status], their_responses[status],
                                       sent=False)
    vendor_only = sum(1 for key in vendor_ops if key not in ours_ops)
    return differences, {"ours": len(ours_ops), "compared": compared, "vendor_only": vendor_only}


def _parameters(label: str, ours: Mapping[str, Field], theirs: Mapping[str, Field]) -> Iterator[Difference]:
    for name in sorted(set(ours) | set(theirs)):
        if name not in theirs:
            yield Difference(label, "parameter", f"`{name}` is ours only", ours[name].required)
        elif name not in ours:
            yield Difference(label, "parameter", f"`{name}` is the vendor's only"
                             + (" (required there)" if theirs[name].required else ""), theirs[name].required)
        else:
            yield from _field(label, "parameter", name, ours[name], theirs[name], sent=True)


def _fields(label: str, where: str, ours: Mapping[str, Field], theirs: Mapping[str, Field],
            *, sent: bool) -> Iterator[Difference]:
    for path in sorted(set(ours) | set(theirs)):
        if path not in theirs:
            # we send a field the vendor does not know (it may refuse it); we promise a field it never returns
            yield Difference(label, where, f"`{path}` is ours only", not sent or ours[path].required)
        elif path not in ours:
            yield Difference(label, where, f"`{path}` is the vendor's only" +
                             (" (required there)" if theirs[path].required else ""),
                             sent and theirs[path].required)
        else:
            yield from _field(label, where, path, ours[path], theirs[path], sent=sent)


def _field(label: str, where: str, path: str, ours: Field, theirs: Field, *, sent: bool) -> Iterator[Difference]:
    if ours.types and theirs.types and not (ours.types & theirs.types) and not _numeric(ours.types, theirs.types):
        yield Difference(label, where, f"`{path}` is {'/'.join(sorted(ours.types))} here, "
                         f"{'/'.join(sorted(theirs.types))} at the vendor", True)
    if ours.enum is not None and theirs.enum is not None and ours.enum != theirs.enum:
        extra, missing = sorted(ours.enum - theirs.enum), sorted(theirs.enum - ours.enum)
        if extra:
            yield Difference(label, where, f"`{path}` values only we list: {', '.join(extra)}", sent)
        if missing:
            yield Difference(label, where, f"`{path}` values only the vendor lists: {', '.join(missing)}", not sent)
    if sent and theirs.required and not ours.required:
        yield Difference(label, where, f"`{path}` is required by the vendor, optional here", True)


def render(ours_path: Path, vendor_paths: list[Path], differences: list[Difference], counts: dict[str, int]) -> str:
    grouped = _grouped(differences)
    lines = [f"# {_title(ours_path, vendor_paths)}", "", _summary(differences, counts), ""]
    if grouped:
        lines += ["| operation | breaking | not breaking |", "|---|---|---|"]
        lines += [f"| {operation} | {sum(d.breaking for d in found)} | {sum(not d.breaking for d in found)} |"
                  for operation, found in grouped]
        lines.append("")
    for operation, found in grouped:
        lines += [f"## {operation}", "", "| where | difference | breaking |", "|---|---|---|"]
        lines += [f"| {d.where} | {d.what} | {'yes' if d.breaking else 'no'} |" for d in found]
        lines.append("")
    return "\n".join(lines)


def render_html(ours_path: Path, vendor_paths: list[Path], differences: list[Difference],
                counts: dict[str, int]) -> str:
    entries = [Entry(operation, "breaking" if d.breaking else "not breaking", f"{d.where}: {d.what}")
               for operation, found in _grouped(differences) for d in found]
    return html_page(_title(ours_path, vendor_paths).replace("`", ""), "",
                     [_summary(differences, counts)], entries, alarm=any(d.breaking for d in differences),
                     kinds=("breaking", "not breaking"))


def _title(ours_path: Path, vendor_paths: list[Path]) -> str:
    return f"Static drift: `{ours_path.name}` against {', '.join(f'`{p.name}`' for p in vendor_paths)}"


def _summary(differences: list[Difference], counts: dict[str, int]) -> str:
    return (f"Summary: {counts['ours']} operations in our spec, {counts['compared']} also in the vendor's "
            f"({counts['vendor_only']} vendor operations we do not mock); {len(differences)} differences, "
            f"{sum(d.breaking for d in differences)} breaking for a client written against our spec.")


def _grouped(differences: list[Difference]) -> list[tuple[str, list[Difference]]]:
    """Operations with the most breaking differences first; in each, breaking rows first."""
    by_operation: dict[str, list[Difference]] = {}
    for difference in differences:
        by_operation.setdefault(difference.operation, []).append(difference)
    return [(operation, sorted(_collapsed(found), key=lambda d: (not d.breaking, d.where, d.what)))
            for operation, found in sorted(by_operation.items(), key=lambda item: (-sum(d.breaking for d in item[1]),
                                                                                   item[0]))]


def _collapsed(found: list[Difference]) -> list[Difference]:
    """Fields only the vendor returns are many and harmless: one row per place, top-level paths only."""
    extra: dict[str, list[str]] = {}
    kept = []
    for d in found:
        match = re.fullmatch(r"`(.+)` is the vendor's only", d.what)
        if match and not d.breaking:
            extra.setdefault(d.where, []).append(match[1])
        else:
            kept.append(d)
    for where, paths in extra.items():
        roots = sorted(p for p in paths if not any(p.startswith(q + ".") or p.startswith(q + "[]")
                                                  for q in paths if q != p))
        kept.append(Difference(found[0].operation, where, f"{len(roots)} field(s) only the vendor has: "
                               + ", ".join(f"`{r}`" for r in roots), False))
    return kept


def _json_schema(container: Mapping[str, Any], document: Document) -> Any:
    content = container.get("content") or {}
    media = content.get("application/json") or next(iter(content.values()), None)
    return document.resolve(media.get("schema")) if media else None


def _normal(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path.rstrip("/")) or "/"


def _numeric(a: frozenset[str], b: frozenset[str]) -> bool:
    return bool(a & {"integer", "number"}) and bool(b & {"integer", "number"})


def _is_auth_header(param: Mapping[str, Any]) -> bool:
    return param.get("in") == "header" and param.get("name", "").lower() in ("authorization",)


def _merge(old: Field | None, new: Field) -> Field:
    if old is None:
        return new
    enum = None if old.enum is None and new.enum is None else (old.enum or frozenset()) | (new.enum or frozenset())
    return Field(old.types | new.types, enum, old.required or new.required)
