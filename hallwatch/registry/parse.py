"""Read the registry file (docs/REGISTRY.md) into a `Registry`, reporting every problem at once.

Pure: no database, no clock. Every scalar is read as text and converted per key,
so `09:00`, `001` or `2026-12-31` mean the same quoted or not.

Two forms (docs/MULTI-HALL.md): one `hall:` with the sections beside it (docs/REGISTRY.md,
a deployment of one hall whose id is `main`), or `halls:`, a
list of halls each with its `id`, its settings and its own sections. Ids, cards and
firmware names are unique across the whole file; references stay within a hall.

The file's YAML is loaded by hallwatch.registry.file; each hall's entries are read by
hallwatch.registry.entries. This module holds the two forms around them.
"""

from __future__ import annotations

from typing import Any

from hallwatch.registry import values
from hallwatch.registry.deployment import Deployment
from hallwatch.registry.entries import HALL_KEYS, Entry, HallParser, Unique
from hallwatch.registry.file import (
    HALL_ID_KEY,
    HALLS,
    REVISION,
    SECTIONS,
    RegistryError,
    file_revision,
    load_yaml,
)
from hallwatch.registry.spec import HallSettings, Registry


def _sections(parser: HallParser, data: dict[Any, Any], settings: HallSettings) -> Registry:
    """One hall's sections, read in dependency order."""
    departments = parser.department_list(data.get("departments"))
    windows = parser.window_list(data.get("windows"))
    staff = parser.staff_list(data.get("staff"))
    devices = parser.device_list(data.get("devices"))
    roster = parser.roster_list(data.get("roster"))
    leave = parser.leave_list(data.get("leave"))
    swaps = parser.swap_list(data.get("swaps"))
    return Registry(
        hall=settings,
        departments=tuple(departments),
        windows=tuple(windows),
        staff=tuple(staff),
        devices=tuple(devices),
        roster=tuple(roster),
        leave=tuple(leave),
        swaps=tuple(swaps),
    )


def _one_hall(data: dict[Any, Any], problems: list[str]) -> Registry:
    """The docs/REGISTRY.md form: `hall:` and the sections at the top level."""
    problems += [
        f"top level: unknown key '{key}' (expected {', '.join(SECTIONS)})"
        for key in data
        if key not in (*SECTIONS, REVISION)
    ]
    parser = HallParser(problems)
    return _sections(parser, data, parser.hall(data.get("hall")))


def _beside_halls(key: Any) -> str:
    """The problem with a top-level key next to `halls:`."""
    if key == "hall":
        return f"top level: key 'hall': a file has either 'hall' (one hall) or '{HALLS}', not both"
    if key in SECTIONS:
        return f"top level: key '{key}': with '{HALLS}' it belongs inside each hall"
    return f"top level: unknown key '{key}' (expected {HALLS})"


def _several_halls(data: dict[Any, Any], problems: list[str]) -> list[Registry]:
    """The `halls:` form: a list of halls, each with its id, settings and own sections."""
    problems += [_beside_halls(key) for key in data if key not in (HALLS, REVISION)]
    listed = data[HALLS]
    if not isinstance(listed, list) or not listed:
        problems.append(f"{HALLS}: expected a non-empty list of halls, got {values.show(listed)}")
        return []
    unique, halls, seen = Unique(), [], {}
    for index, item in enumerate(listed):
        where = f"{HALLS}[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: expected a mapping, got {values.show(item)}")
            continue
        label = item.get(HALL_ID_KEY)
        if isinstance(label, str) and len(label) <= values.MAX_TEXT_LEN:
            where += f" (id {label})"
        e = Entry(where, item, problems)
        e.allow_keys((HALL_ID_KEY, *HALL_KEYS, *SECTIONS[1:]))
        hall_id = e.get(HALL_ID_KEY, values.ident, required=True)
        if hall_id in seen:
            e.report(f"duplicate id '{hall_id}' (also {HALLS}[{seen[hall_id]}])", HALL_ID_KEY)
        elif hall_id is not None:
            seen[hall_id] = index
        parser = HallParser(problems, prefix=f"{where}.", unique=unique)
        settings = parser.settings(e, hall_id or f"{HALLS}[{index}]")
        halls.append(_sections(parser, item, settings))
    return halls


def parse_deployment(text: str) -> Deployment:
    """Every hall in `text` (YAML, either form), or RegistryError listing every problem found."""
    return read_registry_file(text)[0]


def read_registry_file(text: str) -> tuple[Deployment, int | None]:
    """`parse_deployment`, with the file's `revision:` (None when it names none)."""
    data = load_yaml(text)
    problems: list[str] = []
    revision = file_revision(data, problems)
    if HALLS in data:
        halls = _several_halls(data, problems)
    else:
        halls = [_one_hall(data, problems)]
    if problems:
        raise RegistryError(problems)
    return Deployment(tuple(halls)), revision


def parse_registry(text: str) -> Registry:
    """The one hall in `text` (YAML), or RegistryError listing every problem found.

    A file of several halls is refused here: read it with `parse_deployment`.
    """
    deployment = parse_deployment(text)
    if not deployment.single:
        raise RegistryError(
            [f"{HALLS}: {len(deployment.halls)} halls where one was expected (parse_deployment)"]
        )
    return deployment.first
