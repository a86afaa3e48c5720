"""`hallwatch provision --influx`: with the admin account, the database, a write-only user
for the collector and a read-only user for web/alerts/reports (InfluxDB 1.x)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from console.provision import PASSWORD_BYTES, USERNAME_RE
from console.provision_files import ProvisionError, load_secrets, write_private
from hallwatch.influx.client import InfluxClient, QueryError, quote_identifier, quote_string

DEFAULT_INFLUX_WRITER = "hallwatch_writer"
DEFAULT_INFLUX_READER = "hallwatch_reader"
INFLUX_SECRETS_FILE = "influx.secrets.yaml"


@dataclass(frozen=True)
class InfluxAccounts:
    """The names and passwords `provision_influx` set up."""

    admin: str
    writer: str
    writer_password: str
    reader: str
    reader_password: str


def provision_influx(
    url: str,
    database: str,
    admin: str,
    admin_password: str | None,
    out: Path,
    writer: str = DEFAULT_INFLUX_WRITER,
    reader: str = DEFAULT_INFLUX_READER,
) -> tuple[InfluxAccounts, list[str]]:
    """Create (first run) the admin, the database, a WRITE-only and a READ-only user.

    Passwords of the writer and reader are kept in `out/influx.secrets.yaml` (0600) and
    reused on later runs; the admin's comes from the caller or, when the server has no
    user yet, is generated there too. Returns the accounts and what was done.
    """
    for name in (admin, writer, reader):
        if not USERNAME_RE.fullmatch(name):
            raise ProvisionError(f"InfluxDB user {name!r} must match [A-Za-z0-9_-]{{1,64}}")
    if len({admin, writer, reader}) != 3:
        raise ProvisionError("the admin, writer and reader must be three different users")
    out.mkdir(parents=True, exist_ok=True)
    path = out / INFLUX_SECRETS_FILE
    kept = load_secrets(path)
    done: list[str] = []

    def password_of(name: str, given: str | None = None) -> str:
        return given or kept.get(name, {}).get("password") or secrets.token_urlsafe(PASSWORD_BYTES)

    admin_password = password_of(admin, admin_password)
    client = InfluxClient(url, database, admin, admin_password)
    try:
        users = {row[0]: row[1] for s in client.execute("SHOW USERS") for row in s["values"]}
    except QueryError as exc:
        if "create admin user first" not in str(exc):
            raise ProvisionError(f"the admin {admin!r} was refused by {url}: {exc}") from exc
        users = {}  # auth on and no admin yet: only creating one is allowed
    if not any(users.values()):  # no admin yet: InfluxDB lets anyone create the first one
        _create_or_set(client, admin, admin_password, users, "WITH ALL PRIVILEGES")
        done.append(f"admin {admin} created")
    client.create_database()
    done.append(f"database {database} ensured")
    accounts = InfluxAccounts(admin, writer, password_of(writer), reader, password_of(reader))
    for name, password, grant in (
        (writer, accounts.writer_password, "WRITE"),
        (reader, accounts.reader_password, "READ"),
    ):
        if users.get(name):
            raise ProvisionError(f"{name!r} is an InfluxDB admin; choose another user name")
        _create_or_set(client, name, password, users)
        client.execute(f"REVOKE ALL PRIVILEGES ON {quote_identifier(database)} FROM {_q(name)}")
        client.execute(f"GRANT {grant} ON {quote_identifier(database)} TO {_q(name)}")
        done.append(f"{name}: {grant} only on {database}")
    entries = [
        {"username": admin, "role": "admin", "password": admin_password},
        {"username": writer, "role": "write", "password": accounts.writer_password},
        {"username": reader, "role": "read", "password": accounts.reader_password},
    ]
    header = "# HallWatch InfluxDB accounts written by `hallwatch provision --influx`. SECRET.\n"
    write_private(path, header + yaml.safe_dump({"accounts": entries}, sort_keys=False))
    return accounts, done


def _q(name: str) -> str:
    return quote_identifier(name)


def _create_or_set(
    client: InfluxClient, name: str, password: str, users: dict[str, bool], extra: str = ""
) -> None:
    if name in users:
        client.execute(f"SET PASSWORD FOR {_q(name)} = {quote_string(password)}")
    else:
        client.execute(f"CREATE USER {_q(name)} WITH PASSWORD {quote_string(password)} {extra}")
        users[name] = bool(extra)
