"""Rows decided once and never again (appeals, staffing requests): filed pending, then
moved to a final state by a conditional UPDATE, so of two people deciding at once only
the first counts, and an ORM change to a decided row is refused at flush.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session

PENDING = "pending"


def refuse_changes_once_final(
    model: type, final: Collection[str], error: type[Exception], noun: str
) -> None:
    """No ORM change to a `model` row whose status was final reaches the database."""

    @event.listens_for(model, "before_update")
    def _refuse_changes(_mapper, _connection, row) -> None:
        history = inspect(row).attrs.status.history
        was = history.deleted[0] if history.deleted else row.status
        if was in final:
            raise error(f"{noun} {row.id} is {was}; a decided {noun} cannot be changed")


def find(session: Session, model: type, row_id: int, scope: list) -> Any | None:
    """The row with this id within `scope` (WHERE clauses), read afresh; None if not there."""
    return session.scalars(
        select(model).where(model.id == row_id, *scope).execution_options(populate_existing=True)
    ).one_or_none()


def settle(
    session: Session,
    model: type,
    row_id: int,
    scope: list,
    values: dict,
    error: type[Exception],
    noun: str,
) -> Any | None:
    """Move a pending row in scope to a final state (`values`); `error` if it was not pending,
    None if there is no such row in scope."""
    result = session.execute(
        update(model)
        .where(model.id == row_id, model.status == PENDING, *scope)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    row = find(session, model, row_id, scope)
    if row is not None and result.rowcount == 0:
        raise error(f"{noun} {row_id} is already {row.status}")
    return row
