"""Roles as data: what each role may do, and the one decorator views use to ask."""

from __future__ import annotations

from functools import wraps

from flask import jsonify, render_template, request
from flask_login import current_user, login_required

# Permission → roles holding it. A dept_head reads only their department (web.scope).
PERMISSIONS: dict[str, frozenset[str]] = {
    "read_hall": frozenset({"admin", "hall_manager", "dept_head", "inspector"}),
    "read_operations": frozenset({"admin", "hall_manager", "inspector"}),
    "operate": frozenset({"admin", "hall_manager"}),
    "acknowledge": frozenset({"admin", "hall_manager", "dept_head"}),
    "administer": frozenset({"admin"}),
    "appeal": frozenset({"dept_head"}),  # file and withdraw appeals, their department's only
    "decide_appeals": frozenset({"admin", "hall_manager"}),
}


def can(user, permission: str) -> bool:
    """Whether a (possibly anonymous) user holds `permission`."""
    return bool(getattr(user, "is_authenticated", False)) and user.role in PERMISSIONS[permission]


def permission_required(permission: str):
    """Log in first (401/redirect), then 403 unless the user's role holds `permission`."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not can(current_user, permission):
                return forbidden(permission)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def forbidden(permission: str):
    """403: JSON for the API, a page for people."""
    if request.path.startswith("/api/"):
        return jsonify(error=f"your role may not do this ({permission})"), 403
    return render_template("forbidden.html"), 403
