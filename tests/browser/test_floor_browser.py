"""The floor view in a real browser: login, live updates over MQTT, replay, scope, wall mode."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import HALL_TZ, import_playwright

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.integration, pytest.mark.browser]
expect = import_playwright().expect

STATE_WORDS = ("在岗", "暂离", "空岗", "非办公时间", "状态未知")
UPDATE_TIMEOUT_MS = 15_000  # the page polls every 5 s; the collector flushes within about 1 s
NO_RELOAD = "window.__sameDocument"  # set on the page; a reload would lose it


def card(page: Page, name: str):
    """A window's card on the floor, found by its name."""
    return page.locator("article.win").filter(has=page.locator("h3.name", has_text=name))


def test_logging_in_lands_on_the_floor_in_chinese(page: Page, log_in, hall):
    log_in("boss")
    expect(page).to_have_url(f"{hall.url}/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    legend = page.locator("ul.counts")
    for word in STATE_WORDS:
        expect(legend).to_contain_text(word)
    expect(page.locator("article.win h3.name")).to_have_text(
        ["1号窗口", "2号窗口", "3号窗口", "4号窗口"]
    )
    # No seat sensor of window 4 ever reported: unknown, said in words, not only in colour.
    expect(card(page, "4号窗口").locator("p.state")).to_contain_text("状态未知")
    expect(page.locator("#at-label")).to_have_text("当前时刻")


def test_a_wrong_password_is_refused_with_a_message(page: Page, log_in):
    log_in("boss", "not-the-password")
    expect(page.locator("form.login")).to_be_visible()
    expect(page.locator("p.error")).to_contain_text("用户名或密码错误")
    assert "/login" in page.url


def test_the_floor_follows_the_seat_sensor_without_a_reload(page: Page, log_in, devices):
    log_in("boss")
    window = card(page, "1号窗口")
    expect(window).to_contain_text("状态未知")
    page.evaluate(f"{NO_RELOAD} = true")

    devices.presence("desk-w01-seat", True, datetime.now(UTC))
    expect(window.locator("p.state")).to_contain_text("在岗", timeout=UPDATE_TIMEOUT_MS)
    expect(window).to_have_class("win staffed")

    devices.presence("desk-w01-seat", False, datetime.now(UTC))
    expect(window.locator("p.state")).to_contain_text("暂离", timeout=UPDATE_TIMEOUT_MS)
    assert page.evaluate(NO_RELOAD) is True, "the page was reloaded"
    expect(page.locator('[data-count="away"]')).not_to_have_text("0")


def test_an_earlier_instant_is_replayed(page: Page, log_in, devices):
    now = datetime.now(UTC)
    devices.presence("desk-w02-seat", True, now - timedelta(minutes=8))
    devices.presence("desk-w02-seat", False, now - timedelta(minutes=3))
    log_in("boss")
    window = card(page, "2号窗口")
    # Now: the seat has been empty for 3 minutes, less than the 10-minute grace.
    expect(window.locator("p.state")).to_contain_text("暂离", timeout=UPDATE_TIMEOUT_MS)

    # Five minutes ago (on the minute) the seat was occupied: move the date and slider there.
    earlier = (now - timedelta(minutes=5)).astimezone(HALL_TZ)
    page.fill("#replay-day", earlier.date().isoformat())
    page.fill("#replay-minute", str(earlier.hour * 60 + earlier.minute))
    expect(page.locator("#replay-clock")).to_have_text(f"{earlier:%H:%M}")
    expect(page.locator("#at-label")).to_have_text("回放时刻", timeout=UPDATE_TIMEOUT_MS)
    expect(window.locator("p.state")).to_contain_text("在岗", timeout=UPDATE_TIMEOUT_MS)
    expect(page).to_have_url(re.compile(r"[?&]at="))

    # The same instant opened directly, as a link would.
    page.goto(f"/?at={earlier:%Y-%m-%dT%H:%M}")
    expect(page.locator("#at-label")).to_have_text("回放时刻")
    expect(page.locator("#at")).to_contain_text(f"{earlier:%H:%M}")
    expect(window.locator("p.state")).to_contain_text("在岗")

    page.click("#back-live")
    expect(page.locator("#at-label")).to_have_text("当前时刻")
    expect(window.locator("p.state")).to_contain_text("暂离")


def test_a_department_head_sees_only_their_departments_windows(page: Page, log_in):
    log_in("taxhead")
    expect(page.locator("article.win h3.name")).to_have_text(["3号窗口", "4号窗口"])
    expect(page.locator("article.win p.dept").first).to_have_text("税务局")
    content = page.content()
    assert "1号窗口" not in content and "张三" not in content and "民政局" not in content


def test_the_wall_display_has_no_header_and_fills_the_screen(page: Page, log_in):
    log_in("boss")
    page.goto("/?wall=1")
    expect(page.locator("body")).to_have_class("floor-page wall")
    expect(page.locator("header")).to_have_count(0)
    expect(page.locator("form#replay")).to_have_count(0)
    expect(page.locator("article.win")).to_have_count(4)
    viewport = page.viewport_size
    floor = page.locator("div.floor").bounding_box()
    status = page.locator("section.status").bounding_box()
    assert status["y"] < 40, "something stands above the status line"
    assert floor["width"] >= 0.95 * viewport["width"], floor
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
