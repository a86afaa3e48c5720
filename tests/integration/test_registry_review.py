"""An import shows what it would change and applies it only when confirmed, on the web (upload →
preview → 确认导入) and in `hallwatch import`; a file made from an older revision that would
retire what was added since is refused unless its retirements are confirmed; every import is
in the audit trail."""

from __future__ import annotations

import getpass
import re
from io import BytesIO
from pathlib import Path

import pytest
from sqlalchemy import select

from hallwatch.registry.audit import AuditRow
from tests.helpers import hallwatch
from tests.integration.ops_pages import MANAGER, ops_app, registry_of, upload
from tests.web_helpers import basic, confirm_preview

pytestmark = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)

W04 = "  - {id: W04, name: 4号窗口, department: tax}\n"


@pytest.fixture
def app(deployment):
    return ops_app(deployment)


def downloaded(app) -> str:
    """The registry as the page's download link gives it (with its `revision:`)."""
    response = app.test_client().get("/ops/registry.yaml", headers=basic(*MANAGER))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def with_w04(text: str) -> str:
    return text.replace("staff:\n", W04 + "staff:\n", 1)


def imports(app) -> list[AuditRow]:
    with app.extensions["hallwatch"].sessions() as session:
        stmt = select(AuditRow).where(AuditRow.action == "registry.import").order_by(AuditRow.seq)
        return list(session.scalars(stmt))


def test_an_upload_is_shown_first_and_applied_only_when_confirmed(app):
    text = downloaded(app)
    assert re.search(r"^revision: \d+$", text, re.M)
    client = app.test_client()
    uploaded = client.post(
        "/ops/registry",
        data={"file": (BytesIO(with_w04(text).encode()), "new.yaml")},
        headers=basic(*MANAGER),
        content_type="multipart/form-data",
    )
    preview = uploaded.headers["Location"]
    page = client.get(preview, headers=basic(*MANAGER)).get_data(as_text=True)
    assert "将带来的变化:1 处" in page and "<code>W04 (4号窗口)</code>" in page
    assert 'name="retire"' not in page  # nothing retired: no tick asked for
    assert "W04" not in registry_of(app).window_by_id

    done = confirm_preview(client, preview, basic(*MANAGER))
    assert done.status_code == 302 and done.headers["Location"].endswith("/ops/registry")
    assert "W04" in registry_of(app).window_by_id
    record = imports(app)[-1]
    assert (record.actor, record.target, record.address) == ("boss", "new.yaml", "127.0.0.1")
    assert [a["entry"]["id"] for a in record.after] == ["W04"] and record.before == []
    assert client.get(preview, headers=basic(*MANAGER)).status_code == 404  # used up


def test_an_older_files_retirements_are_shown_and_need_their_tick(app):
    old = downloaded(app)
    assert upload(app, with_w04(old).encode()).status_code == 302  # W04 added since
    client = app.test_client()
    uploaded = client.post(
        "/ops/registry",
        data={"file": (BytesIO(old.encode()), "old.yaml")},
        headers=basic(*MANAGER),
        content_type="multipart/form-data",
    )
    preview = uploaded.headers["Location"]
    page = client.get(preview, headers=basic(*MANAGER)).get_data(as_text=True)
    assert "此文件导出自名册版本" in page
    assert re.search(r"停用</th><td>窗口</td><td><code>W04 \(4号窗口\)</code>", page)
    assert 'name="retire"' in page

    refused = confirm_preview(client, preview, basic(*MANAGER))
    assert refused.status_code == 400
    assert "请勾选确认后再导入" in refused.get_data(as_text=True)
    assert "W04" in registry_of(app).window_by_id  # nothing applied

    assert confirm_preview(client, preview, basic(*MANAGER), retire=True).status_code == 302
    assert "W04" not in registry_of(app).window_by_id


def test_a_registry_that_moved_after_the_preview_is_shown_again(app, deployment, tmp_path):
    client = app.test_client()
    uploaded = client.post(
        "/ops/registry",
        data={"file": (BytesIO(with_w04(downloaded(app)).encode()), "new.yaml")},
        headers=basic(*MANAGER),
        content_type="multipart/form-data",
    )
    preview = uploaded.headers["Location"]
    page = client.get(preview, headers=basic(*MANAGER)).get_data(as_text=True)
    shown_at = re.search(r'name="revision"[^>]*value="(\d+)"', page)[1]
    renamed = downloaded(app).replace("name: 1号窗口", "name: 综合窗口")
    (tmp_path / "renamed.yaml").write_text(renamed, encoding="utf-8")
    hallwatch("import", str(tmp_path / "renamed.yaml"), env=deployment)  # meanwhile

    moved = client.post(preview, data={"revision": shown_at}, headers=basic(*MANAGER))
    assert moved.status_code == 302 and moved.headers["Location"] == preview
    assert "W04" not in registry_of(app).window_by_id
    page = client.get(preview, headers=basic(*MANAGER)).get_data(as_text=True)
    assert "名册在此期间已被修改" in page
    assert "<code>W01 (综合窗口 → 1号窗口)</code>" in page  # the file would now rename W01 back


def test_the_command_refuses_an_older_files_retirements_unless_confirmed(app, deployment, tmp_path):
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(downloaded(app), encoding="utf-8")
    new.write_text(with_w04(old.read_text(encoding="utf-8")), encoding="utf-8")
    added = hallwatch("import", str(new), env=deployment)
    assert "windows added: W04 (4号窗口)" in added.stdout

    refused = hallwatch("import", str(old), env=deployment, check=False)
    assert refused.returncode == 1
    assert "windows retired: W04 (4号窗口)" in refused.stderr
    assert "--confirm-retirements" in refused.stderr
    dry = hallwatch("import", "--dry-run", str(old), env=deployment)
    assert "dry run, nothing applied" in dry.stdout and "windows retired: W04" in dry.stdout
    assert "W04" in registry_of(app).window_by_id

    done = hallwatch("import", "--confirm-retirements", str(old), env=deployment)
    assert "windows retired: W04 (4号窗口)" in done.stdout
    assert "W04" not in registry_of(app).window_by_id
    record = imports(app)[-1]
    assert (record.actor, record.target) == (f"cli:{getpass.getuser()}", Path(old).name)
    assert [b["entry"]["id"] for b in record.before] == ["W04"] and record.after == []
