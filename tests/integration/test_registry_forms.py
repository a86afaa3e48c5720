"""The registry's daily forms on a real app (staff, cards, windows, devices, roster): each
change lands as an import would land it, audited; a refusal is shown beside its field and
changes nothing; an inspector reads and is refused; department heads hear of their people."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from alerts.channels import add_channel
from hallwatch.registry.alerting import OutboxRow
from hallwatch.registry.audit import AuditRow
from hallwatch.registry.roster_edits import line_key
from hallwatch.registry.users import add_user
from tests.halls import two_halls_deployment
from tests.helpers import BACKENDS
from tests.web_helpers import app_for, basic

CSRF_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
MANAGER = ("boss", "pw-boss")
INSPECTOR = ("eye", "pw-eye-123")


@pytest.fixture
def app(deployment):
    """The deployment's app (CSRF on) with an inspector, and the tax head reachable by e-mail."""
    app = app_for(deployment)
    with app.extensions["hallwatch"].sessions() as db:
        add_user(db, INSPECTOR[0], "inspector", INSPECTOR[1])
        add_channel(db, "tax", "email", "tax@example.org")
        db.commit()
    return app


class Browser:
    def __init__(self, app, user=MANAGER):
        self.app = app
        self.client = app.test_client()
        self.headers = basic(*user)

    def get(self, path: str, status: int = 200) -> str:
        response = self.client.get(path, headers=self.headers)
        assert response.status_code == status, response.get_data(as_text=True)[:2000]
        return unescape(response.get_data(as_text=True))

    def post(self, path: str, form: dict, page: str | None = None, status: int = 302):
        token = CSRF_TOKEN.search(self.get(page or path))[1]
        response = self.client.post(path, data={"csrf_token": token, **form}, headers=self.headers)
        assert response.status_code == status, response.get_data(as_text=True)[:3000]
        return unescape(response.get_data(as_text=True))


def registry_of(app):
    return app.extensions["hallwatch"].registry(fresh=True)


# Not the changes under test: the set-up's import and users, the test's logins and downloads.
NOT_REGISTRY = ("user.", "login", "logout", "download.", "registry.import")


def audited(app) -> list[tuple[str, str]]:
    """The registry changes in the audit trail, in order."""
    with app.extensions["hallwatch"].sessions() as db:
        rows = db.scalars(select(AuditRow).order_by(AuditRow.id))
        return [(r.action, r.target) for r in rows if not r.action.startswith(NOT_REGISTRY)]


def messages(app) -> list[tuple[str, str]]:
    with app.extensions["hallwatch"].sessions() as db:
        return [(r.target, r.subject) for r in db.scalars(select(OutboxRow).order_by(OutboxRow.id))]


@BACKENDS
def test_a_person_is_added_with_a_card_renamed_moved_and_retired(app):
    boss = Browser(app)
    form = {"staff_id": "s009", "name": "赵九", "department": "civil", "card": "dec:0009357203"}
    boss.post("/ops/staff", form)
    page = boss.get("/ops/staff/s009")
    assert "赵九" in page and "8EC793" in page
    boss.post("/ops/staff/s009", {"name": "赵玖"}, page="/ops/staff/s009")
    boss.post("/ops/staff/s009/move", {"department": "tax"}, page="/ops/staff/s009")
    person = registry_of(app).staff_by_id["s009"]
    assert (person.name, person.department, person.badges) == ("赵玖", "tax", ("8EC793",))
    assert messages(app) == [("tax@example.org", "人员调动:赵玖")]

    confirm = boss.get("/ops/staff/s001/retire")
    assert "W01" in confirm and "确认停用" in confirm
    boss.post("/ops/staff/s001/retire", {"confirm": "yes"})
    registry = registry_of(app)
    assert "s001" not in registry.staff_by_id
    assert all(line.staff != "s001" for line in registry.roster)
    assert [a for a, _ in audited(app)] == ["staff.add", "staff.edit", "staff.move", "staff.retire"]


def test_refusals_are_shown_beside_their_field_and_change_nothing(app):
    boss = Browser(app)
    page = boss.post(
        "/ops/staff",
        {"staff_id": "s001", "name": "重复", "department": "civil"},
        page="/ops/staff",
        status=400,
    )
    assert re.search(
        r'id="new-staff-id"[^>]*>\s*</p><p class="error">this id is already used', page
    )
    page = boss.post(
        "/ops/staff/s002/cards", {"card": "04a1b2c3"}, page="/ops/staff/s002", status=400
    )
    assert re.search(r'id="card"[^>]*>\s*</p><p class="error">[^<]*also held by s001', page)
    page = boss.post("/ops/staff", {"staff_id": "", "name": ""}, page="/ops/staff", status=400)
    assert "请输入编号" in page and "请输入姓名" in page
    assert registry_of(app).staff_by_id["s002"].badges == ("04A1B2C4",)
    assert audited(app) == []


def test_a_card_is_added_and_removed_on_the_persons_page(app):
    boss = Browser(app)
    boss.post("/ops/staff/s002/cards", {"card": "0a0b0c0d"}, page="/ops/staff/s002")
    assert registry_of(app).staff_by_id["s002"].badges == ("04A1B2C4", "0A0B0C0D")
    boss.post("/ops/staff/s002/cards/remove", {"card": "04A1B2C4"}, page="/ops/staff/s002")
    assert registry_of(app).staff_by_id["s002"].badges == ("0A0B0C0D",)
    assert [a for a, _ in audited(app)] == ["card.add", "card.remove"]


def test_a_window_in_use_retires_with_its_devices_and_roster_on_confirmation(app):
    boss = Browser(app)
    boss.post(
        "/ops/places/windows",
        {"window_id": "W09", "name": "9号窗口", "department": "tax"},
        page="/ops/places",
    )
    boss.post(
        "/ops/places/windows/W09",
        {"name": "综合窗口", "row": "3", "column": "1"},
        page="/ops/places/windows/W09",
    )
    assert registry_of(app).window_by_id["W09"].position == (3, 1)
    page = boss.post(
        "/ops/places/windows/W02/retire",
        {"confirm": "yes"},
        page="/ops/places/windows/W02/retire",
        status=400,
    )
    assert "still in use by device desk-w02-card" in page
    confirm = boss.get("/ops/places/windows/W02/retire")
    assert "desk-w02-card" in confirm and 'name="with_dependents" value="yes"' in confirm
    boss.post("/ops/places/windows/W02/retire", {"confirm": "yes", "with_dependents": "yes"})
    registry = registry_of(app)
    assert "W02" not in registry.window_by_id and "desk-w02-card" not in registry.device_by_id
    assert all(line.window != "W02" for line in registry.roster)


def test_a_device_gets_a_firmware_name_moves_and_a_taken_name_is_refused(app):
    boss = Browser(app)
    form = {
        "device_id": "desk-w03-seat",
        "kind": "presence_sensor",
        "window": "W03",
        "department": "",
        "zigbee2mqtt": "1F/W03 seat",
        "sensing": "radar",
    }
    boss.post("/ops/places/devices", form, page="/ops/places")
    device = registry_of(app).device_by_id["desk-w03-seat"]
    assert (device.zigbee2mqtt, device.sensing) == ("1F/W03 seat", "radar")
    page = boss.post(
        "/ops/places/devices/desk-w03-seat",
        {"kind": "presence_sensor", "zigbee2mqtt": "seat_w01", "sensing": "radar"},
        page="/ops/places/devices/desk-w03-seat",
        status=400,
    )
    assert re.search(r'id="zigbee2mqtt"[^>]*>\s*</p><p class="error">', page)
    audit_rows = len(audited(app))
    unchanged = {"kind": "presence_sensor", "zigbee2mqtt": "1F/W03 seat", "sensing": "radar"}
    boss.post(
        "/ops/places/devices/desk-w03-seat", unchanged, page="/ops/places/devices/desk-w03-seat"
    )
    assert len(audited(app)) == audit_rows  # saved as it was: nothing applied, nothing audited
    boss.post(
        "/ops/places/devices/desk-w03-card/move",
        {"window": "", "department": "tax"},
        page="/ops/places/devices/desk-w03-card",
    )
    assert registry_of(app).device_by_id["desk-w03-card"].department == "tax"
    boss.post("/ops/places/devices/desk-w03-card/retire", {"confirm": "yes"})
    assert "desk-w03-card" not in registry_of(app).device_by_id


def test_a_roster_line_is_added_edited_and_ended_and_the_heads_hear_of_it(app):
    boss = Browser(app)
    form = {
        "staff": "s003",
        "window": "W03",
        "days": ["sat", "sun"],
        "start": "2026-12-01",
        "hours": "09:00-12:00",
    }
    page = boss.post("/ops/roster", {**form, "days": []}, page="/ops/roster", status=400)
    assert "请至少选择一天" in page
    boss.post("/ops/roster", form)
    line = registry_of(app).roster[-1]
    assert (line.staff, line.days, len(line.hours)) == ("s003", frozenset({"sat", "sun"}), 1)
    entry = {
        "staff": "s003",
        "window": "W03",
        "days": ["sat", "sun"],
        "from": "2026-12-01",
        "hours": [["09:00", "12:00"]],
    }
    key = line_key(entry)
    assert key in boss.get("/ops/roster?q=s003")
    page = boss.post(
        f"/ops/roster/{key}",
        {"window": "W03", "days": ["sat"], "start": "2026-12-05", "until": "2026-12-01"},
        status=400,
    )
    assert re.search(r'id="until"[^>]*>\s*</p><p class="error">', page)
    boss.post(f"/ops/roster/{key}/end", {"last_day": "2026-12-31"}, page=f"/ops/roster/{key}")
    assert registry_of(app).roster[-1].until_date.isoformat() == "2026-12-31"
    assert [s for _, s in messages(app)] == ["排班变更:王五", "排班变更:王五"]


def test_an_inspector_reads_the_pages_and_is_refused_every_change(app):
    eye = Browser(app, INSPECTOR)
    for path in (
        "/ops/staff",
        "/ops/staff/s001",
        "/ops/places",
        "/ops/places/windows/W01",
        "/ops/places/devices/desk-w01-card",
        "/ops/roster",
    ):
        assert '<form method="post" action="/ops/' not in eye.get(path)
    token = CSRF_TOKEN.search(eye.get("/ops/staff"))[1]
    response = eye.client.post(
        "/ops/staff",
        data={"csrf_token": token, "staff_id": "x", "name": "x", "department": "civil"},
        headers=eye.headers,
    )
    assert response.status_code == 403
    assert "x" not in registry_of(app).staff_by_id


def test_a_manager_limited_to_a_hall_sees_and_changes_only_that_hall(
    tmp_path, mosquitto, influx_db
):
    env = two_halls_deployment(tmp_path, mosquitto.url, influx_db, f"sqlite:///{tmp_path}/h.db")
    app = app_for(env)
    east = Browser(app, ("east_mgr", "pw-east_mgr"))
    page = east.get("/ops/staff")
    assert "e001" in page and "x001" not in page
    east.get("/ops/staff?hall=west", status=404)
    east.get("/ops/staff/x001", status=404)
    east.post("/ops/staff/e001", {"name": "张叁"}, page="/ops/staff/e001")
    assert (
        app.extensions["hallwatch"].deployment(fresh=True).by_id["east"].staff_by_id["e001"].name
        == "张叁"
    )
    page = east.post(
        "/ops/staff",
        {"staff_id": "e002", "name": "钱七", "department": "tax"},
        page="/ops/staff",
        status=400,
    )
    assert "e002" not in registry_of(app).staff_by_id
