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

from kefu._batch import COMMANDS as _CHECKS
from kefu._text import short_repr
from kefu.model import Cap

__all__ = ["COMMANDS", "as_json", "call_args", "canonical", "decode", "encode"]

JsonArgs = list[Any]
Args = tuple[Any, ...]

# Binders: a call's arguments, positional or by keyword, as the full positional
# tuple that the batch checks (kefu._batch) take. They check nothing: a call
# that does not fit the method's signature raises TypeError here.


def _agent(agent_id: object) -> Args:
    return (agent_id,)


def _session(session_id: object) -> Args:
    return (session_id,)


def _add_agent(agent_id: object, cap: object = Cap.UNLIMITED, groups: object = None,
               weight: object = 1, online: object = False) -> Args:
    return (agent_id, cap, groups, weight, online)


def _agent_offline(agent_id: object, requeue: object = False, grace: object = None) -> Args:
    return (agent_id, requeue, grace)


def _agent_and(agent_id: object, value: object) -> Args:
    return (agent_id, value)


def _open_session(session_id: object, buyer: object = None, group: object = None,
                  priority: object = 0, kind: object = None) -> Args:
    """A session kind (R26) is journaled only when given, so older journals read alike."""
    if kind is None:
        return (session_id, buyer, group, priority)
    return (session_id, buyer, group, priority, kind)


def _agent_message(session_id: object, auto: object = False, agent_id: object = None) -> Args:
    return (session_id, auto, agent_id)


def _session_agent(session_id: object, agent_id: object) -> Args:
    return (session_id, agent_id)


def _tick() -> Args:
    return ()


#: Every command a durable shop journals, with its binder.
COMMANDS: dict[str, Callable[..., Args]] = {
    "add_agent": _add_agent,
    "remove_agent": _agent,
    "agent_online": _agent,
    "agent_away": _agent,
    "agent_offline": _agent_offline,
    "set_cap": _agent_and,
    "set_weight": _agent_and,
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

    The checks are the batch's (:mod:`kefu._batch`), which raise what the
    Assigner raises, in its order. A call that does not fit the method's
    signature raises :class:`~kefu.errors.InvalidArgument`, as the Assigner
    would raise ``TypeError``.
    """
    from kefu.errors import InvalidArgument

    binder = COMMANDS.get(method) if type(method) is str else None
    if binder is None:
        raise InvalidArgument(f"unknown command {short_repr(method)}")
    try:
        bound = binder(*args, **kwargs)
    except TypeError as exc:
        raise InvalidArgument(f"bad arguments for {method}: {exc}") from None
    return as_json(method, _CHECKS[method][2](bound))


def as_json(method: str, checked: Args) -> JsonArgs:
    """The journal form of a command's checked arguments (as ``kefu._batch`` returns them).

    A Cap becomes its plain form, a set of groups a sorted list; an
    unattributed agent message, and an agent going offline without a grace
    period (R27), keep two arguments. O(size of the arguments).
    """
    out = [a.to_data() if type(a) is Cap else sorted(a) if type(a) is frozenset else a
           for a in checked]
    if method in ("agent_message", "agent_offline") and out[2] is None:
        del out[2]
    return out


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
