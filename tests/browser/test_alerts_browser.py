"""The alerts page in a real browser: a hall manager acknowledges an alert with a note."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from hallwatch.registry.alerting import AlertRow
from tests.browser.conftest import import_playwright

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.integration, pytest.mark.browser]
expect = import_playwright().expect


@pytest.fixture
def open_alert(db) -> int:
    """An open empty-window alert at window 1, as the alert scheduler would have recorded it."""
    now = datetime.now(UTC)
    row = AlertRow(
        key=f"browser-test:{uuid.uuid4().hex}",
        kind="empty_window",
        window_id="W01",
        department_id="civil",
        since=now - timedelta(minutes=15),
        opened_at=now - timedelta(minutes=5),
        message="1号窗口空岗已 10 分钟",
        created_at=now,
    )
    with db() as session:
        session.add(row)
        session.commit()
        return row.id


def test_a_hall_manager_acknowledges_an_alert_with_a_note(page: Page, log_in, open_alert):
    log_in("boss")
    assert page.goto("/alerts").status == 200
    row = page.locator(f'tr[data-alert-id="{open_alert}"]')
    expect(row).to_contain_text("1号窗口")
    expect(row).not_to_contain_text("已确认")

    row.locator("form.ack textarea[name=note]").fill("已电话联系,马上回岗")
    with page.expect_navigation():
        row.locator("form.ack [type=submit]").click()

    row = page.locator(f'tr[data-alert-id="{open_alert}"]')
    expect(row).to_contain_text("已确认")
    expect(row).to_contain_text("已电话联系,马上回岗")
    expect(row.locator("form.ack")).to_have_count(0)
