"""The registry's daily forms in a real browser: a hall manager adds a person with a card,
gives them a roster line, and finds them on the roster page."""

from __future__ import annotations

import random
import uuid
from typing import TYPE_CHECKING

import pytest

from hallwatch.cards import card_hex
from hallwatch.registry.load import load_deployment
from tests.browser.conftest import import_playwright

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.integration, pytest.mark.browser]
expect = import_playwright().expect

# A line far ahead, so the shared hall's floor and alerts today are not touched by it.
FROM = "2099-01-05"


def test_a_hall_manager_adds_a_person_with_a_card_and_a_roster_line(page: Page, log_in, db):
    staff_id = f"n{uuid.uuid4().hex[:6]}"
    card = card_hex(random.randrange(1 << 28, 1 << 32))  # nobody's: theirs are 04A1B2Cx
    log_in("boss")
    page.click("text=运维")
    page.click("nav.ops-nav >> text=人员")
    page.fill("#new-staff-id", staff_id)
    page.fill("#new-name", "钱七")
    page.select_option("#new-department", "tax")
    page.fill("#new-card", card.lower())
    with page.expect_navigation():
        page.click("section.ops-add button[type=submit]")
    expect(page.locator(".flash.info")).to_contain_text(f"已添加人员 钱七({staff_id})")
    expect(page.locator(f'li[data-card="{card}"]')).to_be_visible()

    page.click("text=在排班页查看或添加")
    expect(page.locator("#new-staff")).to_have_value(staff_id)
    page.select_option("#window", "W04")
    page.uncheck("input[name=days][value=mon]")
    page.fill("#start", FROM)
    page.fill("#hours", "09:00-12:00")
    with page.expect_navigation():
        page.click("section.ops-add button[type=submit]")
    expect(page.locator(".flash.info")).to_contain_text("已添加排班")

    page.click("nav.ops-nav >> text=排班")
    page.fill("#q", "钱七")
    with page.expect_navigation():
        page.click("form.ops-search button[type=submit]")
    row = page.locator(f'tr[data-staff="{staff_id}"]')
    expect(row).to_have_count(1)
    expect(row).to_contain_text("4号窗口")
    expect(row).to_contain_text("周二 周三 周四 周五")
    expect(row).to_contain_text(FROM)
    with db() as session:
        registry = load_deployment(session).first
        assert registry.holder_of(card).id == staff_id
        (line,) = [r for r in registry.roster if r.staff == staff_id]
        assert (line.window, line.from_date.isoformat()) == ("W04", FROM)
