"""Alerts page: filter by kind, department and status; acknowledge with a note; history."""

from __future__ import annotations

from flask import Blueprint, abort

from web.roles import permission_required

bp = Blueprint("alert_pages", __name__)


@bp.get("/alerts")
@permission_required("read_hall")
def index():
    abort(501)


@bp.post("/alerts/<int:alert_id>/ack")
@permission_required("acknowledge")
def ack(alert_id: int):
    abort(501)
