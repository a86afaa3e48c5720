"""The test suite's own layout: no module under tests/ imports a test module (issue 18).

What tests share lives in non-test modules (tests/helpers.py, tests/halls.py, ...) and
fixtures in conftest.py, so pytest never collects a test twice or imports a module for
its fixtures with `# noqa: F401`.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(TESTS.parent).with_suffix("").parts)


def imported_modules(source: str, package: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every module an import in `source` (a module of `package`)
    may name, nested ones included: for `from a import b`, both a and a.b."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            found.append((node.lineno, base))
            # `from tests.unit import test_x` imports the module test_x itself.
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def is_test_module(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "tests" and parts[-1].startswith("test_")


def test_no_module_under_tests_imports_a_test_module():
    offending = [
        f"{path.relative_to(TESTS.parent)}:{line}: imports {name}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, name in imported_modules(
            path.read_text(encoding="utf-8"), module_of(path).rsplit(".", 1)[0]
        )
        if is_test_module(name)
    ]
    assert offending == [], "\n".join(offending)


def test_the_check_sees_each_form_of_import():
    source = """
import tests.integration.test_a
from tests.integration.test_b import thing
from tests.integration import test_c
from .test_d import thing
from . import test_e


def late():
    from tests.unit.test_f import thing
"""
    named = [name for _, name in imported_modules(source, "tests.security")]
    caught = sorted({".".join(n.split(".")[:3]) for n in named if is_test_module(n)})
    assert caught == [
        "tests.integration.test_a",
        "tests.integration.test_b",
        "tests.integration.test_c",
        "tests.security.test_d",
        "tests.security.test_e",
        "tests.unit.test_f",
    ]
    assert not any(is_test_module(n) for n in ("tests.helpers", "tests.unit.hall", "pytest"))
