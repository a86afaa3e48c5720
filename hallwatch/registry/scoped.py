"""A registry change by someone limited to some halls touches only those halls.

The file they upload holds their halls (the download gives them only those): each replaces
the hall of the same id, one of theirs missing from the file is retired, and every other
hall stays exactly as it is. A file naming a hall outside theirs is refused whole.
"""

from __future__ import annotations

from collections.abc import Sequence

from hallwatch.access import Scope
from hallwatch.registry.deployment import Deployment
from hallwatch.registry.file import RegistryError
from hallwatch.registry.spec import Registry


def within_halls(current: Sequence[Registry], uploaded: Deployment, scope: Scope) -> Deployment:
    """The deployment `uploaded` makes when its author may change only the halls of `scope`:
    the other halls of `current` kept as they are, in their order. RegistryError for a hall
    of the file outside them."""
    mine = ", ".join(sorted(scope.halls))
    outside = [
        f"halls[{index}] (id {r.hall.id}): not one of the halls you manage ({mine})"
        for index, r in enumerate(uploaded.halls)
        if not scope.sees_hall(r.hall.id)
    ]
    if outside:
        raise RegistryError(outside)
    new = uploaded.by_id
    merged = [new.get(r.hall.id) if scope.sees_hall(r.hall.id) else r for r in current]
    known = {r.hall.id for r in current}
    merged += [r for r in uploaded.halls if r.hall.id not in known]
    kept = tuple(r for r in merged if r is not None)
    if not kept:
        raise RegistryError(["the file would retire every hall"])
    return Deployment(kept)
