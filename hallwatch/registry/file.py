"""The registry file as YAML, before its sections are read: the top-level keys of either
form (`SECTIONS` beside one `hall:`, or `halls:` with each hall's `id`), `RegistryError`
through which every problem with the file is reported, and `load_yaml`: safe YAML where
every plain scalar is text, a duplicate key is refused and aliases are bounded
(MAX_ALIAS_NODES), so that a small file cannot stand for a huge one.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from hallwatch.registry import values

SECTIONS = ("hall", "departments", "windows", "staff", "devices", "roster", "leave", "swaps")
HALL_ID_KEY = "id"  # of each hall under `halls:`
HALLS = "halls"
REVISION = "revision"  # optional, either form: the registry revision the file was exported from
_REVISION_TEXT = re.compile(r"[0-9]{1,9}")


class RegistryError(ValueError):
    """The registry file is unusable; `problems` names every entry and key at fault."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in the registry file: " + "; ".join(self.problems)
        )


def file_revision(data: dict[Any, Any], problems: list[str]) -> int | None:
    """The file's `revision:` (None when it has none); a bad one is added to `problems`."""
    value = data.get(REVISION)
    if value is None:
        return None
    if isinstance(value, str) and _REVISION_TEXT.fullmatch(value):
        return int(value)
    problems.append(
        f"top level: key '{REVISION}': expected a whole number, got {values.show(value)}"
    )
    return None


class _TextLoader(yaml.SafeLoader):
    """Safe YAML where every plain scalar is a string, except null (`~`, `null`, empty)."""

    yaml_implicit_resolvers: dict = {}

    def construct_mapping(self, node, deep=False):
        seen: set[str] = set()
        for key_node, _ in node.value:
            key = getattr(key_node, "value", None)
            if isinstance(key, str) and key != "<<":
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key '{key}'", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep)


_TextLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_TextLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


# Aliases (`*name`) may repeat what the file spells out, but at most this many nodes in all:
# nested aliases otherwise let a 1 KB file stand for billions ("billion laughs").
MAX_ALIAS_NODES = 100_000


def load_yaml(text: str) -> dict[Any, Any]:
    """The file as a mapping, or RegistryError naming the line of a syntax error."""
    try:
        data = _compose_and_construct(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise RegistryError([f"YAML syntax error at {where}: {exc.problem}"]) from exc
    except yaml.YAMLError as exc:
        raise RegistryError([f"YAML syntax error: {exc}"]) from exc
    except RecursionError as exc:
        raise RegistryError(["the file nests lists or mappings too deeply"]) from exc
    if data is None:
        raise RegistryError([f"the file is empty (expected a mapping with {', '.join(SECTIONS)})"])
    if not isinstance(data, dict):
        raise RegistryError(
            [f"top level: expected a mapping with {', '.join(SECTIONS)}, got {values.show(data)}"]
        )
    return data


def _compose_and_construct(text: str) -> Any:
    """The file's data, its aliases checked between composing and constructing it."""
    loader = _TextLoader(text)  # a SafeLoader subclass: no arbitrary objects
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_aliases(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_aliases(root: yaml.Node) -> None:
    """RegistryError when aliases expand the file by more than MAX_ALIAS_NODES nodes, or refer
    to themselves. Each node is sized once, so this takes time in the file's length."""
    sizes: dict[int, int] = {}
    busy: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in busy:
            raise RegistryError([f"an alias refers to itself (line {node.start_mark.line + 1})"])
        busy.add(key)
        children: list = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        sizes[key] = 1 + sum(size(child) for child in children)
        busy.discard(key)
        return sizes[key]

    expanded = size(root)
    if expanded - len(sizes) > MAX_ALIAS_NODES:
        raise RegistryError(
            [
                f"aliases (*name) expand the file to {expanded} values; at most "
                f"{MAX_ALIAS_NODES} more than it spells out are read"
            ]
        )
