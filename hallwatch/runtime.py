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
from hallwatch.registry.spec import Registry
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
    def from_settings(cls, settings: Settings) -> Runtime:
        engine = make_engine(settings.sqlalchemy_url())
        create_schema(engine)
        influx = InfluxClient(
            settings.influx_url,
            settings.influx_db,
            settings.influx_user,
            settings.influx_password,
            settings.influx_token,
        )
        store = EventStore(influx)
        return cls(settings, make_session_factory(engine), influx, store, DayEvents(store))

    def registry(self, fresh: bool = False) -> Registry:
        """The current registry, re-read from the database at most every few seconds."""
        with self._lock:
            stale = time.monotonic() - self._registry_at > REGISTRY_TTL_S
            if fresh or stale or self._registry is None:
                with self.sessions() as session:
                    self._registry = load_registry(session)
                self._registry_at = time.monotonic()
            return self._registry

    def history(self, registry: Registry, at: datetime) -> list[Event]:
        """The events the state function needs at `at`: today's from memory, a past day's read."""
        hall = registry.hall
        if self.today is not None and day_of(hall, at) == day_of(hall, datetime.now(UTC)):
            return self.today.history(hall, at)
        return self.store.day_history(local_midnight(hall, day_of(hall, at)), at)

    def hall_state(self, at: datetime) -> tuple[Registry, HallState]:
        """The hall at `at`, replayed from InfluxDB through the one state function."""
        registry = self.registry()
        return registry, hall_at(registry, self.history(registry, at), at)
