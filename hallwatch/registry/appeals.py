"""Appeals (申诉) in the database: filed, then accepted or rejected once, never edited after.

A department head files; a hall manager or admin decides with a note. The decision
is a conditional UPDATE (`status = 'pending'`), so of two people deciding at once
only the first counts and a decided appeal is never decided again; an ORM change
to a decided row is refused at flush (`_refuse_changes`). A pending appeal may be
withdrawn by its filer, which is final too.

Two open appeals (pending or accepted) may not cover the same episode or
overlapping stretches of a window: an accepted pair would excuse the same
minutes twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hallwatch.access import Scope
from hallwatch.registry import decided_once
from hallwatch.registry.decided_once import PENDING, refuse_changes_once_final
from hallwatch.registry.models import AppealRow

WINDOW, ABSENCE, PULLED_BACK = "window", "absence", "pulled_back"
SUBJECTS = (WINDOW, ABSENCE, PULLED_BACK)
EPISODE_KINDS = {ABSENCE: "absent", PULLED_BACK: "pulled_back"}  # subject → alert kind
EPISODE_SUBJECTS = {kind: subject for subject, kind in EPISODE_KINDS.items()}
REASONS = ("sensor_fault", "errand", "outage")

ACCEPTED, REJECTED, WITHDRAWN = "accepted", "rejected", "withdrawn"
FINAL = (ACCEPTED, REJECTED, WITHDRAWN)
OPEN = (PENDING, ACCEPTED)  # those that do or may excuse something
REASON_MAX_CHARS = NOTE_MAX_CHARS = 500


class AppealRefused(Exception):
    """The store will not do this; the message says why (in English, for logs and the API).

    `other` is the open appeal already covering the same minutes or episode, if that is why.
    """

    def __init__(self, message: str, other: int | None = None):
        super().__init__(message)
        self.other = other


class AppealDecided(AppealRefused):
    """The appeal is already decided or withdrawn: it can never change again."""


refuse_changes_once_final(AppealRow, FINAL, AppealDecided, "appeal")


@dataclass(frozen=True)
class Filing:
    """What a department head files: the subject, and why."""

    hall: str
    department: str
    subject: str  # window | absence | pulled_back
    day: date
    start: datetime  # the stretch's start, or the episode's opening
    reason: str
    reason_text: str
    window: str | None = None
    staff: str | None = None
    end: datetime | None = None  # the stretch's end
    episode_key: str | None = None

    def check(self) -> None:
        """ValueError naming what is wrong with the filing itself."""
        if self.subject not in SUBJECTS:
            raise ValueError(f"'subject' must be one of {', '.join(SUBJECTS)}")
        if self.reason not in REASONS:
            raise ValueError(f"'reason' must be one of {', '.join(REASONS)}")
        if not self.reason_text.strip():
            raise ValueError("'reason_text' is required")
        if len(self.reason_text) > REASON_MAX_CHARS:
            raise ValueError(f"'reason_text' may have at most {REASON_MAX_CHARS} characters")
        if self.subject == WINDOW:
            if not self.window or self.end is None or self.end <= self.start:
                raise ValueError("a window stretch needs a window and an end after its start")
        elif not (self.staff and self.episode_key):
            raise ValueError("an absence or pull-back appeal needs its person and episode")


def _overlapping(session: Session, filing: Filing) -> AppealRow | None:
    """An open appeal covering the same episode or an overlapping stretch of the window."""
    query = select(AppealRow).where(AppealRow.status.in_(OPEN))
    if filing.subject == WINDOW:
        query = query.where(
            AppealRow.subject == WINDOW,
            AppealRow.window_id == filing.window,
            AppealRow.start < filing.end,
            AppealRow.end > filing.start,
        )
    else:
        query = query.where(AppealRow.episode_key == filing.episode_key)
    return session.scalars(query.limit(1)).first()


def file_appeal(session: Session, filing: Filing, filed_by: str, now: datetime) -> AppealRow:
    """A new pending appeal (the caller commits); ValueError or AppealRefused when not."""
    filing.check()
    if (other := _overlapping(session, filing)) is not None:
        raise AppealRefused(f"appeal {other.id} ({other.status}) already covers this", other.id)
    row = AppealRow(
        hall_code=filing.hall,
        department_id=filing.department,
        subject=filing.subject,
        window_id=filing.window,
        staff_id=filing.staff,
        episode_key=filing.episode_key,
        day=filing.day,
        start=filing.start,
        end=filing.end,
        reason=filing.reason,
        reason_text=filing.reason_text.strip(),
        status=PENDING,
        filed_by=filed_by,
        filed_at=now,
    )
    session.add(row)
    session.flush()
    return row


def visible_to(user, hall: str | None = None) -> list:
    """WHERE clauses (hallwatch.access.Scope): a department head sees their department's
    appeals, a user limited to halls those halls'; with `hall`, only that hall's."""
    return Scope.of(user).where(AppealRow.hall_code.in_, AppealRow.department_id, hall)


def find(session: Session, appeal_id: int, scope: list) -> AppealRow | None:
    return decided_once.find(session, AppealRow, appeal_id, scope)


def _settle(session: Session, appeal_id: int, scope: list, values: dict) -> AppealRow | None:
    """Move a pending appeal in scope to a final state; AppealDecided if it was not pending."""
    return decided_once.settle(
        session, AppealRow, appeal_id, scope, values, AppealDecided, "appeal"
    )


def decide(
    session: Session,
    appeal_id: int,
    accept: bool,
    decided_by: str,
    note: str,
    now: datetime,
    scope: list,
    minutes_us: dict[str, int] | None = None,
    count: int | None = None,
) -> AppealRow | None:
    """Accept (with the snapshot of what it excuses, as `metrics.appeals.to_microseconds`
    stores it) or reject a pending appeal, with a note.

    None when no such appeal is in `scope`; AppealDecided when it was decided already.
    The caller commits.
    """
    note = note.strip()
    if not note:
        raise ValueError("'note' is required")
    if len(note) > NOTE_MAX_CHARS:
        raise ValueError(f"'note' may have at most {NOTE_MAX_CHARS} characters")
    values = {"status": REJECTED, "decided_by": decided_by, "decided_at": now, "note": note}
    if accept:
        values.update(
            status=ACCEPTED,
            minutes_us=minutes_us,
            excused_count=count,
        )
    return _settle(session, appeal_id, scope, values)


def withdraw(
    session: Session, appeal_id: int, username: str, now: datetime, scope: list
) -> AppealRow | None:
    """Withdraw a pending appeal its filer `username` filed; AppealDecided when not pending."""
    row = find(session, appeal_id, scope)
    if row is None or row.filed_by != username:
        return None
    return _settle(
        session,
        appeal_id,
        [*scope, AppealRow.filed_by == username],
        {"status": WITHDRAWN, "decided_by": username, "decided_at": now},
    )


def _in_range(hall: str, start: datetime, end: datetime) -> list:
    return [AppealRow.hall_code == hall, AppealRow.start >= start, AppealRow.start < end]


def decided_between(session: Session, hall: str, start: datetime, end: datetime) -> list[AppealRow]:
    """The hall's accepted and rejected appeals belonging to [start, end), in order."""
    return list(
        session.scalars(
            select(AppealRow)
            .where(*_in_range(hall, start, end), AppealRow.status.in_((ACCEPTED, REJECTED)))
            .order_by(AppealRow.start, AppealRow.id)
        )
    )


def accepted_rows(session: Session, hall: str, start: datetime, end: datetime) -> list[AppealRow]:
    """The hall's accepted appeals belonging to [start, end), in the order filed."""
    return list(
        session.scalars(
            select(AppealRow)
            .where(*_in_range(hall, start, end), AppealRow.status == ACCEPTED)
            .order_by(AppealRow.id)
        )
    )
