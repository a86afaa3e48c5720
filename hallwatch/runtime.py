"""Wiring shared by the processes: database sessions, the event store, the current registry."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from hallwatch.config import Settings
from hallwatch.daycache import DayEvents
from hallwatch.events import Event
from hallwatch.influx.client import InfluxClient
from hallwatch.influx.eventstore import EventStore
from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from hallwatch.registry.spec import HallSettings, Registry
from hallwatch.registry.store import load_registry
from hallwatch.schedule import day_of, local_midnight
from hallwatch.state import HallState, hall_at

REGISTRY_TTL_S = 5.0  # how stale the web's view of the registry may be


@dataclass
class Runtime:
    """The connections one HallWatch process needs, made from Settings (nothing at import)."""

    settings: Settings
    sessions: sessionmaker[Session]
    influx: InfluxClient
    store: EventStore
    today: DayEvents | None = None
    _registry: Registry | None = None
    _registry_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings, influx_access: str = "read") -> Runtime:
        """`influx_access` picks the InfluxDB account: "write" for the collector, else "read"."""
        engine = make_engine(settings.sqlalchemy_url())
        create_schema(engine)
        auth = settings.influx_auth(influx_access)
        influx = InfluxClient(
            settings.influx_url, settings.influx_db, auth.username, auth.password, auth.token
        )
        store = EventStore(influx)
        return cls(settings, make_session_factory(engine), influx, store, DayEvents(store))

    def registry(self, fresh: bool = False) -> Registry:
        """The current registry, re-read from the database at most every few seconds.

        An unchanged snapshot keeps its object, so what is cached per registry
        (the live tracker) survives the re-read. Read outside the lock: the other
        threads go on with the previous snapshot meanwhile.
        """
        with self._lock:
            current = self._registry
            stale = time.monotonic() - self._registry_at > REGISTRY_TTL_S
            if current is not None and not (fresh or stale):
                return current
            self._registry_at = time.monotonic()  # the others keep `current` meanwhile
        with self.sessions() as session:
            loaded = load_registry(session)
        with self._lock:
            if self._registry is None or loaded != self._registry:
                self._registry = loaded
            return self._registry

    def history(self, registry: Registry, at: datetime) -> list[Event]:
        """The events the state function needs at `at`: today's from memory, a past day's read."""
        hall = registry.hall
        if self._is_today(hall, at):
            assert self.today is not None
            return self.today.history(hall, at)
        return self.store.day_history(local_midnight(hall, day_of(hall, at)), at)

    def hall_state(self, at: datetime) -> tuple[Registry, HallState]:
        """The hall at `at`: today's kept up incrementally, a past day's replayed from InfluxDB."""
        registry = self.registry()
        if self._is_today(registry.hall, at):
            assert self.today is not None
            return registry, self.today.state(registry, at)
        return registry, hall_at(registry, self.history(registry, at), at)

    def _is_today(self, hall: HallSettings, at: datetime) -> bool:
        return self.today is not None and day_of(hall, at) == day_of(hall, datetime.now(UTC))
