"""Converters for single registry values: raw YAML value → typed value, or `Invalid` saying why."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hallwatch.cards import CardError, canonical
from hallwatch.registry.spec import WEEKDAYS, Period

MAX_TEXT_LEN = 200
# Unicode categories refused anywhere in a registry's text: controls (line breaks and tabs
# among them) and the line and paragraph separators. A name is shown on pages and written
# into generated files (broker ACLs): nothing in it may start a new line.
REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
CARD_FORMS = (
    "a card as its UID in hex (04A1B2C3) or as dec: and its printed number (dec:0009357203)"
)
FLAGS = {"true": True, "yes": True, "false": False, "no": False}

ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
TIME_RE = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NUMBER_RE = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


class Invalid(Exception):
    """A value that cannot be used; the message says why."""


def show(value: Any) -> str:
    """A value as the problem message quotes it."""
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"'{value}'"


def text(value: Any) -> str:
    """Non-empty text of at most MAX_TEXT_LEN characters, stripped, without control characters."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"must be non-empty text, got {show(value)}")
    if len(value) > MAX_TEXT_LEN:
        raise Invalid(f"is longer than {MAX_TEXT_LEN} characters")
    for position, ch in enumerate(value, 1):
        if unicodedata.category(ch) in REFUSED_CATEGORIES:
            raise Invalid(
                f"contains a control character (U+{ord(ch):04X} at character {position}); "
                "names and reasons must be one line of text"
            )
    return value.strip()


def flag(value: Any) -> bool:
    """true or false (yes and no are taken too)."""
    if isinstance(value, bool):
        return value
    word = value.strip().lower() if isinstance(value, str) else None
    if word not in FLAGS:
        raise Invalid(f"{show(value)} is not true or false")
    return FLAGS[word]


def ident(value: Any) -> str:
    """An id: 1 to 64 of A-Z a-z 0-9 _ -."""
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise Invalid(f"{show(value)} is not an id (1 to 64 of A-Z a-z 0-9 _ -)")
    return value


def choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    """A converter accepting only one of `options`."""

    def convert(value: Any) -> str:
        if value not in options:
            raise Invalid(f"{show(value)} is not one of {', '.join(options)}")
        return value

    return convert


def timezone(value: Any) -> str:
    """The name of a known time zone."""
    name = text(value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise Invalid(f"'{name}' is not a known time zone such as Asia/Shanghai") from exc
    return name


def _clock(value: Any) -> time:
    match = TIME_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match:
        raise Invalid(f"{show(value)} is not a time HH:MM")
    return time(int(match[1]), int(match[2]))


def periods(value: Any) -> tuple[Period, ...]:
    """A non-empty list of non-overlapping [start, end] HH:MM pairs, sorted."""
    if not isinstance(value, list) or not value:
        raise Invalid('must be a non-empty list of [start, end] pairs, e.g. [["09:00", "12:00"]]')
    periods = []
    for pair in value:
        if not isinstance(pair, list) or len(pair) != 2:
            raise Invalid(f"each period must be a pair [start, end], got {show(pair)}")
        start, end = _clock(pair[0]), _clock(pair[1])
        if start >= end:
            raise Invalid(f"period {start:%H:%M}-{end:%H:%M} does not end after it starts")
        periods.append((start, end))
    periods.sort()
    for (s1, e1), (s2, e2) in zip(periods, periods[1:], strict=False):
        if s2 < e1:
            raise Invalid(f"periods {s1:%H:%M}-{e1:%H:%M} and {s2:%H:%M}-{e2:%H:%M} overlap")
    return tuple(periods)


def period_texts(periods: tuple[Period, ...]) -> list[list[str]]:
    """Periods as a registry file writes them: [["09:00", "12:00"], …] (`periods` reads them)."""
    return [[f"{start:%H:%M}", f"{end:%H:%M}"] for start, end in periods]


def iso_date(value: Any) -> date:
    """A date YYYY-MM-DD."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and DATE_RE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise Invalid(f"{show(value)} is not a date YYYY-MM-DD")


def dates(value: Any) -> frozenset[date]:
    """A list of dates YYYY-MM-DD, as a set."""
    if not isinstance(value, list):
        raise Invalid(f"must be a list of dates YYYY-MM-DD, got {show(value)}")
    return frozenset(iso_date(item) for item in value)


def minutes(value: Any) -> float:
    """A non-negative number of minutes."""
    if isinstance(value, str) and NUMBER_RE.fullmatch(value.strip()):
        minutes = float(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        minutes = float(value)
    else:
        raise Invalid(f"{show(value)} is not a number of minutes")
    if not math.isfinite(minutes):
        raise Invalid(f"{show(value)[:40]} is not a finite number of minutes")
    if minutes < 0:
        raise Invalid(f"{show(value)} is negative")
    return minutes


def position(value: Any) -> tuple[int, int]:
    """[row, column] of positive whole numbers."""
    if isinstance(value, list) and len(value) == 2:
        cells = [str(v).strip() for v in value if isinstance(v, str | int)]
        if len(cells) == 2 and all(c.isascii() and c.isdigit() and int(c) > 0 for c in cells):
            return int(cells[0]), int(cells[1])
    shown = "[" + ", ".join(map(str, value)) + "]" if isinstance(value, list) else show(value)
    raise Invalid(f"must be [row, column] of positive whole numbers, got {shown}")


def days(value: Any) -> frozenset[str]:
    """A non-empty list of weekdays (mon … sun), as a set."""
    if not isinstance(value, list) or not value:
        raise Invalid(f"must be a non-empty list of days ({', '.join(WEEKDAYS)})")
    days = set()
    for item in value:
        day = item.strip().lower() if isinstance(item, str) else item
        if day not in WEEKDAYS:
            raise Invalid(f"{show(item)} is not a day ({', '.join(WEEKDAYS)})")
        days.add(day)
    return frozenset(days)


def card(value: Any) -> str:
    """A card as its UID in hex, or its printed decimal number after `dec:`; canonical hex."""
    if not isinstance(value, str):
        raise Invalid(f"{show(value)} is not text; write {CARD_FORMS}")
    try:
        return canonical(value)
    except CardError as exc:
        raise Invalid(f"{show(value)} {exc}; write {CARD_FORMS}") from None


def badges(value: Any) -> tuple[str, ...]:
    """A list of cards (see `card`), canonical, each once in order."""
    if not isinstance(value, list):
        raise Invalid(f"must be a list of card numbers, got {show(value)}")
    return tuple(dict.fromkeys(card(item) for item in value))


# A topic level a firmware setting names (Tasmota Topic, a Zigbee2MQTT base topic, an ESPHome
# topic prefix): letters, digits, `_ - .`, as the firmwares' own examples and defaults use.
# Never whitespace, wildcards or `$`: these levels are written into the broker's ACL file.
LEVEL_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
LEVEL_CHARS = "A-Z a-z 0-9 _ - ."
# A Zigbee2MQTT friendly name is a person's label ("1F/W01 seat", "2楼/座位 1"): any letter,
# digit, mark, punctuation or symbol, and single inner spaces; never a control or format
# character, another kind of space, or a wildcard.
FRIENDLY_REFUSED = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp", "Zs"})


def topic_name(allow_slash: bool) -> Callable[[Any], str]:
    """A converter for a name used in MQTT topics: no wildcards, no `/` unless allowed."""
    forbidden = "+#" if allow_slash else "+#/"

    def convert(value: Any) -> str:
        name = text(value)
        if any(ch in name for ch in forbidden):
            raise Invalid(f"'{name}' cannot be part of an MQTT topic (no {' '.join(forbidden)})")
        return name

    return convert


def _levels(name: str) -> list[str]:
    levels = name.split("/")
    if any(not level for level in levels):
        raise Invalid(f"'{name}' has an empty topic level (a leading, trailing or double /)")
    return levels


def _safe_levels(name: str, levels: list[str]) -> None:
    for level in levels:
        if not LEVEL_RE.fullmatch(level):
            raise Invalid(
                f"'{name}': the topic level '{level}' must be 1 to 64 of {LEVEL_CHARS} "
                "(no spaces, wildcards or $)"
            )


def tasmota_topic(value: Any) -> str:
    """A Tasmota Topic (one topic level): `civil_door`, `tasmota_8A3F21`."""
    name = topic_name(allow_slash=False)(value)
    _safe_levels(name, [name])
    return name


def zigbee2mqtt_name(value: Any) -> str:
    """A Zigbee2MQTT friendly name, `/` allowed between non-empty levels."""
    name = topic_name(allow_slash=True)(value)
    for position, ch in enumerate(name, 1):
        if unicodedata.category(ch) in FRIENDLY_REFUSED and ch != " ":
            raise Invalid(
                f"'{name}' holds U+{ord(ch):04X} at character {position}; a friendly name "
                "takes letters, digits, punctuation and single spaces"
            )
    for level in _levels(name):
        if level != level.strip() or "  " in level:
            raise Invalid(f"'{name}': a space may only stand alone between words")
    return name


def topic_levels(value: Any) -> str:
    """A topic of one or more levels ("zigbee2mqtt", "hall1/zigbee2mqtt"): no wildcards,
    no empty level, not starting with `$` (the broker's own topics), each level of
    LEVEL_CHARS."""
    name = topic_name(allow_slash=True)(value)
    levels = _levels(name)
    if name.startswith("$"):
        raise Invalid(f"'{name}' starts with $, which MQTT keeps for the broker")
    _safe_levels(name, levels)
    return name


TASMOTA_TOKENS = ("%prefix%", "%topic%", "%hostname%", "%id%")
_TOKEN = re.compile(r"%[a-z]*%")


def tasmota_full_topic(value: Any) -> str:
    """A Tasmota FullTopic such as `hall1/%prefix%/%topic%/`: %prefix% and %topic% once each."""
    name = topic_name(allow_slash=True)(value)
    unknown = [t for t in _TOKEN.findall(name) if t not in TASMOTA_TOKENS]
    if unknown:
        raise Invalid(f"'{name}': {unknown[0]} is not one of {', '.join(TASMOTA_TOKENS)}")
    for token in TASMOTA_TOKENS[:2]:
        if name.count(token) != 1:
            raise Invalid(f"'{name}' must hold {token} exactly once")
    levels = name.rstrip("/").split("/")
    if any(not level for level in levels):
        raise Invalid(f"'{name}' has an empty topic level (a double /)")
    if any(token in level and level != token for level in levels for token in TASMOTA_TOKENS):
        raise Invalid(f"'{name}': each % token must be a whole topic level")
    _safe_levels(name, [level for level in levels if level not in TASMOTA_TOKENS])
    return name if name.endswith("/") else name + "/"


def esphome_entity(value: Any) -> str:
    """`<node>/<object_id>`: the node's MQTT topic prefix and the entity's object id."""
    name = topic_name(allow_slash=True)(value)
    levels = _levels(name)
    if name.startswith("$"):
        raise Invalid(f"'{name}' starts with $, which MQTT keeps for the broker")
    if len(levels) < 2:
        raise Invalid(f"'{name}' must be <node>/<object_id>, e.g. esp-w01/seat_presence")
    if not ID_RE.fullmatch(levels[-1]):
        raise Invalid(f"'{name}': the object id '{levels[-1]}' is not A-Z a-z 0-9 _ -")
    for level in levels[:-1]:
        if not ID_RE.fullmatch(level):
            raise Invalid(f"'{name}': the node's topic level '{level}' is not A-Z a-z 0-9 _ -")
    return name


def positive_minutes(value: Any) -> float:
    """A number of minutes above zero."""
    number = minutes(value)
    if number <= 0:
        raise Invalid(f"{show(value)} must be more than 0 minutes")
    return number


def instant(tz: tzinfo, end_of_day: bool) -> Callable[[Any], datetime]:
    """A date-time; without an offset it is hall time; a bare date is that day's start (or end)."""

    def convert(value: Any) -> datetime:
        if not isinstance(value, str):
            raise Invalid(f"{show(value)} is not a date-time such as 2026-11-23T09:00")
        if DATE_RE.fullmatch(value.strip()):
            day = iso_date(value) + timedelta(days=1 if end_of_day else 0)
            return datetime.combine(day, time(0), tzinfo=tz)
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise Invalid(f"'{value}' is not a date-time such as 2026-11-23T09:00") from exc
        return moment if moment.tzinfo else moment.replace(tzinfo=tz)

    return convert
