"""Reading the audit trail: the keys a record changed, a noted head, the CSV's cells."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hallwatch.registry.audit import GENESIS, head_text, parse_head
from hallwatch.registry.audit_facts import channel_facts
from hallwatch.registry.audit_query import AuditFilter, KeyChange, describe, key_changes


def test_only_the_keys_that_changed_are_shown():
    before = {"role": "inspector", "department": None, "halls": []}
    after = {"role": "hall_manager", "department": None, "halls": [], "password": "changed"}
    assert key_changes(before, after) == [
        KeyChange("password", None, "changed"),
        KeyChange("role", "inspector", "hall_manager"),
    ]
    assert (
        describe(key_changes(before, after))
        == "password:  → changed; role: inspector → hall_manager"
    )


def test_a_record_without_before_shows_every_key_as_new():
    assert key_changes(None, {"note": "已电话联系"}) == [KeyChange("note", None, "已电话联系")]
    assert key_changes(None, None) == []


def test_lists_are_one_change():
    before = [{"section": "staff", "entry": {"id": "s001"}}]
    assert key_changes(before, []) == [KeyChange("", before, [])]


def test_a_head_is_written_and_read_back():
    assert parse_head(head_text(12, "a" * 64)) == (12, "a" * 64)
    assert parse_head(f"0:{GENESIS}") == (0, GENESIS)
    for bad in ("12", "x:" + "a" * 64, "12:" + "A" * 64, "12:abc"):
        with pytest.raises(ValueError, match="SEQ:HASH"):
            parse_head(bad)


def test_a_robots_token_and_a_secret_are_never_recorded():
    url = "https://oapi.dingtalk.com/robot/send?access_token=SECRET-TOKEN"
    facts = channel_facts("dingtalk", url, "SEC-SIGN")
    assert facts == {"kind": "dingtalk", "target": "oapi.dingtalk.com", "signed": True}
    assert channel_facts("email", "boss@example.cn", None)["target"] == "boss@example.cn"


def test_the_target_filter_takes_wildcards_literally():
    clause = AuditFilter(target="50%_off").where()[0]
    compiled = clause.compile(compile_kwargs={"literal_binds": True})
    assert "50\\%\\_off" in str(compiled)


def test_filters_are_combined():
    start = datetime(2026, 11, 23, tzinfo=UTC)
    assert len(AuditFilter(actor="boss", action="login", start=start, end=start).where()) == 4
    assert AuditFilter().where() == []
