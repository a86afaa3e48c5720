"""Department pages: its windows, its people today, its alerts (a phone-sized layout).

A department head sees only their own department: another one's page is a 404,
as if it did not exist. What a window's state is and whether someone is absent
come from the one state function and the alert rules (via the day's sweep).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import format_datetime, gettext, lazy_gettext
from flask_login import current_user
from sqlalchemy import or_, select

from alerts.records import visible_to
from hallwatch.access import DEPT_HEAD
from hallwatch.day_people import PersonDay, people_of_day
from hallwatch.influx.client import QueryError
from hallwatch.registry.alerting import AlertRow
from hallwatch.registry.spec import Registry
from hallwatch.schedule import day_of
from web.dayview import BadDay, DayView, clock, load_day, parse_day
from web.pages import ALERT_KIND_WORDS, STATE_ICONS, STATE_WORDS, STATES
from web.roles import permission_required
from web.scope import visible_departments
from web.unavailable import frame_if_store_down, store_down_text

bp = Blueprint("department", __name__)

ALERTS_SHOWN = 100  # open ones and the day's; the alerts page has the rest
PERSON_WORDS = {
    "signed_in": lazy_gettext("已签到"),
    "late": lazy_gettext("迟到"),
    "pending": lazy_gettext("待签到"),
    "absent": lazy_gettext("未签到"),
    "pulled_back": lazy_gettext("被抽回"),
    "on_leave": lazy_gettext("请假"),
    "not_rostered": lazy_gettext("今日无排班"),
}
PAST_PERSON_WORDS = {**PERSON_WORDS, "not_rostered": lazy_gettext("当日无排班")}
PERSON_ICONS = {
    "signed_in": "✔",
    "late": "⏱",
    "pending": "…",
    "absent": "✖",
    "pulled_back": "↩",
    "on_leave": "☂",
    "not_rostered": "–",
}
ALERT_STATUS_WORDS = {  # AlertRow.status, as on the alerts page
    "open": lazy_gettext("待确认"),
    "acknowledged": lazy_gettext("已确认"),
    "resolved": lazy_gettext("已解除"),
}


def _runtime():
    return current_app.extensions["hallwatch"]


@bp.get("/departments")
@permission_required("read_hall")
def index():
    """Every department the user may see (a department head goes straight to their own)."""
    runtime = _runtime()
    registry = runtime.registry()
    allowed = visible_departments(current_user, registry)
    if current_user.role == DEPT_HEAD and allowed:
        return redirect(url_for(".show", dept_id=next(iter(allowed))))
    error, counts = None, {}
    try:
        registry, hall = runtime.hall_state(datetime.now(UTC))
        for state in hall.windows:
            department = registry.window_by_id[state.window].department
            counts.setdefault(department, dict.fromkeys(STATES, 0))[state.state] += 1
    except QueryError as exc:
        error = store_down_text(exc)
    departments = [d for d in registry.departments if d.id in allowed]
    return render_template(
        "department.html",
        listing=True,
        departments=departments,
        counts=counts,
        error=error,
        states=STATES,
        words=STATE_WORDS,
        icons=STATE_ICONS,
    )


@bp.get("/departments/<dept_id>")
@permission_required("read_hall")
def show(dept_id: str):
    """`?day=YYYY-MM-DD` (default today, hall time): windows, people and alerts of that day."""
    runtime = _runtime()
    registry = runtime.registry()
    if dept_id not in visible_departments(current_user, registry):
        abort(404)  # another department (or none at all): not found, not forbidden
    department = registry.department_by_id.get(dept_id)
    if department is None:
        abort(404)
    now = datetime.now(UTC)
    today = day_of(registry.hall, now)
    page = {
        "listing": False,
        "department": department,
        "states": STATES,
        "words": STATE_WORDS,
        "icons": STATE_ICONS,
    }
    try:
        day = parse_day(request.args.get("day"), today)
    except BadDay as exc:
        return render_template("department.html", **page, error=str(exc), day=today, view=None), 400
    frame_if_store_down("department.html", **page, day=day, view=None)
    registry = runtime.day_registry(registry, day, now)  # a past day: its own names and roster
    view = load_day(runtime, registry, day, now)
    return render_template(
        "department.html",
        **page,
        error=None,
        day=day,
        view=view,
        windows=_windows(registry, view, dept_id),
        people=_people(registry, view, now, dept_id),
        alerts=_alerts(registry, view, dept_id),
        person_words=PERSON_WORDS if view.is_today else PAST_PERSON_WORDS,
        person_icons=PERSON_ICONS,
        previous_day=url_for(".show", dept_id=dept_id, day=(day - timedelta(days=1)).isoformat()),
        next_day=(
            url_for(".show", dept_id=dept_id, day=(day + timedelta(days=1)).isoformat())
            if day < today
            else None
        ),
        all_alerts=url_for(
            "alert_pages.index",
            department=dept_id,
            status="all",
            **{"from": day.isoformat(), "to": day.isoformat()},
        ),
    )


def _windows(registry: Registry, view: DayView, dept_id: str) -> list[dict]:
    """The department's windows: state at the end of the view (now, today), minutes per state."""
    tracker = view.sweep.tracker
    staff = registry.staff_by_id
    found = []
    for window in registry.windows:
        if window.department != dept_id:
            continue
        state = tracker.window_state(window.id, view.until)
        minutes = dict.fromkeys(STATES, 0.0)
        for segment in view.sweep.windows.get(window.id, []):
            minutes[segment.state] += (segment.end - segment.start).total_seconds() / 60
        found.append(
            {
                "id": window.id,
                "name": window.name,
                "state": state.state,
                "since": clock(state.since),
                "signed_in": [staff[s.staff].name for s in state.signed_in if s.staff in staff],
                "staffed_minutes": round(minutes["staffed"]),
                "empty_minutes": round(minutes["empty"] + minutes["away"]),
                "link": _window_url(window.id, view),
            }
        )
    return found


def _window_url(window_id: str, view: DayView) -> str:
    """The window page of the same day (today's without `?day=`)."""
    day = {} if view.is_today else {"day": view.day.isoformat()}
    return url_for("window.show", window_id=window_id, **day)


def _people(registry: Registry, view: DayView, now: datetime, dept_id: str) -> list[dict]:
    """Everyone of the department, rostered first, with their day in one word and a note."""
    members = [s for s in registry.staff if s.department == dept_id]
    days = people_of_day(registry, view.sweep, now, [s.id for s in members])
    windows = registry.window_by_id
    rows = [
        {
            "name": member.name,
            "status": day.status,
            "window_links": [(windows[w].name, _window_url(w, view)) for w in day.windows],
            "notes": _notes(day, view),
        }
        for member, day in zip(members, days, strict=True)
    ]
    return sorted(rows, key=lambda r: r["status"] == "not_rostered")


def _notes(day: PersonDay, view: DayView) -> list[str]:
    notes = []
    if day.first_sign_in is not None:
        notes.append(gettext("签到 %(time)s", time=clock(day.first_sign_in)))
    if day.late_by is not None:
        minutes = max(1, round(day.late_by.total_seconds() / 60))
        notes.append(gettext("晚 %(minutes)s 分钟", minutes=minutes))
    if day.absences and day.status != "absent":
        notes.append(gettext("曾未按时签到"))
    if day.pull_backs:
        times = ", ".join(clock(e.since) for e in day.pull_backs)
        notes.append(gettext("被抽回 %(times)s", times=times))
    if day.leave:
        notes.append(
            gettext(
                "请假 %(spans)s",
                spans=", ".join(f"{clock(a, view.end)}–{clock(b, view.end)}" for a, b in day.leave),
            )
        )
    return notes


def _alerts(registry: Registry, view: DayView, dept_id: str) -> list[dict]:
    """The department's alerts still open, and those opened on the day."""
    query = (
        select(AlertRow)
        .where(
            *visible_to(current_user),
            AlertRow.department_id == dept_id,
            AlertRow.opened_at < view.end,
            or_(AlertRow.resolved_at.is_(None), AlertRow.opened_at >= view.start),
        )
        .order_by(AlertRow.opened_at.desc(), AlertRow.id.desc())
        .limit(ALERTS_SHOWN)
    )
    windows, staff = registry.window_by_id, registry.staff_by_id
    with _runtime().sessions() as db:
        rows = list(db.scalars(query))
    return [
        {
            "kind": row.kind,
            "kind_word": ALERT_KIND_WORDS.get(row.kind, row.kind),
            "who": " ".join(
                part
                for part in (
                    windows[row.window_id].name if row.window_id in windows else row.window_id,
                    staff[row.staff_id].name if row.staff_id in staff else row.staff_id,
                    row.device_id if row.kind == "device_offline" else None,
                )
                if part
            ),
            "opened": format_datetime(
                row.opened_at,
                "HH:mm" if day_of(registry.hall, row.opened_at) == view.day else "MM-dd HH:mm",
            ),
            "status": row.status,
            "status_word": ALERT_STATUS_WORDS.get(row.status, row.status),
            "message": row.message,
        }
        for row in rows
    ]
