"""The simulated day's story: leave, absence, pull-backs, holidays, and the minute ground truth."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

from hallwatch.cards import canonical
from hallwatch.registry.spec import Leave, Registry
from simulator.dayplan import DayPlan, ground_truth_csv, plan_day
from tests.unit.simulated_day import PLAIN_SATURDAY, SEEDS, TZ, decode
from tests.unit.simulator_demo import MONDAY, demo_registry, monday

TRAINING_DAY = date(2026, 12, 2)  # 胡斌 (s015) is at training from 1 Dec 13:30 to 2 Dec 17:30
NATIONAL_DAY = date(2026, 10, 1)
MAKE_UP_SATURDAY = date(2026, 10, 10)


def _badge_reads(plan: DayPlan, registry: Registry) -> list[tuple[datetime, str, str]]:
    """(planned instant, reader id, card uid) of every badge read in the plan."""
    reads = []
    for message in plan.messages:
        device, kind, body = decode(registry, message)
        if kind != "badge":
            continue
        if isinstance(body, str):  # an ESPHome tag
            uid = canonical(f"dec:{body}" if registry.device_by_id[device].uid_decimal else body)
        elif "uid" in body:
            uid = body["uid"]
        else:
            uid = next(v["UID"] for k, v in body.items() if k not in ("Time", "Epoch"))
        reads.append((message.at, device, uid))
    return reads


def _reads_of(plan: DayPlan, registry: Registry, staff: str) -> list[tuple[datetime, str, str]]:
    badges = set(registry.staff_by_id[staff].badges)
    return [r for r in _badge_reads(plan, registry) if r[2] in badges]


def _during_hours(registry: Registry, at: datetime) -> bool:
    local = at.astimezone(registry.hall.tz).time()
    return any(start <= local < end for start, end in registry.hall.hours)


def test_people_on_leave_do_not_badge():
    hall = demo_registry()
    assert _reads_of(monday(1), hall, "s017") == []  # 何芳, maternity leave
    for seed in SEEDS[:2]:
        assert _reads_of(plan_day(hall, TRAINING_DAY, seed), hall, "s015") == []
        first_day = plan_day(hall, date(2026, 12, 1), seed)  # training from 13:30
        reads = _reads_of(first_day, hall, "s015")
        assert all(at.astimezone(TZ).time() < time(13, 30) for at, _, _ in reads)


def test_a_whole_day_of_leave_keeps_a_person_away_from_the_seat():
    hall = demo_registry()
    start = datetime.combine(MONDAY, time(0), tzinfo=TZ)
    on_leave = replace(hall, leave=(Leave("s001", start, start + timedelta(days=1), "病假"),))
    plan = plan_day(on_leave, MONDAY, 1)
    assert _reads_of(plan, on_leave, "s001") == []
    assert not any(row.staff == "s001" for row in plan.ground_truth)


def test_the_absent_person_never_badges_nor_sits():
    hall = demo_registry()
    for seed in SEEDS:
        plan = monday(seed)
        absent = plan.story["absent"]
        assert _reads_of(plan, hall, absent) == []
        assert not any(row.staff == absent for row in plan.ground_truth)


def test_the_pulled_back_person_reads_at_their_office_during_hours_and_returns():
    hall = demo_registry()
    for seed in SEEDS:
        plan = monday(seed)
        person = hall.staff_by_id[plan.story["pulled_back"]]
        office = next(d.id for d in hall.devices if d.department == person.department)
        reads = _reads_of(plan, hall, person.id)
        at_office = [at for at, device, _ in reads if device == office and _during_hours(hall, at)]
        assert at_office, seed
        first = min(at_office)
        minute = first.replace(second=0, microsecond=0)
        seated_then = [r for r in plan.ground_truth if r.at == minute and r.staff == person.id]
        assert seated_then == []
        back = [at for at, device, _ in reads if device != office and at > first]
        assert back and _during_hours(hall, min(back))
        assert any(r.staff == person.id and r.at > min(back) for r in plan.ground_truth)


def test_most_people_sit_at_their_window_in_the_middle_of_the_morning():
    plan = monday(1)
    ten = datetime.combine(MONDAY, time(9, 30), tzinfo=TZ)
    rows = [r for r in plan.ground_truth if r.at == ten]
    assert sum(r.occupied for r in rows) >= 0.7 * len(rows)


def test_nobody_signs_in_on_a_statutory_holiday_or_a_plain_weekend():
    hall = demo_registry()
    assert plan_day(hall, NATIONAL_DAY, 1) == DayPlan(NATIONAL_DAY)
    assert plan_day(hall, PLAIN_SATURDAY, 1).messages == []
    assert plan_day(hall, MONDAY, 1, is_working_day=lambda day: False).messages == []


def test_a_make_up_saturday_is_a_working_day():
    hall = demo_registry()
    assert _badge_reads(plan_day(hall, MAKE_UP_SATURDAY, 1), hall)


def test_a_caller_may_open_the_hall_on_any_day():
    hall = demo_registry()
    plan = plan_day(hall, PLAIN_SATURDAY, 1, is_working_day=lambda day: True)
    assert _badge_reads(plan, hall)


def test_ground_truth_covers_every_minute_of_opening_hours_for_every_window():
    hall = demo_registry()
    plan = monday(1)
    minutes = [
        datetime.combine(MONDAY, start, tzinfo=TZ) + timedelta(minutes=i)
        for start, end in hall.hall.hours
        for i in range(
            (datetime.combine(MONDAY, end) - datetime.combine(MONDAY, start))
            // timedelta(minutes=1)
        )
    ]
    expected = {(m, w.id) for m in minutes for w in hall.windows}
    got = [(r.at, r.window) for r in plan.ground_truth]
    assert len(got) == len(expected) == 420 * 30
    assert set(got) == expected
    assert all(r.occupied == (r.staff is not None) for r in plan.ground_truth)


def test_ground_truth_csv_has_one_line_per_window_minute():
    plan = monday(1)
    lines = ground_truth_csv(plan).splitlines()
    assert lines[0] == "time,window,staff,occupied"
    assert len(lines) == len(plan.ground_truth) + 1
    assert lines[1].startswith("2026-11-23T09:00:00+08:00,W01,")
