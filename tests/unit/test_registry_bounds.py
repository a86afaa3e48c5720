"""A small registry file cannot cost a web worker minutes: aliases and nesting are bounded."""

from __future__ import annotations

import time

import pytest

from hallwatch.registry.file import MAX_ALIAS_NODES, RegistryError
from hallwatch.registry.parse import parse_registry

HEAD = """hall: {name: H, timezone: Asia/Shanghai, hours: [["09:00", "17:00"]], holidays: none}
departments: [{id: civil, name: C}]
"""


def _laughs(levels: int) -> str:
    """`levels` anchors, each a list of nine aliases of the one before: 9**levels strings."""
    lines = ['l0: &l0 ["lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "x-bomb:\n" + "\n".join(f"  {line}" for line in lines) + f"\nstaff: *l{levels}\n"


def _merges(levels: int) -> str:
    """`levels` mappings, each merging (<<) nine copies of the one before. Measured before the
    bound: 0.75 s for 6 levels (489 bytes), ten times more for each level above."""
    lines = ["m0: &m0 {a: x, b: y}"]
    lines += [
        f"m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * 9)}]}}" for i in range(1, levels + 1)
    ]
    return "x-bomb:\n" + "\n".join(f"  {line}" for line in lines) + "\n"


@pytest.mark.parametrize("bomb", [_laughs(9), _merges(7), _merges(12)], ids=["lists", "m7", "m12"])
def test_nested_aliases_are_refused_at_once_by_how_far_they_expand(bomb):
    started = time.monotonic()
    with pytest.raises(RegistryError) as caught:
        parse_registry(HEAD + bomb)
    assert time.monotonic() - started < 1
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("aliases (*name) expand the file to ")
    assert f"at most {MAX_ALIAS_NODES} more than it spells out" in caught.value.problems[0]


def test_a_few_aliases_still_read():
    text = """
hall: {name: H, timezone: Asia/Shanghai, hours: &day [["09:00", "17:00"]], holidays: none}
departments: [{id: civil, name: C}]
windows:
  - &w {id: W01, name: W, department: civil}
  - {<<: *w, id: W02}
"""
    registry = parse_registry(text)
    assert sorted(registry.window_by_id) == ["W01", "W02"]


def test_an_alias_of_itself_and_deep_nesting_are_refused_cleanly():
    with pytest.raises(RegistryError, match="an alias refers to itself"):
        parse_registry(HEAD + "windows: &w [*w]\n")
    with pytest.raises(RegistryError, match="nests lists or mappings too deeply"):
        parse_registry(HEAD + "windows: " + "[" * 20_000 + "]" * 20_000 + "\n")
