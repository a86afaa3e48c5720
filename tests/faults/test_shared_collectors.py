"""Several collectors sharing one stream (`hallwatch collector --group NAME`, `$share/NAME/…`).

Each member is a real `hallwatch collector` process with its own `HALLWATCH_COLLECTOR_ID`, so
each has its own persistent session. The numbered stream proves from InfluxDB that every event
was stored exactly once; each member's stop summary proves that it did part of the work.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from console.services import Influxd, Mosquitto
from tests.faults.harness import (
    CollectorProcess,
    Stream,
    assert_each_once,
    base_ms,
    fault_env,
    new_database,
    stored_count,
    stored_seqs,
)
from tests.helpers import InfluxDB, wait_until

GROUP = ("--group", "hall")


@dataclass
class Group:
    """Collectors of one group on a private broker, writing to one database."""

    members: list[CollectorProcess]
    db: InfluxDB
    broker_url: str
    broker_log: Path

    def stream(
        self, count: int, streams: list[Stream], rate: float = 800, base: int | None = None
    ) -> Stream:
        """Start a numbered stream of `count` heartbeats (closed after the test)."""
        stream = Stream(self.broker_url, count, base_ms() if base is None else base, rate=rate)
        streams.append(stream)
        return stream.start()


@pytest.fixture
def group(start_service, registry_url, tmp_path: Path) -> Iterator[Callable[..., Group]]:
    """`group(n[, broker_conf])`: n started collectors with `--group hall`, distinct ids."""
    made: list[CollectorProcess] = []

    def start(count: int, broker_conf: str = "") -> Group:
        broker = start_service(Mosquitto, extra_conf=broker_conf)
        influxd = start_service(Influxd)
        db = new_database(influxd.url)
        for n in range(count):
            env = fault_env(registry_url, broker.url, db, tmp_path / "spool")
            made.append(CollectorProcess(env, tmp_path / f"member-{n}.log", GROUP))
            made[-1].start()
        return Group(made, db, broker.url, broker.log_path)  # a member added later is reaped too

    yield start
    for process in made:
        if process.alive():
            process.kill()


def test_two_collectors_in_a_group_split_the_stream_and_store_each_event_once(group, streams):
    count = 2000
    pair = group(2)
    assert len({m.env["HALLWATCH_COLLECTOR_ID"] for m in pair.members}) == 2
    stream = pair.stream(count, streams)
    stream.wait_published()
    assert_each_once(pair.db, count, stream.base)
    assert all(m.stop() == 0 for m in pair.members)
    written = [m.written_per_run() for m in pair.members]
    # Both worked, and between them wrote each event once: nobody got a copy of the stream.
    assert all(runs[0] > count // 4 for runs in written), written
    assert sum(runs[0] for runs in written) == count, written


def test_three_collectors_one_killed_and_one_stopped_mid_stream_lose_and_double_nothing(
    group, streams
):
    count = 3000
    three = group(3)
    killed, stopped, steady = three.members
    db = three.db
    stream = three.stream(count, streams, rate=600)
    wait_until(lambda: stored_count(db) >= count // 4, timeout=30, message="a quarter stored")
    killed.kill()  # mid-batch: its unacknowledged share stays in its own session
    killed.start()  # same id: the session resumes and is redelivered
    wait_until(lambda: stream.published >= count // 2, timeout=30)
    assert stopped.stop() == 0  # down for the rest of the stream
    stream.wait_published()
    stopped.start()  # its share waited in its session for it
    assert_each_once(db, count, stream.base)
    assert all(m.stop() == 0 for m in (killed, stopped, steady))
    assert stopped.written_per_run()[1] > 0, "nothing waited for the stopped member"


def test_mosquitto_keeps_an_offline_members_share_for_it_and_never_reroutes(group, streams):
    """Measured on Mosquitto 2.0.11: a share group is served strictly round-robin, an offline
    persistent member included. Its share waits in its session (up to max_queued_messages)
    until it returns; the online members do not get it. If a broker upgrade changes this,
    docs/MANUAL.md ("Several collectors") and docs/RELIABILITY.md must change with it."""
    count = 1000
    pair = group(2)
    online, offline = pair.members
    db = pair.db
    assert offline.stop() == 0
    stream = pair.stream(count, streams)
    stream.wait_published()  # the broker has routed (queued) every message
    wait_until(lambda: stored_count(db) >= count // 2, timeout=30, message="the online half")
    assert online.stop() == 0  # its queue drained: anything rerouted would have come by now
    seqs = stored_seqs(db)
    assert len(seqs) == count // 2, (
        f"{len(seqs)} of {count} stored while one of two members was away: the broker no "
        "longer gives an offline member its round-robin share"
    )
    assert len({seq % 2 for seq in seqs}) == 1, "not every other message: not round-robin"
    offline.start()
    assert_each_once(db, count, stream.base)
    assert offline.stop() == 0
    assert offline.written_per_run() == [0, count // 2]


def test_an_offline_members_share_past_the_brokers_queue_limit_is_lost(group, streams):
    """The price of the above: the offline member's share counts against its own
    max_queued_messages (ours 1,000,000; Mosquitto's default 1,000). Past it the broker keeps
    the oldest and drops the newest, logging one notice; the online member never gets them."""
    count, limit = 600, 100
    pair = group(2, broker_conf=f"max_queued_messages {limit}")
    online, offline = pair.members
    assert offline.stop() == 0
    stream = pair.stream(count, streams)
    stream.wait_published()
    wait_until(lambda: stored_count(pair.db) >= count // 2, timeout=30, message="online half")
    offline.start()
    wait_until(lambda: stored_count(pair.db) >= count // 2 + limit, timeout=30)
    assert offline.stop() == 0 and online.stop() == 0
    missing = set(range(count)) - set(stored_seqs(pair.db))
    away = min(missing, default=0) % 2  # which half of the round robin was the offline one's
    share = [seq for seq in range(count) if seq % 2 == away]
    assert missing == set(share[limit:]), (
        f"{count - len(missing)} of {count} stored; expected the online half and the oldest "
        f"{limit} of the offline member's share: Mosquitto's offline queue behaves differently"
    )
    dropped = (
        f"Outgoing messages are being dropped for client {offline.env['HALLWATCH_COLLECTOR_ID']}"
    )
    assert dropped in pair.broker_log.read_text()


def test_a_member_that_leaves_stores_its_share_and_is_dealt_no_more(group, streams, tmp_path):
    """`hallwatch collector --group hall --leave`: the way to retire a member for good."""
    count = 1000
    pair = group(2)
    staying, retired = pair.members
    assert retired.stop() == 0
    first = pair.stream(count, streams)
    first.wait_published()  # every other message queued in the stopped member's session
    wait_until(lambda: stored_count(pair.db) >= count // 2, timeout=30, message="online half")
    leaving = CollectorProcess(retired.env, tmp_path / "leaving.log", (*GROUP, "--leave"))
    pair.members.append(leaving)
    leaving.start()
    assert leaving.process.wait(timeout=60) == 0, leaving.log_text()
    assert "left group 'hall'" in leaving.log_text()
    assert leaving.written_per_run() == [count // 2]  # its queued share, on its way out
    assert_each_once(pair.db, count, first.base)
    # From now on the broker deals every message to the member that stayed.
    second = pair.stream(count, streams, base=first.base - 600_000)
    second.wait_published()
    wait_until(lambda: stored_count(pair.db) >= 2 * count, timeout=30, message="second stream")
    assert staying.stop() == 0
    assert staying.written_per_run() == [count // 2 + count]
    assert stored_count(pair.db) == 2 * count


def test_leave_is_refused_outside_a_group(registry_url, tmp_path):
    env = fault_env(
        registry_url, "mqtt://127.0.0.1:9", InfluxDB("http://127.0.0.1:9", "x"), tmp_path
    )
    run = subprocess.run(
        [sys.executable, "-m", "console.cli", "collector", "--leave"],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert run.returncode == 2 and "--leave needs --group" in run.stderr


def test_a_second_collector_under_a_members_id_stops_at_start_and_the_member_keeps_all(
    group, streams, tmp_path
):
    """The trap of running two on one host with the default id (hallwatch-collector-<host>):
    the broker would hand the one session to whichever connected last (MQTT-3.1.4-2), so
    they would take turns instead of sharing. The second one sees the first and stops."""
    count = 1000
    pair = group(1)
    member = pair.members[0]
    twin = subprocess.run(
        [sys.executable, "-m", "console.cli", "collector", *GROUP],
        env=member.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    client_id = member.env["HALLWATCH_COLLECTOR_ID"]
    assert twin.returncode == 1, twin.stderr
    assert f"another collector is already connected as {client_id!r}" in twin.stderr
    stream = pair.stream(count, streams, rate=400)
    stream.wait_published()
    assert_each_once(pair.db, count, stream.base)
    assert "disconnected from the broker" not in member.log_text()
    assert member.stop() == 0 and member.written_per_run() == [count]
