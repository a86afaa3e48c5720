"""Scoring a derived hall day against the simulator's ground truth (pure; issue 16, part 5).

- minutes: each truth minute of a window that is open is judged against the sweep's state at
  that minute (occupied ↔ staffed, vacant ↔ away or empty; unknown apart, not an error);
- empty spells: a run of vacant truth minutes within one opening interval lasting at least the
  grace plus one minute (the truth is sampled at each minute's start, so a run of exactly the
  grace may be a little shorter) is a true empty spell; it is *recalled* when an
  `empty_window` was open for it (opened before it ended and not resolved before its start +
  grace, give or take CLOCK_TOLERANCE), and the lateness is the opening minus (spell start +
  grace), 0 for one already open;
- an `empty_window` is *on time* when the seat was vacant at every minute of the grace before
  it opened; *early* when not, but it opened during a true empty spell (a device clock off, a
  PIR that stopped seeing the clerk shortly before they left); *false* otherwise: it opened
  while the clerk sat there, or during a spell shorter than the grace;
- an `absent` is false when the person sat at that window before it opened; a `pulled_back`
  is false when the person was not really read at their office within 5 minutes of it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hallwatch.alert_kinds import Episode
from hallwatch.timeline import Segment

MIN = timedelta(minutes=1)
PULL_BACK_TOLERANCE = timedelta(minutes=5)
# A device clock may be this far off and its events still be trusted (the clock policy's
# "5 minutes ahead", docs/DEVICES.md §2.5): an alert that far off its spell still covers it.
CLOCK_TOLERANCE = timedelta(minutes=5)


@dataclass
class Spell:
    window: str
    start: datetime  # first vacant minute
    end: datetime  # first minute no longer vacant (or the interval's end)
    judged: bool = True  # False: the sensor was offline during it (unknown), not counted


@dataclass
class Score:
    """Tallies of one analysis, summed over days."""

    minutes: Counter = field(default_factory=Counter)  # (truth, state) → window-minutes
    window_days: int = 0
    spells: int = 0  # true empty spells of at least the grace, judged
    spells_unjudged: int = 0
    recalled: int = 0
    lateness_s: list[float] = field(default_factory=list)
    empty_windows: int = 0
    early_empty: int = 0
    false_empty: int = 0
    absents: int = 0
    false_absent: int = 0
    pulled_backs: int = 0
    false_pulled_back: int = 0

    def add(self, other: Score) -> None:
        self.minutes.update(other.minutes)
        for name in (
            "window_days",
            "spells",
            "spells_unjudged",
            "recalled",
            "empty_windows",
            "early_empty",
            "false_empty",
            "absents",
            "false_absent",
            "pulled_backs",
            "false_pulled_back",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.lateness_s += other.lateness_s

    @property
    def judged_minutes(self) -> int:
        return sum(n for (_, s), n in self.minutes.items() if s not in ("unknown", "closed"))

    @property
    def agreement(self) -> float:
        agree = (
            self.minutes[("occupied", "staffed")]
            + self.minutes[("vacant", "away")]
            + self.minutes[("vacant", "empty")]
        )
        return agree / self.judged_minutes if self.judged_minutes else float("nan")


def state_at(segments: Sequence[Segment], at: datetime) -> str:
    """The state of the segment holding `at` (segments in order, as the sweep gives them)."""
    for segment in segments:
        if segment.start <= at < segment.end:
            return segment.state
    return "closed"


def judge_minutes(truth: Iterable, windows: dict[str, list[Segment]]) -> Counter:
    """(truth, state) → window-minutes, for the windows in `windows`."""
    tally: Counter = Counter()
    for at, window, _, occupied in truth:
        if window in windows:
            state = state_at(windows[window], at)
            tally[("occupied" if occupied else "vacant", state)] += 1
    return tally


def empty_spells(
    truth: Iterable,
    open_intervals: dict[str, list[tuple[datetime, datetime]]],
    windows: dict[str, list[Segment]],
    grace: timedelta,
) -> list[Spell]:
    """True empty spells of at least `grace` within each window's opening intervals."""
    vacant: dict[str, list[datetime]] = {}
    for at, window, _, occupied in truth:
        if window in windows and not occupied:
            vacant.setdefault(window, []).append(at)
    spells: list[Spell] = []
    for window, minutes in vacant.items():
        for start, end in open_intervals.get(window, []):
            inside = [m for m in sorted(minutes) if start <= m < end]
            spells += _runs(window, inside)
    spells = [s for s in spells if s.end - s.start >= grace + MIN]
    for spell in spells:
        spell.judged = _never_unknown(windows[spell.window], spell.start, spell.end)
    return spells


def _runs(window: str, minutes: list[datetime]) -> list[Spell]:
    runs: list[Spell] = []
    for at in minutes:
        if runs and runs[-1].end == at:
            runs[-1].end = at + MIN
        else:
            runs.append(Spell(window, at, at + MIN))
    return runs


def _never_unknown(segments: Sequence[Segment], start: datetime, end: datetime) -> bool:
    return not any(s.state == "unknown" and s.start < end and s.end > start for s in segments)


def vacant_through(truth_of: dict[tuple[str, datetime], bool], window: str, a, b) -> bool:
    """Whether the truth has `window` vacant at every minute from `a` to `b` (floored)."""
    at = _floor(a)
    while at <= _floor(b):
        if truth_of.get((window, at), False):
            return False
        at += MIN
    return True


def _floor(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def score_day(
    truth: list,
    windows: dict[str, list[Segment]],
    open_intervals: dict[str, list[tuple[datetime, datetime]]],
    episodes: list[Episode],
    office_reads: list[tuple[str, datetime]],
    grace: timedelta,
) -> Score:
    """Everything of one day for the windows in `windows`."""
    score = Score(minutes=judge_minutes(truth, windows))
    score.window_days = sum(1 for w in windows if open_intervals.get(w))
    occupied_at = {(w, at): occ for at, w, _, occ in truth}
    seated_by = {(w, at): staff for at, w, staff, _ in truth}
    mine = [e for e in episodes if e.window in windows]
    empties = [e for e in mine if e.kind == "empty_window"]
    for spell in empty_spells(truth, open_intervals, windows, grace):
        if not spell.judged:
            score.spells_unjudged += 1
            continue
        score.spells += 1
        raised = [e.opened_at for e in empties if _covers(e, spell, grace)]
        if raised:
            score.recalled += 1
            first = min(raised)
            late = first - (spell.start + grace) if first >= spell.start else timedelta(0)
            score.lateness_s.append(late.total_seconds())
    score.empty_windows = len(empties)
    spells = [s for s in empty_spells(truth, open_intervals, windows, grace)]
    for e in empties:
        if vacant_through(occupied_at, e.window, e.opened_at - grace + MIN, e.opened_at):
            continue
        if any(s.window == e.window and s.start <= e.opened_at < s.end for s in spells):
            score.early_empty += 1
        else:
            score.false_empty += 1
    absents = [e for e in mine if e.kind == "absent"]
    score.absents = len(absents)
    score.false_absent = sum(1 for e in absents if _sat_before(seated_by, e))
    pulls = [e for e in mine if e.kind == "pulled_back"]
    score.pulled_backs = len(pulls)
    score.false_pulled_back = sum(1 for e in pulls if not _really_read(office_reads, e))
    return score


def _covers(episode: Episode, spell: Spell, grace: timedelta) -> bool:
    """Whether the episode was open for the spell: opened before it ended and still open once
    the grace had run (an alert left open over lunch covers the afternoon's part too)."""
    return (
        episode.window == spell.window
        and episode.opened_at <= spell.end + MIN
        and (
            episode.resolved_at is None
            or episode.resolved_at >= spell.start + grace - CLOCK_TOLERANCE
        )
    )


def _sat_before(seated_by: dict, episode: Episode) -> bool:
    at = _floor(episode.since)
    while at <= episode.opened_at:
        if seated_by.get((episode.window, at)) == episode.staff:
            return True
        at += MIN
    return False


def _really_read(office_reads: list[tuple[str, datetime]], episode: Episode) -> bool:
    return any(
        staff == episode.staff and abs(at - episode.since) <= PULL_BACK_TOLERANCE
        for staff, at in office_reads
    )
