"""GET /metrics: the web app's Prometheus figures, and the alert figures the database holds.

Prometheus scrapes without a login, so who may read it is decided here, not by roles:
with HALLWATCH_METRICS_TOKEN set, a request must carry `Authorization: Bearer <token>`
(401 otherwise); without it, only a request from this host's loopback that did not come
through a proxy (no X-Forwarded-For) is answered (403 otherwise).

Request figures are per process. With gunicorn, set PROMETHEUS_MULTIPROC_DIR (an empty
directory, cleared before the workers start) and every worker's scrape sums all workers;
without it each worker answers with its own counts only (README, Metrics).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector as FigureSource
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from hallwatch.registry.alerting import AlertRow, OutboxRow

bp = Blueprint("metrics", __name__)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Page and API answers: most take tens of milliseconds; reports and downloads take seconds.
REQUEST_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
METHODS = frozenset({"GET", "HEAD", "POST", "OPTIONS"})  # any other method is counted as "other"
NO_ROUTE = "none"  # the endpoint label of a request no route matched (a 404)


class WebFigures:
    """Requests by endpoint, method and status, and their time by endpoint."""

    def __init__(self) -> None:
        # Unregistered: in multiprocess mode their values go to PROMETHEUS_MULTIPROC_DIR.
        self.requests = Counter(
            "hallwatch_web_requests_total",
            "HTTP requests answered, by endpoint (route name), method and status",
            ["endpoint", "method", "status"],
            registry=None,
        )
        self.seconds = Histogram(
            "hallwatch_web_request_seconds",
            "Time to answer one HTTP request, by endpoint (route name), seconds",
            ["endpoint"],
            buckets=REQUEST_SECONDS_BUCKETS,
            registry=None,
        )

    def answered(self, endpoint: str, method: str, status: int, seconds: float | None) -> None:
        method = method if method in METHODS else "other"
        self.requests.labels(endpoint, method, str(status)).inc()
        if seconds is not None:
            self.seconds.labels(endpoint).observe(seconds)


class AlertTables(FigureSource):
    """Open alerts by kind and outbox messages by state, counted in the database per scrape."""

    def __init__(self, sessions):
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        try:
            with self.sessions() as session:
                open_alerts = session.execute(
                    select(AlertRow.kind, func.count())
                    .where(AlertRow.resolved_at.is_(None))
                    .group_by(AlertRow.kind)
                ).all()
                outbox = session.execute(
                    select(
                        func.count(OutboxRow.sent_at),
                        func.count(OutboxRow.failed_at),
                        func.count(),
                    )
                ).one()
        except SQLAlchemyError:
            yield GaugeMetricFamily("hallwatch_database_up", "1 if the database answered", 0)
            return
        yield GaugeMetricFamily("hallwatch_database_up", "1 if the database answered", 1)
        alerts = GaugeMetricFamily(
            "hallwatch_alerts_open",
            "Alerts not yet resolved (open or acknowledged), by kind",
            labels=["kind"],
        )
        for kind, count in open_alerts:
            alerts.add_metric([kind], count)
        yield alerts
        sent, failed, total = outbox
        pending = total - sent - failed
        messages = GaugeMetricFamily(
            "hallwatch_outbox_messages",
            "Notification outbox rows: pending, sent, or failed (given up)",
            labels=["state"],
        )
        for state, count in (("pending", pending), ("sent", sent), ("failed", failed)):
            messages.add_metric([state], count)
        yield messages


def scrape_registry(figures: WebFigures, sessions) -> CollectorRegistry:
    """What /metrics serves: this process's (or all workers') requests, and the alert tables."""
    registry = CollectorRegistry(auto_describe=True)
    if os.environ.get(MULTIPROCESS_ENV):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(figures.requests)
        registry.register(figures.seconds)
    registry.register(AlertTables(sessions))
    return registry


def init_app(app: Flask) -> None:
    """Count every request and serve /metrics."""
    figures = WebFigures()
    runtime = app.extensions["hallwatch"]
    app.extensions["hallwatch_metrics"] = scrape_registry(figures, runtime.sessions)

    @app.after_request
    def _count(response):
        started = g.get("request_started")  # set by web/__init__.py's first before_request
        seconds = time.perf_counter() - started if started is not None else None
        endpoint = request.url_rule.endpoint if request.url_rule else NO_ROUTE
        figures.answered(endpoint, request.method, response.status_code, seconds)
        return response

    app.register_blueprint(bp)


@bp.get("/metrics")
def metrics():
    _admit(current_app.extensions["hallwatch"].settings.metrics_token)
    # The text format, or OpenMetrics when the scraper asks for it (as prometheus_client does).
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encode(current_app.extensions["hallwatch_metrics"])
    return Response(body, headers={"Content-Type": content_type})


def _admit(token: str | None) -> None:
    """Abort unless the request may read the figures (see the module's docstring)."""
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            abort(Response(status=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'}))
        return
    if "X-Forwarded-For" in request.headers or not _loopback(request.remote_addr):
        abort(403)


def _loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False
