"""Window page: a day's timeline as a band of states, the events behind it, its devices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import format_datetime, gettext, lazy_gettext
from flask_login import current_user

from hallwatch.events import BadgeRead, DeviceStatus, Event, Heartbeat, PresenceReport
from hallwatch.registry.spec import Registry
from hallwatch.schedule import DaySchedule, day_of
from web.dayview import BadDay, DayView, clock, load_day, parse_day
from web.pages import STATE_ICONS, STATE_WORDS, STATES
from web.roles import permission_required
from web.scope import visible_windows
from web.timeline_band import band_range, bars, ticks
from web.unavailable import frame_if_store_down

bp = Blueprint("window", __name__)

EVENTS_SHOWN = 500  # the day's last ones; a badge reader on a busy desk stays far below
DEVICE_KINDS = {
    "badge_reader": lazy_gettext("读卡器"),
    "presence_sensor": lazy_gettext("在位传感器"),
}
EVENT_KINDS = {
    BadgeRead: lazy_gettext("刷卡"),
    PresenceReport: lazy_gettext("在位"),
    Heartbeat: lazy_gettext("心跳"),
    DeviceStatus: lazy_gettext("状态"),
}


@bp.get("/windows/<window_id>")
@permission_required("read_hall")
def show(window_id: str):
    """`?day=YYYY-MM-DD` (default today, hall time)."""
    runtime = current_app.extensions["hallwatch"]
    registry = runtime.registry()
    if window_id not in visible_windows(current_user, registry):
        abort(404)  # another department's window does not exist for a department head
    window = registry.window_by_id[window_id]
    now = datetime.now(UTC)
    today = day_of(registry.hall, now)
    page = {"window": window, "department": registry.department_by_id.get(window.department)}
    try:
        day = parse_day(request.args.get("day"), today)
    except BadDay as exc:
        return render_template("window.html", **page, error=str(exc), day=today, view=None), 400
    then = runtime.day_registry(registry, day, now)  # a past day: its own names and roster
    if window_id in then.window_by_id:
        registry, window = then, then.window_by_id[window_id]
        page = {"window": window, "department": registry.department_by_id.get(window.department)}
    frame_if_store_down("window.html", **page, day=day, view=None)
    view = load_day(runtime, registry, day, now)
    return render_template(
        "window.html",
        **page,
        **_timeline(registry, view, window_id),
        **_events(registry, view, window_id),
        devices=_devices(registry, view, window_id),
        duties=_duties(registry, view.sweep.tracker.schedule, window_id),
        error=None,
        day=day,
        view=view,
        previous_day=_day_url(window_id, day - timedelta(days=1)),
        next_day=_day_url(window_id, day + timedelta(days=1)) if day < today else None,
    )


def _day_url(window_id: str, day) -> str:
    return url_for(".show", window_id=window_id, day=day.isoformat())


def _timeline(registry: Registry, view: DayView, window_id: str) -> dict:
    """The band over the opening hours, its ticks, and the segments as table rows."""
    start, end = band_range(view.sweep.tracker.schedule, window_id)
    # The sweep's segments end at `until`: the rest of today stays blank.
    found = bars(view.sweep.windows.get(window_id, []), start, end)
    tz = registry.hall.tz
    rows = []
    for bar in found:
        span = f"{clock(bar.start, view.end)}–{clock(bar.end, view.end)}"
        rows.append(
            {
                "bar": bar,
                "word": STATE_WORDS[bar.state],
                "icon": STATE_ICONS[bar.state],
                "span": span,
                "title": f"{STATE_WORDS[bar.state]} {span}",
                "minutes": round((bar.end - bar.start).total_seconds() / 60, 1),
                "replay": url_for("pages.floor", at=bar.start.astimezone(tz).isoformat()),
            }
        )
    return {
        "segments": rows,
        "ticks": [(t, clock(t.at, view.end)) for t in ticks(start, end)],
        "band": (clock(start), clock(end, view.end)),
        "states": STATES,
        "words": STATE_WORDS,
        "icons": STATE_ICONS,
    }


def _duties(registry: Registry, schedule: DaySchedule, window_id: str) -> list[dict]:
    """Who is rostered at the window on the day, when, and their leave."""
    staff = registry.staff_by_id

    def spans(intervals) -> str:
        return ", ".join(f"{clock(a, schedule.end)}–{clock(b, schedule.end)}" for a, b in intervals)

    return [
        {"name": staff[d.staff].name, "periods": spans(d.periods), "leave": spans(d.leave)}
        for d in schedule.duties
        if d.window == window_id
    ]


def _relevant(registry: Registry, window_id: str, rostered: set[str]):
    desk = {d.id for d in registry.devices if d.window == window_id}

    def relevant(event: Event) -> bool:
        if event.device in desk:
            return True
        # The window's own people read elsewhere (an office reader, another desk) change it too.
        person = registry.holder_of(event.uid) if isinstance(event, BadgeRead) else None
        return person is not None and person.id in rostered

    return relevant


def _events(registry: Registry, view: DayView, window_id: str) -> dict:
    """The day's events behind the window's states, the last EVENTS_SHOWN of them."""
    rostered = {d.staff for d in view.sweep.tracker.schedule.duties if d.window == window_id}
    relevant = _relevant(registry, window_id, rostered)
    found = [e for e in view.during if relevant(e)]
    return {
        "events": [_event_row(registry, e) for e in found[-EVENTS_SHOWN:]],
        "events_total": len(found),
        "events_shown": EVENTS_SHOWN,
    }


def _event_row(registry: Registry, event: Event) -> dict:
    device = registry.device_by_id.get(event.device)
    details: list[str] = []
    if isinstance(event, BadgeRead):
        person = registry.holder_of(event.uid)
        details.append(person.name if person else gettext("未登记的卡 %(uid)s", uid=event.uid))
        if device is not None and device.window is None:
            details.append(gettext("在本单位读卡"))
        else:
            details.append(gettext("签到") if event.action == "in" else gettext("签退"))
    elif isinstance(event, PresenceReport):
        details.append(gettext("有人") if event.occupied else gettext("无人"))
    elif isinstance(event, DeviceStatus):
        details.append(gettext("上线") if event.online else gettext("离线"))
    elif isinstance(event, Heartbeat):
        for key, value in sorted(event.extra.items()):
            if key == "battery":
                details.append(gettext("电量 %(pct)s%%", pct=f"{value:g}"))
            else:
                details.append(f"{key} {value:g}")
    device_time = getattr(event, "device_time", None)
    if device_time:
        details.append(gettext("设备时钟 %(time)s", time=device_time))
    return {
        "time": format_datetime(event.at, "HH:mm:ss"),
        "device": event.device,
        "office": device is not None and device.window is None,
        "kind": EVENT_KINDS[type(event)],
        "details": details,
    }


def _devices(registry: Registry, view: DayView, window_id: str) -> list[dict]:
    """The desk's devices as known at the end of what was swept (now, for today)."""
    tracker = view.sweep.tracker
    found = []
    for device in registry.devices:
        if device.window != window_id:
            continue
        facts = tracker.devices.get(device.id)
        last_seen = facts.last_seen if facts else None
        battery = facts.extra.get("battery") if facts else None
        found.append(
            {
                "id": device.id,
                "kind": DEVICE_KINDS.get(device.kind, device.kind),
                "last_seen": (
                    format_datetime(last_seen, "yyyy-MM-dd HH:mm")
                    if last_seen and day_of(registry.hall, last_seen) != view.day
                    else format_datetime(last_seen, "HH:mm:ss")
                    if last_seen
                    else None
                ),
                "online": None
                if last_seen is None
                else tracker.device_online(device.id, view.until),
                "battery": f"{battery:g}" if battery is not None else None,
            }
        )
    return found
