"""Which package may import which, read from the source with `ast` (nothing is imported).

The core (`hallwatch/`) is the ground: the domain and its storage. The applications stand
on it (`devices/` converters, `collector/`, `alerts/`, `web/`), the simulated hall too
(`simulator/`), and the composition (`console/`: the `hallwatch` command, provisioning, the
service supervisor, the demo) stands above them all. Every import counts, those inside a
function or under `if TYPE_CHECKING:` too: a loop of type hints is still a loop.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).parents[2]
CORE = "hallwatch"
APPLICATIONS = ("devices", "collector", "alerts", "web")
SIMULATOR = "simulator"
COMPOSITION = "console"
ABOVE_THE_CORE = (*APPLICATIONS, SIMULATOR, COMPOSITION)


def packages() -> list[str]:
    """The top-level packages of the source tree (tests are not one)."""
    return sorted(
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in ("tests",) and not path.parent.name.startswith(".")
    )


def module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in one file, relative ones made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_of(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]  # a module's relative imports start from its package
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield node.lineno, name


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def package_arrows() -> dict[str, dict[str, str]]:
    """package → {package it imports: one place that does, "file:line"}."""
    ours = set(packages())
    arrows: dict[str, dict[str, str]] = {package: {} for package in ours}
    for package in ours:
        for path in sources(package):
            for line, name in imports(path):
                target = name.split(".")[0]
                if target in ours and target != package:
                    where = f"{path.relative_to(ROOT)}:{line}"
                    arrows[package].setdefault(target, where)
    return arrows


def loops(arrows: dict[str, dict[str, str]]) -> list[list[str]]:
    """The strongly connected groups of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(arrows.get(node, {})):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(arrows):
        if node not in index:
            visit(node)
    return found


def test_the_packages_are_the_ones_this_test_knows():
    assert {CORE, *ABOVE_THE_CORE} <= set(packages())


def test_the_reading_sees_imports_at_all():
    """The composition wires everything: if this finds nothing, the reader is broken."""
    assert set(package_arrows()[COMPOSITION]) >= {CORE, *APPLICATIONS, SIMULATOR}


def test_the_core_imports_nothing_above_it():
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sources(CORE)
        for line, name in imports(path)
        if name.split(".")[0] in ABOVE_THE_CORE
    ]
    assert upward == []


def test_only_the_composition_and_the_tools_import_the_composition():
    """Applications and the simulator never reach up into console/ (bench/ and scripts/ may)."""
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for package in (CORE, *APPLICATIONS, SIMULATOR)
        for path in sources(package)
        for line, name in imports(path)
        if name.split(".")[0] == COMPOSITION
    ]
    assert upward == []


def test_the_applications_do_not_import_the_simulator():
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for package in (CORE, *APPLICATIONS)
        for path in sources(package)
        for line, name in imports(path)
        if name.split(".")[0] == SIMULATOR
    ]
    assert upward == []


def test_no_import_loop_between_top_level_packages():
    arrows = package_arrows()
    described = [
        " -> ".join(group)
        + ": "
        + "; ".join(f"{a} -> {b} ({arrows[a][b]})" for a in group for b in group if b in arrows[a])
        for group in loops(arrows)
    ]
    assert described == []


def test_the_loop_finder_finds_a_loop():
    arrows = {"a": {"b": "x"}, "b": {"c": "y"}, "c": {"a": "z"}, "d": {"a": "w"}}
    assert loops(arrows) == [["a", "b", "c"]]
