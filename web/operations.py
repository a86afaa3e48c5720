"""Operations pages (hall managers, admins; inspectors read): devices, rejected
messages, unknown cards, registry upload, users."""

from __future__ import annotations

from flask import Blueprint, abort

from web.roles import permission_required

bp = Blueprint("ops", __name__, url_prefix="/ops")


@bp.get("/devices")
@permission_required("read_operations")
def devices():
    abort(501)


@bp.get("/rejected")
@permission_required("read_operations")
def rejected():
    abort(501)


@bp.get("/unknown-cards")
@permission_required("read_operations")
def unknown_cards():
    abort(501)


@bp.route("/registry", methods=["GET", "POST"])
@permission_required("operate")
def registry():
    """Upload a registry file: the same validation as `hallwatch import`."""
    abort(501)


@bp.get("/users")
@permission_required("administer")
def users():
    abort(501)


@bp.post("/users")
@permission_required("administer")
def add_user():
    abort(501)


@bp.post("/users/<int:user_id>")
@permission_required("administer")
def edit_user(user_id: int):
    abort(501)


@bp.post("/users/<int:user_id>/delete")
@permission_required("administer")
def delete_user(user_id: int):
    abort(501)
