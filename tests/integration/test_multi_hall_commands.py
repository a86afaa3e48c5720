"""`hallwatch` report, provision and simulate on two halls: each hall, or the one asked for."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from console.provision import account_password
from console.services import Mosquitto
from hallwatch.config import Settings
from hallwatch.mqtt import hang_up, make_client
from tests.halls import two_halls_deployment, two_halls_yaml
from tests.helpers import hallwatch, wait_until


@pytest.fixture
def deployment(tmp_path: Path, mosquitto, influx_db, database_url):
    """The two halls of test_multi_hall imported with the CLI, and a user of each kind."""
    return two_halls_deployment(tmp_path, mosquitto.url, influx_db, database_url)


def test_hallwatch_report_writes_the_hall_asked_for(deployment, tmp_path: Path):
    from openpyxl import load_workbook

    out = tmp_path / "west.xlsx"
    hallwatch("report", "--month", "2026-11", "--hall", "west", "--out", str(out), env=deployment)
    cells = [c for row in load_workbook(out)["窗口逐日"].iter_rows(values_only=True) for c in row]
    assert "X01" in cells and "E01" not in cells
    wrong = hallwatch(
        "report",
        "--month",
        "2026-11",
        "--hall",
        "nowhere",
        "--out",
        str(out),
        env=deployment,
        check=False,
    )
    assert wrong.returncode == 2 and "east, west" in wrong.stderr


def test_provision_gives_every_halls_devices_an_account(deployment, tmp_path: Path):
    hall_file = tmp_path / "halls.yaml"
    for source in (["--registry", str(hall_file)], []):  # the file, then the database
        out = tmp_path / f"mqtt{len(source)}"
        run = hallwatch("provision", *source, "--out", str(out), env=deployment)
        for device in ("e01-card", "e01-seat", "x01-card", "x01-seat"):
            assert f"added   {device}" in run.stdout
            assert account_password(out, device)


def devices_heard(broker_url: str, run) -> set[str]:
    """The devices that published under hallwatch/devices/ while `run()` ran."""
    heard: set[str] = set()
    target = Settings(mqtt_url=broker_url).mqtt_target()
    listener = make_client(target, f"listen-{uuid.uuid4().hex[:6]}")
    listener.on_message = lambda c, u, message: heard.add(message.topic.split("/")[2])
    listener.on_connect = lambda c, u, flags, rc, props: c.subscribe("hallwatch/devices/+/events")
    listener.connect(target.host, target.port)
    listener.loop_start()
    wait_until(listener.is_connected)
    time.sleep(0.3)  # the SUBACK
    run()
    time.sleep(0.5)
    hang_up(listener)
    return heard


def test_simulate_plays_every_hall_or_the_one_asked_for(deployment, start_service, tmp_path: Path):
    # A broker of its own: the simulated devices leave retained status messages behind,
    # which would reach every later subscriber of the shared broker.
    mosquitto = start_service(Mosquitto)
    deployment = {**deployment, "HALLWATCH_MQTT_URL": mosquitto.url}
    hall_file, truth = tmp_path / "halls.yaml", tmp_path / "truth.csv"
    replay = ["simulate", "--registry", str(hall_file), "--mode", "replay"]
    replay += ["--day", "2026-11-24", "--speed", "200000"]

    def every_hall():
        hallwatch(*replay, "--truth", str(truth), env=deployment)

    assert devices_heard(mosquitto.url, every_hall) >= {"e01-seat", "x01-seat"}
    for hall, window, offset in (("east", "E01", "+08:00"), ("west", "X01", "+06:00")):
        rows = (tmp_path / f"truth-{hall}.csv").read_text(encoding="utf-8").splitlines()[1:]
        assert rows and all(f"{offset},{window}," in row for row in rows)  # its own, its clock
    west = devices_heard(
        mosquitto.url, lambda: hallwatch(*replay, "--hall", "west", env=deployment)
    )
    assert west and all(device.startswith("x01") for device in west)
    unknown = hallwatch(*replay, "--hall", "north", env=deployment, check=False)
    assert unknown.returncode == 2 and "east, west" in unknown.stderr


def test_provision_refuses_a_bad_file_of_halls_whole(deployment, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(two_halls_yaml().replace("window: X01}", "window: X99}"), encoding="utf-8")
    out = tmp_path / "mqtt"
    run = hallwatch(
        "provision", "--registry", str(bad), "--out", str(out), env=deployment, check=False
    )
    assert run.returncode == 1
    assert "refused" in run.stderr and "X99" in run.stderr
    assert not out.exists()
