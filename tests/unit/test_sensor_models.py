"""The simulator's realistic devices (simulator/sensing.py) and their day plans."""

import random
from datetime import UTC, date, datetime, timedelta

from hallwatch.schedule import containing, subtract
from simulator import sensing
from simulator.dayplan import plan_day
from tests.unit.simulator_demo import demo_registry

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
S = timedelta(seconds=1)
M = timedelta(minutes=1)


def minutes(a: float, b: float):
    return (T0 + a * M, T0 + b * M)


def covered(intervals, span) -> float:
    """Minutes of `span` inside `intervals`."""
    return sum(
        (min(e, span[1]) - max(s, span[0])) / M for s, e in intervals if e > span[0] and s < span[1]
    )


def test_a_pir_holds_occupancy_for_its_timeout_after_the_last_motion():
    busy = sensing.Clerk(move_gap_s=5, still_per_hour=0)  # never still
    seen = sensing.pir_view(
        random.Random(1),
        [minutes(10, 70)],
        minutes(0, 120),
        replace_stray(sensing.AQARA_RTCGQ11LM),
        busy,
    )
    assert len(seen) == 1
    (start, end) = seen[0]
    assert T0 + 10 * M <= start < T0 + 10 * M + 2 * S
    # the last motion may fall in the blind minute after the last report
    assert T0 + 70 * M + 30 * S <= end <= T0 + 70 * M + 92 * S


def replace_stray(pir):
    from dataclasses import replace

    return replace(pir, stray_per_hour=0)


def test_a_pir_misses_a_clerk_who_sits_still_longer_than_its_timeout():
    still = sensing.Clerk(move_gap_s=5, still_per_hour=6, still_median_min=6, still_sigma=0.1)
    seated = [minutes(0, 240)]
    seen = sensing.pir_view(
        random.Random(2), seated, minutes(0, 240), replace_stray(sensing.AQARA_RTCGQ11LM), still
    )
    missed = [(s, e) for s, e in subtract(seated, seen) if e - s > 10 * S]  # not the report lag
    assert len(missed) >= 5
    assert all(timedelta(minutes=2.5) < e - s < timedelta(minutes=7) for s, e in missed)


def test_a_pir_reports_no_more_often_than_its_blind_time_allows():
    busy = sensing.Clerk(move_gap_s=1, still_per_hour=0)
    motion = sensing.clerk_motion(random.Random(3), [minutes(0, 30)], busy)
    assert len(motion) > 1000
    seen = sensing.pir_view(
        random.Random(3),
        [minutes(0, 30)],
        minutes(0, 60),
        replace_stray(sensing.AQARA_RTCGQ11LM),
        busy,
    )
    assert seen == [(seen[0][0], seen[0][1])]


def test_a_radar_sees_a_still_clerk_but_flickers_now_and_then():
    radar = sensing.TUYA_ZY_M100
    seated = [minutes(0, 8 * 60)]
    seen = sensing.radar_view(random.Random(4), seated, minutes(0, 9 * 60), radar)
    lost = covered(subtract(seated, seen), seated[0])
    assert 0 < lost < 30  # a few short flickers in eight hours
    assert all(e - s < timedelta(minutes=4) for s, e in subtract(seated, seen)[1:])
    assert seen[-1][1] >= seated[0][1] + radar.fading_s * S  # let go after its fading time


def test_card_taps_are_mostly_read_sometimes_retried_rarely_lost():
    rng = random.Random(5)
    outcomes = [sensing.tap_outcomes(rng, T0) for _ in range(10_000)]
    lost = sum(1 for o in outcomes if not o)
    retried = sum(1 for o in outcomes if o and o[0] > T0)
    assert 20 < retried < 400 and 5 < lost < 150
    assert all(o[0] - T0 <= 8 * S for o in outcomes if o)


def test_clock_skew_is_seconds_mostly_and_minutes_rarely():
    rng = random.Random(6)
    skews = [abs(sensing.clock_skew(rng)) for _ in range(2000)]
    assert sum(1 for s in skews if s > 59 * S) < 0.1 * len(skews)
    assert max(skews) <= 240 * S


def test_outages_are_short_and_within_the_span():
    rng = random.Random(7)
    span = minutes(0, 600)
    downs = [o for _ in range(200) for o in sensing.outages(rng, span, 0.3, (20, 240))]
    assert 30 < len(downs) < 120
    assert all(span[0] <= s and e - s <= 240 * S for s, e in downs)


def test_a_realistic_plan_keeps_the_ground_truth_and_is_repeatable():
    registry = demo_registry()
    day = date(2026, 11, 23)
    real = plan_day(registry, day, 1, realism=sensing.Realism())
    again = plan_day(registry, day, 1, realism=sensing.Realism())
    ideal = plan_day(registry, day, 1)
    assert real == again
    assert real.ground_truth and len(real.ground_truth) == len(ideal.ground_truth)
    assert real.messages != ideal.messages
    assert [m.at for m in real.messages] == sorted(m.at for m in real.messages)
    assert real.office_reads and all(
        containing([(day_start(real), day_end(real))], at) for _, at in real.office_reads
    )


def day_start(plan):
    return plan.messages[0].at


def day_end(plan):
    return plan.messages[-1].at + S
