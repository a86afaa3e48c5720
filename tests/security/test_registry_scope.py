"""A hall manager limited to one hall changes that hall's registry only (issue 17, item 5):
uploads and card registrations, on two real halls (tests/integration/test_multi_hall.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
import yaml

from hallwatch.registry.changes import register_card
from hallwatch.registry.file import RegistryError
from hallwatch.registry.load import load_deployment
from tests.conftest import database_url_for
from tests.halls import two_halls_deployment, two_halls_yaml
from tests.web_helpers import app_for, basic, confirm_preview

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(tmp_path: Path):
    yield from database_url_for("sqlite", tmp_path)


@pytest.fixture
def deployment(tmp_path: Path, mosquitto, influx_db, database_url):
    """The two halls of tests/integration/test_multi_hall.py, and a user of each kind."""
    return two_halls_deployment(tmp_path, mosquitto.url, influx_db, database_url)


@pytest.fixture
def app(deployment):
    """The app of the two halls with CSRF off: forms are posted over HTTP Basic."""
    app = app_for(deployment)
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def halls_of(app) -> dict:
    with app.extensions["hallwatch"].sessions() as session:
        return {r.hall.id: r for r in load_deployment(session).halls}


def upload(app, text: str, who: str = "east_mgr"):
    """Upload and confirm: the last response (a refused upload's own)."""
    client = app.test_client()
    headers = basic(who, f"pw-{who}")
    response = client.post(
        "/ops/registry",
        data={"file": (BytesIO(text.encode()), "halls.yaml")},
        headers=headers,
        content_type="multipart/form-data",
    )
    if response.status_code != 302:
        return response
    return confirm_preview(client, response.headers["Location"], headers)


def test_a_file_that_touches_another_hall_is_refused_whole(app):
    before = halls_of(app)
    text = two_halls_yaml().replace("西1号窗口", "改了")  # west rewritten
    response = upload(app, text)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "<code>halls[1] (id west)</code>" in page
    assert "not one of the halls you manage (east)" in page
    assert halls_of(app) == before


def test_their_own_file_changes_their_hall_and_keeps_the_others(app, client):
    mine = client.get("/ops/registry.yaml", headers=basic("east_mgr", "pw-east_mgr"))
    data = yaml.safe_load(mine.get_data(as_text=True))
    assert [h["id"] for h in data["halls"]] == ["east"]  # the download holds theirs only
    data["halls"][0]["windows"].append({"id": "E02", "name": "东2号窗口", "department": "civil"})
    west_before = halls_of(app)["west"]

    response = upload(app, yaml.safe_dump(data, allow_unicode=True))

    assert response.status_code == 302, response.get_data(as_text=True)
    after = halls_of(app)
    assert list(after) == ["east", "west"]  # before the fix: west retired
    assert sorted(after["east"].window_by_id) == ["E01", "E02"]
    assert after["west"] == west_before


def test_their_file_cannot_take_an_id_or_card_of_another_hall(app):
    before = halls_of(app)
    text = two_halls_yaml().split("  - id: west")[0].replace('"04A1B2C3"', '"04A1B2C4"')
    response = upload(app, text)  # 04A1B2C4 is 李四's card, in the west hall
    assert response.status_code == 400
    assert "04A1B2C4" in response.get_data(as_text=True)
    assert halls_of(app) == before


def test_an_unlimited_manager_still_replaces_the_whole_deployment(app):
    text = two_halls_yaml().split("  - id: west")[0]
    assert upload(app, text, who="boss").status_code == 302
    assert list(halls_of(app)) == ["east"]


def test_a_card_cannot_be_registered_to_another_halls_staff(app, client):
    who = basic("east_mgr", "pw-east_mgr")
    form = {"card": "0A0B0C0D", "staff": "x001"}
    assert client.post("/ops/unknown-cards?hall=west", data=form, headers=who).status_code == 404
    refused = client.post("/ops/unknown-cards", data=form, headers=who)  # east's page
    assert refused.status_code == 400  # x001 is not among the choices
    assert halls_of(app)["west"].staff_by_id["x001"].badges == ("04A1B2C4",)


def test_the_store_registers_a_card_only_to_a_person_of_the_given_halls(app):
    sessions = app.extensions["hallwatch"].sessions
    now = datetime.now(UTC)
    with pytest.raises(RegistryError, match="'x001' is not in a hall you manage"):
        register_card(sessions, "x001", "0A0B0C0D", now, halls=("east",))
    register_card(sessions, "e001", "0A0B0C0D", now, halls=("east",))
    assert halls_of(app)["east"].staff_by_id["e001"].badges == ("04A1B2C3", "0A0B0C0D")
    assert halls_of(app)["west"].staff_by_id["x001"].badges == ("04A1B2C4",)
