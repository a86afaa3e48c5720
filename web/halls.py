"""Which hall a request is about, on a deployment of several (docs/MULTI-HALL.md).

`?hall=ID` on any page or API call picks the hall; without it, the first hall the
user may see. A hall the user may not see, or none by that id, is 404 — the
same answer as for a window that does not exist. Every URL the page builds
carries the hall on, so links, forms and the floor's polling stay in it.
A single-hall deployment takes no `hall` and looks exactly as before.
"""

from __future__ import annotations

from flask import Flask, abort, current_app, g, has_request_context, request
from flask_login import current_user

import devices
from hallwatch.access import Scope
from hallwatch.registry.deployment import Deployment

HALL_ARG = "hall"


def allowed_halls(user, deployment: Deployment) -> list[str]:
    """The ids of the halls `user` may see, in deployment order (hallwatch.access.Scope).

    A department head sees their department's hall; a user limited to halls, those;
    everyone else (and the anonymous, who see only public pages) every hall.
    """
    return Scope.of(user).halls_in(deployment)


def rejections_seen_by(user, deployment: Deployment, rows: list[dict]) -> list[dict]:
    """Kept rejections `user` may see: all for one who sees every hall; for a user limited to
    some, only those whose topic names a device of one of their halls (`devices.owner`)."""
    allowed = allowed_halls(user, deployment)
    if set(allowed) >= set(deployment.ids):
        return rows
    halls = [deployment.by_id[h] for h in allowed]
    return [r for r in rows if any(devices.owner(r.get("topic", ""), h) for h in halls)]


def selected_hall() -> str | None:
    """The hall of this request on a deployment of several; None on a single hall."""
    return g.get("hall") if has_request_context() else None


def _deployment() -> Deployment:
    return current_app.extensions["hallwatch"].deployment()


def _choose_hall() -> None:
    """Before each request: settle `g.hall`, or 404 for a hall the user may not see."""
    g.hall = None
    if request.endpoint == "static":
        return
    asked = request.args.get(HALL_ARG)
    try:
        deployment = _deployment()
    except Exception:  # the database is away: the views (and /healthz) say so
        return
    if deployment.single and asked is None:
        return  # as before several halls: not even the user is looked at
    allowed = allowed_halls(current_user, deployment)
    if asked is not None:
        if asked not in allowed:
            abort(404, description=f"no hall {asked!r} here")
        g.hall = None if deployment.single else asked
    elif not deployment.single:
        g.hall = allowed[0] if allowed else deployment.first.hall.id


def _carry_hall(endpoint: str, values: dict) -> None:
    """URLs built during a request in a hall stay in that hall."""
    hall = g.get("hall")
    if hall is not None and endpoint != "static" and HALL_ARG not in values:
        values[HALL_ARG] = hall


def hall_menu() -> dict:
    """For the templates: `halls`, the (id, name) of each hall the user may switch to (none when
    there is only one), and `hall_id`, the current one."""
    try:
        deployment = _deployment()
    except Exception:  # the database is away
        return {"halls": [], "hall_id": None}
    allowed = allowed_halls(current_user, deployment)
    halls = [(h, deployment.by_id[h].hall.name) for h in allowed]
    return {"halls": halls if len(halls) > 1 else [], "hall_id": g.get("hall")}


def init_app(app: Flask) -> None:
    """Pick each request's hall and hand it to the runtime (`Runtime.registry()`)."""
    app.extensions["hallwatch"].hall_chooser = selected_hall
    app.before_request(_choose_hall)
    app.url_defaults(_carry_hall)
    app.context_processor(hall_menu)
