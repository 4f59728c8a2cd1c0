"""One call for both: a chat message goes to the Assigner and to the live tracker (K11, K12).

A backend that routes with an :class:`~kefu.Assigner` and shows live
figures from a :class:`~kefu.kpi.LiveTracker` would otherwise have to
translate every event into KPI records itself and keep its messages twice.
:class:`Recorder` does both in one call: :meth:`Recorder.buyer_message`
tells the Assigner (which may open, assign or restart timers) and gives the
tracker the message and the records that the call's events mean, exactly as
:func:`kefu.kpi.from_events` would build them from the whole day:

- ``Assigned`` -> Handover; ``Transferred`` / ``Reassigned`` -> Handover to
  the new agent; the buyer and group come from the session's opening;
- ``Requeued`` and ``Closed`` of an assigned session -> Release; every
  ``Closed`` and ``Rejected`` -> SessionEnd; ``Overflowed`` -> the session's
  group from then on;
- a session id used again after its close is a new life, ``"<id>#<n>"``.

:meth:`Recorder.agent_online` and :meth:`Recorder.agent_offline` also give
the tracker an ``AgentStatus`` record (occupancy, K13). Other commands
without a message (``assign``, ``transfer``, ``tick`` ...) are called on
the Assigner as usual; pass their events to :meth:`Recorder.observe`. A
message is stamped with the instant the Assigner took it at
(:attr:`kefu.Assigner.time`) and belongs to the life it was written in,
even at the very instant that life closes and the next opens (there
:func:`~kefu.kpi.from_events`, which sees only times, gives a buyer's
message to the new life). A message id that is not a ``str`` raises
InvalidRecord before the Assigner is called.
Cost per call: the Assigner's, plus the tracker's per record.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, Concatenate, ParamSpec, TypeVar

from kefu._guard import new_guard
from kefu._text import short_repr
from kefu.assigner import Assigner
from kefu.clock import as_seconds
from kefu.errors import ConcurrentCall, KefuError
from kefu.events import (
    Assigned,
    Closed,
    Event,
    Opened,
    Overflowed,
    Reassigned,
    Rejected,
    Requeued,
    Transferred,
)
from kefu.kpi.errors import InvalidRecord, InvalidTime
from kefu.kpi.live import LiveTracker
from kefu.kpi.records import (
    MAX_TIME,
    MIN_TIME,
    AgentStatus,
    Handover,
    Message,
    Release,
    Sender,
    SessionEnd,
)

__all__ = ["Recorder"]

P = ParamSpec("P")
T = TypeVar("T")


def _one_writer(call: Callable[Concatenate[Recorder, P], T]
                ) -> Callable[Concatenate[Recorder, P], T]:
    """Run a call as the Recorder's only one (S02, like the Assigner it wraps): one that
    overlaps it, from another thread or from inside it (an events iterable's own
    code), raises ConcurrentCall and changes nothing."""
    name = call.__name__

    @functools.wraps(call)
    def guarded(self: Recorder, /, *args: P.args, **kwargs: P.kwargs) -> T:
        if not self._guard.enter():
            raise ConcurrentCall(name, owner="Recorder")
        try:
            return call(self, *args, **kwargs)
        finally:
            self._guard.leave()

    return guarded


class Recorder:
    """Feeds an Assigner and a LiveTracker from the same calls (see the module docstring)."""

    __slots__ = ("_assigner", "_buyer", "_group", "_guard", "_key", "_lives", "_seq", "tracker")

    def __init__(self, assigner: Assigner, tracker: LiveTracker) -> None:
        self._assigner = assigner
        self.tracker = tracker
        self._key: dict[str, str] = {}  # open session id -> its life's key in the records
        self._lives: dict[str, int] = {}  # session id -> lives so far
        self._buyer: dict[str, str] = {}  # life key -> buyer
        self._group: dict[str, str | None] = {}  # life key -> group
        self._seq = 0
        self._guard = new_guard()

    @property
    def assigner(self) -> Assigner:
        return self._assigner

    @_one_writer
    def open_session(self, session_id: str, buyer_id: str, message_id: str, *,
                     group: str | None = None, priority: int = 0,
                     kind: str | None = None) -> list[Event]:
        """The buyer's first message: opens the session and records the message."""
        self._check_call(message_id)
        events = self._assigner.open_session(session_id, buyer_id, group, priority, kind)
        self._observe(events[:1])  # Opened: the message belongs to the life it opens,
        self._message(session_id, message_id, Sender.BUYER, None)
        self._observe(events[1:])  # even if the session is refused at once (R28)
        return events

    @_one_writer
    def buyer_message(self, session_id: str, message_id: str) -> list[Event]:
        """A later buyer message (R17, R18 timers) and its record."""
        self._check_call(message_id)
        self._life(session_id)
        events = self._assigner.buyer_message(session_id)
        self._message(session_id, message_id, Sender.BUYER, None)
        self._observe(events)
        return events

    @_one_writer
    def agent_message(self, session_id: str, message_id: str, agent_id: str | None = None, *,
                      auto: bool = False) -> list[Event]:
        """An agent's message (``auto``: an automatic reply, which answers nothing) and its
        record; ``agent_id`` names the sender (R18 attribution)."""
        self._check_call(message_id)
        self._life(session_id)
        events = self._assigner.agent_message(session_id, auto=auto, agent_id=agent_id)
        sender = Sender.SYSTEM if auto else Sender.AGENT
        self._message(session_id, message_id, sender, agent_id)
        self._observe(events)
        return events

    @_one_writer
    def close_session(self, session_id: str) -> list[Event]:
        """Close a session (R16) and record its end."""
        self._check_call(None)
        self._life(session_id)
        events = self._assigner.close_session(session_id)
        self._observe(events)
        return events

    @_one_writer
    def agent_online(self, agent_id: str) -> list[Event]:
        """The agent comes on line (R09 drain) and an ``AgentStatus`` record says so (K13's
        occupancy counts on-line time)."""
        self._check_call(None)
        events = self._assigner.agent_online(agent_id)
        self._observe(events)
        self._status(agent_id, True)
        return events

    @_one_writer
    def agent_offline(self, /, agent_id: str, **options: Any) -> list[Event]:
        """The agent goes off line (``options`` as :meth:`kefu.Assigner.agent_offline`
        takes them) and an ``AgentStatus`` record says so."""
        self._check_call(None)
        events = self._assigner.agent_offline(agent_id, **options)
        self._observe(events)
        self._status(agent_id, False)
        return events

    def _status(self, agent_id: str, online: bool) -> None:
        seq = self._seq
        self._seq += 1
        self.tracker.add(AgentStatus(agent_id, self._assigner.time, online, seq))

    def _check_call(self, message_id: object) -> None:
        """Refuse, before the Assigner acts, what the tracker would refuse after it: a
        message id that is not a str, a clock outside the KPI records' time range."""
        if message_id is not None and type(message_id) is not str:
            raise InvalidRecord(f"message_id must be a str, got {short_repr(message_id)}")
        try:
            now = as_seconds(self._assigner.clock.now())
        except Exception:  # the Assigner reports a failing clock itself
            return
        if now is not None and not MIN_TIME <= max(now, self._assigner.time) < MAX_TIME:
            raise InvalidTime(f"the shop clock reads {short_repr(now)}: KPI records need"
                              " POSIX seconds in [0, 2**32)")

    def _life(self, session_id: str) -> str:
        """The records' key of a session's current life; a session opened before this
        recorder saw it is taken as it stands (its buyer and group from the Assigner)."""
        key = self._key.get(session_id)
        if key is not None:
            return key
        if type(session_id) is not str:
            return session_id  # the Assigner refuses it
        try:
            view = self._assigner.session(session_id)
        except KefuError:  # not open (the Assigner says so), or already closed
            buyer, group = session_id, None
        else:
            buyer = view.buyer_id if view.buyer_id is not None else session_id
            group = view.group
        self._lives[session_id] = self._lives.get(session_id, 0) + 1
        self._key[session_id] = session_id
        self._buyer[session_id] = buyer
        self._group[session_id] = group
        return session_id

    def _message(self, session_id: str, message_id: str, sender: Sender,
                 agent_id: str | None) -> None:
        """Record a message the Assigner has just taken, at the instant it ran at."""
        key = self._life(session_id)
        self.tracker.add(Message(key, self._buyer[key], self._assigner.time, sender, message_id,
                                 agent_id=agent_id))

    @_one_writer
    def observe(self, events: Iterable[Event]) -> None:
        """Give the tracker the records these Assigner events mean (in their order)."""
        self._observe(events)

    def _observe(self, events: Iterable[Event]) -> None:
        add = self.tracker.add
        for ev in events:
            seq = self._seq
            self._seq += 1
            if isinstance(ev, Opened):
                n = self._lives.get(ev.session_id, 0) + 1
                self._lives[ev.session_id] = n
                key = ev.session_id if n == 1 else f"{ev.session_id}#{n}"
                self._key[ev.session_id] = key
                self._buyer[key] = ev.buyer_id if ev.buyer_id is not None else key
                self._group[key] = ev.group
                continue
            key = self._life(ev.session_id)
            buyer = self._buyer[key]
            if isinstance(ev, Assigned):
                add(Handover(key, buyer, ev.agent_id, ev.at, self._group.get(key), seq))
            elif isinstance(ev, (Transferred, Reassigned)):
                add(Handover(key, buyer, ev.to_agent, ev.at, self._group.get(key), seq))
            elif isinstance(ev, Requeued):
                add(Release(key, ev.agent_id, ev.at, seq))
            elif isinstance(ev, Closed):
                if ev.agent_id is not None:
                    add(Release(key, ev.agent_id, ev.at, seq))
                add(SessionEnd(key, ev.at, seq, self._group.get(key)))
                self._key.pop(ev.session_id, None)
            elif isinstance(ev, Overflowed):
                self._group[key] = ev.to_group  # a session of that group from now on (R28)
            elif isinstance(ev, Rejected):
                add(SessionEnd(key, ev.at, seq, ev.group))  # refused: never reached (R28)
                self._key.pop(ev.session_id, None)

