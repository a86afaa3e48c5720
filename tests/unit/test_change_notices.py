"""Who hears that the registry changed for their people: the heads of the departments
concerned, nobody else (hallwatch.access.told_of_change)."""

from __future__ import annotations

from dataclasses import dataclass

from hallwatch.access import ADMIN, DEPT_HEAD, HALL_MANAGER, INSPECTOR, told_of_change


@dataclass
class User:
    username: str
    role: str
    department_id: str | None = None


USERS = [
    User("root", ADMIN),
    User("wang", HALL_MANAGER),
    User("li", DEPT_HEAD, "civil"),
    User("zhao", DEPT_HEAD, "tax"),
    User("nobody", DEPT_HEAD),
    User("jian", INSPECTOR),
]


def names(users) -> list[str]:
    return [u.username for u in users]


def test_a_move_is_told_to_the_heads_of_both_departments():
    assert names(told_of_change({"civil", "tax"}, USERS)) == ["li", "zhao"]


def test_a_change_of_one_department_is_told_to_its_head_only():
    assert names(told_of_change({"tax"}, USERS)) == ["zhao"]
    assert told_of_change(set(), USERS) == []
