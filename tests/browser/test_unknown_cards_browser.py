"""The unknown-cards page in a real browser: a hall manager registers a card a reader read."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from hallwatch.cards import card_decimal, card_hex
from hallwatch.registry.load import load_deployment
from tests.browser.conftest import import_playwright
from tests.helpers import wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.integration, pytest.mark.browser]
expect = import_playwright().expect


def listed(page: Page, card: str) -> bool:
    """Whether the unknown-cards page, loaded afresh, lists the card."""
    page.goto("/ops/unknown-cards")
    return page.locator(f'tr[data-card="{card}"]').count() > 0


def test_a_hall_manager_registers_an_unknown_card_to_its_holder(page: Page, log_in, devices, db):
    number = random.randrange(1 << 28, 1 << 32)  # nobody's card: theirs are 04A1B2Cx
    card = card_hex(number)
    devices.badge("desk-w03-card", card.lower(), datetime.now(UTC))
    log_in("boss")
    wait_until(lambda: listed(page, card), timeout=15, message=page.content)

    row = page.locator(f'tr[data-card="{card}"]')
    expect(row.locator("td.hex")).to_have_text(card)
    expect(row.locator("td.decimal")).to_have_text(card_decimal(number))
    expect(row.locator("select[name=staff] optgroup").first).to_have_attribute("label", "税务局")
    row.locator("select[name=staff]").select_option("s004")
    with page.expect_navigation():
        row.locator("button[type=submit]").click()

    expect(page.locator(".flash.info")).to_contain_text(f"已将卡 {card}")
    expect(page.locator(".flash.info")).to_contain_text("登记给 赵六(税务局)")
    expect(page.locator(".flash.info a")).to_have_attribute("href", "/ops/staff/s004")
    expect(page.locator(f'tr[data-card="{card}"]')).to_have_count(0)
    with db() as session:
        assert load_deployment(session).first.holder_of(card).id == "s004"
