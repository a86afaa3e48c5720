"""An import reviewed before it is applied: the file's `revision:`, what it adds, changes and
retires by id, an older file's retirements refused unless confirmed, a moved registry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hallwatch.registry.audit import AuditRow
from hallwatch.registry.db import create_schema, make_engine, make_session_factory
from hallwatch.registry.dump import deployment_yaml
from hallwatch.registry.file import RegistryError
from hallwatch.registry.load import load_deployment
from hallwatch.registry.parse import read_registry_file
from hallwatch.registry.review import (
    Importer,
    RegistryMoved,
    RetirementsNotConfirmed,
    confirm_import,
    review_import,
)

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
HALL = """\
hall: {name: 示例大厅, timezone: Asia/Shanghai}
departments:
  - {id: civil, name: 民政局}
windows:
  - {id: W01, name: 1号窗口, department: civil}
"""
W02 = "  - {id: W02, name: 2号窗口, department: civil}\n"
ME = Importer("boss", "hall.yaml", "10.0.0.1")


@pytest.fixture
def sessions(tmp_path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'hall.sqlite3'}")
    create_schema(engine)
    yield make_session_factory(engine)
    engine.dispose()


def exported(sessions, revision: int) -> str:
    with sessions() as session:
        return deployment_yaml(load_deployment(session), revision)


def windows(sessions) -> list[str]:
    with sessions() as session:
        return [w.id for w in load_deployment(session).first.windows]


def test_the_revision_key_is_read_and_a_bad_one_refused():
    assert read_registry_file("revision: 7\n" + HALL)[1] == 7
    assert read_registry_file(HALL)[1] is None
    with pytest.raises(RegistryError, match="key 'revision': expected a whole number"):
        read_registry_file("revision: seven\n" + HALL)


def test_a_review_names_what_is_added_changed_and_retired_and_applies_nothing(sessions):
    confirm_import(sessions, HALL + W02, NOW, ME)
    changed = HALL.replace("1号窗口", "综合窗口").replace("民政局", "民政")
    review = review_import(
        sessions, changed + "  - {id: W03, name: 3号窗口, department: civil}\n", NOW
    )
    assert review.lines() == [
        "windows added: W03 (3号窗口)",
        "departments changed: civil (民政局 → 民政)",
        "windows changed: W01 (1号窗口 → 综合窗口)",
        "windows retired: W02 (2号窗口)",
    ]
    assert windows(sessions) == ["W01", "W02"]  # nothing applied


def test_an_older_files_retirements_are_refused_unless_confirmed(sessions):
    confirm_import(sessions, HALL, NOW, ME)
    old = exported(sessions, revision=1)
    confirm_import(sessions, HALL + W02, NOW + timedelta(hours=1), ME)  # revision 2
    with pytest.raises(RetirementsNotConfirmed) as refused:
        confirm_import(sessions, old, NOW + timedelta(hours=2), ME)
    assert refused.value.review.lines() == ["windows retired: W02 (2号窗口)"]
    assert windows(sessions) == ["W01", "W02"]
    review = confirm_import(sessions, old, NOW + timedelta(hours=2), ME, confirm_retirements=True)
    assert review.stale and windows(sessions) == ["W01"]


def test_a_current_or_unnumbered_file_retires_without_asking(sessions):
    confirm_import(sessions, HALL + W02, NOW, ME)
    confirm_import(sessions, exported(sessions, 1).replace(W02, ""), NOW, ME)
    assert windows(sessions) == ["W01"]


def test_a_registry_that_moved_since_the_preview_is_not_imported(sessions):
    confirm_import(sessions, HALL, NOW, ME)
    with pytest.raises(RegistryMoved):
        confirm_import(sessions, HALL + W02, NOW, ME, expect_revision=0)
    assert windows(sessions) == ["W01"]


def test_every_import_is_audited_with_who_where_and_the_entries(sessions):
    confirm_import(sessions, HALL, NOW, ME)
    confirm_import(sessions, HALL + W02, NOW, ME)
    with sessions() as session:
        last = session.scalars(select(AuditRow).order_by(AuditRow.seq.desc())).first()
    assert (last.actor, last.action, last.target, last.address) == (
        "boss",
        "registry.import",
        "hall.yaml",
        "10.0.0.1",
    )
    assert last.before == [] and [a["entry"]["id"] for a in last.after] == ["W02"]
