"""Which spec operation a request is for, by path and method.

The paths form a tree of segments in which a static segment shadows a path parameter at the same place for
every method: `/journal-entries/bulk` is the bulk path, so DELETE there is a 405, never a lookup of the id
"bulk", as the spec's more specific path should be. (Werkzeug's URL map did this before, through a converter; it
also compiled a URL builder per rule, a sixth of startup, and left a reference cycle behind every match.)
"""

from __future__ import annotations

from werkzeug.exceptions import MethodNotAllowed, NotFound


class _Node:
    __slots__ = ("static", "parameter", "methods", "greedy")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.parameter: _Node | None = None
        self.methods: dict[str, tuple[str, tuple[str, ...]]] = {}  # method -> (endpoint, parameter names)
        self.greedy = False  # a last path parameter that takes the rest of the path, slashes included


class Routes:
    def __init__(self) -> None:
        self._root = _Node()

    def add(self, path: str, method: str, endpoint: str, greedy: str | None = None) -> None:
        """`path` as the spec writes it (`/journal-entries/{id}`), after its mount's prefix; `greedy` names a last
        parameter whose value may hold slashes (`x-ledger-mock-greedy`), such as Aden's `org/entity` tenants."""
        node, names = self._root, []
        for part in path[1:].split("/"):
            if part.startswith("{") and part.endswith("}"):
                names.append(part[1:-1])
                node.parameter = node.parameter or _Node()
                node = node.parameter
                node.greedy = node.greedy or part[1:-1] == greedy
            else:
                node = node.static.setdefault(part, _Node())
        node.methods[method] = (endpoint, tuple(names))

    def match(self, path: str, method: str) -> tuple[str, dict[str, str]]:
        """The endpoint and path parameters; NotFound, or MethodNotAllowed naming the methods the path has."""
        node: _Node | None = self._root
        values = []
        parts = path[1:].split("/")
        for index, part in enumerate(parts):
            found = node.static.get(part)
            if found is None and part and node.parameter is not None:
                found = node.parameter
                if found.greedy:
                    values.append("/".join(parts[index:]))
                    node = found
                    break
                values.append(part)
            if found is None:
                raise NotFound()
            node = found
        target = node.methods.get(method) or (node.methods.get("GET") if method == "HEAD" else None)
        if target is None:
            if not node.methods:
                raise NotFound()
            allowed = set(node.methods) | ({"HEAD"} if "GET" in node.methods else set())
            raise MethodNotAllowed(valid_methods=sorted(allowed))
        endpoint, names = target
        return endpoint, dict(zip(names, values))
