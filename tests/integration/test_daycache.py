"""Today's events in memory: topped up from InfluxDB, late-written points caught by a reload."""

from datetime import UTC, datetime, time, timedelta

from hallwatch.daycache import FULL_RELOAD_S, TOP_UP_S, DayEvents
from hallwatch.events import PresenceReport
from hallwatch.influx.client import InfluxClient
from hallwatch.influx.eventstore import EventStore, event_point
from hallwatch.schedule import day_of, local_midnight
from hallwatch.state import hall_at
from tests.helpers import midday_zone
from tests.unit.hall import hall

ZONE = midday_zone().key  # about noon there whenever this runs: "minutes ago" is today
HALL = hall(timezone=ZONE).hall

TODAY = datetime.now(UTC).astimezone(HALL.tz).date()
REGISTRY = hall(timezone=ZONE, hours=((time(0, 0), time(23, 59)),), working_days=frozenset({TODAY}))


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def write(client: InfluxClient, at: datetime, received: datetime, occupied=True) -> None:
    event = PresenceReport("desk-w01-seat", at, occupied, received)
    client.write([event_point(event).to_line()])


def test_new_points_are_topped_up_and_late_ones_appear_after_a_reload(influx_db):
    client = InfluxClient(influx_db.url, influx_db.db)
    clock = Clock()
    cache = DayEvents(EventStore(client), clock)
    now = datetime.now(UTC).replace(microsecond=0)
    write(client, now - timedelta(minutes=3), now - timedelta(minutes=3))
    assert len(cache.history(HALL, now)) >= 1
    write(client, now - timedelta(minutes=1), now - timedelta(seconds=5), occupied=False)
    clock.now += TOP_UP_S
    assert [
        e.occupied
        for e in cache.history(HALL, now)
        if e.device == "desk-w01-seat" and isinstance(e, PresenceReport)
    ][-1] is False

    # A backlog written long after it was received: missed by the top-up…
    write(client, now - timedelta(minutes=2), now - timedelta(minutes=10))
    clock.now += TOP_UP_S
    events = [e for e in cache.history(HALL, now) if isinstance(e, PresenceReport)]
    assert len(events) == 2
    # …and found by the next full reload.
    clock.now += FULL_RELOAD_S + 1
    events = [e for e in cache.history(HALL, now) if isinstance(e, PresenceReport)]
    assert len(events) == 3 and [e.at for e in events] == sorted(e.at for e in events)


def test_history_stops_at_the_instant_asked(influx_db):
    client = InfluxClient(influx_db.url, influx_db.db)
    cache = DayEvents(EventStore(client), Clock())
    now = datetime.now(UTC).replace(microsecond=0)
    write(client, now - timedelta(seconds=30), now - timedelta(seconds=30))
    assert [
        e
        for e in cache.history(HALL, now - timedelta(minutes=1))
        if isinstance(e, PresenceReport) and e.at > now - timedelta(minutes=1)
    ] == []


def test_the_live_state_is_the_state_function_over_what_influxdb_holds(influx_db):
    client = InfluxClient(influx_db.url, influx_db.db)
    clock = Clock()
    store = EventStore(client)
    cache = DayEvents(store, clock)
    now = datetime.now(UTC).replace(microsecond=0)
    write(client, now - timedelta(minutes=20), now - timedelta(minutes=20))
    write(client, now - timedelta(minutes=15), now - timedelta(minutes=15), occupied=False)

    def expected(at: datetime):
        day_start = local_midnight(REGISTRY.hall, day_of(REGISTRY.hall, at))
        return hall_at(REGISTRY, store.day_history(day_start, at), at)

    assert cache.state(REGISTRY, now) == expected(now)
    # A newer report, then one held back behind what the live tracker already took.
    write(client, now - timedelta(minutes=2), now - timedelta(seconds=2))
    clock.now += TOP_UP_S
    assert cache.state(REGISTRY, now) == expected(now)
    write(client, now - timedelta(minutes=10), now - timedelta(seconds=1))
    clock.now += TOP_UP_S
    assert cache.state(REGISTRY, now) == expected(now)
    # A replay of an earlier instant of the same day.
    earlier = now - timedelta(minutes=12)
    assert cache.state(REGISTRY, earlier) == expected(earlier)


def test_a_hall_reads_its_own_devices_series_only(influx_db):
    """Several halls in one store: day, carry-over and top-up all keep the hall's devices."""
    client = InfluxClient(influx_db.url, influx_db.db)
    now = datetime.now(UTC).replace(microsecond=0)
    start = local_midnight(HALL, day_of(HALL, now))
    # "W1" must not match "W10" or "xW1"; "-" is escaped in the expression.
    devices = ["W1", "W10", "xW1", "east-W1", "east-W1x"]
    for device in devices:
        for at in (start - timedelta(hours=2), now - timedelta(minutes=2)):
            client.write([event_point(PresenceReport(device, at, True, at)).to_line()])
    store, clock = EventStore(client), Clock()
    own = frozenset({"W1", "east-W1"})

    assert {e.device for e in store.carry_over(start, own)} == own
    assert {e.device for e in store.events_between(start, now, own)} == own
    assert {e.device for e in store.day_history(start, now)} == set(devices)
    assert store.day_history(start, now, frozenset()) == []

    cache = DayEvents(store, clock, own)
    assert {e.device for e in cache.history(HALL, now)} == own
    for device in devices:
        client.write([event_point(PresenceReport(device, now, False, now)).to_line()])
    clock.now += TOP_UP_S
    topped_up = [e for e in cache.history(HALL, now) if e.at == now]
    assert {e.device for e in topped_up} == own
