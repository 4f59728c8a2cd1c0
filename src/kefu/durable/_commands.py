"""Commands as journal data: check, canonicalise, encode and decode (S05).

A durable shop journals the commands it accepts, not their events: an
Assigner is deterministic given its commands and their times, so replaying
the journal re-derives every event. This module turns a call's arguments
into a canonical JSON list (checked in the same order, with the same errors,
as :class:`~kefu.Assigner` checks them) and back into call arguments. A
caller's iterable (``groups``) is read here once, so the Assigner and the
journal see the same values.

Cost: O(size of the arguments) per command.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kefu._checks import check_flag, check_groups, check_id, check_session_args, check_weight
from kefu._text import short_repr
from kefu.model import Cap

__all__ = ["COMMANDS", "call_args", "canonical", "decode", "encode"]

JsonArgs = list[Any]


def _agent(agent_id: object) -> JsonArgs:
    return [check_id("agent", agent_id)]


def _session(session_id: object) -> JsonArgs:
    return [check_id("session", session_id)]


def _add_agent(agent_id: object, cap: object = Cap.UNLIMITED, groups: object = None,
               weight: object = 1, online: object = False) -> JsonArgs:
    agent = check_id("agent", agent_id)
    cap_data = Cap.coerce(cap).to_data()
    names = check_groups(groups)
    return [agent, cap_data, None if names is None else sorted(names), check_weight(weight),
            check_flag("online", online)]


def _agent_offline(agent_id: object, requeue: object = False) -> JsonArgs:
    return [check_id("agent", agent_id), check_flag("requeue", requeue)]


def _set_cap(agent_id: object, cap: object) -> JsonArgs:
    return [check_id("agent", agent_id), Cap.coerce(cap).to_data()]


def _set_weight(agent_id: object, weight: object) -> JsonArgs:
    return [check_id("agent", agent_id), check_weight(weight)]


def _open_session(session_id: object, buyer: object = None, group: object = None,
                  priority: object = 0) -> JsonArgs:
    check_session_args(session_id, buyer, group, priority)
    return [session_id, buyer, group, priority]


def _agent_message(session_id: object, auto: object = False,
                   agent_id: object = None) -> JsonArgs:
    session = check_id("session", session_id)
    flag = check_flag("auto", auto)
    if agent_id is None:
        return [session, flag]
    return [session, flag, check_id("agent", agent_id)]


def _session_agent(session_id: object, agent_id: object) -> JsonArgs:
    return [check_id("session", session_id), check_id("agent", agent_id)]


def _tick() -> JsonArgs:
    return []


#: Every command a durable shop journals, with its canonicaliser.
COMMANDS: dict[str, Callable[..., JsonArgs]] = {
    "add_agent": _add_agent,
    "remove_agent": _agent,
    "agent_online": _agent,
    "agent_offline": _agent_offline,
    "set_cap": _set_cap,
    "set_weight": _set_weight,
    "open_session": _open_session,
    "buyer_message": _session,
    "agent_message": _agent_message,
    "assign": _session_agent,
    "transfer": _session_agent,
    "close_session": _session,
    "tick": _tick,
}


def canonical(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> JsonArgs:
    """The checked, canonical JSON arguments of a call; the Assigner's error if one is bad.

    A call that does not fit the method's signature raises
    :class:`~kefu.errors.InvalidArgument`, as the Assigner would raise
    ``TypeError``.
    """
    from kefu.errors import InvalidArgument

    canonicaliser = COMMANDS.get(method) if type(method) is str else None
    if canonicaliser is None:
        raise InvalidArgument(f"unknown command {short_repr(method)}")
    try:
        return canonicaliser(*args, **kwargs)
    except TypeError as exc:
        raise InvalidArgument(f"bad arguments for {method}: {exc}") from None


# One encoder for every command: compact, ASCII with escapes (any str an id can
# hold, a lone surrogate or NUL, fits any store), strict about NaN.
_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_DECODE = json.JSONDecoder().decode


def encode(method: str, args: JsonArgs) -> str:
    """The journal text of a command: compact JSON, the same for equal commands."""
    return _ENCODE([method, args])


def decode(text: str) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """The Assigner call (method, args, kwargs) of a journal text; ValueError if it is not one."""
    data = _DECODE(text)
    if type(data) is not list or len(data) != 2 or type(data[0]) is not str \
            or data[0] not in COMMANDS or type(data[1]) is not list:
        raise ValueError(f"not a journaled command: {short_repr(data)}")
    return call_args(data[0], data[1])


def call_args(method: str, args: JsonArgs) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """The Assigner call of a command's canonical JSON arguments; ValueError if malformed."""
    if method in ("add_agent", "set_cap"):
        if len(args) != (5 if method == "add_agent" else 2):
            raise ValueError(f"not a journaled command: {short_repr([method, args])}")
        args = list(args)
        args[1] = Cap.from_data(args[1])
    if method == "add_agent":
        return method, tuple(args[:4]), {"online": args[4]}
    if method == "agent_message" and len(args) == 3:
        return method, tuple(args[:2]), {"agent_id": args[2]}
    return method, tuple(args), {}
