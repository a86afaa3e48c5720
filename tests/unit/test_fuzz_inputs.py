"""Fuzzing what comes from outside: device payloads, registry files, line-protocol values.

Hypothesis draws the inputs; each property is what the module promises for *any* input:
`devices.convert` returns an event, a Rejection or None and never raises;
`parse_registry` returns a Registry or raises RegistryError naming what is wrong;
a point either encodes to one line that InfluxDB's grammar splits back into exactly
its tags and fields, or is refused with LineProtocolError.
"""

from __future__ import annotations

import json
import re
from copy import deepcopy
from datetime import UTC, datetime

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices import convert
from hallwatch.events import BadgeRead, DeviceStatus, Heartbeat, PresenceReport, Rejection
from hallwatch.influx.eventstore import EVENTS, event_point
from hallwatch.influx.lineprotocol import LineProtocolError, Point
from hallwatch.registry.file import RegistryError
from hallwatch.registry.parse import parse_registry
from tests.halls import HALL_YAML
from tests.unit.hall import hall

BOUNDED = settings(
    max_examples=300,
    deadline=None,
    database=None,  # no .hypothesis/ in the tree
    suppress_health_check=[HealthCheck.too_slow],
)
REGISTRY = hall()
RECEIVED = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
EVENT_TYPES = (BadgeRead, PresenceReport, Heartbeat, DeviceStatus)

# Topic shapes of every payload family, with real and made-up names in them.
NAMES = st.one_of(
    st.sampled_from(
        [d.id for d in REGISTRY.devices]
        + [d.zigbee2mqtt for d in REGISTRY.devices if d.zigbee2mqtt]
        + [d.tasmota for d in REGISTRY.devices if d.tasmota]
        + ["", "+", "#", "..", "bridge", "a/b", "\x00", "名字"]
    ),
    st.text(max_size=20),
)
TOPICS = st.one_of(
    st.builds("hallwatch/devices/{}/{}".format, NAMES, st.sampled_from(["events", "status", "x"])),
    st.builds("zigbee2mqtt/{}".format, NAMES),
    st.builds("zigbee2mqtt/{}/availability".format, NAMES),
    st.builds("zigbee2mqtt/bridge/{}".format, NAMES),
    st.builds(
        "tele/{}/{}".format, NAMES, st.sampled_from(["SENSOR", "RESULT", "STATE", "LWT", "x"])
    ),
    st.text(max_size=60),
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["04A1B2C3", "in", "out", "online", "offline", "2026-11-23T09:00:00"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(
                st.sampled_from(
                    [
                        "type",
                        "uid",
                        "action",
                        "occupied",
                        "presence",
                        "ts",
                        "Time",
                        "RC522",
                        "PN532",
                        "Wiegand",
                        "UID",
                        "Data",
                        "battery",
                        "state",
                        "last_seen",
                    ]
                ),
                st.text(max_size=10),
            ),
            inner,
            max_size=6,
        ),
    ),
    max_leaves=12,
)
PAYLOADS = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"online", b"OFFLINE", b"", b"NaN", b"1e999", b"[" * 5000, b'{"a":' * 3000]),
)


@BOUNDED
@given(topic=TOPICS, payload=PAYLOADS)
def test_convert_never_raises_on_any_message(topic, payload):
    result = convert(topic, payload, RECEIVED, REGISTRY)
    assert result is None or isinstance(result, (*EVENT_TYPES, Rejection))
    if isinstance(result, Rejection):
        assert result.reason and result.payload == payload
    elif result is not None:
        assert result.device in REGISTRY.device_by_id  # only registered devices reach a tag
        event_point(result).to_line()  # and every event it makes can be written


# --- the registry file --------------------------------------------------------------------

# BaseLoader: every scalar a string, as the registry parser reads plain scalars.
TEMPLATE = yaml.load(HALL_YAML.format(today="2026-11-23"), Loader=yaml.BaseLoader)
ANY_YAML_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12), st.floats()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


# Every problem says where: a section (and entry and key), the top level, or the YAML line.
NAMED = re.compile(rf"(top level|YAML syntax error|the file is empty|({'|'.join(TEMPLATE)})\b)")


def _mutated(data: dict, section: str, key: str | None, value) -> dict:
    """The template with one section, or one key of its first entry, replaced by `value`."""
    copy = deepcopy(data)
    if key is None or not isinstance(copy.get(section), list) or not copy[section]:
        copy[section] = value
    else:
        copy[section][0][key] = value
    return copy


def _parsed_or_named(text: str) -> None:
    try:
        parse_registry(text)
    except RegistryError as exc:
        assert exc.problems and all(NAMED.match(p) for p in exc.problems), exc.problems


@BOUNDED
@given(text=st.text(max_size=300))
def test_any_text_is_a_registry_or_a_registry_error(text):
    _parsed_or_named(text)


@BOUNDED
@given(
    section=st.sampled_from([*TEMPLATE, "extra"]),
    key=st.one_of(
        st.none(),
        st.sampled_from(
            [
                "id",
                "name",
                "department",
                "window",
                "position",
                "badges",
                "kind",
                "days",
                "staff",
                "from",
                "until",
                "hours",
                "zigbee2mqtt",
                "tasmota",
            ]
        ),
    ),
    value=ANY_YAML_VALUE,
)
def test_a_registry_with_any_entry_broken_names_it(section, key, value):
    data = _mutated(TEMPLATE, section, key, value)
    try:
        text = yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:
        return
    try:
        parse_registry(text)
    except RegistryError as exc:
        assert exc.problems
        assert all(NAMED.match(p) for p in exc.problems), exc.problems


def test_the_unbroken_template_parses():
    assert parse_registry(yaml.safe_dump(TEMPLATE, allow_unicode=True)).windows


# --- line protocol ------------------------------------------------------------------------

# InfluxDB 1.x's grammar: unescaped ',' ' ' '=' split; a backslash escapes the next byte.
_TOKEN = re.compile(r"(?:\\.|[^\\,= ])*", re.S)


def _split(text: str, sep: str) -> list[str]:
    """Split on `sep` where it is not escaped (the way the server reads a line)."""
    parts, current, i = [], "", 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current += text[i : i + 2]
            i += 2
            continue
        if ch == sep:
            parts.append(current)
            current = ""
        else:
            current += ch
        i += 1
    return [*parts, current]


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text, flags=re.S)


def _fields(body: str) -> list[str]:
    """Field keys of a field set, honouring quoted string values."""
    keys, i = [], 0
    while i < len(body):
        j = i
        while body[j] != "=" or body[j - 1] == "\\" and body[j - 2] != "\\":
            j += 1
        keys.append(_unescape(body[i:j]))
        j += 1
        if body[j] == '"':
            j += 1
            while body[j] != '"':
                j += 2 if body[j] == "\\" else 1
            j += 1
        else:
            while j < len(body) and body[j] != ",":
                j += 1
        i = j + 1
    return keys


TEXT = st.text(max_size=16)
FIELD_VALUES = st.one_of(
    st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(), TEXT
)


@BOUNDED
@given(
    tags=st.dictionaries(TEXT.filter(bool), TEXT, max_size=4),
    fields=st.dictionaries(TEXT.filter(bool), FIELD_VALUES, max_size=4),
)
def test_a_point_is_one_line_with_exactly_its_tags_and_fields_or_refused(tags, fields):
    point = Point(EVENTS, tags, fields, 1_763_859_600_000_000_000)
    try:
        line = point.to_line()
    except LineProtocolError:
        texts = [*tags, *tags.values(), *fields]
        assert (
            not fields
            or any("\n" in t or "\r" in t or "\\" in t for t in texts)
            or any(
                isinstance(v, float) and v != v or v in (float("inf"), -float("inf"))
                for v in fields.values()
            )
        )
        return
    assert "\n" not in line and "\r" not in line
    head, body, stamp = (
        _split(line, " ")[0],
        " ".join(_split(line, " ")[1:-1]),
        line.rsplit(" ")[-1],
    )
    assert stamp == "1763859600000000000"
    measurement, *pairs = _split(head, ",")
    assert measurement == EVENTS
    read_tags = {}
    for pair in pairs:
        key, value = _split(pair, "=")  # exactly one unescaped '=' per tag
        read_tags[_unescape(key)] = _unescape(value)
    assert read_tags == {k: v for k, v in tags.items() if v != ""}
    assert _fields(body) == list(fields)
