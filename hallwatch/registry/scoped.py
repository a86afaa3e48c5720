"""A registry change by someone limited to some halls touches only those halls.

The file they upload holds their halls (the download gives them only those): each replaces
the hall of the same id, one of theirs missing from the file is retired, and every other
hall stays exactly as it is. A file naming a hall outside theirs is refused whole.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from hallwatch.registry.deployment import Deployment
from hallwatch.registry.parse import RegistryError
from hallwatch.registry.spec import Registry


def within_halls(
    current: Sequence[Registry], uploaded: Deployment, halls: Collection[str]
) -> Deployment:
    """The deployment `uploaded` makes when its author may change only `halls`: the other
    halls of `current` kept as they are, in their order. RegistryError for a hall of the
    file outside `halls`."""
    mine = ", ".join(sorted(halls))
    outside = [
        f"halls[{index}] (id {r.hall.id}): not one of the halls you manage ({mine})"
        for index, r in enumerate(uploaded.halls)
        if r.hall.id not in halls
    ]
    if outside:
        raise RegistryError(outside)
    new = uploaded.by_id
    merged = [new.get(r.hall.id) if r.hall.id in halls else r for r in current]
    known = {r.hall.id for r in current}
    merged += [r for r in uploaded.halls if r.hall.id not in known]
    kept = tuple(r for r in merged if r is not None)
    if not kept:
        raise RegistryError(["the file would retire every hall"])
    return Deployment(kept)
