# distutils: language = c++
"""The live tracker's feed, compiled: :class:`kefu.kpi.live_feed.Feed` in C.

Same turns, same checks, same filing as the reference (its docstring says
what and why); here the turn is a C lock tried without waiting (a thread
that has to wait gives up the GIL while it does, and runs the signal
handlers when a signal interrupts it, as ``threading``'s locks do), and a
message's fields are read straight from its slots and checked as the
reference's generated check does, exact types only: a record it does not
accept here (an ``int`` time, a ``str`` subclass, a repeated id, another
kind) goes to the tracker's own code, as in the reference. Nothing
between the check and the filing runs Python code but a new session's
constructor. O(1) per record.

:func:`take` and :func:`place` are the catch-up's other compiled steps: they keep
what a walk found for a session (its samples, contact and stretches) and
file its units, samples and buyer-day members into the tracker, as
:meth:`kefu.kpi.live.LiveTracker._take` and ``_apply`` do in Python;
:func:`retract` takes a placed session's figures back out before it is
placed again, as ``_retract`` does.
"""

cimport cython
from cpython.array cimport array, clone, extend_buffer
from cpython.tuple cimport PyTuple_GET_ITEM
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.object cimport PyObject, Py_SIZE
from libc.math cimport INFINITY, signbit
from libc.stdlib cimport free, malloc
from libcpp.algorithm cimport sort as cpp_sort
from libc.string cimport memcmp, memcpy
from cpython.pythread cimport (
    NOWAIT_LOCK,
    PY_LOCK_ACQUIRED,
    PyLockStatus,
    PyThread_acquire_lock,
    PyThread_allocate_lock,
    PyThread_free_lock,
    PyThread_get_thread_ident,
    PyThread_release_lock,
    PyThread_type_lock,
)


cdef extern from "pythread.h":
    PyLockStatus PyThread_acquire_lock_timed(PyThread_type_lock lock, long long microseconds,
                                             int intr_flag) nogil

import heapq
from types import MemberDescriptorType

from kefu.kpi.clocks import MET, MISSED, PENDING
from kefu.kpi import intake as _intake
from kefu.kpi.errors import NestedCall
from kefu.kpi.live_service import NO_DELTA, commit_counts, counts_figures
from kefu.kpi.multiset import BLOCK, Multiset
from kefu.kpi.measure import NEVER_REACHED, REACHED, STILL_WAITING, Samples
from kefu.kpi.records import MAX_TIME, MIN_TIME, Message, Sender
from kefu.kpi.results import EXCLUDED_CODE
from kefu.kpi.service import ABANDONS, WAITS, contact_of
from kefu.kpi.service import _ABANDONED, _ANSWERED
from kefu.kpi.timeline import SENDER_RANK


cdef extern from "Python.h":
    int PyObject_RichCompareBool(PyObject* a, PyObject* b, int op) except -1
    int PyObject_IsTrue(PyObject* o) except -1
    enum: Py_LT, Py_EQ
    PyObject* PyDict_GetItemWithError(object d, PyObject* key) except? NULL
    int PyDict_SetItem(object d, object key, object value) except -1
    int PySet_Add(object s, object key) except -1
    int PyList_Append(object lst, object item) except -1
    int Py_MakePendingCalls() except -1


cdef extern from "Python.h":
    int PyObject_IS_GC(PyObject* o)
    int PyObject_GC_IsTracked(PyObject* o)
    void PyObject_GC_UnTrack(void* o)


cdef inline tuple _atomic(tuple t):
    """``t``, out of the garbage collector's sight when it holds only objects that can
    be in no reference cycle (no container, or tuples already out of its sight): what
    the collector's own first pass over ``t`` would do (``_PyTuple_MaybeUntrack``),
    done as ``t`` is made, so the young passes that run before it dies or is kept
    do not visit it. A tuple never changes, so it stays safe. O(len(t))."""
    cdef Py_ssize_t k
    cdef PyObject* item
    for k in range(len(t)):
        item = PyTuple_GET_ITEM(t, k)
        if PyObject_IS_GC(item) and (type(<object>item) is not tuple
                                     or PyObject_GC_IsTracked(item)):
            return t
    PyObject_GC_UnTrack(<PyObject*>t)
    return t


cdef type _MESSAGE = Message
cdef double _MIN_TIME = MIN_TIME
cdef double _MAX_TIME = MAX_TIME
cdef PyObject* _S0 = <PyObject*>Sender.BUYER
cdef PyObject* _S1 = <PyObject*>Sender.AGENT
cdef PyObject* _S2 = <PyObject*>Sender.BOT
cdef PyObject* _S3 = <PyObject*>Sender.SYSTEM
cdef PyObject* _S4 = <PyObject*>Sender.UNKNOWN
if len(Sender) != 5:
    raise ImportError("kefu.kpi._live_c: Sender has members this feed does not know")
cdef dict _RANKS = SENDER_RANK
if [_RANKS[s] for s in (Sender.BUYER, Sender.AGENT, Sender.BOT, Sender.SYSTEM,
                        Sender.UNKNOWN)] != [0, 1, 2, 3, 4]:
    raise ImportError("kefu.kpi._live_c: the senders' order is not the one it knows")


include "_message_slots.pxi"
include "_message_ids.pxi"


cdef extern from *:
    void _prefetch "__builtin_prefetch"(const void* address) noexcept nogil

cdef extern from "Python.h":
    ctypedef struct PyListObject:
        PyObject** ob_item

cdef enum:
    _AHEAD = 8  # Feed.survey: messages asked for this many places ahead
    _NEAR = 4  # and the time and id objects of the message this many ahead


cdef inline void _prefetch_fields(PyObject* m) noexcept:
    """Ask for the time and id objects of ``m``, if an exact Message (a hint only)."""
    if <type>(<PyObject*>m).ob_type is _MESSAGE:
        _prefetch(_slot(<object>m, _AT))
        _prefetch(_slot(<object>m, _MID))


cdef inline bint _plain(PyObject* v) noexcept:
    return v != NULL and PyUnicode_CheckExact(v)


cdef bint _clean(object m) noexcept:
    """Whether exact Message ``m`` passes the reference's check on this path: exact
    ``str`` ids, a ``float`` time in range, a Sender member, an exact ``int`` seq."""
    cdef PyObject* at = _slot(m, _AT)
    cdef PyObject* sender = _slot(m, _SENDER)
    cdef PyObject* agent = _slot(m, _AGENT_ID)
    cdef PyObject* seq = _slot(m, _SEQ)
    if not (_message_reads_slots() and _plain(_slot(m, _SID)) and _plain(_slot(m, _BID)) and _plain(_slot(m, _MID))):
        return False
    if at == NULL or not PyFloat_CheckExact(at):
        return False
    cdef double t = PyFloat_AS_DOUBLE(at)
    if not (_MIN_TIME <= t < _MAX_TIME):  # NaN fails too
        return False
    if not (sender == _S0 or sender == _S1 or sender == _S2 or sender == _S3
            or sender == _S4):
        return False
    if agent == NULL or not (agent == <PyObject*>None or PyUnicode_CheckExact(agent)):
        return False
    return seq != NULL and PyLong_CheckExact(seq)


cdef int _rank(PyObject* sender) noexcept:
    """A Sender member's place in ``SENDER_RANK`` (the members in definition order)."""
    if sender == _S0:
        return 0
    if sender == _S1:
        return 1
    if sender == _S2:
        return 2
    return 3 if sender == _S3 else 4


cdef bint _placed_before(object m, object best) except -1:
    """Whether clean message ``m`` comes before ``best`` (same time) in the global
    order: by seq, then sender, then message id (exact ints and strs)."""
    cdef PyObject* a = _slot(m, _SEQ)
    cdef PyObject* b = _slot(best, _SEQ)
    if not PyObject_RichCompareBool(a, b, Py_EQ):
        return PyObject_RichCompareBool(a, b, Py_LT)
    cdef int ra = _rank(_slot(m, _SENDER)), rb = _rank(_slot(best, _SENDER))
    if ra != rb:
        return ra < rb
    return PyObject_RichCompareBool(_slot(m, _MID), _slot(best, _MID), Py_LT)


cdef enum:
    _MAX_FIELDS = 8
# intake's field kinds (``_STR, _OPT_STR, _TIME, _OPT_TIME, _INT``) an agent event has.
cdef int _STR_KIND = 0, _OPT_STR_KIND = 1, _TIME_KIND = 2, _INT_KIND = 4
if (_intake._STR, _intake._OPT_STR, _intake._TIME, _intake._INT) != (0, 1, 2, 4):
    raise ImportError("kefu.kpi._live_c: intake's field kinds are not the ones it knows")


cdef class _EventShape:
    """Where an exact agent event class keeps its fields, and how the compiled feed
    checks and files one (:meth:`Feed.file_events`). The offsets are those of the
    class's own object slots, read again whenever the class's version tag changes
    (an assignment to the class: a field replaced by a property is then seen, and
    the records go to the tracker's own code). O(1)."""

    cdef type cls
    cdef str bucket
    cdef bint routes, spans
    cdef Py_ssize_t n, sid, at
    cdef tuple names
    cdef Py_ssize_t offsets[_MAX_FIELDS]
    cdef int kinds[_MAX_FIELDS]
    cdef unsigned int tag  # the version tag the class was last found plain at

    cdef bint reads_slots(self) noexcept:
        """``_message_reads_slots`` for this class: whether its fields are still its own
        slots at the offsets taken, so they may be read straight."""
        cdef unsigned int tag = kefu_version_tag(self.cls)
        cdef Py_ssize_t k
        if tag != 0 and tag == self.tag:
            return True
        if not kefu_plain_getattr(self.cls):
            return False
        for k in range(self.n):
            if _own_slot(self.cls, <str>self.names[k]) != self.offsets[k]:
                return False
        self.tag = kefu_version_tag(self.cls)
        return True

    cdef bint clean(self, object r) noexcept:
        """Whether exact ``r`` passes intake's check on this path: exact str (or None
        where optional), a float time in range, an exact int. Runs no code of the
        record's or its values'."""
        cdef Py_ssize_t k
        cdef PyObject* v
        cdef int kind
        cdef double t
        if not self.reads_slots():
            return False
        for k in range(self.n):
            v = _slot(r, self.offsets[k])
            kind = self.kinds[k]
            if v == NULL:
                return False
            if v == <PyObject*>None:
                if kind != _OPT_STR_KIND:
                    return False
            elif kind == _STR_KIND or kind == _OPT_STR_KIND:
                if not PyUnicode_CheckExact(v):
                    return False
            elif kind == _TIME_KIND:
                if not PyFloat_CheckExact(v):
                    return False
                t = PyFloat_AS_DOUBLE(v)
                if not (_MIN_TIME <= t < _MAX_TIME):  # NaN fails too
                    return False
            elif not PyLong_CheckExact(v):  # _INT_KIND
                return False
        return True


cdef _EventShape _event_shape(type cls, str bucket, tuple plan, bint routes, bint spans):
    """An event class's shape, or None when a field is not one of its own object slots,
    of a kind this check does not know, or it has no session id and time."""
    cdef _EventShape shape = _EventShape.__new__(_EventShape)
    cdef Py_ssize_t k = 0, offset
    cdef int kind
    if len(plan) > _MAX_FIELDS or not kefu_plain_getattr(cls):
        return None
    shape.cls, shape.bucket, shape.routes, shape.spans = cls, bucket, routes, spans
    shape.sid = shape.at = -1
    names = []
    for name, kind, _members in plan:
        offset = _own_slot(cls, name)
        if offset < 0 or kind not in (_STR_KIND, _OPT_STR_KIND, _TIME_KIND, _INT_KIND):
            return None
        if name == "session_id" and kind == _STR_KIND:
            shape.sid = offset
        elif name == "at" and kind == _TIME_KIND:
            shape.at = offset
        shape.offsets[k], shape.kinds[k] = offset, kind
        names.append(name)
        k += 1
    if shape.sid < 0 or shape.at < 0:
        return None
    shape.n, shape.names = k, tuple(names)
    shape.tag = kefu_version_tag(cls)
    return shape


cdef object _NO_RECORDS = frozenset()  # a session's records of a kind it has none of
cdef object _NO_ORDER = (INFINITY, "")


cdef class Session:
    """``live._Session`` in C: one session's records and what its last measurement
    gave, the same fields with the same first values (that class's comments say what
    each holds). The compiled feed makes one with no Python ``__init__`` (a few
    hundred instructions, where the Python class's constructor took about 8,000),
    and :func:`take` and :func:`place` read and write its fields as C struct
    fields, not by attribute lookups. The tracker uses it whenever it places in
    C; the Python class stays the reference. O(1)."""

    cdef public list messages
    cdef public object handovers, releases, requests, ends
    cdef public object buyer, order, shop_units, agent_units, fate, waiting, quality
    cdef public object when, days, applied, samples, served, unanswered, dropped
    cdef public object contact, sequenced, unknown, stretches
    # Whether the feed has put it in its set of changed sessions since the set was last
    # taken (:meth:`Feed.take_dirty`): a record of a session already there adds
    # nothing to the set, and the feed then skips the set's probe (a cache miss in a
    # set of a day's sessions) for it. Set only once the add is done: when it is, the
    # session is in the set (the feed's set is emptied only by ``take_dirty``, which
    # clears it first; a session forgotten leaves with its mark).
    cdef bint marked

    def __cinit__(self):
        self.messages = []
        # Its messages' list is left out of the garbage collector's passes, as a walk's
        # list is (:func:`untrack_messages`): the feed puts only exact, checked messages
        # in it, which refer to no container, so no reference cycle passes through it,
        # and a pass that visits a young session would otherwise read every message's
        # header, each a cache miss somewhere in the day's memory (feeding 2,124,000
        # records: 0.06 s of collecting instead of 0.12). Anything put in it by hand
        # that refers back to the session is never collected, as with any untracked
        # container; it is not freed early.
        PyObject_GC_UnTrack(<PyObject*>self.messages)
        self.handovers = self.releases = self.requests = self.ends = _NO_RECORDS
        self.order = _NO_ORDER
        self.shop_units = self.agent_units = ()
        self.fate = _REACHED
        self.quality = ()
        self.when = _INF
        self.days = ()
        self.samples = self.served = self.stretches = ()
        self.unanswered = self.dropped = self.unknown = 0
        self.sequenced = False



cdef class Feed:
    """The compiled feed (see the module docstring and :class:`kefu.kpi.live_feed.Feed`)."""

    cdef PyThread_type_lock _mutex
    cdef unsigned long _owner  # the thread inside a call (valid while _inside)
    cdef bint _inside
    cdef bint _held  # whether the lock is taken (__exit__ without it is refused)
    cdef object _new_session
    cdef object _other
    cdef object _tracker  # whose agent events it files (``file_events``; None: none)
    cdef dict _events  # exact class -> its _EventShape
    cdef readonly MessageIds kept  # message id -> the copy that counts (a dict's twin)
    cdef public dict sessions
    cdef public set dirty
    cdef public double last
    cdef public double message_hi
    cdef public object undo  # an interrupted filing's journal (the reference's ``undo``)

    def __cinit__(self, new_session, other):
        self._mutex = PyThread_allocate_lock()
        if self._mutex == NULL:
            raise MemoryError("no lock for the live tracker")
        self._new_session = new_session
        self._other = other
        self.kept = MessageIds()
        self.sessions = {}
        self.dirty = set()
        self.last = -float("inf")
        self.message_hi = -float("inf")

    def __dealloc__(self):
        if self._mutex != NULL:
            PyThread_free_lock(self._mutex)

    cdef int _take(self, str method) except -1:
        """Take the turn for ``method``, waiting for another thread's call (all in C)."""
        while not self._try():
            self._wait(method)
        return 0

    cdef inline bint _try(self) noexcept:
        """Take the turn if it is free, for this thread; whether it did."""
        if not PyThread_acquire_lock(self._mutex, NOWAIT_LOCK):
            return False
        self._held = True
        self._owner = PyThread_get_thread_ident()
        self._inside = True
        return True

    cdef int _wait(self, str method) except -1:
        """The turn is taken: NestedCall for this thread's own call, else wait until it
        is free, without keeping it."""
        cdef PyLockStatus got
        if self._inside and self._owner == PyThread_get_thread_ident():
            raise NestedCall(method)
        while True:  # as threading's locks wait: a signal's handler runs, and may raise
            with nogil:
                got = PyThread_acquire_lock_timed(self._mutex, -1, 1)
            if got == PY_LOCK_ACQUIRED:
                PyThread_release_lock(self._mutex)
                return 0
            Py_MakePendingCalls()  # interrupted (PY_LOCK_INTR)

    cdef inline void _give(self) noexcept:
        self._inside = False
        self._held = False
        PyThread_release_lock(self._mutex)

    def survey(self, list messages):
        """``live_feed.survey`` of a session's messages when each is an exact Message that
        passes the same check as ``add``'s (a float time): else None, and the caller
        asks the reference. One pass, no Python code run. O(its messages)."""
        cdef double lo = INFINITY, at
        cdef object best = None
        cdef bint sequenced = False
        cdef Py_ssize_t unknown = 0, k, n = len(messages)
        # Its messages lie all over the day's memory, each with its time and id in
        # objects of their own: ask for them ahead (the items a few places on, and the
        # time and id of the nearer ones, whose objects have come meanwhile), so the
        # cache misses overlap. The loop runs no Python code: the list cannot change.
        cdef PyObject** items = (<PyListObject*>messages).ob_item
        for k in range(min(n, _AHEAD)):
            _prefetch(items[k])
        for k in range(n):
            if k + _AHEAD < n:
                _prefetch(items[k + _AHEAD])
            if k + _NEAR < n:
                _prefetch_fields(items[k + _NEAR])
            m = <object>items[k]
            if type(m) is not _MESSAGE or not _clean(m):
                return None
            at = PyFloat_AS_DOUBLE(_slot(m, _AT))
            if not sequenced and PyObject_IsTrue(_slot(m, _SEQ)):
                sequenced = True
            if _slot(m, _SENDER) == _S4:
                unknown += 1
            if at < lo or (at == lo and _placed_before(m, best)):
                lo, best = at, m
        if best is None:
            return (INFINITY, ""), False, 0
        order = _atomic((<object>_slot(best, _AT), <object>_slot(best, _SEQ),
                         _rank(_slot(best, _SENDER)), <object>_slot(best, _MID)))
        return order, sequenced, unknown

    @property
    def turn(self):
        """The turn, for a ``with`` statement (the reference's lock): entered in C as
        the statement begins, so no exception (a signal's KeyboardInterrupt, raised
        as a C call returns) lands between taking it and the block that gives it
        back. The caller refuses a nested call first (``owner``)."""
        return self

    def __enter__(self):
        """Wait for another thread's call to end and take the turn (all in C)."""
        self._take("call")
        return self

    def __exit__(self, *exc):
        """Give the turn back (RuntimeError without it, as the reference's lock: given
        twice, the C lock would let two calls in at once)."""
        if not self._held:
            raise RuntimeError("release unlocked lock")
        self._give()

    @property
    def owner(self):
        """The thread inside a call (None: no call)."""
        return self._owner if self._inside else None

    @owner.setter
    def owner(self, value):
        if value is None:
            self._inside = False
        else:
            self._owner = value
            self._inside = True

    def add(self, record):
        """Take one record, in a turn of its own. O(1)."""
        self._take("add")
        try:
            if (self.undo is None and type(record) is _MESSAGE and _clean(record)
                    and self.kept.find(_slot(record, _MID)) == NULL):
                self._file(record, PyFloat_AS_DOUBLE(_slot(record, _AT)),
                           <object>_slot(record, _MID), <object>_slot(record, _SID))
            elif not (self.undo is None and self._event(record)):
                self._other(record)
        finally:
            self._give()

    def file_events(self, tracker, dict events):
        """File the agent events (hand-overs, releases, switches, ends) of ``tracker`` in
        C from now on, as its ``_add_other`` does: ``events`` maps each exact class to
        (its session bucket's name, its intake plan: (field, kind, members) per
        field, whether it routes a session (K05's credit), whether K13's calendar
        spans it). A class with a field this check does not know is left to the
        tracker. O(classes x fields)."""
        shapes = {}
        for cls, (bucket, plan, routes, spans) in events.items():
            shape = _event_shape(cls, bucket, plan, routes, spans)
            if shape is not None:
                shapes[cls] = shape
        self._tracker = tracker
        self._events = shapes

    cdef bint _event(self, record) except -1:
        """File ``record`` if it is an exact agent event whose fields pass intake's check
        on this path (exact str ids, a float time in range, an exact int seq); whether
        it did (False: the tracker's own code takes it, as the reference feed's)."""
        if self._events is None:
            return False
        cdef type cls = type(record)
        cdef PyObject* found = PyDict_GetItemWithError(self._events, <PyObject*>cls)
        if found == NULL:
            return False
        cdef _EventShape shape = <_EventShape>found
        # The class itself, not one equal to it by its metaclass's ``__eq__``: the slots
        # are read at the class's offsets (a look-alike's may be elsewhere, or none).
        if shape.cls is not cls or not shape.clean(record):
            return False
        self._file_event(record, shape)
        return True

    cdef int _file_event(self, rec, _EventShape shape) except -1:
        """``LiveTracker._add_other`` compiled: the same filing, journaled the same way (its
        docstring says why), with one hash of the record where the reference takes
        two. Python code runs only in the record's own hash (an exact attrs class's)
        and a new session's constructor. A session that already holds records of
        the kind gets the record added first, whether it was present read from the
        set's size: an interrupt in that hash leaves the set as it was, and no
        Python code runs between the add and the journal; the rest comes after the
        journal, so an interrupt there is undone by the tracker's next call. O(1)."""
        cdef PyObject* found
        cdef Py_ssize_t held
        cdef str kind = shape.bucket
        tracker = self._tracker
        sid = <object>_slot(rec, shape.sid)
        at = <object>_slot(rec, shape.at)
        found = PyDict_GetItemWithError(self.sessions, <PyObject*>sid)
        s = None if found == NULL else <object>found
        bucket = None if s is None else getattr(s, kind)
        present = False
        books = (tracker._span_hi, tracker._repeats, tracker._route_repeats,
                 tracker._status_repeats, tracker._conflicts)
        # Both journals are made before the add: nothing is allocated between the add
        # and the journal, so a MemoryError cannot leave the record filed unjournaled.
        journal = (rec, self.last, self.message_hi, books, ("other", sid, s is None, kind,
                                                            False))
        if bucket:  # a set of its own: the record goes in now (see above)
            held = len(<set?>bucket)
            repeat = (rec, self.last, self.message_hi, books, ("other", sid, False, kind,
                                                               True))
            (<set>bucket).add(rec)
            if len(<set>bucket) == held:
                present, journal = True, repeat
        self.undo = journal
        if s is None:
            s = self._made()
            PyDict_SetItem(self.sessions, sid, s)
        if shape.routes:  # LiveRatings.touch_session: who is credited may change (K05)
            ratings = tracker._ratings
            cards = (<dict?>ratings._by_session).get(sid)
            if cards:
                (<set?>ratings._dirty).update(cards)
        if at > self.last:
            self.last = at
        if present:
            tracker._repeats += 1  # an identical record: a duplicate (data quality)
            if shape.routes:
                tracker._route_repeats += 1
        else:
            if not bucket:
                bucket = set()
                setattr(s, kind, bucket)
                (<set>bucket).add(rec)
            if shape.spans and at > tracker._span_hi:
                tracker._span_hi = at
            self._mark(s, sid)
        self.undo = None
        return 0

    cdef object _made(self):
        """A new session: the compiled :class:`Session` made in C (no ``__init__`` to
        call) when that is the tracker's class, else ``new_session()``. O(1)."""
        if self._new_session is Session:
            return Session.__new__(Session)
        return self._new_session()

    def file(self, m):
        """File a checked message whose id is new (the reference's ``file``)."""
        self._file(m, float(m.at), m.message_id, m.session_id)

    cdef int _file(self, object m, double at, object mid, object sid) except -1:
        """A message with a new id: filed in its session, marked changed."""
        cdef PyObject* found = PyDict_GetItemWithError(self.sessions, <PyObject*>sid)
        if found == NULL:  # first: its constructor is the one code here that may raise
            s = self._made()
            PyDict_SetItem(self.sessions, sid, s)
        else:
            s = <object>found
        if at > self.last:
            self.last = at
        self.kept.put(mid, m)
        if isinstance(s, Session):  # its list read as a C field: no attribute lookup
            PyList_Append((<Session>s).messages, m)
        else:
            PyList_Append(s.messages, m)
        if at > self.message_hi:
            self.message_hi = at
        self._mark(s, sid)
        return 0

    cdef inline int _mark(self, s, sid) except -1:
        """Session ``s`` (of id ``sid``) marked changed: put in the set, unless its mark
        says it is there already (:attr:`Session.marked`). O(1)."""
        if not isinstance(s, Session):
            PySet_Add(self.dirty, sid)
        elif not (<Session>s).marked:
            PySet_Add(self.dirty, sid)
            (<Session>s).marked = True
        return 0

    def take_dirty(self):
        """The sessions changed since the last call (a new set), the feed's own set left
        empty: what a query measures. Each session's mark is cleared first, so
        that an error part-way (no memory for the copy) leaves sessions in the set
        unmarked, never one marked and out of it (its records would then not put
        it back). O(sessions changed)."""
        cdef PyObject* found
        cdef dict sessions = self.sessions
        for sid in self.dirty:
            found = PyDict_GetItemWithError(sessions, <PyObject*>sid)
            if found != NULL and isinstance(<object>found, Session):
                (<Session>found).marked = False
        taken = set(self.dirty)
        self.dirty.clear()
        return taken


def untrack_messages(list messages):
    """Keep the garbage collector from visiting ``messages`` (a walk's list of its
    sessions' messages) when every item is an exact Message: a message refers to no
    container (its fields are str, float, int, a Sender or None), so no reference
    cycle can pass through the list, and the young passes that run while a walk
    lives (several a walk: it makes many tuples) would each visit every message in
    it. Returns whether it did (a list holding anything else is left as it is).
    O(len(messages)) C steps, once."""
    cdef Py_ssize_t k
    for k in range(len(messages)):
        if type(messages[k]) is not _MESSAGE:
            return False
    PyObject_GC_UnTrack(<PyObject*>messages)
    return True


# The tracker's placing of a measured session (LiveTracker._apply's twin) -------------

cdef object _EXCLUDED_CODE = EXCLUDED_CODE
cdef object _REACHED = REACHED
cdef object _NOT_STASHED = object()  # _place: a session with no samples stashed
cdef object _heappush = heapq.heappush
cdef object _STILL_WAITING = STILL_WAITING
cdef object _NEVER_REACHED = NEVER_REACHED


cdef inline object _fate(tl, Py_ssize_t j):
    """``measure.fate_of(tl, j)``: reached, still waiting or ended first (K02)."""
    if tl.reached[j] != INFINITY:
        return _REACHED
    return _STILL_WAITING if tl.ended[j] == INFINITY else _NEVER_REACHED
cdef object _contact_of = contact_of


# A measured unit (``live_measure.LiveUnit``): (clock, status code, openness, day, group,
# agent, exclusion reason, buyer).


cdef inline double _open_until(tuple u, double last, double threshold) except? -1.0:
    """live_measure.unit_open_until: from when a unit may become fixed (INFINITY: it is
    fixed)."""
    cdef double start = u[0]
    if start > last:
        return start
    if u[2] and not last - start > threshold:
        return start + threshold
    return INFINITY


cdef inline tuple _unit(object u):
    """A session's measured unit read as a tuple of its eight fields, checked: a unit set
    by hand to anything else (not a tuple, or a shorter one) is refused with a
    TypeError, never read past its end. O(1)."""
    if not isinstance(u, tuple) or len(<tuple>u) < 8:
        raise TypeError(f"a measured unit is a tuple of eight fields, got {u!r}")
    return <tuple>u


cdef inline tuple _fixed_key(tuple u):
    """live_measure.fixed_key: a fixed unit's count key."""
    return _atomic((u[3], u[4], u[5], u[1], False, u[6], None))


@cython.final
cdef class _Books:
    """The tracker's books a placing writes to, read off the tracker once per call of
    :func:`place`, :func:`take`, :func:`take_all` (a walk of a few dozen sessions),
    :func:`retract` or :func:`settle`
    and held as C fields: the per-session work then reads each as a field, not by an
    attribute lookup on the tracker (about twenty a session, a few hundred
    instructions each). Typed as the tracker's own books are (TypeError if one is
    not), and only read: every change goes into the tracker's own dicts, sets and
    lists, so nothing is written back. The tracker replaces none of them while a
    walk is placed (its flush makes new ones between walks only). O(1) to make."""

    cdef object tracker
    cdef double last, threshold
    cdef bint python_place  # the tracker places in Python (``_place`` None)
    cdef tuple tables
    cdef dict agent_counts, by_buyer, held_by, sample_keys, later, volatile, waiting
    cdef dict members, delta, served, out
    cdef set agents_changed, future, unfolded
    cdef list timers, quality
    cdef object service
    # The service's own fields when its parts are :class:`Counts` (``parts`` None: it
    # counts with its own code, the reference).
    cdef dict parts
    cdef set changed
    cdef object answer_within, short_abandon
    # While a walk's sessions are taken back and placed again (:func:`take_all`,
    # :func:`settle`): what each taken back had counted and its K08 samples, by session,
    # until it is placed again (:func:`_place` then changes only what differs: most
    # sessions measured again after a new message count the same, and keep every
    # sample but the new one). None outside them: taken back at once.
    cdef dict stashed_counts, stashed_samples


cdef _Books _books_of(tracker):
    """The books of ``tracker`` (see :class:`_Books`)."""
    cdef _Books b = _Books.__new__(_Books)
    b.tracker = tracker
    b.last = tracker._feed.last
    b.threshold = tracker._opts.threshold
    b.python_place = tracker._place is None
    b.tables = tracker._tables
    b.agent_counts = tracker._agent_counts
    b.agents_changed = tracker._agents_changed
    b.by_buyer = tracker._by_buyer
    b.held_by = tracker._held_by
    b.sample_keys = tracker._sample_keys
    b.future = tracker._future
    b.later = tracker._later
    b.volatile = tracker._volatile
    b.timers = tracker._timers
    b.waiting = tracker._waiting
    b.quality = tracker._quality
    b.members = tracker._members
    b.unfolded = tracker._unfolded
    b.delta = tracker._delta
    b.served = tracker._served
    b.out = tracker._out
    service = b.service = tracker._service
    if service._new_part is Counts:
        b.parts = service._parts
        b.changed = service._changed
        b.answer_within = service._answer_within
        b.short_abandon = service._short_abandon
    return b


def place(tracker, str sid, Session s not None):
    """:meth:`kefu.kpi.live.LiveTracker._apply` compiled: the same work in the same
    order (its docstring and the module's say what and why), on the tracker's
    own dicts and lists: count a measured session's fixed units, register its
    volatile ones, add its K08 samples and K13 contact, file its buyer-day
    members. O(units + samples of the session)."""
    _place(_books_of(tracker), sid, s)


cdef int _place(_Books b, str sid, Session s) except -1:
    """:func:`place`, called from C (:func:`take`'s) with no Python call per session, on
    the books ``b`` of the tracker."""
    cdef double last = b.last
    cdef double threshold = b.threshold
    cdef double when = INFINITY, f_open, a_open
    cdef bint future = False
    cdef list applied = [], vol_shop = [], vol_agents = []
    cdef tuple tables = b.tables
    cdef tuple units = s.shop_units
    cdef dict agent_counts = b.agent_counts, members, mine
    cdef list days = []  # its buyer-days, each once, in order (a session has one or two)
    cdef set agents_changed = b.agents_changed
    cdef Py_ssize_t k, n = len(units)
    fate = s.fate
    cdef bint unreached = fate != _REACHED
    if n % 2:  # pairs of (FIRST, ANY) units; the reference's strict zip refuses an odd tuple
        raise ValueError(f"a session's shop units come in pairs, got {n}")
    for k in range(0, n, 2):
        f, a = _unit(units[k]), _unit(units[k + 1])
        f_open = _open_until(f, last, threshold)
        a_open = _open_until(a, last, threshold)
        if f_open != INFINITY or a_open != INFINITY:
            vol_shop.append((f, a, fate))
            when = min(when, f_open, a_open)
            future = future or <double>f[0] > last or <double>a[0] > last
            continue
        for basis in range(2):  # appended one by one: no pair tuple made
            key = _fixed_key(f if basis == 0 else a)
            applied.append(basis)  # SESSION_COUNTS + basis
            applied.append(key)
            if key[3] != _EXCLUDED_CODE and unreached:
                applied.append(2 + basis)  # SESSION_FATES + basis
                applied.append(fate)
    for value in s.agent_units:
        u = _unit(value)
        f_open = _open_until(u, last, threshold)
        if f_open != INFINITY:
            vol_agents.append(u)
            when = min(when, f_open)
            future = future or <double>u[0] > last
            continue
        agent = u[5]
        if agent is not None:
            if agent not in agent_counts:
                agent_counts[agent] = {}
            applied.append(agent)
            applied.append(_fixed_key(u))
            agents_changed.add(agent)
    s.applied = flat = _atomic(tuple(applied))
    stashed = None if b.stashed_counts is None else b.stashed_counts.pop(sid, None)
    if stashed is None:
        _bump_all(tables, agent_counts, flat, 1)
    elif stashed != flat:  # (equal: the counts it took back are the ones it adds)
        _bump_all(tables, agent_counts, <tuple>stashed, -1)
        _bump_all(tables, agent_counts, flat, 1)
    stashed = _NOT_STASHED if b.stashed_samples is None else b.stashed_samples.pop(
        sid, _NOT_STASHED)
    if future:
        b.future.add(sid)
        if stashed is not _NOT_STASHED:
            _values_into(b, stashed, 1)
    elif stashed is _NOT_STASHED:
        _add_samples(b, s, False)
    else:
        _change_values(b, stashed, s.samples)
        _add_counts(b, s, 1)
    contact = s.contact
    if contact is not None:
        if type(contact) is not tuple or len(<tuple>contact) != 9:  # set by hand
            raise TypeError(f"a K13 contact is a tuple of nine fields, got {contact!r}")
        c = (<tuple>contact)[8]
        if c > b.last:
            b.later[sid] = contact
            when = min(when, <double>c)
        else:
            _count_in(b, sid, contact)
    if vol_shop or vol_agents:
        b.volatile[sid] = (vol_shop, vol_agents)
    s.when = _INF if when == INFINITY else when  # (most: one float shared)
    if when != INFINITY:
        _heappush(b.timers, (when, sid))
    buyer, waiting = s.buyer, s.waiting
    if waiting is not None and buyer is not None:
        b.waiting[sid] = (buyer, waiting)
    _add_quality(b.quality, s.quality, False)
    members = b.members
    order = s.order
    for k in range(0, n, 2):
        f, a = <tuple>units[k], <tuple>units[k + 1]
        day = (f[7], f[3])
        if day not in days:
            days.append(day)
        found = members.get(day)
        if found is None:
            mine = members[day] = {}
        else:
            mine = found
        mine[sid] = _atomic((_atomic(order), sid, f[0], f[4], f[1], f[2], a[0], a[1], a[2],
                             fate))
    s.days = tuple(days)
    for day in days:  # the tracker's ``_unfolded.update(days)``, with no method call
        b.unfolded.add(day)
    if when == INFINITY:  # nothing left to place again but by a new measure
        s.shop_units = s.agent_units = ()
    return 0


cdef int _count_in(_Books b, str sid, contact) except -1:
    """``LiveTracker._count_in``: count a placed session's K13 contact, unless it is the
    one it had when it was taken back in this flush (``_out``: still counted)."""
    old = b.out.pop(sid, None)
    if old == contact:
        return 0
    if b.parts is None:  # a service of the reference's parts: its own count
        if old is not None:
            b.service.count(old, -1)
        b.service.count(contact, 1)
        return 0
    if old is not None:
        _count(b.parts, b.changed, b.answer_within, b.short_abandon, old, -1)
    _count(b.parts, b.changed, b.answer_within, b.short_abandon, contact, 1)
    return 0


cdef int _bump_all(tuple tables, dict agent_counts, tuple flat, long n) except -1:
    """``LiveTracker._bump_all``: ``n`` added to each count a flat tuple of Bumps names
    (where, key, where, key, ...: a table of ``tables`` by index, or an agent's
    counts), each dropped at zero. A tuple of odd length (set by hand) is refused
    with a ValueError, as the reference's strict pairing refuses it, before any
    count changes and with nothing read past its end; a count table that is not a
    dict, with a TypeError. O(len(flat))."""
    cdef Py_ssize_t k
    _check_pairs(flat)
    for k in range(0, len(flat), 2):
        where = flat[k]
        counts = tables[where] if type(where) is int else agent_counts[where]
        if not isinstance(counts, dict):
            raise TypeError(f"a count table is a dict, got {type(counts).__name__}")
        _bump_n(<dict>counts, flat[k + 1], n)
    return 0


cdef inline int _check_pairs(tuple flat) except -1:
    """A flat tuple of Bumps of odd length (set by hand) refused with a ValueError, as the
    reference's strict pairing refuses it."""
    if len(flat) % 2:
        raise ValueError(f"a session's or buyer-day's counts come in pairs, got {len(flat)}")
    return 0


@cython.boundscheck(True)  # the user's values are added: their code may shrink the list
cdef int _add_quality(list summed, object quality, bint out) except -1:
    """A session's data quality (a tuple of counts, the fields of ``DataQuality``) added
    to the tracker's sums (``out``: taken back), as ``_apply`` and ``_retract`` do.
    Anything but a tuple no longer than the sums (set by hand) is refused with a
    TypeError before any sum changes. A quality of zeros is added as ``_apply``
    adds it: not at all. O(fields)."""
    cdef Py_ssize_t k
    if type(quality) is not tuple or len(<tuple>quality) > len(summed):
        raise TypeError(f"a session's data quality is a tuple of at most {len(summed)}"
                        f" counts, got {type(quality).__name__}")
    cdef tuple q = <tuple>quality
    if not out and not any(q):
        return 0
    for k in range(len(q)):
        if out:
            summed[k] -= q[k]
        else:
            summed[k] += q[k]
    return 0


def retract(tracker, str sid, Session s not None):
    """:meth:`kefu.kpi.live.LiveTracker._retract` compiled (or the tracker's own when it
    places in Python: its ``_place`` None): take a placed session's figures back out
    of the tracker's books before it is measured or settled again. O(units +
    samples + buyer-days of the session)."""
    _take_back(_books_of(tracker), sid, s)


def settle(tracker, list sids):
    """The placing again of :meth:`kefu.kpi.live.LiveTracker._settle` compiled: each
    session of ``sids``, in order, taken back (:func:`retract`) and placed again
    (:func:`place`), on books read once for them all, which keep what each had
    until it is placed again (see :class:`_Books`: a settling's counts change, its
    samples do not). O(units + samples of those sessions)."""
    cdef _Books b = _books_of(tracker)
    cdef dict sessions = tracker._sessions
    b.stashed_counts, b.stashed_samples = {}, {}
    try:
        for sid in sids:
            s = sessions[sid]
            if not isinstance(s, Session):
                raise TypeError(f"settle: a compiled Session per session, got {type(s)!r}")
            _take_back(b, sid, <Session>s)
            if b.python_place:
                tracker._apply(sid, s)
            else:
                _place(b, sid, <Session>s)
    finally:
        _unstash(b)


cdef int _take_back(_Books b, str sid, Session s) except -1:
    """A session taken back: by :func:`_retract`, or by the tracker's own ``_retract``
    when it places in Python (the two go together)."""
    if b.python_place:
        b.tracker._retract(sid, s)
    else:
        _retract(b, sid, s)
    return 0


cdef int _retract(_Books b, str sid, Session s) except -1:
    """``LiveTracker._retract``: undo :func:`_place` (before measuring or settling the
    session again), the same books changed in the same order: its fixed counts
    taken back, its agents marked changed, its K08 samples taken back (the removed
    side of each delta) or its clock still to come forgotten, its K13 contact
    counted out at the flush's end unless placed again, its volatile units, wait,
    data quality and buyer-day members removed. A session never placed (``applied``
    None) is left as it is. What a user may have set by hand is checked before it
    is read as a tuple: ``applied`` not a tuple is a TypeError, of odd length a
    ValueError (the reference's), both before anything changes; a unit not a tuple
    of eight fields, a count table or a day's members not a dict, ``quality`` not a
    tuple no longer than the sums, a TypeError. An error part-way is an error of
    the tracker's call, which then measures the day again, whole.

    Inside :func:`take_all` and :func:`settle` (books that stash: see
    :class:`_Books`), its fixed counts and K08 samples are kept, not taken back, and
    :func:`_place` changes only what differs when it places the session again (or
    the walk's end takes them back, if it never does): the same books once the
    walk is over, less work. O(units + samples + buyer-days of the session)."""
    applied = s.applied
    if applied is None:
        return 0
    if type(applied) is not tuple:
        raise TypeError(f"a session's placed counts are a flat tuple, got"
                        f" {type(applied).__name__}")
    cdef tuple flat = <tuple>applied
    cdef Py_ssize_t k
    cdef set changed = b.agents_changed
    cdef dict all_members = b.members, members
    if b.stashed_counts is None:
        _bump_all(b.tables, b.agent_counts, flat, -1)
    else:
        _check_pairs(flat)  # refused before anything changes, as _bump_all refuses it
        b.stashed_counts[sid] = flat  # taken back as it is placed again (_place)
    # The agents of its units: the fixed ones' counts name them, the volatile ones'
    # units are still held.
    for k in range(0, len(flat), 2):
        where = flat[k]
        if type(where) is str:
            changed.add(where)
    for value in s.agent_units:
        agent = _unit(value)[5]
        if agent is not None:
            changed.add(agent)
    s.applied = None
    if sid in b.future:
        b.future.discard(sid)
    elif b.stashed_samples is None:
        _add_samples(b, s, True)
    else:
        b.stashed_samples[sid] = s.samples  # taken back as it is placed again (_place)
        _add_counts(b, s, -1)
    contact = s.contact
    if contact is not None and b.later.pop(sid, None) is None:
        b.out[sid] = contact  # counted out at the flush's end unless placed again
    b.volatile.pop(sid, None)
    b.waiting.pop(sid, None)
    _add_quality(b.quality, s.quality, True)
    for day in s.days:  # its members removed; the day to be folded again
        members = all_members[day]
        del members[sid]
        if not members:
            del all_members[day]
        b.unfolded.add(day)
    s.days = ()
    return 0


cdef object _ANSWERED_CODE = _ANSWERED
cdef tuple _NO_DELTA = NO_DELTA
cdef object _ABANDONED_CODE = _ABANDONED
if (WAITS, ABANDONS) != (0, 1):
    raise ImportError("kefu.kpi._live_c: service.tally's bags are not the ones it knows")


cdef Py_ssize_t _LAZY_HELD = BLOCK  # values a LazyMultiset keeps before it is made


cdef inline Py_ssize_t _doubles_len(object side):
    """How many values ``side`` holds if it is an ``array('d')`` (the exact type:
    reading it runs no code of the caller's), else -1. Only arrays: their
    values are floats, where a list may hold an int equal to a float (a
    service key's wait between two int times), and the reference's Counter
    keeps, of equal values, the first it meets, so netting such a list's
    neighbours would change which a figure is. O(1)."""
    if type(side) is array and (<array>side).ob_descr.typecode == b'd':
        return Py_SIZE(side)
    return -1


cdef int _read_doubles(object side, Py_ssize_t n, double* out) except -1:
    """Copy the ``n`` values of ``side`` (an array :func:`_doubles_len` accepts, of
    that length) to ``out``; 1, or 0 if one is -0.0 (equal to 0.0: the
    reference's Counter keeps whichever came first) or a NaN (equal to nothing,
    but the reference's Counter and list equality pair a NaN object with
    itself): such a change is handed to the reference as it is. O(n)."""
    cdef Py_ssize_t i
    cdef double x
    memcpy(out, (<array>side).data.as_doubles, <size_t>n * sizeof(double))
    for i in range(n):
        x = out[i]
        if x != x or (x == 0.0 and signbit(x)):
            return 0
    return 1


cdef inline array _doubles(const double* values, Py_ssize_t n):
    """A new ``array('d')`` of ``n`` values. O(n)."""
    cdef array out = clone(_NO_DOUBLES, n, False)
    memcpy(out.data.as_doubles, values, <size_t>n * sizeof(double))
    return out


cdef object _netted(object adds, Py_ssize_t na, object removes, Py_ssize_t nr):
    """A change (``adds`` and ``removes``, ``na`` and ``nr`` values, both sides ones
    :func:`_doubles_len` accepts) with the values present on both sides taken out
    of both, as a pair of arrays; ``()`` when nothing is left (the values given
    back are the values taken: exactly when the reference says nothing changed,
    as neither side has a NaN); None to hand the change over as it is (nothing in
    common, or a value :func:`_read_doubles` refuses).

    The reference's settling nets, with a Counter, every value added out of the
    values removed that it has pending, each change's own in common too; two
    equal floats that are neither -0.0 nor NaN are the same bits, so the values
    it ends with are the same. Both sides are read as doubles, sorted (std::sort)
    and paired in one pass. O((na + nr) log(na + nr)), in C."""
    cdef double* buf = <double*>malloc(<size_t>(na + nr) * sizeof(double))
    cdef double* a = buf
    cdef double* r = buf + na
    cdef Py_ssize_t i = 0, j = 0, ka = 0, kr = 0
    cdef double x, y
    if buf is NULL:
        raise MemoryError()
    try:
        if not _read_doubles(adds, na, a) or not _read_doubles(removes, nr, r):
            return None
        cpp_sort(a, a + na)  # no NaN: a total order
        cpp_sort(r, r + nr)
        while i < na and j < nr:  # the net values, packed at each side's front
            x = a[i]
            y = r[j]
            if x < y:
                a[ka] = x
                ka += 1
                i += 1
            elif y < x:
                r[kr] = y
                kr += 1
                j += 1
            else:
                i += 1
                j += 1
        if ka == i and kr == j:  # nothing in common
            return None
        if ka == 0 and kr == 0 and i == na and j == nr:
            return ()
        while i < na:
            a[ka] = a[i]
            ka += 1
            i += 1
        while j < nr:
            r[kr] = r[j]
            kr += 1
            j += 1
        return _doubles(a, ka), _doubles(r, kr)
    finally:
        free(buf)


@cython.final
cdef class LazyMultiset:
    """A :class:`kefu.kpi.multiset.Multiset` made when first needed: the tracker's bulk
    changes (:meth:`change`, what its catch-ups commit) are kept as they come and
    handed, in the same order, to the reference multiset when something else is
    asked of it (its figures, its values, any other attribute) or once they hold
    more than a block of values (so one nobody reads does not grow with its
    changes). Its answers are then the reference's own, made by the same calls.
    Why: a backfill's catch-up makes a multiset per agent and kind (and per K13
    breakdown key), most never read before the next changes, and the Python
    class's making and first change cost a few thousand instructions each; this
    one's, a few hundred.

    Each change of arrays of doubles (the response-time samples; a service key's
    lists of waits are handed over as they are) is netted in C first
    (:func:`_netted`): a session measured again mostly gives back the values it
    takes, and the reference then keeps, and settles, only what changed, less often
    (what waits grows more slowly). The values and figures are the reference's. Two
    things may come at another call than a reference fed the changes as they are
    would give them: the ValueError for a value removed and not present, raised when
    the reference settles (the same reads raise it, but the reference may also raise
    it inside a change it settles in; and, with more than one value missing, it may
    name another of them: the netted sides are handed over sorted, and the reference
    names the first missing in the order its Counter met them, which also depends on
    when it settles); and, once a -0.0 is handed over, which of its zeros are -0.0
    (equal values all the same: the reference's Counter keeps, of equal zeros, the
    sign of the first it meets in a settling, which depends on when it settles; so
    too, handed changes by hand that mix arrays and lists, of an int equal to a
    float). Neither reaches a tracker fed records: it removes only the values it
    added, and its samples are floats and never -0.0. O((a + r) log(a + r)) per
    change of a adds and r removes; the making, what the reference's changes
    cost."""

    cdef object _made  # the reference multiset, once made (None: not yet)
    cdef list _changes  # (adds, removes) handed over before it is made, in order
    cdef Py_ssize_t _held  # values in them

    def __cinit__(self):
        self._changes = []

    cpdef object made(self):
        """The reference multiset, with every change handed over so far in it (made on
        the first call). An error part-way (MemoryError, an interrupt) leaves the
        changes kept, to be handed to a new one at the next call. O(changes)."""
        if self._made is None:
            ms = Multiset()
            for adds, removes in self._changes:
                ms.change(adds, removes)
            self._made = ms
            self._changes = None
        return self._made

    def change(self, adds, removes):
        """:meth:`kefu.kpi.multiset.Multiset.change`: the same answer (whether the values
        changed), the same values once made. Arrays of doubles (the tracker's
        response-time samples) are netted in C (:func:`_netted`); anything else
        (a service key's lists of waits) is handed over as it is. Kept until
        made."""
        cdef Py_ssize_t na = _doubles_len(adds), nr = _doubles_len(removes)
        netted = _netted(adds, na, removes, nr) if na > 0 and nr > 0 else None
        if netted is not None:
            if not netted:
                return False
            adds, removes = netted  # no value in common: a change
        elif self._made is None:
            if adds and removes:  # the reference's cases of no change, in its order
                if len(adds) == len(removes) and sorted(adds) == sorted(removes):
                    return False
            elif not adds and not removes:
                return False
        if self._made is not None:
            return self._made.change(adds, removes)
        self._changes.append((adds or (), removes or ()))
        self._held += len(adds) + len(removes)
        if self._held > _LAZY_HELD:
            self.made()
        return True

    def durations(self):
        """:meth:`kefu.kpi.multiset.Multiset.durations` of the values."""
        return self.made().durations()

    @property
    def is_made(self):
        """Whether the reference multiset has been made."""
        return self._made is not None

    def __getattr__(self, name):
        """Anything else of the reference multiset (its count, values, methods)."""
        return getattr(self.made(), name)


cdef class Counts:
    """``live_service._Counts`` in C, the breakdown keys' counts of a tracker placing in
    C: the same fields (:func:`count` reads and writes them as C fields, not by
    attribute lookups) and the same methods (the reference's own functions). O(1)."""

    cdef public Py_ssize_t contacts
    cdef public list counts
    cdef public dict excluded_by
    cdef public object built
    cdef public tuple delta
    cdef object _waits, _abandons  # made on first use (None: not yet)

    def __cinit__(self):
        self.contacts = 0
        self.counts = [0] * 7
        self.excluded_by = {}
        self.delta = _NO_DELTA
        self.built = None

    @property
    def waits(self):
        """Its queue waits' multiset, made when first asked for: a key whose contacts
        are never reported has none (a tracker holds a key per agent, hour and group:
        two multisets less each for the garbage collector to visit)."""
        if self._waits is None:
            self._waits = LazyMultiset.__new__(LazyMultiset)
        return self._waits

    @property
    def abandons(self):
        """Its times to abandon's multiset, made when first asked for (most keys never
        have an abandon)."""
        if self._abandons is None:
            self._abandons = LazyMultiset.__new__(LazyMultiset)
        return self._abandons

    def commit(self):
        """``live_service._Counts.commit``."""
        commit_counts(self)

    def figures(self):
        """``live_service._Counts.figures``."""
        return counts_figures(self)


cpdef int count(service, tuple contact, long n) except -1:
    """:meth:`kefu.kpi.live_service.LiveService.count` compiled: the same counts, in the
    same order, on the service's own parts (its docstring says what). The contact's
    ``tally`` is worked out once and added to each of its (up to five) breakdowns,
    with no Python frame per breakdown. A service whose parts are not
    :class:`Counts` is counted by the reference. O(1)."""
    if service._new_part is not Counts:
        service.count(contact, n)
        return 0
    return _count(service._parts, service._changed, service._answer_within,
                  service._short_abandon, contact, n)


cdef tuple _SHOP_PART = ("shop", None)


cdef int _count(dict parts, set changed, answer_within, short_abandon, tuple contact,
                long n) except -1:
    """:func:`count` on a service's fields (its parts, its changed keys, its
    ``answer_within`` and ``short_abandon``), read once per walk by the placing
    (:class:`_Books`). A key goes into ``changed`` with its first duration since
    the last commit (its delta still the shared empty one): every later duration
    finds it there already (a commit empties both), so its key is not hashed
    again for the set. O(1)."""
    day, hour, group, agent, code, wait, moved, reason, _c = contact
    cdef Counts acc
    # service.tally's effect, once: which count moves, and where the duration goes.
    cdef Py_ssize_t first = 6, second = -1, bag = -1
    cdef long moves = 0
    if reason is None:
        if code == _ANSWERED_CODE:
            first, bag, moves = 0, 0, moved
            if wait <= answer_within:
                second = 1
        elif code == _ABANDONED_CODE:
            first, bag = 2, 2
            if wait < short_abandon:
                second = 3
        else:
            first = 4
    if bag >= 0 and n < 0:
        bag += 1
    keys = (_SHOP_PART, ("day", day), ("hour", (day, hour)), ("group", group),
            ("agent", agent))
    cdef Py_ssize_t k, last = 5 if agent is not None else 4
    cdef list cnt
    cdef dict by
    for k in range(last):
        part = keys[k]
        found = parts.get(part)
        if found is None:
            acc = Counts.__new__(Counts)
            parts[part] = acc
        else:
            acc = <Counts?>found
        acc.built = None
        cnt = acc.counts
        cnt[first] += n
        if second >= 0:
            cnt[second] += n
        if moves:
            cnt[5] += n * moves
        if reason is not None:
            by = acc.excluded_by
            left = by.get(reason, 0) + n
            if left:
                by[reason] = left
            else:
                del by[reason]
        elif bag >= 0:
            delta = acc.delta
            if delta is _NO_DELTA:  # its first duration since the last commit
                delta = acc.delta = ([], [], [], [])
                changed.add(part)
            elif delta is None or len(<tuple>delta) != 4:  # set by hand: no read past it
                raise TypeError(f"a breakdown key's delta is four lists, got {delta!r}")
            (<list?>(<tuple>delta)[bag]).append(wait)
        acc.contacts += n
        if not acc.contacts:
            del parts[part]
    return 0


cdef int _add_samples(_Books b, Session s, bint out) except -1:
    """``LiveTracker._add_samples(s, 1)`` (``out``: ``(s, -1)``): a session's K08 samples
    into the uncommitted delta, on its added side (``out``: its removed side; their
    bytes copied onto the array: no float object), its agents and counts added or
    taken back (:func:`_add_counts`)."""
    _values_into(b, s.samples, 1 if out else 0)
    _add_counts(b, s, -1 if out else 1)
    return 0


cdef array _delta_side(dict deltas, key, Py_ssize_t side):
    """The array of ``key``'s uncommitted delta a sample goes to: its added (0) or
    removed (1) side, the pair made on the key's first change since the last
    commit."""
    found = deltas.get(key)
    if found is None:
        found = deltas[key] = (_new_doubles(), _new_doubles())
    if type(found) is not tuple or len(<tuple>found) != 2:  # set by hand: no read past it
        raise TypeError(f"a K08 delta is a pair of arrays, got {found!r}")
    into = (<tuple>found)[side]
    if not isinstance(into, array):
        raise TypeError(f"a K08 delta's array, got {into!r}")
    return <array>into


cdef int _values_into(_Books b, samples, Py_ssize_t side) except -1:
    """Each multiset's values of a session's K08 samples (its ``samples``: pairs of a
    multiset key and the bytes of its values) onto the ``side`` of the key's
    delta."""
    cdef dict deltas = b.delta
    for key, values in samples:
        _extend(_delta_side(deltas, key, side), _sample_bytes(values), 0)
    return 0


cdef int _change_values(_Books b, old, new) except -1:
    """A session's K08 samples placed again: from ``old`` (what it had when taken back)
    to ``new``, only what differs into the delta. A multiset whose values are
    the same gets nothing; one whose values grew at their end (a session's new
    reply: its walk gives each multiset's values in the order of its clocks),
    only the new ones added; any other, its old values taken back and its new
    ones added, as a taking back and placing again would. The multisets end
    with the same values either way (they net what is added and taken back), and
    a multiset's figures are built again when its values changed, so the
    figures are the same: less is copied, netted and handed over. Both are
    checked as :func:`_values_into` checks them. O(samples of the session),
    O(multisets**2) to pair them (a session has four per owner: the shop and
    each agent who replied)."""
    if old is new:  # placed again unmeasured (a settling): its very samples
        return 0
    if type(old) is not tuple or type(new) is not tuple:
        raise TypeError(f"a session's samples are a tuple, got {type(old).__name__},"
                        f" {type(new).__name__}")
    cdef tuple before = <tuple>old, after = <tuple>new
    if before == after:
        return 0
    cdef dict deltas = b.delta
    cdef Py_ssize_t k, i, n_old = len(before), n_new = len(after), size
    cdef list matched = [False] * n_old
    cdef bytes values, was
    for k in range(n_new):
        key, value = after[k]
        values = _sample_bytes(value)
        i = -1
        if k < n_old and _pair_key(before[k]) is key:  # the common case: in its place
            i = k
        else:
            for i in range(n_old):
                if not matched[i] and _pair_key(before[i]) == key:
                    break
            else:
                i = -1
        if i < 0:
            _extend(_delta_side(deltas, key, 0), values, 0)
            continue
        matched[i] = True
        was = _sample_bytes((<tuple>before[i])[1])
        if was == values:
            continue
        size = PyBytes_GET_SIZE(was)
        if (PyBytes_GET_SIZE(values) > size and size % <Py_ssize_t>sizeof(double) == 0
                and memcmp(PyBytes_AS_STRING(values), PyBytes_AS_STRING(was), size) == 0):
            _extend(_delta_side(deltas, key, 0), values, size)  # only the new values
        else:
            _extend(_delta_side(deltas, key, 1), was, 0)
            _extend(_delta_side(deltas, key, 0), values, 0)
    for i in range(n_old):
        if not matched[i]:
            key, value = before[i]
            _extend(_delta_side(deltas, key, 1), _sample_bytes(value), 0)
    return 0


cdef inline bytes _sample_bytes(object values):
    """A sample's values as bytes, checked: anything else (set by hand) is refused with a
    TypeError, never read as bytes."""
    if not isinstance(values, bytes):
        raise TypeError(f"a sample's bytes, got {values!r}")
    return <bytes>values


cdef inline object _pair_key(object pair):
    """The multiset key of a session's (key, bytes) sample pair, checked: anything but
    a pair (set by hand) is refused with a TypeError, never read past its end."""
    if type(pair) is not tuple or len(<tuple>pair) != 2:
        raise TypeError(f"a session's samples are (key, bytes) pairs, got {pair!r}")
    return (<tuple>pair)[0]


cdef int _add_counts(_Books b, Session s, long n) except -1:
    """A session's K08 counts added (``n`` 1) or taken back (-1): the agents its samples
    list, its waits without a reply and its excluded ones (a count of none, most
    sessions' excluded waits, changes nothing: no lookup of the tracker's
    count)."""
    cdef dict served = b.served
    for agent in s.served:
        _bump_n(served, agent, n)
    tracker = b.tracker
    # The reference's ``+= n * count``; an int 0 (most sessions') changes nothing, so
    # it is skipped; a count set by hand (a float -0.0) is added as the reference does.
    unanswered, dropped = s.unanswered, s.dropped
    if type(unanswered) is not int or unanswered != 0:
        tracker._unanswered += n * unanswered
    if type(dropped) is not int or dropped != 0:
        tracker._dropped += n * dropped
    return 0


cdef int _unstash(_Books b) except -1:
    """Take back, as :func:`_retract` would have, what the sessions taken back and not
    placed again left stashed (a walk cut short by an error), and stop stashing."""
    cdef dict counts = b.stashed_counts, samples = b.stashed_samples
    b.stashed_counts = b.stashed_samples = None
    if counts:
        for flat in counts.values():
            _bump_all(b.tables, b.agent_counts, <tuple>flat, -1)
    if samples:
        for values in samples.values():
            _values_into(b, values, 1)
    return 0


cdef int _extend(array a, bytes values, Py_ssize_t skip) except -1:
    """Append the doubles whose bytes are ``values``, from byte ``skip`` on (a whole
    number of doubles), to ``a`` (one copy). Bytes that are not whole doubles
    (set by hand) are refused with the ValueError the reference's
    ``array.frombytes`` raises, and nothing is appended."""
    cdef Py_ssize_t size = PyBytes_GET_SIZE(values)
    if size % <Py_ssize_t>sizeof(double):
        raise ValueError("bytes length not a multiple of item size")
    extend_buffer(a, PyBytes_AS_STRING(values) + skip,
                  (size - skip) // <Py_ssize_t>sizeof(double))
    return 0


cdef tuple _keys_of(dict known, owner):
    """An owner's (agent, or None: the shop) multiset keys: first cal, first win, replies
    cal, replies win; made on its first use and shared (no tuple per session).
    ``known``: the tracker's keys made so far (its own: none outlives it)."""
    found = known.get(owner)
    if found is None:
        found = known[owner] = _atomic((
            _atomic((owner, "first", "cal")), _atomic((owner, "first", "win")),
            _atomic((owner, "replies", "cal")), _atomic((owner, "replies", "win"))))
    elif type(found) is not tuple or len(<tuple>found) != 4:  # set by hand: no read past it
        raise TypeError(f"an owner's multiset keys are four, got {found!r}")
    return <tuple>found


cdef int _kind_into(list out, tuple keys, Py_ssize_t at, array common, array xc,
                    array xw) except -1:
    """One kind's samples of an owner (``live._samples_of``), as the bytes of their
    doubles (one object each, untracked by the garbage collector). A None column
    (a :class:`LiveSamples` column never made) is an empty one."""
    if common is None:
        common = _NO_DOUBLES
    if xw is None:
        xw = _NO_DOUBLES
    if xc is not None and len(xc):
        out.append(_atomic((keys[at], _joined(common, xc))))
        out.append(_atomic((keys[at + 1], _joined(common, xw))))
    elif len(common):
        values = _bytes_of(common)  # no wait past a close: the same values
        out.append(_atomic((keys[at], values)))
        out.append(_atomic((keys[at + 1], values)))
    return 0


cdef int _samples_into(list out, dict known, owner, x) except -1:
    """``live._samples_of`` for one owner's samples ``x`` (a :class:`LiveSamples`, or a
    ``measure.Samples`` from the reference walk): its multisets' values."""
    cdef tuple keys = _keys_of(known, owner)
    cdef LiveSamples mine
    if type(x) is LiveSamples:  # its columns as they are: none made for the reading
        mine = x
        _kind_into(out, keys, 0, mine._first, mine._first_xc, mine._first_xw)
        _kind_into(out, keys, 2, mine._rep, mine._rep_xc, mine._rep_xw)
        return 0
    _kind_into(out, keys, 0, x.first, x.first_xc, x.first_xw)
    _kind_into(out, keys, 2, x.rep, x.rep_xc, x.rep_xw)
    return 0


cdef array _NO_DOUBLES = array("d")


@cython.no_gc  # its fields are arrays of doubles: it can hold no reference cycle
cdef class LiveSamples:
    """:class:`kefu.kpi.measure.Samples` as the live tracker's walk makes them (one per
    session, and per agent of the session, in split mode), made in C: each of its six
    columns (arrays of doubles) is made when it is first asked for, so a session's
    samples are one object and the two columns the walk fills (``rep``, ``first``),
    not a Python constructor and six arrays, each an object the garbage collector
    tracks. :func:`take` reads the columns as they are (never made: empty). Samples
    past a window's close (rare) go through ``measure.Samples``' own methods. O(1)."""

    cdef array _rep, _rep_xc, _rep_xw, _first, _first_xc, _first_xw

    @property
    def rep(self):
        if self._rep is None:
            self._rep = _new_doubles()
        return self._rep

    @property
    def rep_xc(self):
        if self._rep_xc is None:
            self._rep_xc = _new_doubles()
        return self._rep_xc

    @property
    def rep_xw(self):
        if self._rep_xw is None:
            self._rep_xw = _new_doubles()
        return self._rep_xw

    @property
    def first(self):
        if self._first is None:
            self._first = _new_doubles()
        return self._first

    @property
    def first_xc(self):
        if self._first_xc is None:
            self._first_xc = _new_doubles()
        return self._first_xc

    @property
    def first_xw(self):
        if self._first_xw is None:
            self._first_xw = _new_doubles()
        return self._first_xw

    def add_run(self, d, common, wins):
        """``measure.Samples.add_run`` (the same code, on these columns)."""
        _SAMPLES_ADD_RUN(self, d, common, wins)

    def add_one(self, cal_s, win_s, first):
        """``measure.Samples.add_one`` (the same code, on these columns)."""
        _SAMPLES_ADD_ONE(self, cal_s, win_s, first)


cdef object _SAMPLES_ADD_RUN = Samples.add_run
cdef object _SAMPLES_ADD_ONE = Samples.add_one


cdef inline array _new_doubles():
    """An empty array of doubles."""
    return clone(_NO_DOUBLES, 0, False)


cdef inline bytes _bytes_of(array a):
    """The bytes of an array of doubles (one copy, no float object)."""
    return PyBytes_FromStringAndSize(a.data.as_chars, len(a) * sizeof(double))


cdef inline bytes _joined(array a, array b):
    """The bytes of two arrays of doubles, one after the other."""
    cdef Py_ssize_t na = len(a) * sizeof(double), nb = len(b) * sizeof(double)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, na + nb)
    cdef char* at = PyBytes_AS_STRING(out)
    memcpy(at, a.data.as_chars, na)
    memcpy(at + na, b.data.as_chars, nb)
    return out


cdef object _ASK = object()  # take: no contact given, ask contact_of
cdef tuple _ZERO_QUALITY = (0, 0, 0, 0, 0)  # _take: a session's data quality, most often


cdef tuple _stretches_of(agents, starts, ends, Py_ssize_t lo, Py_ssize_t hi):
    """A session's stretches ``lo:hi`` of the timeline's columns as (agent, start, end)
    tuples (``live.LiveTracker._take``'s strict zip of the slices): read by index from
    the lists, with no slice or zip object per session. O(its stretches)."""
    cdef Py_ssize_t k
    if not (type(agents) is list and type(starts) is list and type(ends) is list):
        return tuple(zip(agents[lo:hi], starts[lo:hi], ends[lo:hi], strict=True))
    cdef list a = agents, b = starts, c = ends
    if hi > len(a) or hi > len(b) or hi > len(c):
        raise ValueError("a timeline's stretch columns are shorter than its sessions say")
    return _atomic(tuple([_atomic((a[k], b[k], c[k])) for k in range(lo, hi)]))


def take(tracker, str sid, Session s not None, tl, Py_ssize_t j, m, list shop_units,
         list agent_units, waiting, tuple samples, tuple quality, contact=_ASK):
    """:meth:`kefu.kpi.live.LiveTracker._take` compiled: the same work in the same order
    (its docstring says what), then :func:`place` (or the tracker's Python placing
    when its ``_place`` is None): keep what a walk found for session ``sid``
    (``j`` in ``tl``, -1: not in it) and place it. O(units + samples + stretches
    of the session). ``contact``: its K13 contact as :func:`take_all` found it for
    the whole walk at once (else asked of ``contact_of`` here)."""
    _take(_books_of(tracker), sid, s, tl, j, m, shop_units, agent_units, waiting, samples,
          quality, contact)


cdef int _take(_Books b, str sid, Session s, tl, Py_ssize_t j, m, list shop_units,
               list agent_units, waiting, tuple samples, tuple quality,
               contact) except -1:
    """:func:`take`, called from C (:func:`take_all`'s) with no Python call per
    session, on the books ``b`` of the tracker."""
    cdef dict by_buyer = b.by_buyer, held_by = b.held_by
    cdef dict known = b.sample_keys
    cdef list out = []
    cdef Py_ssize_t lo = 0, hi = 0
    buyer = tl.buyers[j] if j >= 0 else None
    old = s.buyer
    if buyer != old:
        if old is not None:
            (<set>by_buyer[old]).discard(sid)
        if buyer is not None:
            found = by_buyer.get(buyer)
            if found is None:
                found = by_buyer[buyer] = set()
            (<set>found).add(sid)
        s.buyer = buyer
    if len(shop_units) % 2:
        raise ValueError(f"a session's shop units come in pairs, got {len(shop_units)}")
    s.shop_units = _atomic(tuple(shop_units))
    s.agent_units = agent_units
    s.fate = _fate(tl, j) if j >= 0 else _REACHED
    s.waiting = waiting
    shop_samples, agent_samples, s.unanswered, s.dropped = samples
    # Its agents in order: most sessions have one or none, already in order.
    served = tuple(sorted(agent_samples)) if len(agent_samples) > 1 else tuple(agent_samples)
    _samples_into(out, known, None, shop_samples)
    for agent in served:
        _samples_into(out, known, agent, agent_samples[agent])
    s.samples, s.served = _atomic(tuple(out)), _atomic(served)
    found = None if contact is not _ASK or j < 0 else _contact_of(tl, j, m.opts, m.cal)
    if contact is not _ASK:
        s.contact = contact
    elif found is None:
        s.contact = None
    else:
        i, hour, c, code, wait, agent, moved, reason = found
        s.contact = (m.cal.days[i], hour, tl.groups[j], agent, code, wait, moved, reason, c)
    if j >= 0:
        lo, hi = tl.s_lo[j], tl.s_hi[j]
    stretches = _stretches_of(tl.agents, tl.starts, tl.ends, lo, hi)
    if stretches != s.stretches:
        # Each agent once or more (a set's discard and add are idempotent): no set made.
        # Read as any sequence: a session's stretches set by hand are no tuple to cast.
        for x in s.stretches:
            (<set>held_by[x[0]]).discard(sid)
        for x in stretches:
            agent = x[0]
            found = held_by.get(agent)
            if found is None:
                found = held_by[agent] = set()
            (<set>found).add(sid)
        s.stretches = stretches
    # Most sessions' data quality is all zeros: one tuple shared (kept per session).
    s.quality = _ZERO_QUALITY if quality == _ZERO_QUALITY else _atomic(quality)
    if b.python_place:
        b.tracker._apply(sid, s)
    else:
        _place(b, sid, s)
    return 0


# The tracker's buyer-days (LiveTracker._fold and _refold's twins) --------------------

if (MET, PENDING, MISSED, EXCLUDED_CODE, REACHED) != (0, 1, 2, 3, 0):
    raise ImportError("kefu.kpi._live_c: status or fate codes this folding does not know")


cdef inline bint _judge(double start, int code, bint unended, double as_of, double threshold,
                        double warn, int* judged, bint* risk) noexcept:
    """``LiveTracker._judge``: a member unit's status code and at-risk flag at ``as_of``
    into ``judged`` and ``risk``; False (None there) when its clock has not come."""
    cdef double age
    if start > as_of:
        return False
    risk[0] = False
    if not unended:
        judged[0] = code
        return True
    age = as_of - start
    if age > threshold:
        judged[0] = 2  # MISSED
        return True
    judged[0] = 1  # PENDING
    risk[0] = as_of != INFINITY and age > warn
    return True


def fold(tracker, tuple day, double as_of):
    """:meth:`kefu.kpi.live.LiveTracker._fold` compiled: a buyer-day's FIRST and ANY units
    (and K02 fates) at ``as_of``, as a list of bumps, the same in the same order.
    O(members log members)."""
    opts = tracker._opts
    return _fold(tracker._members[day], tracker._excluded, day, as_of, opts.threshold,
                 opts.warn_after)


cdef list _fold(dict of_day, dict excluded, tuple day, double as_of, double threshold,
                double warn):
    """:func:`fold` on the tracker's fields: the day's members (``_members[day]``), its
    exclusions, its threshold and ``warn_after`` (read once per flush by
    :func:`refold`)."""
    cdef list members = sorted([m for m in of_day.values() if <double>m[2] <= as_of])
    if not members:
        return []
    buyer, date = day
    reason = excluded.get(buyer)
    cdef tuple win = members[0], m
    cdef double w_start = win[2], start, a_c = INFINITY
    cdef Py_ssize_t k
    for k in range(1, len(members)):  # FIRST: the earliest clock, then the smaller id
        m = members[k]
        start = m[2]
        if start < w_start or (start == w_start and m[1] < win[1]):
            win, w_start = m, start
    group = win[3]
    if reason is not None:
        key = (date, group, None, EXCLUDED_CODE, False, reason, None)
        return [(4, key), (5, key)]  # BUYER_COUNTS, FIRST and ANY
    cdef int f_code = 0, a_code = -1, code
    cdef bint f_risk = False, a_risk = False, risk = False
    if not _judge(w_start, win[4], win[5], as_of, threshold, warn, &f_code, &f_risk):
        f_code, f_risk = 0, False  # MET
    a_fate = _REACHED
    for m in members:  # ANY: the worst status, then the earlier deciding clock
        start = m[6]
        if not _judge(start, m[7], m[8], as_of, threshold, warn, &code, &risk):
            code, risk = 0, False
        a_risk = a_risk or risk
        if code > a_code or (code == a_code and start < a_c):
            a_code, a_c, a_fate = code, start, m[9]
    bumps = [(4, (date, group, None, f_code, f_risk, None, None)),
             (5, (date, group, None, a_code, a_risk and a_code == 1, None, None))]
    if win[9] != _REACHED:
        bumps.append((6, win[9]))  # BUYER_FATES
    if a_fate != _REACHED:
        bumps.append((7, a_fate))
    return bumps


cdef int _bump_n(dict counts, object key, long n) except -1:
    """live._bump: a count changed by ``n``, dropped at zero. A table set by hand to None
    is refused with a TypeError (the C lookup would not check it)."""
    if counts is None:
        raise TypeError("a count table is a dict, got None")
    cdef PyObject* found = PyDict_GetItemWithError(counts, <PyObject*>key)
    left = n if found == NULL else <object>found + n
    if left:
        PyDict_SetItem(counts, key, left)
    else:
        del counts[key]
    return 0


cdef inline bint _settled(object start, bint unended, double last, double threshold):
    """``live._open_until(...) == INF``: a member unit no ``as_of >= last`` can change."""
    cdef double c = start
    if c > last:
        return c == INFINITY
    return not (unended and not last - c > threshold)


def refold(tracker):
    """The flush's refolding of each buyer-day its sessions changed
    (:meth:`kefu.kpi.live.LiveTracker._refold` for each day of ``_unfolded``, then
    ``_unfolded`` emptied), compiled: the same counts in the same order. O(members
    of those days)."""
    cdef tuple tables = tracker._tables
    cdef dict folded = tracker._folded, by_day = tracker._members, members
    cdef set volatile_days = tracker._volatile_days
    cdef double last = tracker._feed.last, threshold = tracker._opts.threshold
    cdef double warn = tracker._opts.warn_after
    cdef dict excluded = tracker._excluded
    cdef dict agent_counts = tracker._agent_counts
    cdef tuple flat, m
    cdef list out
    cdef bint volatile
    for day in tracker._unfolded:
        flat = folded.pop(day, ())
        _bump_all(tables, agent_counts, flat, -1)
        volatile_days.discard(day)
        found = by_day.get(day)
        if not found:
            continue
        members = found
        volatile = False
        for value in members.values():
            m = value
            if not (_settled(m[2], m[5], last, threshold)
                    and _settled(m[6], m[8], last, threshold)):
                volatile = True
                break
        if volatile:
            volatile_days.add(day)
            continue
        out = []
        for where, key in _fold(members, excluded, day, last, threshold, warn):
            out.append(where)
            out.append(key)
        folded[day] = flat = tuple(out)
        _bump_all(tables, agent_counts, flat, 1)
    tracker._unfolded = set()


# A walk's sessions taken in one pass (LiveTracker._measure_batch's loop) -------------

cdef tuple _NO_SAMPLES = (Samples(), {}, 0, 0)


cdef class Totals:
    """What the compiled contact count adds a key's contacts to, for the tracker's walks
    (``service._Acc``'s fields, made in C). The tracker reads each contact from the
    count's detail and never these totals, so one per walk takes every key's
    contacts (the count asks for one per key: the tracker hands it the same):
    no object per key, and a walk's few values die with it. O(1)."""

    cdef public list counts, waits, abandons
    cdef public dict excluded_by

    def __cinit__(self):
        self.counts = [0] * 7
        self.excluded_by = {}
        self.waits = []
        self.abandons = []
cdef tuple _NO_UNITS = ([], [])  # a session the walk made no unit of (never changed)


def contact_row(*, session_id, buyer_id, day, hour, group, agent_id, start, outcome, wait,
                transfers, reason):
    """One contact of the compiled contact count's detail (its ``contact_cls``), as the
    tracker keeps it: (session id, buyer id, its ``LiveContact`` with no exclusion
    reason; the count is run with none, and :func:`take_all` gives each its buyer's).
    One tuple per contact, not a dict of eleven fields read back. O(1)."""
    return (session_id, buyer_id, _atomic((day, hour, group, agent_id, outcome,
                                           0.0 if wait is None else wait, transfers, None,
                                           start)))


cdef dict _contacts(list found, dict excluded):
    """The walk's K13 contacts by session, as the tracker keeps them (``LiveContact``),
    from the compiled contact count's detail (:func:`contact_row`s, counted with no
    exclusion: ``excluded`` gives each its reason, as ``contact_of`` does)."""
    cdef dict out = {}
    cdef tuple row, contact
    for value in found:
        row = value
        contact = row[2]
        if excluded:
            reason = excluded.get(row[1])
            if reason is not None:
                contact = contact[:7] + (reason, contact[8])
        out[row[0]] = contact
    return out


def take_all(tracker, list sids, list sessions, tl, m, list found=None):
    """The rest of :meth:`kefu.kpi.live.LiveTracker._measure_batch` compiled: each
    session's units (the walk's ``by_session``: ``live_measure.LiveMeasure``), its
    wait, samples and data quality picked, and :func:`take` for each in turn, as the
    reference does, once every session placed before is taken back (:func:`retract`:
    the reference's loop before it). What each had counted and its K08 samples are
    kept until it is placed again, which then changes only what differs (see
    :class:`_Books`); whatever a walk cut short by an error did not place again is
    taken back before the error goes on, as the reference's taking back leaves it.
    ``found``: the walk's contacts from the compiled contact count
    (:func:`_contacts`), or None (each asked of ``contact_of``). O(units + sessions
    of the walk)."""
    cdef dict by_session = m.by_session, contacts = None
    split = m.split if m.split is not None else {}
    if found is not None:
        contacts = _contacts(found, m.opts.excluded)
    cdef dict index = tl.index, negatives = tl.negatives, excluded = tracker._excluded
    cdef list buyers = tl.buyers
    if len(sids) != len(sessions):
        raise ValueError("take_all: a session object per session id")
    for s in sessions:  # all checked before any is kept again: none is left half taken
        if not isinstance(s, Session):
            raise TypeError(f"take_all: a compiled Session per session, got {type(s)!r}")
    cdef _Books books = _books_of(tracker)
    books.stashed_counts, books.stashed_samples = {}, {}
    try:
        _take_all(books, sids, sessions, tl, m, by_session, split, contacts, index,
                  negatives, excluded, buyers)
    finally:
        _unstash(books)


cdef int _take_all(_Books books, list sids, list sessions, tl, m, dict by_session, split,
                   dict contacts, dict index, dict negatives, dict excluded,
                   list buyers) except -1:
    """:func:`take_all`'s taking back and taking, on books that stash what each session
    taken back had (see :class:`_Books`)."""
    cdef list mine
    cdef tuple units
    cdef Py_ssize_t k, j
    for k in range(len(sids)):  # each placed before taken back, all before any is kept
        s = sessions[k]
        if (<Session>s).applied is not None:
            _take_back(books, sids[k], <Session>s)
    for k in range(len(sids)):
        sid = sids[k]
        s = sessions[k]
        j = index.get(sid, -1)  # -1: no record of it counts yet (an end alone)
        got = by_session.get(sid)
        units = _NO_UNITS if got is None else got
        mine = units[0]
        waiting = None
        if (j >= 0 and _fate(tl, j) == _STILL_WAITING and mine
                and buyers[j] not in excluded):
            waiting = (<tuple>mine[0])[0]
        _take(books, sid, <Session>s, tl, j, m, mine, units[1], waiting,
             split.get(j, _NO_SAMPLES),
             (0, 0, s.unknown, 0, negatives.get(j, 0) if j >= 0 else 0),
             _ASK if contacts is None else (contacts.get(sid) if j >= 0 else None))
    return 0


# The walk's unit hooks (LiveMeasure._session_unit and _stretch_unit's twins) ---------

cdef object _MISSED_CODE = MISSED
cdef object _INF = INFINITY


cdef list _units_of(dict by_session, sid, Py_ssize_t side):
    """``LiveMeasure._units_of(sid)[side]``: the session's list of shop (0) or agent (1)
    units, its pair of lists made on its first unit."""
    found = by_session.get(sid)
    if found is None:
        found = by_session[sid] = ([], [])
    return <list>(<tuple>found)[side]


@cython.binding(True)
def session_unit(m, j, i, c, r, code, a_code, a_c, a_r, reason):
    """:meth:`kefu.kpi.live_measure.LiveMeasure._session_unit` compiled (a method of the
    compiled walk's class): the same tuples, in the same order, with no Python frame
    per unit. O(1)."""
    tl = m.tl
    day, buyer, group = m.cal.days[i], tl.buyers[j], tl.groups[j]
    if reason is not None:
        code = a_code = _EXCLUDED_CODE
    first = _atomic((c, code, code == _MISSED_CODE and r == _INF, day, group, None, reason,
                     buyer))
    if a_code == code and a_c == c and a_r == r:
        second = first
    else:
        second = _atomic((a_c, a_code, a_code == _MISSED_CODE and a_r == _INF, day, group,
                          None, reason, buyer))
    units = _units_of(m.by_session, tl.ids[j], 0)
    units.append(first)
    units.append(second)


@cython.binding(True)
def stretch_unit(m, j, x, i, c, r, code, reason):
    """:meth:`kefu.kpi.live_measure.LiveMeasure._stretch_unit` compiled (see
    :func:`session_unit`). O(1)."""
    tl = m.tl
    if reason is not None:
        code = _EXCLUDED_CODE
    units = _units_of(m.by_session, tl.ids[j], 1)
    units.append(_atomic((c, code, code == _MISSED_CODE and r == _INF, m.cal.days[i],
                          tl.sgroups[x], tl.agents[x], reason, tl.buyers[j])))
