"""The registry page /ops/registry on real services: its summary, imports, bad files refused."""

from __future__ import annotations

import re
from io import BytesIO

import pytest

from tests.halls import HALL_TZ
from tests.integration.ops_pages import (
    INSPECTOR,
    MANAGER,
    get,
    hall_yaml,
    ops_app,
    post,
    registry_of,
    upload,
)
from tests.web_helpers import basic, confirm_preview


@pytest.fixture
def app(deployment):
    """The deployment's app with an admin and an inspector besides its manager and tax head,
    and CSRF off."""
    return ops_app(deployment)


def test_the_registry_page_summarises_and_a_good_file_is_imported(app):
    html = get(app, "/ops/registry")
    summary = re.search(r'<section class="ops-summary".*?</section>', html, re.S)[0]
    assert "测试大厅" in summary and "00:00–23:59" in summary and HALL_TZ.key in summary
    counts = dict(re.findall(r'<li class="count">(\S+) <b>(\d+)</b>', summary))
    assert counts == {
        "部门": "2",
        "窗口": "3",
        "人员": "3",
        "工卡": "3",
        "设备": "5",
        "排班": "3",
        "请假": "0",
    }
    assert "尚未导入名册" not in summary and "前" in summary  # the last change, how long ago

    response = upload(app, hall_yaml("W04"))
    assert response.status_code == 302 and response.headers["Location"].endswith("/ops/registry")
    assert "W04" in registry_of(app).window_by_id
    client = app.test_client()
    uploaded = client.post(
        "/ops/registry",
        data={"file": (BytesIO(hall_yaml("W05")), "hall.yml")},
        headers=basic(*MANAGER),
        content_type="multipart/form-data",
    )
    preview = uploaded.headers["Location"]  # nothing applied yet: first what it would do
    assert "/ops/registry/preview/" in preview and "W05" not in registry_of(app).window_by_id
    shown = client.get(preview, headers=basic(*MANAGER)).get_data(as_text=True)
    assert re.search(r"新增</th><td>窗口</td><td><code>W05 \(4号窗口\)</code>", shown)
    assert re.search(r"停用</th><td>窗口</td><td><code>W04 \(4号窗口\)</code>", shown)
    assert confirm_preview(client, preview, basic(*MANAGER)).status_code == 302
    after = client.get("/ops/registry", headers=basic(*MANAGER)).get_data(as_text=True)
    assert "名册已导入:2 处变更。" in after  # W04 retired, W05 added
    imported = re.search(r'<section class="ops-imported".*?</section>', after, re.S)[0]
    windows = re.search(r"<th scope=\"row\">窗口</th>(.*?)</tr>", imported, re.S)[1]
    assert re.findall(r">(\d+)<", windows) == ["1", "0", "0", "1", "3"]  # added … unchanged
    # Shown once: the next visit has only the summary.
    assert "ops-imported" not in client.get("/ops/registry", headers=basic(*MANAGER)).get_data(
        as_text=True
    )


BAD_YAML = """
hall: {name: 坏大厅, timezone: Asia/Shanghai}
departments:
  - {id: civil, name: 民政局}
windows:
  - {id: W01, name: 1号窗口, department: nowhere}
  - {id: W02, name: 2号窗口, department: civil, colour: red}
"""


def test_a_bad_file_is_refused_whole_with_every_problem_by_entry_and_key(app):
    before = registry_of(app)
    response = upload(app, BAD_YAML.encode())
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "文件被拒收,名册未做任何更改" in html
    problems = re.findall(
        r"<tr><td><code>([^<]*)</code></td><td>(?:<code>([^<]*)</code>)?</td><td>([^<]*)</td></tr>",
        html,
    )
    assert ("windows[0] (id W01)", "department", problems[0][2]) == problems[0]
    assert "nowhere" in problems[0][2]
    assert ("windows[1] (id W02)", "colour") == problems[1][:2]
    assert registry_of(app) == before  # nothing changed
    assert "测试大厅" in html  # the summary is still the old registry


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"hall: [", "hall.yaml", "YAML syntax error"),
        (b"\xff\xfehall:", "hall.yaml", "文件不是 UTF-8 编码的文本"),
        (None, "hall.yaml", "文件太大:最大 2 MiB"),
        (b"hall: {}", "hall.txt", "只接受 .yaml 或 .yml 文件"),
    ],
    ids=["not-yaml", "not-utf8", "too-big", "wrong-extension"],
)
def test_unusable_uploads_are_refused_with_a_clear_error(app, content, filename, message):
    content = content if content is not None else b"#" * (2 * 1024 * 1024 + 1)
    before = registry_of(app)
    response = upload(app, content, filename)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert registry_of(app) == before


def test_an_upload_without_a_file_asks_for_one(app):
    response = post(app, "/ops/registry", {}, user=MANAGER, content_type="multipart/form-data")
    assert response.status_code == 400 and "请选择要上传的名册文件" in response.get_data(
        as_text=True
    )


def test_inspectors_may_not_upload(app):
    get(app, "/ops/registry", user=INSPECTOR, status=403)
    assert upload(app, hall_yaml("W04"), user=INSPECTOR).status_code == 403
    assert "W04" not in registry_of(app).window_by_id
