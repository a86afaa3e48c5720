"""Settings from the environment (and an optional `.env`), validated once at start-up."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dotenv import load_dotenv

VAR_DIR = Path("var")
DEFAULT_DATABASE_URL = "sqlite:///var/hallwatch.sqlite3"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class MqttTarget:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None


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
            secret_key=env.get("HALLWATCH_SECRET_KEY", ""),
            collector_id=env.get("HALLWATCH_COLLECTOR_ID")
            or f"hallwatch-collector-{socket.gethostname()}",
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        self.mqtt_target()
        if urlsplit(self.influx_url).scheme not in ("http", "https"):
            raise ConfigError(f"HALLWATCH_INFLUX_URL must be http(s)://…, got {self.influx_url!r}")
        if not self.influx_db or '"' in self.influx_db or "\n" in self.influx_db:
            raise ConfigError(f"HALLWATCH_INFLUX_DB is not a usable name: {self.influx_db!r}")
        scheme = self.database_url.split(":", 1)[0]
        if not scheme.startswith(("sqlite", "postgresql")):
            raise ConfigError(
                f"HALLWATCH_DATABASE_URL must be sqlite:/// or postgresql://, got {scheme!r}"
            )

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
        )

    def sqlalchemy_url(self) -> str:
        """`postgresql://` means psycopg 3 to us (SQLAlchemy would default to psycopg2)."""
        if self.database_url.startswith("postgresql://"):
            return "postgresql+psycopg://" + self.database_url[len("postgresql://") :]
        return self.database_url

    def web_secret_key(self) -> str:
        """HALLWATCH_SECRET_KEY, or one generated once and kept under var/."""
        if self.secret_key:
            return self.secret_key
        path = VAR_DIR / "secret_key"
        if path.exists():
            return path.read_text().strip()
        VAR_DIR.mkdir(exist_ok=True)
        key = secrets.token_hex(32)
        path.write_text(key)
        path.chmod(0o600)
        return key
