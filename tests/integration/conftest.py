"""Fixtures the integration modules share: the test deployment of HALL_YAML (`database_url`,
`deployment`; `collector_process` is the top conftest's) and the notification servers and
database (`smtp`, `robots`, `sessions`). All are per test, as they were in test_pipeline and
test_notifications; a module defining a fixture of the same name (test_multi_hall) uses its own.
The web fixtures on the deployment (`app`, `client`, `login`) are the top conftest's, shared
with tests/security."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy.orm import Session, sessionmaker

from hallwatch.registry.apply import apply_registry
from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from hallwatch.registry.models import UserRow
from tests.conftest import database_url_for
from tests.halls import HALL_TZ, HALL_YAML
from tests.helpers import deployment_env, hallwatch
from tests.integration.notify_servers import (
    REGISTRY,
    Hit,
    Robots,
    SmtpServer,
    dingtalk_answer,
    free_port,
)
from tests.unit.hall import at


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (not started: tests start it, or leave it down)."""
    server = SmtpServer(free_port())
    yield server
    server.stop()


@pytest.fixture
def robots() -> Iterator[tuple[str, Robots]]:
    """A local HTTP server playing DingTalk (/robot/send), WeCom and a generic webhook."""
    state = Robots()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.hits.append(Hit(parts.path, query, dict(self.headers), body))
            if parts.path == "/robot/send" and parts.path not in state.answers:
                status, answer = dingtalk_answer(query)
            else:
                status, answer = state.answer(parts.path)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's name)
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A database holding the test hall and one user of each role."""
    engine = make_engine(database_url)
    create_schema(engine)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        apply_registry(session, REGISTRY, at("08:00"))
        for name, role, department in (
            ("wang", "hall_manager", None),
            ("li", "dept_head", "civil"),
            ("zhao", "dept_head", "tax"),
            ("root", "admin", None),
            ("jian", "inspector", None),
        ):
            # Straight rows: password hashing (scrypt) would only slow these tests down.
            session.add(
                UserRow(
                    username=name,
                    role=role,
                    department_id=department,
                    password_hash="-",
                    created_at=at("08:00"),
                    updated_at=at("08:00"),
                )
            )
    yield factory
    engine.dispose()


@pytest.fixture
def database_url(request, tmp_path: Path):
    """SQLite by default; the tests marked BACKENDS run on PostgreSQL as well."""
    yield from database_url_for(getattr(request, "param", "sqlite"), tmp_path)


@pytest.fixture
def deployment(tmp_path: Path, mosquitto, influx_db, database_url):
    """A registry imported with the CLI, users, and the environment the processes share."""
    env = deployment_env(database_url, mosquitto.url, influx_db)
    hall_file = tmp_path / "hall.yaml"
    today = datetime.now(HALL_TZ).date()
    hall_file.write_text(HALL_YAML.format(today=today), encoding="utf-8")
    hallwatch("import", str(hall_file), env=env)
    hallwatch("user", "add", "boss", "--role", "hall_manager", "--password", "pw-boss", env=env)
    hallwatch(
        "user",
        "add",
        "tax",
        "--role",
        "dept_head",
        "--department",
        "tax",
        "--password",
        "pw-tax",
        env=env,
    )
    return env
