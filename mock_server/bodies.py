"""What a request body may hold, read once and defensively: JSON with every number a Decimal and at most
MAX_DEPTH levels deep, and YAML whose aliases cannot blow a small document up into a huge one.

Everything downstream (schema validation, the providers, the journal, the write log) may then walk a body
without caring how hostile its sender was."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

from .errors import ApiError

MAX_DEPTH = 64  # no provider's body nests a tenth as deep
MAX_GROWTH = 10  # YAML aliases may repeat what a document holds at most this many times over...
MIN_BUDGET = 10_000  # ...once it is past this many nodes
MAX_NODES = 2_000_000


def read_json(raw: bytes) -> Any:
    """Parse a JSON body with every number as Decimal: money never passes through float. Refused with a 400:
    malformed JSON, lone surrogates, NaN or Infinity, numbers beyond a double's range, nesting deeper than
    MAX_DEPTH."""
    try:
        shape = orjson.loads(raw)  # strict UTF-8, no lone surrogates, nesting bounded, all in C
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "validation_error", f"Malformed JSON body: {exc}.") from None
    if nests_deeper(shape, MAX_DEPTH, raw):
        raise ApiError(400, "validation_error", f"The body nests more than {MAX_DEPTH} levels deep.")
    try:  # json.loads, less building a decoder per call
        return _DECIMALS.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ApiError(400, "validation_error", f"Malformed JSON body: {exc}.") from None


def read_yaml(raw: bytes | str) -> Any:
    import yaml  # only here: importing PyYAML is a tenth of startup

    try:
        document = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, RecursionError) as exc:
        raise ApiError(400, "validation_error", f"Malformed YAML body: {exc}.") from None
    too_large(document)
    return document


def nests_deeper(value: Any, limit: int, raw: bytes | None = None) -> bool:
    """Whether `value` (parsed from `raw`, when given) nests more than `limit` levels deep, without recursion."""
    if raw is not None and raw.count(b"[") + raw.count(b"{") <= limit:  # fewer brackets cannot nest too deep
        return False
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return False


def too_large(document: Any) -> None:
    """Refuse a document whose aliases repeat its content more than MAX_GROWTH times over (a few hundred bytes
    of YAML can otherwise stand for gigabytes once written out), or that nests deeper than MAX_DEPTH. The
    aliases first: the depth walk follows every alias, and before them 369 bytes of nested aliases held a server
    for most of a minute."""
    distinct = count_nodes(document, distinct=True, budget=MAX_NODES)
    budget = min(MAX_NODES, max(MIN_BUDGET, MAX_GROWTH * distinct))
    if count_nodes(document, distinct=False, budget=budget) > budget:
        raise ApiError(400, "validation_error", f"The document's aliases expand it beyond {budget} nodes; write "
                                                "the repeated parts out, or repeat them less.")
    if nests_deeper(document, MAX_DEPTH):
        raise ApiError(400, "validation_error", f"The document nests more than {MAX_DEPTH} levels deep.")


def count_nodes(document: Any, *, distinct: bool = False, budget: int) -> int:
    """Nodes in `document` (each shared node once when `distinct`), counting no further than `budget` + 1."""
    seen: set[int] = set()
    stack, total = [document], 0
    while stack and total <= budget:
        node = stack.pop()
        if distinct:
            if id(node) in seen:
                continue
            seen.add(id(node))
        total += 1
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return total


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECIMALS = json.JSONDecoder(parse_float=Decimal, parse_constant=_refuse_constant)
