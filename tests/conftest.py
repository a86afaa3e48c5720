"""Shared fixtures: real Mosquitto and InfluxDB on free loopback ports, never mocks.

`mosquitto` and `influxd` are started once per session and shared; do not pause, stop or
restart them. A test that injects faults starts its own with `start_service`.

The web fixtures, in the spirit of Flask's tutorial: `app` (the web app of the test's
`deployment`: tests/integration/conftest.py's, or the module's own), `client` (a browser
of it) and `login` (signs a browser in through the login form). A module whose app differs
defines its own `app` from `app_for(deployment)`, and `client` and `login` follow it. Not as
`def app(app)`: pytest does not follow an overridden fixture's own dependencies, so a
`database_url` parametrized indirectly (BACKENDS) would not reach the test.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from console.services import Influxd, Mosquitto, ensure_binaries
from tests.helpers import InfluxDB, influx_admin, start_collector
from tests.web_helpers import app_for, form_login, password_of

INTEGRATION_DIR = Path(__file__).parent / "integration"
FAULTS_DIR = Path(__file__).parent / "faults"  # fault injection on real processes
SECURITY_DIR = Path(__file__).parent / "security"  # attacks on the web, on real services


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything under tests/integration/, faults/ and security/ is marked `integration`."""
    for item in items:
        parents = Path(item.path).parents
        if INTEGRATION_DIR in parents or FAULTS_DIR in parents or SECURITY_DIR in parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _spool_outside_the_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Collectors started by a test spool (and write their status) in its own temporary dir."""
    monkeypatch.setenv("HALLWATCH_SPOOL_DIR", str(tmp_path / "spool"))


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A Mosquitto broker shared by the session (anonymous, persistent, large queues)."""
    ensure_binaries(Mosquitto.binary)
    with Mosquitto(tmp_path_factory.mktemp("mosquitto")) as broker:
        yield broker


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influxd]:
    """An InfluxDB 1.x server shared by the session (no auth)."""
    ensure_binaries(Influxd.binary)
    with Influxd(tmp_path_factory.mktemp("influxd")) as server:
        yield server


@pytest.fixture
def influx_db(influxd: Influxd) -> Iterator[InfluxDB]:
    """A fresh database on the shared influxd, dropped after the test."""
    db = InfluxDB(influxd.url, f"hw_test_{uuid.uuid4().hex[:8]}")
    influx_admin(db.url, f'CREATE DATABASE "{db.db}"')
    yield db
    if influxd.running and not influxd.paused:
        influx_admin(db.url, f'DROP DATABASE "{db.db}"')


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., Mosquitto | Influxd]]:
    """Start a private Mosquitto or Influxd for one test (free for faults); stopped after it.

    Usage: `broker = start_service(Mosquitto, extra_conf="max_queued_messages 50")`.
    """
    started: list[Mosquitto | Influxd] = []

    def start(kind: type[Mosquitto] | type[Influxd], **kwargs) -> Mosquitto | Influxd:
        ensure_binaries(kind.binary)
        service = kind(tmp_path / f"{kind.binary}-{len(started)}", **kwargs)
        started.append(service)
        service.start()
        return service

    yield start
    for service in reversed(started):
        service.stop()


PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"  # plain, as HALLWATCH_DATABASE_URL takes it


def _postgres_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own for one test: a fresh SQLite file, or a fresh PostgreSQL schema."""
    yield from database_url_for(request.param, tmp_path)


def database_url_for(backend: str, tmp_path: Path) -> Iterator[str]:
    """Yield a fresh SQLite file URL or a plain postgresql:// URL to a schema of its own."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'not-yet' / 'there' / 'hallwatch.sqlite3'}"
        return
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 (database test): {exc}")
    schema = f"hw_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield _postgres_url(schema)
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def collector_process(deployment: dict, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """`hallwatch collector` as a real process in the test module's `deployment`, subscribed."""
    process = start_collector(deployment, tmp_path / "collector.log")
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture
def app(deployment: dict) -> Flask:
    """The web app of the test's `deployment` (CSRF on, as in production)."""
    return app_for(deployment)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser of `app`: it keeps its cookies from one request to the next."""
    return app.test_client()


@pytest.fixture
def login(client: FlaskClient) -> Callable[..., FlaskClient]:
    """Sign a browser in as a user of the test hall, through the login form and its CSRF token.

    `login("boss")` signs `client` in with the test password (`pw-boss`, password_of);
    `login("eye", "pw-eye-123", client=other)` another password or another browser.
    It returns the browser, signed in.
    """

    def sign_in_as(
        who: str, password: str | None = None, *, client: FlaskClient = client
    ) -> FlaskClient:
        form_login(client, who, password_of(who) if password is None else password)
        return client

    return sign_in_as
