"""The notification tests' servers and hall: a real SMTP server, a local HTTP server playing
DingTalk, WeCom and a webhook, and helpers opening and announcing alerts in a database
holding tests.unit.hall's hall (fixtures `smtp`, `robots`, `sessions`: conftest.py)."""

from __future__ import annotations

import base64
import hmac
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.messages import describe, episode_of
from alerts.notify import on_opened
from hallwatch.config import Settings
from hallwatch.registry.alerting import AlertRow, OutboxRow
from hallwatch.registry.models import UserRow
from tests.unit.hall import at, hall

REGISTRY = hall()


DING_TOKEN = "tok123"


DING_SECRET = "SEC0123456789abcdef"


SMTP_LOGIN = ("hall", "p@ss")


SETTINGS = Settings(
    base_url="http://hall.example:8080", renotify_minutes=30, escalate_after_minutes=15
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list = []
        self.logins: list[bytes | None] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        self.logins.append(getattr(session.auth_data, "login", None))
        return "250 Message accepted for delivery"


def check_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        )
        == SMTP_LOGIN
    )
    # handled=False: aiosmtpd answers 535 itself on failure
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@dataclass
class SmtpServer:
    port: int
    inbox: Inbox = field(default_factory=Inbox)
    controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://hall:p%40ss@127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller = Controller(
            self.inbox,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=check_login,
            auth_require_tls=False,  # loopback only
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@dataclass
class Hit:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict


class Robots:
    """What the local HTTP server received, and what it answers next, per path."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.answers: dict[str, list[tuple[int, dict]]] = {}

    def answer(self, path: str) -> tuple[int, dict]:
        with self.lock:
            queued = self.answers.get(path)
            if queued:
                return queued.pop(0)
        return 200, {"errcode": 0, "errmsg": "ok"}

    def on(self, path: str) -> list[Hit]:
        with self.lock:
            return [hit for hit in self.hits if hit.path == path]


def dingtalk_answer(query: dict[str, list[str]]) -> tuple[int, dict]:
    """Check the signature as DingTalk would: HMAC-SHA256 of "timestamp\\nsecret", base64."""
    if query.get("access_token") != [DING_TOKEN]:
        return 200, {"errcode": 300001, "errmsg": "token is not exist"}
    timestamp = query.get("timestamp", [""])[0]
    expected = base64.b64encode(
        hmac.new(DING_SECRET.encode(), f"{timestamp}\n{DING_SECRET}".encode(), "sha256").digest()
    ).decode()
    fresh = (
        timestamp.isdigit() and abs(int(timestamp) / 1000 - datetime.now(UTC).timestamp()) < 3600
    )
    if not fresh or query.get("sign") != [expected]:
        return 200, {"errcode": 310000, "errmsg": "sign not match"}
    return 200, {"errcode": 0, "errmsg": "ok"}


def users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.id)))


def open_alert(session: Session, kind: str = "empty_window", **fields) -> AlertRow:
    values = {
        "key": f"{kind}:{fields.get('window_id', 'W01')}:{fields.get('opened_at', at('10:12'))}",
        "kind": kind,
        "window_id": "W01",
        "department_id": "civil",
        "since": at("10:02"),
        "opened_at": at("10:12"),
        "created_at": at("10:12"),
        **fields,
    }
    alert = AlertRow(**values)
    alert.message = describe(episode_of(alert), REGISTRY)
    session.add(alert)
    session.flush()
    return alert


def outbox(sessions: sessionmaker[Session]) -> list[OutboxRow]:
    with sessions() as session:
        return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def keys_with(sessions: sessionmaker[Session], reason: str) -> list[str]:
    return [row.dedupe_key for row in outbox(sessions) if f":{reason}:" in row.dedupe_key]


def announce(sessions, kind: str = "empty_window", now: datetime | None = None, **fields) -> int:
    """Open an alert and notify its recipients; return the alert's id."""
    with sessions() as session, session.begin():
        alert = open_alert(session, kind, **fields)
        on_opened(session, alert, REGISTRY, users(session), SETTINGS, now or alert.opened_at)
        return alert.id
