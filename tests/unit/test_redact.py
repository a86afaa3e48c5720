"""Secrets masked in any text: robot URL parameters and URL passwords."""

from __future__ import annotations

import logging
import sys

import pytest

from hallwatch.redact import RedactingFilter, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "url: /robot/send?access_token=abc123&timestamp=17&sign=q%2B%3D (Caused by x)",
            "url: /robot/send?access_token=***&timestamp=17&sign=*** (Caused by x)",
        ),
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K-1'", "…?key=***'"),
        ("smtp://hall:p%40ss@mail.example:587", "smtp://hall:***@mail.example:587"),
        ("monkey=1 keyboard=2 hotkey=3", "monkey=1 keyboard=2 hotkey=3"),
    ],
)
def test_secret_values_are_masked_and_nothing_else(text, expected):
    assert redact(text) == expected.replace("…", text.split("?")[0])


def test_the_filter_masks_arguments_and_tracebacks():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "to %s", ("/s?key=K",), None)
    try:
        raise ValueError("POST /robot/send?access_token=T failed")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "to /s?key=***"
    assert "access_token=***" in record.exc_text and "=T " not in record.exc_text
