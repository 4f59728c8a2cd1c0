"""From the Assigner's events to KPI records (K11).

The Assigner says when a session entered or left a reception list; the chat
backend knows the messages. This adapter joins the two so that a simulated
day and a live one are measured by the same functions:

- ``Assigned`` -> Handover(agent_id); ``Transferred`` / ``Reassigned`` ->
  Handover(to_agent); buyer and group come from the session's ``Opened``.
- ``Requeued`` and ``Closed`` (of an assigned session) -> Release.
- ``Closed`` -> SessionEnd (a session closed before any agent took it is a
  buyer who gave up, K02), naming the session's group.
- ``Overflowed`` -> the session is of the overflow group from then on (R28).
- ``Rejected`` -> SessionEnd at once (R28): a refused buyer never reached an
  agent, and counts as one (missed for the reply rates, a short abandon for
  the service figures).
- ``Opened`` counts as the buyer's first message (a session opens with it): unless the
  backend's messages already hold a buyer message of that session at that
  instant, one is added (``open_is_message``).
- ``Queued``, ``ResponseTimedOut`` and ``Escalated`` carry nothing the KPIs need.

A session id may be used again after its close (R16). Each later life gets
the id ``"<id>#<n>"`` (n = 2, 3, ...) in the records, and each message goes
to the life opened last at or before it; at the very instant one life closes
and the next opens, a message that is not the buyer's goes to the old one.
An event's position in the stream becomes the records' ``seq``, which keeps
causal order among equal times.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from typing import cast

import attrs

from kefu.events import (
    Assigned,
    Closed,
    Escalated,
    Event,
    Opened,
    Overflowed,
    Queued,
    Reassigned,
    Rejected,
    Requeued,
    ResponseTimedOut,
    Transferred,
)
from kefu.kpi.intake import checked
from kefu.kpi.records import Handover, Message, Release, Sender, SessionEnd

__all__ = ["Records", "from_events"]


@attrs.frozen
class Records:
    """KPI records built from an event stream (pass them to any KPI function).

    ``unknown_sessions`` counts session ids whose events came without an
    ``Opened`` (e.g. a log that starts mid-day); their buyer is taken to be
    the session id.
    """

    messages: tuple[Message, ...] = ()
    handovers: tuple[Handover, ...] = ()
    releases: tuple[Release, ...] = ()
    unknown_sessions: int = 0
    ends: tuple[SessionEnd, ...] = ()


class _Life:
    __slots__ = ("buyer", "closed", "group", "key", "opened")

    def __init__(self, key: str, buyer: str, group: str | None, opened: float) -> None:
        self.key = key
        self.buyer = buyer
        self.group = group
        self.opened = opened
        self.closed = math.inf


_Handing = Assigned | Transferred | Reassigned

# What each event kind means here (Queued and ResponseTimedOut carry nothing needed).
_OPEN, _HAND, _REQUEUE, _CLOSE, _NONE, _OVERFLOW, _REJECT = range(7)
_KINDS: dict[type, int] = {Opened: _OPEN, Assigned: _HAND, Transferred: _HAND, Reassigned: _HAND,
                           Requeued: _REQUEUE, Closed: _CLOSE, Queued: _NONE,
                           ResponseTimedOut: _NONE, Overflowed: _OVERFLOW,
                           Rejected: _REJECT, Escalated: _NONE}


def _kind(ev: Event) -> int:
    kind = _KINDS.get(type(ev))
    if kind is not None:
        return kind
    for cls, kind in _KINDS.items():  # a subclass of a known event
        if isinstance(ev, cls):
            return kind
    return _NONE


def from_events(
    events: Iterable[Event],
    messages: Iterable[Message] = (),
    *,
    open_is_message: bool = True,
) -> Records:
    """KPI records (K11) from Assigner events plus the backend's message records.

    The messages are checked as every KPI function checks them
    (:mod:`kefu.kpi.intake`): InvalidRecord for a bad one.
    """
    evs = list(events)
    ats = [ev.at for ev in evs]
    # Stable: events of one instant keep their causal order (and seq says it). Sorting
    # positions by a column keeps no (position, event) pair alive per event.
    order = sorted(range(len(evs)), key=ats.__getitem__)
    lives: dict[str, list[_Life]] = {}
    current: dict[str, _Life] = {}
    handovers: list[Handover] = []
    releases: list[Release] = []
    ends: list[SessionEnd] = []
    unknown: set[str] = set()

    def life(sid: str, at: float) -> _Life:
        lf = current.get(sid)
        if lf is None:
            unknown.add(sid)
            lf = _Life(sid, sid, None, at)
            lives.setdefault(sid, []).append(lf)
            current[sid] = lf
        return lf

    for seq in order:
        ev = evs[seq]
        kind = _kind(ev)
        if kind == _OPEN:
            ev = cast(Opened, ev)
            n = len(lives.get(ev.session_id, ())) + 1
            key = ev.session_id if n == 1 else f"{ev.session_id}#{n}"
            lf = _Life(key, ev.buyer_id if ev.buyer_id is not None else key, ev.group, ev.at)
            lives.setdefault(ev.session_id, []).append(lf)
            current[ev.session_id] = lf
        elif kind == _HAND:
            ev = cast(_Handing, ev)
            lf = life(ev.session_id, ev.at)
            agent = ev.agent_id if isinstance(ev, Assigned) else ev.to_agent
            handovers.append(Handover(lf.key, lf.buyer, agent, ev.at, lf.group, seq))
        elif kind == _REQUEUE:
            ev = cast(Requeued, ev)
            lf = life(ev.session_id, ev.at)
            releases.append(Release(lf.key, ev.agent_id, ev.at, seq))
        elif kind == _CLOSE:
            ev = cast(Closed, ev)
            lf = life(ev.session_id, ev.at)
            if ev.agent_id is not None:
                releases.append(Release(lf.key, ev.agent_id, ev.at, seq))
            ends.append(SessionEnd(lf.key, ev.at, seq, lf.group))
            lf.closed = ev.at
            del current[ev.session_id]
        elif kind == _OVERFLOW:
            lf = life(ev.session_id, ev.at)
            lf.group = cast(Overflowed, ev).to_group  # a session of that group from now on
        elif kind == _REJECT:
            lf = life(ev.session_id, ev.at)
            ends.append(SessionEnd(lf.key, ev.at, seq, cast(Rejected, ev).group))
            lf.closed = ev.at
            del current[ev.session_id]

    # The opening of each life counts as a buyer message unless one is there already.
    wanted: set[tuple[str, float]] = set()
    if open_is_message:
        for sid, ls in lives.items():
            wanted.update((lf.key, lf.opened) for lf in ls
                          if not (sid in unknown and lf.key == sid))
    present: set[tuple[str, float]] = set()
    out: list[Message] = []
    for m in checked(messages, Message):
        of_id = lives.get(m.session_id)
        if of_id is not None and len(of_id) > 1:
            j = bisect.bisect_right([lf.opened for lf in of_id], m.at) - 1
            # At the very instant a life closes and the next opens, only the buyer's
            # message opens the new one; a reply then still answers the old one.
            if (j > 0 and of_id[j].opened == m.at and m.sender is not Sender.BUYER
                    and of_id[j - 1].closed == m.at):
                j -= 1
            key = of_id[max(j, 0)].key
            if key != m.session_id:
                m = attrs.evolve(m, session_id=key)
        if m.sender is Sender.BUYER and wanted:
            at = (m.session_id, m.at)
            if at in wanted:
                present.add(at)
        out.append(m)
    for ls in lives.values():
        for lf in ls:
            if (lf.key, lf.opened) in wanted and (lf.key, lf.opened) not in present:
                out.append(Message(lf.key, lf.buyer, lf.opened, Sender.BUYER,
                                   f"kefu:open:{lf.key}"))
    return Records(tuple(out), tuple(handovers), tuple(releases), len(unknown), tuple(ends))
