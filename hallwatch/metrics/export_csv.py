"""The monthly report as CSV files (docs/API.md): one file per table (`csv_files()`, or all
in one zip, `csv_zip()`) and the department ranking alone (`ranking_csv()`, inside or as
published). CSV is UTF-8 with a BOM and CRLF line ends, so Excel opens the Chinese right;
a ratio is text ("93.5%"), and text Excel would run as a formula is quoted.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable

from hallwatch.metrics.export_rows import MonthReport, ranking_note
from hallwatch.metrics.export_tables import (
    PUBLIC_RANKING,
    RANKING,
    TABLES,
    Column,
    Table,
    cell_value,
    percent,
)

CSV_ENCODING = "utf-8-sig"  # the BOM tells Excel the file is UTF-8
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # text Excel would run as a formula


def _safe_text(value: str) -> str:
    """Text Excel would evaluate as a formula, quoted so it shows as typed."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_value(column: Column, value) -> str | int | float:
    """One cell as written to CSV (the workbook sizes its columns by this text too)."""
    if value is None:
        return ""
    if column.kind == "ratio":
        return percent(value)
    if column.kind == "date":
        return value.isoformat()
    if isinstance(value, str):
        return _safe_text(value)
    return value


def table_csv(table: Table, rows: Iterable[dict]) -> bytes:
    """One table as a CSV file: UTF-8 with BOM, CRLF, a header row of Chinese names."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.headers)
    for row in rows:
        writer.writerow([csv_value(c, cell_value(table, c, row)) for c in table.columns])
    return out.getvalue().encode(CSV_ENCODING)


def ranking_csv(rows: list[dict], *, public: bool) -> bytes:
    """The department ranking (rows of `department_rows()`, best first) as a CSV file.

    Only the ranking's own columns are written, by name, whatever else a row
    holds. A `public` file leaves out absences and pull-backs too (INSIDE_ONLY).
    """
    noted = [{**r, "note": ranking_note(r)} for r in rows]
    return table_csv(PUBLIC_RANKING if public else RANKING, noted)


def csv_files(report: MonthReport) -> dict[str, bytes]:
    """The report's tables as CSV files, by file name (`2026-11-departments.csv`, …)."""
    prefix = report.month.strftime("%Y-%m")
    return {f"{prefix}-{t.name}.csv": table_csv(t, report.rows(t)) for t in TABLES}


def csv_zip(report: MonthReport) -> bytes:
    """The CSV files in one zip archive (dated the month's first day, so runs compare equal)."""
    stamp = (report.month.year, report.month.month, 1, 0, 0, 0)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in csv_files(report).items():
            archive.writestr(zipfile.ZipInfo(name, stamp), data, zipfile.ZIP_DEFLATED)
    return out.getvalue()
