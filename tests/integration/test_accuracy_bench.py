"""bench/accuracy_days.py at tiny scale, on its own real Mosquitto, influxd and collector.

Catches breakage of the benchmark's plumbing (plan, publish, store, read back, score, write
the section); the figures themselves belong in docs/ACCURACY.md.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.accuracy_days import DOC_BEGIN, DOC_END, main


def test_one_day_of_four_windows_goes_through_the_collector_and_is_scored(tmp_path: Path):
    doc = tmp_path / "ACCURACY.md"
    doc.write_text(f"# Accuracy\n\n{DOC_BEGIN}\nold\n{DOC_END}\n\nafter\n", encoding="utf-8")

    assert main(["--windows", "2", "--days", "1", "--graces", "10", "--out", str(doc)]) == 0

    text = doc.read_text(encoding="utf-8")
    assert "old" not in text and text.endswith("\n\nafter\n")
    published, stored = re.search(
        r"([\d,]+) messages published, ([\d,]+) points stored", text
    ).groups()
    assert published == stored and int(published.replace(",", "")) > 500
    rows = [line for line in text.splitlines() if line.startswith(("| pir |", "| radar |"))]
    assert [row.split(" | ")[1] for row in rows] == [
        "as registered",
        "sensing unsaid",
        "as registered",
    ]
    for row in rows:
        cells = row.split(" | ")
        assert cells[3] == "2"  # window-days of the group
        assert float(cells[4].rstrip(" %")) > 80
