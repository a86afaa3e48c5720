"""The simulator publishing a planned day: compressed replay, live mode, stopping."""

from __future__ import annotations

import threading
from datetime import datetime, time

import pytest

from hallwatch.config import MqttTarget
from simulator.dayplan import PlannedMessage
from simulator.simulator import Simulator, run_simulation
from tests.unit.simulated_day import PLAIN_SATURDAY, TZ
from tests.unit.simulator_demo import MONDAY, FakeClient, demo_registry, monday

TARGET = MqttTarget("127.0.0.1", 1883, False, None, None)


# ---------------------------------------------------------------- the simulator


def _simulator(client: FakeClient, clock=None, speed: float = 1.0, stop=None) -> Simulator:
    kwargs = {"clock": clock} if clock else {}
    return Simulator(
        demo_registry(),
        TARGET,
        speed,
        stop_event=stop,
        client_factory=lambda target, client_id: client,
        **kwargs,
    )


def _as_sent(messages: list[PlannedMessage]) -> list[tuple[str, bytes, int, bool]]:
    return [(m.topic, m.payload, m.qos, m.retain) for m in messages]


def test_a_compressed_replay_publishes_the_whole_day_in_order():
    plan = monday(1)
    client = FakeClient()
    published = _simulator(client, speed=10_000_000).play(plan)
    assert published == len(plan.messages)
    assert client.sent == _as_sent(plan.messages)
    assert not client.running


def test_live_mode_sends_the_past_at_once_then_waits_for_the_rest():
    plan = monday(1)
    now = datetime.combine(MONDAY, time(10, 30), tzinfo=TZ)
    past = [m for m in plan.messages if m.at < now]
    stop = threading.Event()
    client = FakeClient(on_published=lambda n: n == len(past) and stop.set())
    published = _simulator(client, clock=lambda: now, stop=stop).live(plan)
    assert published == len(past)
    assert client.sent == _as_sent(past)


def test_a_stopped_simulator_publishes_nothing():
    stop = threading.Event()
    stop.set()
    client = FakeClient()
    assert _simulator(client, stop=stop).play(monday(1)) == 0


def test_live_mode_refuses_another_day():
    with pytest.raises(ValueError, match="today"):
        run_simulation(
            demo_registry(),
            TARGET,
            MONDAY,
            1.0,
            "live",
            1,
            None,
            threading.Event(),
            clock=lambda: datetime.combine(PLAIN_SATURDAY, time(10), tzinfo=TZ),
        )
