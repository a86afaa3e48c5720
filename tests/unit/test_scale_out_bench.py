"""The pure parts of bench/scale_out.py: the rate search, a step's verdict, the figures."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from bench import scale_out_logic as logic
from bench.scale_out import PROBES, registry_yaml
from bench.scale_out_load import (
    BADGE_EVERY,
    PUBACK,
    message,
    packet_types,
    publish_packet,
    remaining_length,
    split,
)


def step(offered: float, *, stored: float = 1.0, late: int = 0, slope: float = 0.0, pace=1.0):
    """A 10-s step at `offered`/s: published at `pace` × the rate, `stored` share kept."""
    published = int(offered * 10)
    return logic.StepResult(
        offered=offered,
        window_s=10,
        published=published,
        publish_s=10 / pace,
        stored_in_grace=published - late,
        stored_final=int(published * stored),
        backlog_slope=slope,
    )


def test_a_step_with_everything_counted_in_time_and_a_flat_backlog_passes():
    assert step(2000).passed
    assert step(2000).reason() == "ok"


def test_a_step_fails_when_one_message_is_late_lost_or_the_backlog_grows():
    assert not step(2000, late=1).passed
    assert "not stored within the grace" in step(2000, late=1).reason()
    lossy = step(2000, stored=0.99, late=200)
    assert lossy.lost == 200 and "200 lost" in lossy.reason()
    growing = step(2000, slope=0.06 * 2000)
    assert not growing.passed and "backlog growing" in growing.reason()
    assert step(2000, slope=0.04 * 2000).passed  # noise under GROWTH_SHARE


def test_a_step_whose_publishers_fell_short_of_the_offer_is_void_if_the_target_kept_up():
    short = step(2000, pace=0.9)
    assert short.void and not short.passed
    assert "publishers reached only" in short.reason()
    starved = step(2000, pace=0.9, late=500)  # the target took the publishers' CPU and lagged
    assert not starved.void and not starved.passed
    assert "not stored within the grace" in starved.reason()
    plan = logic.Search(start=1000, refine=1)
    assert logic.next_rate(plan, [step(1000), step(1500, pace=0.9, late=5)]) == 1200


def test_the_search_grows_the_rate_until_a_failure_then_bisects():
    plan = logic.Search(start=2000, factor=1.5, refine=2)
    done: list[logic.StepResult] = []
    assert logic.next_rate(plan, done) == 2000
    done.append(step(2000))
    assert logic.next_rate(plan, done) == 3000
    done += [step(3000), step(4500, late=5)]
    assert logic.next_rate(plan, done) == 3800  # between 3,000 and 4,500, in hundreds
    done.append(step(3800))
    assert logic.next_rate(plan, done) == 4200
    done.append(step(4200, late=1))
    assert logic.next_rate(plan, done) is None  # two refinements done
    assert logic.sustained_rate(done) == 3800


def test_the_search_stops_at_the_publishers_limit_the_step_budget_or_the_rate_cap():
    plan = logic.Search(start=1000, max_steps=3, max_rate=2000)
    assert logic.next_rate(plan, [step(1000, pace=0.5)]) is None
    assert logic.next_rate(plan, [step(1000), step(1500)]) is None  # 2,200 is over the cap
    assert logic.next_rate(logic.Search(1000, max_steps=2), [step(1000), step(1500)]) is None


def test_the_sustained_rate_ignores_a_pass_above_a_failure():
    assert logic.sustained_rate([step(2000), step(3000, late=1), step(2500), step(3500)]) == 2500
    assert logic.sustained_rate([step(2000, late=1)]) == 0


def test_a_void_step_counts_at_the_rate_its_publishers_reached():
    # Offered 3,000/s, the publishers reached 2,673/s, and the target took all of it in time.
    assert logic.sustained_rate([step(1000), step(2000), step(3000, pace=0.891)]) == 2600
    # Short of a rate already held, it adds nothing.
    assert logic.sustained_rate([step(1000), step(2000), step(3000, pace=0.5)]) == 2000
    # Below a real failure it counts; at or above one, it does not.
    assert logic.sustained_rate([step(2000), step(3000, late=1), step(2600, pace=0.9)]) == 2300
    assert logic.sustained_rate([step(2000), step(2500, late=1), step(3000, pace=0.9)]) == 2000


def test_a_share_of_a_limit_never_reached_can_only_fail():
    assert logic.share_verdict(0.61, limit_is_lower_bound=False) == "met"
    assert logic.share_verdict(0.59, limit_is_lower_bound=False) == "NOT met"
    assert logic.share_verdict(0.59, limit_is_lower_bound=True) == "NOT met"
    assert logic.share_verdict(0.67, limit_is_lower_bound=True).startswith("not shown")


def test_a_bad_search_is_refused():
    with pytest.raises(ValueError):
        logic.Search(start=0)
    with pytest.raises(ValueError):
        logic.Search(start=100, factor=1.0)


def test_backlog_slope_reads_only_the_second_half_of_the_window():
    rising_late = [(t / 2, 0 if t < 10 else 100 * (t / 2 - 5)) for t in range(21)]
    assert logic.backlog_slope(rising_late, 10) == pytest.approx(100)
    assert logic.backlog_slope([(6.0, 50.0), (7.0, 90.0)], 10) == 0  # too few to judge
    assert logic.least_squares_slope([(1, 2), (2, 4), (3, 6)]) == pytest.approx(2)


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert logic.percentile(values, 50) == 50
    assert logic.percentile(values, 99) == 99
    assert logic.percentile([0.7, 0.2, 1.1], 99) == 1.1
    assert math.isnan(logic.percentile([], 50))
    with pytest.raises(ValueError):
        logic.percentile(values, 0)


def test_cost_and_capacity_at_the_hall_desk_rate():
    # 36 CPU s for 360,000 events = 0.1 ms each; 1,000 desks at 1/30 events/s send 120,000/h.
    assert logic.cpu_per_1000_desks_hour(36, 360_000, 1 / 30) == pytest.approx(12)
    assert logic.desks_per_process(10_000, 1 / 30) == 300_000
    assert math.isnan(logic.cpu_per_1000_desks_hour(1, 0, 1 / 30))
    assert logic.ratio(3, 4) == 0.75 and math.isnan(logic.ratio(1, 0))


def test_every_message_is_a_unique_native_event_of_a_registered_desk_device():
    base = 1_700_000_000_000
    seen = set()
    for j in range(40):
        topic, body = message(j, desks=3, base_ms=base)
        event = json.loads(body)
        assert event["ts"] == base + j
        device = topic.split("/")[2]
        assert event["type"] == ("badge" if j % BADGE_EVERY == BADGE_EVERY - 1 else "presence")
        assert device.startswith("card-" if event["type"] == "badge" else "seat-")
        seen.add((device, event["ts"]))
    assert len(seen) == 40


def test_a_step_is_split_among_publishers_without_gaps_or_overlaps():
    pieces = split(1000, 7, 3)
    assert pieces == [(1000, 2), (1002, 2), (1004, 3)]
    assert sum(n for _, n in pieces) == 7


def test_the_bench_hall_has_every_desk_and_probe_registered():
    hall = yaml.safe_load(registry_yaml(5, "Asia/Shanghai", "2026-11-23"))
    assert len(hall["windows"]) == 5 + PROBES
    assert len(hall["devices"]) == 2 * 5 + PROBES
    assert {r["window"] for r in hall["roster"]} == {w["id"] for w in hall["windows"]}


def test_the_desks_speak_mqtt_remaining_lengths_and_qos1_publishes():
    assert remaining_length(0) == b"\x00"
    assert remaining_length(127) == b"\x7f"
    assert remaining_length(128) == b"\x80\x01"
    assert remaining_length(16_383) == b"\xff\x7f"
    packet = publish_packet("a/b", b"hi", 258)
    assert packet == b"\x32\x09\x00\x03a/b\x01\x02hi"


def test_pubacks_are_taken_off_the_stream_only_when_whole():
    buffer = bytearray(b"\x20\x02\x00\x00" + b"\x40\x02\x00\x01" * 2 + b"\x40\x02\x00")
    assert packet_types(buffer) == [0x20, PUBACK, PUBACK]
    assert buffer == bytearray(b"\x40\x02\x00")
    buffer += b"\x03"
    assert packet_types(buffer) == [PUBACK] and not buffer
