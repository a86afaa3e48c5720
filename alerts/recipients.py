"""Who is told about an alert: the roles and scopes of hallwatch.access applied to users.

Hall managers hear of every alert; a department head of those about their own
department's windows, people and devices; admins only through escalation;
inspectors never (they read, they are not on duty).
"""

from __future__ import annotations

from collections.abc import Iterable

from hallwatch.access import P, holding, told_of

ESCALATING_KINDS = frozenset({"empty_window", "pulled_back"})


def recipients(alert_kind: str, department_id: str | None, users: Iterable[P]) -> list[P]:
    """Users to notify of an alert of `alert_kind` about `department_id`, in the given order.

    Every kind, known or added later, goes to the same people: a rule that
    fires must never go unheard for want of a routing entry.
    """
    return told_of(department_id, users)


def escalation_recipients(alert_kind: str, users: Iterable[P]) -> list[P]:
    """Admins, for the kinds that escalate; nobody for the others."""
    if alert_kind not in ESCALATING_KINDS:
        return []
    return holding("hear_escalations", users)


def digest_recipients(users: Iterable[P]) -> list[P]:
    """Department heads (their department) and hall managers (the whole hall)."""
    return holding("read_digest", users)
