"""Registry keys that bind real devices: firmware names, base topics, layouts, card quirks,
silence allowances, and text that cannot start a new line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hallwatch.registry.file import RegistryError
from hallwatch.registry.parse import parse_registry
from hallwatch.registry.spec import TASMOTA_FULL_TOPIC, ZIGBEE2MQTT_BASE, Device, bridge_id

HALL = """\
hall: {name: 测试大厅, offline_after_minutes: 10}
departments: [{id: civil, name: 民政局}]
windows:
  - {id: W01, name: 1号窗口, department: civil}
  - {id: W02, name: 2号窗口, department: civil}
staff: [{id: s001, name: 张三, department: civil, badges: ["04A1B2C3"]}]
devices:
"""


def hall_with(*devices: str) -> str:
    return HALL + "".join(f"  - {d}\n" for d in devices)


def problems(*devices: str) -> list[str]:
    with pytest.raises(RegistryError) as caught:
        parse_registry(hall_with(*devices))
    return caught.value.problems


def test_every_device_key_reads():
    registry = parse_registry(
        hall_with(
            "{id: seat1, kind: presence_sensor, window: W01, zigbee2mqtt: seat_w01,"
            " zigbee2mqtt_base: z2m_east, offline_after_minutes: 75}",
            "{id: door, kind: badge_reader, department: civil, tasmota: civil_door,"
            " tasmota_full_topic: 'hall1/%prefix%/%topic%/', uid_reversed: true}",
            "{id: radar, kind: presence_sensor, window: W02, esphome: esp-w02/presence}",
            "{id: wiegand, kind: badge_reader, window: W02, esphome: esp-w02/card,"
            " uid_decimal: yes}",
        )
    )
    seat1, door, radar, wiegand = registry.devices
    assert (seat1.zigbee2mqtt_base, seat1.offline_after_minutes) == ("z2m_east", 75.0)
    assert seat1.bridge == bridge_id("z2m_east")
    assert (door.tasmota_full_topic, door.uid_reversed) == ("hall1/%prefix%/%topic%/", True)
    assert (radar.esphome, radar.esphome_node) == ("esp-w02/presence", "esp-w02")
    assert wiegand.uid_decimal and not wiegand.uid_reversed
    assert registry.offline_after("seat1") == timedelta(minutes=75)
    assert registry.offline_after("radar") == timedelta(minutes=10)  # the hall's
    assert registry.esphome_nodes["esp-w02"] == {"presence": radar, "card": wiegand}


def test_the_defaults_are_the_firmwares_own():
    (device,) = parse_registry(
        hall_with("{id: s, kind: presence_sensor, window: W01, zigbee2mqtt: seat}")
    ).devices
    assert device == Device("s", "presence_sensor", window="W01", zigbee2mqtt="seat")
    assert (device.zigbee2mqtt_base, device.tasmota_full_topic) == (
        ZIGBEE2MQTT_BASE,
        TASMOTA_FULL_TOPIC,
    )


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        (
            "{id: x, kind: presence_sensor, window: W01, zigbee2mqtt: a, tasmota: b}",
            "a device speaks one form: 'zigbee2mqtt' or 'tasmota', not both",
        ),
        (
            "{id: x, kind: badge_reader, window: W01, zigbee2mqtt_base: z2m}",
            "key 'zigbee2mqtt_base': only means something beside 'zigbee2mqtt'",
        ),
        (
            "{id: x, kind: badge_reader, window: W01, tasmota_full_topic: '%prefix%/%topic%/'}",
            "key 'tasmota_full_topic': only means something beside 'tasmota'",
        ),
        (
            "{id: x, kind: presence_sensor, window: W01, uid_reversed: true}",
            "key 'uid_reversed': only a badge_reader reads cards",
        ),
        (
            "{id: x, kind: badge_reader, window: W01, uid_decimal: maybe}",
            "key 'uid_decimal': 'maybe' is not true or false",
        ),
        (
            "{id: x, kind: presence_sensor, window: W01, offline_after_minutes: 0}",
            "key 'offline_after_minutes': '0' must be more than 0 minutes",
        ),
        (
            "{id: x, kind: badge_reader, window: W01, esphome: esp-w01}",
            "must be <node>/<object_id>",
        ),
        (
            "{id: x, kind: badge_reader, window: W01, esphome: 'esp-w01/Tag Reader'}",
            "the object id 'Tag Reader' is not",
        ),
        (
            "{id: x, kind: presence_sensor, window: W01, zigbee2mqtt: s, zigbee2mqtt_base: 'a//b'}",
            "empty topic level",
        ),
        (
            "{id: x, kind: presence_sensor, window: W01, zigbee2mqtt: s, zigbee2mqtt_base: '$SYS'}",
            "starts with $",
        ),
        (
            "{id: x, kind: presence_sensor, window: W01, zigbee2mqtt: s,"
            " zigbee2mqtt_base: hallwatch/z2m}",
            "'hallwatch/' topics are HallWatch's own",
        ),
        (
            "{id: x, kind: badge_reader, window: W01, tasmota: t,"
            " tasmota_full_topic: 'a/%topic%/'}",
            "must hold %prefix% exactly once",
        ),
        (
            "{id: x, kind: badge_reader, window: W01, tasmota: t,"
            " tasmota_full_topic: 'hallwatch/%prefix%/%topic%/'}",
            "key 'tasmota_full_topic': 'hallwatch/' topics are HallWatch's own",
        ),
        (
            "{id: x, kind: badge_reader, window: W01, esphome: hallwatch/x}",
            "key 'esphome': 'hallwatch/' topics are HallWatch's own",
        ),
        (
            "{id: x, kind: badge_reader, window: W01, tasmota: t,"
            " tasmota_full_topic: '%prefix%/%topic%/%mac%/'}",
            "%mac% is not one of",
        ),
        (
            "{id: x, kind: badge_reader, window: W01, tasmota: t,"
            " tasmota_full_topic: '%prefix%/x%topic%/'}",
            "each % token must be a whole topic level",
        ),
        (
            "{id: x, kind: badge_reader, window: W01, tasmota: 'a+b'}",
            "cannot be part of an MQTT topic",
        ),
        # Firmware names reach the broker's ACL: only what the firmware takes, no spaces.
        (
            "{id: x, kind: badge_reader, window: W01, tasmota: 'x topic hallwatch'}",
            "key 'tasmota': 'x topic hallwatch': the topic level 'x topic hallwatch' must be",
        ),
        (
            "{id: x, kind: badge_reader, window: W01, tasmota: 'door\u00a0w'}",
            "key 'tasmota': 'door\u00a0w': the topic level",
        ),
        (
            "{id: x, kind: badge_reader, window: W01, tasmota: '$door'}",
            "key 'tasmota': '$door': the topic level",
        ),
        (
            "{id: x, kind: presence_sensor, window: W01, zigbee2mqtt: s,"
            " zigbee2mqtt_base: 'z2m east'}",
            "key 'zigbee2mqtt_base': 'z2m east': the topic level 'z2m east' must be",
        ),
        (
            "{id: x, kind: badge_reader, window: W01, tasmota: t,"
            " tasmota_full_topic: 'hall 1/%prefix%/%topic%/'}",
            "key 'tasmota_full_topic': 'hall 1/%prefix%/%topic%/': the topic level 'hall 1'",
        ),
        (
            "{id: x, kind: badge_reader, window: W01, esphome: 'esp w01/tag'}",
            "key 'esphome': 'esp w01/tag': the node's topic level 'esp w01' is not",
        ),
        (
            r'{id: x, kind: presence_sensor, window: W01, zigbee2mqtt: "seat\u2028topic x"}',
            "key 'zigbee2mqtt': contains a control character (U+2028 at character 5)",
        ),
        (
            "{id: x, kind: presence_sensor, window: W01, zigbee2mqtt: 'seat\u200bw01'}",
            "key 'zigbee2mqtt': 'seat\u200bw01' holds U+200B at character 5",
        ),
        (
            "{id: x, kind: presence_sensor, window: W01, zigbee2mqtt: 'seat\u3000w01'}",
            "holds U+3000 at character 5",
        ),
        (
            "{id: x, kind: presence_sensor, window: W01, zigbee2mqtt: '1F/ seat'}",
            "key 'zigbee2mqtt': '1F/ seat': a space may only stand alone between words",
        ),
        (
            "{id: x, kind: presence_sensor, window: W01, zigbee2mqtt: '1F//seat'}",
            "key 'zigbee2mqtt': '1F//seat' has an empty topic level",
        ),
    ],
)
def test_a_device_entry_that_cannot_bind_is_refused_by_entry_and_key(entry, fragment):
    found = problems(entry)
    assert any(fragment in p and p.startswith("devices[0] (id x)") for p in found), found


def test_two_devices_on_one_topic_are_refused_whatever_the_spelling():
    found = problems(
        "{id: a, kind: presence_sensor, window: W01, zigbee2mqtt: floor1/seat}",
        "{id: b, kind: presence_sensor, window: W02, zigbee2mqtt: seat,"
        " zigbee2mqtt_base: zigbee2mqtt/floor1}",
    )
    assert found == ["devices[1] (id b): key 'zigbee2mqtt': 'seat' is also device a"]
    found = problems(
        "{id: a, kind: badge_reader, window: W01, tasmota: door}",
        "{id: b, kind: badge_reader, window: W02, tasmota: door,"
        " tasmota_full_topic: '%prefix%/%topic%/'}",
    )
    assert found == ["devices[1] (id b): key 'tasmota': 'door' is also device a"]


def test_an_esphome_node_may_be_a_topic_of_several_levels():
    registry = parse_registry(
        hall_with("{id: r, kind: presence_sensor, window: W01, esphome: hall1/esp-w01/presence}")
    )
    assert registry.esphome_nodes == {"hall1/esp-w01": {"presence": registry.devices[0]}}
    assert registry.devices[0].esphome_node == "hall1/esp-w01"


def test_the_same_friendly_name_under_two_bases_is_two_devices():
    registry = parse_registry(
        hall_with(
            "{id: a, kind: presence_sensor, window: W01, zigbee2mqtt: seat}",
            "{id: b, kind: presence_sensor, window: W02, zigbee2mqtt: seat,"
            " zigbee2mqtt_base: z2m_east}",
        )
    )
    assert registry.zigbee2mqtt_names["z2m_east"]["seat"].id == "b"
    assert registry.bridge_devices == {
        bridge_id("zigbee2mqtt"): ("a",),
        bridge_id("z2m_east"): ("b",),
    }
    assert registry.device_ids >= {"a", "b", bridge_id("zigbee2mqtt"), bridge_id("z2m_east")}


@pytest.mark.parametrize(
    ("escaped", "code"),
    [(r"\n", "U+000A"), (r"\r", "U+000D"), (r"\t", "U+0009"), (r"\u2028", "U+2028")],
)
def test_a_control_character_anywhere_in_the_text_refuses_the_file(escaped, code):
    # docs/REGISTRY.md: no text (names, firmware names, reasons) may hold a control character.
    with pytest.raises(RegistryError) as caught:
        parse_registry(HALL.replace("name: 1号窗口", f'name: "1号{escaped}窗口"', 1))
    assert caught.value.problems == [
        f"windows[0] (id W01): key 'name': contains a control character ({code} at character 3)"
        "; names and reasons must be one line of text"
    ]


def test_a_firmware_name_with_a_line_break_is_refused():
    found = problems('{id: x, kind: badge_reader, window: W01, tasmota: "x\\ntopic hallwatch"}')
    assert found and "key 'tasmota': contains a control character (U+000A" in found[0]


@pytest.mark.parametrize(
    ("badges", "expected"),
    [
        ('["008EC793"]', ("8EC793",)),
        ('["dec:0009357203", "8ec793"]', ("8EC793",)),  # one card, written twice
        ('["04:a1:b2:c3"]', ("04A1B2C3",)),
    ],
)
def test_badges_are_kept_as_numbers(badges, expected):
    text = HALL.replace('badges: ["04A1B2C3"]', f"badges: {badges}")
    (person,) = parse_registry(text + "  - {id: d, kind: badge_reader, window: W01}\n").staff
    assert person.badges == expected


def test_one_card_held_by_two_people_is_refused_however_it_is_written():
    text = HALL.replace(
        'badges: ["04A1B2C3"]}]',
        'badges: ["008EC793"]}, '
        '{id: s002, name: 李四, department: civil, badges: ["dec:9357203"]}]',
    )
    with pytest.raises(RegistryError) as caught:
        parse_registry(text)
    assert caught.value.problems == [
        "staff[1] (id s002): key 'badges': card '8EC793' is also held by s001"
    ]


def test_a_seat_sensors_sensing_reads_dumps_and_is_stored(tmp_path):
    from datetime import UTC, datetime

    from hallwatch.registry.apply import apply_registry
    from hallwatch.registry.db import create_schema, make_engine, make_session_factory
    from hallwatch.registry.dump import dump_deployment, registry_yaml
    from hallwatch.registry.load import load_registry
    from hallwatch.registry.parse import parse_deployment

    text = hall_with(
        "{id: pir, kind: presence_sensor, window: W01, zigbee2mqtt: seat_w01, sensing: pir}",
        "{id: seat2, kind: presence_sensor, window: W02}",
    )
    registry = parse_registry(text)
    assert [d.sensing for d in registry.devices] == ["pir", None]
    again = parse_registry(registry_yaml(dump_deployment(parse_deployment(text))))
    assert again.devices == registry.devices
    engine = make_engine(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    create_schema(engine)
    with make_session_factory(engine)() as session:
        apply_registry(session, registry, datetime(2026, 11, 23, tzinfo=UTC))
        session.commit()
        assert load_registry(session).devices == registry.devices


@pytest.mark.parametrize(
    "entry",
    [
        "{id: x, kind: presence_sensor, window: W01, sensing: ultrasound}",
        "{id: x, kind: badge_reader, window: W01, sensing: pir}",
    ],
)
def test_a_wrong_sensing_is_refused(entry):
    assert any("sensing" in p for p in problems(entry))
