"""The roster kept in Excel, in a real browser: a hall manager downloads the registry
workbook from the 名册 page, adds a line to its 排班 sheet, sees a bad cell named and
nothing applied, then the line previewed in words and applied on confirmation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from openpyxl import load_workbook

from hallwatch.registry.load import load_deployment
from tests.browser.conftest import SCREENSHOTS, import_playwright

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.integration, pytest.mark.browser]
expect = import_playwright().expect
# Saturdays in 2030 only: the other browser tests' today is left as it is.
SATURDAY_LINE = ["s001", "", "2号窗口", "", "周六", "2030/1/5", "2030-01-26"]


def upload(page: Page, path) -> None:
    page.set_input_files("#file", str(path))
    with page.expect_navigation():
        page.get_by_role("button", name="上传并预览").click()


def roster_lines(db) -> set[tuple[str, str]]:
    """(person, window) of every roster line (the session's hall: other tests add theirs)."""
    with db() as session:
        return {(e.staff, e.window) for e in load_deployment(session).first.roster}


def test_a_hall_manager_imports_a_roster_line_from_the_workbook(page: Page, log_in, db, tmp_path):
    before = roster_lines(db)
    log_in("boss")
    page.goto("/ops/registry")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载当前名册 (Excel)").click()
    path = tmp_path / "排班.xlsx"
    download.value.save_as(path)
    book = load_workbook(path)
    book["排班"].append(SATURDAY_LINE)
    book["排班"]["E3"] = "周八"
    book.save(path)

    page.get_by_role("link", name="从 Excel 导入排班").click()
    upload(page, path)
    expect(page.locator(".ops-problems")).to_contain_text("排班 第 3 行 E 列:“周八”不是星期几")
    expect(page.locator(".ops-problems")).to_contain_text("共 1 处问题")

    book["排班"]["E3"] = "一二三四五六日"
    book.save(path)
    upload(page, path)
    expect(page.locator(".roster-added")).to_have_text(
        "新增:张三(s001) · 2号窗口(W02) · 周六 · 2030-01-05 起 · 至 2030-01-26"
    )
    expect(page.locator(".roster-removed")).to_have_count(0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "roster-import-preview.png"))  # what a manager sees
    with page.expect_navigation():
        page.get_by_role("button", name="确认导入").click()

    expect(page.locator(".flash.info")).to_contain_text("已从 排班.xlsx 导入排班:1 处变更")
    assert roster_lines(db) == before | {("s001", "W02")}
