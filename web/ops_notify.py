"""Telling the department heads concerned that the registry changed for their people: a
person moved or retired, or their roster changed (hallwatch.access.told_of_change). One
message each, through their channels (alerts/outbox.py), queued in the change's own
transaction: the change and its messages are stored together or not at all."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.outbox import enqueue
from hallwatch.access import Scope, told_of_change
from hallwatch.registry.models import UserRow

REASON = "registry_change"


@dataclass(frozen=True)
class Notice:
    """A message for the heads of `departments` (of hall `hall`) about a change."""

    departments: Iterable[str | None]
    hall: str
    subject: str
    body: str


def queue(db: Session, notice: Notice, now: datetime) -> int:
    """Queue the notice for each head concerned; how many messages were queued. Each change
    gets a key of its own, so none is taken for a repeat."""
    change = uuid.uuid4().hex
    users = [u for u in db.scalars(select(UserRow).order_by(UserRow.id)) if _in(u, notice.hall)]
    queued = 0
    for user in told_of_change({d for d in notice.departments if d}, users):
        key = f"{REASON}:{change}:{user.id}"
        queued += enqueue(db, None, user, REASON, notice.subject, notice.body, now, key=key)
    return queued


def _in(user: UserRow, hall: str) -> bool:
    return Scope.of(user).sees_hall(hall)
