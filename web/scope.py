"""What a user may see on a page: their scope (hallwatch.access) applied to one hall."""

from __future__ import annotations

from hallwatch.access import Scope
from hallwatch.registry.spec import Registry, StaffMember


def in_their_halls(user, registry: Registry) -> bool:
    """Whether the user may see this hall: every hall, unless limited to some."""
    return Scope.of(user).sees_hall(registry.hall.id)


def visible_windows(user, registry: Registry) -> set[str]:
    """Window ids the user may see: a department head only their department's."""
    return Scope.of(user).windows(registry)


def visible_departments(user, registry: Registry) -> set[str]:
    return Scope.of(user).departments_in(registry)


def visible_staff(user, registry: Registry) -> tuple[StaffMember, ...]:
    """The people the user may see, in registry order: a department head only their own."""
    return Scope.of(user).staff(registry)
