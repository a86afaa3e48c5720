"""The notification outbox: every message is a row first, sent later, retried until it goes.

`enqueue` writes one row per channel of a user inside the caller's transaction,
so a notification exists exactly when the alert change that caused it does.
Its `dedupe_key` is unique: enqueueing the same notification twice (two
schedulers racing, a re-run) adds nothing.

`deliver_due` sends what is due. A row is *claimed* first by a conditional
UPDATE that pushes its `next_attempt_at` a lease ahead; only the deliverer
whose UPDATE changed the row sends it, so two deliverers never send one row
twice. Delivery is at-least-once: a deliverer that dies between sending and
recording it leaves the row to be sent again when the lease runs out.

Row states: pending (`sent_at` and `failed_at` null), sent (`sent_at`), given
up (`failed_at`, with the reason in `last_error`): after a permanent error,
or a retryable one when the row is older than `MAX_AGE` (a notification
that late is noise, not news).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels import (
    ChannelError,
    DeliveryError,
    PermanentDeliveryError,
    channels_of,
    send,
)
from hallwatch.config import Settings
from hallwatch.redact import RedactingFilter, redact
from hallwatch.registry.alerting import AlertRow, OutboxRow
from hallwatch.registry.models import UserRow

log = logging.getLogger(__name__)
log.addFilter(RedactingFilter())  # tracebacks of a sender repeat its URL

FIRST_RETRY = timedelta(seconds=10)  # after the first failure; doubles each time…
MAX_RETRY = timedelta(minutes=15)  # …up to this
CLAIM_LEASE = timedelta(
    minutes=5
)  # a claimed row is left alone this long (sends time out far sooner)
MAX_AGE = timedelta(hours=24)  # a row still failing this long after it was queued is given up
ERROR_MAX_CHARS = 1000


@dataclass
class DeliveryStats:
    """What one `deliver_due` pass did."""

    sent: int = 0
    retrying: int = 0  # failed, due again later
    failed: int = 0  # given up
    skipped: int = 0  # claimed by another deliverer first

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed ones: 10 s doubling, capped at 15 min."""
    if attempts < 1:
        return timedelta(0)
    # Cap the exponent too: 2**attempts of a long outage would overflow timedelta.
    doublings = min(attempts - 1, 32)
    return min(FIRST_RETRY * 2**doublings, MAX_RETRY)


def dedupe_key(base: str, channel_id: int) -> str:
    return f"{base}:{channel_id}"


def enqueue(
    session: Session,
    alert: AlertRow | None,
    user: UserRow,
    reason: str,
    subject: str,
    body: str,
    now: datetime,
    payload: dict[str, Any] | None = None,
    *,
    n: int = 0,
    key: str | None = None,
) -> int:
    """Queue one message per channel of `user`; return how many rows were new.

    The dedupe key is f"{alert.id}:{reason}:{n}:{channel.id}" (`n` tells successive
    reminders apart), or f"{key}:{channel.id}" for messages about no single alert.
    """
    if key is None:
        if alert is None:
            raise ValueError(f"a {reason} message to {user.username} needs an alert or a key")
        if alert.id is None:
            session.flush()  # the key needs the alert's id
        key = f"{alert.id}:{reason}:{n}"
    added = 0
    for channel in channels_of(session, user.id):
        row = OutboxRow(
            dedupe_key=dedupe_key(key, channel.id),
            alert_id=alert.id if alert is not None else None,
            channel_kind=channel.kind,
            target=channel.target,
            secret=channel.secret,
            subject=subject,
            body=body,
            payload=payload,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            # Already queued (by us earlier or a concurrent scheduler): nothing to add.
            log.debug("outbox %s already queued", row.dedupe_key)
            continue
        added += 1
    return added


def _due_ids(session_factory: sessionmaker[Session], now: datetime, limit: int) -> list[int]:
    with session_factory() as session:
        return list(
            session.scalars(
                select(OutboxRow.id)
                .where(
                    OutboxRow.sent_at.is_(None),
                    OutboxRow.failed_at.is_(None),
                    OutboxRow.next_attempt_at <= now,
                )
                .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
                .limit(limit)
            )
        )


def _claim(session_factory: sessionmaker[Session], row_id: int, now: datetime) -> OutboxRow | None:
    """Take the row for this deliverer, or None when another one has it (or it is done)."""
    with session_factory() as session, session.begin():
        result = session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id == row_id,
                OutboxRow.sent_at.is_(None),
                OutboxRow.failed_at.is_(None),
                OutboxRow.next_attempt_at <= now,
            )
            .values(next_attempt_at=now + CLAIM_LEASE)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return None
        return session.get(OutboxRow, row_id)


def _stored(error: Exception) -> str:
    """The error as kept in last_error and logged: secrets masked, cut to ERROR_MAX_CHARS."""
    return redact(str(error))[:ERROR_MAX_CHARS]


def _record(
    session_factory: sessionmaker[Session], row: OutboxRow, now: datetime, error: Exception | None
) -> str:
    """Write the outcome of one try; return sent, retrying or failed."""
    attempts = row.attempts + 1
    values: dict[str, Any] = {"attempts": attempts}
    if error is None:
        outcome = "sent"
        values.update(sent_at=now, last_error=None)
        if attempts > 1:
            log.info("outbox %s delivered after %d tries", row.id, attempts)
    elif isinstance(error, PermanentDeliveryError) or now - row.created_at >= MAX_AGE:
        outcome = "failed"
        values.update(failed_at=now, last_error=_stored(error))
        log.error("outbox %s given up after %d tries: %s", row.id, attempts, _stored(error))
    else:
        outcome = "retrying"
        values.update(next_attempt_at=now + backoff(attempts), last_error=_stored(error))
        # The first failure of a row is news; the rest of an outage is not.
        log.log(
            logging.WARNING if attempts == 1 else logging.DEBUG, "%s; will retry", _stored(error)
        )
    with session_factory() as session, session.begin():
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == row.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return outcome


def deliver_due(
    session_factory: sessionmaker[Session], settings: Settings, now: datetime, limit: int = 100
) -> DeliveryStats:
    """Send up to `limit` due rows, oldest due first; failures are rescheduled or given up."""
    stats = DeliveryStats()
    for row_id in _due_ids(session_factory, now, limit):
        row = _claim(session_factory, row_id, now)
        if row is None:
            stats.skipped += 1
            continue
        error: Exception | None = None
        try:
            send(row, settings)
        except ChannelError as exc:
            error = exc
        except Exception as exc:  # a bug in a sender must not stall the rest of the outbox
            log.exception("outbox %s: unexpected error while sending", row.id)
            error = DeliveryError(f"outbox {row.id}: unexpected {type(exc).__name__}: {exc}")
        outcome = _record(session_factory, row, now, error)
        if outcome == "sent":
            stats.sent += 1
        elif outcome == "retrying":
            stats.retrying += 1
        else:
            stats.failed += 1
    return stats
