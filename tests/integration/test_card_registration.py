"""Registering an unknown card to a person from /ops/unknown-cards, and the registry download,
on real services: a reader's card shown in hex and in the decimal printed on it, registered
through an import's validation, refused when someone else holds it, never by an inspector."""

from __future__ import annotations

import html
import re
import threading
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest

from hallwatch.cards import card_hex
from hallwatch.events import BadgeRead
from hallwatch.influx.eventstore import event_point
from hallwatch.registry.changes import register_card
from hallwatch.registry.importing import import_file
from hallwatch.registry.load import registry_revision
from hallwatch.registry.parse import parse_deployment
from hallwatch.registry.users import add_user
from tests.conftest import database_url_for
from tests.helpers import BACKENDS, deployment_env, wait_until
from tests.mqtt_helpers import publish, publisher
from tests.web_helpers import app_for, basic, confirm_preview

MANAGER = ("boss", "pw-boss")
INSPECTOR = ("eye", "pw-eye-123")
CARD, PRINTED = "8EC793", "0009357203"  # docs/REGISTRY.md's dec:0009357203
CSRF_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(deployment):
    """The deployment's app (CSRF on, as in production) with an inspector besides the manager."""
    app = app_for(deployment)
    with app.extensions["hallwatch"].sessions() as db:
        add_user(db, INSPECTOR[0], "inspector", INSPECTOR[1])
        db.commit()
    return app


class Browser:
    """A browser session of one user: reads pages and posts their forms with the CSRF token."""

    def __init__(self, app, user=MANAGER):
        self.client = app.test_client()
        self.headers = basic(*user)

    def get(self, path: str, **query):
        return self.client.get(path, query_string=query, headers=self.headers)

    def page(self, path: str = "/ops/unknown-cards", **query) -> str:
        response = self.get(path, **query)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_data(as_text=True)

    def register(self, card: str, staff: str, **options):
        token = CSRF_TOKEN.search(self.page())[1]  # the page has a form with it
        form = {"csrf_token": token, "card": card, "staff": staff}
        return self.client.post(
            "/ops/unknown-cards?hours=24", data=form, headers=self.headers, **options
        )


def read_card(app, device: str, uid: str, minutes_ago: float = 1) -> None:
    """A badge read as the collector stores it (nobody held the card then)."""
    read = BadgeRead(device, datetime.now(UTC) - timedelta(minutes=minutes_ago), uid)
    app.extensions["hallwatch"].influx.write([event_point(read).to_line()])


def registry_of(app):
    return app.extensions["hallwatch"].registry(fresh=True)


def revision(app) -> int:
    with app.extensions["hallwatch"].sessions() as db:
        return registry_revision(db)


def row_of(html: str, card: str) -> str | None:
    found = re.search(rf'<tr class="card" data-card="{card}".*?</tr>', html, re.S)
    return found[0] if found else None


def test_a_card_read_at_a_reader_shows_in_hex_and_as_printed(app, collector_process, mosquitto):
    pub = publisher(mosquitto.url)
    publish(pub, "hallwatch/devices/desk-w03-card/events", {"type": "badge", "uid": "8e:c7:93"})
    manager = Browser(app)
    row = wait_until(lambda: row_of(manager.page(), CARD), timeout=15)
    assert f'<td class="hex"><code>{CARD}</code></td>' in row
    assert f'<td class="decimal"><code>{PRINTED}</code></td>' in row
    assert "3号窗口" in row and "税务局" in row


@BACKENDS
def test_registering_a_card_makes_its_holder_known_and_takes_it_off_the_list(app):
    read_card(app, "desk-w03-card", CARD)
    manager = Browser(app)
    assert row_of(manager.page(), CARD)

    response = manager.register(CARD, "s003")

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/ops/unknown-cards?hours=24")
    assert registry_of(app).holder_of(f"dec:{PRINTED}").id == "s003"
    assert registry_of(app).staff_by_id["s003"].badges == ("04A1B2C5", CARD)
    after = manager.page()
    assert row_of(after, CARD) is None
    assert f"已将卡 {CARD}(十进制 {PRINTED})登记给 王五(税务局)" in after
    assert "下载当前名册 (YAML)" in after  # the file a manager keeps would drop it otherwise


def test_the_success_message_reads_in_english_too(app):
    read_card(app, "desk-w01-card", CARD)
    manager = Browser(app)
    manager.page(lang="en")
    after = manager.register(CARD, "s001", follow_redirects=True).get_data(as_text=True)
    assert f"Card {CARD} (decimal {PRINTED}) is now registered to 张三 (民政局)" in after
    assert "download the current registry (YAML)" in after


def test_a_card_someone_else_holds_is_refused_with_the_problem_and_nothing_changes(app):
    before, counted = registry_of(app), revision(app)

    response = Browser(app).register("dec:0077705923", "s002")  # 04A1B2C3: 张三's card

    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert "卡 04A1B2C3 未登记,名册未做任何更改" in page
    problem = re.search(r'<div class="ops-problems refused".*?</div>', page, re.S)[0]
    assert "<code>staff[1] (id s002)</code>" in problem and "<code>badges</code>" in problem
    assert "card '04A1B2C3' is also held by s001" in problem
    assert registry_of(app) == before and revision(app) == counted


def test_a_listed_card_without_a_choice_says_so_next_to_its_form(app):
    read_card(app, "desk-w01-card", CARD)
    before = registry_of(app)

    response = Browser(app).register(CARD, "")

    assert response.status_code == 400
    row = row_of(response.get_data(as_text=True), CARD)
    assert "请选择持卡人" in row and 'class="ops-register"' in row
    assert registry_of(app) == before


def test_a_card_cannot_go_to_someone_not_in_the_registry_or_be_no_card(app):
    before = registry_of(app)
    manager = Browser(app)
    assert manager.register(CARD, "s999").status_code == 400
    refused = manager.register("not-a-card", "s001")
    assert refused.status_code == 400
    assert "is not a card number in hex" in refused.get_data(as_text=True)
    assert registry_of(app) == before


def test_an_inspector_sees_both_numbers_but_may_not_register(app):
    read_card(app, "desk-w01-card", CARD)
    inspector = Browser(app, INSPECTOR)
    row = row_of(inspector.page(), CARD)
    assert PRINTED in row and "<form" not in row
    before = registry_of(app)
    assert inspector.register(CARD, "s001").status_code == 403
    assert inspector.get("/ops/registry.yaml").status_code == 403
    assert registry_of(app) == before


def test_the_registry_download_is_the_registry_and_uploads_back_unchanged(app):
    read_card(app, "desk-w01-card", CARD)
    manager = Browser(app)
    assert manager.register(CARD, "s002").status_code == 302
    assert 'href="/ops/registry.yaml"' in manager.page("/ops/registry")

    response = manager.get("/ops/registry.yaml")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/yaml; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="hallwatch-registry-\d{8}-\d{4}\.yaml"',
        response.headers["Content-Disposition"],
    )
    text = response.get_data(as_text=True)
    downloaded = parse_deployment(text)
    assert downloaded == app.extensions["hallwatch"].deployment(fresh=True)
    assert downloaded.first.staff_by_id["s002"].badges == ("04A1B2C4", CARD)
    token = CSRF_TOKEN.search(manager.page("/ops/registry"))[1]
    upload = manager.client.post(
        "/ops/registry",
        data={"csrf_token": token, "file": (BytesIO(text.encode()), "hall.yaml")},
        headers=manager.headers,
        content_type="multipart/form-data",
    )
    preview = upload.headers["Location"]
    assert "此文件与当前名册相同" in manager.page(preview)
    confirm_preview(manager.client, preview, manager.headers, token=token)
    assert "名册已导入:0 处变更。" in manager.page("/ops/registry")


@BACKENDS
def test_cards_registered_at_the_same_moment_all_stay(app):
    """Each registration rewrites the whole registry: the second must read the first's card."""
    runtime = app.extensions["hallwatch"]
    people = ("s001", "s002", "s003")
    cards = [card_hex(0xC0DE00 + n) for n in range(3 * len(people))]
    start = threading.Barrier(len(people))

    def register_cards(person: str, mine: list[str]) -> None:
        for card in mine:
            start.wait()
            register_card(runtime.sessions, person, card, datetime.now(UTC))

    threads = [
        threading.Thread(target=register_cards, args=(person, cards[i :: len(people)]))
        for i, person in enumerate(people)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    registry = registry_of(app)
    assert all(registry.holder_of(card) is not None for card in cards)
    assert registry.staff_by_id["s002"].badges == ("04A1B2C4", *cards[1::3])


# --- two halls: a manager of one registers cards to that hall's people only ------------------

TWO_HALLS = """
halls:
  - id: east
    name: 东城大厅
    departments:
      - {id: civil, name: 民政局}
    windows:
      - {id: E01, name: 东1号窗口, department: civil}
    staff:
      - {id: e001, name: 张三, department: civil}
    devices:
      - {id: e01-card, kind: badge_reader, window: E01}
  - id: west
    name: 西城大厅
    timezone: Asia/Urumqi
    departments:
      - {id: tax, name: 税务局}
    windows:
      - {id: X01, name: 西1号窗口, department: tax}
    staff:
      - {id: x001, name: 李四, department: tax}
    devices:
      - {id: x01-card, kind: badge_reader, window: X01}
"""


@pytest.fixture
def two_halls(tmp_path: Path, mosquitto, influx_db):
    """Two halls, a manager of the east one only, and a card read in each hall."""
    url = next(database_url_for("sqlite", tmp_path))
    app = app_for(deployment_env(url, mosquitto.url, influx_db))
    runtime = app.extensions["hallwatch"]
    (tmp_path / "halls.yaml").write_text(TWO_HALLS, encoding="utf-8")
    import_file(runtime.sessions, tmp_path / "halls.yaml")
    with runtime.sessions() as db:
        add_user(db, "east_mgr", "hall_manager", "pw-east", halls=["east"])
        db.commit()
    read_card(app, "e01-card", "E0E0E0")
    read_card(app, "x01-card", "A0A0A0")
    return app


def test_a_hall_manager_registers_cards_of_their_hall_to_its_people_only(two_halls):
    east = Browser(two_halls, ("east_mgr", "pw-east"))
    html = east.page()
    assert row_of(html, "E0E0E0") and row_of(html, "A0A0A0") is None
    assert "e001" in html and "x001" not in html
    assert east.register("A0A0A0", "x001").status_code == 400  # not a choice here
    assert east.register("E0E0E0", "e001").status_code == 302
    halls = two_halls.extensions["hallwatch"].deployment(fresh=True)
    assert halls.by_id["east"].holder_of("E0E0E0").id == "e001"
    assert halls.by_id["west"].staff_by_id["x001"].badges == ()
    downloaded = parse_deployment(east.get("/ops/registry.yaml").get_data(as_text=True))
    assert downloaded.ids == ("east",)  # the other hall's people are not theirs to read
