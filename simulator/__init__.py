"""The simulated hall: a planned day of device traffic (`dayplan`, pure), realistic sensor
models (`sensing`), each device's payloads (`sim_payloads`), and their player over MQTT
(`simulator`). The demo, the tests and the benchmarks stand on it; the applications do not.

`DEMO_HALL` is the demo hall's registry (示例县政务服务大厅), shipped with the package.
"""

from pathlib import Path

DEMO_HALL = Path(__file__).with_name("hall.yaml")
