"""Scoring a derived day against the ground truth (bench/accuracy_score.py)."""

from datetime import UTC, datetime, timedelta

from bench.accuracy_score import score_day
from hallwatch.alert_kinds import Episode
from hallwatch.timeline import Segment

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
M = timedelta(minutes=1)
GRACE = 10 * M
OPEN = {"W01": [(T0, T0 + 120 * M)]}


def t(minute: float) -> datetime:
    return T0 + minute * M


def truth(vacant: list[tuple[int, int]], staff="s1"):
    rows = []
    for m in range(120):
        empty = any(a <= m < b for a, b in vacant)
        rows.append((t(m), "W01", None if empty else staff, not empty))
    return rows


def segments(*parts):
    """(state, since, start, end) in minutes."""
    return {"W01": [Segment(s, t(since), t(a), t(b)) for s, since, a, b in parts]}


def empty_window(since, opened, resolved=None):
    return Episode(
        "empty_window",
        f"empty_window:W01:{since}",
        opened_at=t(opened),
        since=t(since),
        resolved_at=None if resolved is None else t(resolved),
        window="W01",
    )


def test_a_true_spell_raised_at_the_grace_is_recalled_on_time():
    windows = segments(
        ("staffed", 0, 0, 30), ("away", 30, 30, 40), ("empty", 30, 40, 60), ("staffed", 60, 60, 120)
    )
    score = score_day(truth([(30, 60)]), windows, OPEN, [empty_window(30, 40, 60)], [], GRACE)
    assert (score.spells, score.recalled, score.lateness_s) == (1, 1, [0.0])
    assert (score.empty_windows, score.false_empty) == (1, 0)
    assert score.agreement == 1.0
    assert score.window_days == 1


def test_an_alert_while_the_clerk_sat_still_is_false_and_minutes_disagree():
    windows = segments(
        ("staffed", 0, 0, 30), ("away", 30, 30, 40), ("empty", 30, 40, 45), ("staffed", 45, 45, 120)
    )
    score = score_day(truth([]), windows, OPEN, [empty_window(30, 40, 45)], [], GRACE)
    assert (score.spells, score.false_empty) == (0, 1)
    assert score.minutes[("occupied", "away")] == 10
    assert score.minutes[("occupied", "empty")] == 5


def test_a_spell_shorter_than_the_grace_is_not_counted_and_a_missed_one_is():
    windows = segments(("staffed", 0, 0, 120))
    score = score_day(truth([(10, 15), (50, 70)]), windows, OPEN, [], [], GRACE)
    assert (score.spells, score.recalled) == (1, 0)


def test_a_spell_with_the_sensor_offline_is_not_judged_and_unknown_minutes_are_apart():
    windows = segments(("staffed", 0, 0, 30), ("unknown", 30, 30, 60), ("staffed", 60, 60, 120))
    score = score_day(truth([(30, 60)]), windows, OPEN, [], [], GRACE)
    assert (score.spells, score.spells_unjudged) == (0, 1)
    assert score.judged_minutes == 90 and score.agreement == 1.0


def test_an_absent_for_someone_who_sat_there_and_a_pull_back_never_read_are_false():
    windows = segments(("staffed", 0, 0, 120))
    absent = Episode("absent", "a", opened_at=t(15), since=t(0), window="W01", staff="s1")
    pulled = Episode("pulled_back", "p", opened_at=t(50), since=t(50), window="W01", staff="s1")
    real_pull = Episode("pulled_back", "q", opened_at=t(90), since=t(90), window="W01", staff="s1")
    office_reads = [("s1", t(88))]
    score = score_day(truth([]), windows, OPEN, [absent, pulled, real_pull], office_reads, GRACE)
    assert (score.absents, score.false_absent) == (1, 1)
    assert (score.pulled_backs, score.false_pulled_back) == (2, 1)


def test_an_alert_a_few_minutes_early_in_a_real_spell_is_early_not_false_and_recalls_it():
    # a seat sensor whose clock is 4 minutes behind: everything it says is 4 minutes early
    windows = segments(
        ("staffed", 0, 0, 26), ("away", 26, 26, 36), ("empty", 26, 36, 46), ("staffed", 46, 46, 120)
    )
    score = score_day(truth([(30, 50)]), windows, OPEN, [empty_window(26, 36, 46)], [], GRACE)
    assert (score.empty_windows, score.early_empty, score.false_empty) == (1, 1, 0)
    assert (score.spells, score.recalled) == (1, 1)
    assert score.lateness_s == [-4 * 60.0]


def test_a_spell_of_exactly_the_grace_in_minute_steps_is_not_counted():
    windows = segments(("staffed", 0, 0, 120))
    score = score_day(truth([(30, 40)]), windows, OPEN, [], [], GRACE)
    assert score.spells == 0
