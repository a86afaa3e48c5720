"""Users of the web pages and the API: create or update, and check a password."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from sqlalchemy import delete as sa_delete
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from hallwatch.access import ADMIN, DEPT_HEAD, ROLES
from hallwatch.registry.alerting import ChannelRow
from hallwatch.registry.models import ID_LEN, DepartmentRow, HallRow, UserHallRow, UserRow
from hallwatch.registry.spec import DEFAULT_HALL_ID
from hallwatch.registry.throttle import clear_failures


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
    if role != DEPT_HEAD:
        if department is not None:
            raise ValueError(f"role {role} has no department; only {DEPT_HEAD} takes one")
        return None
    if not department:
        raise ValueError(f"role {DEPT_HEAD} needs a department (--department ID)")
    row = session.get(DepartmentRow, department)
    if row is None or row.retired_at is not None:
        raise ValueError(f"department {department!r} is not in the current registry")
    return row.id


def current_halls(session: Session) -> list[str]:
    """The codes of the halls in the current registry, in file order."""
    rows = session.scalars(
        select(HallRow).where(HallRow.retired_at.is_(None)).order_by(HallRow.seq, HallRow.id)
    )
    return [row.code or DEFAULT_HALL_ID for row in rows]


def _halls_for(session: Session, halls: list[str] | tuple[str, ...]) -> list[str]:
    """The halls a user is limited to, each once, or ValueError naming one not in the registry."""
    known = current_halls(session) or [DEFAULT_HALL_ID]
    for code in halls:
        if code not in known:
            raise ValueError(f"hall {code!r} is not in the current registry ({', '.join(known)})")
    return list(dict.fromkeys(halls))


def set_user_halls(session: Session, user: UserRow, halls: list[str] | tuple[str, ...]) -> None:
    """Limit `user` to exactly `halls` (empty: every hall); ValueError for an unknown hall."""
    wanted = _halls_for(session, halls)
    user.hall_rows[:] = [h for h in user.hall_rows if h.hall_code in wanted]
    have = set(user.hall_codes)
    user.hall_rows.extend(UserHallRow(hall_code=code) for code in wanted if code not in have)


def add_user(
    session: Session,
    username: str,
    role: str,
    password: str,
    department: str | None = None,
    now: datetime | None = None,
    halls: list[str] | tuple[str, ...] | None = None,
) -> UserRow:
    """Create user `username`, or update their role, department and password (caller commits).

    With `halls`, the user is limited to exactly those halls (empty: every hall); without,
    a new user sees every hall and an existing one keeps their halls.
    """
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
    if halls is not None:
        set_user_halls(session, user, halls)
    clear_failures(session, username)  # a new password is how an admin unlocks a name
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> UserRow | None:
    """The user if the password is theirs; unknown names cost the same hashing time."""
    user = session.scalars(select(UserRow).where(UserRow.username == username)).one_or_none()
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


# --- managing users from the web pages ---------------------------------------------------


class UserChangeRefused(ValueError):
    """A change that would break an invariant; `reason` is a stable code the pages translate."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


def valid_username(username: str) -> bool:
    """Whether add_user would accept `username` as a name."""
    try:
        _check_username(username)
    except ValueError:
        return False
    return True


def list_users(session: Session) -> list[UserRow]:
    """Every user, by name."""
    return list(session.scalars(select(UserRow).order_by(UserRow.username)))


def create_user(
    session: Session,
    username: str,
    role: str,
    password: str,
    department: str | None = None,
    now: datetime | None = None,
) -> UserRow:
    """Create a new user (add_user's checks); refuse (`reason` "exists") a name already taken."""
    if session.scalars(select(UserRow.id).where(UserRow.username == username)).first():
        raise UserChangeRefused("exists", f"user {username!r} already exists")
    return add_user(session, username, role, password, department, now)


def _admins(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(UserRow).where(UserRow.role == ADMIN))


def update_user(
    session: Session,
    user_id: int,
    role: str,
    department: str | None,
    password: str | None = None,
    acting_user_id: int | None = None,
    now: datetime | None = None,
) -> UserRow:
    """Change a user's role and department, and their password if one is given (caller commits).

    Refused: an unknown user ("missing"), changing one's own role ("own_role"), or leaving
    no admin ("last_admin").
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    user = session.get(UserRow, user_id)
    if user is None:
        raise UserChangeRefused("missing", f"no user with id {user_id}")
    if role != user.role:
        if user_id == acting_user_id:
            raise UserChangeRefused("own_role", f"user {user.username!r} may not change own role")
        if user.role == ADMIN and _admins(session) <= 1:
            raise UserChangeRefused("last_admin", f"{user.username!r} is the last admin")
    user.department_id = _department_for(session, role, department)
    user.role = role
    if password:
        user.password_hash = generate_password_hash(password)
        clear_failures(session, user.username)
    user.updated_at = now or datetime.now(UTC)
    session.flush()
    return user


def delete_user(session: Session, user_id: int, acting_user_id: int | None = None) -> str:
    """Delete a user and their notification channels; returns the name (caller commits).

    Refused: an unknown user ("missing"), oneself ("self"), or the last admin ("last_admin").
    """
    user = session.get(UserRow, user_id)
    if user is None:
        raise UserChangeRefused("missing", f"no user with id {user_id}")
    if user_id == acting_user_id:
        raise UserChangeRefused("self", f"user {user.username!r} may not delete themselves")
    if user.role == ADMIN and _admins(session) <= 1:
        raise UserChangeRefused("last_admin", f"{user.username!r} is the last admin")
    session.execute(sa_delete(ChannelRow).where(ChannelRow.user_id == user_id))
    session.delete(user)
    session.flush()
    return user.username
