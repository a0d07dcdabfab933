"""Direct questions a plugin asks a target about rules random data rarely reaches (a balanced-entry rule
needs two real accounts; a signature check needs a signature that is wrong in exactly one way)."""

from __future__ import annotations

from dataclasses import dataclass

import requests


@dataclass
class Probe:
    operation: str  # "METHOD /spec/path", as schemathesis labels operations
    rule: str
    response: requests.Response
    expected: set[int]

    @property
    def held(self) -> bool:
        return self.response.status_code in self.expected
