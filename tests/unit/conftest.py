"""Fixtures shared by several unit test modules: the halls of the device and field payload tests."""

from __future__ import annotations

import pytest

from hallwatch.registry.spec import Registry
from tests.unit.device_payloads import payload_hall
from tests.unit.field_hall import field_hall


@pytest.fixture
def registry() -> Registry:
    """A small hall in Asia/Shanghai with one device of every payload form."""
    return payload_hall()


@pytest.fixture
def hall() -> Registry:
    """The field payload tests' hall: its devices are named as public reports name theirs."""
    return field_hall()
