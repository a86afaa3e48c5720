"""ESPHome payloads by its source's rules: LD2410 presence, RC522 and Wiegand tags, node wills."""

from __future__ import annotations

from devices import esphome
from hallwatch.events import PresenceReport, Rejection
from tests.unit.field_hall import RECEIVED, heard

# ---------------------------------------------------------------- ESPHome


def test_an_ld2410_binary_sensor_is_presence(hall):
    # Topic by ESPHome's rules (mqtt_component.cpp: <prefix>/<component>/<object_id>/state,
    # mqtt_binary_sensor.cpp: ON/OFF) for an LD2410 `has_target` named "Presence".
    on = heard(hall, "esp-w01/binary_sensor/presence/state", b"ON")
    assert on == PresenceReport("ld2410", RECEIVED, True, RECEIVED, "esphome")
    assert heard(hall, "esp-w01/binary_sensor/presence/state", b"OFF").occupied is False


def test_an_esphome_tag_reads_in_either_of_its_forms(hall):
    # rc522.cpp / nfc.cpp format_uid: "74-10-37-94"; MQTT text sensors publish under sensor/
    # (mqtt_text_sensor.cpp), docs/DEVICES.md names text_sensor/: both are read.
    for component in ("sensor", "text_sensor"):
        event = heard(hall, f"esp-w01/{component}/tag/state", b"74-10-37-94")
        assert (event.device, event.uid, event.source) == ("esp-rc522", "74103794", "esphome")


def test_an_esphome_wiegand_tag_is_a_decimal_number(hall):
    # ssieb/esphome_components#42: "received 26-bit tag: 1539623" (wiegand.cpp to_string).
    event = heard(hall, "esp-door/sensor/card/state", b"1539623")
    assert event.uid == "177E27"  # 1539623 = 0x177E27


def test_a_nodes_will_makes_each_of_its_devices_offline(hall):
    # ESPHome's will on <topic_prefix>/status (esphome/components/mqtt/__init__.py).
    events = heard(hall, "esp-w01/status", b"offline")
    assert {(e.device, e.online) for e in events} == {("esp-rc522", False), ("ld2410", False)}
    assert all(e.at == RECEIVED for e in events)


def test_esphome_subscriptions_name_only_what_is_registered(hall):
    topics = esphome.subscriptions(hall)
    assert "esp-w01/status" in topics and "esp-w01/binary_sensor/presence/state" in topics
    assert "esp-door/sensor/card/state" in topics and "esp-door/text_sensor/card/state" in topics
    assert not any("binary_sensor/tag" in t for t in topics)


def test_an_unregistered_entity_of_a_known_node_is_kept_with_its_reason(hall):
    result = heard(hall, "esp-w01/binary_sensor/moving_target/state", b"ON")
    assert isinstance(result, Rejection) and "'moving_target'" in result.reason
