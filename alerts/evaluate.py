"""One evaluation of the alert rules: events → episodes → alert records → notifications.

Every evaluation covers explicit windows, never "since the last run": now's hall
day up to now, plus past days that still need closing (yesterday until its
verdicts are recorded, and any recent day with an alert left unresolved). So a
skipped or coalesced run, a scheduler started late, or one restarted after a
crash loses nothing, and a repeated one changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.notify import follow_up, on_opened
from alerts.records import ReconcileResult, begin_write, reconcile
from hallwatch.alert_kinds import Episode
from hallwatch.registry.alerting import AlertRow
from hallwatch.registry.models import UserRow
from hallwatch.registry.spec import Registry
from hallwatch.rules import episodes, episodes_of_day
from hallwatch.runtime import Runtime
from hallwatch.schedule import DaySchedule, day_of, local_midnight

log = logging.getLogger(__name__)

CATCH_UP_DAYS = 7  # past days with unresolved alerts are re-evaluated this far back


@dataclass
class Evaluator:
    """Evaluates the rules for a runtime; remembers which past days it has already closed."""

    runtime: Runtime
    closed_days: set[date] = field(default_factory=set)

    def evaluate(self, now: datetime, dry_run: bool = False) -> list[AlertRow]:
        """Reconcile and notify as of `now`; return the unresolved alerts (dry run: no change)."""
        registry = self.runtime.registry(fresh=True)
        today = day_of(registry.hall, now)
        past = self._days_to_close(registry, today)
        # All InfluxDB reads first: no database transaction is held open across them.
        found = [(day, self._episodes_of(registry, day, now)) for day in past]
        found.append((today, self._today(registry, today, now)))
        with self.runtime.sessions() as session:
            begin_write(session)
            changes = [
                reconcile(session, eps, registry, now, _bounds(registry, day)) for day, eps in found
            ]
            if not dry_run:
                self._notify(session, registry, changes, now)
            open_rows = list(
                session.scalars(
                    select(AlertRow)
                    .where(AlertRow.resolved_at.is_(None))
                    .order_by(AlertRow.opened_at, AlertRow.id)
                )
            )
            if dry_run:
                session.expunge_all()  # keep the rows readable after the rollback
                session.rollback()
                return open_rows
            session.commit()
        self.closed_days.update(past)
        _log_changes(changes)
        return open_rows

    def _days_to_close(self, registry: Registry, today: date) -> list[date]:
        """Past days still to evaluate once: yesterday without verdicts, days left unresolved."""
        days: set[date] = set()
        yesterday = today - timedelta(days=1)
        with self.runtime.sessions() as session:
            if DaySchedule(registry, yesterday).working and not _verdicts_recorded(
                session, registry, yesterday
            ):
                days.add(yesterday)
            days |= _days_left_open(session, registry, today)
        return sorted(days - self.closed_days)

    def _episodes_of(self, registry: Registry, day: date, now: datetime) -> list[Episode]:
        start = local_midnight(registry.hall, day)
        end = local_midnight(registry.hall, day + timedelta(days=1))
        events = self.runtime.store.day_history(start, min(end, now))
        return episodes_of_day(registry, events, day, now)

    def _today(self, registry: Registry, today: date, now: datetime) -> list[Episode]:
        return episodes(registry, self.runtime.history(registry, now), now)

    def _notify(
        self,
        session: Session,
        registry: Registry,
        changes: list[ReconcileResult],
        now: datetime,
    ) -> None:
        users = list(session.scalars(select(UserRow).order_by(UserRow.id)))
        settings = self.runtime.settings
        for change in changes:
            for row in change.opened:
                on_opened(session, row, registry, users, settings, now)
        follow_up(session, registry, users, settings, now)


def evaluate(runtime: Runtime, now: datetime, dry_run: bool = False) -> list[AlertRow]:
    """One evaluation as of `now` (past days closed as needed); return the unresolved alerts."""
    return Evaluator(runtime).evaluate(now, dry_run)


def _verdicts_recorded(session: Session, registry: Registry, day: date) -> bool:
    """Whether `withdrawn` alerts of `day` exist, i.e. the day was evaluated after its close."""
    start = local_midnight(registry.hall, day)
    end = local_midnight(registry.hall, day + timedelta(days=1))
    found = session.scalar(
        select(AlertRow.id)
        .where(AlertRow.kind == "withdrawn", AlertRow.since >= start, AlertRow.since < end)
        .limit(1)
    )
    return found is not None


def _days_left_open(session: Session, registry: Registry, today: date) -> set[date]:
    """Recent past days with an alert still unresolved (the scheduler stopped too early)."""
    start = local_midnight(registry.hall, today - timedelta(days=CATCH_UP_DAYS))
    end = local_midnight(registry.hall, today)
    since = session.scalars(
        select(AlertRow.since).where(
            AlertRow.resolved_at.is_(None), AlertRow.since >= start, AlertRow.since < end
        )
    )
    return {day_of(registry.hall, at) for at in since}


def _log_changes(changes: list[ReconcileResult]) -> None:
    """Log state changes only: alerts opened, resolved, recorded after the fact."""
    opened = sum(len(c.opened) for c in changes)
    resolved = sum(len(c.resolved) for c in changes)
    recorded = sum(len(c.recorded) for c in changes)
    if opened or resolved or recorded:
        log.info(
            "alerts: %d opened, %d resolved, %d recorded already over", opened, resolved, recorded
        )


def _bounds(registry: Registry, day: date) -> tuple[datetime, datetime]:
    """[start, end) of a hall day."""
    return local_midnight(registry.hall, day), local_midnight(
        registry.hall, day + timedelta(days=1)
    )
