"""The files `hallwatch provision` writes (console/provision.py): atomically, private or with
the owner, group and mode the installer chose; and whether the broker can read them."""

from __future__ import annotations

import grp
import os
import pwd
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

SECRET_MODE = 0o600
PASSWD_FILE = "passwd"
ACL_FILE = "acl"


class ProvisionError(ValueError):
    """The registry or the options cannot be turned into accounts; the message says why."""


def load_secrets(path: Path) -> dict[str, dict]:
    """username → its entry from an earlier run's secrets file ({} when there is none)."""
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {entry["username"]: entry for entry in data.get("accounts", [])}


@dataclass(frozen=True)
class FileAccess:
    """Owner, group and mode for the broker's files (None: keep the existing file's, or the
    writer's own and 0600 for a new file)."""

    uid: int | None = None
    gid: int | None = None
    mode: int | None = None


def file_access(owner: str | None, group: str | None, mode: str | None) -> FileAccess:
    """FileAccess from the command line's names (or numbers) and octal mode."""
    try:
        uid = None if owner is None else _id_of(owner, lambda n: pwd.getpwnam(n).pw_uid)
        gid = None if group is None else _id_of(group, lambda n: grp.getgrnam(n).gr_gid)
    except KeyError as exc:
        raise ProvisionError(f"no such user or group: {exc.args[0]}") from exc
    if mode is not None and not re.fullmatch(r"0?[0-7]{3}", mode):
        raise ProvisionError(f"--file-mode {mode!r} is not an octal mode such as 0640")
    return FileAccess(uid, gid, None if mode is None else int(mode, 8))


def _id_of(name: str, lookup: Callable[[str], int]) -> int:
    return int(name) if name.isdigit() else lookup(name)


def temp_beside(path: Path, suffix: str = "tmp") -> Path:
    """A new file next to `path`, readable by its writer only (so `os.replace` is atomic)."""
    temp = path.with_name(f".{path.name}.{suffix}")
    temp.unlink(missing_ok=True)  # an old temp file may have other bits or another owner
    os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_MODE))
    return temp


def settle(temp: Path, path: Path, access: FileAccess | None) -> None:
    """Give `temp` the owner, group and mode `path` should have, then put it in its place.

    Without `access` (the secrets files) the file is the writer's, mode 0600. With it, each
    attribute not given is the existing file's: a re-run keeps what the installer chose
    (`chgrp mosquitto` and 0640, docs/DEPLOY-SECURITY.md) instead of locking the broker out.
    """
    uid, gid, mode = os.getuid(), os.getgid(), SECRET_MODE
    if access is not None:
        if path.exists():
            old = path.stat()
            uid, gid, mode = old.st_uid, old.st_gid, stat.S_IMODE(old.st_mode)
        uid = uid if access.uid is None else access.uid
        gid = gid if access.gid is None else access.gid
        mode = mode if access.mode is None else access.mode
    try:
        if (uid, gid) != (temp.stat().st_uid, temp.stat().st_gid):
            os.chown(temp, uid, gid)
        os.chmod(temp, mode)
    except PermissionError as exc:
        temp.unlink(missing_ok=True)
        raise ProvisionError(
            f"cannot give {path} owner {uid}, group {gid}, mode {mode:04o} ({exc.strerror}); "
            "run as root, or as the files' owner with --file-group a group of yours"
        ) from exc
    os.replace(temp, path)


def write_private(path: Path, text: str, access: FileAccess | None = None) -> None:
    """Write `text` to `path` atomically: readable by the owner only, or as `access` says."""
    temp = temp_beside(path)
    with open(temp, "w", encoding="utf-8") as f:
        f.write(text)
    settle(temp, path, access)


@dataclass(frozen=True)
class Credentials:
    """Who a running process is, for file permissions: effective uid, gid and its groups."""

    uid: int
    gid: int
    groups: frozenset[int]

    @classmethod
    def of_process(cls, pid: int) -> Credentials:
        """The credentials of process `pid`, from /proc (ProvisionError when unreadable)."""
        try:
            status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
        except OSError as exc:
            raise ProvisionError(f"no process {pid} to reload ({exc.strerror})") from exc
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uid, gid = int(fields["Uid"].split()[1]), int(fields["Gid"].split()[1])
        return cls(uid, gid, frozenset(int(g) for g in fields.get("Groups", "").split()))

    def may(self, path: Path, bit: int) -> bool:
        """Whether these credentials have `bit` (R_OK or X_OK) on `path` by its mode bits."""
        if self.uid == 0:
            return True
        st = path.stat()
        if st.st_uid == self.uid:
            return bool(st.st_mode & (bit << 6))
        if st.st_gid == self.gid or st.st_gid in self.groups:
            return bool(st.st_mode & (bit << 3))
        return bool(st.st_mode & bit)


def check_broker_can_read(pid: int, out: Path) -> None:
    """ProvisionError unless broker process `pid` can read passwd and acl under `out` (and
    pass through every directory above them): a SIGHUP would otherwise leave it with no
    accounts, refusing every device and the collector."""
    broker = Credentials.of_process(pid)
    for path in (out / PASSWD_FILE, out / ACL_FILE):
        path = path.resolve()
        blocked = [d for d in reversed(path.parents) if not broker.may(d, os.X_OK)]
        if blocked or not broker.may(path, os.R_OK):
            st = path.stat()
            raise ProvisionError(
                f"the broker (pid {pid}, uid {broker.uid}) cannot read {path} (owner {st.st_uid}, "
                f"group {st.st_gid}, mode {stat.S_IMODE(st.st_mode):04o}"
                + (f"; directory {blocked[0]} is closed to it" if blocked else "")
                + "): not reloaded. Give the files to its group, e.g. --file-group mosquitto "
                "--file-mode 0640, then run again"
            )
