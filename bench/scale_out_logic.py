"""The pure parts of bench/scale_out.py: the rate search, a step's verdict, percentiles, costs.

No I/O and no clock here, so tests/unit/test_scale_out_bench.py checks them in milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RATE_ROUNDING = 100  # offered rates are whole hundreds of events/s
OFFER_SHARE = 0.95  # the publishers must reach this share of the offered rate, or the step is void
GROWTH_SHARE = 0.05  # a backlog growing faster than this share of the rate means falling behind
MIN_SLOPE_SAMPLES = 6  # backlog samples needed in a window's second half to judge its growth
HOUR_S = 3600


@dataclass(frozen=True)
class Search:
    """Step the offered rate up by `factor` until a step fails, then bisect `refine` times."""

    start: float
    factor: float = 1.5
    refine: int = 2
    max_steps: int = 12
    max_rate: float = math.inf

    def __post_init__(self) -> None:
        if self.start <= 0 or self.factor <= 1 or self.refine < 0 or self.max_steps < 1:
            raise ValueError(f"bad rate search {self}")


@dataclass(frozen=True)
class StepResult:
    """One offered rate held for a window: what went in, what came out, and when."""

    offered: float  # events/s asked of the publishers
    window_s: float
    published: int  # acknowledged by the broker
    publish_s: float  # first publish → last PUBACK
    stored_in_grace: int  # counted at the far end within the grace after the last PUBACK
    stored_final: int  # counted after the longer drain (what was truly lost is published − this)
    backlog_slope: float  # events/s by which the backlog grew over the window's second half

    @property
    def achieved(self) -> float:
        return self.published / self.publish_s if self.publish_s > 0 else 0.0

    @property
    def offer_reached(self) -> bool:
        return self.achieved >= OFFER_SHARE * self.offered

    @property
    def lost(self) -> int:
        return max(0, self.published - self.stored_final)

    @property
    def late(self) -> int:
        return max(0, self.published - self.stored_in_grace)

    @property
    def kept_up(self) -> bool:
        return self.backlog_slope <= GROWTH_SHARE * self.offered

    @property
    def void(self) -> bool:
        """The publishers fell short while the target kept up: the load generator's limit."""
        return not self.offer_reached and self.late == 0 and self.kept_up

    @property
    def passed(self) -> bool:
        """Zero loss at this rate: everything stored within the grace, and no growing backlog."""
        return self.offer_reached and self.late == 0 and self.kept_up

    def reason(self) -> str:
        if self.void:
            return f"publishers reached only {self.achieved:,.0f}/s"
        if self.lost:
            return f"{self.lost:,} lost"
        if self.late:
            return f"{self.late:,} not stored within the grace"
        if not self.kept_up:
            return f"backlog growing {self.backlog_slope:,.0f}/s"
        return "ok"


def round_rate(rate: float) -> float:
    return max(RATE_ROUNDING, round(rate / RATE_ROUNDING) * RATE_ROUNDING)


def next_rate(search: Search, steps: list[StepResult]) -> float | None:
    """The next offered rate to try, or None when the search is over."""
    if len(steps) >= search.max_steps:
        return None
    if not steps:
        return round_rate(search.start)
    if any(s.void for s in steps):
        return None  # the load generator is the limit: higher rates would mean nothing
    failed = [s.offered for s in steps if not s.passed]
    if not failed:
        rate = round_rate(steps[-1].offered * search.factor)
        return rate if rate <= search.max_rate else None
    refined = len(steps) - 1 - next(i for i, s in enumerate(steps) if not s.passed)
    if refined >= search.refine:
        return None
    low = max((s.offered for s in steps if s.passed), default=0.0)
    high = min(failed)
    rate = round_rate((low + high) / 2)
    return rate if low < rate < high else None


def sustained_rate(steps: list[StepResult]) -> float:
    """The highest rate held with zero loss below the lowest failing one (0 if none).

    A void step counts at the rate its publishers reached (in whole hundreds, down): the
    target took all of that in time, so it held at least that much.
    """
    ceiling = min((s.offered for s in steps if not (s.passed or s.void)), default=math.inf)
    held = [s.offered for s in steps if s.passed and s.offered < ceiling]
    held += [
        math.floor(s.achieved / RATE_ROUNDING) * RATE_ROUNDING
        for s in steps
        if s.void and s.achieved < ceiling
    ]
    return max(held, default=0.0)


def share_verdict(share: float, limit_is_lower_bound: bool, target: float = 0.6) -> str:
    """Whether `share` of the limit meets `target`, when the limit may lie higher still.

    A limit the search never reached makes the share an upper bound: below the target it
    fails for sure, above it nothing is shown.
    """
    if share < target:
        return "NOT met"
    return "not shown: the limit lies higher" if limit_is_lower_bound else "met"


def least_squares_slope(samples: list[tuple[float, float]]) -> float:
    """Slope of y over t (0 with fewer than two distinct times)."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_y = sum(y for _, y in samples) / n
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (y - mean_y) for t, y in samples) / spread


def backlog_slope(samples: list[tuple[float, float]], window_s: float) -> float:
    """How fast the backlog (published − stored) grew over the second half of the window.

    0 (not judged) with fewer than MIN_SLOPE_SAMPLES there: over a second or two, one batch
    timer more or less is all a slope would show.
    """
    late = [(t, b) for t, b in samples if window_s / 2 <= t <= window_s]
    return least_squares_slope(late) if len(late) >= MIN_SLOPE_SAMPLES else 0.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, q in (0, 100]; NaN for no values."""
    if not values:
        return math.nan
    if not 0 < q <= 100:
        raise ValueError(f"percentile {q} is not in (0, 100]")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def cpu_per_1000_desks_hour(cpu_s: float, events: int, desk_rate: float) -> float:
    """CPU seconds per hour that 1,000 desks cost, each sending `desk_rate` events/s."""
    if events <= 0:
        return math.nan
    return cpu_s / events * desk_rate * 1000 * HOUR_S


def desks_per_process(rate: float, desk_rate: float) -> int:
    """How many desks at `desk_rate` events/s one sustained `rate` serves."""
    return int(rate / desk_rate) if desk_rate > 0 else 0


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan
