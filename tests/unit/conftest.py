"""Fixtures shared by several unit test modules: the halls of the device and field payload
tests, and an empty HallWatch database on each backend (`databases`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from hallwatch.registry.spec import Registry
from tests.conftest import database_url_for
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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def databases(request, tmp_path) -> Iterator[sessionmaker[Session]]:
    """Sessions of an empty database with HallWatch's tables: SQLite, then PostgreSQL."""
    for url in database_url_for(request.param, tmp_path):
        engine = make_engine(url)
        create_schema(engine)
        try:
            yield make_session_factory(engine)
        finally:
            engine.dispose()
