"""One evaluation of the alert rules: events → episodes → alert records → notifications.

Every evaluation covers explicit windows, never "since the last run": now's hall
day up to now, plus past days that still need closing (yesterday until its
verdicts are recorded, and any recent day with an alert left unresolved). So a
skipped or coalesced run, a scheduler started late, or one restarted after a
crash loses nothing, and a repeated one changes nothing.

Each hall of the deployment is evaluated by its own hours, holidays and time
zone; an evaluation of one hall never revises, follows up or counts another's
alerts (told apart by department, whose ids are unique across the deployment).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from alerts.notify import follow_up, on_opened
from alerts.records import ReconcileResult, begin_write, reconcile
from hallwatch.access import in_hall
from hallwatch.alert_kinds import Episode
from hallwatch.registry.alerting import AlertRow
from hallwatch.registry.deployment import Deployment
from hallwatch.registry.models import UserRow
from hallwatch.registry.spec import Registry
from hallwatch.rules import episodes, episodes_of_day
from hallwatch.runtime import Runtime
from hallwatch.schedule import DaySchedule, day_of, local_midnight

log = logging.getLogger(__name__)

CATCH_UP_DAYS = 7  # past days with unresolved alerts are re-evaluated this far back


def foreign_departments(deployment: Deployment, registry: Registry) -> frozenset[str]:
    """The departments of the deployment's other halls (none for a single hall)."""
    return frozenset(
        d for d, hall in deployment.hall_of_department.items() if hall != registry.hall.id
    )


@dataclass
class Evaluator:
    """Evaluates the rules for a runtime; remembers which past days it has already closed."""

    runtime: Runtime
    closed_days: set[tuple[str, date]] = field(default_factory=set)  # (hall id, day)

    def evaluate(self, now: datetime, dry_run: bool = False) -> list[AlertRow]:
        """Reconcile and notify as of `now`; return the unresolved alerts (dry run: no change)."""
        deployment = _deployment_of(self.runtime)
        # All InfluxDB reads first: no database transaction is held open across them.
        found, past = [], []
        for registry in deployment.halls:
            foreign = foreign_departments(deployment, registry)
            today = day_of(registry.hall, now)
            days = self._days_to_close(registry, today, foreign)
            past += [(registry.hall.id, day) for day in days]
            for day in days:
                then = self._registry_of(registry, day)
                found.append((registry, then, day, self._episodes_of(then, day, now)))
            then = self._registry_of(registry, today)
            found.append((registry, then, today, self._today(then, today, now)))
        with self.runtime.sessions() as session:
            begin_write(session)
            changes = [
                (
                    registry,
                    reconcile(
                        session,
                        eps,
                        then,
                        now,
                        _bounds(registry, day),
                        foreign_departments(deployment, registry),
                    ),
                )
                for registry, then, day, eps in found
            ]
            if not dry_run:
                self._notify(session, deployment, changes, now)
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
        _log_changes([change for _, change in changes])
        return open_rows

    def _days_to_close(
        self, registry: Registry, today: date, foreign: frozenset[str] = frozenset()
    ) -> list[date]:
        """Past days still to evaluate once: yesterday without verdicts, days left unresolved."""
        days: set[date] = set()
        yesterday = today - timedelta(days=1)
        with self.runtime.sessions() as session:
            if DaySchedule(registry, yesterday).working and not _verdicts_recorded(
                session, registry, yesterday, foreign
            ):
                days.add(yesterday)
            days |= _days_left_open(session, registry, today, foreign)
        hall = registry.hall.id
        return sorted(day for day in days if (hall, day) not in self.closed_days)

    def _registry_of(self, registry: Registry, day: date) -> Registry:
        """The hall as it stood at the end of `day` (`hallwatch check --at` a past instant)."""
        if not hasattr(self.runtime, "day_registry"):  # a stand-in runtime: one registry
            return registry
        # The present, not the instant evaluated: a day before today is a past day.
        return self.runtime.day_registry(registry, day, datetime.now(UTC))

    def _episodes_of(self, registry: Registry, day: date, now: datetime) -> list[Episode]:
        start = local_midnight(registry.hall, day)
        end = local_midnight(registry.hall, day + timedelta(days=1))
        events = self.runtime.stored_history(registry, start, min(end, now))
        return episodes_of_day(registry, events, day, now)

    def _today(self, registry: Registry, today: date, now: datetime) -> list[Episode]:
        return episodes(registry, self.runtime.history(registry, now), now)

    def _notify(
        self,
        session: Session,
        deployment: Deployment,
        changes: list[tuple[Registry, ReconcileResult]],
        now: datetime,
    ) -> None:
        everyone = list(session.scalars(select(UserRow).order_by(UserRow.id)))
        settings = self.runtime.settings
        for registry in deployment.halls:
            users = in_hall(everyone, registry.hall.id)
            for hall, change in changes:
                if hall is registry:
                    for row in change.opened:
                        on_opened(session, row, registry, users, settings, now)
            foreign = foreign_departments(deployment, registry)
            follow_up(session, registry, users, settings, now, foreign)


def evaluate(runtime: Runtime, now: datetime, dry_run: bool = False) -> list[AlertRow]:
    """One evaluation as of `now` (past days closed as needed); return the unresolved alerts."""
    return Evaluator(runtime).evaluate(now, dry_run)


def _deployment_of(runtime: Runtime) -> Deployment:
    """Every hall, fresh (a stand-in runtime that only has `registry()` is one hall)."""
    if hasattr(runtime, "deployment"):
        return runtime.deployment(fresh=True)
    return Deployment((runtime.registry(fresh=True),))


def _not_foreign(foreign: frozenset[str]) -> list[ColumnElement[bool]]:
    """WHERE clauses leaving out the alerts of other halls' departments."""
    if not foreign:
        return []
    return [or_(AlertRow.department_id.is_(None), AlertRow.department_id.not_in(foreign))]


def _verdicts_recorded(
    session: Session, registry: Registry, day: date, foreign: frozenset[str] = frozenset()
) -> bool:
    """Whether `withdrawn` alerts of `day` exist, i.e. the day was evaluated after its close."""
    start = local_midnight(registry.hall, day)
    end = local_midnight(registry.hall, day + timedelta(days=1))
    found = session.scalar(
        select(AlertRow.id)
        .where(
            AlertRow.kind == "withdrawn",
            AlertRow.since >= start,
            AlertRow.since < end,
            *_not_foreign(foreign),
        )
        .limit(1)
    )
    return found is not None


def _days_left_open(
    session: Session, registry: Registry, today: date, foreign: frozenset[str] = frozenset()
) -> set[date]:
    """Recent past days with an alert still unresolved (the scheduler stopped too early)."""
    start = local_midnight(registry.hall, today - timedelta(days=CATCH_UP_DAYS))
    end = local_midnight(registry.hall, today)
    since = session.scalars(
        select(AlertRow.since).where(
            AlertRow.resolved_at.is_(None),
            AlertRow.since >= start,
            AlertRow.since < end,
            *_not_foreign(foreign),
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
