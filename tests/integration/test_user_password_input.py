"""`hallwatch user add`: the password need not be on the command line (`ps`, shell history).

A real process against a real SQLite registry: `--password PW` still works (the
documented form), `--password-stdin` reads it from a pipe, and without either on a
non-terminal the command refuses, saying how, rather than waiting on a prompt.
"""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy.orm import Session

from hallwatch.registry.db import make_engine
from hallwatch.registry.users import authenticate


def run(env: dict, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", "user", "add", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def logs_in(url: str, name: str, password: str) -> bool:
    with Session(make_engine(url)) as session:
        return authenticate(session, name, password) is not None


def test_the_password_comes_from_stdin_the_option_or_nowhere(tmp_path):
    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    env = {**os.environ, "HALLWATCH_DATABASE_URL": url}
    piped = run(env, "wang", "--role", "hall_manager", "--password-stdin", stdin="s3cret-pipe\n")
    assert piped.returncode == 0, piped.stderr
    assert "s3cret-pipe" not in piped.stdout + piped.stderr
    assert logs_in(url, "wang", "s3cret-pipe")
    given = run(env, "li", "--role", "inspector", "--password", "s3cret-option")
    assert given.returncode == 0, given.stderr
    assert logs_in(url, "li", "s3cret-option")
    neither = run(env, "zhao", "--role", "inspector")
    assert neither.returncode == 2
    assert "--password-stdin" in neither.stderr
    empty = run(env, "zhao", "--role", "inspector", "--password-stdin", stdin="")
    assert empty.returncode == 2 and "held no password" in empty.stderr
    both = run(env, "zhao", "--role", "inspector", "--password", "x", "--password-stdin")
    assert both.returncode == 2 and "not both" in both.stderr
