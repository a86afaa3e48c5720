"""Staffing requests (人员调整): leave (请假报备), shift swaps (调班) and replacements (人员更换),
each asked for, then approved or rejected once, never edited after.

A department head files for their own department (a hall manager may file too); a hall
manager or admin decides with a note. Only an approval changes the registry, through
`change_registry` in the same transaction as the decision, so a request is approved
exactly when the registry holds what it asked for: a `leave:` entry with its type, a
`swaps:` entry, or the roster handed from one person to another from a date. The
decision is a conditional UPDATE (`status = 'pending'`), as for appeals: of two people
deciding at once only the first counts, and an ORM change to a decided row is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Date, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hallwatch.access import Scope
from hallwatch.registry import audit, decided_once
from hallwatch.registry.changes import Change, change_registry
from hallwatch.registry.decided_once import PENDING, refuse_changes_once_final
from hallwatch.registry.models import ID_LEN, TEXT_LEN, Base, UTCDateTime
from hallwatch.registry.spec import Registry
from hallwatch.registry.staffing_edits import add_leave, add_swap, replace_at_window

LEAVE, SWAP, REPLACEMENT = "leave", "swap", "replacement"
KINDS = (LEAVE, SWAP, REPLACEMENT)
APPROVED, REJECTED, WITHDRAWN = "approved", "rejected", "withdrawn"
STATUSES = (PENDING, APPROVED, REJECTED, WITHDRAWN)
FINAL = (APPROVED, REJECTED, WITHDRAWN)
NOTE_MAX_CHARS = 500


class StaffingRequestRow(Base):
    """One request. Which columns it uses depends on `kind`:

    leave: `staff_id`, `start`, `end`, `leave_type`, `reason`;
    swap: `day` and two people (`staff_id`, `other_staff_id`) or two windows (`window_id`,
    `other_window_id`); replacement: `window_id`, the person leaving (`staff_id`) and coming
    (`other_staff_id`), from `day`; a newcomer also has `new_name` and perhaps `new_card`.
    """

    __tablename__ = "staffing_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hall_code: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    department_id: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    staff_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    other_staff_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    window_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    other_window_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    day: Mapped[date | None] = mapped_column(Date, index=True)
    start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    leave_type: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    new_name: Mapped[str | None] = mapped_column(String(TEXT_LEN))
    new_card: Mapped[str | None] = mapped_column(String(ID_LEN))
    filed_by: Mapped[str] = mapped_column(String(ID_LEN))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(ID_LEN))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)

    @property
    def newcomer(self) -> bool:
        return self.kind == REPLACEMENT and self.new_name is not None


class RequestDecided(Exception):
    """The request is already decided or withdrawn: it can never change again."""


refuse_changes_once_final(StaffingRequestRow, FINAL, RequestDecided, "request")


@dataclass(frozen=True)
class Filed:
    """Who files, where: the hall's registry as it is now, and the filer's scope."""

    registry: Registry
    scope: Scope
    username: str
    now: datetime


def file_request(session: Session, filed: Filed, row: StaffingRequestRow) -> StaffingRequestRow:
    """Store a checked request (`hallwatch.registry.staffing_rules` builds it) as pending,
    with a record in the audit trail; the caller commits."""
    row.hall_code = filed.registry.hall.id
    row.status = PENDING
    row.filed_by = filed.username
    row.filed_at = filed.now
    session.add(row)
    session.flush()
    audit.record(
        session,
        filed.username,
        f"{row.kind}.request",
        f"request {row.id}",
        now=filed.now,
        after=describe(row),
    )
    return row


def describe(row: StaffingRequestRow) -> dict:
    """The request's content for the audit trail."""
    fields = ("kind", "department_id", "staff_id", "other_staff_id", "window_id")
    fields += ("other_window_id", "leave_type", "reason", "new_name", "new_card", "status")
    content = {name: getattr(row, name) for name in fields if getattr(row, name)}
    for name in ("day", "start", "end"):
        if (value := getattr(row, name)) is not None:
            content[name] = value.isoformat()
    return content


def visible_to(user, hall: str | None = None) -> list:
    """WHERE clauses of the requests in the user's scope (a department head: their own
    department's); with `hall`, only that hall's."""
    return Scope.of(user).where(
        StaffingRequestRow.hall_code.in_, StaffingRequestRow.department_id, hall
    )


def find(session: Session, request_id: int, scope: list) -> StaffingRequestRow | None:
    return decided_once.find(session, StaffingRequestRow, request_id, scope)


def _settle(session: Session, request_id: int, scope: list, values: dict):
    """Move a pending request in scope to a final state; RequestDecided if it was not pending."""
    return decided_once.settle(
        session, StaffingRequestRow, request_id, scope, values, RequestDecided, "request"
    )


def registry_edit(row: StaffingRequestRow) -> Callable[[dict], None]:
    """What approving `row` does to the registry file's mapping."""
    if row.kind == LEAVE:
        return lambda m: add_leave(
            m, row.staff_id, row.start, row.end, row.leave_type or "other", row.reason
        )
    if row.kind == SWAP:
        if row.staff_id:
            return lambda m: add_swap(m, row.day, "staff", (row.staff_id, row.other_staff_id))
        return lambda m: add_swap(m, row.day, "windows", (row.window_id, row.other_window_id))
    newcomer = None
    if row.newcomer:
        newcomer = {"id": row.other_staff_id, "name": row.new_name}
        if row.new_card:
            newcomer["badges"] = [row.new_card]
    return lambda m: replace_at_window(
        m, row.window_id, row.staff_id, row.other_staff_id, row.day, newcomer
    )


@dataclass(frozen=True)
class Decision:
    """Who decides, from where, with what note, and the scope they decide in."""

    username: str
    approve: bool
    note: str
    now: datetime
    scope: list  # visible_to(user)
    address: str = ""
    halls: tuple[str, ...] = ()  # the halls the decider manages (none: every hall)


def decide(session: Session, request_id: int, decision: Decision) -> StaffingRequestRow | None:
    """Approve (changing the registry) or reject a pending request, in the caller's
    transaction: the caller commits both or, on RegistryError, neither.

    None when no such request is in scope; RequestDecided when it was decided already;
    ValueError for a missing or long note.
    """
    note = decision.note.strip()
    if not note:
        raise ValueError("'note' is required")
    if len(note) > NOTE_MAX_CHARS:
        raise ValueError(f"'note' may have at most {NOTE_MAX_CHARS} characters")
    status = APPROVED if decision.approve else REJECTED
    values = {
        "status": status,
        "decided_by": decision.username,
        "decided_at": decision.now,
        "note": note,
    }
    row = _settle(session, request_id, decision.scope, values)
    if row is None:
        return None
    action, target = (
        f"{row.kind}.{'approve' if decision.approve else 'reject'}",
        f"request {row.id}",
    )
    if decision.approve:
        change = Change(decision.username, action, target, decision.address, decision.halls)
        change_registry(None, change, registry_edit(row), decision.now, session=session)
    else:
        audit.record(
            session,
            decision.username,
            action,
            target,
            now=decision.now,
            address=decision.address,
            after=describe(row),
        )
    return row


def withdraw(
    session: Session, request_id: int, username: str, now: datetime, scope: list
) -> StaffingRequestRow | None:
    """Withdraw a pending request `username` filed; RequestDecided when not pending."""
    row = find(session, request_id, scope)
    if row is None or row.filed_by != username:
        return None
    row = _settle(
        session,
        request_id,
        [*scope, StaffingRequestRow.filed_by == username],
        {"status": WITHDRAWN, "decided_by": username, "decided_at": now},
    )
    audit.record(session, username, f"{row.kind}.withdraw", f"request {row.id}", now=now)
    return row


def pending_leave(
    session: Session, hall: str, start: datetime, end: datetime
) -> list[StaffingRequestRow]:
    """Leave asked for and not yet decided that overlaps [start, end), in the order filed."""
    return list(
        session.scalars(
            select(StaffingRequestRow)
            .where(
                StaffingRequestRow.hall_code == hall,
                StaffingRequestRow.kind == LEAVE,
                StaffingRequestRow.status == PENDING,
                StaffingRequestRow.start < end,
                StaffingRequestRow.end > start,
            )
            .order_by(StaffingRequestRow.id)
        )
    )
