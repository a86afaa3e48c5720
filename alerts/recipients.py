"""Who is told about an alert: pure rules over users' roles and departments.

Hall managers hear of every alert; a department head of those about their own
department's windows, people and devices; admins only through escalation;
inspectors never (they read, they are not on duty).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

HALL_MANAGER = "hall_manager"
DEPT_HEAD = "dept_head"
ADMIN = "admin"
ESCALATING_KINDS = frozenset({"empty_window", "pulled_back"})


class Person(Protocol):
    """What the rules read of a user (UserRow has it)."""

    role: str
    department_id: str | None


P = TypeVar("P", bound=Person)


def recipients(alert_kind: str, department_id: str | None, users: Iterable[P]) -> list[P]:
    """Users to notify of an alert of `alert_kind` about `department_id`, in the given order.

    Every kind, known or added later, goes to the same people: a rule that
    fires must never go unheard for want of a routing entry.
    """
    return [
        user
        for user in users
        if user.role == HALL_MANAGER
        or (
            user.role == DEPT_HEAD
            and department_id is not None
            and user.department_id == department_id
        )
    ]


def escalation_recipients(alert_kind: str, users: Iterable[P]) -> list[P]:
    """Admins, for the kinds that escalate; nobody for the others."""
    if alert_kind not in ESCALATING_KINDS:
        return []
    return [user for user in users if user.role == ADMIN]


def digest_recipients(users: Iterable[P]) -> list[P]:
    """Department heads (their department) and hall managers (the whole hall)."""
    return [user for user in users if user.role in (DEPT_HEAD, HALL_MANAGER)]
