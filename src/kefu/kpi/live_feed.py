"""The live tracker's feed (K12): its turn-taking and the filing of a new message.

:meth:`kefu.kpi.LiveTracker.add` is called once per record, hundreds of
thousands of times a second in a backfill, so the work every record does is
kept here, apart from the tracker's other code: take the tracker's turn
(calls from other threads wait; a call from inside a call raises
NestedCall), check an exact :class:`~kefu.kpi.Message`'s fields, file it by
id in its session and mark the session changed. Everything else (another
kind of record, a message that needs rebuilding or that repeats an id) goes
to the tracker's own code, still inside the turn.

Two feeds behave the same way: :class:`Feed` here, the reference, and its
compiled twin ``kefu.kpi._live_c.Feed``, which does the same work in C
(a C lock, the fields read straight from the record's slots) and is used
when the compiled KPI kernel is active (:func:`new_feed`). The compiled
feed also files the agent events (hand-overs, releases, switches, ends)
in C, as the tracker's ``_add_other`` does (its ``file_events``). Cost: O(1) per
record; about a microsecond in Python, a fraction of that compiled.
"""

from __future__ import annotations

import _thread
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from operator import attrgetter
from typing import Any, Protocol

from kefu import _compat
from kefu.kpi import kernel
from kefu.kpi.errors import NestedCall
from kefu.kpi.intake import CLEAN_ONE
from kefu.kpi.measure import Samples
from kefu.kpi.records import Message, Sender
from kefu.kpi.timeline import INF, SENDER_RANK

__all__ = ["Feed", "Feeding", "Survey", "compiled_hooks", "compiled_live", "compiled_place",
           "compiled_take", "new_feed", "samples_class", "session_class", "survey"]

_CLEAN_MESSAGE = CLEAN_ONE[Message]
_get_ident = _thread.get_ident
_AT, _SEQ, _SENDER = attrgetter("at"), attrgetter("seq"), attrgetter("sender")
# A session's messages surveyed: its first one's place in the global order (the first
# four fields of ``timeline.message_key``), whether any has a ``seq``, and how many
# come from an unknown sender.
Survey = tuple[tuple[Any, ...], bool, int]

_COMPILED = _compat.load_compiled("kefu.kpi._live_c", "the compiled live tracker feed")


class KeptMessages(Protocol):
    """Message id -> the copy that counts, as the tracker uses it: a dict in the
    reference feed, ``kefu.kpi._live_c.MessageIds`` (a hash table in C) in the
    compiled one."""

    def get(self, key: str, /) -> Message | None: ...

    def __getitem__(self, key: str, /) -> Message: ...

    def __setitem__(self, key: str, value: Message, /) -> None: ...

    def __contains__(self, key: object, /) -> bool: ...

    def pop(self, key: str, default: None, /) -> Message | None: ...

    def values(self) -> Iterable[Message]: ...

    def __iter__(self) -> Iterator[str]: ...

    def __len__(self) -> int: ...


class Feeding(Protocol):
    """What a live tracker needs of its feed (both feeds have it)."""

    sessions: dict[str, Any]  # session id -> the tracker's session
    dirty: set[str]  # sessions changed since they were last measured
    last: float  # the latest record's time
    message_hi: float  # the latest message's time
    # An interrupted filing's journal (None: none), undone by the tracker's next call;
    # while it is there, ``add`` sends every record to the tracker's own code.
    undo: Any

    @property
    def kept(self) -> KeptMessages:
        """Message id -> the copy that counts."""
        ...

    def add(self, record: object) -> None: ...

    def file(self, m: Message) -> None: ...

    def take_dirty(self) -> set[str]:
        """``dirty`` taken: a copy returned, the set emptied (what a query measures)."""
        ...

    def survey(self, messages: list[Message]) -> Survey | None: ...

    # The turn (see :class:`Feed`): ``with turn:`` waits for another thread's call to
    # end and takes it; ``owner`` is the thread inside a call (None: no call).
    turn: AbstractContextManager[Any]
    owner: int | None


class Feed:
    """The reference feed (see the module docstring).

    ``new_session()`` makes a session (an object with a ``messages`` list);
    ``other(record)`` files anything but a clean exact Message whose id is new
    (it checks the record, and raises InvalidRecord for a bad one), and every
    record while ``undo`` holds the journal of a filing an interrupt cut short
    (the tracker undoes it first).

    The turn: a call refuses a nested call (``owner`` is this thread: NestedCall),
    then takes it in a ``with turn:`` statement, sets ``owner`` first thing in
    the block and clears it in a ``finally``. ``turn`` is the lock itself (the
    compiled feed's is in C too): it is taken as the statement begins, with no
    point between taking it and the block that gives it back where an exception
    (a signal's KeyboardInterrupt lands as a C call returns, a trace function's
    as a Python function is entered or returns) could leave the turn taken.
    One gap remains in the statement itself: a plain lock's ``__exit__`` takes
    its arguments as a tuple, so with no memory left for that tuple the
    statement raises MemoryError and the lock stays taken (every later call
    would wait for ever). A MemoryError raised after the block began that is
    not the block's own therefore came from the exit: the call releases the
    lock itself (``release`` needs no memory) and ends as its block did,
    returning if the block ran to its end and raising the block's own error
    if not. The compiled feed's turn ends in C and has no such gap.
    """

    __slots__ = ("_lock", "_new_session", "_other", "dirty", "kept", "last", "message_hi",
                 "owner", "sessions", "turn", "undo")

    def __init__(self, new_session: Callable[[], Any],
                 other: Callable[[object], None]) -> None:
        lock = self._lock = _thread.allocate_lock()  # calls from other threads wait for it
        self.turn: AbstractContextManager[Any] = lock
        self.owner: int | None = None  # the thread inside a call, if any
        self._new_session = new_session
        self._other = other
        self.kept: dict[str, Message] = {}
        self.sessions: dict[str, Any] = {}
        self.dirty: set[str] = set()
        self.last = -float("inf")
        self.message_hi = -float("inf")
        self.undo: Any = None

    def add(self, record: object) -> None:
        """Take one record, in a turn of its own (the class docstring says how). O(1)."""
        me = _get_ident()
        if self.owner == me:
            raise NestedCall("add")
        inside = False  # the lock taken (the block begun)
        failed: BaseException | None = None  # what the block raised, if anything
        try:
            with self._lock:
                inside = True
                try:  # the owner set inside: an interrupt at any bytecode clears it
                    self.owner = me
                    if (self.undo is None and type(record) is Message
                            and _CLEAN_MESSAGE(record) and record.message_id not in self.kept):
                        sid = record.session_id  # journaled, as the tracker's own filing is
                        self.undo = (record, self.last, self.message_hi, None, (
                            "message", sid, sid not in self.sessions, record.message_id, None,
                            None, 0))
                        self.file(record)
                        self.undo = None
                    else:
                        self._other(record)
                except BaseException as error:
                    failed = error
                    raise
                finally:
                    self.owner = None
        except MemoryError as error:
            if not inside or error is failed:
                raise
            self._lock.release()  # the lock's exit had no memory (the class docstring)
        if failed is not None:  # only here when the exit failed: end as the block did
            raise failed

    def file(self, m: Message) -> None:
        """File a checked message whose id is new in its session, and mark the session
        changed (``last`` and ``message_hi`` move up to its time). O(1)."""
        at = float(m.at)  # exact: a time is below 2**32
        sid = m.session_id
        s = self.sessions.get(sid)
        if s is None:  # first: its constructor is the one code here that may raise
            s = self.sessions[sid] = self._new_session()
        if at > self.last:
            self.last = at
        self.kept[m.message_id] = m
        s.messages.append(m)
        if at > self.message_hi:
            self.message_hi = at
        self.dirty.add(sid)

    def take_dirty(self) -> set[str]:
        """The sessions changed since the last call (a new set), the feed's own set left
        empty: what a query measures. O(sessions changed)."""
        taken = set(self.dirty)
        self.dirty.clear()
        return taken

    def survey(self, messages: list[Message]) -> Survey | None:
        """:func:`survey` (the compiled feed answers None for what it leaves to it)."""
        return survey(messages)


def survey(messages: list[Message]) -> Survey:
    """What a session's walk needs to know of its (checked) messages beforehand (see
    ``Survey``); the order of sessions in a walk is that of their first messages.
    Made when the session is measured, so that ``add`` does not have to. O(its
    messages), at C speed."""
    ms = messages
    if not ms:
        return (INF, ""), False, 0
    lo = min(map(_AT, ms))
    order = min([(m.at, m.seq, SENDER_RANK[m.sender], m.message_id) for m in ms if m.at == lo])
    return order, any(map(_SEQ, ms)), list(map(_SENDER, ms)).count(Sender.UNKNOWN)


def new_feed(new_session: Callable[[], Any], other: Callable[[object], None]) -> Feeding:
    """A feed for a new tracker: the compiled one while the compiled KPI kernel is
    active (and built), else the reference."""
    if kernel.ACTIVE == "c" and _COMPILED is not None:
        feed: Feeding = _COMPILED.Feed(new_session, other)
        return feed
    return Feed(new_session, other)


def session_class(reference: type) -> Callable[[], Any]:
    """The class of a new tracker's sessions: the compiled twin of ``reference`` (the
    tracker's ``_Session``), ``kefu.kpi._live_c.Session``, made by the compiled feed
    with no Python constructor and read as C fields by the compiled keeping and
    placing, while the compiled KPI kernel is active (and built); else
    ``reference``, the Python class."""
    if kernel.ACTIVE == "c" and _COMPILED is not None:
        cls: Callable[[], Any] = _COMPILED.Session
        return cls
    return reference


def compiled_place() -> Callable[[Any, str, Any], None] | None:
    """The compiled twin of the tracker's placing of a measured session
    (``LiveTracker._apply``, done by ``kefu.kpi._live_c.place`` on the tracker's
    own dicts) while the compiled KPI kernel is active (and built), else None:
    the tracker's Python code, the reference, places it."""
    if kernel.ACTIVE == "c" and _COMPILED is not None:
        place: Callable[[Any, str, Any], None] = _COMPILED.place
        return place
    return None


def compiled_take(placing: bool) -> Callable[..., None] | None:
    """The compiled twin of the tracker's keeping of what a walk found for a session
    (``LiveTracker._take``, done by ``kefu.kpi._live_c.take``) while the compiled
    KPI kernel is active (and built) and the tracker ``placing`` in C (a tracker
    placing in Python keeps in Python too), else None."""
    if placing and kernel.ACTIVE == "c" and _COMPILED is not None:
        take: Callable[..., None] = _COMPILED.take
        return take
    return None


def samples_class() -> type:
    """The class of the samples the compiled walk makes for a live session (and each of
    its agents): ``kefu.kpi._live_c.LiveSamples`` when built (one object, its columns
    made on first use), else :class:`kefu.kpi.measure.Samples`. Only the compiled
    walk makes them; the reference walk makes its own ``Samples``."""
    if _COMPILED is not None:
        cls: type = _COMPILED.LiveSamples
        return cls
    return Samples


def compiled_hooks() -> tuple[Callable[..., None], Callable[..., None]] | None:
    """The compiled twins of the live walk's unit hooks (``LiveMeasure._session_unit``
    and ``_stretch_unit``: ``kefu.kpi._live_c.session_unit`` and ``stretch_unit``)
    when built, else None. Which walk uses them is the tracker's choice
    (:func:`kefu.kpi.live_measure.measure_class`)."""
    if _COMPILED is None:
        return None
    return _COMPILED.session_unit, _COMPILED.stretch_unit


def compiled_live(name: str) -> Callable[..., Any] | None:
    """A compiled twin of one of the tracker's catch-up steps (``refold``: the flush's
    :meth:`kefu.kpi.live.LiveTracker._refold` of each changed buyer-day) while the
    compiled KPI kernel is active (and built), else None: the tracker's Python
    code, the reference, does it."""
    if kernel.ACTIVE == "c" and _COMPILED is not None:
        step: Callable[..., Any] = getattr(_COMPILED, name)
        return step
    return None
