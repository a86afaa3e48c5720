"""The words of an alert: its one-line Chinese message and the text of a notification.

Pure functions of (episode or alert row, registry): times are shown in the
hall's time zone, names come from the registry and fall back to the id when
an entry has left it (a retired window keeps its alerts readable).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hallwatch.alert_kinds import AlertKind, Episode
from hallwatch.registry.alerting import AlertRow
from hallwatch.registry.spec import Registry

KIND_LABELS: dict[str, str] = {
    "empty_window": "空岗",
    "absent": "未签到",
    "pulled_back": "被抽回",
    "device_offline": "设备离线",
    "withdrawn": "全天无人",
}
REASON_TAGS: dict[str, str] = {
    "opened": "",
    "reminder": "提醒·",
    "escalated": "升级·",
}
REASON_NOTES: dict[str, str] = {
    "opened": "",
    "reminder": "此告警仍未处理,再次提醒。",
    "escalated": "此告警超时无人确认,已升级通知管理员。",
}
CLOCK = "%H:%M"
STAMP = "%Y-%m-%d %H:%M"


def hall_clock(registry: Registry, at: datetime, fmt: str = CLOCK) -> str:
    """An instant as hall wall-clock time."""
    return at.astimezone(registry.hall.tz).strftime(fmt)


def window_name(registry: Registry, window: str | None) -> str:
    found = registry.window_by_id.get(window or "")
    return found.name if found else (window or "?")


def department_name(registry: Registry, department: str | None) -> str:
    found = registry.department_by_id.get(department or "")
    return found.name if found else (department or "?")


def staff_name(registry: Registry, staff: str | None) -> str:
    found = registry.staff_by_id.get(staff or "")
    return found.name if found else (staff or "?")


def _window_department(registry: Registry, episode: Episode) -> str:
    """The department of the episode's window, else the episode's own."""
    found = registry.window_by_id.get(episode.window or "")
    return department_name(registry, found.department if found else episode.department)


def _staff_department(registry: Registry, episode: Episode) -> str:
    found = registry.staff_by_id.get(episode.staff or "")
    return department_name(registry, found.department if found else episode.department)


def _empty_window(episode: Episode, registry: Registry) -> str:
    window = window_name(registry, episode.window)
    since = hall_clock(registry, episode.since)
    return f"{window}({_window_department(registry, episode)})空岗,座位自 {since} 起无人"


def _absent(episode: Episode, registry: Registry) -> str:
    person = staff_name(registry, episode.staff)
    where = _staff_department(registry, episode)
    if episode.window:
        where += f",{window_name(registry, episode.window)}"
    return f"{person}({where}){hall_clock(registry, episode.opened_at)} 仍未签到"


def _pulled_back(episode: Episode, registry: Registry) -> str:
    person = staff_name(registry, episode.staff)
    reader = registry.device_by_id.get(episode.device or "")
    office = department_name(registry, reader.department) if reader and reader.department else ""
    office = office or _staff_department(registry, episode)
    return f"{person} {hall_clock(registry, episode.since)} 在{office}办公室刷卡,被抽回单位"


def _device_offline(episode: Episode, registry: Registry) -> str:
    device = registry.device_by_id.get(episode.device or "")
    if device and device.department and not device.window:
        place = f"{department_name(registry, device.department)}办公室"
    else:
        place = window_name(registry, device.window if device else episode.window)
    since = hall_clock(registry, episode.since)
    return f"设备 {episode.device or '?'}({place})自 {since} 离线"


def _withdrawn(episode: Episode, registry: Registry) -> str:
    window = window_name(registry, episode.window)
    return f"{window}({_window_department(registry, episode)})今日全天无人在岗"


DESCRIBERS: dict[str, Callable[[Episode, Registry], str]] = {
    "empty_window": _empty_window,
    "absent": _absent,
    "pulled_back": _pulled_back,
    "device_offline": _device_offline,
    "withdrawn": _withdrawn,
}


def describe(episode: Episode, registry: Registry) -> str:
    """The alert's one-line Chinese message, times in the hall's time zone."""
    try:
        describer = DESCRIBERS[episode.kind]
    except KeyError:
        raise ValueError(f"no message for alert kind {episode.kind!r} ({episode.key})") from None
    return describer(episode, registry)


def episode_of(alert: AlertRow) -> Episode:
    """The episode an alert record stands for (enough of it to describe it)."""
    kind: AlertKind = alert.kind  # type: ignore[assignment]
    return Episode(
        kind=kind,
        key=alert.key,
        opened_at=alert.opened_at,
        since=alert.since,
        resolved_at=alert.resolved_at,
        window=alert.window_id,
        department=alert.department_id,
        staff=alert.staff_id,
        device=alert.device_id,
        resolution=alert.resolution,
    )


def alert_line(alert: AlertRow, registry: Registry) -> str:
    """The stored message of an alert, or one made now when none was stored."""
    return alert.message or describe(episode_of(alert), registry)


def alert_link(base_url: str, alert: AlertRow) -> str:
    """Where a recipient looks: the floor view as the hall is now."""
    return f"{base_url.rstrip('/')}/"


def _subject_place(alert: AlertRow, registry: Registry) -> str:
    if alert.staff_id:
        return staff_name(registry, alert.staff_id)
    if alert.window_id:
        return window_name(registry, alert.window_id)
    return alert.device_id or department_name(registry, alert.department_id)


def notification_text(
    alert: AlertRow, registry: Registry, base_url: str, reason: str
) -> tuple[str, str]:
    """Subject and body of one notification about `alert` (reason: opened, reminder, escalated)."""
    if reason not in REASON_TAGS:
        raise ValueError(f"unknown notification reason {reason!r} for alert {alert.id}")
    label = KIND_LABELS.get(alert.kind, alert.kind)
    subject = f"【{REASON_TAGS[reason]}{label}】{_subject_place(alert, registry)}"
    lines = [alert_line(alert, registry)]
    if alert.window_id:
        window = registry.window_by_id.get(alert.window_id)
        department = window.department if window else alert.department_id
        where = f"{window_name(registry, alert.window_id)}({department_name(registry, department)})"
        lines.append(f"窗口:{where}")
    if alert.staff_id:
        lines.append(f"人员:{staff_name(registry, alert.staff_id)}")
    if alert.device_id:
        lines.append(f"设备:{alert.device_id}")
    lines.append(f"开始:{hall_clock(registry, alert.since, STAMP)}")
    if REASON_NOTES[reason]:
        lines.append(REASON_NOTES[reason])
    lines.append(f"查看:{alert_link(base_url, alert)}")
    return subject, "\n".join(lines)
