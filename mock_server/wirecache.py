"""Encoded wire records, reused while they cannot have changed.

A list page encodes each of its records again on every read, and the same pages are read again and again (a
client polling, a test suite listing after each change). Records are immutable (a change replaces the object),
so an identity check says whether one changed; `depends` is whatever else its encoding shows (COUNT: the
accounts' names, through the book's account version), compared by value.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable

import orjson


class WireCache:
    def __init__(self, size: int = 4096):
        self.size = size
        self._encoded: OrderedDict[Hashable, tuple[object, Any, orjson.Fragment]] = OrderedDict()
        self._lock = threading.Lock()

    def encoded(self, key: Hashable, record: object, depends: Any, build: Callable[[], Any]) -> orjson.Fragment:
        """`build()` encoded, or the encoding kept from the last time for this very `record` and `depends`."""
        with self._lock:
            kept = self._encoded.get(key)
            if kept is not None and kept[0] is record and kept[1] == depends:
                self._encoded.move_to_end(key)
                return kept[2]
        # A copy of exactly the encoded size: orjson's own result keeps a larger allocation behind it.
        fragment = orjson.Fragment(memoryview(orjson.dumps(build())).tobytes())
        with self._lock:
            self._encoded[key] = (record, depends, fragment)
            self._encoded.move_to_end(key)
            if len(self._encoded) > self.size:
                self._encoded.popitem(last=False)
        return fragment
