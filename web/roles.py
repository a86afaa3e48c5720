"""The one decorator views use to ask what a role may do (hallwatch.access.PERMISSIONS)."""

from __future__ import annotations

from functools import wraps

from flask import jsonify, render_template, request
from flask_login import current_user, login_required

from hallwatch.access import may


def can(user, permission: str) -> bool:
    """Whether a (possibly anonymous) user holds `permission` (hallwatch.access.PERMISSIONS)."""
    return bool(getattr(user, "is_authenticated", False)) and may(user, permission)


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
