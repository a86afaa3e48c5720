"""Loaded into every Python process of `./dev test-at` (it is on PYTHONPATH there only).

libfaketime 0.9.10 cannot fake the wall clock for Python 3.11 without breaking a timed wait:
faking the monotonic clock too makes every threading wait with a timeout block until it is
woken, and leaving it alone makes `time.sleep` (clock_nanosleep on an absolute monotonic
deadline) fail with EINVAL (libfaketime issue 426). So the monotonic clock stays true and
`time.sleep` waits in `select`, whose timeout is relative.
"""

import select
import time


def _sleep(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        select.select([], [], [], left)


time.sleep = _sleep
