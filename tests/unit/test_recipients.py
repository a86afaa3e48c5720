"""Who is told, and when: recipients by role and department, hours, retry backoff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from alerts.notify import CLOSE_GRACE, in_hours
from alerts.outbox import backoff
from alerts.recipients import digest_recipients, escalation_recipients, recipients
from hallwatch import access
from hallwatch.alert_kinds import ALERT_KINDS
from tests.unit.hall import at, hall


@dataclass(frozen=True)
class User:
    username: str
    role: str
    department_id: str | None = None


MANAGER = User("wang", access.HALL_MANAGER)
CIVIL_HEAD = User("li", access.DEPT_HEAD, "civil")
TAX_HEAD = User("zhao", access.DEPT_HEAD, "tax")
ADMIN = User("root", access.ADMIN)
INSPECTOR = User("jian", access.INSPECTOR)
EVERYONE = (MANAGER, CIVIL_HEAD, TAX_HEAD, ADMIN, INSPECTOR)

REGISTRY = hall()
SATURDAY = date(2026, 11, 28)
NATIONAL_DAY = date(2026, 10, 1)


@pytest.mark.parametrize("kind", ALERT_KINDS)
def test_hall_managers_and_the_own_department_head_hear_of_every_kind(kind):
    assert recipients(kind, "civil", EVERYONE) == [MANAGER, CIVIL_HEAD]


def test_another_departments_head_is_not_told():
    assert TAX_HEAD not in recipients("empty_window", "civil", EVERYONE)
    assert recipients("absent", "tax", EVERYONE) == [MANAGER, TAX_HEAD]


def test_an_alert_of_no_department_goes_to_hall_managers_only():
    assert recipients("device_offline", None, EVERYONE) == [MANAGER]


def test_admins_and_inspectors_are_never_first_recipients():
    for kind in ALERT_KINDS:
        told = recipients(kind, "civil", EVERYONE)
        assert ADMIN not in told and INSPECTOR not in told


def test_a_head_without_a_department_is_told_nothing():
    assert recipients("absent", "civil", [User("x", access.DEPT_HEAD, None)]) == []


def test_only_empty_windows_and_pulled_back_staff_escalate_to_admins():
    assert escalation_recipients("empty_window", EVERYONE) == [ADMIN]
    assert escalation_recipients("pulled_back", EVERYONE) == [ADMIN]
    for kind in ("absent", "device_offline", "withdrawn"):
        assert escalation_recipients(kind, EVERYONE) == []


def test_digests_go_to_heads_and_managers():
    assert digest_recipients(EVERYONE) == [MANAGER, CIVIL_HEAD, TAX_HEAD]


def test_a_kind_added_later_still_reaches_the_manager_and_the_head():
    assert recipients("passback", "civil", EVERYONE) == [MANAGER, CIVIL_HEAD]


# --- when -------------------------------------------------------------------------------


def test_hours_are_the_opening_periods_of_working_days():
    assert in_hours(REGISTRY, at("09:00"))
    assert in_hours(REGISTRY, at("11:59"))
    assert not in_hours(REGISTRY, at("12:00"))  # lunch
    assert not in_hours(REGISTRY, at("08:59"))
    assert not in_hours(REGISTRY, at("17:30"))
    assert not in_hours(REGISTRY, at("10:00", SATURDAY))
    assert not in_hours(REGISTRY, at("10:00", NATIONAL_DAY))


def test_the_close_grace_lets_the_end_of_day_verdict_out_but_not_at_lunch():
    assert in_hours(REGISTRY, at("17:30"), CLOSE_GRACE)
    assert not in_hours(REGISTRY, at("12:10"), CLOSE_GRACE)
    assert not in_hours(REGISTRY, at("17:30") + CLOSE_GRACE, CLOSE_GRACE)


def test_backoff_starts_at_ten_seconds_doubles_and_caps_at_fifteen_minutes():
    waits = [backoff(n).total_seconds() for n in range(1, 9)]
    assert waits == [10, 20, 40, 80, 160, 320, 640, 900]
    assert backoff(10_000) == timedelta(minutes=15)
    assert backoff(0) == timedelta(0)
