"""HALLWATCH_SECRET_KEY: the example file's placeholder is refused, any real secret is taken."""

from __future__ import annotations

from pathlib import Path

import pytest

from hallwatch.config import ConfigError, Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "hallwatch.env.example"


def example_secret_key() -> str:
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("HALLWATCH_SECRET_KEY="):
            return line.split("=", 1)[1]
    raise AssertionError("the example no longer sets HALLWATCH_SECRET_KEY")


@pytest.mark.parametrize("key", [example_secret_key(), "change_me", "ChangeMe-please"])
def test_the_example_placeholder_is_refused_naming_the_variable(key):
    with pytest.raises(ConfigError, match="HALLWATCH_SECRET_KEY is still the example"):
        Settings.from_env({"HALLWATCH_SECRET_KEY": key})


def test_a_real_secret_key_is_taken():
    key = "5f0c" * 16
    assert Settings.from_env({"HALLWATCH_SECRET_KEY": key}).web_secret_key() == key
