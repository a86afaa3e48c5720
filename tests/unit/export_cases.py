"""The report month of the export tests (November 2026, until Tuesday's close) and reading
an exported workbook or CSV back."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from openpyxl import load_workbook

from hallwatch.metrics import day_summary
from hallwatch.metrics.export_workbook import (
    workbook_bytes,
)
from tests.unit.hall import MONDAY, at, hall, seat, status, tap

SUNDAY, TUESDAY = MONDAY - timedelta(days=1), MONDAY + timedelta(days=1)


# 张三 works W01 with a 30-minute gap in the morning; 李四 signs in at W02 at 09:05 and is
# read at the civil office at 10:20, never to return; 税务局 has nobody rostered.
MONDAY_EVENTS = [
    status(at("08:00"), True),
    tap(at("09:00"), "desk-w01-card"),
    seat(at("09:00"), True),
    tap(at("09:05"), "desk-w02-card", "04A1B2C4"),
    seat(at("10:00"), False),
    tap(at("10:20"), "office-civil", "04A1B2C4"),
    seat(at("10:30"), True),
]
NOVEMBER = date(2026, 11, 1)


UNTIL = at("02:00", TUESDAY + timedelta(days=1))  # Tuesday is over; the month is not


def days(registry=None):
    """Sunday (closed), the Monday above and a Tuesday without a single device event."""
    registry = registry or hall()
    return [
        day_summary(registry, [], SUNDAY, UNTIL),
        day_summary(registry, MONDAY_EVENTS, MONDAY, UNTIL),
        day_summary(registry, [], TUESDAY, UNTIL),
    ]


def read_back(report):
    return load_workbook(io.BytesIO(workbook_bytes(report)))


def data(ws, first_row: int = 4) -> list[tuple]:
    """The table's rows: from `first_row` to the first empty row."""
    rows = []
    for row in ws.iter_rows(min_row=first_row, values_only=True):
        if all(value is None for value in row):
            break
        rows.append(row)
    return rows


def read_csv(data: bytes) -> list[list[str]]:
    """As Excel does: the BOM says UTF-8."""
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
