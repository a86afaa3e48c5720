"""Department pages: its windows, its people today, its alerts (a phone-sized layout)."""

from __future__ import annotations

from flask import Blueprint, abort

from web.roles import permission_required

bp = Blueprint("department", __name__)


@bp.get("/departments")
@permission_required("read_hall")
def index():
    """Every department the user may see (a department head goes straight to their own)."""
    abort(501)


@bp.get("/departments/<dept_id>")
@permission_required("read_hall")
def show(dept_id: str):
    abort(501)
