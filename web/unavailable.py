"""What a user is told when the event store cannot answer.

The error names InfluxDB's address, the query and the server's words: useful to an
operator, and a map of the back end to anyone else. Everyone's request logs it; only
those who may read operations see it on the page or in the JSON.
"""

from __future__ import annotations

import logging

from flask import request
from flask_babel import gettext
from flask_login import current_user

from web.roles import can

log = logging.getLogger(__name__)


def store_reason(exc: Exception, *, api: bool = False) -> str:
    """The reason to show for an unavailable event store (see the module's docstring)."""
    log.warning("event store unavailable (%s %s): %s", request.method, request.path, exc)
    if can(current_user, "read_operations"):
        return str(exc)
    return "details are in the server's log" if api else gettext("详情已记入服务器日志")
