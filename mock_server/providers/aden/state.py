"""Aden's backend: organisations (tenants) holding entities (one book each), users with approval roles, and
the opaque fixture tokens that name an organisation, an entity and a user."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping

from ...clock import Clock, IdGenerator
from ...idempotency import IdempotencyStore
from ...ledger import Book
from ...ledger.book import status_and_date
from ...ledger.periods import Calendar

IDEMPOTENCY_TTL = timedelta(hours=24)  # D4


@dataclass(frozen=True)
class User:
    id: str
    name: str
    roles: frozenset[str]


@dataclass(frozen=True)
class Token:
    value: str
    organisation_id: str
    entity_id: str
    user_id: str
    expires_at: datetime | None = None  # on the mock clock; None never expires


@dataclass
class Entity:
    """One legal entity's books. Its book's lock guards the periods and rules too, so checks stay atomic.
    Entity ids repeat across organisations (`main`), so the tenant id (`id`: journal, faults, inspector) is
    `organisation/entity`."""

    organisation_id: str
    entity_id: str
    name: str
    currency: str
    auto_post: bool
    book: Book
    periods: Calendar
    clock: Clock
    idempotency: IdempotencyStore
    users: Mapping[str, User]
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.organisation_id}/{self.entity_id}"

    @property
    def lock(self):
        return self.book.lock


class AdenState:
    def __init__(self, clock: Clock, ids: IdGenerator):
        self.clock, self.ids = clock, ids
        self.entities: dict[tuple[str, str], Entity] = {}
        self.users: dict[str, dict[str, User]] = {}  # organisation -> user id -> user
        self.tokens: dict[str, Token] = {}
        self.fixture_tokens: list[Token] = []  # what `credentials()` shows; created tenants' tokens stay apart
        self.organisations: dict[str, str] = {}  # id -> name
        self.lock = threading.Lock()  # guards adding organisations, entities and tokens

    def add_entity(self, organisation_id: str, raw: Mapping[str, Any]) -> Entity:
        book = Book(f"{organisation_id}/{raw['id']}", clock=self.clock, ids=self.ids,
                    currency=raw.get("currency", "USD"), line_ids=False)  # Aden shows line numbers, no ids
        book.add_entry_index("status", status_and_date)  # the journal-entry list's status filter
        entity = Entity(organisation_id, raw["id"], raw.get("name", raw["id"]), book.currency,
                        bool(raw.get("auto_post", True)), book, Calendar(self.clock, book.lock), self.clock,
                        IdempotencyStore(self.clock, IDEMPOTENCY_TTL), self.users[organisation_id])
        self.entities[(organisation_id, entity.entity_id)] = entity
        return entity

    def caller(self, token: Token) -> tuple[Entity, User]:
        return self.entities[(token.organisation_id, token.entity_id)], \
            self.users[token.organisation_id][token.user_id]
