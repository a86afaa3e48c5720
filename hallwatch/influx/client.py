"""A small InfluxDB v1 HTTP API client: `/write` with line protocol, `/query` with bound params.

Errors are split the way trusted writers split them (Telegraf's outputs.influxdb):
`RetryableWriteError` (connection refused, timeouts, 5xx, auth) keeps the batch
for a retry; `BadPointsError` (unparsable, partial write, type conflicts,
beyond retention) means some points will never be accepted; `BodyTooLarge`
(413) means split and try again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import requests

log = logging.getLogger(__name__)

_ACCOUNT_HINT = (
    "InfluxDB refused this account: check HALLWATCH_INFLUX_WRITE_USER and "
    "HALLWATCH_INFLUX_WRITE_PASSWORD, or the shared HALLWATCH_INFLUX_USER/PASSWORD/TOKEN"
)
CONNECT_TIMEOUT_S = 3.0
WRITE_TIMEOUT_S = 10.0
QUERY_TIMEOUT_S = 30.0


class InfluxError(Exception):
    """Base of the InfluxDB errors we translate from HTTP."""


class RetryableWriteError(InfluxError):
    """Nothing was (known to be) stored; the same batch may be sent again later."""


class BadPointsError(InfluxError):
    """InfluxDB refused some points for good (400/422); the others in the batch were stored."""


class BodyTooLarge(InfluxError):
    """HTTP 413: the batch must be split."""


class DatabaseMissing(InfluxError):
    """HTTP 404 database not found."""


class QueryError(InfluxError):
    """A statement failed; InfluxDB reports these inside an HTTP 200 body."""


class InfluxClient:
    """Speaks to one database through the v1 API (native in 1.x, compatibility in 2.x/3.x)."""

    def __init__(
        self,
        url: str,
        database: str,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        session: requests.Session | None = None,
    ):
        self.url = url.rstrip("/")
        self.database = database
        self.session = session or requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Token {token}"
        elif username:
            self.session.auth = (username, password or "")

    def ping(self) -> bool:
        """True when the server answers `/ping` (1.x has no `/health`)."""
        try:
            response = self.session.get(f"{self.url}/ping", timeout=CONNECT_TIMEOUT_S)
        except requests.RequestException:
            return False
        return response.status_code in (200, 204)

    def create_database(self) -> None:
        """CREATE DATABASE is idempotent in InfluxQL; it needs an admin account."""
        try:
            self._post_query(f"CREATE DATABASE {quote_identifier(self.database)}")
        except QueryError as exc:
            if "authoriz" not in str(exc) and "admin privilege" not in str(exc):
                raise
            if self._database_exists():
                return  # a write-only account: the admin created it (`hallwatch provision`)
            raise QueryError(
                f"this account may not create database {self.database!r} ({exc}); "
                "an admin must create it: `hallwatch provision --influx`"
            ) from exc

    def _database_exists(self) -> bool:
        """SHOW DATABASES lists those this account holds a privilege on (1.x)."""
        try:
            series = self._post_query("SHOW DATABASES")
        except QueryError:
            return False
        return any([self.database] in s.get("values", []) for s in series)

    def execute(self, statement: str) -> list[dict]:
        """Run a statement that changes the server (users, grants, databases) with POST."""
        return self._post_query(statement)

    def write(self, lines: Sequence[str]) -> None:
        """Write line-protocol lines (nanosecond timestamps); raise a classified error."""
        if not lines:
            return
        body = ("\n".join(lines) + "\n").encode()
        try:
            response = self.session.post(
                f"{self.url}/write",
                params={"db": self.database, "precision": "ns"},
                data=body,
                timeout=(CONNECT_TIMEOUT_S, WRITE_TIMEOUT_S),
            )
        except requests.RequestException as exc:
            raise RetryableWriteError(f"InfluxDB unreachable: {exc}") from exc
        status = response.status_code
        if status in (200, 204):
            return
        message = _error_text(response)
        if status == 413:
            raise BodyTooLarge(message)
        if status == 404 and "database not found" in message:
            raise DatabaseMissing(message)
        if status in (400, 422):
            raise BadPointsError(message)
        if status in (401, 403):
            # Retried like an outage (an operator may fix the account while points wait), but
            # said so that the log line names the fix.
            raise RetryableWriteError(f"HTTP {status}: {message} ({_ACCOUNT_HINT})")
        raise RetryableWriteError(f"HTTP {status}: {message}")

    def query(self, statement: str, params: Mapping[str, Any] | None = None) -> list[dict]:
        """Run one read-only InfluxQL statement (GET, so the server refuses writes) → its series."""
        try:
            response = self.session.get(
                f"{self.url}/query",
                params={
                    "db": self.database,
                    "q": statement,
                    "epoch": "ns",
                    "params": json.dumps(dict(params or {})),
                },
                timeout=(CONNECT_TIMEOUT_S, QUERY_TIMEOUT_S),
            )
        except requests.RequestException as exc:
            raise QueryError(f"InfluxDB unreachable: {exc}") from exc
        try:
            return _series(response)
        except QueryError as exc:
            if "database not found" in str(exc):
                return []  # nothing has been written yet: no events
            raise

    def _post_query(self, statement: str) -> list[dict]:
        try:
            response = self.session.post(
                f"{self.url}/query", data={"q": statement}, timeout=(CONNECT_TIMEOUT_S, 30)
            )
        except requests.RequestException as exc:
            raise QueryError(f"InfluxDB unreachable: {exc}") from exc
        return _series(response)


def _series(response: requests.Response) -> list[dict]:
    if response.status_code != 200:
        raise QueryError(f"HTTP {response.status_code}: {_error_text(response)}")
    body = response.json()
    if "error" in body:
        raise QueryError(body["error"])
    series: list[dict] = []
    for result in body.get("results", []):
        if "error" in result:
            raise QueryError(result["error"])
        series.extend(result.get("series", []))
    return series


def _error_text(response: requests.Response) -> str:
    try:
        return str(response.json().get("error", response.text))
    except ValueError:
        return response.text.strip()[:500]


def quote_identifier(name: str) -> str:
    """Double-quote an InfluxQL identifier (identifiers cannot be bound as params)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    """Single-quote an InfluxQL string literal (passwords in CREATE USER cannot be bound)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def rows(series: dict) -> list[dict[str, Any]]:
    """A query series as dicts, tags from GROUP BY merged in."""
    columns = series["columns"]
    tags = series.get("tags") or {}
    return [{**tags, **dict(zip(columns, values, strict=True))} for values in series["values"]]
