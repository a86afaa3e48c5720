"""What the audit trail records of a user and of a notification channel, before and after.

Never a password or its hash (a changed one is recorded as "password": "changed"), never a
robot's or hook's URL in full (its token is in it: the host only), never a signing secret.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from hallwatch.registry.models import UserRow

PASSWORD_CHANGED = "changed"  # what a password change is recorded as
PASSWORD_SET = "set"  # what a new user's first password is recorded as


def user_facts(user: UserRow) -> dict[str, Any]:
    """A user as the trail records them: name, role, department, halls."""
    return {
        "username": user.username,
        "role": user.role,
        "department": user.department_id,
        "halls": list(user.hall_codes),
    }


def with_password(facts: dict[str, Any], word: str | None) -> dict[str, Any]:
    """`facts` saying the password was set or changed (`word`), or as they are (None)."""
    return {**facts, "password": word} if word else facts


def channel_target(kind: str, target: str) -> str:
    """An e-mail address in full; for robots and hooks only the host (their URLs hold tokens)."""
    return target if kind == "email" else urlsplit(target).netloc or "(URL)"


def channel_facts(kind: str, target: str, secret: str | None) -> dict[str, Any]:
    """A notification channel as the trail records it (no token, no secret)."""
    return {"kind": kind, "target": channel_target(kind, target), "signed": bool(secret)}
