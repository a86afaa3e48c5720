"""tests.unit.hall's Monday for the metrics tests: the devices, the badges, W01's day, the
next morning, a day summary of given events, and one person's report row of the day."""

from datetime import timedelta

from hallwatch.metrics import add_up, day_summary, staff_rows
from tests.unit.hall import MONDAY, at, hall, seat, status, tap

TUESDAY = MONDAY + timedelta(days=1)
NEXT_MORNING = at("02:00", TUESDAY)  # Monday is over


ONLINE = [status(at("08:00"), True)]


W01_CARD, W02_CARD, W03_CARD, OFFICE = (
    "desk-w01-card",
    "desk-w02-card",
    "desk-w03-card",
    "office-civil",
)


# 张三 at W01 (seat sensor): in at 09:00, the seat empties 10:00–10:30, back until the close.
W01_DAY = [seat(at("09:00"), True), seat(at("10:00"), False), seat(at("10:30"), True)]


def summary(events, start=None, end=None, registry=None, day=MONDAY, now=NEXT_MORNING):
    return day_summary(registry or hall(), events, day, now, start, end)


ZHANG_SAN, LI_SI, WANG_WU = "04A1B2C3", "04A1B2C4", "04A1B2C5"
OTHER_TRAFFIC = [tap(at("08:00"), W03_CARD, WANG_WU)]  # the hall was collecting that day


def person(events, staff="s002", **kwargs) -> dict:
    """One person's report row (docs/API.md) for the day."""
    registry = kwargs.pop("registry", None) or hall()
    day = summary(ONLINE + events, registry=registry, **kwargs)
    return next(r for r in staff_rows(registry, add_up([day])) if r["staff"] == staff)
