"""Login throttling: failed logins per user name and per client address, kept in the database.

The web may run as several processes, so the failures live in a table every process
reads, not in memory. Whether a name or an address must wait is a pure function of
its recent failure times (`wait_after`); the rest is three small queries.

A streak of failures locks once it reaches `max_failures`: the name (or address) then
waits `first_delay` after its last failure, twice as long after each further failure,
up to `max_delay`. Attempts made while it waits are refused unchecked and not counted.
A quiet spell of `window` past the end of the wait, or (for a name) a successful login,
starts afresh. Unknown names are throttled exactly like real ones, so the lockout
tells nobody which names exist.

Two things keep the count honest and the lock from being turned against its owner:

- An attempt is counted *before* its password is checked (`reserve_attempt`), and it
  waits for the failures counted before it only: parallel guesses cannot all slip
  through while the first is still being checked. An attempt found locked, or one that
  succeeds, is taken back.
- A name's lock does not apply from an address that name logged in from successfully
  before (`remember_good_address`), so anyone can lock "admin" out of the rest of the
  internet, but not out of the admin's own office; that address stays under its own cap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Index, Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hallwatch.registry.models import ID_LEN, Base, UTCDateTime

USER = "user"
ADDRESS = "address"
KEY_LEN = 64  # user names are at most ID_LEN; an IPv6 address is at most 45 characters
MEMORY = timedelta(hours=24)  # failures older than this are deleted
GOOD_ADDRESS_MEMORY = timedelta(days=90)  # how long a successful login's address is trusted
FAILURES_READ = 100  # the newest failures read per key; more than any streak needs to be at max


@dataclass(frozen=True)
class Policy:
    """When failures lock: `max_failures` in a streak (gaps under `window`), then growing waits."""

    max_failures: int
    window: timedelta
    first_delay: timedelta
    max_delay: timedelta

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ValueError(f"max_failures must be at least 1, got {self.max_failures}")
        if not timedelta(0) < self.first_delay <= self.max_delay:
            raise ValueError("delays must satisfy 0 < first_delay <= max_delay")
        if self.window <= timedelta(0):
            raise ValueError("window must be positive")

    def delay(self, streak: int) -> timedelta:
        """The wait after the `streak`-th failure in a row (zero below the threshold)."""
        if streak < self.max_failures:
            return timedelta(0)
        doublings = min(streak - self.max_failures, 32)  # 2**32 minutes is past any max_delay
        return min(self.first_delay * 2**doublings, self.max_delay)


# A person mistyping gets five tries; a guesser gets about one per half hour after that.
USER_POLICY = Policy(
    max_failures=5,
    window=timedelta(minutes=15),
    first_delay=timedelta(minutes=1),
    max_delay=timedelta(minutes=30),
)
# Many names tried from one address (an office behind one NAT address shares it).
ADDRESS_POLICY = Policy(
    max_failures=20,
    window=timedelta(minutes=15),
    first_delay=timedelta(minutes=1),
    max_delay=timedelta(hours=1),
)


def wait_after(failures: Iterable[datetime], policy: Policy, now: datetime) -> timedelta | None:
    """How long a key with these failure times must still wait at `now`, or None."""
    streak, last = 0, None
    for at in sorted(failures):
        if last is not None and at - last > policy.window + policy.delay(streak):
            streak = 0  # a quiet spell past the wait: a fresh start
        streak, last = streak + 1, at
    if last is None:
        return None
    until = last + policy.delay(streak)
    return until - now if until > now else None


class LoginFailureRow(Base):
    """One failed login: by a user name or from an address (one row for each)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key", "scope", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(16))  # USER or ADDRESS
    key: Mapped[str] = mapped_column(String(KEY_LEN))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LoginGoodAddressRow(Base):
    """An address a name last logged in from successfully, and when."""

    __tablename__ = "login_good_addresses"

    key: Mapped[str] = mapped_column(String(KEY_LEN), primary_key=True)
    address: Mapped[str] = mapped_column(String(KEY_LEN), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


def user_key(username: str) -> str:
    """One key for every spelling of a name (case, surrounding spaces); bounded length."""
    return username.strip().casefold()[:ID_LEN]


def _keys(username: str, address: str | None) -> list[tuple[str, str, Policy]]:
    keys = [(USER, user_key(username), USER_POLICY)]
    if address:
        keys.append((ADDRESS, address[:KEY_LEN], ADDRESS_POLICY))
    return keys


def retry_after(
    session: Session,
    username: str,
    address: str | None,
    now: datetime,
    before: int | None = None,
) -> timedelta | None:
    """How long a login as `username` from `address` must wait (the longer of the two), or
    None. With `before`, only failures counted before that one (an attempt's own) count."""
    waits = []
    for scope, key, policy in _keys(username, address):
        if scope == USER and address and _good_address(session, key, address, now):
            continue
        query = (
            select(LoginFailureRow.at)
            .where(LoginFailureRow.scope == scope, LoginFailureRow.key == key)
            .where(LoginFailureRow.at > now - MEMORY)
            .order_by(LoginFailureRow.at.desc())
            .limit(FAILURES_READ)
        )
        if before is not None:
            query = query.where(LoginFailureRow.id < before)
        wait = wait_after(session.scalars(query), policy, now)
        if wait is not None:
            waits.append(wait)
    return max(waits, default=None)


def _good_address(session: Session, key: str, address: str, now: datetime) -> bool:
    row = session.get(LoginGoodAddressRow, (key, address[:KEY_LEN]))
    return row is not None and row.at > now - GOOD_ADDRESS_MEMORY


def reserve_attempt(
    session: Session, username: str, address: str | None, now: datetime
) -> list[int]:
    """Count an attempt as failed before checking it (caller commits at once); its row ids."""
    session.execute(delete(LoginFailureRow).where(LoginFailureRow.at <= now - MEMORY))
    rows = [LoginFailureRow(scope=s, key=k, at=now) for s, k, _ in _keys(username, address)]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def take_back(session: Session, ids: list[int]) -> None:
    """Uncount a reserved attempt (it was refused unchecked, or it succeeded)."""
    session.execute(delete(LoginFailureRow).where(LoginFailureRow.id.in_(ids)))


def remember_good_address(
    session: Session, username: str, address: str | None, now: datetime
) -> None:
    """A successful login from `address`: the name's lock will not apply from it."""
    if not address:
        return
    key = (user_key(username), address[:KEY_LEN])
    row = session.get(LoginGoodAddressRow, key)
    if row is None:
        session.add(LoginGoodAddressRow(key=key[0], address=key[1], at=now))
    else:
        row.at = now
    session.execute(
        delete(LoginGoodAddressRow).where(LoginGoodAddressRow.at <= now - GOOD_ADDRESS_MEMORY)
    )


def record_failure(session: Session, username: str, address: str | None, now: datetime) -> None:
    """Count a failed login against the name and the address; forget old ones (caller commits)."""
    reserve_attempt(session, username, address, now)


def clear_failures(session: Session, username: str) -> None:
    """A successful login: the name's failures are forgotten, the address's are not."""
    mine = (LoginFailureRow.scope == USER, LoginFailureRow.key == user_key(username))
    # Look first: every HTTP Basic request logs in, and most have nothing to forget.
    if session.scalars(select(LoginFailureRow.id).where(*mine).limit(1)).first() is not None:
        session.execute(delete(LoginFailureRow).where(*mine))
