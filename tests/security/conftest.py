"""One hostile hall shared by the security suite (built once: it takes a few seconds)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.hostile_hall import HostileHall, hostile_hall


@pytest.fixture(scope="package")
def hall(tmp_path_factory, mosquitto, influxd) -> Iterator[HostileHall]:
    with hostile_hall(tmp_path_factory.mktemp("security"), mosquitto, influxd) as built:
        yield built
