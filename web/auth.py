"""Login: browser sessions (Flask-Login + a CSRF-protected form) and HTTP Basic for the API."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import (
    Blueprint,
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
from flask_login import LoginManager, UserMixin, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from hallwatch.registry.models import UserRow
from hallwatch.registry.users import authenticate

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()


@dataclass
class WebUser(UserMixin):
    """The signed-in user as the views see it (no ORM object outlives its session)."""

    user_id: int
    username: str
    role: str
    department_id: str | None

    def get_id(self) -> str:
        return str(self.user_id)

    @classmethod
    def of(cls, row: UserRow) -> WebUser:
        return cls(row.id, row.username, row.role, row.department_id)


class LoginForm(FlaskForm):
    username = StringField(
        lazy_gettext("用户名"), validators=[DataRequired(message=lazy_gettext("请输入用户名"))]
    )
    password = PasswordField(
        lazy_gettext("密码"), validators=[DataRequired(message=lazy_gettext("请输入密码"))]
    )


def init_app(app) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("请先登录。")
    login_manager.localize_callback = str  # the lazy message in the request's language
    csrf.init_app(app)
    app.register_blueprint(bp)


def _runtime():
    return current_app.extensions["hallwatch"]


@login_manager.user_loader
def load_user(user_id: str) -> WebUser | None:
    if not user_id.isdigit():
        return None
    with _runtime().sessions() as db:
        row = db.get(UserRow, int(user_id))
        return WebUser.of(row) if row else None


@login_manager.request_loader
def load_user_from_basic_auth(req) -> WebUser | None:
    """HTTP Basic credentials on any request (the JSON API's non-browser clients)."""
    auth = req.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        return None
    with _runtime().sessions() as db:
        row = authenticate(db, auth.username, auth.password or "")
        return WebUser.of(row) if row else None


@login_manager.unauthorized_handler
def unauthorized():
    if request.path.startswith("/api/"):
        response = jsonify(error="login required: a session or HTTP Basic credentials")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Basic realm="HallWatch", charset="UTF-8"'
        return response
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def safe_next(target: str | None) -> str:
    """Only a local path: never `//host`, `\\\\host` or a scheme."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return url_for("pages.floor")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
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
        with _runtime().sessions() as db:
            row = authenticate(db, form.username.data, form.password.data)
            user = WebUser.of(row) if row else None
        if user is not None:
            _clear_session()  # no session fixation
            login_user(user)
            return redirect(safe_next(request.args.get("next")))
        # The same answer for an unknown user and a wrong password.
        flash(gettext("用户名或密码错误。"))
    return render_template("login.html", form=form), 200 if request.method == "GET" else 401


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    _clear_session()
    return redirect(url_for("auth.login"))
