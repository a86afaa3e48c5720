"""The Prometheus figures: rejection reasons as bounded labels, and what each process exposes."""

from __future__ import annotations

import queue
import time
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

import devices
from collector.figures import ingest_registry
from collector.status import CollectorStats
from devices import esphome, tasmota
from devices.payload import guarded
from hallwatch.events import Rejection, RejectionKind
from hallwatch.registry.spec import Device
from hallwatch.telemetry import AlertFigures, rejection_kinds
from tests.unit.hall import hall

RECEIVED = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
NATIVE = "hallwatch/devices/{}/events"


def samples(registry) -> dict[tuple[str, tuple], float]:
    """Every sample of a registry's exposition: (name, sorted labels) → value."""
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


OTHER_REJECTION = RejectionKind.BAD_FIELD


def rejection_of(topic: str, payload: bytes) -> Rejection:
    """What the real converters say of a message of the unit-test hall."""
    result = devices.convert(topic, payload, RECEIVED, hall())
    assert isinstance(result, Rejection), result
    return result


@pytest.mark.parametrize(
    ("topic", "payload", "kind"),
    [
        (NATIVE.format("no-such-reader"), b'{"type": "heartbeat"}', "unknown_device"),
        ("zigbee2mqtt/nobody_knows", b'{"occupancy": true}', "unknown_device"),
        ("tele/no_such_tasmota/SENSOR", b'{"RC522": {"UID": "04A1"}}', "unknown_device"),
        ("hallwatch/devices/x", b"{}", "unknown_topic"),
        (NATIVE.format("desk-w01-card"), b"x" * 70_000, "too_large"),
        (NATIVE.format("desk-w01-card"), b"\xff\xfe{", "bad_encoding"),
        (NATIVE.format("desk-w01-card"), b"{not json", "bad_json"),
        (NATIVE.format("desk-w01-card"), b"", "bad_json"),
        (NATIVE.format("desk-w01-card"), b"[1, 2]", "bad_json"),
        (NATIVE.format("desk-w01-card"), b'{"type": "presence", "occupied": true}', None),
        (NATIVE.format("desk-w01-card"), b'{"type": "badge", "uid": 7}', OTHER_REJECTION),
        (NATIVE.format("desk-w01-card"), b'{"type": "dance"}', OTHER_REJECTION),
        (NATIVE.format("desk-w01-card"), b'{"type": "heartbeat", "ts": "soon"}', OTHER_REJECTION),
    ],
)
def test_each_rejection_of_the_converters_gets_its_kind(topic, payload, kind):
    rejection = rejection_of(topic, payload)
    if kind is None:  # a badge reader reporting presence: the kind is the device's, not the form
        kind = "wrong_device_kind"
    assert rejection.kind == kind, rejection.reason


def esphome_hall():
    """The unit-test hall with one ESPHome node holding a card reader entity."""
    registry = hall()
    reader = Device("w01-esp", "badge_reader", window="W01", esphome="esp-w01/card")
    return replace(registry, devices=(*registry.devices, reader))


@pytest.mark.parametrize(
    ("convert", "topic", "kind"),
    [
        (tasmota.convert, "stat/civil_door/RESULT", "unknown_topic"),
        (esphome.convert, "esp-w01/text_sensor/card/status", "unknown_topic"),
        (esphome.convert, "esp-w01/text_sensor/door/state", "unknown_device"),
    ],
)
def test_a_family_names_a_topic_it_does_not_use_or_an_entity_it_does_not_know(convert, topic, kind):
    rejection = convert(topic, b"04A1", RECEIVED, esphome_hall())
    assert isinstance(rejection, Rejection), rejection
    assert rejection.kind == kind, rejection.reason


def test_quoted_device_input_cannot_choose_the_kind():
    rejection = rejection_of(NATIVE.format("desk-w01-card"), b'{"type": "unknown device x"}')
    assert rejection.kind == OTHER_REJECTION, rejection.reason


def test_a_converter_error_has_its_kind():
    def broken(topic, payload, received, registry):
        raise ValueError("boom")

    rejection = guarded(broken, "t", b"{}", RECEIVED, hall())
    assert rejection.kind == RejectionKind.CONVERTER_ERROR
    assert rejection.reason == "converter error: ValueError: boom"


def test_the_kind_labels_stay_as_dashboards_know_them():
    assert rejection_kinds() == (
        "unknown_device",
        "unknown_topic",
        "too_large",
        "bad_encoding",
        "bad_json",
        "wrong_device_kind",
        "converter_error",
        "internal_error",
        "unstorable",
        "bad_field",
    )


def test_the_kinds_are_few_and_distinct():
    kinds = rejection_kinds()
    assert len(kinds) == len(set(kinds)) <= 12
    assert OTHER_REJECTION in kinds


def ingest_with(stats: CollectorStats, queued: int = 0, spool=None) -> SimpleNamespace:
    waiting: queue.Queue = queue.Queue()
    for n in range(queued):
        waiting.put(n)
    return SimpleNamespace(stats=stats, queue=waiting, spool=spool)


def test_the_collector_figures_are_its_own_stats():
    stats = CollectorStats(received=12, written=11, rejected=3, batches=2, write_failures=4)
    stats.rejected_by_kind.update(bad_json=2, unknown_device=1)
    stats.write_seconds.observe(0.003)
    stats.connected = True
    spool = SimpleNamespace(depth=lambda: {"points": 40, "bytes": 4096, "oldest": None})
    got = samples(ingest_registry(ingest_with(stats, queued=5, spool=spool)))
    assert got[("hallwatch_collector_messages_received_total", ())] == 12
    assert got[("hallwatch_collector_points_written_total", ())] == 11
    assert got[("hallwatch_collector_write_failures_total", ())] == 4
    assert got[("hallwatch_collector_batches_total", ())] == 2
    rejected = {
        dict(labels)["reason"]: value
        for (name, labels), value in got.items()
        if name == "hallwatch_collector_messages_rejected_total"
    }
    assert rejected == {kind: 0 for kind in rejection_kinds()} | {
        "bad_json": 2,
        "unknown_device": 1,
    }
    assert got[("hallwatch_collector_queue_messages", ())] == 5
    assert got[("hallwatch_collector_spool_points", ())] == 40
    assert got[("hallwatch_collector_spool_bytes", ())] == 4096
    assert got[("hallwatch_collector_mqtt_connected", ())] == 1
    assert got[("hallwatch_collector_write_seconds_count", ())] == 1
    assert got[("hallwatch_collector_write_seconds_bucket", (("le", "0.005"),))] == 1


def test_a_collector_without_a_spool_reports_it_empty():
    got = samples(ingest_registry(ingest_with(CollectorStats())))
    assert got[("hallwatch_collector_spool_points", ())] == 0
    assert got[("hallwatch_collector_last_batch_timestamp_seconds", ())] == 0


def test_the_scheduler_counts_evaluations_jobs_and_notifications():
    figures = AlertFigures()
    began = time.perf_counter()
    figures.job_ran("evaluate", "done", began)
    figures.job_ran("evaluate", "standby", began)
    figures.job_ran("deliver", "failed", began)
    figures.delivered(sent=3, retrying=1, failed=0)
    figures.delivered(sent=1, retrying=0, failed=2)
    got = samples(figures.registry)
    assert got[("hallwatch_alert_evaluations_total", ())] == 1
    assert got[("hallwatch_alert_jobs_total", (("job", "evaluate"), ("outcome", "standby")))] == 1
    assert got[("hallwatch_alert_jobs_total", (("job", "deliver"), ("outcome", "failed")))] == 1
    assert got[("hallwatch_alert_job_seconds_count", (("job", "evaluate"),))] == 2
    assert got[("hallwatch_notifications_total", (("outcome", "sent"),))] == 4
    assert got[("hallwatch_notifications_total", (("outcome", "failed"),))] == 2
    assert got[("hallwatch_notifications_total", (("outcome", "retrying"),))] == 1
