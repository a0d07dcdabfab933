"""Loads `fixtures/aden.yaml`: every record goes through the same checks as over HTTP, and every journal entry
is replayed through the workflow as its fixture users, before the periods' closes are applied.

An entity's `monthly_periods: {id_prefix: P}` adds an open period (`P2026M12`, "December 2026", FY2026, quarter
4) for every month of the mock clock's year and the next that none of its fixture periods overlaps, so an entry
dated today finds a period whatever day the mock runs on. The clock is read while the fixtures are built, which
the mock pins to the instant it first built them (the state file's header): a frozen clock decides the years, and a
restart, reset or replay makes the same periods again."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from typing import Any, Callable, Mapping

from ...clock import IdGenerator
from .. import FixturesLack
from ..marshal import load
from . import journal, records, wire
from .state import AdenState, Entity, Token, User

STEPS: dict[str, Callable[..., Any]] = {
    "submit": journal.submit, "approve": journal.approve, "reject": journal.reject,
    "request-change": journal.request_change, "hold": journal.hold, "unhold": journal.unhold, "void": journal.void,
    "post": journal.post,
}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # not calendar.month_name: that follows the locale


def seed(state: AdenState, fixtures: Mapping[str, Any], ids: IdGenerator) -> None:
    for org in fixtures.get("organisations", []):
        seed_organisation(state, org, ids)
    for raw in fixtures.get("tokens", []):
        expires = raw.get("expires_at")
        token = state.tokens[raw["token"]] = Token(
            raw["token"], raw["organisation"], raw["entity"], raw["user"],
            None if expires is None else datetime.fromisoformat(str(expires).replace("Z", "+00:00")))
        state.fixture_tokens.append(token)


def seed_organisation(state: AdenState, org: Mapping[str, Any], ids: IdGenerator) -> list[Entity]:
    state.organisations[org["id"]] = org.get("name", org["id"])
    state.users[org["id"]] = {u["id"]: User(u["id"], u.get("name", u["id"]), frozenset(u.get("roles", ())))
                              for u in org.get("users", [])}
    users = list(state.users[org["id"]].values())
    admin = next((u for u in users if "admin" in u.roles), users[0])  # the author of fixture rules and closes
    entities = []
    for raw in org.get("entities", []):
        entity = state.add_entity(org["id"], raw)
        _seed_entity(entity, raw, admin, ids)
        entities.append(entity)
    return entities


def new_organisation(state: AdenState, fixtures: Mapping[str, Any], ids: IdGenerator,
                     name: str | None) -> tuple[list[Entity], list[Token]]:
    """An organisation seeded like the fixtures' first one (users and their roles; entities with their charts,
    periods, approval rules and entries) under a new id, and a new never-expiring token for every user in
    every entity. Its first entity, the tenant's, is called `name`."""
    template = (fixtures.get("organisations") or [{}])[0]
    if not template.get("users") or not template.get("entities"):
        raise FixturesLack("The aden fixtures' first organisation has no users or no entities to seed a new one "
                           "like.")
    with state.lock:
        org_id = f"org_{ids.token(6)}"
        while org_id in state.organisations:
            org_id = f"org_{ids.token(6)}"
        label = name or org_id
        raw_entities = template.get("entities", [])
        renamed = [{**raw, "name": label if i == 0 else f"{label} ({raw.get('name', raw['id'])})"}
                   for i, raw in enumerate(raw_entities)]
        entities = seed_organisation(state, {**template, "id": org_id, "name": label, "entities": renamed}, ids)
        tokens = []
        for entity in entities:
            for user in entity.users.values():
                token = Token(f"lm_aden_{ids.token(16)}", org_id, entity.entity_id, user.id)
                state.tokens[token.value] = token
                tokens.append(token)
    return entities, tokens


def _seed_entity(entity: Entity, raw: Mapping[str, Any], admin: User, ids: IdGenerator) -> None:
    for row in raw.get("accounts", []):
        records.new_account(entity, load(wire.AccountIn, row))
    for row in raw.get("periods", []):
        records.new_period(entity, load(wire.PeriodIn, row), ids, locks=row.get("locks", ()))
    for row in monthly_periods(entity, raw.get("monthly_periods")):
        records.new_period(entity, load(wire.PeriodIn, row), ids)
    for row in raw.get("approval_rules", []):
        records.new_rule(entity, admin, load(wire.RuleIn, row))
    for row in raw.get("journal_entries", []):
        fields = load(wire.EntryIn, row["entry"])
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


def monthly_periods(entity: Entity, spec: Any) -> list[dict[str, Any]]:
    """The open monthly periods `monthly_periods` asks for (see the module's docstring), as fixture rows."""
    if spec is None:
        return []
    prefix = spec.get("id_prefix") if isinstance(spec, Mapping) else None
    if not isinstance(prefix, str) or not prefix or set(spec) != {"id_prefix"}:
        raise ValueError(f"entity {entity.entity_id}: `monthly_periods` is a mapping with one key, `id_prefix`, "
                         "the start of the generated periods' ids (P makes P2026M12)")
    this_year = entity.clock.now().date().year
    taken = [p for p in entity.periods.periods.values() if not p.adjustment]
    rows = []
    for year in (this_year, this_year + 1):
        for month in range(1, 13):
            start, end = date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
            period_id = f"{prefix}{year}M{month:02d}"
            if period_id in entity.periods.periods or any(p.start <= end and start <= p.end for p in taken):
                continue  # the fixtures' own period for (part of) this month stands
            rows.append({"period_id": period_id, "period_name": f"{MONTHS[month - 1]} {year}",
                         "fiscal_year_id": f"FY{year}", "start_date": start.isoformat(),
                         "end_date": end.isoformat(), "quarter": (month - 1) // 3 + 1})
    return rows
