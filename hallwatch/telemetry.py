"""Prometheus figures of the HallWatch processes: names, help texts, and how each is served.

Every process builds its own `CollectorRegistry` (nothing global, nothing at import time).
The collector's counts are the ones it already keeps in `CollectorStats` for its log line
and `/healthz`: `IngestFigures` (collector/figures.py) reads them at scrape time instead of
counting twice; the labels of its rejection kinds (hallwatch.events.RejectionKind) and its
write histogram are named here. The alert scheduler
counts its jobs and deliveries in `AlertFigures`. The web app's own figures are in
web/metrics_route.py.

The collector and the alert scheduler have no web server of their own, so each serves
`/metrics` from prometheus_client's small HTTP server, on loopback unless told otherwise
(`HALLWATCH_METRICS_HOST`): it has no login, and the port is off unless a port is given.
"""

from __future__ import annotations

import logging
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from hallwatch.events import RejectionKind

log = logging.getLogger(__name__)

DEFAULT_METRICS_HOST = "127.0.0.1"  # the metrics ports have no login: loopback unless told
# InfluxDB /write round trips: a healthy local write of a batch takes a few milliseconds; the
# top buckets catch a struggling server before the client's own timeout gives up.
WRITE_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
JOB_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def rejection_kinds() -> tuple[str, ...]:
    """Every value the `reason` label of rejected messages can take (events.RejectionKind)."""
    return tuple(kind.value for kind in RejectionKind)


def write_seconds() -> Histogram:
    """The histogram of InfluxDB write round trips; the collector observes it, unregistered."""
    return Histogram(
        "hallwatch_collector_write_seconds",
        "Time of one InfluxDB /write request (one batch, or part of a split one), seconds",
        buckets=WRITE_SECONDS_BUCKETS,
        registry=None,
    )


class AlertFigures:
    """What the alert scheduler did: jobs run by outcome and time, notifications by outcome."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.evaluations = Counter(
            "hallwatch_alert_evaluations_total",
            "Evaluations of the alert rules this process ran (as the active scheduler)",
            registry=self.registry,
        )
        self.jobs = Counter(
            "hallwatch_alert_jobs_total",
            "Scheduler job runs: done, standby (another scheduler holds the lease) or failed",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "hallwatch_alert_job_seconds",
            "Time of one scheduler job run, seconds",
            ["job"],
            buckets=JOB_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.notifications = Counter(
            "hallwatch_notifications_total",
            "Notification attempts from the outbox: sent, retrying (failed, due again) or failed",
            ["outcome"],
            registry=self.registry,
        )
        self.leading = Gauge(
            "hallwatch_alert_scheduler_active",
            "1 while this process holds the scheduler lease",
            registry=self.registry,
        )

    def job_ran(self, job: str, outcome: str, began: float) -> None:
        """One job run ended with `outcome` (done, standby or failed); `began`: perf_counter."""
        self.jobs.labels(job, outcome).inc()
        self.job_seconds.labels(job).observe(time.perf_counter() - began)
        if job == "evaluate" and outcome == "done":
            self.evaluations.inc()

    def delivered(self, sent: int, retrying: int, failed: int) -> None:
        for outcome, count in (("sent", sent), ("retrying", retrying), ("failed", failed)):
            if count:
                self.notifications.labels(outcome).inc(count)


def serve(registry: CollectorRegistry, port: int, host: str = DEFAULT_METRICS_HOST) -> int:
    """Serve `registry` at http://host:port/metrics from a daemon thread; the bound port."""
    server, _thread = start_http_server(port, addr=host, registry=registry)
    bound = server.server_port
    log.info("metrics at http://%s:%d/metrics", host, bound)
    return bound
