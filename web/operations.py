"""Operations pages (hall managers, admins; inspectors read): devices, rejected
messages, unknown cards, registry upload, users.

The read pages live here; registering an unknown card is web/ops_cards.py, the
registry upload and download web/ops_registry.py, the user administration
web/ops_users.py. Inspectors read the first three and change nothing; registering
a card and the registry need `operate`, the users `administer` (web/roles.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import format_datetime, format_timedelta, gettext, lazy_gettext
from flask_login import current_user

from hallwatch.cards import printed_number
from hallwatch.influx.client import QueryError
from hallwatch.registry.spec import Registry
from web import api, ops_cards, ops_registry, ops_users
from web.halls import rejections_seen_by
from web.ops_devices import DEVICE_STATES, device_lines, state_counts
from web.roles import permission_required
from web.unavailable import store_down_text

bp = Blueprint("ops", __name__, url_prefix="/ops")

DEFAULT_LOOKBACK_HOURS = 24
LOOKBACK_CHOICES = (1, 24, 24 * 7, 24 * 31)  # the links offered beside ?hours=
PAYLOAD_PREVIEW_CHARS = 120  # longer payloads show in full inside a <details>

KIND_WORDS = {
    "badge_reader": lazy_gettext("读卡器"),
    "presence_sensor": lazy_gettext("在位传感器"),
}
DEVICE_STATE_WORDS = {"online": lazy_gettext("在线"), "offline": lazy_gettext("离线")}
HEALTH_WORDS = {
    "database": lazy_gettext("数据库"),
    "influx": lazy_gettext("事件库 (InfluxDB)"),
    "mqtt": lazy_gettext("消息代理 (MQTT)"),
}
CHECK_WORDS = {"ok": lazy_gettext("正常"), "down": lazy_gettext("不可用")}
# Labels of further figures /healthz reports (the collector's spool depth, when it does):
# the devices page lists every other key of /healthz below the checks, labelled from here.
INGEST_WORDS = {
    "spool_points": lazy_gettext("磁盘缓冲:待写入点数"),
    "spool_bytes": lazy_gettext("磁盘缓冲:字节"),
    "spool_oldest": lazy_gettext("磁盘缓冲:最早一批写入时间"),
    "spool_corrupt": lazy_gettext("磁盘缓冲:损坏的段(已移至一旁,请检查)"),
    "collector_write_errors": lazy_gettext("采集进程写入 InfluxDB 失败"),
    "collector_registry_errors": lazy_gettext("采集进程读不到登记库"),
}


def _runtime():
    return current_app.extensions["hallwatch"]


@bp.app_template_filter("ops_time")
def ops_time(at: datetime | None) -> str:
    """An instant as hall wall-clock date and time (empty for none)."""
    return format_datetime(at, "yyyy-MM-dd HH:mm:ss") if at else ""


@bp.app_template_filter("ops_ago")
def ops_ago(at: datetime | None) -> str:
    """How long before now an instant was, in words ("5 分钟前")."""
    if at is None:
        return ""
    return format_timedelta(at - datetime.now(UTC), add_direction=True, threshold=1.0)


def _lookback() -> tuple[float, str | None]:
    """`?hours=` (default 24) and an error in words if it is not usable (then the default)."""
    text = request.args.get("hours", str(DEFAULT_LOOKBACK_HOURS))
    try:
        hours = float(text)
    except ValueError:
        return DEFAULT_LOOKBACK_HOURS, gettext("回溯小时数必须是数字:%(value)s", value=text)
    if not 0 < hours <= api.MAX_LOOKBACK_HOURS:
        return DEFAULT_LOOKBACK_HOURS, gettext(
            "回溯小时数必须在 0 到 %(max)s 之间", max=api.MAX_LOOKBACK_HOURS
        )
    return hours, None


def _hours_text(hours: float) -> str:
    return f"{hours:g}"


# --- devices -------------------------------------------------------------------------------


def _health() -> dict:
    """Exactly what GET /healthz reports (database, influx, mqtt; later also the spool)."""
    response, _status = api.healthz()
    return response.get_json()


@bp.get("/devices")
@permission_required("read_operations")
def devices():
    runtime = _runtime()
    registry = runtime.registry()
    now = datetime.now(UTC)
    error = None
    try:
        lines = device_lines(registry, runtime.history(registry, now), now)
    except QueryError as exc:
        error = store_down_text(exc)
        lines = device_lines(registry, (), now)  # the registry still lists every device
    counts = state_counts(lines)
    wanted = request.args.get("state", "all")
    shown = [line for line in lines if wanted not in DEVICE_STATES or line.state == wanted]
    return render_template(
        "ops_devices.html",
        lines=shown,
        counts=counts,
        total=len(lines),
        wanted=wanted if wanted in DEVICE_STATES else "all",
        error=error,
        health=_health(),
        health_words=HEALTH_WORDS,
        check_words=CHECK_WORDS,
        ingest_words=INGEST_WORDS,
        kinds=KIND_WORDS,
        state_words=DEVICE_STATE_WORDS,
        windows=registry.window_by_id,
        departments={d.id: d.name for d in registry.departments},
        offline_after=f"{registry.hall.offline_after_minutes:g}",
    )


# --- rejected messages ---------------------------------------------------------------------


@bp.get("/rejected")
@permission_required("read_operations")
def rejected():
    hours, error = _lookback()
    status = 400 if error else 200
    end = datetime.now(UTC)
    rows: list[dict] = []
    if error is None:
        try:
            start = end - timedelta(hours=hours)
            runtime = _runtime()
            rows = runtime.store.rejected(start, end, limit=api.MAX_LISTED)
            rows = rejections_seen_by(current_user, runtime.deployment(), rows)
        except QueryError as exc:
            error, status = store_down_text(exc), 503
    return render_template(
        "ops_rejected.html",
        rows=rows,
        hours=_hours_text(hours),
        choices=LOOKBACK_CHOICES,
        cap=api.MAX_LISTED,
        preview=PAYLOAD_PREVIEW_CHARS,
        error=error,
    ), status


# --- unknown cards -------------------------------------------------------------------------


@dataclass
class UnknownCard:
    """One card at one reader: how often and when it was read."""

    uid: str  # canonical hex (hallwatch.cards.card_hex)
    device: str
    count: int
    first: datetime
    last: datetime

    @property
    def printed(self) -> str | None:
        """The ten-digit decimal number printed on a 125 kHz card (None for no card number)."""
        return printed_number(self.uid)


def group_unknown(
    reads: Iterable[dict], registry: Registry, devices: frozenset[str] | None = None
) -> list[UnknownCard]:
    """Reads of unregistered cards grouped by (card, reader), most recently seen first.

    A card registered since it was read is left out: it is no longer unknown. With
    `devices`, only reads at those (a hall's own, on a deployment of several) are kept.
    """
    cards: dict[tuple[str, str], UnknownCard] = {}
    for read in reads:
        if registry.holder_of(read["uid"]) is not None:
            continue
        if devices is not None and read["device"] not in devices:
            continue
        uid = read["uid"]  # canonical, as the event store reads it back
        card = cards.get((uid, read["device"]))
        if card is None:
            cards[uid, read["device"]] = UnknownCard(
                uid, read["device"], 1, read["time"], read["time"]
            )
        else:
            card.count += 1
            card.first, card.last = min(card.first, read["time"]), max(card.last, read["time"])
    return sorted(cards.values(), key=lambda c: c.last, reverse=True)


def _unknown_cards_page(refused: ops_cards.Refusal | None = None):
    """The page of unknown cards, with the registration forms for those who may operate."""
    runtime = _runtime()
    registry = runtime.registry(fresh=True)  # one small query: a card registered is gone at once
    hours, error = _lookback()
    status = 400 if error or refused else 200
    end = datetime.now(UTC)
    cards: list[UnknownCard] = []
    if error is None:
        try:
            reads = runtime.store.unknown_cards(end - timedelta(hours=hours), end)
            devices = runtime.hall_devices(registry)
            cards = group_unknown(reads, registry, devices)[: api.MAX_LISTED]
        except QueryError as exc:
            error, status = store_down_text(exc), 503
    return render_template(
        "ops_unknown_cards.html",
        cards=cards,
        hours=_hours_text(hours),
        choices=LOOKBACK_CHOICES,
        cap=api.MAX_LISTED,
        error=error,
        devices=registry.device_by_id,
        windows=registry.window_by_id,
        departments={d.id: d.name for d in registry.departments},
        reader_departments={
            d.id: ops_cards.reader_department(d, registry) for d in registry.devices
        },
        groups=ops_cards.staff_groups(registry),
        forms_max=ops_cards.REGISTER_FORMS_MAX,
        refused=refused,
        refused_listed=refused is not None and any(c.uid == refused.card for c in cards),
    ), status


@bp.get("/unknown-cards")
@permission_required("read_operations")
def unknown_cards():
    return _unknown_cards_page()


@bp.post("/unknown-cards")
@permission_required("operate")
def register_card():
    """Register a listed card to a person: the same validation as an import."""
    refused = ops_cards.register_from_form()
    if refused is not None:
        return _unknown_cards_page(refused)
    return redirect(url_for("ops.unknown_cards", hours=request.args.get("hours")))


# --- registry upload and users (their own modules) -----------------------------------------


@bp.route("/registry", methods=["GET", "POST"])
@permission_required("operate")
def registry():
    """Upload a registry file: the same validation as `hallwatch import`."""
    return ops_registry.page()


@bp.route("/registry/preview/<digest>", methods=["GET", "POST"])
@permission_required("operate")
def registry_preview(digest: str):
    """What an uploaded registry file would change, and its confirmation."""
    return ops_registry.preview(digest)


@bp.get("/registry.yaml")
@permission_required("operate")
def registry_yaml():
    """The registry in the database as a file to edit and upload again."""
    return ops_registry.download()


@bp.get("/users")
@permission_required("administer")
def users():
    return ops_users.list_page()


@bp.post("/users")
@permission_required("administer")
def add_user():
    return ops_users.add()


@bp.post("/users/<int:user_id>")
@permission_required("administer")
def edit_user(user_id: int):
    return ops_users.edit(user_id)


@bp.post("/users/<int:user_id>/delete")
@permission_required("administer")
def delete_user(user_id: int):
    return ops_users.delete(user_id)
