"""Engines, sessions and the schema: SQLite (a file, WAL) or PostgreSQL (psycopg 3)."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Connection, Engine, bindparam, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

# Tables on Base; appeals also refuses changes to decided appeals.
from hallwatch.registry import (  # noqa: F401
    alerting,
    appeals,
    audit,
    sessions,
    staffing,
    throttle,
    uploads,
    versions,
)
from hallwatch.registry.day_summaries import adopt_legacy_rows
from hallwatch.registry.models import Base

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 10_000  # wait this long for another process's write lock
SCHEMA_LOCK_ID = 0x4A11_3A7C  # pg advisory lock: one process creates the tables at a time


def _sqlite_file(url: str) -> Path | None:
    """The database file of a sqlite URL, or None for an in-memory database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _tune_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; `postgresql://` means psycopg 3, a sqlite file's folder is created."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite"):
        path = _sqlite_file(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (they are handed to views)."""
    return sessionmaker(engine, expire_on_commit=False)


def add_missing_columns(connection: Connection) -> list[str]:
    """Add the nullable columns a newer version declares to tables an older one created.

    Databases from before several halls lack `hall.code` and `departments.hall_code`;
    their NULL means the hall `main`. Returns "table.column" of each column added.
    """
    inspector = inspect(connection)
    preparer = connection.dialect.identifier_preparer
    added = []
    for table in Base.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present or not column.nullable:
                continue
            kind = column.type.compile(dialect=connection.dialect)
            connection.execute(
                text(
                    f"ALTER TABLE {preparer.quote(table.name)} "
                    f"ADD COLUMN {preparer.quote(column.name)} {kind}"
                )
            )
            added.append(f"{table.name}.{column.name}")
    if added:
        log.info("database schema: added columns %s", ", ".join(added))
    return added


APPEND_ONLY = "audit_log is append-only"  # what the database answers an UPDATE or DELETE
SQLITE_APPEND_ONLY = [
    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
    for verb in ("UPDATE", "DELETE")
]
POSTGRES_APPEND_ONLY = [
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger "
    f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$",
    *(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = "
        f"'audit_log_no_{verb.lower()}' AND tgrelid = 'audit_log'::regclass) THEN "
        f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
        f"FOR EACH {each} EXECUTE FUNCTION audit_log_append_only(); END IF; END $$"
        for verb, each in (("UPDATE", "ROW"), ("DELETE", "ROW"), ("TRUNCATE", "STATEMENT"))
    ),
]


def refuse_audit_changes(connection: Connection) -> None:
    """Triggers by which the database itself refuses to change or delete an audit record.

    The application never does either (hallwatch.registry.audit); these stop anyone with
    the application's credentials too. A DBA may drop them: the hash chain is the check
    for that (`hallwatch audit verify`).
    """
    dialect = connection.dialect.name
    if _append_only_already(connection, dialect):
        return  # a read-only account (the collector's, the web's) need not be able to create them
    statements = POSTGRES_APPEND_ONLY if dialect == "postgresql" else SQLITE_APPEND_ONLY
    for statement in statements:
        connection.execute(text(statement))


def _append_only_already(connection: Connection, dialect: str) -> bool:
    """Whether every append-only trigger of audit_log is there (a read, no DDL)."""
    if dialect == "postgresql":
        names = ("audit_log_no_update", "audit_log_no_delete", "audit_log_no_truncate")
        query = "SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass('audit_log') "
        query += "AND tgname IN :names"
    else:
        names = ("audit_log_no_update", "audit_log_no_delete")
        query = "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN :names"
    statement = text(query).bindparams(bindparam("names", expanding=True))
    return connection.execute(statement, {"names": list(names)}).scalar() == len(names)


def _upgrade(connection: Connection) -> None:
    """Bring tables an older version created up to this one's."""
    add_missing_columns(connection)
    refuse_audit_changes(connection)
    if moved := adopt_legacy_rows(connection):
        log.info("database schema: %d day summaries moved to hall_day_summaries", moved)


def create_schema(engine: Engine) -> None:
    """Create missing tables and columns; safe to call from several processes starting at once."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": SCHEMA_LOCK_ID})
            Base.metadata.create_all(connection)
            _upgrade(connection)
        return
    try:
        Base.metadata.create_all(engine)
        with engine.begin() as connection:
            _upgrade(connection)
    except OperationalError as exc:
        # Another process created a table or column between our check and ours; look again.
        if "already exists" not in str(exc) and "duplicate column" not in str(exc):
            raise
        log.debug("schema created concurrently, checking again: %s", exc)
        Base.metadata.create_all(engine)
        with engine.begin() as connection:
            _upgrade(connection)
