"""Production installs the runtime pins only; tests and CI get the test tools on top."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_TOOLS = {"pytest", "hypothesis", "aiosmtpd", "ruff", "playwright"}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].strip().lower()


def _pins(path: Path) -> set[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return {_name(line) for line in lines if line and not line.startswith("-")}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_runtime_pins_hold_no_test_tool_and_every_runtime_dependency():
    runtime = _pins(ROOT / "requirements.txt")
    assert not runtime & TEST_TOOLS
    assert {_name(d) for d in _project()["dependencies"]} <= runtime


def test_the_dev_pins_add_every_test_tool_to_the_runtime_pins():
    text = (ROOT / "requirements-dev.txt").read_text()
    assert "-r requirements.txt" in text.splitlines()
    extras = _project()["optional-dependencies"]
    declared = {_name(d) for d in extras["test"] + extras["dev"]} - {"hallwatch"}
    assert TEST_TOOLS <= _pins(ROOT / "requirements-dev.txt")
    assert declared <= _pins(ROOT / "requirements-dev.txt")


def test_setup_installs_the_test_tools_and_deploy_tells_production_not_to():
    setup = (ROOT / "scripts/setup.sh").read_text()
    assert "pip install -r requirements-dev.txt" in setup
    deploy = (ROOT / "docs/DEPLOY.md").read_text()
    assert "requirements-dev.txt" in deploy
    assert "also installs the test tools" not in deploy
