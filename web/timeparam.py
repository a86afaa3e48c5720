"""Parsing `?at=` style instants from requests."""

from __future__ import annotations

from datetime import datetime, tzinfo


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
    return value if value.tzinfo else value.replace(tzinfo=hall_tz)
