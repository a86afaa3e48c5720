"""The province overview: each hall's standing, and the halls ranked (pure).

A hall's staffed ratio is its windows' staffed time ÷ their measured time
(scheduled − unknown), summed exactly before dividing, as a department's is.
Ranking, best first: the month's staffed ratio, then today's, then fewer open
alerts; halls equal on all three share a rank ("1, 2, 2, 4"). As for departments,
a hall measured less than 95 % of its scheduled time this month (its coverage),
or not at all, is unranked and listed after the ranked ones, best covered first.
"""

from __future__ import annotations

from dataclasses import dataclass

from hallwatch.metrics.day import WindowMinutes
from hallwatch.metrics.report import RANKED_COVERAGE, Totals, coverage, ratio
from hallwatch.registry.spec import Registry


def hall_minutes(registry: Registry, totals: Totals) -> WindowMinutes:
    """All the hall's windows' minutes, summed exactly."""
    return sum((totals.window(w.id) for w in registry.windows), WindowMinutes())


def hall_ratio(registry: Registry, totals: Totals) -> float | None:
    """Staffed ÷ measured time over all the hall's windows, to 0.001; None when nothing counts."""
    summed = hall_minutes(registry, totals)
    return ratio(summed.staffed, summed.measured)


def hall_coverage(registry: Registry, totals: Totals) -> float | None:
    """Measured ÷ scheduled time over all the hall's windows, to 0.001."""
    return coverage(hall_minutes(registry, totals))


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
    month_coverage: float | None = None
    appealed: bool = False  # accepted appeals changed its figures (docs/APPEALS.md)

    def row(self) -> dict:
        return {
            "hall": self.hall,
            "name": self.name,
            "windows": self.windows,
            "staffed_now": self.staffed_now,
            "today_staffed_ratio": self.today_ratio,
            "month_staffed_ratio": self.month_ratio,
            "month_coverage": self.month_coverage,
            "open_alerts": self.open_alerts,
            "appealed": self.appealed,
        }

    @property
    def ranked(self) -> bool:
        return self.month_ratio is not None and (self.month_coverage or 0.0) >= RANKED_COVERAGE


def _rank_key(hall: HallStanding) -> tuple:
    return (-(hall.month_ratio or 0.0), -(hall.today_ratio or 0.0), hall.open_alerts)


def rank_halls(halls: list[HallStanding]) -> list[dict]:
    """The halls' rows, best first, each with its `rank` (None: not covered enough this month)."""
    ranked = sorted((h for h in halls if h.ranked), key=lambda h: (_rank_key(h), h.hall))
    unranked = sorted(
        (h for h in halls if not h.ranked), key=lambda h: (-(h.month_coverage or 0.0), h.hall)
    )
    rows: list[dict] = []
    previous: HallStanding | None = None
    for position, hall in enumerate(ranked, start=1):
        tied = previous is not None and _rank_key(previous) == _rank_key(hall)
        rows.append({**hall.row(), "rank": rows[-1]["rank"] if tied else position})
        previous = hall
    return rows + [{**hall.row(), "rank": None} for hall in unranked]
