"""The small hall the provisioning tests give MQTT and InfluxDB accounts to."""

from __future__ import annotations

from hallwatch.registry.parse import parse_registry

HALL = parse_registry("""
hall: {name: H, timezone: Asia/Shanghai, hours: [["09:00", "17:00"]], holidays: none}
departments: [{id: civil, name: C}]
windows: [{id: W01, name: W, department: civil}]
devices:
  - {id: desk-w01-card, kind: badge_reader, window: W01, tasmota: card_w01}
  - {id: desk-w01-seat, kind: presence_sensor, window: W01, zigbee2mqtt: seat_w01}
  - {id: office-civil, kind: badge_reader, department: civil}
""")
