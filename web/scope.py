"""What a user may see: the one place the department-head and hall scopes are applied."""

from __future__ import annotations

from hallwatch.registry.spec import Registry, StaffMember


def in_their_halls(user, registry: Registry) -> bool:
    """Whether the user may see this hall: every hall, unless limited to some."""
    halls = getattr(user, "halls", ())
    return not halls or registry.hall.id in halls


def visible_windows(user, registry: Registry) -> set[str]:
    """Window ids the user may see: a department head only their department's."""
    if not in_their_halls(user, registry):
        return set()
    if user.role == "dept_head":
        return {w.id for w in registry.windows if w.department == user.department_id}
    return {w.id for w in registry.windows}


def visible_departments(user, registry: Registry) -> set[str]:
    if not in_their_halls(user, registry):
        return set()
    if user.role == "dept_head":
        return {user.department_id} if user.department_id else set()
    return {d.id for d in registry.departments}


def visible_staff(user, registry: Registry) -> tuple[StaffMember, ...]:
    """The people the user may see, in registry order: a department head only their own."""
    departments = visible_departments(user, registry)
    return tuple(s for s in registry.staff if s.department in departments)
