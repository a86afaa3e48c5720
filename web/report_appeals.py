"""Accepted appeals on the report pages: the original figures beside the adjusted ones, and
the month's decided appeals (docs/APPEALS.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask_babel import gettext, lazy_gettext

from web.appeals_page import REASON_WORDS, STATUS_WORDS, SUBJECT_WORDS

APPEALED = lazy_gettext("已申诉调整")
Figure = tuple[str, str, Callable]  # row key, label, how it is written


def original_text(row: dict, figures: Iterable[Figure]) -> str:
    """ "原:在岗率 50.0%,…" for the figures an accepted appeal changed; "" when none did."""
    original = row.get("original")
    if not row.get("appealed") or not original:
        return ""
    changed = [
        f"{label} {write(original[key])}"
        for key, label, write in figures
        if key in original and original[key] != row.get(key)
    ]
    return gettext("原:%(figures)s", figures=",".join(changed)) if changed else ""


def decided_list(decided: list[dict], allowed: set[str], department: str | None) -> list[dict]:
    """The month's decided appeals the user may see (`metrics.appeal_records.listing` rows), in
    the page's language."""
    return [
        {
            **a,
            "subject_word": SUBJECT_WORDS.get(a["subject_id"], a["subject"]),
            "reason_word": REASON_WORDS.get(a["reason_id"], a["reason"]),
            "status_word": STATUS_WORDS.get(a["status"], a["decision"]),
        }
        for a in decided
        if a["department_id"] in allowed and department in (None, a["department_id"])
    ]
