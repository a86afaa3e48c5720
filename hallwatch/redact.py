"""Secrets out of log lines and stored errors: robot tokens, signatures, URL passwords.

DingTalk robot URLs carry `access_token` (and `timestamp`/`sign` in signed mode), WeCom's
`key`; a failing request's exception text (requests, urllib3) repeats the whole URL, and
urllib3 logs it at DEBUG. `redact` masks such values wherever they appear in a text;
`RedactingFilter` does it to every record a handler emits.
"""

from __future__ import annotations

import logging
import re

MASK = "***"
# Query or form parameters whose value is a credential, in any URL or text.
SECRET_PARAMS = ("access_token", "token", "key", "sign", "signature", "secret", "password")
_PARAM = re.compile(r"(?i)(?<![A-Za-z0-9_])(" + "|".join(SECRET_PARAMS) + r")=([^&\s'\"#<>)]+)")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s'\"]+):([^@\s'\"/]+)@")


def redact(text: str) -> str:
    """`text` with every secret parameter's value and URL password replaced by ***."""
    text = _PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)
    return _USERINFO.sub(lambda m: f"{m.group(1)}:{MASK}@", text)


class RedactingFilter(logging.Filter):
    """Formats each record's message once and redacts it (and its traceback text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Add a RedactingFilter to every handler of `logger` (the root logger by default)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
