"""The users page /ops/users on real services: adding, changing, deleting, admins only, CSRF."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from hallwatch.registry.models import UserRow
from hallwatch.registry.users import UserChangeRefused, authenticate, delete_user
from tests.integration.ops_pages import ADMIN, INSPECTOR, MANAGER, get, ops_app, post
from tests.web_helpers import basic


@pytest.fixture
def app(deployment):
    """The deployment's app with an admin and an inspector besides its manager and tax head,
    and CSRF off."""
    return ops_app(deployment)


def user_id(app, name: str) -> int:
    with app.extensions["hallwatch"].sessions() as db:
        return db.scalar(select(UserRow.id).where(UserRow.username == name))


def test_the_users_page_lists_roles_departments_and_channels(app):
    from alerts.channels import add_channel

    with app.extensions["hallwatch"].sessions() as db:
        add_channel(
            db, "tax", "dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=T0K", "s"
        )
        add_channel(db, "tax", "email", "tax@example.org")
        db.commit()
    html = get(app, "/ops/users", user=ADMIN)
    row = re.search(r'<tr id="user-\d+">\s*<td>tax</td>.*?</tr>', html, re.S)[0]
    assert "部门负责人" in row and "税务局" in row
    assert "钉钉" in row and "oapi.dingtalk.com" in row and "T0K" not in row  # no tokens shown
    assert "tax@example.org" in row and "已签名" in row
    boss = re.search(r'<tr id="user-\d+">\s*<td>boss</td>.*?</tr>', html, re.S)[0]
    assert "大厅负责人" in boss
    me = re.search(r'<tr id="user-\d+">\s*<td>root <span.*?</tr>', html, re.S)[0]
    assert "管理员" in me and "确认删除" not in me  # no delete button for oneself


def test_adding_a_user(app):
    form = {
        "username": "clerk",
        "password": "long-enough",
        "confirm": "long-enough",
        "role": "dept_head",
        "department": "civil",
    }
    client = app.test_client()
    response = client.post("/ops/users", data=form, headers=basic(*ADMIN), follow_redirects=True)
    assert response.status_code == 200 and "已添加用户 clerk" in response.get_data(as_text=True)
    with app.extensions["hallwatch"].sessions() as db:
        user = authenticate(db, "clerk", "long-enough")
        assert (user.role, user.department_id) == ("dept_head", "civil")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": ""}, "username", "请输入用户名"),
        ({"username": "boss"}, "username", "该用户名已存在"),
        ({"username": " padded"}, "username", "首尾不能有空格"),
        ({"confirm": "something-else"}, "confirm", "两次输入的密码不一致"),
        ({"password": "short", "confirm": "short"}, "password", "密码至少 8 个字符"),
        ({"role": "dept_head", "department": ""}, "department", "部门负责人必须选择所属部门"),
        ({"role": "inspector", "department": "civil"}, "department", "只有部门负责人属于某个部门"),
        ({"role": "emperor"}, "role", "不是有效的选择"),
    ],
)
def test_a_bad_new_user_is_shown_back_per_field(app, changes, field, message):
    form = {
        "username": "newbie",
        "password": "long-enough",
        "confirm": "long-enough",
        "role": "inspector",
        "department": "",
    } | changes
    response = post(app, "/ops/users", form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    add = re.search(r'<section class="ops-add".*?</section>', html, re.S)[0]
    errors = re.search(rf'id="new-{field}".*?(?=<p><label|<p class="small">)', add, re.S)[0]
    assert message in errors, errors
    if form["username"].strip():
        assert f'value="{form["username"]}"' in add  # what was typed is kept
    with app.extensions["hallwatch"].sessions() as db:
        assert authenticate(db, "newbie", "long-enough") is None


def test_changing_a_role_and_resetting_a_password(app):
    boss = user_id(app, "boss")
    form = {"role": "dept_head", "department": "tax", "password": "", "confirm": ""}
    assert post(app, f"/ops/users/{boss}", form).status_code == 302
    with app.extensions["hallwatch"].sessions() as db:
        user = authenticate(db, *MANAGER)  # the password is unchanged
        assert (user.role, user.department_id) == ("dept_head", "tax")
    form = {
        "role": "hall_manager",
        "department": "",
        "password": "new-secret",
        "confirm": "new-secret",
    }
    assert post(app, f"/ops/users/{boss}", form).status_code == 302
    with app.extensions["hallwatch"].sessions() as db:
        assert authenticate(db, *MANAGER) is None
        assert authenticate(db, "boss", "new-secret").role == "hall_manager"
    bad = post(app, f"/ops/users/{boss}", {"role": "dept_head", "department": ""})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "部门负责人必须选择所属部门" in html
    assert re.search(rf'<tr id="user-{boss}">.*?<details open>', html, re.S)  # the form stays open
    assert post(app, "/ops/users/99999", form).status_code == 404


def test_an_admin_cannot_delete_or_demote_themselves(app):
    me = user_id(app, "root")
    response = post(app, f"/ops/users/{me}/delete", {})
    assert response.status_code == 400 and "不能删除自己" in response.get_data(as_text=True)
    demote = post(app, f"/ops/users/{me}", {"role": "inspector", "department": ""})
    assert demote.status_code == 400 and "不能更改自己的角色" in demote.get_data(as_text=True)
    with app.extensions["hallwatch"].sessions() as db:
        assert db.get(UserRow, me).role == "admin"


def test_deleting_a_user_and_never_the_last_admin(app):
    tax = user_id(app, "tax")
    assert post(app, f"/ops/users/{tax}/delete", {}).status_code == 302
    assert user_id(app, "tax") is None
    assert post(app, f"/ops/users/{tax}/delete", {}).status_code == 404
    # Through the pages an admin is always left (the one acting); the rule itself holds too.
    with app.extensions["hallwatch"].sessions() as db:
        with pytest.raises(UserChangeRefused) as refused:
            delete_user(db, user_id(app, "root"))
        assert refused.value.reason == "last_admin"
    second = {
        "username": "root2",
        "password": "pw-root2-xx",
        "confirm": "pw-root2-xx",
        "role": "admin",
        "department": "",
    }
    assert post(app, "/ops/users", second).status_code == 302
    assert (
        post(
            app, f"/ops/users/{user_id(app, 'root')}/delete", {}, user=("root2", "pw-root2-xx")
        ).status_code
        == 302
    )


def test_only_admins_manage_users(app):
    boss = user_id(app, "boss")
    new = {
        "username": "x1",
        "password": "long-enough",
        "confirm": "long-enough",
        "role": "inspector",
    }
    for user in (MANAGER, INSPECTOR):
        get(app, "/ops/users", user=user, status=403)
        assert post(app, "/ops/users", new, user=user).status_code == 403
        assert post(app, f"/ops/users/{boss}", {"role": "admin"}, user=user).status_code == 403
        assert post(app, f"/ops/users/{boss}/delete", {}, user=user).status_code == 403
    assert user_id(app, "x1") is None and user_id(app, "boss") == boss


def test_forms_need_the_csrf_token(app):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    page = client.get("/ops/users", headers=basic(*ADMIN)).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    form = {
        "username": "clerk",
        "password": "long-enough",
        "confirm": "long-enough",
        "role": "inspector",
        "department": "",
    }
    assert client.post("/ops/users", data=form, headers=basic(*ADMIN)).status_code == 400
    assert user_id(app, "clerk") is None
    ok = client.post("/ops/users", data=form | {"csrf_token": token}, headers=basic(*ADMIN))
    assert ok.status_code == 302 and user_id(app, "clerk")
