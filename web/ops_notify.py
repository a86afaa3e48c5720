"""Telling the department heads concerned that the registry changed for their people: a
person moved or retired, or their roster changed (hallwatch.access.told_of_change). One
message each, through their channels (alerts/outbox.py), queued after the change."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select

from alerts.outbox import enqueue
from hallwatch.access import Scope, told_of_change
from hallwatch.registry.models import UserRow
from web.ops_forms import runtime

REASON = "registry_change"


def tell_departments(departments: Iterable[str], hall: str, subject: str, body: str) -> int:
    """Queue `subject`/`body` for the heads of `departments` (of hall `hall`); how many
    messages were queued. Each change gets a key of its own, so none is taken for a repeat."""
    change = uuid.uuid4().hex
    now = datetime.now(UTC)
    queued = 0
    with runtime().sessions() as db, db.begin():
        users = [u for u in db.scalars(select(UserRow).order_by(UserRow.id)) if _in(u, hall)]
        for user in told_of_change({d for d in departments if d}, users):
            key = f"{REASON}:{change}:{user.id}"
            queued += enqueue(db, None, user, REASON, subject, body, now, key=key)
    return queued


def _in(user: UserRow, hall: str) -> bool:
    return Scope.of(user).sees_hall(hall)
