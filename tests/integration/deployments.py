"""A read-only deployment for report tests: a registry, users and a stored day, on real services."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from hallwatch.registry.importing import import_file
from hallwatch.registry.users import add_user
from tests.helpers import InfluxDB, deployment_env, influx_admin
from tests.web_helpers import app_for


@contextmanager
def hall_deployment(
    influx_url: str,
    home: Path,
    hall_yaml: str,
    users: Iterable[tuple],
    lines: list[str],
    database_url: str | None = None,
) -> Iterator[tuple[dict, Flask]]:
    """(env, app) of a hall imported from `hall_yaml`, with `users` (name, role, password,
    department) and the line-protocol `lines` stored in a new InfluxDB database, dropped after.
    The registry database is a SQLite file in `home` unless `database_url` is given."""
    influx = InfluxDB(influx_url, f"hw_test_{uuid.uuid4().hex[:8]}")
    influx_admin(influx.url, f'CREATE DATABASE "{influx.db}"')
    database_url = database_url or f"sqlite:///{home / 'hallwatch.sqlite3'}"
    env = deployment_env(database_url, "mqtt://127.0.0.1:1883", influx)
    app = app_for(env)
    runtime = app.extensions["hallwatch"]
    hall_file = home / "hall.yaml"
    hall_file.write_text(hall_yaml, encoding="utf-8")
    import_file(runtime.sessions, hall_file)
    with runtime.sessions() as db:
        for name, role, password, department in users:
            add_user(db, name, role, password, department)
        db.commit()
    runtime.influx.write(lines)
    try:
        yield env, app
    finally:
        influx_admin(influx.url, f'DROP DATABASE "{influx.db}"')
