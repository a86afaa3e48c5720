"""Window page: a day's timeline as a band of states, the events behind it, its devices."""

from __future__ import annotations

from flask import Blueprint, abort

from web.roles import permission_required

bp = Blueprint("window", __name__)


@bp.get("/windows/<window_id>")
@permission_required("read_hall")
def show(window_id: str):
    """`?day=YYYY-MM-DD` (default today, hall time)."""
    abort(501)
