"""Who may see and do what: the roles, what each role may do, and each user's scope.

Every access rule of the web pages, the API, the alerts and the registry is written here
once. A role says what a user may do (PERMISSIONS); a scope says where: the halls, and
for a department head the department, whose windows, people, alerts and appeals they
see, act on and are told about. The projections of a scope follow it: WHERE clauses for
queries, the users told of an alert, the windows, departments and staff of a page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, false

ADMIN = "admin"
HALL_MANAGER = "hall_manager"
DEPT_HEAD = "dept_head"  # the one role scoped to a department
INSPECTOR = "inspector"
ROLES = (ADMIN, HALL_MANAGER, DEPT_HEAD, INSPECTOR)

# Permission → roles holding it. Where it applies is the user's scope (Scope.of).
PERMISSIONS: dict[str, frozenset[str]] = {
    "read_hall": frozenset(ROLES),  # pages, reports and the API of the hall
    "read_operations": frozenset({ADMIN, HALL_MANAGER, INSPECTOR}),  # devices, rejections
    "operate": frozenset({ADMIN, HALL_MANAGER}),  # registry uploads, cards
    "acknowledge": frozenset({ADMIN, HALL_MANAGER, DEPT_HEAD}),  # alerts
    "administer": frozenset({ADMIN}),  # users
    "appeal": frozenset({DEPT_HEAD}),  # file and withdraw appeals, their department's only
    "decide_appeals": frozenset({ADMIN, HALL_MANAGER}),
    # Notifications: hall managers hear of every alert, a department head of their
    # department's; admins only through escalation; inspectors never (they are not on duty).
    "hear_alerts": frozenset({HALL_MANAGER, DEPT_HEAD}),
    "hear_escalations": frozenset({ADMIN}),
    "read_digest": frozenset({HALL_MANAGER, DEPT_HEAD}),
    "hear_registry_changes": frozenset({DEPT_HEAD}),  # their people moved, retired, rostered
    "read_audit": frozenset({ADMIN, INSPECTOR}),  # the audit trail (审计日志), every hall's
    "request_staffing": frozenset({DEPT_HEAD, HALL_MANAGER}),  # leave, swaps, replacements
    "decide_staffing": frozenset({ADMIN, HALL_MANAGER}),
}


class Person(Protocol):
    """What the rules read of a user (UserRow and the web's user have it)."""

    role: str
    department_id: str | None


P = TypeVar("P", bound=Person)


# What a scope reads of the registry (hallwatch.registry.spec and .deployment have it).
# Written as shapes, not imports, so the registry may apply scopes to its own queries.
class _Identified(Protocol):
    @property
    def id(self) -> str: ...


class _Window(_Identified, Protocol):
    @property
    def department(self) -> str | None: ...


class _Member(Protocol):
    @property
    def department(self) -> str: ...


M = TypeVar("M", bound=_Member)


class HallRegistry(Protocol[M]):
    """One hall's registry: its hall, departments, windows and staff."""

    @property
    def hall(self) -> _Identified: ...
    @property
    def departments(self) -> Sequence[_Identified]: ...
    @property
    def windows(self) -> Sequence[_Window]: ...
    @property
    def staff(self) -> Sequence[M]: ...


class HallsOfDeployment(Protocol):
    """The deployment's halls: their ids in order, and each department's hall."""

    @property
    def ids(self) -> Sequence[str]: ...
    @property
    def hall_of_department(self) -> Mapping[str, str]: ...


def may(user: Person, permission: str) -> bool:
    """Whether the user's role holds `permission` (anywhere in their scope)."""
    return user.role in PERMISSIONS[permission]


def _limited_halls(user: Any) -> tuple[str, ...]:
    """The halls a user is limited to: the web's user has `halls`, a UserRow `hall_codes`."""
    return tuple(getattr(user, "halls", None) or getattr(user, "hall_codes", None) or ())


@dataclass(frozen=True)
class Scope:
    """Where a user may see and act: `halls` (none: every hall) and `departments` (None:
    every department of those halls; a department head: theirs, or none without one)."""

    halls: tuple[str, ...] = ()
    departments: frozenset[str] | None = None

    @classmethod
    def of(cls, user: Any) -> Scope:
        """The scope of a user; the anonymous (who see only public pages) are not limited."""
        departments = None
        if getattr(user, "role", None) == DEPT_HEAD:
            departments = frozenset({user.department_id}) if user.department_id else frozenset()
        return cls(_limited_halls(user), departments)

    def sees_hall(self, hall: str) -> bool:
        return not self.halls or hall in self.halls

    def sees_department(self, department: str | None) -> bool:
        """Whether this department is in scope; an alert of no department only when all are."""
        return self.departments is None or department in self.departments

    # --- pages ---

    def halls_in(self, deployment: HallsOfDeployment) -> list[str]:
        """The ids of the halls in scope, in deployment order; a department head's: the hall
        of their department."""
        if self.departments is not None:
            of = deployment.hall_of_department
            return [of[d] for d in self.departments if d in of]
        return [h for h in deployment.ids if self.sees_hall(h)]

    def windows(self, registry: HallRegistry) -> set[str]:
        """The ids of the hall's windows in scope."""
        if not self.sees_hall(registry.hall.id):
            return set()
        return {w.id for w in registry.windows if self.sees_department(w.department)}

    def departments_in(self, registry: HallRegistry) -> set[str]:
        """The ids of the hall's departments in scope."""
        if not self.sees_hall(registry.hall.id):
            return set()
        if self.departments is None:
            return {d.id for d in registry.departments}
        return set(self.departments)

    def staff(self, registry: HallRegistry[M]) -> tuple[M, ...]:
        """The hall's people in scope, in registry order."""
        departments = self.departments_in(registry)
        return tuple(s for s in registry.staff if s.department in departments)

    # --- queries ---

    def where(
        self,
        in_halls: Callable[[list[str]], ColumnElement[bool]],
        department: ColumnElement[Any],
        hall: str | None = None,
    ) -> list[ColumnElement[bool]]:
        """WHERE clauses keeping the rows in scope (with `hall`, of that hall only).

        `in_halls(ids)` is the table's clause for "of one of these halls", `department`
        its department column.
        """
        clauses = [in_halls(list(self.halls))] if self.halls else []
        if hall is not None:
            clauses.append(in_halls([hall]))
        if self.departments is None:
            return clauses
        if not self.departments:
            return [false()]  # a department head without a department sees nothing
        return [*clauses, department.in_(sorted(self.departments))]


# --- notifications ---


def in_hall(users: Iterable[P], hall: str) -> list[P]:
    """The users told about this hall's alerts: limited to no hall, or to this one."""
    return [user for user in users if Scope.of(user).sees_hall(hall)]


def told_of(department: str | None, users: Iterable[P]) -> list[P]:
    """Users to notify first of an alert about `department`, in the given order."""
    return [
        user
        for user in users
        if may(user, "hear_alerts") and Scope.of(user).sees_department(department)
    ]


def holding(permission: str, users: Iterable[P]) -> list[P]:
    """The users whose role holds `permission`, in the given order."""
    return [user for user in users if may(user, permission)]


def told_of_change(departments: Iterable[str], users: Iterable[P]) -> list[P]:
    """Users to tell that a registry change touched these departments (a person moved,
    retired or rostered): the heads of those departments, in the given order."""
    concerned = set(departments)
    return [
        user
        for user in users
        if may(user, "hear_registry_changes")
        and any(Scope.of(user).sees_department(d) for d in concerned)
    ]
