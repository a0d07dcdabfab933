"""Loads `fixtures/aden.yaml`: every record goes through the same checks as over HTTP, and every journal entry
is replayed through the workflow as its fixture users, before the periods' closes are applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping

from ...clock import IdGenerator
from ..marshal import load
from . import journal, records, wire
from .state import AdenState, Entity, Token, User

STEPS: dict[str, Callable[..., Any]] = {
    "submit": journal.submit, "approve": journal.approve, "reject": journal.reject,
    "request-change": journal.request_change, "hold": journal.hold, "unhold": journal.unhold, "void": journal.void,
    "post": journal.post,
}


def seed(state: AdenState, fixtures: Mapping[str, Any], ids: IdGenerator) -> None:
    for org in fixtures.get("organisations", []):
        state.users[org["id"]] = {u["id"]: User(u["id"], u.get("name", u["id"]), frozenset(u.get("roles", ())))
                                  for u in org.get("users", [])}
        users = list(state.users[org["id"]].values())
        admin = next((u for u in users if "admin" in u.roles), users[0])  # the author of fixture rules and closes
        for raw in org.get("entities", []):
            _seed_entity(state.add_entity(org["id"], raw), raw, admin, ids)
    for raw in fixtures.get("tokens", []):
        expires = raw.get("expires_at")
        state.tokens[raw["token"]] = Token(
            raw["token"], raw["organisation"], raw["entity"], raw["user"],
            None if expires is None else datetime.fromisoformat(str(expires).replace("Z", "+00:00")))


def _seed_entity(entity: Entity, raw: Mapping[str, Any], admin: User, ids: IdGenerator) -> None:
    for row in raw.get("accounts", []):
        records.new_account(entity, load(wire.AccountIn(), row))
    for row in raw.get("periods", []):
        records.new_period(entity, load(wire.PeriodIn(), row), ids, locks=row.get("locks", ()))
    for row in raw.get("approval_rules", []):
        records.new_rule(entity, admin, load(wire.RuleIn(), row))
    for row in raw.get("journal_entries", []):
        fields = load(wire.EntryIn(), row["entry"])
        for action, user_id, *args in row["steps"]:
            user = entity.users[user_id]
            if action == "create":
                journal.create(entity, user, fields)
            else:
                STEPS[action](entity, user, fields["journal_entry_id"], *args)
    for row in raw.get("periods", []):
        if row.get("closed") or row.get("hard_closed"):
            entity.periods.close(row["period_id"], final=bool(row.get("hard_closed")), closed_by=admin.id,
                                 closed_at=entity.clock.now(), close_type="all")
