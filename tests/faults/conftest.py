"""Fixtures of the fault tests: one imported registry, collectors that are always reaped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.harness import CollectorProcess, Stream, import_hall


@pytest.fixture(scope="session")
def registry_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The fault hall's registry (read-only for the collectors), imported once."""
    return import_hall(tmp_path_factory.mktemp("fault-registry"))


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Callable[[dict], CollectorProcess]]:
    """Make a `hallwatch collector` process for an environment; killed after the test."""
    made: list[CollectorProcess] = []

    def make(env: dict) -> CollectorProcess:
        process = CollectorProcess(env, tmp_path / f"collector-{len(made)}.log")
        made.append(process)
        return process

    yield make
    for process in made:
        if process.alive():
            process.kill()


@pytest.fixture
def streams() -> Iterator[list[Stream]]:
    """Streams a test starts; their publishers are closed after it."""
    started: list[Stream] = []
    yield started
    for stream in started:
        stream.close()
