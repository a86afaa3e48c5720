"""Line protocol encoding: the only place that escapes values for InfluxDB writes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

FieldValue = bool | int | float | str


class LineProtocolError(ValueError):
    """A point that cannot be written (no fields, a newline or backslash in a tag or key,
    a non-finite number)."""


@lru_cache(maxsize=65_536)  # device ids, tag and field names: a few thousand, over and over
def _escape_key(text: str) -> str:
    """Escape a measurement, tag key, tag value or field key.

    InfluxDB 1.x reads `\\` there as two backslashes and a trailing one as escaping
    the separator after it (the line is then refused whole), so a backslash can never
    round-trip: it is refused, like a newline. Ids and card UIDs never hold one.
    """
    if "\n" in text or "\r" in text:
        raise LineProtocolError(f"newline in tag or field key {text!r}")
    if "\\" in text:
        raise LineProtocolError(f"backslash in tag or field key {text!r}")
    return text.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _escape_measurement(text: str) -> str:
    return _escape_key(text).replace("\\=", "=")


def _field_value(value: FieldValue) -> str:
    if type(value) is str:  # the most common field, so checked first
        return _string_value(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise LineProtocolError(f"non-finite number {value!r}")
        return repr(value)
    return _string_value(value)


def _string_value(text: str) -> str:
    # Newlines in string fields are legal in quoted strings for 1.x but not portable: escape.
    if '"' in text or "\\" in text or "\n" in text or "\r" in text:
        text = (
            text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
        )
    return f'"{text}"'


@lru_cache(maxsize=16_384)  # a series per device and type (and card, for badge reads)
def _series(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    """The measurement and its tags, escaped, sorted by key; empty values are left out
    (InfluxDB rejects them, and an absent tag reads back as "")."""
    head = _escape_measurement(measurement)
    for key, value in sorted(tags):
        if value != "":
            head += f",{_escape_key(key)}={_escape_key(value)}"
    return head


@dataclass(frozen=True, slots=True)
class Point:
    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ns: int

    def to_line(self) -> str:
        """One line of line protocol with an explicit nanosecond timestamp."""
        if not self.fields:
            raise LineProtocolError(f"point in {self.measurement!r} has no fields")
        head = _series(self.measurement, tuple(self.tags.items()))
        body = ",".join([f"{_escape_key(k)}={_field_value(v)}" for k, v in self.fields.items()])
        return f"{head} {body} {self.time_ns}"
