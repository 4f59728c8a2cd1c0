"""Columnar batches (``Assigner.apply_columns``): arrays of commands in, event columns out.

A replay that already holds a day as arrays (command codes, session
handles, times) should not pay for building a tuple and an id string per
command. A *handle* is an index into a *table*, a sequence of names the
caller passes: ``sessions[h]`` is the id of session handle ``h``, and the
events carry those very ids, exactly as :meth:`kefu.Assigner.apply` would
return them for the same commands.

Row ``i`` runs command ``command[i]`` on session ``session[i]`` at time
``time[i]``; the optional columns (``agent``, ``buyer``, ``group``,
``priority``, ``kind``) give the other arguments, a handle of -1 meaning
None. The call's shape is checked as a whole before anything runs (lengths,
dtypes, codes and handles in range, times finite and not decreasing): a bad
shape is an :class:`~kefu.errors.InvalidArgument` and changes nothing. A
table entry is checked when a row uses it, as ``apply`` checks the same
argument, so a bad entry or a failing command raises
:class:`~kefu.errors.BatchAborted` for that row, the rows before it applied.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from typing import Any, Protocol, overload

import attrs
import numpy as np
import numpy.typing as npt

from kefu import events as ev
from kefu._batch import check_at, run_checked
from kefu._checks import MAX_PRIORITY
from kefu._text import short_repr
from kefu.errors import BatchAborted, InvalidArgument, KefuError
from kefu.events import Event

__all__ = ["EVENT_TYPES", "REASONS", "ColumnBatch", "Command", "EventColumns", "out_of_range",
           "parse_columns", "run_rows", "start_at"]


class Command(enum.IntEnum):
    """The command codes of :meth:`kefu.Assigner.apply_columns` (one per row)."""

    OPEN_SESSION = 0  #: open_session(session, buyer, group, priority, kind)
    CLOSE_SESSION = 1  #: close_session(session)
    BUYER_MESSAGE = 2  #: buyer_message(session)
    AGENT_MESSAGE = 3  #: agent_message(session, auto=False, agent) (agent -1: not named)
    AUTO_MESSAGE = 4  #: agent_message(session, auto=True, agent)
    TICK = 5  #: tick() (the row's session handle is not read)


#: The event classes in code order: ``EventColumns.kind[i]`` indexes this tuple.
EVENT_TYPES: tuple[type[Event], ...] = (
    ev.Opened, ev.Assigned, ev.Queued, ev.Transferred, ev.ResponseTimedOut, ev.Reassigned,
    ev.Requeued, ev.Closed, ev.Overflowed, ev.Rejected, ev.Escalated)
#: The reasons in code order: ``EventColumns.reason[i]`` indexes this tuple (-1: none).
REASONS: tuple[ev.AssignReason | ev.RequeueReason | ev.CloseReason, ...] = (
    *ev.AssignReason, *ev.RequeueReason, *ev.CloseReason)
_KIND_CODE = {cls: code for code, cls in enumerate(EVENT_TYPES)}
_REASON_CODE: dict[object, int] = {reason: code for code, reason in enumerate(REASONS)}
_NAMES: dict[int, str] = {
    Command.OPEN_SESSION: "open_session", Command.CLOSE_SESSION: "close_session",
    Command.BUYER_MESSAGE: "buyer_message", Command.AGENT_MESSAGE: "agent_message",
    Command.AUTO_MESSAGE: "agent_message", Command.TICK: "tick"}
_HANDLES = ("agent", "buyer", "group", "kind")
_NONE = -1

Ints = npt.NDArray[np.int64]


@attrs.frozen(slots=True)
class ColumnBatch:
    """A checked columnar batch: C-contiguous arrays of one length and tuples of names.

    ``command`` is int8, ``time`` float64, every other column int64 (or None
    when not given). An array that already had its layout is the caller's
    own, not a copy: an engine checks each value again as it reads it. The
    tables are tuples, so a caller cannot change them while the batch runs.
    """

    command: npt.NDArray[np.int8]
    session: Ints
    time: npt.NDArray[np.float64]
    agent: Ints | None
    buyer: Ints | None
    group: Ints | None
    priority: Ints | None
    kind: Ints | None
    sessions: tuple[object, ...]
    agents: tuple[object, ...]
    buyers: tuple[object, ...]
    groups: tuple[object, ...]
    kinds: tuple[object, ...]

    def __len__(self) -> int:
        return len(self.command)

    def _name(self, table: tuple[object, ...], column: Ints | None, row: int,
              name: str) -> object:
        if column is None or column[row] == _NONE:
            return None
        return _entry(table, int(column[row]), name)

    def command_at(self, row: int) -> tuple[object, ...]:
        """Row ``row`` as the ``Assigner.apply`` command tuple it stands for. O(1)."""
        code = int(self.command[row])
        if not 0 <= code < len(Command):
            raise out_of_range("command", code, 0, len(Command) - 1)
        if code == Command.TICK:
            return ("tick",)
        sid = _entry(self.sessions, int(self.session[row]), "session", optional=False)
        if code == Command.OPEN_SESSION:
            # The handles read in apply's argument order (as the compiled engine reads them).
            opened = (sid, self._name(self.buyers, self.buyer, row, "buyer"),
                      self._name(self.groups, self.group, row, "group"))
            kind = self._name(self.kinds, self.kind, row, "kind")
            priority = 0 if self.priority is None else int(self.priority[row])
            return (("open_session", *opened, priority) if kind is None
                    else ("open_session", *opened, priority, kind))
        if code in (Command.AGENT_MESSAGE, Command.AUTO_MESSAGE):
            return ("agent_message", sid, code == Command.AUTO_MESSAGE,
                    self._name(self.agents, self.agent, row, "agent"))
        return (_NAMES[code], sid)

    def describe(self, row: int) -> tuple[object, ...]:
        """:meth:`command_at`, or the row's raw values if a handle no longer fits its
        table (its array changed while the batch ran). O(1)."""
        try:
            return self.command_at(row)
        except InvalidArgument:
            return ("row", row, int(self.command[row]), int(self.session[row]),
                    float(self.time[row]))


def _entry(table: tuple[object, ...], handle: int, column: str, optional: bool = True
           ) -> object:
    """``table[handle]`` for a handle in range, else the out-of-range InvalidArgument (as
    the compiled engine's check; a handle never counts from the end). O(1)."""
    if not 0 <= handle < len(table):
        raise out_of_range(column, handle, -1 if optional else 0, len(table) - 1)
    return table[handle]


def _table(name: str, table: object) -> tuple[object, ...]:
    if isinstance(table, (str, bytes)):
        raise InvalidArgument(f"{name} must be a sequence of names, got {short_repr(table)}")
    try:
        return tuple(table)  # type: ignore[arg-type]
    except KefuError:  # a re-entrant call's ConcurrentCall, say: as it is
        raise
    except Exception as exc:
        raise InvalidArgument(
            f"{name} must be a sequence of names, got {short_repr(table)}") from exc


def _array(name: str, value: object, kinds: str) -> npt.NDArray[Any]:
    """``value`` as a 1-d numpy array whose dtype kind is one of ``kinds``, or InvalidArgument."""
    try:
        array = np.asarray(value)
    except KefuError:
        raise
    except Exception as exc:
        raise InvalidArgument(f"{name} must be an array, got {short_repr(value)}") from exc
    # An empty column holds no value of a wrong type (numpy reads ``[]`` as float64).
    if array.ndim != 1 or (array.dtype.kind not in kinds and array.size):
        want = "integers" if kinds == "iu" else "numbers"
        raise InvalidArgument(
            f"{name} must be a 1-d array of {want}, got {array.ndim}-d {array.dtype}")
    return array


def _ints(name: str, value: object, n: int, low: int, high: int,
          dtype: type[np.integer[Any]] = np.int64) -> npt.NDArray[Any]:
    """A private copy of integer column ``name`` (``n`` rows, values in [low, high]) as
    ``dtype``, or InvalidArgument. O(n), a few passes over the column without a Python
    object per value."""
    array = _array(name, value, "iu")
    if len(array) != n:
        raise InvalidArgument(f"{name} has {len(array)} rows, command has {n}")
    if n:
        least, most = int(array.min()), int(array.max())
        if least < low or most > high:
            raise out_of_range(name, least if least < low else most, low, high)
    # Not copied when it already has the engine's layout (a copy of a big column costs
    # more than the run): the compiled engine checks each value again as it reads it, so
    # another thread changing the array meanwhile fails a row, never reads out of bounds.
    return np.ascontiguousarray(array, dtype=dtype)


def out_of_range(name: str, value: int, low: int, high: int) -> InvalidArgument:
    """The error for a column value outside [low, high]. O(1)."""
    return InvalidArgument(f"{name} holds {short_repr(value)}, outside [{low}, {high}]")


def parse_columns(command: object, session: object, time: object, tables: dict[str, object],
                  columns: dict[str, object]) -> ColumnBatch:
    """Check a call's shape and return its batch, or raise InvalidArgument. O(rows + tables).

    ``tables`` maps sessions/agents/buyers/groups/kinds to the caller's
    sequences; ``columns`` maps agent/buyer/group/priority/kind to arrays or None.
    """
    codes = _array("command", command, "iu")
    n = len(codes)
    code = _ints("command", codes, n, 0, len(Command) - 1, np.int8)
    names = {key: _table(key, value) for key, value in tables.items()}
    handles = _ints("session", np.zeros(n, np.int64) if session is None else session, n,
                    0, max(len(names["sessions"]) - 1, 0))
    if n and not len(names["sessions"]) and bool((code != Command.TICK).any()):
        raise InvalidArgument("sessions is empty but rows other than TICK need a session id")
    times = _times(time, n)
    parsed: dict[str, Ints | None] = {}
    for key in _HANDLES:
        value = columns[key]
        parsed[key] = None if value is None else _ints(key, value, n, _NONE,
                                                       len(names[key + "s"]) - 1)
    value = columns["priority"]
    parsed["priority"] = (None if value is None
                          else _ints("priority", value, n, -MAX_PRIORITY, MAX_PRIORITY))
    return ColumnBatch(code, handles, times, sessions=names["sessions"], agents=names["agents"],
                       buyers=names["buyers"], groups=names["groups"], kinds=names["kinds"],
                       **parsed)


def _times(time: object, n: int) -> npt.NDArray[np.float64]:
    if time is None:
        return np.full(n, -math.inf)
    times = np.ascontiguousarray(_array("time", time, "iuf"), dtype=np.float64)
    if len(times) != n:
        raise InvalidArgument(f"time has {len(times)} rows, command has {n}")
    if n and not (math.isfinite(float(times.min())) and math.isfinite(float(times.max()))):
        raise InvalidArgument(
            f"time must be finite seconds, got {short_repr(float(times[~np.isfinite(times)][0]))}")
    if n > 1 and bool((times[1:] < times[:-1]).any()):
        row = int(np.argmax(times[1:] < times[:-1])) + 1
        raise InvalidArgument(
            f"time runs backwards at row {row}: {times[row]!r} after {times[row - 1]!r}")
    return times


def start_at(batch: ColumnBatch, now: float) -> ColumnBatch:
    """``batch`` with its times checked against the Assigner's time ``now`` (rows without a
    time run at ``now``), or InvalidArgument. O(rows)."""
    times = batch.time
    if len(times) and times[0] == -math.inf:
        return attrs.evolve(batch, time=np.full(len(times), now))
    if len(times) and times[0] < now:
        raise InvalidArgument(f"time[0] {times[0]!r} is before the Assigner's time {now!r}")
    return batch


def run_rows(engine: Any, now: float, batch: ColumnBatch) -> tuple[list[Event], float]:
    """The reference run: each row as its ``apply`` command, through the checked path.

    Returns the events and the batch's last time; the first failing row raises
    BatchAborted (its index, its command tuple, the events of the rows before it).
    O(rows) plus the commands' own costs.
    """
    events: list[Event] = []
    at = now
    for row in range(len(batch)):
        command = batch.describe(row)
        try:
            if batch.time[row] != at:  # checked again: the array may be the caller's
                at = check_at(float(batch.time[row]), at)
            run_checked(engine, batch.command_at(row), at, events)
        except Exception as exc:
            raise BatchAborted(row, command, exc, events, at) from exc
    return events, at


class Store(Protocol):
    """Where an engine keeps a batch's events: a list, or the compiled engine's rows."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int, /) -> Event: ...


class EventColumns(Sequence[Event]):
    """The events of :meth:`kefu.Assigner.apply_columns`, in order, as columns and on demand
    as event objects.

    ``len()`` is the number of events; ``columns[i]`` (or :meth:`events`)
    gives the event ``Assigner.apply`` would have returned, equal in every
    field; the compiled engine builds it only then. The numeric columns are
    numpy arrays, computed in one O(events) pass on first use: ``kind``
    (code into :data:`EVENT_TYPES`), ``session`` and ``agent`` (handles into
    the call's tables, -1 for none or a name the table does not hold),
    ``time`` and ``reason`` (code into :data:`REASONS`, -1 for none).
    """

    __slots__ = ("_batch", "_cache", "_store")

    #: The event classes in code order (``kind``).
    TYPES = EVENT_TYPES
    #: The reasons in code order (``reason``).
    REASONS = REASONS

    def __init__(self, store: Store, batch: ColumnBatch) -> None:
        self._store = store
        self._batch = batch
        self._cache: dict[str, npt.NDArray[Any]] = {}

    def __len__(self) -> int:
        return len(self._store)

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        if isinstance(index, slice):
            return [self._store[i] for i in range(*index.indices(len(self)))]
        if type(index) is not int:
            raise InvalidArgument(f"an event's index is an int, got {short_repr(index)}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"event index {short_repr(index)} out of range ({len(self)} events)")
        return self._store[index]

    def __repr__(self) -> str:
        return f"<EventColumns: {len(self)} events>"

    def events(self) -> list[Event]:
        """Every event as its object, in order (a new list). O(events)."""
        return [self._store[i] for i in range(len(self))]

    def _columns(self) -> dict[str, npt.NDArray[Any]]:
        if not self._cache:
            self._cache.update(_decode(self, self._batch))
        return self._cache

    @property
    def kind(self) -> npt.NDArray[np.int8]:
        """Each event's class as a code into :data:`EVENT_TYPES`."""
        return self._columns()["kind"]

    @property
    def session(self) -> Ints:
        """Each event's session as a handle into the call's ``sessions`` (-1: not in it)."""
        return self._columns()["session"]

    @property
    def agent(self) -> Ints:
        """The agent each event gives the session to or takes it from, as a handle into
        the call's ``agents`` (-1: none, or not in the table); a transfer or a
        reassignment gives the new agent."""
        return self._columns()["agent"]

    @property
    def time(self) -> npt.NDArray[np.float64]:
        """Each event's time (its ``at``)."""
        return self._columns()["time"]

    @property
    def reason(self) -> npt.NDArray[np.int8]:
        """Each event's reason as a code into :data:`REASONS` (-1: the event has none)."""
        return self._columns()["reason"]


def _index(table: tuple[object, ...]) -> dict[object, int]:
    """Name -> first handle of the names that are ids (exact non-empty str). O(table)."""
    index: dict[object, int] = {}
    for handle, name in enumerate(table):
        if type(name) is str and name:
            index.setdefault(name, handle)
    return index


def _decode(events: Sequence[Event], batch: ColumnBatch) -> dict[str, npt.NDArray[Any]]:
    sessions, agents = _index(batch.sessions), _index(batch.agents)
    n = len(events)
    kind = np.empty(n, np.int8)
    session = np.empty(n, np.int64)
    agent = np.empty(n, np.int64)
    time = np.empty(n, np.float64)
    reason = np.empty(n, np.int8)
    for i, event in enumerate(events):
        kind[i] = _KIND_CODE[type(event)]
        session[i] = sessions.get(event.session_id, _NONE)
        holder = getattr(event, "agent_id", None) or getattr(event, "to_agent", None)
        agent[i] = _NONE if holder is None else agents.get(holder, _NONE)
        time[i] = event.at
        reason[i] = _REASON_CODE.get(getattr(event, "reason", None), _NONE)
    return {"kind": kind, "session": session, "agent": agent, "time": time, "reason": reason}
