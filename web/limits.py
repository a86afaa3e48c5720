"""Size bounds on what a browser may send."""

from __future__ import annotations

MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # a registry file: one of thousands of windows is far smaller
# The largest request body read at all (Flask's MAX_CONTENT_LENGTH): an upload and its form.
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES + 64 * 1024
