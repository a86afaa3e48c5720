"""HALLWATCH_PUBLIC_RANKING: the public ranking is on unless switched off, and a typo is refused."""

from __future__ import annotations

import pytest

from hallwatch.config import ConfigError, Settings


@pytest.mark.parametrize(
    ("value", "enabled"),
    [(None, True), ("", True), ("1", True), ("on", True), ("0", False), ("false", False),
     ("OFF", False), ("no", False)],
)  # fmt: skip
def test_the_public_ranking_is_on_unless_switched_off(value, enabled):
    env = {} if value is None else {"HALLWATCH_PUBLIC_RANKING": value}
    assert Settings.from_env(env).public_ranking_enabled() is enabled


def test_a_word_that_is_neither_yes_nor_no_is_refused_naming_the_variable():
    with pytest.raises(ConfigError, match="HALLWATCH_PUBLIC_RANKING"):
        Settings.from_env({"HALLWATCH_PUBLIC_RANKING": "perhaps"})
