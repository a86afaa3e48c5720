"""`hallwatch provision`: broker accounts from the registry, InfluxDB accounts for the processes.

MQTT (Mosquitto 2): every device that connects to the broker itself gets the
username = its registry id and a generated password, and may publish only its
own topics; the collector account may only read the device topics; a
Zigbee2MQTT bridge account (when the registry has Zigbee devices, which never
connect themselves) owns each base topic (`zigbee2mqtt/#`); an ESPHome node (one
MQTT client for all its registered entities) logs in as its node name and owns
`<node>/#`. Written under one directory:

- `passwd`: the Mosquitto `password_file` (hashed by `mosquitto_passwd -U`);
- `acl`: the `acl_file` (`pattern write …/%u/…`, never `%c`: a client id is self-asserted);
- `mosquitto-auth.conf`: the lines to include in the broker config (anonymous off);
- `devices.secrets.yaml` (mode 0600): every account's password, for the installer.

Re-running keeps the passwords of accounts that remain, adds and removes the
others. Mosquitto re-reads the password and ACL files on SIGHUP; 2.0.11 also
re-checks the clients already connected, closing a removed device's connection
while kept ones stay (tests/integration/test_device_auth.py measures it).

InfluxDB 1.x (`--influx`): console/provision_influx.py. Writing the files and checking the
broker can read them: console/provision_files.py.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import shutil
import subprocess
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

import devices
from console.provision_files import (
    ACL_FILE,
    PASSWD_FILE,
    FileAccess,
    ProvisionError,
    load_secrets,
    settle,
    temp_beside,
    write_private,
)
from devices.native import SUBSCRIPTIONS as NATIVE_TOPICS
from hallwatch.mqtt import COLLECTORS_ROOT
from hallwatch.registry.spec import Registry, tasmota_telemetry

USERNAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")  # no + # / : safe inside %u patterns
PASSWORD_BYTES = 24  # token_urlsafe(24): 32 characters, 192 bits
PBKDF2_ITERATIONS = 101  # mosquitto_passwd's own default for sha512-pbkdf2 ($7$)
PBKDF2_SALT_BYTES = 12
DEFAULT_COLLECTOR_USER = "hallwatch-collector"
DEFAULT_ZIGBEE2MQTT_USER = "zigbee2mqtt"
CONF_FILE = "mosquitto-auth.conf"
SECRETS_FILE = "devices.secrets.yaml"
# The native topics with the device id replaced by Mosquitto's %u (hallwatch/devices/%u/events…).
DEVICE_PATTERNS = tuple(t.replace("/+/", "/%u/") for t in NATIVE_TOPICS)


# Words that begin a line of Mosquitto's ACL file, the password file's `user:` aside.
ACL_DIRECTIVES = ("user", "topic", "pattern")
# Control, format and line/paragraph separators: nothing written into a broker file may hold
# one (a line break would start a directive of its own). Spaces are refused in values too.
_LINE_BREAKERS = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def one_token(value: str, what: str, *, spaces: bool = False) -> str:
    """`value` if it can stand as one value on one line of a broker file, else ProvisionError.

    Independent of the registry parser: whatever reaches a generated file is checked here.
    """
    for position, ch in enumerate(value, 1):
        if unicodedata.category(ch) in _LINE_BREAKERS or (ch.isspace() and not spaces):
            raise ProvisionError(
                f"{what} {value!r} holds U+{ord(ch):04X} at character {position}: a broker "
                "file takes one value per line, without line breaks, controls or spaces"
            )
    if not value.strip():
        raise ProvisionError(f"{what} is empty")
    if value.split()[0].lower() in ACL_DIRECTIVES and value != value.split()[0]:
        raise ProvisionError(f"{what} {value!r} starts with a directive word")
    return value


@dataclass(frozen=True)
class Account:
    """One broker login and what it may do (patterns for native devices come on top)."""

    username: str
    role: str  # device, collector, zigbee2mqtt
    writes: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()


@dataclass
class Changes:
    """What one provisioning run did to the set of accounts."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.added)} added, {len(self.removed)} removed, {len(self.kept)} kept"


# ------------------------------------------------------------------ pure: accounts and ACL


def broker_accounts(
    registry: Registry,
    collector_user: str = DEFAULT_COLLECTOR_USER,
    zigbee2mqtt_user: str = DEFAULT_ZIGBEE2MQTT_USER,
) -> list[Account]:
    """The accounts the registry needs, in a stable order."""
    presence = (f"{COLLECTORS_ROOT}/#",)  # one collector per session (collector/one_session.py)
    reads = devices.subscriptions(registry) + presence
    accounts = [Account(collector_user, "collector", writes=presence, reads=reads)]
    bases = sorted(base for base, names in registry.zigbee2mqtt_names.items() if names)
    if bases:
        # Zigbee sensors never speak MQTT: the bridge publishes for all of them (and reads
        # its own request topics); one account for every coordinator's base topic.
        topics = tuple(f"{base}/#" for base in bases)
        accounts.append(Account(zigbee2mqtt_user, "zigbee2mqtt", writes=topics, reads=topics))
    for node in sorted(registry.esphome_nodes):
        # One ESPHome node is one MQTT client, whatever number of entities it hosts.
        own = (f"{node}/#",)
        accounts.append(Account(node, "device", writes=own, reads=own))
    for device in sorted(registry.devices, key=lambda d: d.id):
        if device.zigbee2mqtt or device.esphome:
            continue
        own = tuple(p.replace("%u", device.id) for p in DEVICE_PATTERNS)
        tasmota = (tasmota_telemetry(device.tasmota_full_topic, device.tasmota or "") + "#",)
        accounts.append(
            Account(device.id, "device", writes=own + (tasmota if device.tasmota else ()))
        )
    _check_names(accounts)
    return accounts


def _check_names(accounts: Iterable[Account]) -> None:
    seen: set[str] = set()
    for account in accounts:
        if not USERNAME_RE.fullmatch(account.username):
            raise ProvisionError(
                f"{account.role} username {account.username!r} must match [A-Za-z0-9_-]{{1,64}} "
                "(Mosquitto denies %u patterns to names with + or #, and / spans topic levels)"
            )
        if account.username in seen:
            raise ProvisionError(
                f"username {account.username!r} is used twice (a device id equal to the "
                "collector or bridge user?); choose another --collector-user/--zigbee2mqtt-user"
            )
        seen.add(account.username)


def acl_text(accounts: Iterable[Account]) -> str:
    """The Mosquitto acl_file: native devices by pattern, the rest per user."""
    lines = [
        "# Written by `hallwatch provision`; edits are overwritten.",
        "# Pattern lines apply to every user: a native device publishes only under its own id.",
        *(f"pattern write {p}" for p in DEVICE_PATTERNS),
    ]
    for account in accounts:
        user = one_token(account.username, f"{account.role} username")
        writes = [one_token(t, f"topic of {user}") for t in account.writes]
        reads = [one_token(t, f"topic of {user}") for t in account.reads]
        extra_writes = [t for t in writes if not t.startswith(_native_prefix())]
        if not (extra_writes or reads):
            continue
        lines += ["", f"user {user}"]
        if account.role != "device":  # the patterns above would let it write under its name
            lines += [f"topic deny {p.replace('%u', user)}" for p in DEVICE_PATTERNS]
        both = set(extra_writes) & set(reads)
        lines += [f"topic readwrite {t}" for t in extra_writes if t in both]
        lines += [f"topic write {t}" for t in extra_writes if t not in both]
        lines += [f"topic read {t}" for t in reads if t not in both]
    return "\n".join(lines) + "\n"


def _native_prefix() -> str:
    return DEVICE_PATTERNS[0].split("%u")[0]


def broker_conf_text(out: Path) -> str:
    """The lines a production mosquitto.conf includes (`include_dir` or copy them)."""
    one_token(str(out.resolve()), "the output directory", spaces=True)
    return (
        "# Written by `hallwatch provision`. Anonymous clients are refused; the files below\n"
        "# are re-read on SIGHUP (connected clients are not disconnected).\n"
        "allow_anonymous false\n"
        f"password_file {(out / PASSWD_FILE).resolve()}\n"
        f"acl_file {(out / ACL_FILE).resolve()}\n"
    )


def mosquitto_hash(password: str, salt: bytes | None = None) -> str:
    """A Mosquitto 2 sha512-pbkdf2 hash ($7$), as mosquitto_passwd writes it."""
    salt = salt or secrets.token_bytes(PBKDF2_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    b64 = base64.b64encode
    return f"$7${PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def _write_passwd(
    path: Path,
    passwords: dict[str, str],
    use_tool: bool = True,
    access: FileAccess | None = None,
) -> str:
    """Write the password_file; returns how it was hashed."""
    for user, password in passwords.items():
        one_token(user, "username")
        one_token(password, f"the password of {user}")
    tool = shutil.which("mosquitto_passwd") if use_tool else None
    plain = "".join(f"{user}:{pw}\n" for user, pw in passwords.items())
    if tool is None:
        hashed = "".join(f"{u}:{mosquitto_hash(p)}\n" for u, p in passwords.items())
        write_private(path, hashed, access)
        return "hashed here (sha512-pbkdf2, mosquitto_passwd not found)"
    temp = temp_beside(path, "plain")
    try:
        temp.write_text(plain, encoding="utf-8")
        # -U hashes a plaintext file in place: no password on a command line.
        done = subprocess.run([tool, "-U", str(temp)], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise ProvisionError(f"{tool} -U failed: {(done.stderr or done.stdout).strip()}")
        settle(temp, path, access)
    finally:
        temp.unlink(missing_ok=True)
    return "hashed by mosquitto_passwd"


def provision_broker(
    registry: Registry,
    out: Path,
    collector_user: str = DEFAULT_COLLECTOR_USER,
    zigbee2mqtt_user: str = DEFAULT_ZIGBEE2MQTT_USER,
    *,
    use_mosquitto_passwd: bool = True,
    access: FileAccess | None = None,
) -> Changes:
    """Write passwd, acl, mosquitto-auth.conf and devices.secrets.yaml under `out`.

    passwd and acl keep the owner, group and mode they had (those in `access` replace them);
    new ones are the writer's, 0600. The secrets file is always the writer's, 0600.
    """
    access = access or FileAccess()
    accounts = broker_accounts(registry, collector_user, zigbee2mqtt_user)
    acl = acl_text(accounts)  # checks every value before any file is touched
    conf = broker_conf_text(out)
    out.mkdir(parents=True, exist_ok=True)
    secrets_path = out / SECRETS_FILE
    previous = load_secrets(secrets_path)
    changes = Changes()
    entries = []
    for account in accounts:
        old = previous.get(account.username)
        if old and old.get("password"):
            password = one_token(str(old["password"]), f"the kept password of {account.username}")
            changes.kept.append(account.username)
        else:
            password = secrets.token_urlsafe(PASSWORD_BYTES)
            changes.added.append(account.username)
        entries.append(
            {
                "username": account.username,
                "role": account.role,
                "password": password,
                "publishes": list(account.writes),
                "reads": list(account.reads),
            }
        )
    wanted = {a.username for a in accounts}
    changes.removed = sorted(u for u in previous if u not in wanted)
    header = (
        "# HallWatch MQTT accounts written by `hallwatch provision`. SECRET: load each\n"
        "# device's username and password onto it, then keep this file out of reach.\n"
    )
    body = yaml.safe_dump({"accounts": entries}, allow_unicode=True, sort_keys=False)
    write_private(secrets_path, header + body)
    passwords = {e["username"]: e["password"] for e in entries}
    _write_passwd(out / PASSWD_FILE, passwords, use_mosquitto_passwd, access)
    write_private(out / ACL_FILE, acl, access)
    (out / CONF_FILE).write_text(conf, encoding="utf-8")
    return changes


def account_password(out: Path, username: str) -> str:
    """The password `provision_broker` gave `username` (KeyError if it has none)."""
    return load_secrets(out / SECRETS_FILE)[username]["password"]
