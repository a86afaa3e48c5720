"""The audit trail (审计日志): every change, login and download, appended and chained.

A record says who did what, when, from which address, to what, and the before and after
of what changed. Records are numbered without gaps (`seq`) and each carries the hash of
the one before it with its own content, so a record edited or deleted in the database
behind the application's back breaks the chain, and `verify` says where. The application
only appends: an ORM change or deletion of a record is refused at flush, and the database
itself refuses a plain UPDATE or DELETE (triggers made by hallwatch.registry.db).

A record is written in the caller's transaction, so a change that is rolled back leaves
no record of having been made. Two writers at once both try the next number; the unique
`seq` lets one in and the other tries again after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from hallwatch.registry.models import Base, UTCDateTime

GENESIS = "0" * 64  # the hash "before" the first record
APPEND_ATTEMPTS = 20  # tries when other writers keep taking the next number


class AuditRow(Base):
    """One audit record; never updated or deleted by the application."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)  # 1, 2, 3, … without gaps
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)  # a user name, or "system"
    address: Mapped[str] = mapped_column(String(64), default="")  # the client's IP, if any
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. "login.failed"
    target: Mapped[str] = mapped_column(Text, default="")  # what it was done to
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


@event.listens_for(AuditRow, "before_update")
@event.listens_for(AuditRow, "before_delete")
def _append_only(_mapper, _connection, row: AuditRow) -> None:
    raise PermissionError(f"audit record {row.seq} is append-only")


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def record_hash(
    seq: int,
    at: datetime,
    actor: str,
    address: str,
    action: str,
    target: str,
    before: Any,
    after: Any,
    prev_hash: str,
) -> str:
    """The hash a record carries: of the one before it and all its own content."""
    content = [seq, _instant(at), actor, address, action, target, before, after, prev_hash]
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _last(session: Session) -> tuple[int, str]:
    row = session.execute(
        select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
    ).first()
    return (row.seq, row.hash) if row else (0, GENESIS)


def _plain(value: Any) -> Any:
    """What JSON stores of `value` (so the hash is of what is read back)."""
    return None if value is None else json.loads(json.dumps(value, ensure_ascii=False, default=str))


def record(
    session: Session,
    actor: str,
    action: str,
    target: str = "",
    *,
    now: datetime,
    address: str = "",
    before: Any = None,
    after: Any = None,
) -> AuditRow:
    """Append a record in the caller's transaction (the caller commits)."""
    if now.tzinfo is None:
        raise ValueError(f"audit records need an aware time, got {now.isoformat()}")
    before, after = _plain(before), _plain(after)
    for _ in range(APPEND_ATTEMPTS):
        seq, prev_hash = _last(session)
        seq += 1
        row = AuditRow(
            seq=seq,
            at=now,
            actor=actor,
            address=address or "",
            action=action,
            target=target,
            before=before,
            after=after,
            prev_hash=prev_hash,
            hash=record_hash(
                seq, now, actor, address or "", action, target, before, after, prev_hash
            ),
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            continue  # another writer took `seq`: chain after theirs
        return row
    raise RuntimeError(f"could not append to the audit trail in {APPEND_ATTEMPTS} tries")


@dataclass(frozen=True)
class Break:
    """Where the chain is broken, and how."""

    seq: int
    problem: str
    kind: str = "edited"  # missing, out_of_chain, edited, head_gone, head_rewritten


def _missing(first: int, last: int) -> str:
    return f"record {first} is missing" if first == last else f"records {first}–{last} are missing"


def breaks(rows: Iterator[AuditRow]) -> Iterator[Break]:
    """The breaks of a chain read in `seq` order: gaps, edits, and records out of chain."""
    expected_seq, expected_prev = 1, GENESIS
    for row in rows:
        if row.seq != expected_seq:
            yield Break(row.seq, _missing(expected_seq, row.seq - 1), "missing")
        elif row.prev_hash != expected_prev:
            yield Break(row.seq, "does not follow the record before it", "out_of_chain")
        content = (row.actor, row.address, row.action, row.target, row.before, row.after)
        if row.hash != record_hash(row.seq, row.at, *content, row.prev_hash):
            yield Break(row.seq, "its content does not match its hash (edited)", "edited")
        expected_seq, expected_prev = row.seq + 1, row.hash


def head(session: Session) -> tuple[int, str]:
    """The newest record's number and hash ((0, GENESIS) for an empty trail).

    Noted somewhere else (a printout, a ticket, another system), it shows later whether
    the newest records were cut off: the chain alone cannot tell a short trail from a cut one.
    """
    return _last(session)


def head_text(seq: int, hash_: str) -> str:
    """A head as one word, SEQ:HASH, as `hallwatch audit verify --expect-head` takes it."""
    return f"{seq}:{hash_}"


def verify(session: Session) -> tuple[int, list[Break]]:
    """How many records the trail holds, and every break in their chain."""
    rows = session.scalars(
        select(AuditRow).order_by(AuditRow.seq).execution_options(yield_per=1000)
    )
    counted = 0

    def counting() -> Iterator[AuditRow]:
        nonlocal counted
        for row in rows:
            counted += 1
            yield row

    found = list(breaks(counting()))
    return counted, found


def parse_head(text: str) -> tuple[int, str]:
    """SEQ:HASH as `head_text` writes it; ValueError saying what is wrong."""
    seq, _, hash_ = text.strip().partition(":")
    if not seq.isdigit() or len(hash_) != len(GENESIS) or not set(hash_) <= set("0123456789abcdef"):
        raise ValueError(f"a head is SEQ:HASH (a number, a colon, 64 hex digits), got {text!r}")
    return int(seq), hash_


def head_problem(session: Session, seq: int, hash_: str) -> Break | None:
    """Whether the record noted as head (seq, hash) is still there as it was.

    The trail may have grown since; it may not have lost that record or changed it.
    """
    if seq == 0:
        return None
    row = session.scalars(select(AuditRow).where(AuditRow.seq == seq)).one_or_none()
    if row is None:
        newest, _ = _last(session)
        problem = f"the noted head is gone: the trail ends at record {newest} (cut off)"
        return Break(seq, problem, "head_gone")
    if row.hash != hash_:
        return Break(seq, "is not the record noted as head (rewritten)", "head_rewritten")
    return None
