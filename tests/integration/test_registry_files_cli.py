"""`hallwatch registry export` and `hallwatch roster import` as real processes: the registry
written as YAML that imports back unchanged and as a workbook; a roster imported from the
workbook (a dry run changes nothing), audited as the OS user; a bad sheet refused whole."""

from __future__ import annotations

import getpass

from openpyxl import load_workbook
from sqlalchemy import select

from hallwatch.registry.audit import AuditRow
from hallwatch.registry.db import make_engine, make_session_factory
from hallwatch.registry.load import load_registry
from tests.helpers import hallwatch


def roster_and_audit(env) -> tuple[list, list[tuple[str, str, str]]]:
    engine = make_engine(env["HALLWATCH_DATABASE_URL"])
    try:
        with make_session_factory(engine)() as db:
            roster = sorted((e.staff, e.window, sorted(e.days)) for e in load_registry(db).roster)
            rows = db.scalars(select(AuditRow).order_by(AuditRow.seq))
            return roster, [(r.actor, r.action, r.target) for r in rows]
    finally:
        engine.dispose()


def test_the_registry_is_exported_as_yaml_that_imports_back_unchanged(deployment, tmp_path):
    out = tmp_path / "hall-now.yaml"
    hallwatch("registry", "export", "--format", "yaml", "--out", str(out), env=deployment)
    assert "测试大厅" in out.read_text(encoding="utf-8")
    assert "no changes" in hallwatch("import", str(out), env=deployment).stdout
    _, records = roster_and_audit(deployment)
    assert (f"cli:{getpass.getuser()}", "export.registry", "hall-now.yaml") in records


def test_a_roster_is_imported_from_the_exported_workbook(deployment, tmp_path):
    book_path = tmp_path / "roster.xlsx"
    hallwatch("registry", "export", "--format", "xlsx", "--out", str(book_path), env=deployment)
    book = load_workbook(book_path)
    book["排班"]["E3"] = "一三五"  # s001 at W01
    book["排班"].delete_rows(5)  # s003 at W03
    book.save(book_path)
    before, _ = roster_and_audit(deployment)

    dry = hallwatch("roster", "import", str(book_path), "--dry-run", env=deployment)
    assert "~ 张三(s001) · 1号窗口(W01) · 周一、周二、周三、周四、周五" in dry.stdout
    assert "  → 张三(s001) · 1号窗口(W01) · 周一、周三、周五" in dry.stdout
    assert "- 王五(s003) · 3号窗口(W03)" in dry.stdout
    assert "roster: 0 added, 1 changed, 1 removed, 1 unchanged" in dry.stdout
    assert "dry run, nothing was imported" in dry.stdout
    assert roster_and_audit(deployment)[0] == before

    done = hallwatch("roster", "import", str(book_path), env=deployment)
    assert "roster imported" in done.stdout
    roster, records = roster_and_audit(deployment)
    assert roster == [("s001", "W01", ["fri", "mon", "wed"]), ("s002", "W02", before[1][2])]
    assert records[-1] == (f"cli:{getpass.getuser()}", "roster.import", "roster.xlsx")


def test_a_bad_sheet_is_refused_whole_naming_the_cell(deployment, tmp_path):
    book_path = tmp_path / "roster.xlsx"
    hallwatch("registry", "export", "--format", "xlsx", "--out", str(book_path), env=deployment)
    book = load_workbook(book_path)
    book["排班"]["E3"] = "一三五"
    book["排班"]["A4"] = "s404"
    book.save(book_path)
    before, _ = roster_and_audit(deployment)
    refused = hallwatch("roster", "import", str(book_path), env=deployment, check=False)
    assert refused.returncode == 1
    assert "refused, nothing was imported" in refused.stderr
    assert "排班 第 4 行 A 列:没有编号为“s404”的人员" in refused.stderr
    assert roster_and_audit(deployment)[0] == before
