"""`hallwatch alerts`: the alert scheduler, its own process (never inside the web server).

Jobs on an in-memory job store (so restarts never pile up copies): evaluate
the rules, deliver the outbox, the morning digest, and keeping the table of
closed days' report summaries current (`hallwatch.metrics.jobs`). Each job first takes or
renews a database lease and does nothing unless this process holds it, so two
schedulers started together act as one, and a standby takes over within
LEASE_TTL_S when the holder dies. Evaluations cover explicit time windows and
every write is idempotent, so a skipped, coalesced or doubled run loses nothing
and repeats nothing.
"""

from __future__ import annotations

import logging
import threading
import time as clock_time
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from alerts.digest import morning_digest
from alerts.evaluate import Evaluator, foreign_departments
from alerts.lease import make_holder, release, try_acquire
from alerts.outbox import deliver_due
from alerts.records import begin_write
from hallwatch.access import in_hall
from hallwatch.influx.client import InfluxError
from hallwatch.metrics.jobs import BACKFILL_DAYS, LATE_DAYS, refresh_days
from hallwatch.registry.models import UserRow
from hallwatch.runtime import Runtime
from hallwatch.schedule import day_of
from hallwatch.telemetry import AlertFigures

log = logging.getLogger(__name__)

EVALUATE_INTERVAL_S = 2.0
DELIVER_INTERVAL_S = 2.0
LEASE_NAME = "alert-scheduler"
LEASE_TTL_S = 15.0  # a holder that stops renewing is replaced this long after its last tick
MISFIRE_GRACE_S = 5  # a tick later than this is dropped: the next one covers the same ground
DIGEST_AT = time(8, 30)  # each hall's own time: its yesterday's digest is due
DIGEST_CHECK_S = 60.0  # how often the digest job looks for a hall whose 08:30 has passed
STARTUP_TIMEOUT_S = 30.0  # a stop requested while starting waits this long for the start
SUMMARIES_INTERVAL_S = 300.0  # how soon a late event for a closed day reaches the reports
SUMMARIES_AFTER_CLOSE = time(0, 5)  # hall time: store the day just closed (and the last 40)
SUMMARIES_MISFIRE_GRACE_S = 3600
WORKER_THREADS = 6  # one per job, plus room for a catch-up run
OUTAGES = (InfluxError, DBAPIError)  # a service away: the next tick tries again

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AlertService:
    """What the jobs do, each only while this process holds the lease."""

    def __init__(
        self,
        runtime: Runtime,
        holder: str | None = None,
        clock: Clock = utc_now,
        figures: AlertFigures | None = None,
    ):
        self.runtime = runtime
        self.figures = figures or AlertFigures()
        self.holder = holder or make_holder()
        self.clock = clock
        self.evaluator = Evaluator(runtime)
        self.leading = False
        self._digested: dict[str, date] = {}  # hall id → the last day whose digest was queued
        self._lease_lock = threading.Lock()
        self._failing: set[str] = set()

    def lead(self, now: datetime) -> bool:
        """Take or renew the lease; log only when leadership changes."""
        with self._lease_lock:
            held = try_acquire(self.runtime.sessions, LEASE_NAME, self.holder, LEASE_TTL_S, now)
            if held and not self.leading:
                log.info("alert scheduler %s is now the active one", self.holder)
            elif self.leading and not held:
                log.warning("alert scheduler %s lost its lease; standing by", self.holder)
            self.leading = held
            return held

    def evaluate_job(self) -> None:
        """Evaluate the rules as of now."""
        self._run("evaluate", self.evaluator.evaluate)

    def deliver_job(self) -> None:
        """Send what the outbox has due."""
        self._run("deliver", self._deliver)

    def digest_job(self) -> None:
        """Queue each hall's morning digest once its own 08:30 has passed (deduplicated)."""
        self._run("digest", self._digest)

    def summaries_job(self) -> None:
        """Store the summaries of the last week's closed days that are missing or behind."""
        self._run("summaries", lambda now: refresh_days(self.runtime, now, LATE_DAYS))

    def backfill_job(self) -> None:
        """Store the summaries of the last 40 days' closed days that are missing or outdated."""
        self._run("backfill", lambda now: refresh_days(self.runtime, now, BACKFILL_DAYS))

    def stand_down(self) -> None:
        """Give the lease up so a standby takes over at its next tick."""
        if self.leading and release(self.runtime.sessions, LEASE_NAME, self.holder):
            log.info("alert scheduler %s released its lease", self.holder)
        self.leading = False

    def _run(self, name: str, work: Callable[[datetime], None]) -> None:
        """Run one job if leading; log a failure once, and once when it works again."""
        now, began = self.clock(), clock_time.perf_counter()
        try:
            leading = self.lead(now)
            if leading:
                work(now)
        except OUTAGES as exc:  # InfluxDB or the database away: expected, no traceback
            self._failed(name, f"{type(exc).__name__}: {exc}", began)
            return
        except Exception:  # a bug: keep the traceback, and keep the scheduler going
            self._failed(name, "unexpected error", began, trace=True)
            return
        finally:
            self.figures.leading.set(int(self.leading))
        self.figures.job_ran(name, "done" if leading else "standby", began)
        if name in self._failing:
            log.info("alert job %r works again", name)
            self._failing.discard(name)

    def _failed(self, name: str, why: str, began: float, trace: bool = False) -> None:
        self.figures.job_ran(name, "failed", began)
        if name in self._failing:
            return
        self._failing.add(name)
        log.error("alert job %r failed, retrying every tick: %s", name, why, exc_info=trace)

    def _deliver(self, now: datetime) -> None:
        stats = deliver_due(self.runtime.sessions, self.runtime.settings, now)
        self.figures.delivered(stats.sent, stats.retrying, stats.failed)
        if stats.attempted:
            log.info(
                "outbox: %d sent, %d to retry, %d given up",
                stats.sent,
                stats.retrying,
                stats.failed,
            )

    def _digest(self, now: datetime) -> None:
        """Yesterday's digest of each hall whose 08:30 has passed, to the users of that hall.

        Each hall by its own clock and calendar day. A digest is keyed by hall, day and user
        in the outbox, so a new leader (or a restart) queuing it again adds nothing; the
        memo only spares the queries.
        """
        deployment = self.runtime.deployment(fresh=True)
        for registry in deployment.halls:
            if now.astimezone(registry.hall.tz).time() < DIGEST_AT:
                continue
            yesterday = day_of(registry.hall, now) - timedelta(days=1)
            if self._digested.get(registry.hall.id) == yesterday:
                continue
            foreign = foreign_departments(deployment, registry)
            with self.runtime.sessions() as session:
                begin_write(session)
                everyone = session.scalars(select(UserRow).order_by(UserRow.id))
                users = in_hall(everyone, registry.hall.id)
                added = morning_digest(
                    session, registry, users, self.runtime.settings, yesterday, now, foreign
                )
                session.commit()
            self._digested[registry.hall.id] = yesterday
            if added:
                log.info(
                    "morning digest of %s, %s: %d messages queued",
                    registry.hall.id,
                    yesterday,
                    added,
                )


def build_scheduler(service: AlertService, hall_tz) -> BlockingScheduler:
    """The scheduler with its jobs: explicit ids, one instance each, coalesced."""
    scheduler = BlockingScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(WORKER_THREADS)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_S},
        timezone=hall_tz,
    )
    scheduler.add_job(
        service.evaluate_job,
        IntervalTrigger(seconds=EVALUATE_INTERVAL_S),
        id="evaluate",
        name="evaluate alert rules",
        replace_existing=True,
        next_run_time=datetime.now(hall_tz),
    )
    scheduler.add_job(
        service.deliver_job,
        IntervalTrigger(seconds=DELIVER_INTERVAL_S),
        id="deliver",
        name="deliver the outbox",
        replace_existing=True,
        next_run_time=datetime.now(hall_tz),
    )
    scheduler.add_job(
        service.digest_job,
        IntervalTrigger(seconds=DIGEST_CHECK_S),
        id="digest",
        name="morning digest",
        replace_existing=True,
        next_run_time=datetime.now(hall_tz),
    )
    scheduler.add_job(
        service.summaries_job,
        IntervalTrigger(seconds=SUMMARIES_INTERVAL_S),
        id="summaries",
        name="day summaries: late events",
        replace_existing=True,
        misfire_grace_time=SUMMARIES_MISFIRE_GRACE_S,
    )
    scheduler.add_job(
        service.backfill_job,
        CronTrigger(
            hour=SUMMARIES_AFTER_CLOSE.hour, minute=SUMMARIES_AFTER_CLOSE.minute, timezone=hall_tz
        ),
        id="backfill",
        name="day summaries: closed days",
        replace_existing=True,
        misfire_grace_time=SUMMARIES_MISFIRE_GRACE_S,
        next_run_time=datetime.now(hall_tz),
    )
    return scheduler


def run_scheduler(
    runtime: Runtime,
    on_stop_signal: Callable[[Callable[[], None]], None],
    figures: AlertFigures | None = None,
) -> None:
    """Run until `on_stop_signal`'s callback fires (SIGTERM/SIGINT), then release the lease."""
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # every tick at INFO is noise
    service = AlertService(runtime, figures=figures)
    scheduler = build_scheduler(service, runtime.registry(fresh=True).hall.tz)
    started, stop = threading.Event(), threading.Event()
    scheduler.add_listener(lambda _event: started.set(), EVENT_SCHEDULER_STARTED)

    def stopper() -> None:
        # Not from the signal handler itself: shutdown takes locks the interrupted loop may hold.
        stop.wait()
        if started.wait(STARTUP_TIMEOUT_S):
            scheduler.shutdown(wait=True)

    on_stop_signal(stop.set)
    threading.Thread(target=stopper, name="alerts-stop", daemon=True).start()
    log.info(
        "alert scheduler %s: evaluating every %gs, lease %r (%gs)",
        service.holder,
        EVALUATE_INTERVAL_S,
        LEASE_NAME,
        LEASE_TTL_S,
    )
    try:
        scheduler.start()
    finally:
        service.stand_down()
    log.info("alert scheduler stopped")
