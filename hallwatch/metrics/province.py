"""The province overview: each hall's standing, and the halls ranked (pure).

A hall's staffed ratio is its windows' staffed time ÷ their measured time
(scheduled − unknown), summed exactly before dividing, as a department's is.
Ranking, best first: the month's staffed ratio, then today's, then fewer open
alerts; halls equal on all three share a rank ("1, 2, 2, 4"); a hall with
nothing measured this month is unranked and listed last, by id.
"""

from __future__ import annotations

from dataclasses import dataclass

from hallwatch.metrics.day import WindowMinutes
from hallwatch.metrics.report import Totals, ratio
from hallwatch.registry.spec import Registry


def hall_ratio(registry: Registry, totals: Totals) -> float | None:
    """Staffed ÷ measured time over all the hall's windows, to 0.001; None when nothing counts."""
    summed = WindowMinutes()
    for window in registry.windows:
        summed = summed + totals.window(window.id)
    return ratio(summed.staffed, summed.measured)


@dataclass(frozen=True)
class HallStanding:
    """One hall as the province page shows it."""

    hall: str
    name: str
    windows: int
    staffed_now: int
    today_ratio: float | None
    month_ratio: float | None
    open_alerts: int

    def row(self) -> dict:
        return {
            "hall": self.hall,
            "name": self.name,
            "windows": self.windows,
            "staffed_now": self.staffed_now,
            "today_staffed_ratio": self.today_ratio,
            "month_staffed_ratio": self.month_ratio,
            "open_alerts": self.open_alerts,
        }


def _rank_key(hall: HallStanding) -> tuple:
    return (-(hall.month_ratio or 0.0), -(hall.today_ratio or 0.0), hall.open_alerts)


def rank_halls(halls: list[HallStanding]) -> list[dict]:
    """The halls' rows, best first, each with its `rank` (None: nothing measured this month)."""
    ranked = sorted(
        (h for h in halls if h.month_ratio is not None), key=lambda h: (_rank_key(h), h.hall)
    )
    unranked = sorted((h for h in halls if h.month_ratio is None), key=lambda h: h.hall)
    rows: list[dict] = []
    previous: HallStanding | None = None
    for position, hall in enumerate(ranked, start=1):
        tied = previous is not None and _rank_key(previous) == _rank_key(hall)
        rows.append({**hall.row(), "rank": rows[-1]["rank"] if tied else position})
        previous = hall
    return rows + [{**hall.row(), "rank": None} for hall in unranked]
