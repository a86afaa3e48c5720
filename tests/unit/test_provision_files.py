"""Re-provisioning keeps the broker able to read its files (issue 17, item 9).

Run as root (chown to another group, a process of another user); skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from console.provision import provision_broker
from console.provision_files import FileAccess, ProvisionError, check_broker_can_read
from tests.unit.provision_hall import HALL

NOBODY = 65534  # nobody:nogroup on Debian
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown and setuid")


def _access(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def _broker_files(out: Path) -> list[Path]:
    return [out / "passwd", out / "acl"]


def test_a_rerun_keeps_the_owner_group_and_mode_the_installer_gave(tmp_path):
    provision_broker(HALL, tmp_path, use_mosquitto_passwd=False)
    for path in _broker_files(tmp_path):
        os.chown(path, 0, NOBODY)  # docs: chgrp mosquitto passwd acl; chmod 0640
        os.chmod(path, 0o640)
    provision_broker(HALL, tmp_path)  # as root, through mosquitto_passwd when installed
    for path in _broker_files(tmp_path):
        assert _access(path) == (0, NOBODY, 0o640), path
    assert _access(tmp_path / "devices.secrets.yaml") == (0, 0, 0o600)


def test_options_set_the_group_and_mode_of_new_and_existing_files(tmp_path):
    provision_broker(HALL, tmp_path, access=FileAccess(gid=NOBODY, mode=0o640))
    for path in _broker_files(tmp_path):
        assert _access(path) == (0, NOBODY, 0o640)
    provision_broker(HALL, tmp_path, access=FileAccess(mode=0o600))
    for path in _broker_files(tmp_path):
        assert _access(path) == (0, NOBODY, 0o600)


@pytest.fixture
def open_dir():
    """A directory every user may pass through (pytest's own tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="hallwatch-provision-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.fixture
def broker_as_nobody():
    """A process running as nobody:nogroup, standing in for a broker that dropped root."""
    process = subprocess.Popen(
        ["sleep", "60"],
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        # A SIGHUP ignored here (the suite run under nohup) would stay ignored in the child,
        # and its death is how the test sees the reload.
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
    )
    yield process
    process.kill()
    process.wait()


def _cli(*args: str) -> subprocess.CompletedProcess:
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
    command = [sys.executable, "-m", "console.cli", "provision", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def test_reload_is_refused_while_the_broker_cannot_read_the_files(open_dir, broker_as_nobody):
    registry = ROOT / "simulator/hall.yaml"
    out = open_dir / "mqtt"
    pid = str(broker_as_nobody.pid)
    done = _cli("--registry", str(registry), "--out", str(out), "--reload", pid)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"the broker (pid {pid}, uid {NOBODY}) cannot read" in done.stderr
    assert "not reloaded" in done.stderr
    assert broker_as_nobody.poll() is None  # no SIGHUP reached it (sleep dies of one)

    done = _cli(
        *("--registry", str(registry), "--out", str(out), "--reload", pid),
        *("--file-group", str(NOBODY), "--file-mode", "0640"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"sent SIGHUP to {pid}" in done.stdout, done.stdout + done.stderr
    assert broker_as_nobody.wait(5) == -signal.SIGHUP  # now it was told to reload


def test_a_closed_directory_is_named(open_dir, broker_as_nobody):
    out = open_dir / "mqtt"
    provision_broker(HALL, out, access=FileAccess(gid=NOBODY, mode=0o640))
    out.chmod(0o700)
    with pytest.raises(ProvisionError, match=f"directory {out} is closed to it"):
        check_broker_can_read(broker_as_nobody.pid, out)
    out.chmod(0o755)
    check_broker_can_read(broker_as_nobody.pid, out)
