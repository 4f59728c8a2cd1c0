"""Batches: many commands in one call (``Assigner.apply``), for replays and simulations.

A command is a tuple ``(name, *args)`` whose name is a mutating method of
:class:`kefu.Assigner` and whose args are that method's positional
arguments (trailing defaults may be left out; ``add_agent``'s ``online`` is
its fifth). ``("at", seconds)`` moves the batch's time forward: the commands
after it happen at that time. Commands run in order; the first that fails
raises :class:`~kefu.errors.BatchAborted` carrying the events of those
before it, which stay applied (the failing one changes nothing).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from typing import Any

from kefu._checks import (
    check_flag,
    check_grace,
    check_groups,
    check_id,
    check_kind,
    check_session_args,
    check_weight,
)
from kefu._text import short_repr
from kefu.clock import as_seconds
from kefu.errors import BatchAborted, InvalidArgument
from kefu.events import Event
from kefu.model import Cap

__all__ = ["check_at", "run_batch", "run_checked", "run_steps", "validate_command"]

Args = tuple[Any, ...]


def _agent(args: Args) -> Args:
    return (check_id("agent", args[0]),)


def _session(args: Args) -> Args:
    return (check_id("session", args[0]),)


def _add_agent(args: Args) -> Args:
    agent_id, cap, groups, weight, online = args + (Cap.UNLIMITED, None, 1, False)[len(args) - 1:]
    return (check_id("agent", agent_id), Cap.coerce(cap), check_groups(groups),
            check_weight(weight), check_flag("online", online))


def _agent_offline(args: Args) -> Args:
    requeue = args[1] if len(args) > 1 else False
    grace = args[2] if len(args) > 2 else None
    agent_id = check_id("agent", args[0])
    requeue = check_flag("requeue", requeue)
    return (agent_id, requeue, check_grace(grace, requeue))


def _set_cap(args: Args) -> Args:
    return (check_id("agent", args[0]), Cap.coerce(args[1]))


def _set_weight(args: Args) -> Args:
    return (check_id("agent", args[0]), check_weight(args[1]))


def _open_session(args: Args) -> Args:
    session_id, buyer, group, priority, kind = args + (None, None, 0, None)[len(args) - 1:]
    check_session_args(session_id, buyer, group, priority)
    if kind is None:
        return (session_id, buyer, group, priority)
    return (session_id, buyer, group, priority, check_kind(kind))


def _agent_message(args: Args) -> Args:
    auto = args[1] if len(args) > 1 else False
    agent_id = args[2] if len(args) > 2 else None
    return (check_id("session", args[0]), check_flag("auto", auto),
            None if agent_id is None else check_id("agent", agent_id))


def _session_and_agent(args: Args) -> Args:
    return (check_id("session", args[0]), check_id("agent", args[1]))


def _no_args(args: Args) -> Args:
    return ()


#: name -> (min args, max args, validator returning the engine's arguments after ``now``)
COMMANDS: dict[str, tuple[int, int, Callable[[Args], Args]]] = {
    "add_agent": (1, 5, _add_agent),
    "remove_agent": (1, 1, _agent),
    "agent_online": (1, 1, _agent),
    "agent_away": (1, 1, _agent),
    "agent_offline": (1, 3, _agent_offline),
    "set_cap": (2, 2, _set_cap),
    "set_weight": (2, 2, _set_weight),
    "open_session": (1, 5, _open_session),
    "buyer_message": (1, 1, _session),
    "agent_message": (1, 3, _agent_message),
    "assign": (2, 2, _session_and_agent),
    "transfer": (2, 2, _session_and_agent),
    "close_session": (1, 1, _session),
    "tick": (0, 0, _no_args),
}


def validate_command(command: object) -> tuple[str, Args]:
    """The method name and checked engine arguments of one command; InvalidArgument if bad."""
    if type(command) is not tuple or not command:
        raise InvalidArgument(
            f"a command is a non-empty tuple (name, *args), got {short_repr(command)}"
        )
    name, args = command[0], command[1:]
    # Only an exact str name is compared: a look-alike's __eq__/__hash__ never runs.
    spec = COMMANDS.get(name) if type(name) is str else None
    if type(name) is str and name == "at":
        if len(args) != 1:
            raise InvalidArgument(f"('at', seconds) takes one argument, got {short_repr(command)}")
        return "at", args
    if spec is None:
        raise InvalidArgument(
            f"unknown command {short_repr(name)}: use 'at' or one of {sorted(COMMANDS)}"
        )
    low, high, check = spec
    if not low <= len(args) <= high:
        raise InvalidArgument(f"{name} takes {low} to {high} arguments, got {len(args)}")
    return name, check(args)


def check_at(value: object, now: float) -> float:
    """The time of an ``("at", seconds)`` command: finite seconds, not before ``now``."""
    at = as_seconds(value)
    if at is None:
        raise InvalidArgument(f"('at', seconds) needs a number of seconds, got {short_repr(value)}")
    if not math.isfinite(at):
        raise InvalidArgument(f"('at', seconds) needs finite seconds, got {short_repr(value)}")
    if at < now:
        raise InvalidArgument(f"('at', {short_repr(value)}) is before the batch's time {now!r}")
    return at


def run_checked(engine: Any, command: object, now: float, events: list[Event]) -> float:
    """Check and run one command on ``engine``, appending its events; returns the batch's
    time after it (moved only by ``("at", t)``)."""
    name, args = validate_command(command)
    if name == "at":
        return check_at(args[0], now)
    events.extend(getattr(engine, name)(now, *args))
    return now


def run_batch(engine: Any, now: float, commands: Iterable[object]) -> tuple[list[Event], float]:
    """Run ``commands`` on ``engine`` one by one; returns all events and the final time."""
    return run_steps(lambda command, at, events: run_checked(engine, command, at, events),
                     now, commands)


Step = Callable[[object, float, list[Event]], float]


def run_steps(step: Step, now: float, commands: Iterable[object]) -> tuple[list[Event], float]:
    """Run each command with ``step(command, now, events)`` (which returns the batch's time).

    Whatever a command raises (a KefuError, or anything a hostile argument
    throws while it is checked) becomes BatchAborted carrying the events of
    the commands before it, so no applied command's events are lost.
    """
    events: list[Event] = []
    feed = iter(commands)
    for index in itertools.count():
        try:
            command = next(feed)
        except StopIteration:
            break
        except Exception as exc:  # the caller's iterable broke: keep what was done
            raise BatchAborted(index, None, exc, events, now) from exc
        try:
            now = step(command, now, events)
        except Exception as exc:
            raise BatchAborted(index, command, exc, events, now) from exc
    return events, now
