"""What a user may see: the one place the department-head scope is applied."""

from __future__ import annotations

from hallwatch.registry.spec import Registry


def visible_windows(user, registry: Registry) -> set[str]:
    """Window ids the user may see: a department head only their department's."""
    if user.role == "dept_head":
        return {w.id for w in registry.windows if w.department == user.department_id}
    return {w.id for w in registry.windows}


def visible_departments(user, registry: Registry) -> set[str]:
    if user.role == "dept_head":
        return {user.department_id} if user.department_id else set()
    return {d.id for d in registry.departments}
