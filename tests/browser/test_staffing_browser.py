"""Staffing in a real browser: the tax department's head files leave, a shift swap and a
replacement on the 人员调整 page; the hall manager approves each with a note; the registry
and the schedule of the day asked for follow. Pending leave of today shows on the floor.

Every change approved here is for a later working day, so today's floor, which the other
browser tests read, stays as it was.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from hallwatch.registry.load import load_registry
from hallwatch.schedule import DaySchedule
from tests.browser.conftest import HALL_TZ, import_playwright

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.integration, pytest.mark.browser]
expect = import_playwright().expect


def weekday_after(count: int) -> date:
    """The `count`-th Monday-to-Friday after today in the hall (a working day of the hall)."""
    day = datetime.now(HALL_TZ).date()
    while count:
        day += timedelta(days=1)
        count -= day.weekday() < 5
    return day


def switch_user(page: Page, log_in, user: str) -> None:
    page.context.clear_cookies()
    log_in(user)


def submit(page: Page, form) -> str:
    """Submit a filing form; the id of the request it filed."""
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    expect(page.locator(".flash.info")).to_contain_text("已提交申请")
    return page.url.rsplit("#request-", 1)[1]


def approve(page: Page, log_in, request: str, note: str) -> None:
    switch_user(page, log_in, "boss")
    page.goto("/staffing?status=pending")
    row = page.locator(f'tr[data-request-id="{request}"]')
    row.locator("textarea").fill(note)
    with page.expect_navigation():
        row.get_by_role("button", name="批准").click()
    row = page.locator(f'tr[data-request-id="{request}"]')
    expect(row).to_contain_text("已批准")
    expect(row).to_contain_text(note)
    expect(row.locator("form.decide")).to_have_count(0)


def schedule(db, day: date) -> DaySchedule:
    with db() as session:
        return DaySchedule(load_registry(session), day)


def test_leave_filed_by_a_department_head_is_approved_by_the_hall_manager(page: Page, log_in, db):
    log_in("taxhead")
    assert page.goto("/staffing").status == 200
    today = datetime.now(HALL_TZ).date().isoformat()
    form = page.locator("form.file-leave")
    form.locator("#leave-staff").select_option("s004")
    form.locator("#leave-from-day").fill(today)
    form.locator("#leave-until-day").fill(today)
    form.locator("#leave-type").select_option("personal")
    pending = submit(page, form)
    page.goto("/")
    w04 = page.locator("article.win", has_text="4号窗口")
    expect(w04.locator(".pending-leave")).to_contain_text("请假待批: 赵六")
    page.goto("/staffing")
    with page.expect_navigation():
        page.locator(f"#withdraw-{pending}").click()
    expect(page.locator(f'tr[data-request-id="{pending}"]')).to_contain_text("已撤回")

    day = weekday_after(2)
    page.goto("/staffing")
    form = page.locator("form.file-leave")
    form.locator("#leave-staff").select_option("s004")
    form.locator("#leave-from-day").fill(day.isoformat())
    form.locator("#leave-until-day").fill(day.isoformat())
    form.locator("#leave-type").select_option("sick")
    form.locator("#leave-reason").fill("发烧就医")
    request = submit(page, form)
    row = page.locator(f'tr[data-request-id="{request}"]')
    expect(row).to_contain_text("待审批")
    expect(row.locator("form.decide")).to_have_count(0)  # a department head does not decide

    approve(page, log_in, request, "同意,注意交接")
    leave = [v for v in schedule(db, day).registry.leave if v.staff == "s004"]
    assert [(v.type, v.reason) for v in leave] == [("sick", "发烧就医")]
    noon = datetime.combine(day, datetime.min.time(), tzinfo=HALL_TZ) + timedelta(hours=12)
    assert schedule(db, day).on_leave_at("W04", noon) == ["s004"]


def test_a_shift_swap_is_asked_for_and_approved(page: Page, log_in, db):
    day = weekday_after(1)
    log_in("taxhead")
    page.goto("/staffing")
    form = page.locator("form.file-swap")
    form.locator("#swap-day").fill(day.isoformat())
    form.locator("#swap-first").select_option("s003")
    form.locator("#swap-second").select_option("s004")
    request = submit(page, form)
    approve(page, log_in, request, "同意调班")
    noon = datetime.combine(day, datetime.min.time(), tzinfo=HALL_TZ) + timedelta(hours=12)
    swapped = schedule(db, day)
    assert (swapped.rostered_at("W03", noon), swapped.rostered_at("W04", noon)) == (
        ["s004"],
        ["s003"],
    )


def test_a_replacement_by_a_new_person_is_asked_for_and_approved(page: Page, log_in, db):
    day = weekday_after(3)
    log_in("taxhead")
    page.goto("/staffing")
    form = page.locator("form.file-replacement")
    form.locator("#repl-window").select_option("W03")
    form.locator("#repl-leaving").select_option("s003")
    form.locator("#repl-day").fill(day.isoformat())
    form.locator("#repl-coming").select_option("")
    form.locator("#repl-new-id").fill("s010")
    form.locator("#repl-new-name").fill("钱七")
    request = submit(page, form)
    expect(page.locator(f'tr[data-request-id="{request}"]')).to_contain_text("钱七(新人员)")
    approve(page, log_in, request, "同意更换")
    noon = datetime.combine(day, datetime.min.time(), tzinfo=HALL_TZ) + timedelta(hours=12)
    after = schedule(db, day)
    assert after.registry.staff_by_id["s010"].department == "tax"
    assert after.rostered_at("W03", noon) == ["s010"]
    lines = [
        (r.staff, r.from_date, r.until_date) for r in after.registry.roster if r.window == "W03"
    ]
    assert lines == [("s003", None, day - timedelta(days=1)), ("s010", day, None)]
