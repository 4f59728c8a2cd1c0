"""Escalation ladders (R24) as the engines read them: one table built once per Assigner.

A ladder step's deadline is ``since + after``: ``since`` is the instant the
session started waiting in its group's line, ``after`` the step's seconds as
a float, so every engine computes the same deadline bit for bit.
"""

from __future__ import annotations

from typing import NamedTuple

from kefu.model import Config

__all__ = ["Rung", "Table", "reached_all", "reached_groups", "table"]


class Rung(NamedTuple):
    """One step of a ladder: ``after`` seconds, and the groups it adds (None: every agent)."""

    after: float
    groups: frozenset[str] | None
    #: The groups it adds, sorted, for the ``Escalated`` event (None: every agent).
    names: tuple[str, ...] | None


Table = dict[str, tuple[Rung, ...]]


def table(config: Config) -> Table:
    """group -> its rungs, from the configuration. O(total steps)."""
    return {
        group: tuple(Rung(float(step.after), step.groups,
                          None if step.groups is None else tuple(sorted(step.groups)))
                     for step in steps)
        for group, steps in config.ladders
    }


def reached_all(rungs: tuple[Rung, ...], step: int) -> bool:
    """Whether the first ``step`` rungs reach every agent. O(1): only the last can."""
    return step > 0 and rungs[step - 1].groups is None


def reached_groups(rungs: tuple[Rung, ...], step: int) -> frozenset[str]:
    """The groups the first ``step`` rungs add (not counting an "every agent" rung).
    O(groups reached)."""
    out: set[str] = set()
    for rung in rungs[:step]:
        if rung.groups is not None:
            out |= rung.groups
    return frozenset(out)
