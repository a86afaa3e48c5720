"""The registry workbook on a real app: downloaded (by inspectors too, each download in the
audit trail), its 排班 sheet edited and uploaded, the changes shown in words, applied only
on confirmation; a bad workbook refused whole with its bad cells named; inspectors may not
import."""

from __future__ import annotations

import html
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from hallwatch.registry.audit import AuditRow
from tests.halls import two_halls_deployment
from tests.integration.ops_pages import INSPECTOR, MANAGER, ops_app, post, registry_of
from tests.web_helpers import app_for, basic

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def app(deployment):
    return ops_app(deployment)


def download(app, user=MANAGER):
    response = app.test_client().get("/ops/registry.xlsx", headers=basic(*user))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == XLSX
    return load_workbook(io.BytesIO(response.data))


def saved(book) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(app, data: bytes, user=MANAGER, filename="排班.xlsx"):
    form = {"file": (io.BytesIO(data), filename)}
    return post(app, "/ops/roster-import", form, user=user, content_type="multipart/form-data")


def confirm_form(page: str) -> dict[str, str]:
    fields = re.findall(r'name="(lines|revision|filename)" type="hidden" value="([^"]*)"', page)
    return {name: html.unescape(value) for name, value in fields}


def audit(app, action: str) -> list[AuditRow]:
    with app.extensions["hallwatch"].sessions() as db:
        return list(db.scalars(select(AuditRow).where(AuditRow.action == action)))


def roster_lines(app) -> list[tuple[str, str, list[str]]]:
    return sorted(
        (e.staff, e.window, sorted(e.days, key="mon tue wed thu fri sat sun".split().index))
        for e in registry_of(app).roster
    )


def week_changed(book) -> None:
    """Rows 3-5: s001@W01, s002@W02, s003@W03 (mon-fri). s002 to Mon/Wed/Fri, s003 removed,
    s001 on Saturdays at 2号窗口, named by its name."""
    roster = book["排班"]
    roster["E4"] = "一,三,五"
    roster.delete_rows(5)
    roster.append(["s001", "", "2号窗口", "", "周六", "2026/12/5"])


def test_an_inspector_downloads_the_workbook_and_the_download_is_audited(app):
    book = download(app, user=INSPECTOR)
    assert book.sheetnames == ["人员", "窗口", "排班", "请假", "说明"]
    rows = [[c.value for c in row[:5]] for row in book["排班"].iter_rows(min_row=3)]
    assert rows[0] == ["s001", "张三", "W01", "1号窗口", "一二三四五"]
    (record,) = audit(app, "export.registry")
    assert record.actor == INSPECTOR[0] and record.target.endswith(".xlsx")
    assert record.address == "127.0.0.1"


def test_the_registry_page_links_the_workbook_and_the_roster_import(app):
    page = app.test_client().get("/ops/registry", headers=basic(*MANAGER)).get_data(as_text=True)
    assert 'href="/ops/registry.xlsx"' in page and 'href="/ops/roster-import"' in page


BACKENDS = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@BACKENDS
def test_an_upload_is_previewed_in_words_and_applied_only_on_confirmation(app):
    before = roster_lines(app)
    book = download(app)
    week_changed(book)
    response = upload(app, saved(book))
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "新增:张三(s001) · 2号窗口(W02) · 周六 · 2026-12-05 起" in page
    assert "改为:李四(s002) · 2号窗口(W02) · 周一、周三、周五" in page
    assert "删除:王五(s003) · 3号窗口(W03) · 周一、周二、周三、周四、周五" in page
    assert roster_lines(app) == before and audit(app, "roster.import") == []

    done = post(app, "/ops/roster-import/confirm", confirm_form(page), user=MANAGER)
    assert done.status_code == 302 and done.headers["Location"].endswith("/ops/registry")
    assert roster_lines(app) == [
        ("s001", "W01", ["mon", "tue", "wed", "thu", "fri"]),
        ("s001", "W02", ["sat"]),
        ("s002", "W02", ["mon", "wed", "fri"]),
    ]
    (record,) = audit(app, "roster.import")
    assert (record.actor, record.target) == (MANAGER[0], "排班.xlsx")


def test_a_workbook_with_a_bad_cell_is_refused_whole_and_shown_back(app):
    before = roster_lines(app)
    book = download(app)
    week_changed(book)
    book["排班"]["E3"] = "周八"
    book["排班"]["C4"] = "9号窗口"
    response = upload(app, saved(book))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "排班 第 3 行 E 列:“周八”不是星期几" in page
    assert "排班 第 4 行 C 列:该人员所在大厅没有编号或名称为“9号窗口”的窗口" in page
    assert "共 2 处问题" in page and roster_lines(app) == before


def test_a_confirmation_after_the_roster_changed_is_refused(app):
    book = download(app)
    week_changed(book)
    page = upload(app, saved(book)).get_data(as_text=True)
    book["排班"]["E3"] = "一"
    other = upload(app, saved(book)).get_data(as_text=True)
    post(app, "/ops/roster-import/confirm", confirm_form(other), user=MANAGER)
    refused = post(app, "/ops/roster-import/confirm", confirm_form(page), user=MANAGER)
    assert refused.status_code == 409
    assert "名册在预览之后已被修改" in refused.get_data(as_text=True)
    assert ("s001", "W01", ["mon"]) in roster_lines(app)


def test_an_inspector_may_download_but_not_import(app):
    book = download(app, user=INSPECTOR)
    week_changed(book)
    assert upload(app, saved(book), user=INSPECTOR).status_code == 403
    client = app.test_client()
    assert client.get("/ops/roster-import", headers=basic(*INSPECTOR)).status_code == 403
    page = client.get("/ops/devices", headers=basic(*INSPECTOR)).get_data(as_text=True)
    assert 'href="/ops/registry.xlsx"' in page


@pytest.fixture
def two_halls(tmp_path, mosquitto, influx_db, database_url):
    app = app_for(two_halls_deployment(tmp_path, mosquitto.url, influx_db, database_url))
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def test_a_manager_of_one_hall_gets_and_imports_only_that_halls_roster(two_halls):
    east = ("east_mgr", "pw-east_mgr")
    book = download(two_halls, user=east)
    assert [row[0].value for row in book["人员"].iter_rows(min_row=3)] == ["e001"]
    full = download(two_halls, user=("boss", "pw-boss"))
    assert [row[0].value for row in full["排班"].iter_rows(min_row=3)] == ["east", "west"]
    refused = upload(two_halls, saved(full), user=east)
    assert refused.status_code == 400
    assert "排班 第 4 行 B 列:人员“x001”不在您管理的大厅" in refused.get_data(as_text=True)
    book["排班"]["E3"] = "一"
    page = upload(two_halls, saved(book), user=east).get_data(as_text=True)
    assert "改为:张三(e001) · 东1号窗口(E01) · 周一" in page
    post(two_halls, "/ops/roster-import/confirm", confirm_form(page), user=east)
    roster = {
        e.staff: sorted(e.days)
        for r in two_halls.extensions["hallwatch"].deployment(fresh=True).halls
        for e in r.roster
    }
    assert roster == {"e001": ["mon"], "x001": ["fri", "mon", "thu", "tue", "wed"]}
