#!/usr/bin/env python3
"""Screenshots of the pages for the docs, taken with Debian's chromium through Playwright.

    .venv/bin/python scripts/screenshots.py                  # starts `hallwatch demo` itself
    .venv/bin/python scripts/screenshots.py --url http://127.0.0.1:8080/   # a running demo

Saves into docs/screenshots/: floor-manager.png, window-timeline.png and alerts.png at
1366×768 as the demo's hall manager, report.png (this month's report, the whole page up to
REPORT_MAX_HEIGHT px) likewise, and floor-dept-head.png at 390×844 (a phone) as a
department head. Without --url it runs `hallwatch demo` (so no other demo may be running:
they share var/), waits for its banner, and stops it afterwards. With --url the login
defaults to the demo's (user `manager`, password from var/demo-password).

The department head: with --dept-user/--dept-password an existing one; otherwise the user
`docs-dept-head` is created (or updated) with `hallwatch user add` in the demo's database
(HALLWATCH_DATABASE_URL, by default var/hallwatch.sqlite3 as the demo uses), heading the
department with the most windows. For staffing.png that department head first files a
sick leave, so the hall manager's page has a request waiting; ops-staff.png and
ops-roster.png are the hall manager's; audit.png is the audit page as the inspector
`docs-inspector` (created or updated the same way). A page that does not answer 200 is
left out and named; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urljoin

import requests

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"  # Debian's; never Playwright's own download
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
DEMO_USER = "manager"
DEPT_HEAD = "docs-dept-head"
INSPECTOR = "docs-inspector"
DEMO_READY_TIMEOUT_S = 240  # the demo waits for the simulator's backlog before its banner
DEMO_STOP_TIMEOUT_S = 30
PAGE_TIMEOUT_MS = 30_000  # the report's first look at a month reads every day of it
REPORT_MAX_HEIGHT = 2400  # px of the report's full page kept: ranking, charts, calendar top
HTTP_TIMEOUT_S = 10

log = logging.getLogger("screenshots")


@dataclass(frozen=True)
class Login:
    user: str
    password: str


@dataclass(frozen=True)
class Shot:
    """One picture: a path on the site, who looks, and the browser's viewport."""

    file: str
    path: str
    login: Login
    viewport: dict
    phone: bool = False
    max_height: int | None = None  # the full page, cut at this many px (None: the viewport)
    then: Callable | None = None  # done on the page before the picture, without one of it


class Demo:
    """`hallwatch demo` as a child process; its banner tells the URL and the login."""

    def __init__(self) -> None:
        self.url: str | None = None
        self.password: str | None = None
        self._ready = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "console.cli", "demo"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # our Ctrl-C is not its Ctrl-C: we stop it ourselves
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            log.debug("demo: %s", line.rstrip())
            if match := re.search(r"URL:\s+(http\S+)", line):
                self.url = match[1]
            if match := re.search(r"login:\s+\S+ / (\S+)", line):
                self.password = match[1]
            if self.url and self.password:
                self._ready.set()
        self._ready.set()  # it ended: wait() reports that

    def wait(self) -> tuple[str, str]:
        if not self._ready.wait(DEMO_READY_TIMEOUT_S) or not (self.url and self.password):
            raise SystemExit(
                f"screenshots: the demo printed no URL and login within "
                f"{DEMO_READY_TIMEOUT_S} s (exit status {self.process.poll()}); "
                "run ./dev demo to see why"
            )
        return self.url, self.password

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=DEMO_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def demo_password() -> str | None:
    path = ROOT / "var" / "demo-password"
    return path.read_text().strip() if path.exists() else None


def live(url: str, login: Login) -> dict:
    """/api/live as `login` sees it."""
    answer = requests.get(
        urljoin(url, "/api/live"), auth=(login.user, login.password), timeout=HTTP_TIMEOUT_S
    )
    answer.raise_for_status()
    return answer.json()


def biggest_department(hall: dict) -> str:
    """The department with the most windows (the first of them on a tie)."""
    counts = Counter(w["department"] for w in hall["windows"])
    return max(counts, key=counts.get)


def interesting_window(hall: dict) -> str:
    """A window with someone signed in (its timeline has most to show), else the first."""
    for window in hall["windows"]:
        if window["signed_in"]:
            return window["id"]
    return hall["windows"][0]["id"]


def make_user(name: str, role: str, department: str | None = None) -> Login:
    """Create or update one of the docs' users in the demo's database."""
    password = secrets.token_urlsafe(12)
    env = dict(os.environ)
    env.setdefault("HALLWATCH_DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'hallwatch.sqlite3'}")
    command = [sys.executable, "-m", "console.cli", "user", "add", name, "--role", role]
    command += ["--department", department] if department else []
    command += ["--password", password]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"screenshots: hallwatch user add failed: {done.stderr.strip()}")
    log.info("%s %s%s", role, name, f" heads {department}" if department else "")
    return Login(name, password)


def file_leave(page) -> None:
    """As a department head on /staffing: a sick leave for the first of their people on the
    next weekday, so the hall manager's page has a request waiting for a decision."""
    day = date.today() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    page.goto("/staffing")
    form = page.locator("#leave-staff").locator("xpath=ancestor::form")
    staff = page.locator("#leave-staff option:not([value=''])").first.get_attribute("value")
    form.locator("#leave-staff").select_option(staff)
    form.locator("#leave-from-day").fill(day.isoformat())
    form.locator("#leave-until-day").fill(day.isoformat())
    form.locator("#leave-type").select_option("sick")
    form.locator("#leave-reason").fill("发烧就医")
    with page.expect_navigation():
        form.locator("[type=submit]").click()


def take(browser, url: str, shot: Shot) -> str | None:
    """Log in, open the page, save the PNG; the reason when the page is not there."""
    context = browser.new_context(
        base_url=url,
        viewport=shot.viewport,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        is_mobile=shot.phone,
        has_touch=shot.phone,
    )
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto("/login")
        page.fill("#username", shot.login.user)
        page.fill("#password", shot.login.password)
        with page.expect_navigation():
            page.click("form.login button[type=submit]")
        if "/login" in page.url:
            return f"{shot.login.user} could not log in"
        if shot.then is not None:
            try:
                shot.then(page)
            except Exception as exc:  # noqa: BLE001 (a step that failed is reported, not raised)
                return f"{shot.then.__name__} failed: {exc}"
            return None
        answer = page.goto(shot.path)
        if answer is None or answer.status != 200:
            return f"{shot.path} answered {answer.status if answer else 'nothing'}"
        page.wait_for_load_state("networkidle")
        if shot.max_height is None:
            page.screenshot(path=str(OUT / shot.file))
        else:
            height = min(shot.max_height, page.evaluate("document.documentElement.scrollHeight"))
            clip = {"x": 0, "y": 0, "width": shot.viewport["width"], "height": height}
            page.screenshot(path=str(OUT / shot.file), full_page=True, clip=clip)
        return None
    finally:
        context.close()


def chromium_path() -> str:
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if path is None:
        raise SystemExit("screenshots: chromium not found; install it with bash scripts/setup.sh")
    return path


def run(url: str, manager: Login, dept_head: Login | None) -> list[str]:
    """Take every shot; return what was left out, and why."""
    from playwright.sync_api import sync_playwright

    hall = live(url, manager)
    if dept_head is None:
        dept_head = make_user(DEPT_HEAD, "dept_head", biggest_department(hall))
    inspector = make_user(INSPECTOR, "inspector")
    shots = [
        Shot("floor-manager.png", "/", manager, DESKTOP),
        Shot("floor-dept-head.png", "/", dept_head, PHONE, phone=True),
        Shot("window-timeline.png", f"/windows/{interesting_window(hall)}", manager, DESKTOP),
        Shot("alerts.png", "/alerts", manager, DESKTOP),
        Shot("report.png", "/reports", manager, DESKTOP, max_height=REPORT_MAX_HEIGHT),
        Shot("", "/staffing", dept_head, DESKTOP, then=file_leave),
        Shot("staffing.png", "/staffing", manager, DESKTOP, max_height=REPORT_MAX_HEIGHT),
        Shot("ops-staff.png", "/ops/staff", manager, DESKTOP),
        Shot("ops-roster.png", "/ops/roster", manager, DESKTOP),
        Shot("audit.png", "/ops/audit", inspector, DESKTOP),
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    missing = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        try:
            for shot in shots:
                reason = take(browser, url, shot)
                name = shot.file or f"the step on {shot.path}"
                if reason:
                    log.warning("%s left out: %s", name, reason)
                    missing.append(f"{name}: {reason}")
                elif shot.file:
                    log.info("saved %s", (OUT / shot.file).relative_to(ROOT))
        finally:
            browser.close()
    return missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running demo (default: start one)")
    parser.add_argument("--user", default=DEMO_USER, help="the hall manager (with --url)")
    parser.add_argument("--password", help="their password (default: var/demo-password)")
    parser.add_argument("--dept-user", help="an existing department head")
    parser.add_argument("--dept-password")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the demo's output")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="screenshots: %(message)s",
    )
    dept_head = Login(args.dept_user, args.dept_password) if args.dept_user else None
    if args.dept_user and not args.dept_password:
        parser.error("--dept-user needs --dept-password")
    demo = None
    try:
        if args.url:
            url, password = args.url, args.password or demo_password()
            if not password:
                parser.error("--password is needed (no var/demo-password here)")
        else:
            log.info("starting hallwatch demo (about a minute)")
            demo = Demo()
            url, password = demo.wait()
            args.user = DEMO_USER
        missing = run(url, Login(args.user, password), dept_head)
    finally:
        if demo is not None:
            demo.stop()
    for line in missing:
        log.warning("not taken: %s", line)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
