"""Several halls on one deployment: each hall a `Registry`, and where every id lives.

A `Registry` stays one hall's consistent snapshot, so the state function, the
rules and the reports read it unchanged; code that serves several halls asks
the `Deployment` for the hall it needs. Ids of departments, windows, staff,
devices, cards and firmware names are unique across the deployment (the parser
refuses a file otherwise), so one look-up says which hall anything belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from hallwatch.registry.spec import Registry


class UnknownHall(KeyError):
    """No hall with that id in the deployment."""


@dataclass(frozen=True)
class Deployment:
    """The halls of one deployment in file order; an empty one holds a default hall."""

    halls: tuple[Registry, ...] = field(default_factory=lambda: (Registry(),))

    def __post_init__(self) -> None:
        if not self.halls:
            object.__setattr__(self, "halls", (Registry(),))

    @property
    def first(self) -> Registry:
        """The first hall: what a single-hall deployment is, and the default everywhere."""
        return self.halls[0]

    @property
    def single(self) -> bool:
        return len(self.halls) == 1

    @cached_property
    def ids(self) -> tuple[str, ...]:
        return tuple(r.hall.id for r in self.halls)

    @cached_property
    def by_id(self) -> dict[str, Registry]:
        return {r.hall.id: r for r in self.halls}

    def hall(self, hall_id: str | None) -> Registry:
        """The hall `hall_id` (None: the first), or UnknownHall."""
        if hall_id is None:
            return self.first
        try:
            return self.by_id[hall_id]
        except KeyError:
            raise UnknownHall(hall_id) from None

    @cached_property
    def hall_of_department(self) -> dict[str, str]:
        return {d.id: r.hall.id for r in self.halls for d in r.departments}

    @cached_property
    def hall_of_window(self) -> dict[str, str]:
        return {w.id: r.hall.id for r in self.halls for w in r.windows}

    @cached_property
    def hall_of_device(self) -> dict[str, str]:
        return {d.id: r.hall.id for r in self.halls for d in r.devices}

    @cached_property
    def hall_of_staff(self) -> dict[str, str]:
        return {s.id: r.hall.id for r in self.halls for s in r.staff}

    def registry_of_device(self, device_id: str) -> Registry | None:
        """The hall a device belongs to, None when no hall has it."""
        hall_id = self.hall_of_device.get(device_id)
        return self.by_id[hall_id] if hall_id else None

    @cached_property
    def combined(self) -> Registry:
        """Every hall's devices and people in one look-up registry, with the first hall's settings.

        For the collector, which finds a message's device here and then converts it
        with the device's own hall (its time zone) when that differs.
        """
        if self.single:
            return self.first
        return Registry(
            hall=self.first.hall,
            departments=tuple(d for r in self.halls for d in r.departments),
            windows=tuple(w for r in self.halls for w in r.windows),
            staff=tuple(s for r in self.halls for s in r.staff),
            devices=tuple(d for r in self.halls for d in r.devices),
        )

    def own_devices(self, registry: Registry) -> frozenset[str] | None:
        """The devices whose events are `registry`'s hall's; None for a single hall (all are).

        What a hall's reads of the event store are limited to.
        """
        return None if self.single else registry.device_ids

    @cached_property
    def time_zones(self) -> frozenset[str]:
        return frozenset(r.hall.timezone for r in self.halls)

    def for_device(self, device_id: str) -> Registry:
        """The registry a device's messages are converted with: its hall's, else the look-up one."""
        if len(self.time_zones) == 1:
            return self.combined
        return self.registry_of_device(device_id) or self.combined
