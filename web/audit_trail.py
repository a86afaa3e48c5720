"""Recording in the audit trail from a view: who is signed in, from which address.

Views call `note(db, action, target, before=…, after=…)` in the session of the change
they record, before they commit, so the record and the change stand or fall together.
A download changes nothing: `note_download` records it in a transaction of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import current_app, request
from flask_login import current_user
from sqlalchemy.orm import Session

from hallwatch.registry.audit import AuditRow, record

ANONYMOUS = "anonymous"  # the actor of what is done without signing in


def actor() -> str:
    """The signed-in user's name, or "anonymous"."""
    if getattr(current_user, "is_authenticated", False):
        return current_user.username
    return ANONYMOUS


def note(
    db: Session,
    action: str,
    target: str = "",
    *,
    before: Any = None,
    after: Any = None,
    who: str | None = None,
    now: datetime | None = None,
) -> AuditRow:
    """Record `action` in `db`'s transaction (the caller commits), as `who` or the user."""
    return record(
        db,
        who or actor(),
        action,
        target,
        now=now or datetime.now(UTC),
        address=request.remote_addr or "",
        before=before,
        after=after,
    )


def note_download(what: str, name: str, **facts: Any) -> None:
    """Record that the file `name` (a `what`: workbook, ranking…) was downloaded."""
    with current_app.extensions["hallwatch"].sessions() as db:
        note(db, f"download.{what}", name, after=facts or None)
        db.commit()


def note_acknowledged(db: Session, alert, now: datetime) -> None:
    """An alert acknowledged by this user at `now` (not when another's came first)."""
    if alert.acknowledged_by != actor() or alert.acknowledged_at != now:
        return  # the first acknowledgement stands: this one changed nothing
    facts = {"kind": alert.kind, "window": alert.window_id, "staff": alert.staff_id}
    note(
        db,
        "alert.acknowledge",
        f"alert {alert.id}",
        before={"status": "open"},
        after={"status": "acknowledged", "note": alert.ack_note, **facts},
        now=now,
    )


def note_appeal(db: Session, appeal, action: str, now: datetime) -> None:
    """An appeal filed (its facts), or decided or withdrawn (its status before and after)."""
    if action == "appeal.file":
        before, after = (
            None,
            {
                "department": appeal.department_id,
                "subject": appeal.subject,
                "window": appeal.window_id,
                "staff": appeal.staff_id,
                "start": appeal.start,  # stored as text (str of the instant)
                "end": appeal.end,
                "reason": appeal.reason,
                "reason_text": appeal.reason_text,
                "status": appeal.status,
            },
        )
    else:
        before, after = {"status": "pending"}, {"status": appeal.status, "note": appeal.note}
    note(db, action, f"appeal {appeal.id}", before=before, after=after, now=now)
