"""Accuracy over many window-days of realistic devices, through the real collector and InfluxDB.

    python -m bench.accuracy_days [--windows 50] [--days 21] [--seed 1] [--out docs/ACCURACY.md]
    python -m bench.accuracy_days --in-memory [--pir-timeout 300] [--graces 10 15 20]

Builds a hall of two groups of windows, one with mmWave radars and one with PIRs at the seats
(native firmware form, so the devices' own `ts` places every event in a fast replay), plans
`--days` working days before today with realistic devices (simulator.sensing: PIR stillness and
timeouts, radar flickers and ghosts, missed, double and forgotten card taps, clock skew, Wi-Fi
dropouts and gateway restarts), publishes them all as fast as the broker takes them to our own
Mosquitto, lets `hallwatch collector` (a real process, registry imported with `hallwatch
import`) store them in our own influxd, then reads each day back from InfluxDB and scores the
day's sweep and alert episodes against the ground truth (bench/accuracy_score.py).

The PIR group is scored twice from the same stored events: as registered (`sensing: pir`, the
state's sign-in corroboration) and as if the sensing were unsaid (today's behaviour). Each is
scored at the grace of `--graces` (the stored events do not depend on it). Days must be within
the collector's clock policy (30 days behind receipt), hence the days before today.

`--in-memory` skips the broker, the collector and InfluxDB: each message is converted by
`devices.convert` at its planned instant, as the collector would live. It is for trying
settings (`--pir-timeout`, `--graces`) quickly; the figures of record go through the services.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path

import paho.mqtt.client as mqtt

import devices
from bench.accuracy_score import Score, score_day
from bench.scale_out import points_written
from console.services import Influxd, Mosquitto, find_binary
from hallwatch import rules
from hallwatch.events import Event, Rejection
from hallwatch.influx.client import InfluxClient
from hallwatch.influx.eventstore import EventStore
from hallwatch.registry.parse import parse_registry
from hallwatch.registry.spec import Registry
from hallwatch.schedule import DaySchedule, is_working_day, local_midnight
from hallwatch.timeline import sweep
from simulator import sensing
from simulator.dayplan import DayPlan, plan_day

GROUPS = {"radar": ("R", "radar"), "pir": ("P", "pir")}  # department → window prefix, sensing
DB = "hallwatch_accuracy"
SETTLE_S = 15.0  # InfluxDB's write counter unchanged this long: the collector is done
DOC_BEGIN = "<!-- bench:accuracy_days:begin -->"
DOC_END = "<!-- bench:accuracy_days:end -->"


def hall_yaml(windows: int) -> str:
    """Two departments of `windows` windows each: a desk reader and a seat sensor at each,
    one clerk per window rostered on weekdays, an office reader per department."""
    lines = [
        "hall: {name: 准确度基准大厅, timezone: Asia/Shanghai}",
        "departments:",
        *[f"  - {{id: {dept}, name: {dept}组}}" for dept in GROUPS],
        "windows:",
    ]
    staff, devices, roster = [], [], []
    for dept, (prefix, kind) in GROUPS.items():
        devices.append(f"  - {{id: office-{dept}, kind: badge_reader, department: {dept}}}")
        for i in range(1, windows + 1):
            w = f"{prefix}{i:02d}"
            lines.append(f"  - {{id: {w}, name: {w}号窗口, department: {dept}}}")
            staff.append(
                f'  - {{id: s{w}, name: 员工{w}, department: {dept}, badges: ["{_card(w)}"]}}'
            )
            devices.append(f"  - {{id: card-{w}, kind: badge_reader, window: {w}}}")
            devices.append(
                f"  - {{id: seat-{w}, kind: presence_sensor, window: {w}, sensing: {kind}}}"
            )
            roster.append(f"  - {{staff: s{w}, window: {w}, days: [mon, tue, wed, thu, fri]}}")
    return "\n".join([*lines, "staff:", *staff, "devices:", *devices, "roster:", *roster]) + "\n"


def _card(window: str) -> str:
    return f"AC{sum(ord(c) * 31**i for i, c in enumerate(window)) % 0xFFFFFF:06X}"


def _gateway(device) -> str:
    """Ten windows share a gateway (a Wi-Fi access point or a coordinator)."""
    place = device.window or device.department or device.id
    return place[:2]


def realism(pir_timeout_s: float, radar_fading_s: float, faults: bool = True) -> sensing.Realism:
    """The bench's devices: the registry's sensing says which model sits at each seat.
    Without `faults`: no radar losses or ghosts, no stray PIR motion, exact clocks, no outages
    (what is left is the sensors' own delays and the PIRs' blindness to stillness)."""
    pir = replace(sensing.AQARA_RTCGQ11LM, hold_s=pir_timeout_s)
    radar = replace(sensing.TUYA_ZY_M100, fading_s=radar_fading_s)
    network = sensing.NETWORK
    if not faults:
        pir = replace(pir, stray_per_hour=0)
        radar = replace(radar, loss_per_hour=0, ghost_per_hour=0)
        network = sensing.Network(
            clock_sd_s=0, clock_wrong=0, dropouts_per_day=0, gateway_restarts_per_day=0
        )

    def seat_model(device) -> sensing.PirModel | sensing.RadarModel:
        return pir if device.sensing == "pir" else radar

    return sensing.Realism(seat=seat_model, network=network, gateway_of=_gateway)


def bench_days(registry: Registry, count: int, today: date) -> list[date]:
    """The last `count` working days before `today`, within the collector's 30 days."""
    days, day = [], today - timedelta(days=1)
    while len(days) < count and day > today - timedelta(days=29):
        if is_working_day(registry.hall, day):
            days.append(day)
        day -= timedelta(days=1)
    return sorted(days)


# ---------------------------------------------------------------- services


def _env(work: Path, broker: Mosquitto, influx: Influxd) -> dict[str, str]:
    return {
        **os.environ,
        "HALLWATCH_DATABASE_URL": f"sqlite:///{work / 'registry.sqlite3'}",
        "HALLWATCH_MQTT_URL": broker.url,
        "HALLWATCH_INFLUX_URL": influx.url,
        "HALLWATCH_INFLUX_DB": DB,
        "HALLWATCH_SECRET_KEY": "bench",
        "HALLWATCH_COLLECTOR_ID": "bench-accuracy",
        "HALLWATCH_SPOOL_DIR": str(work / "spool"),
    }


def _start_collector(env: dict[str, str], log: Path) -> subprocess.Popen:
    cli = [sys.executable, "-m", "console.cli"]
    with log.open("w") as out:
        process = subprocess.Popen([*cli, "collector"], env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + 60
    while "subscribing" not in log.read_text():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError(f"collector did not subscribe:\n{log.read_text()}")
        time.sleep(0.2)
    time.sleep(1.0)
    return process


def publish(broker: Mosquitto, plans: list[DayPlan]) -> int:
    """Every planned message in time order at QoS 1, as fast as the broker acknowledges."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-accuracy-devices")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    sent, pending = 0, []
    try:
        for plan in plans:
            for message in plan.messages:
                pending.append(client.publish(message.topic, message.payload, qos=1))
                sent += 1
                if len(pending) >= 5000:
                    for info in pending:
                        info.wait_for_publish(60)
                    pending = []
        for info in pending:
            info.wait_for_publish(60)
    finally:
        client.disconnect()
        client.loop_stop()
    return sent


def wait_stored(influx: InfluxClient) -> int:
    """Wait until InfluxDB's write counter has not moved for SETTLE_S; the points written."""
    last, since = -1, time.monotonic()
    while True:
        now = points_written(influx)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= SETTLE_S:
            return now
        time.sleep(1.0)


def converted(registry: Registry, plans: list[DayPlan]) -> dict[date, list[Event]]:
    """Each day's events as the collector would make them live (the --in-memory mode)."""
    out: dict[date, list[Event]] = {}
    for plan in plans:
        events: list[Event] = []
        for message in plan.messages:
            result = devices.convert(message.topic, message.payload, message.at, registry)
            results = result if isinstance(result, tuple) else (result,)
            events += [r for r in results if r is not None and not isinstance(r, Rejection)]
        out[plan.day] = events
    return out


# ---------------------------------------------------------------- scoring


def unsaid(registry: Registry) -> Registry:
    """The same hall with no seat sensor's sensing said (today's behaviour)."""
    return replace(registry, devices=tuple(replace(d, sensing=None) for d in registry.devices))


def with_grace(registry: Registry, minutes: float) -> Registry:
    return replace(registry, hall=replace(registry.hall, empty_grace_minutes=minutes))


def score_all(
    registry: Registry, day_events: Callable[[date], list[Event]], plans, graces: list[float]
) -> dict[tuple[str, str, float], Score]:
    """(group, state rule, grace) → Score over all days; each group's windows alone."""
    results: dict[tuple[str, str, float], Score] = {}
    for plan in plans:
        events = day_events(plan.day)
        end = local_midnight(registry.hall, plan.day) + timedelta(days=1, microseconds=-1)
        for group, (prefix, sensing_kind) in GROUPS.items():
            mine = registry.only_department(group)
            ids = {d.id for d in mine.devices}
            theirs = [e for e in events if e.device in ids]
            truth = [r for r in plan.ground_truth if r.window.startswith(prefix)]
            variants = {"as registered": mine}
            if sensing_kind == "pir":
                variants["sensing unsaid"] = unsaid(mine)
            for rule, base in variants.items():
                for grace in graces:
                    reg = with_grace(base, grace)
                    day_sweep = sweep(reg, theirs, plan.day, end)
                    found = rules.episodes_of_day(reg, theirs, plan.day, end)
                    intervals = DaySchedule(reg, plan.day).open_intervals
                    day_score = score_day(
                        truth,
                        day_sweep.windows,
                        intervals,
                        found,
                        plan.office_reads,
                        timedelta(minutes=grace),
                    )
                    results.setdefault((group, rule, grace), Score()).add(day_score)
    return results


# ---------------------------------------------------------------- report


def _machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = next(
        int(line.split()[1]) / 1024**2
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )

    def version(*cmd: str) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    return (
        f"nproc {os.cpu_count()}; CPU {cpu}; RAM {mem:.1f} GiB; "
        f"{version(find_binary(Mosquitto.binary) or 'mosquitto', '-h')}; "
        f"{version(find_binary(Influxd.binary) or 'influxd', 'version')}; "
        f"python {platform.python_version()}; paho-mqtt {metadata.version('paho-mqtt')}"
    )


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f} %" if whole else "–"


def _per_1000(count: int, window_days: int) -> str:
    return f"{1000 * count / window_days:.1f}" if window_days else "–"


def _lateness(score: Score) -> str:
    if not score.lateness_s:
        return "–"
    values = sorted(score.lateness_s)
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    return f"{statistics.median(values) / 60:.1f} / {p95 / 60:.1f} / {values[-1] / 60:.1f}"


def table(results: dict[tuple[str, str, float], Score]) -> str:
    head = (
        "| seat sensor | state rule | grace (min) | window-days | minute agreement "
        "| false empty_window /1,000 window-days (false of all; early) "
        "| recall of empty spells ≥ grace "
        "| lateness median / p95 / max (min) | false absent | false pulled_back |\n"
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    rows = []
    for (group, rule, grace), s in sorted(results.items()):
        rows.append(
            f"| {group} | {rule} | {grace:g} | {s.window_days} | {100 * s.agreement:.2f} % "
            f"| {_per_1000(s.false_empty, s.window_days)} ({s.false_empty} of "
            f"{s.empty_windows}; {s.early_empty} early) "
            f"| {_pct(s.recalled, s.spells)} ({s.recalled} of {s.spells}; "
            f"{s.spells_unjudged} with the sensor offline not judged) | {_lateness(s)} "
            f"| {s.false_absent} of {s.absents} | {s.false_pulled_back} of {s.pulled_backs} |"
        )
    return "\n".join([head, *rows])


def confusion(results: dict[tuple[str, str, float], Score]) -> str:
    states = ("staffed", "away", "empty", "unknown", "closed")
    lines = []
    for (group, rule, grace), s in sorted(results.items()):
        lines.append(f"\n{group}, {rule}, grace {grace:g} min (window-minutes):\n")
        lines.append("| truth \\ state | " + " | ".join(states) + " |")
        lines.append("| --- |" + " ---: |" * len(states))
        for truth in ("occupied", "vacant"):
            cells = " | ".join(f"{s.minutes[(truth, st)]:,}" for st in states)
            lines.append(f"| {truth} | {cells} |")
    return "\n".join(lines)


def report(results, args, days: list[date], sent: int, stored: int, seconds: dict) -> str:
    command = "python -m bench.accuracy_days " + " ".join(
        f"--{k} {v}"
        for k, v in (("windows", args.windows), ("days", args.days), ("seed", args.seed))
    )
    if args.graces != [10.0, 15.0]:
        command += " --graces " + " ".join(f"{g:g}" for g in args.graces)
    if args.pir_timeout != 90.0:
        command += f" --pir-timeout {args.pir_timeout:g}"
    if args.radar_fading != 30.0:
        command += f" --radar-fading {args.radar_fading:g}"
    if args.no_faults:
        command += " --no-faults"
    if args.in_memory:
        command += " --in-memory"
    return "\n".join(
        [
            DOC_BEGIN,
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with",
            "",
            "```sh",
            command + " --out docs/ACCURACY.md",
            "```",
            "",
            f"**Machine:** {_machine()}",
            "",
            f"{len(days)} working days ({days[0]} … {days[-1]}), {args.windows} windows per "
            f"sensor group; {sent:,} messages published, {stored:,} points stored. Run time: "
            f"planning {seconds['plan']:.0f} s, publishing and storing {seconds['store']:.0f} s, "
            f"reading back and scoring {seconds['score']:.0f} s; {seconds['total']:.0f} s in all.",
            "",
            table(results),
            "",
            "<details><summary>Window-minutes by truth and state</summary>",
            confusion(results),
            "",
            "</details>",
            DOC_END,
        ]
    )


def write_section(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if DOC_BEGIN in text and DOC_END in text:
        head, rest = text.split(DOC_BEGIN, 1)
        text = head + section + rest.split(DOC_END, 1)[1]
    else:
        text = text + ("\n" if text else "") + section + "\n"
    path.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------- main


def run(args: argparse.Namespace) -> str:
    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="hw-accuracy-"))
    text = hall_yaml(args.windows)
    (work / "hall.yaml").write_text(text, encoding="utf-8")
    registry = parse_registry(text)
    today = datetime.now(registry.hall.tz).date()
    days = bench_days(registry, args.days, today)
    devices_now = realism(args.pir_timeout, args.radar_fading, not args.no_faults)
    plans = [plan_day(registry, d, args.seed, realism=devices_now) for d in days]
    planned = time.monotonic()
    try:
        if args.in_memory:
            by_day = converted(registry, plans)
            sent = stored = sum(len(p.messages) for p in plans)
            written = time.monotonic()
            results = score_all(registry, by_day.__getitem__, plans, args.graces)
        else:
            sent, stored, written, results = _through_services(work, registry, plans, args.graces)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    done = time.monotonic()
    seconds = {
        "plan": planned - began,
        "store": written - planned,
        "score": done - written,
        "total": done - began,
    }
    return report(results, args, days, sent, stored, seconds)


def _through_services(work: Path, registry: Registry, plans: list[DayPlan], graces: list[float]):
    """Publish, let the real collector store, read back and score."""
    broker, influxd = Mosquitto(work / "mq"), Influxd(work / "influx")
    broker.start()
    influxd.start()
    collector = None
    try:
        env = _env(work, broker, influxd)
        cli = [sys.executable, "-m", "console.cli"]
        subprocess.run([*cli, "import", str(work / "hall.yaml")], env=env, check=True)
        collector = _start_collector(env, work / "collector.log")
        influx = InfluxClient(influxd.url, DB)
        sent = publish(broker, plans)
        stored = wait_stored(influx)
        collector.terminate()
        collector.wait(30)
        collector = None
        written = time.monotonic()
        store = EventStore(influx)

        def day_events(day: date) -> list[Event]:
            start = local_midnight(registry.hall, day)
            return store.day_history(start, start + timedelta(days=1, microseconds=-1))

        results = score_all(registry, day_events, plans, graces)
    finally:
        if collector is not None:
            collector.kill()
        broker.stop()
        influxd.stop()
    return sent, stored, written, results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=50, help="windows per sensor group")
    parser.add_argument("--days", type=int, default=21, help="working days (at most ~21)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--graces", type=float, nargs="+", default=[10.0, 15.0])
    parser.add_argument(
        "--pir-timeout", type=float, default=90.0, help="the PIRs' occupancy_timeout (s)"
    )
    parser.add_argument(
        "--radar-fading", type=float, default=30.0, help="the radars' fading_time (s)"
    )
    parser.add_argument(
        "--no-faults", action="store_true", help="no flickers, stray motion, skew or outages"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    parser.add_argument("--in-memory", action="store_true", help="no services (for tuning)")
    parser.add_argument("--out", type=Path, default=None, help="write the section into this file")
    args = parser.parse_args(argv)
    section = run(args)
    print(section)
    if args.out is not None:
        write_section(args.out, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
