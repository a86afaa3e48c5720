"""Closed hall days kept as precomputed `DaySummary`s in the SQL database.

One row per hall and day: the summary serialised as compact, exact JSON (durations
in integer microseconds), the fingerprint of the registry *as it applies to that
day* and what the summary was computed from (the number of the day's points and
the newest receipt time among them). A report reads a row only while its
fingerprint matches (`day_fingerprint`); the `hallwatch alerts` job recomputes a
row once InfluxDB holds other points for its day (`hallwatch.metrics.jobs`).

The fingerprint covers the hall's settings, departments, windows, staff and
devices, and only the roster entries and leave that touch the day, so a leave
entered for next week does not throw away a year of stored days.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hallwatch.metrics.day import DaySummary, StaffCounts, WindowMinutes
from hallwatch.registry.day_summaries import DaySummaryRow
from hallwatch.registry.spec import DEFAULT_HALL_ID, Registry
from hallwatch.schedule import is_working_day, local_midnight, works_on

FORMAT = 2  # of the JSON and of the fingerprint: bump to recompute every stored day
_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RECENT_REGISTRIES = 4  # registries whose fingerprints are kept (the current one, mostly)


@dataclass(frozen=True)
class Receipts:
    """The points a day was computed from: how many, and the newest receipt time among them."""

    count: int = 0
    newest: datetime | None = None


@dataclass(frozen=True)
class StoredDay:
    """A row without its summary: enough to decide whether it can be used."""

    day: date
    fingerprint: str
    computed_at: datetime
    receipts: Receipts

    @property
    def version(self) -> tuple:
        """Changes whenever the row is rewritten (a key for caching the parsed summary)."""
        return (self.fingerprint, self.computed_at, self.receipts)


# --- the summary as JSON ------------------------------------------------------------------


def _us(span: timedelta) -> int:
    return span // _MICROSECOND


def _instant(at: datetime) -> int:
    return _us(at - _EPOCH)


def summary_to_json(summary: DaySummary) -> str:
    """Compact, exact JSON: instants and durations in integer microseconds, fields in order."""
    return json.dumps(
        {
            "format": FORMAT,
            "day": summary.day.isoformat(),
            "start": _instant(summary.start),
            "end": _instant(summary.end),
            "collected": summary.collected,
            "windows": {
                w: [_us(getattr(m, f.name)) for f in fields(WindowMinutes)]
                for w, m in summary.windows.items()
            },
            "staff": {
                s: [_value(getattr(c, f.name)) for f in fields(StaffCounts)]
                for s, c in summary.staff.items()
            },
            "withdrawn": sorted(summary.withdrawn),
            "working": summary.working,
            "offline": {
                d: [[_instant(a), _instant(b)] for a, b in stretches]
                for d, stretches in summary.offline.items()
            },
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def summary_from_json(text: str, tz: tzinfo = UTC) -> DaySummary:
    """The DaySummary `summary_to_json` wrote; its instants in `tz`. ValueError if not ours."""
    data = json.loads(text)
    if data.get("format") != FORMAT:
        raise ValueError(f"day summary format {data.get('format')!r}, expected {FORMAT}")
    staff_types = [f.type for f in fields(StaffCounts)]
    return DaySummary(
        day=date.fromisoformat(data["day"]),
        start=(_EPOCH + data["start"] * _MICROSECOND).astimezone(tz),
        end=(_EPOCH + data["end"] * _MICROSECOND).astimezone(tz),
        collected=data["collected"],
        windows={
            w: WindowMinutes(*(v * _MICROSECOND for v in values))
            for w, values in data["windows"].items()
        },
        staff={
            s: StaffCounts(*(_typed(kind, v) for kind, v in zip(staff_types, values, strict=True)))
            for s, values in data["staff"].items()
        },
        withdrawn=frozenset(data["withdrawn"]),
        working=data["working"],
        offline={
            d: tuple((_at(a, tz), _at(b, tz)) for a, b in stretches)
            for d, stretches in data["offline"].items()
        },
    )


def _at(microseconds: int, tz: tzinfo) -> datetime:
    return (_EPOCH + microseconds * _MICROSECOND).astimezone(tz)


def _value(value: timedelta | int) -> int:
    return _us(value) if isinstance(value, timedelta) else value


def _typed(kind: Any, value: int) -> timedelta | int:
    return value * _MICROSECOND if kind in (timedelta, "timedelta") else value


# --- the registry as it applies to one day ------------------------------------------------


def _plain(value: Any) -> Any:
    """A registry value as canonical JSON data (sets sorted, instants in UTC)."""
    if is_dataclass(value):
        return [_plain(getattr(value, f.name)) for f in fields(value)]
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return value


def _digest(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _RegistryPrints:
    """The fingerprints of one registry snapshot: its day-independent part, and per day."""

    def __init__(self, registry: Registry):
        hall = registry.hall
        settings = [
            _plain(getattr(hall, f.name))
            for f in fields(hall)
            if f.name not in ("closed_days", "working_days")  # only the day's own status counts
            and not (f.name == "id" and hall.id == DEFAULT_HALL_ID)  # as before several halls
        ]
        self.registry = registry
        self.base = _digest(
            [
                FORMAT,
                settings,
                _plain(registry.departments),
                _plain(registry.windows),
                _plain(registry.staff),
                _plain(registry.devices),
            ]
        )
        # Each entry's digest once: a day lists the digests of those that touch it.
        self.roster = [(r, _digest(_plain(r))) for r in registry.roster]
        self.leave = [(v, _digest(_plain(v))) for v in registry.leave]
        self.days: dict[date, str] = {}

    def day(self, day: date) -> str:
        found = self.days.get(day)
        if found is None:
            found = self.days[day] = self._day(day)
        return found

    def _day(self, day: date) -> str:
        hall = self.registry.hall
        lo, hi = local_midnight(hall, day), local_midnight(hall, day + timedelta(days=1))
        working = is_working_day(hall, day)
        # works_on() reads an entry's days and dates only: ask once per distinct combination.
        applies: dict[tuple, bool] = {}
        roster = []
        for entry, key in self.roster if working else ():
            when = (entry.days, entry.from_date, entry.until_date)
            if when not in applies:
                applies[when] = works_on(entry, hall, day)
            if applies[when]:
                roster.append(key)
        return _digest(
            [
                self.base,
                day.isoformat(),
                working,
                roster,  # in roster order: a window's duties are
                [key for v, key in self.leave if v.start <= hi and v.end >= lo],
            ]
        )


_recent: OrderedDict[int, _RegistryPrints] = OrderedDict()
_recent_lock = threading.Lock()


def day_fingerprint(registry: Registry, day: date) -> str:
    """A digest of everything in `registry` that `day_summary` of `day` depends on."""
    with _recent_lock:
        prints = _recent.get(id(registry))
        if prints is None or prints.registry is not registry:
            prints = _recent[id(registry)] = _RegistryPrints(registry)
            while len(_recent) > _RECENT_REGISTRIES:
                _recent.popitem(last=False)
        _recent.move_to_end(id(registry))
        return prints.day(day)


# --- reading and writing rows -------------------------------------------------------------

Sessions = Callable[[], Session]


def stored_days(sessions: Sessions, hall: str, first: date, last: date) -> dict[date, StoredDay]:
    """The rows of hall `hall`, days first..last (inclusive), without their summaries."""
    columns = (
        DaySummaryRow.day,
        DaySummaryRow.fingerprint,
        DaySummaryRow.computed_at,
        DaySummaryRow.event_count,
        DaySummaryRow.newest_received,
    )
    with sessions() as session:
        found = session.execute(
            select(*columns).where(
                DaySummaryRow.hall == hall, DaySummaryRow.day >= first, DaySummaryRow.day <= last
            )
        )
        return {
            day: StoredDay(day, fingerprint, computed_at, Receipts(count, newest))
            for day, fingerprint, computed_at, count, newest in found
        }


def load_summaries(
    sessions: Sessions, hall: str, days: Iterable[date], tz: tzinfo = UTC
) -> dict[date, tuple[StoredDay, DaySummary]]:
    """The stored rows of hall `hall` for `days` (those that exist), each with its summary."""
    wanted = sorted(set(days))
    if not wanted:
        return {}
    with sessions() as session:
        found = session.scalars(
            select(DaySummaryRow).where(DaySummaryRow.hall == hall, DaySummaryRow.day.in_(wanted))
        )
        return {row.day: (_stored(row), summary_from_json(row.summary, tz)) for row in found}


def save_summary(
    sessions: Sessions,
    hall: str,
    summary: DaySummary,
    fingerprint: str,
    receipts: Receipts,
    computed_at: datetime,
) -> StoredDay:
    """Store (insert or replace) a day's summary of hall `hall`; a newer row there is kept."""
    values = {
        "hall": hall,
        "day": summary.day,
        "fingerprint": fingerprint,
        "computed_at": computed_at,
        "newest_received": receipts.newest,
        "event_count": receipts.count,
        "summary": summary_to_json(summary),
    }
    with sessions() as session:
        dialect = session.get_bind().dialect.name
        if dialect in ("sqlite", "postgresql"):
            insert = (sqlite if dialect == "sqlite" else postgresql).insert(DaySummaryRow)
            statement = insert.values(**values)
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=[DaySummaryRow.hall, DaySummaryRow.day],
                    set_={k: statement.excluded[k] for k in values if k not in ("hall", "day")},
                    where=DaySummaryRow.computed_at <= statement.excluded.computed_at,
                )
            )
            session.commit()
        else:  # a portable replace; a writer racing us stored an equally good summary
            session.execute(
                delete(DaySummaryRow).where(
                    DaySummaryRow.hall == hall, DaySummaryRow.day == summary.day
                )
            )
            session.add(DaySummaryRow(**values))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
    return StoredDay(summary.day, fingerprint, computed_at, receipts)


def _stored(row: DaySummaryRow) -> StoredDay:
    receipts = Receipts(row.event_count, row.newest_received)
    return StoredDay(row.day, row.fingerprint, row.computed_at, receipts)
