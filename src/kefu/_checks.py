"""Argument checks shared by the facade and the batch runner: typed errors, nothing changed."""

from __future__ import annotations

from collections.abc import Iterable

from kefu.errors import InvalidArgument, InvalidWeight

__all__ = [
    "MAX_PRIORITY",
    "MAX_WEIGHT",
    "check_flag",
    "check_groups",
    "check_id",
    "check_optional_str",
    "check_session_args",
    "check_weight",
]

MAX_WEIGHT = 10_000
MAX_PRIORITY = 1_000_000_000


def check_id(kind: str, value: object) -> str:
    if type(value) is not str or not value:
        raise InvalidArgument(f"{kind} id must be a non-empty str, got {value!r}")
    return value


def check_optional_str(kind: str, value: object) -> str | None:
    if value is None:
        return None
    return check_id(kind, value)


def check_session_args(session_id: object, buyer: object, group: object, priority: object) -> None:
    """Raise the error :meth:`Assigner.open_session` owes its first bad argument."""
    check_id("session", session_id)
    check_optional_str("buyer", buyer)
    check_optional_str("group", group)
    if type(priority) is not int or not -MAX_PRIORITY <= priority <= MAX_PRIORITY:
        raise InvalidArgument(
            f"priority must be an int in [-{MAX_PRIORITY}, {MAX_PRIORITY}], got {priority!r}"
        )


def check_groups(groups: object) -> frozenset[str] | None:
    if groups is None:
        return None
    if isinstance(groups, str) or not isinstance(groups, Iterable):
        raise InvalidArgument(f"groups must be an iterable of group names or None, got {groups!r}")
    result = frozenset(groups)
    for g in result:
        check_id("group", g)
    return result


def check_weight(weight: object) -> int:
    if type(weight) is not int or not 0 <= weight <= MAX_WEIGHT:
        raise InvalidWeight(weight)
    return weight


def check_flag(name: str, value: object) -> bool:
    if type(value) is not bool:
        raise InvalidArgument(f"{name} must be True or False, got {value!r}")
    return value
