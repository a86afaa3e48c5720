"""Wiring shared by the processes: database sessions, the event store, the current registry.

A deployment may hold several halls (docs/MULTI-HALL.md). `registry()` is one hall:
the one asked for, else the one `hall_chooser` names (the web app's: the hall of the
request), else the first, which is the whole of a single-hall deployment. A past day is
read with the registry as it stood at the end of that day (`registry_on`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from hallwatch.config import Settings
from hallwatch.daycache import DayEvents
from hallwatch.events import Event
from hallwatch.influx.client import InfluxClient
from hallwatch.influx.eventstore import EventStore
from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from hallwatch.registry.deployment import Deployment
from hallwatch.registry.load import load_deployment, registry_revision
from hallwatch.registry.spec import Registry
from hallwatch.registry.versions import keep_history, registry_for_day
from hallwatch.schedule import day_of, local_midnight
from hallwatch.state import HallState, hall_at

log = logging.getLogger(__name__)

REGISTRY_TTL_S = 5.0  # how stale the web's view of the registry may be


@dataclass
class Runtime:
    """The connections one HallWatch process needs, made from Settings (nothing at import)."""

    settings: Settings
    sessions: sessionmaker[Session]
    influx: InfluxClient
    store: EventStore
    today: DayEvents | None = None  # the first hall's day in memory (None: always read)
    hall_chooser: Callable[[], str | None] | None = None
    _deployment: Deployment | None = None
    _registry_at: float = 0.0
    _revision: int = -1  # registry_revision() when _deployment was read
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _days: dict[str, DayEvents] = field(default_factory=dict)  # hall id → its day in memory
    _history_kept: bool = False  # a database from before versions has been given its first

    @classmethod
    def from_settings(
        cls, settings: Settings, influx_access: str = "read", schema: bool = True
    ) -> Runtime:
        """`influx_access` picks the InfluxDB account: "write" for the collector, else "read".
        `schema=False` leaves the tables to `ensure_schema()` (the database may be down)."""
        engine = make_engine(settings.sqlalchemy_url())
        if schema:
            create_schema(engine)
        auth = settings.influx_auth(influx_access)
        influx = InfluxClient(
            settings.influx_url, settings.influx_db, auth.username, auth.password, auth.token
        )
        store = EventStore(influx)
        return cls(settings, make_session_factory(engine), influx, store, DayEvents(store))

    def ensure_schema(self) -> None:
        create_schema(self.sessions.kw["bind"])

    def deployment(self, fresh: bool = False) -> Deployment:
        """Every hall, looked up in the database at most every few seconds (`fresh`: now).

        Re-read only when an import has counted a new revision since the last read. An
        unchanged snapshot keeps its object (and so do its halls), so what is cached per
        registry (the live tracker) survives the re-read. Read outside the lock: the other
        threads go on with the previous snapshot meanwhile.
        """
        with self._lock:
            current = self._deployment
            stale = time.monotonic() - self._registry_at > REGISTRY_TTL_S
            if current is not None and not (fresh or stale):
                return current
            self._registry_at = time.monotonic()  # the others keep `current` meanwhile
        with self.sessions() as session:
            # The revision before the rows: an import in between costs one more read, never
            # a missed one.
            revision = registry_revision(session)
            if current is not None and revision == self._revision:
                return current
            loaded = load_deployment(session)
        with self._lock:
            self._revision = revision
            if self._deployment is None or loaded != self._deployment:
                self._deployment = _keeping_unchanged_halls(self._deployment, loaded)
            return self._deployment

    def registry(self, fresh: bool = False, hall: str | None = None) -> Registry:
        """One hall (`hall`, else the chooser's, else the first); UnknownHall if there is none."""
        if hall is None and self.hall_chooser is not None:
            hall = self.hall_chooser()
        return self.deployment(fresh).hall(hall)

    def registry_on(
        self, day: date, hall: str | None = None, now: datetime | None = None
    ) -> Registry:
        """One hall as it stood at the end of `day` (today, or a day to come: as it is now)."""
        return self.day_registry(self.registry(hall=hall), day, now or datetime.now(UTC))

    def day_registry(self, current: Registry, day: date, now: datetime) -> Registry:
        """The hall of `current` (a hall of the current registry) as it stood at the end of
        `day`: the registry that day is replayed, counted and reported with."""
        if day >= day_of(current.hall, now):
            return current
        if not self._history_kept:
            self._keep_history()
        with self.sessions() as session:
            then = registry_for_day(session, current.hall, day, now)
        return then.by_id.get(current.hall.id) or current  # a hall added since: as it is

    def _keep_history(self) -> None:
        """Keep the first version of a database from before versions, once per process. A
        read-only database account cannot: past days then read the rows' own history."""
        try:
            with self.sessions() as session, session.begin():
                keep_history(session, registry_revision(session))
        except DBAPIError as exc:
            log.warning("cannot keep the registry's first version (a read-only account?): %s", exc)
        self._history_kept = True

    def registry_through(self, end: datetime, now: datetime, hall: str | None = None) -> Registry:
        """The registry a report of a range ending at `end` names things by: its last day's."""
        current = self.registry(hall=hall)
        last = min(end, now) - timedelta(microseconds=1)
        return self.day_registry(current, day_of(current.hall, last), now)

    def hall_devices(self, registry: Registry) -> frozenset[str] | None:
        """The devices a hall's reads of the event store keep (None: all, for one hall)."""
        return self.deployment().own_devices(registry)

    def stored_history(self, registry: Registry, day_start: datetime, at: datetime) -> list[Event]:
        """The hall's day from `day_start` to `at`, with its carry-over, read from InfluxDB."""
        return self.store.day_history(day_start, at, self.hall_devices(registry))

    def history(self, registry: Registry, at: datetime) -> list[Event]:
        """The events the state function needs at `at`: today's from memory, a past day's read."""
        hall = registry.hall
        today = self._today_of(registry, at)
        if today is not None:
            return today.history(hall, at)
        return self.stored_history(registry, local_midnight(hall, day_of(hall, at)), at)

    def hall_state(self, at: datetime, hall: str | None = None) -> tuple[Registry, HallState]:
        """The hall at `at`: today's kept up incrementally, a past day's replayed from InfluxDB
        with the registry of that day."""
        registry = self.registry(hall=hall)
        registry = self.day_registry(registry, day_of(registry.hall, at), datetime.now(UTC))
        today = self._today_of(registry, at)
        if today is not None:
            return registry, today.state(registry, at)
        return registry, hall_at(registry, self.history(registry, at), at)

    def _today_of(self, registry: Registry, at: datetime) -> DayEvents | None:
        """The hall's day in memory when `at` is on its today, else None (read the store).

        A hall whose devices changed (an import) starts a new day in memory: the old one
        holds only the devices it was read for.
        """
        hall = registry.hall
        if self.today is None or day_of(hall, at) != day_of(hall, datetime.now(UTC)):
            return None
        devices = self.hall_devices(registry)
        with self._lock:
            if not self._days and self.today.devices == devices:
                self._days[hall.id] = self.today
            found = self._days.get(hall.id)
            if found is None or found.devices != devices:
                found = self._days[hall.id] = DayEvents(self.store, self.today.clock, devices)
            return found


def _keeping_unchanged_halls(old: Deployment | None, new: Deployment) -> Deployment:
    """`new`, with each hall equal to one of `old` kept as that object (its caches live on)."""
    if old is None:
        return new
    return Deployment(
        tuple(old.by_id.get(r.hall.id) if old.by_id.get(r.hall.id) == r else r for r in new.halls)
    )
