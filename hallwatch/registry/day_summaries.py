"""The table of closed hall days (`hall_day_summaries`), and the move of the one-hall rows.

The rows are written and read by hallwatch/metrics/store.py, which owns what a row means
(the summary's JSON, the fingerprint); the table hangs on `Base` here, with the others, so
that `create_schema` makes it and moves the rows of older databases (registry/db.py).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, Date, Integer, String, Text, inspect, text
from sqlalchemy.orm import Mapped, mapped_column

from hallwatch.registry.models import ID_LEN, Base, UTCDateTime
from hallwatch.registry.spec import DEFAULT_HALL_ID

FINGERPRINT_LEN = 64  # sha256, hex
LEGACY_TABLE = "day_summaries"  # one row per day, from before several halls: the first hall's


class DaySummaryRow(Base):
    """One closed day of one hall: its summary and what it was computed from."""

    __tablename__ = "hall_day_summaries"

    hall: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(FINGERPRINT_LEN))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    newest_received: Mapped[datetime | None] = mapped_column(UTCDateTime())
    event_count: Mapped[int] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text)


def adopt_legacy_rows(connection: Connection) -> int:
    """Move the rows of the one-hall table (`day_summaries`) to the first current hall.

    Databases from before several halls kept one row per day; they were the only
    hall's, which is the first hall of the registry. Moved once (the old table is
    emptied in the same transaction), so a later change of the first hall adopts nothing.
    """
    if not inspect(connection).has_table(LEGACY_TABLE):
        return 0
    first = connection.execute(
        text("SELECT code FROM hall WHERE retired_at IS NULL ORDER BY seq, id LIMIT 1")
    ).first()
    hall = (first[0] if first else None) or DEFAULT_HALL_ID
    columns = "day, fingerprint, computed_at, newest_received, event_count, summary"
    moved = connection.execute(
        text(
            f"INSERT INTO {DaySummaryRow.__tablename__} (hall, {columns}) "
            f"SELECT CAST(:hall AS VARCHAR({ID_LEN})), {columns} FROM {LEGACY_TABLE} AS old "
            f"WHERE NOT EXISTS (SELECT 1 FROM {DaySummaryRow.__tablename__} AS new "
            f"WHERE new.hall = CAST(:hall AS VARCHAR({ID_LEN})) AND new.day = old.day)"
        ),
        {"hall": hall},
    ).rowcount
    connection.execute(text(f"DELETE FROM {LEGACY_TABLE}"))
    return moved
