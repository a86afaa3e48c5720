"""Browser sessions the server can end: one row per signed-in browser.

Flask keeps a session in a signed cookie, so without this a copy of the cookie would
stay good after logging out until it idles out. A login opens a row here and puts a
random token in the cookie; the user loader accepts the cookie only while the row
exists, is younger than `SESSION_MAX_AGE` and was opened under the user's current
password. Logging out deletes the row; a new password or deleting the user ends
every session of theirs. Only a hash of the token is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from hallwatch.registry.models import Base, UserRow, UTCDateTime

# However busy, a browser session ends this long after its login (OWASP: absolute timeout).
SESSION_MAX_AGE = timedelta(days=30)
TOKEN_BYTES = 32


class WebSessionRow(Base):
    """One signed-in browser session."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    password_fingerprint: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def open_session(session: Session, user: UserRow, now: datetime) -> str:
    """A new session of `user`: the token its cookie carries (caller commits)."""
    session.execute(delete(WebSessionRow).where(WebSessionRow.opened_at < now - SESSION_MAX_AGE))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        WebSessionRow(
            token_hash=_sha256(token),
            user_id=user.id,
            password_fingerprint=_sha256(user.password_hash),
            opened_at=now,
        )
    )
    session.flush()
    return token


def session_user(session: Session, token: object, now: datetime) -> UserRow | None:
    """The user whose live session carries `token`, or None."""
    if not isinstance(token, str) or not token:
        return None
    row = session.get(WebSessionRow, _sha256(token))
    if row is None or row.opened_at < now - SESSION_MAX_AGE:
        return None
    user = session.get(UserRow, row.user_id)
    if user is None or not secrets.compare_digest(
        row.password_fingerprint, _sha256(user.password_hash)
    ):
        return None
    return user


def close_session(session: Session, token: object) -> None:
    """End the session carrying `token`, if any (caller commits)."""
    if isinstance(token, str) and token:
        session.execute(delete(WebSessionRow).where(WebSessionRow.token_hash == _sha256(token)))
