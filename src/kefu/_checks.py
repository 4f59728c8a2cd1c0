"""Argument checks shared by the facade and the batch runner: typed errors, nothing changed."""

from __future__ import annotations

from collections.abc import Iterable

from kefu._handovers import MAX_SAMPLE
from kefu._text import short_repr
from kefu.errors import InvalidArgument, InvalidWeight

__all__ = [
    "MAX_PRIORITY",
    "MAX_WEIGHT",
    "check_flag",
    "check_grace",
    "check_groups",
    "check_id",
    "check_optional_str",
    "check_session_args",
    "check_weight",
]

MAX_WEIGHT = 10_000
MAX_PRIORITY = 1_000_000_000
#: The longest grace period: kefu.model.MAX_DURATION (importing it here would be circular;
#: tests/test_rules_r27.py checks that the two agree).
MAX_GRACE = 1e9


def check_id(kind: str, value: object) -> str:
    if type(value) is not str or not value:
        raise InvalidArgument(f"{kind} id must be a non-empty str, got {short_repr(value)}")
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
            f"priority must be an int in [-{MAX_PRIORITY}, {MAX_PRIORITY}],"
            f" got {short_repr(priority)}"
        )


def check_kind(kind: object) -> str | None:
    """A session kind (R26): None or a non-empty str; whether it is configured is the
    engine's check (UnknownKind). O(1)."""
    if kind is not None and (type(kind) is not str or not kind):
        raise InvalidArgument(f"kind must be a non-empty str or None, got {short_repr(kind)}")
    return kind


def check_groups(groups: object) -> frozenset[str] | None:
    """The group names an agent serves, or None (every group): an iterable of non-empty str.

    The caller's iterable runs here and only here; anything it raises (or a
    name that is not an exact ``str``, checked before anything is hashed)
    is an InvalidArgument. Cost: O(g).
    """
    if groups is None:
        return None
    try:
        if isinstance(groups, (str, bytes)) or not isinstance(groups, Iterable):
            raise InvalidArgument(
                f"groups must be an iterable of group names or None, got {short_repr(groups)}"
            )
        names = list(groups)
    except InvalidArgument:
        raise
    except Exception as exc:
        raise InvalidArgument(f"groups could not be read: {short_repr(exc)}") from exc
    for g in names:
        check_id("group", g)
    return frozenset(names)


def check_weight(weight: object) -> int:
    if type(weight) is not int or not 0 <= weight <= MAX_WEIGHT:
        raise InvalidWeight(weight)
    return weight


def check_flag(name: str, value: object) -> bool:
    if type(value) is not bool:
        raise InvalidArgument(f"{name} must be True or False, got {short_repr(value)}")
    return value


def check_grace(grace: object, requeue: bool) -> float | None:
    """An offline grace period (R27): None, or seconds in (0, 10^9], as a float.

    A grace period keeps the sessions for a while; ``requeue=True`` gives them
    up at once: asking for both is an InvalidArgument. O(1).
    """
    if grace is None:
        return None
    if type(grace) not in (int, float) or not 0 < grace <= MAX_GRACE:  # type: ignore[operator]
        raise InvalidArgument(
            f"grace must be a positive number of seconds up to {MAX_GRACE:.0e}, or None,"
            f" got {short_repr(grace)}"
        )
    if requeue:
        raise InvalidArgument("agent_offline takes requeue=True or a grace period, not both")
    return float(grace)  # type: ignore[arg-type]


def check_sample(sample: object) -> int:
    """How many of a line's latest hand-overs an R25 estimate uses: an int (not a bool)
    from 1 to :data:`kefu._handovers.MAX_SAMPLE`. O(1)."""
    if type(sample) is not int or not 1 <= sample <= MAX_SAMPLE:
        raise InvalidArgument(
            f"sample must be an integer from 1 to {MAX_SAMPLE}, got {short_repr(sample)}")
    return sample
