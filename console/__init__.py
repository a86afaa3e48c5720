"""The composition above the applications: the `hallwatch` command (`cli`), broker and InfluxDB
accounts (`provision`), the private Mosquitto and influxd of the demo, the tests and the
benchmarks (`services`), and the demo (`demo`). It wires the core (hallwatch/) to the
applications (collector/, web/, alerts/, devices/, simulator/); nothing below imports it.
"""
