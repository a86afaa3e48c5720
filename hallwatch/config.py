"""Settings from the environment (and an optional `.env`), validated once at start-up."""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from dotenv import load_dotenv

VAR_DIR = Path("var")
DEFAULT_DATABASE_URL = "sqlite:///var/hallwatch.sqlite3"
DEFAULT_BASE_URL = "http://127.0.0.1:8080"
DEFAULT_MAIL_FROM = "hallwatch@localhost"
DEFAULT_RENOTIFY_MINUTES = 30.0  # an unacknowledged alert is re-notified at most this often
DEFAULT_ESCALATE_MINUTES = 15.0  # empty_window/pulled_back unacknowledged this long go to admins
SMTP_PORT = 25
SMTP_SUBMISSION_PORT = 587  # the usual port when STARTTLS is asked for
SMTPS_PORT = 465
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")
SECRET_KEY_BYTES = 32
MAX_TRUSTED_PROXIES = 5  # more hops than any hall's set-up; a typo like 10 is refused
SECRET_KEY_WAIT_S = 5.0  # how long a process waits for another to finish writing var/secret_key


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class MqttTarget:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None
    ca_file: str | None = None  # HALLWATCH_MQTT_CA: trust this CA (PEM) instead of the system's


@dataclass(frozen=True)
class InfluxAuth:
    """Credentials one process sends to InfluxDB: a token, or a user and password, or none."""

    username: str | None = None
    password: str | None = None
    token: str | None = None


INFLUX_ACCESS = ("write", "read")  # the collector writes; web, alerts and reports read


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool  # smtps://
    starttls: bool  # ?starttls=1
    username: str | None
    password: str | None


def _minutes(env: dict[str, str], name: str, default: float) -> float:
    """A number of minutes from `env[name]`, or ConfigError naming the variable."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number of minutes, got {raw!r}") from exc


def _flag(env: dict[str, str], name: str) -> bool | None:
    """A yes/no from `env[name]` (None when unset), or ConfigError naming the variable."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return None
    if raw not in TRUE_WORDS + FALSE_WORDS:
        raise ConfigError(f"{name} must be true or false (1/0, yes/no, on/off), got {raw!r}")
    return raw in TRUE_WORDS


def _proxy_count(env: dict[str, str]) -> int:
    """HALLWATCH_TRUSTED_PROXIES: how many reverse proxies stand in front of the web app."""
    raw = env.get("HALLWATCH_TRUSTED_PROXIES", "").strip()
    if not raw:
        return 0
    if not raw.isdigit() or int(raw) > MAX_TRUSTED_PROXIES:
        raise ConfigError(
            f"HALLWATCH_TRUSTED_PROXIES must be a number of proxies from 0 to "
            f"{MAX_TRUSTED_PROXIES}, got {raw!r}"
        )
    return int(raw)


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    influx_url: str = "http://127.0.0.1:8086"
    influx_db: str = "hallwatch"
    influx_user: str | None = None
    influx_password: str | None = None
    influx_token: str | None = None
    secret_key: str = ""
    collector_id: str = ""
    smtp_url: str | None = None
    smtp_ca: str | None = None  # HALLWATCH_SMTP_CA: trust this CA (PEM) for the mail server
    mail_from: str = DEFAULT_MAIL_FROM
    base_url: str = DEFAULT_BASE_URL
    renotify_minutes: float = DEFAULT_RENOTIFY_MINUTES
    escalate_after_minutes: float = DEFAULT_ESCALATE_MINUTES
    secure_cookies: bool | None = None  # None: when base_url is https://
    public_ranking: bool | None = None  # None: on (HALLWATCH_PUBLIC_RANKING)
    # Optional per-access accounts (HALLWATCH_INFLUX_WRITE_* for the collector,
    # HALLWATCH_INFLUX_READ_* for web/alerts/reports); unset: influx_user/password/token.
    influx_write_user: str | None = None
    influx_write_password: str | None = None
    influx_write_token: str | None = None
    influx_read_user: str | None = None
    influx_read_password: str | None = None
    influx_read_token: str | None = None
    mqtt_ca: str | None = None
    # Reverse proxies in front of the web app whose X-Forwarded-* headers are believed.
    trusted_proxies: int = 0
    # Prometheus: where the collector's and scheduler's metrics ports listen (no login, so
    # loopback by default), and the bearer token the web app's /metrics asks for (README).
    metrics_host: str = "127.0.0.1"
    metrics_token: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read HALLWATCH_* variables; a `.env` in the working directory may add them."""
        if env is None:
            load_dotenv(Path.cwd() / ".env", override=False)
            env = dict(os.environ)
        settings = cls(
            database_url=env.get("HALLWATCH_DATABASE_URL", DEFAULT_DATABASE_URL),
            mqtt_url=env.get("HALLWATCH_MQTT_URL", cls.mqtt_url),
            influx_url=env.get("HALLWATCH_INFLUX_URL", cls.influx_url).rstrip("/"),
            influx_db=env.get("HALLWATCH_INFLUX_DB", cls.influx_db),
            influx_user=env.get("HALLWATCH_INFLUX_USER") or None,
            influx_password=env.get("HALLWATCH_INFLUX_PASSWORD") or None,
            influx_token=env.get("HALLWATCH_INFLUX_TOKEN") or None,
            influx_write_user=env.get("HALLWATCH_INFLUX_WRITE_USER") or None,
            influx_write_password=env.get("HALLWATCH_INFLUX_WRITE_PASSWORD") or None,
            influx_write_token=env.get("HALLWATCH_INFLUX_WRITE_TOKEN") or None,
            influx_read_user=env.get("HALLWATCH_INFLUX_READ_USER") or None,
            influx_read_password=env.get("HALLWATCH_INFLUX_READ_PASSWORD") or None,
            influx_read_token=env.get("HALLWATCH_INFLUX_READ_TOKEN") or None,
            mqtt_ca=env.get("HALLWATCH_MQTT_CA") or None,
            secret_key=env.get("HALLWATCH_SECRET_KEY", ""),
            collector_id=env.get("HALLWATCH_COLLECTOR_ID")
            or f"hallwatch-collector-{socket.gethostname()}",
            smtp_url=env.get("HALLWATCH_SMTP_URL") or None,
            smtp_ca=env.get("HALLWATCH_SMTP_CA") or None,
            mail_from=env.get("HALLWATCH_MAIL_FROM") or DEFAULT_MAIL_FROM,
            base_url=(env.get("HALLWATCH_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
            renotify_minutes=_minutes(env, "HALLWATCH_RENOTIFY_MINUTES", DEFAULT_RENOTIFY_MINUTES),
            escalate_after_minutes=_minutes(
                env, "HALLWATCH_ESCALATE_MINUTES", DEFAULT_ESCALATE_MINUTES
            ),
            secure_cookies=_flag(env, "HALLWATCH_SECURE_COOKIES"),
            public_ranking=_flag(env, "HALLWATCH_PUBLIC_RANKING"),
            trusted_proxies=_proxy_count(env),
            metrics_host=env.get("HALLWATCH_METRICS_HOST", "").strip() or cls.metrics_host,
            metrics_token=env.get("HALLWATCH_METRICS_TOKEN") or None,
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if _placeholder(self.secret_key):
            raise ConfigError(
                "HALLWATCH_SECRET_KEY is still the example's placeholder: set it to a secret of "
                'your own, e.g. python3 -c "import secrets; print(secrets.token_hex(32))"'
            )
        self.mqtt_target()
        if self.mqtt_ca and not Path(self.mqtt_ca).is_file():
            raise ConfigError(f"HALLWATCH_MQTT_CA is not a readable file: {self.mqtt_ca!r}")
        for access in INFLUX_ACCESS:
            self.influx_auth(access)
        if urlsplit(self.influx_url).scheme not in ("http", "https"):
            raise ConfigError(f"HALLWATCH_INFLUX_URL must be http(s)://…, got {self.influx_url!r}")
        if not self.influx_db or '"' in self.influx_db or "\n" in self.influx_db:
            raise ConfigError(f"HALLWATCH_INFLUX_DB is not a usable name: {self.influx_db!r}")
        scheme = self.database_url.split(":", 1)[0]
        if not scheme.startswith(("sqlite", "postgresql")):
            raise ConfigError(
                f"HALLWATCH_DATABASE_URL must be sqlite:/// or postgresql://, got {scheme!r}"
            )
        self.validate_notifications()

    def validate_notifications(self) -> None:
        """The alerting settings: SMTP URL, sender, link base and the two intervals."""
        if self.smtp_url:
            self.smtp_target()
        if self.smtp_ca and not Path(self.smtp_ca).is_file():
            raise ConfigError(f"HALLWATCH_SMTP_CA is not a readable file: {self.smtp_ca!r}")
        if "@" not in self.mail_from or any(ch in self.mail_from for ch in "\r\n"):
            raise ConfigError(
                f"HALLWATCH_MAIL_FROM must be an e-mail address, got {self.mail_from!r}"
            )
        base = urlsplit(self.base_url)
        if base.scheme not in ("http", "https") or not base.hostname:
            raise ConfigError(f"HALLWATCH_BASE_URL must be http(s)://host…, got {self.base_url!r}")
        if not self.renotify_minutes > 0:
            raise ConfigError(
                f"HALLWATCH_RENOTIFY_MINUTES must be more than 0, got {self.renotify_minutes:g}"
            )
        if not self.escalate_after_minutes > 0:
            raise ConfigError(
                "HALLWATCH_ESCALATE_MINUTES must be more than 0, "
                f"got {self.escalate_after_minutes:g}"
            )

    def smtp_target(self) -> SmtpTarget | None:
        """HALLWATCH_SMTP_URL taken apart; None when it is not set."""
        if not self.smtp_url:
            return None
        shown = self._smtp_shown()
        parts = urlsplit(self.smtp_url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError(
                f"HALLWATCH_SMTP_URL must be smtp(s)://[user:pass@]host[:port], got {shown!r}"
            )
        options = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(options) - {"starttls"})
        if unknown:
            raise ConfigError(f"HALLWATCH_SMTP_URL has unknown options {unknown}: {shown!r}")
        word = options.get("starttls", [""])[-1].lower()
        if word not in TRUE_WORDS + FALSE_WORDS:
            raise ConfigError(f"HALLWATCH_SMTP_URL: starttls must be 1 or 0, got {word!r}")
        starttls = word in TRUE_WORDS
        if starttls and parts.scheme == "smtps":
            raise ConfigError("HALLWATCH_SMTP_URL: smtps:// is TLS already; drop ?starttls=1")
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"HALLWATCH_SMTP_URL has a bad port: {shown!r}") from exc
        if port is None and parts.scheme == "smtps":
            port = SMTPS_PORT
        elif port is None:
            port = SMTP_SUBMISSION_PORT if starttls else SMTP_PORT
        return SmtpTarget(
            host=parts.hostname,
            port=port,
            implicit_tls=parts.scheme == "smtps",
            starttls=starttls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def _smtp_shown(self) -> str:
        """The SMTP URL with its password masked, for messages."""
        parts = urlsplit(self.smtp_url or "")
        if parts.password is None:
            return self.smtp_url or ""
        return self.smtp_url.replace(f":{parts.password}@", ":***@", 1)

    def mqtt_target(self) -> MqttTarget:
        parts = urlsplit(self.mqtt_url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ConfigError(
                f"HALLWATCH_MQTT_URL must be mqtt:// or mqtts://, got {self.mqtt_url!r}"
            )
        try:
            port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        except ValueError as exc:
            raise ConfigError(f"HALLWATCH_MQTT_URL has a bad port: {self.mqtt_url!r}") from exc
        return MqttTarget(
            host=parts.hostname or "127.0.0.1",
            port=port,
            tls=parts.scheme == "mqtts",
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            ca_file=self.mqtt_ca,
        )

    def influx_auth(self, access: str | None = None) -> InfluxAuth:
        """The InfluxDB credentials for `access` ("write": collector, "read": the others).

        An account of its own (HALLWATCH_INFLUX_WRITE_*/READ_*) wins over the shared
        HALLWATCH_INFLUX_USER/PASSWORD/TOKEN; within one, a token wins over a user.
        """
        if access is not None and access not in INFLUX_ACCESS:
            raise ValueError(f"access must be one of {INFLUX_ACCESS}, got {access!r}")
        own = {
            "write": (self.influx_write_user, self.influx_write_password, self.influx_write_token),
            "read": (self.influx_read_user, self.influx_read_password, self.influx_read_token),
        }.get(access or "", (None, None, None))
        shared = (self.influx_user, self.influx_password, self.influx_token)
        user, password, token = own if any(own) else shared
        if password and not user and not token:
            prefix = f"HALLWATCH_INFLUX_{access.upper()}_" if any(own) else "HALLWATCH_INFLUX_"
            raise ConfigError(f"{prefix}PASSWORD is set but {prefix}USER is not")
        if token:
            return InfluxAuth(token=token)
        return InfluxAuth(username=user, password=password)

    def cookies_secure(self) -> bool:
        """Whether cookies go over HTTPS only: HALLWATCH_SECURE_COOKIES, else an https base URL."""
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.base_url.startswith("https://")

    def public_ranking_enabled(self) -> bool:
        """Whether /public/ranking answers: HALLWATCH_PUBLIC_RANKING, on unless 0/false/off/no."""
        return self.public_ranking is not False

    def sqlalchemy_url(self) -> str:
        """`postgresql://` means psycopg 3 to us (SQLAlchemy would default to psycopg2)."""
        if self.database_url.startswith("postgresql://"):
            return "postgresql+psycopg://" + self.database_url[len("postgresql://") :]
        return self.database_url

    def web_secret_key(self) -> str:
        """HALLWATCH_SECRET_KEY, or one generated once and kept under var/.

        Every web process must sign with the same key, or a login (and a form's CSRF
        token) made at one is refused by another: processes started together in one
        directory (gunicorn's workers) agree on the file's key, because only the first
        creates it. Processes on several hosts need HALLWATCH_SECRET_KEY (docs/DEPLOY.md).
        """
        if self.secret_key:
            return self.secret_key
        path = VAR_DIR / "secret_key"
        VAR_DIR.mkdir(exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _key_written_by_another(path)
        key = secrets.token_hex(SECRET_KEY_BYTES)
        with os.fdopen(fd, "w") as out:
            out.write(key)
        return key


def _placeholder(value: str) -> bool:
    """Whether a secret is a documentation example's stand-in (CHANGE-ME, changeme, …)."""
    return "changeme" in value.casefold().replace("-", "").replace("_", "")


def _key_written_by_another(path: Path) -> str:
    """The key in `path`, waiting briefly for the process that just created it to write it."""
    deadline = time.monotonic() + SECRET_KEY_WAIT_S
    while not (key := path.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.01)
    if not key:
        raise ConfigError(f"{path} is empty: delete it, or set HALLWATCH_SECRET_KEY")
    return key
