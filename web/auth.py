"""Login: browser sessions (Flask-Login + a CSRF-protected form) and HTTP Basic for the API."""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext, lazy_gettext
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from hallwatch.registry.models import ID_LEN, UserRow
from hallwatch.registry.sessions import close_session, open_session, session_user
from hallwatch.registry.throttle import (
    clear_failures,
    remember_good_address,
    reserve_attempt,
    retry_after,
    take_back,
)
from hallwatch.registry.users import authenticate
from web.audit_trail import note

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)
CLOCK = "HALLWATCH_CLOCK"  # app.config key: a callable giving the aware time now (tests set it)
login_manager = LoginManager()
csrf = CSRFProtect()
BASIC_CACHE = "hallwatch_basic_logins"  # app.extensions key of the app's BasicLoginCache
# A right HTTP Basic password is trusted again without scrypt (~95 ms of CPU) for this
# long. Each hit still compares the stored password hash, so a changed or reset password
# or a deleted user ends it at once; this TTL is only the longest it could ever last.
BASIC_CACHE_TTL_S = 60.0
BASIC_CACHE_SIZE = 1000  # entries; the oldest goes first
SESSION_TOKEN = "hw_session"  # session key: the token of hallwatch.registry.sessions


@dataclass
class WebUser(UserMixin):
    """The signed-in user as the views see it (no ORM object outlives its session)."""

    user_id: int
    username: str
    role: str
    department_id: str | None
    halls: tuple[str, ...] = ()  # limited to these halls; none: every hall

    def get_id(self) -> str:
        return str(self.user_id)

    @classmethod
    def of(cls, row: UserRow) -> WebUser:
        return cls(row.id, row.username, row.role, row.department_id, row.hall_codes)


class LoginForm(FlaskForm):
    username = StringField(
        lazy_gettext("用户名"), validators=[DataRequired(message=lazy_gettext("请输入用户名"))]
    )
    password = PasswordField(
        lazy_gettext("密码"), validators=[DataRequired(message=lazy_gettext("请输入密码"))]
    )


class BasicLoginCache:
    """Recent successful HTTP Basic checks: (name, salted SHA-256 of the password) → stored hash.

    Only successes are kept; the password itself never is, and the salt is random per
    process. Thread-safe (the web server answers on several threads).
    """

    def __init__(self, ttl_s: float = BASIC_CACHE_TTL_S, size: int = BASIC_CACHE_SIZE):
        self.ttl_s, self.size = ttl_s, size
        self._salt = secrets.token_bytes(16)
        self._entries: OrderedDict[tuple[str, bytes], tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, username: str, password: str) -> tuple[str, bytes]:
        digest = hashlib.sha256(self._salt + password.encode("utf-8", "surrogatepass"))
        return username, digest.digest()

    def holds(self, key: tuple[str, bytes], stored_hash: str) -> bool:
        """Whether `key` succeeded within the TTL against the very same stored hash."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False
            if entry[1] <= time.monotonic():
                del self._entries[key]
                return False
            return secrets.compare_digest(entry[0], stored_hash)

    def remember(self, key: tuple[str, bytes], stored_hash: str) -> None:
        with self._lock:
            self._entries[key] = (stored_hash, time.monotonic() + self.ttl_s)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


def init_app(app) -> None:
    app.extensions[BASIC_CACHE] = BasicLoginCache()
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("请先登录。")
    login_manager.localize_callback = str  # the lazy message in the request's language
    # "strong" would log a user out whenever their address changes (a phone between
    # networks, a proxy pool); "basic" only marks such a session as not fresh.
    login_manager.session_protection = "basic"
    csrf.init_app(app)
    app.register_blueprint(bp)


def _runtime():
    return current_app.extensions["hallwatch"]


def _now() -> datetime:
    clock: Callable[[], datetime] | None = current_app.config.get(CLOCK)
    return clock() if clock else datetime.now(UTC)


def _check_password(
    username: str, password: str, via: str
) -> tuple[WebUser | None, timedelta | None]:
    """(the user, None) when the password is theirs; else (None, how long to wait or None).

    A name or address that must wait is refused without looking at the password, and
    the attempt is not counted. A failure is counted against both, whether the name
    exists or not, so the answer and its timing are the same either way. Each outcome
    is recorded in the audit trail, a failure with its reason (bad password, locked,
    unknown user), which only the trail's readers see.
    """
    now, address = _now(), request.remote_addr
    with _runtime().sessions() as db:
        # Counted before the (slow) password check, so parallel guesses see each other.
        attempt = reserve_attempt(db, username, address, now)
        db.commit()
        wait = retry_after(db, username, address, now, before=min(attempt))
        if wait is not None:
            take_back(db, attempt)
            _note_login(db, username, via, now, "locked")
            db.commit()
            log.info("login as %r from %s (%s) refused: throttled", username, address, via)
            return None, wait
        row = authenticate(db, username, password)
        if row is not None:
            take_back(db, attempt)
            clear_failures(db, username)
            remember_good_address(db, username, address, now)
            _note_login(db, username, via, now)
            db.commit()
            return WebUser.of(row), None
        known = db.scalar(select(UserRow.id).where(UserRow.username == username))
        _note_login(db, username, via, now, "bad password" if known else "unknown user")
        db.commit()
        wait = retry_after(db, username, address, now)
    if wait is None:
        log.info("login as %r from %s (%s) failed", username, address, via)
    else:
        log.warning(
            "login as %r from %s (%s) failed; throttled for %d s",
            username,
            address,
            via,
            _seconds(wait),
        )
    return None, wait


def _note_login(db, username: str, via: str, now: datetime, failure: str | None = None) -> None:
    """A login (or a failed one, and why) in the trail; the actor is the name given."""
    facts = {"via": via} if failure is None else {"via": via, "reason": failure}
    action = "login" if failure is None else "login.failed"
    # A name is stored as given, but no longer than a user name may be.
    note(db, action, username[:ID_LEN], after=facts, who=username[:ID_LEN], now=now)


def _seconds(wait: timedelta) -> int:
    """A wait as whole seconds, rounded up (what Retry-After carries)."""
    return max(1, math.ceil(wait.total_seconds()))


@login_manager.user_loader
def load_user(user_id: str) -> WebUser | None:
    if not user_id.isdigit():
        return None
    with _runtime().sessions() as db:
        row = session_user(db, session.get(SESSION_TOKEN), _now())
        if row is None or row.id != int(user_id):
            return None  # logged out (a copied cookie), a new password, or a deleted user
        return WebUser.of(row)


@login_manager.request_loader
def load_user_from_basic_auth(req) -> WebUser | None:
    """HTTP Basic credentials on any request (the JSON API's non-browser clients)."""
    auth = req.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        return None
    password = auth.password or ""
    cache: BasicLoginCache = current_app.extensions[BASIC_CACHE]
    key = cache.key(auth.username, password)
    user, stored_hash = _recently_checked(cache, key)
    if user is not None:
        return user
    user, wait = _check_password(auth.username, password, "basic")
    if user is not None and stored_hash is not None:
        cache.remember(key, stored_hash)
    if wait is not None:
        response = jsonify(error=f"too many failed logins; try again in {_seconds(wait)} s")
        response.status_code = 429
        response.headers["Retry-After"] = str(_seconds(wait))
        abort(response)
    return user


def _recently_checked(
    cache: BasicLoginCache, key: tuple[str, bytes]
) -> tuple[WebUser | None, str | None]:
    """(the user, their stored hash) if `key` passed lately; else (None, the hash to cache).

    A throttled name or address is never let in from the cache: the full check refuses
    it as before. A hit does not clear the name's failures as a full check does, so
    throttling can only start sooner, never later.
    """
    username = key[0]
    with _runtime().sessions() as db:
        if retry_after(db, username, request.remote_addr, _now()) is not None:
            return None, None
        row = db.scalars(select(UserRow).where(UserRow.username == username)).one_or_none()
        if row is None:
            return None, None
        if cache.holds(key, row.password_hash):
            return WebUser.of(row), row.password_hash
        return None, row.password_hash


@login_manager.unauthorized_handler
def unauthorized():
    if request.path.startswith("/api/"):
        response = jsonify(error="login required: a session or HTTP Basic credentials")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Basic realm="HallWatch", charset="UTF-8"'
        return response
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def safe_next(target: str | None) -> str:
    """`target` if it is a path on this site, else the floor view.

    Browsers read `\\` as `/` and drop tabs and newlines anywhere in a URL, so
    `/\\evil`, `/\t/evil` and the like would leave the site: only a path starting
    with one `/`, with no backslash, whitespace or control character, is followed.
    """
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ch.isspace() or not ch.isprintable() for ch in target)
    ):
        return url_for("pages.floor")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("pages.floor")
    return target


def _clear_session() -> None:
    """Forget everything in the session but the chosen language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user, wait = _check_password(form.username.data, form.password.data, "form")
        if user is not None:
            _clear_session()  # no session fixation
            session.permanent = True  # expires after SESSION_IDLE_LIMIT without a request
            login_user(user)
            with _runtime().sessions() as db:
                row = db.get(UserRow, user.user_id)
                session[SESSION_TOKEN] = open_session(db, row, _now())
                db.commit()
            return redirect(safe_next(request.args.get("next")))
        if wait is not None:
            minutes = math.ceil(_seconds(wait) / 60)
            flash(gettext("登录失败次数过多,请 %(minutes)d 分钟后再试。", minutes=minutes))
            page = render_template("login.html", form=form)
            return page, 429, {"Retry-After": str(_seconds(wait))}
        # The same answer for an unknown user and a wrong password.
        flash(gettext("用户名或密码错误。"))
    return render_template("login.html", form=form), 401 if request.method == "POST" else 200


@bp.route("/logout", methods=["POST"])
def logout():
    with _runtime().sessions() as db:
        close_session(db, session.get(SESSION_TOKEN))  # a copy of the cookie is nobody now
        if current_user.is_authenticated:
            note(db, "logout", current_user.username, now=_now())
        db.commit()
    logout_user()
    _clear_session()
    return redirect(url_for("auth.login"))
