"""What a user is told when the event store cannot answer.

The error names InfluxDB's address, the query and the server's words: useful to an
operator, and a map of the back end to anyone else. Everyone's request logs it; only
those who may read operations see it on the page or in the JSON.

A view lets QueryError pass; `store_unavailable` answers it with 503: JSON under /api/,
otherwise the page the view named with `frame_if_store_down` (its own title and
navigation, the error in place of the data) or the plain unavailable page. Views whose
page still shows something without the store catch QueryError themselves.
"""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, render_template, request
from flask_babel import gettext, lazy_gettext
from flask_login import current_user

from hallwatch.influx.client import QueryError
from web.roles import can

log = logging.getLogger(__name__)

STORE_DOWN = lazy_gettext("事件库不可用:%(reason)s")


def init_app(app: Flask) -> None:
    app.register_error_handler(QueryError, store_unavailable)


def store_reason(exc: Exception, *, api: bool = False) -> str:
    """The reason to show for an unavailable event store (see the module's docstring)."""
    log.warning("event store unavailable (%s %s): %s", request.method, request.path, exc)
    if can(current_user, "read_operations"):
        return str(exc)
    return "details are in the server's log" if api else gettext("详情已记入服务器日志")


def store_message(exc: Exception) -> str:
    """The API's (and the downloads') words for it."""
    return f"event store unavailable: {store_reason(exc, api=True)}"


def store_down_text(exc: Exception) -> str:
    """The pages' words for it."""
    return STORE_DOWN % {"reason": store_reason(exc)}


def frame_if_store_down(template: str, *, saying=STORE_DOWN, **context) -> None:
    """Should the event store fail later in this request, render `template` with `context`
    and the error `saying` (a message with its %(reason)s)."""
    g.store_down_frame = (template, saying, context)


def store_unavailable(exc: QueryError):
    if request.path.startswith("/api/"):
        return jsonify(error=store_message(exc)), 503
    template, saying, context = g.get("store_down_frame", ("unavailable.html", STORE_DOWN, {}))
    error = saying % {"reason": store_reason(exc)}
    return render_template(template, **context, error=error), 503
