"""The operator's API under /_mock: clock, reset, request journal, faults. Described by openapi/admin.yaml and
served through the same spec-driven pipeline as the providers; it is no provider itself (no tenant, no
fixtures), and a token guards it when one is configured (always, when the server listens beyond localhost)."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from typing import Any

from . import data_dir
from .clock import ClockOutOfRange
from .errors import ApiError, excerpt
from .faults import FaultError
from .mock import ADMIN, ADMIN_PREFIX, Mock
from .providers import Call, FixturesLack, Provider, Reply, handles
from .spec import Spec, check_handlers

NAME, PREFIX = ADMIN, ADMIN_PREFIX


class Admin(Provider):
    name = NAME
    spec_file = "admin.yaml"

    def __init__(self, mock: Mock):
        super().__init__(mock.runtime, {})
        self.mock = mock
        self.spec = Spec(data_dir("openapi") / self.spec_file, validate_responses=mock.config.validate_responses)
        check_handlers(self.spec, self.handlers, NAME)

    def authenticate(self, call: Call) -> None:
        token = self.runtime.config.admin_token
        if token is None or call.replaying:  # a recorded admin call was authorised when it first ran
            return
        scheme, _, given = call.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise ApiError(401, "unauthorized", "Admin calls need `Authorization: Bearer <admin token>` "
                                                "(printed by `ledger-mock serve` at start).")

    def render_error(self, error: ApiError, request_id: str, path: str) -> dict[str, Any]:
        return {"error": error.code, "message": error.message, "requestId": request_id}

    def dispatch(self, call: Call) -> Reply:
        try:
            return super().dispatch(call)
        except FixturesLack as exc:  # the fixtures this server runs with lack what the call needs
            raise ApiError(409, "conflict", str(exc)) from None

    # -- clock ----------------------------------------------------------------------------------------------

    @handles("getClock")
    def get_clock(self, call: Call) -> Reply:
        return 200, self._clock()

    @handles("setClock")
    def set_clock(self, call: Call) -> Reply:
        """Freeze or unfreeze, then set, then advance: one call can say `freeze at 2025-01-31T12:00Z`."""
        body, clock = call.body, self.clock
        before = clock.state()
        try:
            if body.get("frozen") is True:
                clock.freeze()
            elif body.get("frozen") is False:
                clock.unfreeze()
            if body.get("now"):
                clock.set(datetime.fromisoformat(body["now"].replace("Z", "+00:00")))
            if body.get("advanceSeconds"):
                clock.advance(timedelta(seconds=float(body["advanceSeconds"])))
        except (ClockOutOfRange, ValueError, OverflowError) as exc:
            clock.restore(before)  # all of the call or none of it
            raise ApiError(400, "validation_error", f"{str(exc).rstrip('.')}.") from None
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
        limit = self.runtime.config.max_tenants
        if len(self.mock.created) >= limit and not call.replaying:  # a recorded one was within the limit
            raise ApiError(409, "conflict", f"This server holds the most tenants it may ({limit}, `serve "
                                            "--max-tenants`); delete some with DELETE /_mock/tenants/{tenant}.")
        base = call.request.host_url.rstrip("/") + self.mock.prefix_of(name)
        created = provider.create_tenant(base, call.body.get("name"))
        call.tenant = created["tenant"]  # the write log files this change under the tenant it made
        self.mock.created[(name, created["tenant"])] = call.body.get("name") or created["tenant"]
        return 201, created

    @handles("getCredentials")
    def get_credentials(self, call: Call) -> Reply:
        """One served provider's credentials, or every served provider's by name (those whose fixtures define
        some: a fixtures file may seed only the providers its user works with)."""
        base = call.request.host_url.rstrip("/")
        name = call.query.get("provider")
        if name is None:
            every = {}
            for name, provider in self.mock.providers.items():
                try:
                    every[name] = provider.credentials(base + self.mock.prefix_of(name))
                except FixturesLack:
                    pass
            return 200, every
        provider = self.mock.providers.get(name)
        if provider is None:
            raise ApiError(404, "not_found", f"No provider {excerpt(name)!r} is served; served: "
                                             f"{', '.join(self.mock.providers)}.")
        return 200, provider.credentials(base + self.mock.prefix_of(name))

    @handles("deleteTenant")
    def delete_tenant(self, call: Call) -> Reply:
        return 200, self.mock.delete_tenant(call.path["tenant"], call.query.get("provider"))

    @handles("loadFixtures")
    def load_fixtures(self, call: Call) -> Reply:
        if not isinstance(call.body, dict):
            raise ApiError(400, "validation_error", "Fixtures are a mapping of provider name to its seed data.")
        own = None if call.replaying else call.own_record()
        return 200, {"reset": self.mock.load_fixtures(call.body, own)}

    @handles("exportState")
    def export_state(self, call: Call) -> Reply:
        return 200, self.mock.export()

    @handles("importState")
    def import_state(self, call: Call) -> Reply:
        return 200, {"records": self.mock.load(call.body)}

    @handles("listJournal")
    def list_journal(self, call: Call) -> Reply:
        q = call.query
        return 200, {"entries": self.mock.journal.query(provider=q.get("provider"), tenant=q.get("tenant"),
                                                        operation=q.get("operation"), status=q.get("status"),
                                                        limit=q.get("limit", 50))}

    @handles("getCoverage")
    def get_coverage(self, call: Call) -> Reply:
        """What clients exercised of each provider's API since its last reset, and what they never did."""
        name, tenant = call.query.get("provider"), call.query.get("tenant")
        if not self.mock.config.coverage:
            raise ApiError(404, "not_found", "Coverage is not counted: the server runs with --no-coverage.")
        served = self.mock.providers
        if name is not None and name not in served:
            raise ApiError(404, "not_found", f"No provider {excerpt(name)!r} is served; served: {', '.join(served)}.")
        if tenant is not None and name is None:
            raise ApiError(400, "validation_error", "Name the `provider` of the `tenant`.")
        chosen = {n: p for n, p in served.items() if name in (None, n)}
        return 200, self.mock.coverage.report(chosen, tenant)

    # -- faults ---------------------------------------------------------------------------------------------

    @handles("listFaults")
    def list_faults(self, call: Call) -> Reply:
        return 200, {"faults": [fault.public() for fault in self.mock.faults.list()]}

    @handles("addFault")
    def add_fault(self, call: Call) -> Reply:
        try:
            return 201, self.mock.faults.add(call.body).public()
        except FaultError as exc:
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
