"""Login throttling: when a streak of failures locks a name or an address, and for how long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from hallwatch.registry.throttle import (
    ADDRESS_POLICY,
    USER_POLICY,
    LoginFailureRow,
    Policy,
    clear_failures,
    record_failure,
    retry_after,
    user_key,
    wait_after,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
POLICY = Policy(max_failures=5, window=15 * MIN, first_delay=MIN, max_delay=30 * MIN)


def minutes(*offsets: float) -> list[datetime]:
    return [T0 + m * MIN for m in offsets]


def test_four_failures_do_not_lock():
    assert wait_after(minutes(0, 1, 2, 3), POLICY, T0 + 3 * MIN) is None


def test_the_fifth_failure_locks_for_a_minute_after_it():
    failures = minutes(0, 1, 2, 3, 4)
    assert wait_after(failures, POLICY, T0 + 4 * MIN) == MIN
    assert wait_after(failures, POLICY, T0 + 4.5 * MIN) == MIN / 2
    assert wait_after(failures, POLICY, T0 + 5 * MIN) is None


def test_each_further_failure_doubles_the_wait_up_to_the_cap():
    failures = minutes(0, 0, 0, 0, 0)
    waits = []
    for _ in range(8):
        now = failures[-1]
        waits.append(wait_after(failures, POLICY, now))
        failures.append(now + waits[-1])  # the guesser tries again the moment the wait ends
    assert [w / MIN for w in waits] == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_quiet_spell_past_the_wait_starts_afresh():
    failures = minutes(0, 0, 0, 0, 0)  # locked until 1 min
    quiet = T0 + MIN + 15 * MIN + timedelta(seconds=1)
    assert wait_after([*failures, quiet], POLICY, quiet) is None  # one failure of a new streak
    just_within = T0 + MIN + 15 * MIN
    assert wait_after([*failures, just_within], POLICY, just_within) == 2 * MIN


def test_failures_spread_wider_than_the_window_never_lock():
    failures = minutes(*(16 * i for i in range(20)))
    assert wait_after(failures, POLICY, failures[-1]) is None


def test_the_order_of_the_times_does_not_matter():
    failures = minutes(4, 0, 3, 1, 2)
    assert wait_after(failures, POLICY, T0 + 4 * MIN) == MIN


def test_no_failures_no_wait():
    assert wait_after([], POLICY, T0) is None


def test_an_address_gets_more_tries_than_a_name():
    failures = [T0] * USER_POLICY.max_failures
    assert wait_after(failures, USER_POLICY, T0) is not None
    assert wait_after(failures, ADDRESS_POLICY, T0) is None
    assert ADDRESS_POLICY.max_failures > USER_POLICY.max_failures


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_failures": 0},
        {"first_delay": timedelta(0)},
        {"first_delay": 2 * MIN, "max_delay": MIN},
        {"window": timedelta(0)},
    ],
)
def test_a_policy_checks_itself(kwargs):
    fields = {"max_failures": 5, "window": MIN, "first_delay": MIN, "max_delay": MIN}
    with pytest.raises(ValueError):
        Policy(**{**fields, **kwargs})


def test_every_spelling_of_a_name_is_one_key():
    assert user_key(" Boss ") == user_key("boss") == "boss"
    assert len(user_key("x" * 1000)) == 64


@pytest.fixture
def db(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'hallwatch.sqlite3'}")
    create_schema(engine)
    with make_session_factory(engine)() as session:
        yield session


def test_failures_are_stored_per_name_and_per_address(db):
    for i in range(5):
        record_failure(db, "boss", "10.0.0.1", T0 + i * timedelta(seconds=1))
    now = T0 + 5 * timedelta(seconds=1)
    assert retry_after(db, "boss", "10.0.0.2", now) is not None  # the name, from anywhere
    assert retry_after(db, "BOSS", None, now) is not None
    assert retry_after(db, "tax", "10.0.0.2", now) is None
    assert retry_after(db, "tax", "10.0.0.1", now) is None  # 5 is under the address's cap


def test_many_names_from_one_address_lock_the_address(db):
    for i in range(ADDRESS_POLICY.max_failures):
        record_failure(db, f"guess{i}", "10.0.0.9", T0)
    assert retry_after(db, "boss", "10.0.0.9", T0) == ADDRESS_POLICY.first_delay
    assert retry_after(db, "boss", "10.0.0.8", T0) is None


def test_a_success_forgets_the_name_but_not_the_address(db):
    for _ in range(ADDRESS_POLICY.max_failures):
        record_failure(db, "boss", "10.0.0.1", T0)
    clear_failures(db, " Boss")
    assert retry_after(db, "boss", "10.0.0.2", T0) is None
    assert retry_after(db, "tax", "10.0.0.1", T0) is not None


def test_old_failures_are_deleted(db):
    for _ in range(5):
        record_failure(db, "boss", "10.0.0.1", T0)
    record_failure(db, "other", "10.0.0.3", T0 + timedelta(days=2))
    assert db.scalar(select(func.count()).select_from(LoginFailureRow)) == 2
