"""What an alert is about, as the pure rules produce it (docs/OPERATIONS.md kinds)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

AlertKind = Literal["empty_window", "absent", "pulled_back", "device_offline", "withdrawn"]
ALERT_KINDS: tuple[AlertKind, ...] = (
    "empty_window",
    "absent",
    "pulled_back",
    "device_offline",
    "withdrawn",
)


@dataclass(frozen=True)
class Episode:
    """One occurrence of an alert condition on one hall day.

    `key` identifies it across evaluations (kind, subject and the moment the
    situation began), so evaluating twice, late or after a restart finds the
    same episode. `opened_at` is when the rule fired (e.g. the seat emptied +
    the grace); `since` when the situation began; `resolved_at` is set once
    the condition cleared (or the day closed) before the evaluated instant.
    """

    kind: AlertKind
    key: str
    opened_at: datetime
    since: datetime
    resolved_at: datetime | None = None
    window: str | None = None
    department: str | None = None
    staff: str | None = None
    device: str | None = None
    resolution: str | None = None  # occupied, signed_in, reported or day_closed
