"""Stored XSS (S10): every name, note, user name and device message is an attack; every page
shows it as text, the JSON API returns it as data, and every HTML answer carries the CSP."""

from __future__ import annotations

from datetime import datetime
from html.parser import HTMLParser

import pytest

from tests.helpers import SHANGHAI
from tests.security.hostile_hall import PAYLOADS, RAW_MARKERS, HostileHall, path_of
from web import SECURITY_HEADERS

HALL_TZ = SHANGHAI  # the zone this module's hall file names

# Query strings that make the pages show more (a past instant, a day, a filter, English).
VARIANTS = ("", "?lang=en", "?status=all", "?hours=168", "?day={today}", "?at={now}")


def get_paths(hall: HostileHall) -> list[str]:
    """Every GET route of the app with real arguments (the admin's view of the whole hall)."""
    return [
        path_of(hall, rule.endpoint)
        for rule in hall.app.url_map.iter_rules()
        if "GET" in rule.methods and rule.endpoint != "static"
    ]


class Audit(HTMLParser):
    """What would run in a browser: event-handler attributes, inline scripts, injected tags."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.problems.append("<img src=x> injected")
        if tag == "script":
            kind = dict(attrs).get("type", "")
            if not dict(attrs).get("src") and kind != "application/json":
                self.problems.append("inline <script>")
            self._in_script = True

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and "alert(" in data:
            self.problems.append(f"script body {data[:60]!r}")


def audit(html: str) -> list[str]:
    parser = Audit()
    parser.feed(html)
    return parser.problems + [m for m in RAW_MARKERS if m in html]


@pytest.fixture(scope="module")
def answers(hall):
    """(path, response) for every GET route × variant, as the admin."""
    fill = {"today": datetime.now(HALL_TZ).date().isoformat(), "now": datetime.now(HALL_TZ)}
    fill["now"] = fill["now"].replace(microsecond=0).isoformat().replace("+", "%2B")
    client = hall.client("admin")
    out = []
    for path in get_paths(hall):
        for variant in VARIANTS:
            full = path + (variant if "?" not in path else variant.replace("?", "&"))
            out.append((full, client.get(full.format(**fill))))
    return out


def test_every_page_shows_the_attacks_as_text(answers):
    html = [(p, r) for p, r in answers if r.mimetype == "text/html"]
    assert len(html) > 40
    problems = {p: audit(r.get_data(as_text=True)) for p, r in html}
    assert {p: found for p, found in problems.items() if found} == {}
    assert all(r.status_code < 500 for _p, r in answers), [
        (p, r.status_code) for p, r in answers if r.status_code >= 500
    ]


def test_the_attacks_were_really_on_the_pages(answers):
    """The test above would pass on empty pages: the escaped names must be there."""
    pages = {p: r.get_data(as_text=True) for p, r in answers if r.mimetype == "text/html"}
    for where, word in [
        ("/", "CIVILX3"),  # a window name on the floor
        ("/departments", "CIVILX1"),
        ("/alerts?status=all", "&lt;/textarea&gt;&lt;script&gt;"),  # the acknowledgement note
        ("/ops/users", "&lt;img src=x onerror=alert("),  # the hostile user name
        ("/ops/rejected?hours=168", "&lt;img src=x onerror=alert(1)&gt;"),  # a rejected payload
        ("/public/ranking", "TAXX2"),
    ]:
        assert word in pages[where], where


def test_every_html_answer_carries_the_security_headers(answers):
    for path, response in answers:
        if response.mimetype == "text/html":
            for name, value in SECURITY_HEADERS.items():
                assert response.headers.get(name) == value, (path, name)


def test_downloads_hold_the_names_as_text(answers):
    downloads = [(p, r) for p, r in answers if r.status_code == 200 and p.startswith("/reports/")]
    assert downloads
    for path, response in downloads:
        assert response.mimetype != "text/html", path
        assert "attachment" in response.headers.get("Content-Disposition", ""), path


def test_the_json_api_returns_the_attacks_as_data(hall):
    client = hall.client("admin")
    live = client.get("/api/live")
    assert live.mimetype == "application/json"
    names = {w["name"] for w in live.get_json()["windows"]}
    assert any(PAYLOADS[3] in n for n in names)  # verbatim: escaping is the page's job
    rejected = client.get("/api/rejected?hours=168")
    assert rejected.mimetype == "application/json"
    assert any(PAYLOADS[1] in r["payload"] for r in rejected.get_json())
    assert any("<script>" in r["topic"] for r in rejected.get_json())
    for path in ("/api/live", "/api/rejected", "/api/alerts", "/api/unknown-cards"):
        response = client.get(path)
        assert response.mimetype == "application/json", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
