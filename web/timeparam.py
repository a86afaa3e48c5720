"""Parsing `?at=` style instants from requests."""

from __future__ import annotations

from datetime import datetime, tzinfo

# Years an instant or day may name: well inside InfluxDB's int64 nanoseconds (1677–2262)
# and Python's datetime (1–9999), whose edges would otherwise fail deep inside a query
# (OverflowError, an InfluxDB 400) instead of as a 400 naming the parameter.
EARLIEST_YEAR = 1900
LATEST_YEAR = 2200


class BadInstant(ValueError):
    """The text is not an ISO-8601 instant."""


def parse_instant(text: str, hall_tz: tzinfo) -> datetime:
    """ISO-8601 with or without offset (none means hall time) → aware datetime."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise BadInstant(
            f"'at' must be an ISO-8601 time such as 2026-11-23T10:20:00+08:00, got {text!r}"
        ) from exc
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise BadInstant(
            f"'at' must be in the years {EARLIEST_YEAR} to {LATEST_YEAR}, got {text[:40]!r}"
        )
    return value if value.tzinfo else value.replace(tzinfo=hall_tz)
