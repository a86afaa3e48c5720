"""bench/scale_out.py at tiny scale, on its own real Mosquitto, influxd and `hallwatch web`.

Catches breakage of the benchmark's plumbing (publishers, counting, collectors with --group,
the /api/live probes, the report); the figures themselves belong in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.scale_out import MARK, node_red_installed, parse_args, run


def quick(tmp_path: Path, targets: str, *extra: str) -> dict:
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# Benchmarks\n", encoding="utf-8")
    argv = ["--quick", "--targets", targets, "--max-steps", "1", "--latency-samples", "3"]
    argv += ["--json", str(tmp_path / "scale_out.json"), "--out", str(doc), *extra]
    return run(parse_args(argv))


def test_two_collectors_store_every_message_and_show_a_sign_in_on_the_live_page(tmp_path):
    results = quick(tmp_path, "broker,hallwatch-2")

    broker, ours = results["targets"]["broker"], results["targets"]["hallwatch-2"]
    assert [s["passed"] for s in broker["steps"]] == [True]
    assert [s["passed"] for s in ours["steps"]] == [True]
    assert ours["lost_total"] == 0 and ours["warnings"] == 0
    assert set(ours["rss_peak_mb"]) == {"collector 1", "collector 2"}
    latency = ours["latency"]
    assert latency["samples"] == 3 and latency["timeouts"] == 0 and latency["load_lost"] == 0
    assert 0 < latency["median_s"] <= latency["p99_s"] < 10
    assert json.loads((tmp_path / "scale_out.json").read_text())["targets"].keys() == {
        "broker",
        "hallwatch-2",
    }
    doc = (tmp_path / "BENCHMARKS.md").read_text()
    assert MARK.format(end="begin") in doc and "HallWatch, 2 collectors" in doc


@pytest.mark.skipif(
    not node_red_installed(),
    reason="bench/node-red/node_modules is not installed (`npm ci` there; CI has no Node.js "
    "packages, so the Node-RED flow is only checked where someone installed them)",
)
def test_the_node_red_flow_stores_the_same_stream(tmp_path):
    results = quick(tmp_path, "node-red", "--latency-samples", "0")

    flow = results["targets"]["node-red"]
    assert [s["passed"] for s in flow["steps"]] == [True]
    assert flow["lost_total"] == 0
