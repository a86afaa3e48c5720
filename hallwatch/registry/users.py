"""Users of the web pages and the API: create or update, and check a password."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from hallwatch.registry.models import ID_LEN, DepartmentRow, UserRow

ROLES = ("admin", "hall_manager", "dept_head", "inspector")
DEPARTMENT_ROLE = "dept_head"  # the one role scoped to a department


@cache
def _dummy_hash() -> str:
    """A hash to check unknown users against, so they take as long as known ones."""
    return generate_password_hash("hallwatch-no-such-user")


def _check_username(username: str) -> None:
    if not username or username != username.strip() or len(username) > ID_LEN:
        raise ValueError(
            f"user name {username!r} must be 1 to {ID_LEN} characters without surrounding spaces"
        )
    if ":" in username or not username.isprintable():
        raise ValueError(f"user name {username!r} may not contain ':' or control characters")


def _department_for(session: Session, role: str, department: str | None) -> str | None:
    """The department a user of `role` belongs to, or ValueError saying what is missing."""
    if role != DEPARTMENT_ROLE:
        if department is not None:
            raise ValueError(f"role {role} has no department; only {DEPARTMENT_ROLE} takes one")
        return None
    if not department:
        raise ValueError(f"role {DEPARTMENT_ROLE} needs a department (--department ID)")
    row = session.get(DepartmentRow, department)
    if row is None or row.retired_at is not None:
        raise ValueError(f"department {department!r} is not in the current registry")
    return row.id


def add_user(
    session: Session,
    username: str,
    role: str,
    password: str,
    department: str | None = None,
    now: datetime | None = None,
) -> UserRow:
    """Create user `username`, or update their role, department and password (caller commits)."""
    _check_username(username)
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if not password:
        raise ValueError(f"user {username!r} needs a non-empty password")
    department_id = _department_for(session, role, department)
    now = now or datetime.now(UTC)
    user = session.scalars(select(UserRow).where(UserRow.username == username)).one_or_none()
    if user is None:
        user = UserRow(username=username, created_at=now)
        session.add(user)
    user.role = role
    user.department_id = department_id
    user.password_hash = generate_password_hash(password)
    user.updated_at = now
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> UserRow | None:
    """The user if the password is theirs; unknown names cost the same hashing time."""
    user = session.scalars(select(UserRow).where(UserRow.username == username)).one_or_none()
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None
