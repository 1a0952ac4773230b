"""The emulated company's in-memory state: entities as QBO JSON dicts, SyncTokens, tombstones, requestids.

Entities are kept in their wire shape (Decimal for amounts) so what a client writes is what it reads
back. One re-entrant lock serialises every mutation, which is also what makes ``requestid`` replay safe
under concurrent retries.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from connectors.quickbooks.emulator import faults
from connectors.sandbox.generator import country_of_currency

T = TypeVar("T")

KINDS = ("Customer", "Invoice", "Payment", "CreditMemo", "Account", "Purchase", "Deposit")

Entity = dict[str, Any]
Listener = Callable[[str, str, str, datetime], None]  # kind, id, operation, when


def utcnow() -> datetime:
    return datetime.now(UTC)


def qbo_time(moment: datetime) -> str:
    """QBO's MetaData timestamp format (ISO 8601 with offset, second precision)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@dataclass
class CachedResponse:
    status: int
    body: bytes


@dataclass
class QboStore:
    realm_id: str
    company_name: str
    currency: str = "GBP"
    # CompanyInfo.Country: the regional edition's code (QBO gives "US", "CA", "GB", "AU"); by default the
    # home currency's country.
    country: str = ""
    clock: Callable[[], datetime] = utcnow
    lock: threading.RLock = field(default_factory=threading.RLock)
    entities: dict[str, dict[str, Entity]] = field(default_factory=lambda: {k: {} for k in KINDS})
    deleted: dict[str, dict[str, datetime]] = field(default_factory=lambda: {k: {} for k in KINDS})
    # Sales-form custom fields the company has defined: DefinitionId -> Name (QBO allows three).
    custom_fields: dict[str, str] = field(default_factory=dict)
    responses: dict[str, CachedResponse] = field(default_factory=dict)
    listeners: list[Listener] = field(default_factory=list)
    _last_id: int = 0

    def __post_init__(self) -> None:
        self.country = self.country or country_of_currency(self.currency)

    def new_id(self) -> str:
        """Next numeric string Id (QBO Ids are numeric strings unique within a company)."""
        with self.lock:
            self._last_id += 1
            return str(self._last_id)

    def get(self, kind: str, entity_id: str) -> Entity:
        """The live entity (callers mutate it only under ``lock``); raises Fault 610."""
        try:
            return self.entities[kind][str(entity_id)]
        except KeyError:
            raise faults.not_found(kind, str(entity_id)) from None

    def snapshot(self, kind: str, entity_id: str) -> Entity:
        """A deep copy safe to serialise outside the lock."""
        with self.lock:
            return copy.deepcopy(self.get(kind, entity_id))

    def all(self, kind: str) -> list[Entity]:
        """Deep copies of every live entity of ``kind``, in Id order."""
        return self.read(kind, lambda items: items)

    def read(self, kind: str, view: Callable[[list[Entity]], T]) -> T:
        """``view`` of the live entities of ``kind`` (in Id order, not to be modified), computed under the
        lock; only what it returns is deep-copied (a query page, not the whole table)."""
        with self.lock:
            return copy.deepcopy(view(sorted(self.entities[kind].values(), key=lambda e: int(e["Id"]))))

    def insert(self, kind: str, entity: Entity, *, notify: bool = True,
               created: datetime | None = None) -> Entity:
        """Store a new entity, assigning Id, SyncToken and MetaData."""
        with self.lock:
            when = created or self.clock()
            if "Id" not in entity:  # not setdefault: that would spend an id even when one is given
                entity["Id"] = self.new_id()
            entity["SyncToken"] = "0"
            entity["domain"] = "QBO"
            entity["sparse"] = False
            entity["MetaData"] = {"CreateTime": qbo_time(when), "LastUpdatedTime": qbo_time(when)}
            self.entities[kind][entity["Id"]] = entity
            if notify:
                self._notify(kind, entity["Id"], "Create", when)
            return entity

    def touch(self, kind: str, entity: Entity, operation: str = "Update", *, notify: bool = True) -> None:
        """Record a change: bump SyncToken and LastUpdatedTime, tell webhook listeners."""
        with self.lock:
            when = self.clock()
            entity["SyncToken"] = str(int(entity["SyncToken"]) + 1)
            entity["MetaData"]["LastUpdatedTime"] = qbo_time(when)
            if notify:
                self._notify(kind, entity["Id"], operation, when)

    def remove(self, kind: str, entity_id: str) -> Entity:
        """Delete an entity, leaving a tombstone for CDC."""
        with self.lock:
            entity = self.entities[kind].pop(entity_id)
            when = self.clock()
            self.deleted[kind][entity_id] = when
            self._notify(kind, entity_id, "Delete", when)
            return entity

    def current(self, kind: str, body: dict[str, Any]) -> Entity:
        """The stored entity an update ``body`` names by Id, if the body carries its current SyncToken
        (optimistic locking: Fault 5010 otherwise). Call with the lock held."""
        entity = self.get(kind, str(body.get("Id")))
        sent = body.get("SyncToken")
        if sent is None or str(sent) == "":
            raise faults.required("SyncToken")
        if str(sent) != entity["SyncToken"]:
            raise faults.stale(kind, entity["Id"], str(sent), entity["SyncToken"])
        return entity

    def _notify(self, kind: str, entity_id: str, operation: str, when: datetime) -> None:
        for listener in list(self.listeners):
            listener(kind, entity_id, operation, when)
