"""Appeals in a real browser: a department head files, the hall manager accepts with a note,
and the monthly report shows the window 已申诉调整 with its original figure beside it."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
import requests

from tests.browser.conftest import HALL_TZ, USERS, import_playwright
from tests.helpers import wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.integration, pytest.mark.browser]
expect = import_playwright().expect

# The first minute of the hall day: the browser hall is open 00:00–23:59 every day.
START, END = "00:00", "00:01"


def hall_today() -> str:
    """Today in the hall, once the appealed minute has passed (waits at most two minutes)."""
    now = datetime.now(HALL_TZ)
    ready = now.replace(hour=0, minute=2, second=0, microsecond=0)
    if now < ready:
        time.sleep((ready - now + timedelta(seconds=1)).total_seconds())
    return datetime.now(HALL_TZ).date().isoformat()


def minutes_text(value: float) -> str:
    """As the report page writes minutes ("1,439", "12.5")."""
    return f"{value:,.1f}".removesuffix(".0")


def switch_user(page: Page, log_in, user: str) -> None:
    page.context.clear_cookies()
    log_in(user)


def w03_report(hall_url: str, day: str) -> dict:
    """W03's row of the month so far, from the JSON API (for the figures the page must show)."""
    first = date.fromisoformat(day).replace(day=1)
    month_start = datetime.combine(first, datetime.min.time(), tzinfo=HALL_TZ).isoformat()
    now = datetime.now(HALL_TZ).isoformat(timespec="seconds")
    answer = requests.get(
        f"{hall_url}/api/reports/windows",
        params={"from": month_start, "to": now},
        auth=("boss", USERS["boss"][0]),
        timeout=30,
    )
    answer.raise_for_status()
    return next(r for r in answer.json() if r["window"] == "W03")


def test_an_accepted_appeal_shows_in_the_report_with_the_original(
    page: Page, log_in, hall, devices
):
    day = hall_today()
    # A device reports, so HallWatch is collecting today and the appealed minute is scheduled.
    devices.presence("desk-w03-seat", True, datetime.now(HALL_TZ))
    wait_until(
        lambda: w03_report(hall.url, day)["scheduled_minutes"] >= 1.0,
        timeout=20,
        interval=0.5,
        message=lambda: f"W03 today: {w03_report(hall.url, day)}",
    )
    log_in("taxhead")
    assert page.goto("/appeals").status == 200
    form = page.locator("form.file-window")
    form.locator("#w-window").select_option("W03")
    form.locator("#w-day").fill(day)
    form.locator("#w-start").fill(START)
    form.locator("#w-end").fill(END)
    form.locator("#w-reason").select_option("sensor_fault")
    form.locator("#w-reason-text").fill("座位传感器掉线,窗口其实有人")
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    appeal = page.url.rsplit("#appeal-", 1)[1]
    row = page.locator(f'tr[data-appeal-id="{appeal}"]')
    expect(row).to_contain_text("待处理")
    expect(row).to_contain_text("3号窗口")
    expect(row.locator("form.decide")).to_have_count(0)  # a department head does not decide

    switch_user(page, log_in, "boss")
    page.goto("/appeals")
    row = page.locator(f'tr[data-appeal-id="{appeal}"]')
    row.locator("textarea").fill("已核实设备掉线记录")
    with page.expect_navigation():
        row.get_by_role("button", name="接受申诉").click()
    row = page.locator(f'tr[data-appeal-id="{appeal}"]')
    expect(row).to_contain_text("已接受")
    expect(row).to_contain_text("已核实设备掉线记录")
    expect(row).to_contain_text("boss")
    expect(row.locator("form.decide")).to_have_count(0)  # decided: nothing to change

    published = w03_report(hall.url, day)
    assert published["appealed"] is True
    original = published["original"]["scheduled_minutes"]
    assert original == pytest.approx(published["scheduled_minutes"] + 1.0)
    assert page.goto("/reports").status == 200
    w03 = page.locator("tr", has=page.locator("a", has_text="3号窗口")).first
    expect(w03).to_contain_text("已申诉调整")
    expect(w03.locator(".original").first).to_contain_text(minutes_text(original))
    listed = page.locator("section.appeals")
    expect(listed).to_contain_text("已核实设备掉线记录")
    expect(listed).to_contain_text("boss")
