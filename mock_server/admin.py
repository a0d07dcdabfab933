"""The operator's API under /_mock: clock, reset, request journal, faults. Described by openapi/admin.yaml and
served through the same spec-driven pipeline as the providers; it is no provider itself (no tenant, no
fixtures), and a token guards it when one is configured (always, when the server listens beyond localhost)."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask

from . import data_dir, ui
from .errors import ApiError
from .faults import FaultError
from .providers import Call, Provider, Reply, handles
from .spec import Spec, check_handlers

if TYPE_CHECKING:
    from .app import Mock

NAME = "_mock"
PREFIX = "/_mock"


class Admin(Provider):
    name = NAME
    spec_file = "admin.yaml"

    def __init__(self, mock: "Mock"):
        super().__init__(mock.runtime, {})
        self.mock = mock

    def authenticate(self, call: Call) -> None:
        token = self.runtime.config.admin_token
        if token is None:
            return
        scheme, _, given = call.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise ApiError(401, "unauthorized", "Admin calls need `Authorization: Bearer <admin token>` "
                                                "(printed by `ledger-mock serve` at start).")

    def render_error(self, error: ApiError, request_id: str, path: str) -> dict[str, Any]:
        return {"error": error.code, "message": error.message, "requestId": request_id}

    # -- clock ----------------------------------------------------------------------------------------------

    @handles("getClock")
    def get_clock(self, call: Call) -> Reply:
        return 200, self._clock()

    @handles("setClock")
    def set_clock(self, call: Call) -> Reply:
        """Freeze or unfreeze, then set, then advance: one call can say `freeze at 2025-01-31T12:00Z`."""
        body, clock = call.body, self.clock
        if body.get("frozen") is True:
            clock.freeze()
        elif body.get("frozen") is False:
            clock.unfreeze()
        if body.get("now"):
            clock.set(_datetime(body["now"]))
        if body.get("advanceSeconds"):
            clock.advance(timedelta(seconds=float(body["advanceSeconds"])))
        return 200, self._clock()

    def _clock(self) -> dict[str, Any]:
        return {"now": self.clock.current().isoformat().replace("+00:00", "Z"), "frozen": self.clock.frozen}

    # -- state ----------------------------------------------------------------------------------------------

    @handles("reset")
    def reset(self, call: Call) -> Reply:
        body = call.body or {}
        name, tenant = body.get("provider"), body.get("tenant")
        if name is not None and name not in self.mock.providers:
            raise ApiError(404, "not_found", f"No provider {name!r} is served; served: "
                                             f"{', '.join(self.mock.providers)}.")
        if tenant is not None and name is None:
            raise ApiError(400, "validation_error", "Name the `provider` of the `tenant` to reset.")
        return 200, {"reset": self.mock.reset(name, tenant)}

    @handles("listTenants")
    def list_tenants(self, call: Call) -> Reply:
        wanted = call.query.get("provider")
        return 200, {"tenants": [{"provider": name, "id": t.id, "name": t.name}
                                 for name, provider in self.mock.providers.items() if wanted in (None, name)
                                 for t in provider.tenants()]}

    @handles("createTenant")
    def create_tenant(self, call: Call) -> Reply:
        """A fresh tenant for one CI job or one test: nothing it does is seen by any other."""
        name = call.body["provider"]
        provider = self.mock.providers.get(name)
        if provider is None:
            raise ApiError(404, "not_found", f"No provider {name!r} is served; served: "
                                             f"{', '.join(self.mock.providers)}.")
        base = call.request.host_url.rstrip("/") + self.mock.prefix_of(name)
        return 201, provider.create_tenant(base, call.body.get("name"))

    @handles("loadFixtures")
    def load_fixtures(self, call: Call) -> Reply:
        if not isinstance(call.body, dict):
            raise ApiError(400, "validation_error", "Fixtures are a mapping of provider name to its seed data.")
        try:
            return 200, {"reset": self.mock.load_fixtures(call.body)}
        except ValueError as exc:
            raise ApiError(400, "validation_error", f"These fixtures cannot be loaded: {exc}.") from None
        except (KeyError, TypeError) as exc:
            raise ApiError(400, "validation_error", f"These fixtures cannot be loaded: missing or malformed {exc}.") from None

    @handles("exportState")
    def export_state(self, call: Call) -> Reply:
        return 200, self.mock.export()

    @handles("importState")
    def import_state(self, call: Call) -> Reply:
        self.mock.load(self.mock.app, call.body)
        return 200, {"records": len(self.mock.writes)}

    @handles("listJournal")
    def list_journal(self, call: Call) -> Reply:
        q = call.query
        return 200, {"entries": self.mock.journal.query(provider=q.get("provider"), tenant=q.get("tenant"),
                                                        operation=q.get("operation"), status=q.get("status"),
                                                        limit=q.get("limit", 50))}

    # -- faults ---------------------------------------------------------------------------------------------

    @handles("listFaults")
    def list_faults(self, call: Call) -> Reply:
        return 200, {"faults": [fault.public() for fault in self.mock.faults.list()]}

    @handles("addFault")
    def add_fault(self, call: Call) -> Reply:
        try:
            return 201, self.mock.faults.add(call.body).public()
        except (FaultError, TypeError, ValueError) as exc:
            raise ApiError(400, "validation_error", str(exc)) from None

    @handles("clearFaults")
    def clear_faults(self, call: Call) -> Reply:
        self.mock.faults.clear()
        return 200, {"faults": []}

    @handles("deleteFault")
    def delete_fault(self, call: Call) -> Reply:
        if not self.mock.faults.remove(call.path["id"]):
            raise ApiError(404, "not_found", f"No fault {call.path['id']!r}.")
        return 200, {"id": call.path["id"]}


def mount(app: Flask, mock: "Mock") -> None:
    """The admin provider (its operations are routed with the providers') and the inspector's pages."""
    mock.admin = Admin(mock)
    spec = Spec(data_dir("openapi") / Admin.spec_file, validate_responses=mock.config.validate_responses)
    check_handlers(spec, Admin.handlers, NAME)
    mock.admin.spec = spec
    ui.mount(app, mock)


def _datetime(text: str):
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
