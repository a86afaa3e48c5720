"""The registry and the users as SQLAlchemy tables (portable: SQLite and PostgreSQL).

Registry rows are keyed by the file's own ids (roster and leave by a digest of
their content), so a re-import finds what it wrote before. A row missing from a
later file is retired (`retired_at`), never deleted, so history keeps its names.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

ID_LEN = 64  # docs/REGISTRY.md: ids are [A-Za-z0-9_-]{1,64}
TEXT_LEN = 200
KEY_LEN = 64  # sha256 hex digest for roster and leave


class UTCDateTime(TypeDecorator):
    """Aware datetimes stored as UTC; read back aware (SQLite keeps no offset of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given for a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """The metadata every HallWatch table hangs on."""


class Tracked:
    """When a row was written, last changed and (if it left the file) retired."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    seq: Mapped[int] = mapped_column(Integer, default=0)  # order in the file, for display


class HallRow(Tracked, Base):
    """One hall's settings, updated in place; a single-hall deployment has one row, id 1.

    `code` is the hall's id in the file (None in databases from before several halls:
    that row is the hall `main`).
    """

    __tablename__ = "hall"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    name: Mapped[str] = mapped_column(String(TEXT_LEN))
    timezone: Mapped[str] = mapped_column(String(TEXT_LEN))
    hours: Mapped[list[Any]] = mapped_column(JSON)  # [["09:00", "12:00"], …]
    holidays: Mapped[str] = mapped_column(String(16))
    closed_days: Mapped[list[Any]] = mapped_column(JSON)  # ["2026-12-31", …]
    working_days: Mapped[list[Any]] = mapped_column(JSON)
    empty_grace_minutes: Mapped[float] = mapped_column(Float)
    absent_grace_minutes: Mapped[float] = mapped_column(Float)
    offline_after_minutes: Mapped[float] = mapped_column(Float)


class DepartmentRow(Tracked, Base):
    __tablename__ = "departments"

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(TEXT_LEN))
    # The hall's code; windows, staff, devices, roster and leave follow their department.
    hall_code: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)


class WindowRow(Tracked, Base):
    __tablename__ = "windows"

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(TEXT_LEN))
    department_id: Mapped[str] = mapped_column(ForeignKey("departments.id"), index=True)
    position_row: Mapped[int | None] = mapped_column(Integer)
    position_col: Mapped[int | None] = mapped_column(Integer)


class StaffRow(Tracked, Base):
    __tablename__ = "staff"

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(TEXT_LEN))
    department_id: Mapped[str] = mapped_column(ForeignKey("departments.id"), index=True)


class BadgeRow(Tracked, Base):
    """A card UID (upper-case hex) and who holds it."""

    __tablename__ = "badges"

    uid: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)


class DeviceRow(Tracked, Base):
    """A reader or sensor at a window or at a department's office.

    Firmware names are unique only among current devices (checked by the parser), so
    a retired device's name may be reused; hence no unique constraint here.
    """

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    window_id: Mapped[str | None] = mapped_column(ForeignKey("windows.id"), index=True)
    department_id: Mapped[str | None] = mapped_column(ForeignKey("departments.id"), index=True)
    zigbee2mqtt: Mapped[str | None] = mapped_column(String(TEXT_LEN))
    tasmota: Mapped[str | None] = mapped_column(String(TEXT_LEN))
    # Added with ESPHome and device settings; NULL (a database from before) means the default.
    esphome: Mapped[str | None] = mapped_column(String(TEXT_LEN), default=None)
    zigbee2mqtt_base: Mapped[str | None] = mapped_column(String(TEXT_LEN), default=None)
    tasmota_full_topic: Mapped[str | None] = mapped_column(String(TEXT_LEN), default=None)
    uid_reversed: Mapped[bool | None] = mapped_column(Boolean, default=None)
    uid_decimal: Mapped[bool | None] = mapped_column(Boolean, default=None)
    offline_after_minutes: Mapped[float | None] = mapped_column(Float, default=None)
    sensing: Mapped[str | None] = mapped_column(String(16), default=None)  # NULL: not said


class RosterRow(Tracked, Base):
    """One roster line; its key is a digest of all of it, so an edit is a retire plus an add."""

    __tablename__ = "roster"

    key: Mapped[str] = mapped_column(String(KEY_LEN), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    window_id: Mapped[str] = mapped_column(ForeignKey("windows.id"), index=True)
    days: Mapped[list[Any]] = mapped_column(JSON)  # ["mon", …] in week order
    from_date: Mapped[date | None] = mapped_column(Date)
    until_date: Mapped[date | None] = mapped_column(Date)
    hours: Mapped[list[Any] | None] = mapped_column(JSON)


class LeaveRow(Tracked, Base):
    """Leave of one person; keyed by a digest of (staff, start, end), so the reason may change."""

    __tablename__ = "leave"

    key: Mapped[str] = mapped_column(String(KEY_LEN), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str | None] = mapped_column(String(16), default=None)  # NULL: not said


class SwapRow(Tracked, Base):
    """A one-day swap (调班) of two people or two windows; keyed by a digest of all of it.

    `kind` says which: "staff" or "windows"; `first` and `second` are their ids, as written.
    """

    __tablename__ = "swaps"

    key: Mapped[str] = mapped_column(String(KEY_LEN), primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    first: Mapped[str] = mapped_column(String(ID_LEN))
    second: Mapped[str] = mapped_column(String(ID_LEN))


class UserRow(Base):
    """A person who may log in; a `dept_head` belongs to one department."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(ID_LEN), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    department_id: Mapped[str | None] = mapped_column(ForeignKey("departments.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    hall_rows: Mapped[list[UserHallRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="UserHallRow.hall_code"
    )

    @property
    def hall_codes(self) -> tuple[str, ...]:
        """The halls this user is limited to; none means every hall."""
        return tuple(h.hall_code for h in self.hall_rows)


class UserHallRow(Base):
    """A hall a user is limited to; a user without any sees every hall (docs/MULTI-HALL.md)."""

    __tablename__ = "user_halls"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    hall_code: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)


class RegistryRevisionRow(Base):
    """One row counting the imports, so a process can tell cheaply whether to re-read them."""

    __tablename__ = "registry_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    revision: Mapped[int] = mapped_column(Integer, default=0)


REGISTRY_MODELS = (
    HallRow,
    DepartmentRow,
    WindowRow,
    StaffRow,
    BadgeRow,
    DeviceRow,
    RosterRow,
    LeaveRow,
    SwapRow,
)


class AppealRow(Base):
    """An appeal (申诉) against a stretch of a window's day or one absence or pull-back.

    Like users and alert records it persists across registry imports. Once decided
    (accepted or rejected) it never changes again (hallwatch.registry.appeals).
    `minutes_*` and `excused_count` are the original figures taken when it was accepted.
    """

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hall_code: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    department_id: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    subject: Mapped[str] = mapped_column(String(16))  # window | absence | pulled_back
    window_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    staff_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    episode_key: Mapped[str | None] = mapped_column(String(300), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)  # the stretch, or the episode's opening
    end: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the stretch's end
    reason: Mapped[str] = mapped_column(String(16))  # sensor_fault | errand | outage
    reason_text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    filed_by: Mapped[str] = mapped_column(String(ID_LEN))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(ID_LEN))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    # Microseconds of the stretch by state, as the reports counted them at acceptance.
    minutes_us: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    excused_count: Mapped[int | None] = mapped_column(Integer)  # incidents of the episode
