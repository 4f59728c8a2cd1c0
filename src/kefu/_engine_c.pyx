# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False
"""The compiled engine: the same contract and events as ``_engine_py``, in C.

Theory of operation
-------------------
State lives in C arrays of structs (``_engine_c.pxd``): ``Agent`` and
``Sess`` slots with free lists, so opening and closing sessions reuses
memory. Python objects appear only at the edges: the agents' id -> slot dict
(whose insertion order is registration order, as in the Python engine; the
open sessions' ids are filed in a C table of their own, ordered by arrival
number when listed), the id strings and ``Cap``/group objects kept for views and events, the
rare per-session ``timed_out`` sets (R18) and the sticky memory (R13, only
when a window is configured).

Agents. Each available agent is filed in one ``AgentIndex`` per (side,
slot), the slots being ANY (every agent), ALL (agents serving every group)
and one per group the agent serves, as in the Python engine; under
LEAST_LOAD and WEIGHTED the ALL indexes are kept only once a group name has
existed (``_wake_all``: until then they would hold ANY's agents again):

    LEAST_LOAD  a 4-ary heap keyed (load, last_auto, reg)
    WEIGHTED    a 4-ary heap keyed (pass, reg)
    ROUND_ROBIN every agent of the side sorted by reg, plus a bitset of the
                available ones: the next available reg >= pointer is a
                word-at-a-time bit scan, and an agent filling up or gaining
                room flips one bit.

Each agent records its position in each of its heaps, so a change of load
re-sifts it in O(g log n) (a 4-ary heap is half as deep as a binary
one, and a node's four children sit side by side in memory). Selection
reads the heap top; only when the top timed out on this session (R18)
does it search the heap for the smallest allowed entry, visiting only
excluded nodes and their children.

Waiting sessions sit in one binary heap per group keyed by the R07 key
(-priority, arrival); each session records its heap position, so closing a
waiting session is O(log w). The heaps that hold sessions are also on a busy
list, so an agent serving every group compares the heads of the groups that
have waiting sessions, never of every group. Beside each heap, the same
sessions form an order-statistic treap (links and subtree sizes in ``Sess``,
priorities a fixed hash of the arrival number), so a session's place in its
group's line (R25) is one O(log w) descent; each line also keeps a ring of
its latest hand-over times, freed with its group. Timers are one heap of
(deadline, seq) with lazy deletion: an entry is live iff its session still
holds that seq for that kind; the heap is rebuilt when stale entries
outnumber live ones. A timer set is appended after the heap and filed only
when the heap is next read (a tick, ``next_deadline``), so one stopped
before that (a first response answered before the next tick) costs no sift.

Escalation ladders (R24) are the one feature kept in Python objects: a
waiting session past a step sits, keyed (-priority, arrival, slot), in a
``SortedList`` per group its reached steps add (one more for "every
agent"), so a step costs O(log w) per group and an agent's drain looks at
those lists' heads for its own groups. ``_lad`` holds each laddered waiting
session's start of wait and steps reached; its pending step's timer number
shares ``Sess.fr_seq`` with the first-response timer (only an assigned
session has that one). Every hot path tests ``has_ladders`` before any of it.

Groups. A group name is interned to a small gid that indexes the per-group
arrays (online counts, agent indexes, waiting heaps). A gid is held by every
agent serving the group and every open session of it; when the last one goes
the name is forgotten, the group's buffers are freed and the gid goes on a
free list for the next new name. The arrays grow by doubling. So a shop that
has seen a million group names costs, per call and in memory, what one with
only its live groups costs.

Events are the shared attrs classes of ``kefu.events``. They are built here
by allocating the object and filling its slots through the slot descriptors
(what the attrs ``__init__`` does, minus its per-field Python calls); an
import-time self-check falls back to the constructors if attrs ever lays
classes out differently.

Capacity weights (R26). Each session record carries its weight (1 without
a kind) and an agent's ``load`` is the sum of its sessions' weights (its
``count`` the number of them); kind names live in a dict beside the records,
for kinded sessions only. A session of weight w fits an indexed agent when w
is at most cap - load; weight 1 always does, so only a heavier session
looks past the head of an agent index or a waiting heap: the same search
that skips the agents a session timed out on (R18) skips the agents without
room for it. A drain never searches past sessions too heavy for the agent:
with heavy kinds, each waiting session is also filed by its R07 key in a
line per (group, weight) (``_wlines``, SortedLists beside the heaps, as the
R24 lists are), and an agent with less room than the heaviest weight
compares the heads of the lines of the weights it has room for: O(g k +
log w) per session handed out for ``k`` distinct weights. A shop without
heavy kinds never takes either path (``has_kinds``).

Invariants (``check()`` verifies them from scratch): every open session is
in exactly one reception list or one waiting heap; an agent is indexed iff
available, on its side, at a position that holds it; heap order holds;
loads equal list lengths; a gid's reference count is its agents plus its
sessions, and a gid without any is free; the busy list holds exactly the
non-empty waiting heaps; R06: no waiting session has an eligible agent.
"""

cimport cython
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE, PyList_New, PyList_SET_ITEM
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject, PyTypeObject, descrgetfunc
from cpython.ref cimport Py_DECREF, Py_INCREF

cdef extern from "Python.h":
    PyObject *_PyObject_GC_New(PyTypeObject *cls) except NULL
    void Py_SET_SIZE(object obj, Py_ssize_t size) noexcept
    void PyObject_GC_Track(object obj) noexcept
    void PyObject_GC_UnTrack(object obj) noexcept
    int PyObject_GC_IsTracked(object obj) noexcept
    PyObject *PyIter_Next(object iterator) except? NULL
    long long PyLong_AsLongLongAndOverflow(object value, int *overflow) noexcept
    ctypedef struct PyMemberDescrObject:
        PyMemberDef *d_member

cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
        int flags
    enum:
        T_OBJECT_EX
        READONLY
from libc.string cimport memmove, memset

import sys
import types
from collections import OrderedDict

from kefu._batch import check_at, run_checked
from kefu._checks import MAX_PRIORITY, check_flag, check_id, check_kind, check_session_args
from kefu._columns import out_of_range
from kefu._handovers import MAX_SAMPLE, estimate
from kefu._ladder import reached_all, reached_groups, table
from sortedcontainers import SortedList

from kefu._snapshot import parse_state
from kefu._text import short_repr
from kefu.clock import ManualClock, settle_reading
from kefu.errors import (
    AgentOffline,
    BatchAborted,
    ConcurrentCall,
    DuplicateAgent,
    DuplicateSession,
    InvalidArgument,
    InvalidAssign,
    InvalidTransfer,
    KefuError,
    NotHolder,
    SessionWaiting,
    UnknownAgent,
    UnknownKind,
    UnknownSession,
)
from kefu.events import (
    Assigned,
    AssignReason,
    Closed,
    CloseReason,
    Escalated,
    Opened,
    Overflowed,
    Pool,
    Queued,
    Reassigned,
    Rejected,
    Requeued,
    RequeueReason,
    ResponseTimedOut,
    Transferred,
)
from kefu.model import AgentView, Cap, SessionState, SessionView, Strategy

__all__ = ["STRIDE_BASE", "Engine", "FacadeState"]

#: lcm(1..20): WEIGHTED strides are exact for weights up to 20 (as _engine_py).
STRIDE_BASE = 232792560
cdef i64 C_STRIDE_BASE = 232792560
cdef int C_MAX_SAMPLE = MAX_SAMPLE
cdef i64 C_MAX_PRIORITY = MAX_PRIORITY

cdef enum:
    LEAST_LOAD = 0
    ROUND_ROBIN = 1
    WEIGHTED = 2
    SLOT_ANY = 0
    SLOT_ALL = 1
    AUTO_CLOSE = 0
    FIRST_RESPONSE = 1
    GRACE = 2
    ESCALATE = 3
    POOL_NONE = 0
    POOL_QUEUE = 1
    POOL_OFFLINE = 2

cdef enum:
    # kefu._columns.Command
    COL_OPEN = 0
    COL_CLOSE = 1
    COL_BUYER = 2
    COL_AGENT = 3
    COL_AUTO = 4
    COL_TICK = 5

cdef enum:
    # Engine.apply: the commands it runs without the checked path
    HOT_CLOSE = 0
    HOT_OPEN = 1
    HOT_BUYER = 2
    HOT_AGENT = 3
    HOT_TICK = 4
    HOT_AT = 5

cdef enum:
    HINTS = 256  # Engine.apply: slot hints by id address (a power of two)

# The hot names as (interned) objects: a command spelled with a literal carries these
# very objects, which one pointer comparison each recognises.
cdef str S_CLOSE = "close_session"
cdef str S_OPEN = "open_session"
cdef str S_BUYER = "buyer_message"
cdef str S_AGENT = "agent_message"
cdef str S_TICK = "tick"
cdef str S_AT = "at"
cdef dict _HOT_NAMES = {S_CLOSE: HOT_CLOSE, S_OPEN: HOT_OPEN, S_BUYER: HOT_BUYER,
                        S_AGENT: HOT_AGENT, S_TICK: HOT_TICK, S_AT: HOT_AT}


cdef inline int _hot_op(str name) except? -2:
    """The HOT_* code of a command name, -1 if it is none of them. O(1).

    Pointer comparisons with the interned names first (a literal name is one of
    them: a few instructions), then the dict for an equal string built at run time
    (a hash and a probe, about a hundred). An exact str's hash and equality cannot
    fail nor run Python code."""
    if name is S_AT:
        return HOT_AT
    if name is S_CLOSE:
        return HOT_CLOSE
    if name is S_OPEN:
        return HOT_OPEN
    if name is S_BUYER:
        return HOT_BUYER
    if name is S_AGENT:
        return HOT_AGENT
    if name is S_TICK:
        return HOT_TICK
    return _HOT_NAMES.get(name, -1)

cdef object _POOLS = (None, Pool.QUEUE, Pool.OFFLINE)
cdef object _NO_IDS = frozenset()
cdef object R_NEW = AssignReason.NEW
cdef object R_STICKY = AssignReason.STICKY
cdef object R_DRAIN = AssignReason.DRAIN
cdef object R_REQUEUE = AssignReason.REQUEUE
cdef object R_MANUAL = AssignReason.MANUAL
cdef object C_MANUAL = CloseReason.MANUAL
cdef object C_AUTO = CloseReason.AUTO
cdef object Q_REMOVED = RequeueReason.AGENT_REMOVED
cdef object Q_OFFLINE = RequeueReason.AGENT_OFFLINE


# -- events without the per-field Python calls -----------------------------------

cdef bint _FAST = False
cdef long _HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE

cdef enum:
    EV_OPENED = 0
    EV_ASSIGNED = 1
    EV_QUEUED = 2
    EV_TRANSFERRED = 3
    EV_TIMED_OUT = 4
    EV_REASSIGNED = 5
    EV_REQUEUED = 6
    EV_CLOSED = 7
    EV_OVERFLOWED = 8
    EV_REJECTED = 9
    EV_ESCALATED = 10
    EV_KINDS = 11

cdef tuple _EV_CLASSES = (Opened, Assigned, Queued, Transferred, ResponseTimedOut, Reassigned,
                          Requeued, Closed, Overflowed, Rejected, Escalated)
cdef PyObject *_EV_CLS[11]
cdef Py_ssize_t _EV_OFF[11][6]  # where each field's slot sits in the instance
cdef int _EV_N[11]
cdef list _EV_KEEP = []  # owns the classes the C arrays point to


cdef inline void _put(object obj, Py_ssize_t offset, object value) noexcept:
    """Fill the empty object slot at ``offset`` of a fresh instance with ``value``."""
    Py_INCREF(value)
    (<PyObject**>((<char*><PyObject*>obj) + offset))[0] = <PyObject*>value


# -- event rows: a columnar batch's events without the objects (apply_columns) ------------
#
# While ``Engine.apply_columns`` runs, the engine's ``_rows`` holds the batch's
# ``Rows`` and every event the engine makes (``Engine._emit``) is stored there
# as its kind and field values instead of being built and appended to the
# command's list. Only that engine's own code reads its ``_rows``, and the
# Assigner's guard lets no other call into the engine meanwhile (another
# thread's or a re-entrant one is refused), so exactly the batch's events
# land there, in order. A row is materialised on demand by ``_event``: the
# very event ``apply`` returns.

cdef list _list_with_room(Py_ssize_t room):
    """An empty list with room for ``room`` items: appends up to that many copy nothing
    (a list grown by appends alone reallocates at every eighth more, copying its array
    each time). Its array is allocated whole (NULLs) and the size set to 0, which a
    list allows (its items past its size are never read). O(room)."""
    cdef list items = PyList_New(room if room > 0 else 0)
    Py_SET_SIZE(items, 0)
    return items


@cython.final
cdef class Rows:
    """Events as rows: a kind code and six field values (references) each. O(1) a row."""

    cdef signed char *kind
    cdef PyObject **v
    cdef Py_ssize_t n
    cdef Py_ssize_t cap

    def __dealloc__(self):
        self.truncate(0)
        PyMem_Free(self.kind)
        PyMem_Free(self.v)

    def __len__(self):
        return self.n

    def __reduce__(self):
        """Pickled (and deep-copied) as the list of its events, a store as good. O(rows)."""
        return list, ([self[i] for i in range(self.n)],)

    cdef int reserve(self, Py_ssize_t cap) except -1:
        """Room for ``cap`` rows in all (never less than now): a batch sized up front
        copies no rows as it grows. O(n) (realloc)."""
        if cap > self.cap:
            # cap grows only once both blocks have: a failed realloc leaves the old ones.
            self.kind = <signed char*>_grow(self.kind, cap, sizeof(signed char))
            self.v = <PyObject**>_grow(self.v, 6 * cap, sizeof(PyObject*))
            self.cap = cap
        return 0

    cdef inline int push(self, int kind, object v0, object v1, object v2, object v3, object v4,
                  object v5) except -1:
        cdef PyObject **row
        if self.n == self.cap:
            self.reserve(2 * self.cap + 64)
        self.kind[self.n] = kind
        row = &self.v[6 * self.n]
        Py_INCREF(v0)
        Py_INCREF(v1)
        Py_INCREF(v2)
        Py_INCREF(v3)
        Py_INCREF(v4)
        Py_INCREF(v5)
        row[0] = <PyObject*>v0
        row[1] = <PyObject*>v1
        row[2] = <PyObject*>v2
        row[3] = <PyObject*>v3
        row[4] = <PyObject*>v4
        row[5] = <PyObject*>v5
        self.n += 1
        return 0

    cdef void truncate(self, Py_ssize_t n) noexcept:
        """Drop the rows from ``n`` on."""
        cdef Py_ssize_t i
        while self.n > n:
            self.n -= 1
            for i in range(6):
                Py_DECREF(<object>self.v[6 * self.n + i])

    def __getitem__(self, Py_ssize_t i):
        """Row ``i`` as its event object (``IndexError`` out of range). O(fields)."""
        cdef PyObject **row
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(i)
        row = &self.v[6 * i]
        return _event(self.kind[i], <object>row[0], <object>row[1], <object>row[2],
                      <object>row[3], <object>row[4], <object>row[5])


cdef object _event(int kind, object v0, object v1, object v2, object v3, object v4,
                   object v5):
    """An event of ``kind`` from its field values in order (unused trailing values: None).

    Fast path: allocate the instance and store each value in its slot, which is what
    the attrs ``__init__`` does minus one Python call per field (a third of the cost
    of a call otherwise) and the slot descriptors' checks (the fresh slots are empty,
    of plain object type).
    """
    cdef type cls
    cdef int n
    cdef PyObject *raw
    cdef object obj
    cls = <type>_EV_CLS[kind]
    n = _EV_N[kind]
    if not _FAST:
        return cls(*(v0, v1, v2, v3, v4, v5)[:n])
    # What object.__new__ does, but never tracked by the cyclic GC: an event holds only
    # str, float, int, None and enum members, so it cannot be part of a reference cycle
    # (CPython does the same for tuples of atoms). Tracked, a batch's events would
    # dominate the run time in gc_collect as they pile up.
    raw = _PyObject_GC_New(<PyTypeObject*>cls)
    memset(<char*>raw + sizeof(PyObject), 0,
           (<PyTypeObject*>cls).tp_basicsize - sizeof(PyObject))
    obj = <object>raw
    Py_DECREF(obj)  # ``obj`` took its own reference: drop the one _PyObject_GC_New made
    _put(obj, _EV_OFF[kind][0], v0)
    _put(obj, _EV_OFF[kind][1], v1)
    _put(obj, _EV_OFF[kind][2], v2)
    if n > 3:
        _put(obj, _EV_OFF[kind][3], v3)
    if n > 4:
        _put(obj, _EV_OFF[kind][4], v4)
    if n > 5:
        _put(obj, _EV_OFF[kind][5], v5)
    return obj


def _install_fast_events():
    """Fill slots directly if every event class is a plain attrs slots class whose
    instances ``PyType_GenericAlloc`` makes, else use the constructors."""
    global _FAST
    import attrs

    cdef PyMemberDef *member
    samples = (
        ("s", "b", "g", 1, 2.0),
        ("s", "a", 1.0, AssignReason.NEW, "b"),
        ("s", Pool.QUEUE, 1.0, "b"),
        ("s", "a", "c", 1.0, "b"),
        ("s", "a", 1.0, "b"),
        ("s", "a", "c", 1.0, "b"),
        ("s", "a", 1.0, RequeueReason.AGENT_OFFLINE, "b"),
        ("s", "a", None, 1.0, CloseReason.MANUAL, "b"),
        ("s", "g", "h", 1.0, "b"),
        ("s", "g", 1.0, "b"),
        ("s", "g", 1, ("h",), 1.0, "b"),
    )
    for kind in range(EV_KINDS):
        cls = _EV_CLASSES[kind]
        descrs = [cls.__dict__.get(f.name) for f in attrs.fields(cls)]
        _EV_KEEP.append((cls, descrs))
        _EV_CLS[kind] = <PyObject*>cls
        _EV_N[kind] = len(descrs)
        if (len(descrs) > 6 or cls.__new__ is not object.__new__
                or not cls.__flags__ & _HEAPTYPE  # a class statement's: a GC object
                or not all(type(d) is types.MemberDescriptorType for d in descrs)):
            return
        for i, d in enumerate(descrs):
            member = (<PyMemberDescrObject*><PyObject*>d).d_member
            if member.type != T_OBJECT_EX or member.flags & READONLY:
                return
            _EV_OFF[kind][i] = member.offset
    _FAST = True
    for kind in range(EV_KINDS):
        cls = _EV_CLASSES[kind]
        values = samples[kind][:_EV_N[kind]]
        v = (samples[kind] + (None,) * 6)[:6]
        built = _event(kind, v[0], v[1], v[2], v[3], v[4], v[5])
        if built != cls(*values) or repr(built) != repr(cls(*values)):
            _FAST = False
            return


_install_fast_events()


# -- small C helpers ----------------------------------------------------------------

cdef double _MAX_SECONDS = sys.float_info.max
cdef long long _MAX_PRIORITY = MAX_PRIORITY


cdef extern from *:
    """
    /* The id checks of the hot paths, always inlined: as Cython functions they carry
       len()'s error path, and the C compiler then calls them (a call per check). A str
       not yet "ready" (a legacy C API object) reads as not an id here, so it takes the
       checked path, which gives the right answer. */
    #if defined(__GNUC__) || defined(__clang__)
    #define KEFU_ALWAYS_INLINE static inline __attribute__((always_inline))
    #else
    #define KEFU_ALWAYS_INLINE static CYTHON_INLINE
    #endif
    KEFU_ALWAYS_INLINE int kefu_is_id(PyObject *value) {
    #if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_CheckExact(value) && !PyUnicode_IS_READY(value)) return 0;
    #endif
        return PyUnicode_CheckExact(value) && PyUnicode_GET_LENGTH(value) > 0;
    }
    KEFU_ALWAYS_INLINE int kefu_is_optional_id(PyObject *value) {
        return value == Py_None || kefu_is_id(value);
    }
    /* The hash of an id (an exact str: its cached hash, computed once per object),
       -1 for anything else. A str's hash is never -1 and cannot fail. */
    KEFU_ALWAYS_INLINE Py_hash_t kefu_id_hash(PyObject *value) {
        Py_hash_t hash;
        if (!kefu_is_id(value)) return -1;
        hash = ((PyASCIIObject *)value)->hash;
        return hash != -1 ? hash : PyObject_Hash(value);
    }
    /* Two ids (exact str) are equal. Neither can fail nor run Python code. */
    KEFU_ALWAYS_INLINE int kefu_same_id(PyObject *a, PyObject *b) {
        return a == b || (PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b)
                          && PyUnicode_Compare(a, b) == 0);
    }
    """
    # A session or agent id: an exact, non-empty str. O(1), no call, no error path.
    bint _is_id "kefu_is_id" (object value) noexcept
    # None or an id (``_is_id``). O(1).
    bint _is_optional_id "kefu_is_optional_id" (object value) noexcept
    # An id's hash (``_is_id``: its str hash), -1 if it is not an id. O(1) once hashed.
    Py_hash_t _id_hash "kefu_id_hash" (object value) noexcept
    # Two ids are equal (the same object, or equal exact strs). No error, no Python code.
    bint _same_id "kefu_same_id" (PyObject *a, PyObject *b) noexcept


cdef Py_hash_t _str_id_hash(object value) except? -1:
    """The registry's hash of an exact str that ``_id_hash`` turned down: before Python
    3.12 a str made through the legacy C API is not "ready" until first measured or
    hashed, and ``_id_hash`` (no call, no error) does not ready it. Non-empty after
    ``check_id``: an id then, with its str hash; an empty one is never filed (-1).
    O(len) once."""
    if type(value) is not str or not value:  # readies a legacy str (its length)
        return -1
    return hash(value)


cdef inline PyObject *_find(tuple table, i64 handle, bint optional) noexcept:
    """``table[handle]`` (borrowed; None for -1 if ``optional``), NULL outside the table.

    No error path, so the C compiler inlines it into the columns' loop. O(1)."""
    if <unsigned long long>handle < <unsigned long long>PyTuple_GET_SIZE(table):
        return PyTuple_GET_ITEM(table, handle)
    if optional and handle == -1:
        return <PyObject*>None
    return NULL


cdef inline object _pick(tuple table, i64 handle, str column, bint optional):
    """``table[handle]`` (None for -1 if ``optional``), or the out-of-range error. O(1)."""
    cdef PyObject *found = _find(table, handle, optional)
    if found == NULL:
        _out_of_table(table, handle, column, optional)
    return <object>found


cdef int _out_of_table(tuple table, i64 handle, str column, bint optional) except -1:
    """``_pick``'s error for a handle outside the table."""
    raise out_of_range(column, handle, -1 if optional else 0, len(table) - 1)


cdef inline void _list_put(list items, Py_ssize_t i, object value) noexcept:
    """``items[i] = value`` for an ``i`` known in range: no bounds check, no call. O(1)."""
    cdef PyObject *old = PyList_GET_ITEM(items, i)
    Py_INCREF(value)
    PyList_SET_ITEM(items, i, value)
    Py_DECREF(<object>old)


cdef inline bint _is_priority(object value) noexcept:
    """An int (not a bool) in [-MAX_PRIORITY, MAX_PRIORITY], compared in C."""
    cdef int overflow
    cdef long long v
    if type(value) is not int:
        return False
    v = PyLong_AsLongLongAndOverflow(value, &overflow)  # never fails on an int
    return overflow == 0 and -_MAX_PRIORITY <= v <= _MAX_PRIORITY


cdef void *_grow(void *ptr, Py_ssize_t n, Py_ssize_t size) except NULL:
    cdef void *new_ptr = PyMem_Realloc(ptr, n * size if n > 0 else size)
    if new_ptr == NULL:
        raise MemoryError()
    return new_ptr


cdef inline void _entry_key(Agent *a, IxEntry *e, int strategy) noexcept nogil:
    """Copy agent a's strategy key into its index entry e: the one place that says
    what the key is (``_entry_less`` orders the keys). O(1)."""
    if strategy == LEAST_LOAD:
        e.k1 = a.load
        e.k2 = a.last_auto
    elif strategy == WEIGHTED:
        e.k1 = a.pass_
        e.k2 = 0
    else:
        e.k1 = 0
        e.k2 = 0
    e.reg = a.reg


cdef inline bint _entry_less(IxEntry *a, IxEntry *b) noexcept nogil:
    """Entry a's key is smaller than b's: (k1, k2, reg) in order, reg unique."""
    if a.k1 != b.k1:
        return a.k1 < b.k1
    if a.k2 != b.k2:
        return a.k2 < b.k2
    return a.reg < b.reg


cdef inline bint _agent_less(Agent *a, Agent *b, int strategy) noexcept nogil:
    """Agent a's key under ``strategy`` is smaller than b's (``Engine._less``, for the
    comparisons outside a heap's entries): their keys as entries, then
    ``_entry_less``. O(1)."""
    cdef IxEntry x, y
    _entry_key(a, &x, strategy)
    _entry_key(b, &y, strategy)
    return _entry_less(&x, &y)


cdef inline void _ix_set(Agent *ag, IxEntry *e, int pos, IxEntry *x) noexcept nogil:
    """Put entry ``x`` at heap position ``pos`` and tell its agent where. O(1)."""
    e[pos] = x[0]
    ag[x.agent].pos[x.k] = pos


cdef inline void _sift_up_by(Agent *ag, AgentIndex *h, int pos, int top) noexcept nogil:
    """Move the entry at ``pos`` up to its place in the 4-ary heap ``h``, no higher
    than ``top``. O(log4 n): one comparison a level, on the entries alone."""
    cdef IxEntry *e = h.e
    cdef IxEntry x = e[pos]
    cdef int parent
    while pos > top:
        parent = (pos - 1) >> 2
        if not _entry_less(&x, &e[parent]):
            break
        _ix_set(ag, e, pos, &e[parent])
        pos = parent
    _ix_set(ag, e, pos, &x)


cdef inline int _min_child(IxEntry *e, int child, int n) noexcept nogil:
    """The smallest of the (up to four) entries from ``child`` on, below ``n``: three
    comparisons, a knock-out of two pairs when all four exist (no loop to run)."""
    cdef int best = child
    cdef int other, c
    if child + 4 <= n:
        if _entry_less(&e[child + 1], &e[child]):
            best = child + 1
        other = child + 2
        if _entry_less(&e[child + 3], &e[child + 2]):
            other = child + 3
        return other if _entry_less(&e[other], &e[best]) else best
    for c in range(child + 1, n):
        if _entry_less(&e[c], &e[best]):
            best = c
    return best


cdef inline void _sift_down_by(Agent *ag, AgentIndex *h, int pos) noexcept nogil:
    """Move the entry at ``pos`` down to its place in the 4-ary heap ``h``.
    O(4 log4 n).

    Once it has to move, the hole goes down to a leaf along the smallest children
    (three comparisons a level) and the entry rises from there (Floyd): an agent
    just given a session has about the largest key of its heap, so it rises hardly
    at all, and a level costs no comparison with it.
    """
    cdef IxEntry *e = h.e
    cdef IxEntry x = e[pos]
    cdef int n = h.size
    cdef int top = pos
    cdef int child = 4 * pos + 1
    if child >= n:
        return
    child = _min_child(e, child, n)
    if not _entry_less(&e[child], &x):
        return
    while True:
        _ix_set(ag, e, pos, &e[child])
        pos = child
        child = 4 * pos + 1
        if child >= n:
            break
        child = _min_child(e, child, n)
    _ix_set(ag, e, pos, &x)
    _sift_up_by(ag, h, pos, top)


cdef inline int _ctz(u64 x) noexcept nogil:
    return __builtin_ctzll(x)


cdef extern from *:
    int __builtin_ctzll(unsigned long long) nogil


cdef class Guard:
    """The facade's one-writer guard (S02), at the cost of two C calls per call.

    ``enter()`` tests and sets a flag in one step: it runs as C code holding
    the GIL and calls no Python code between the test and the set, so no
    other thread (and no re-entrant call) can come between them. The facade
    uses it only while the interpreter has a GIL; without one it takes a
    real lock instead.
    """

    cdef bint busy

    # METH_NOARGS calls: no argument parsing on the hottest path.
    @cython.always_allow_keywords(False)
    def enter(self):
        """True if the guard was free and is now taken; False if a call holds it."""
        if self.busy:
            return False
        self.busy = True
        return True

    @cython.always_allow_keywords(False)
    def leave(self):
        """Release the guard (only its holder calls this)."""
        self.busy = False


@cython.final  # nothing derives from it: its cdef methods are called directly
cdef class Engine:
    """Compiled engine: C arrays, indexed heaps, bitsets; same events as ``_engine_py``."""

    cdef object _config
    cdef int strategy
    cdef bint diversion
    cdef bint has_frt
    cdef double frt
    cdef bint has_auto_close
    cdef double auto_close_after
    cdef object _sticky_window
    cdef dict _limits          # R28: group name -> QueueLimit
    cdef frozenset _wait_limited  # R28: the groups with an oldest-wait limit
    cdef bint track_oldest     # some group has one: keep arrival heaps
    cdef bint has_ladders      # R24: some group has an escalation ladder
    cdef dict _ladders         # R24: group name -> its rungs (kefu._ladder)
    cdef dict _kinds           # R26: kind name -> weight
    cdef bint has_kinds        # R26: some kind weighs more than 1
    cdef dict _skind           # R26: session slot -> kind name, for kinded sessions only
    cdef dict _wlines          # R26: (gid, weight) -> SortedList of (-priority, arrival, slot)
    cdef tuple _weights        # R26: the distinct weights, 1 included, ascending
    cdef int max_weight        # R26: the heaviest of them
    cdef dict _lad             # R24: slot -> [since, steps reached] of laddered waiting sessions
    cdef dict _esc             # R24: group name (None: every agent) -> SortedList of
                               # (-priority, arrival, slot) of the sessions a reached step
                               # files there; only non-empty lists are kept

    # agents
    cdef Agent *ag
    cdef int ag_top
    cdef int ag_cap
    cdef int *ag_free
    cdef int ag_nfree
    cdef dict _agents          # id -> slot, registration order
    cdef list _aid             # slot -> id
    cdef list _acap            # slot -> Cap
    cdef list _agroups         # slot -> frozenset | None

    # sessions
    cdef Sess *ss
    cdef int ss_top
    cdef int ss_cap
    cdef int *ss_free
    cdef int ss_nfree
    cdef SessEntry *st         # the session registry: id -> slot (see _st_find)
    cdef Py_ssize_t st_cap     # its entries, a power of two (at least 16)
    cdef Py_ssize_t st_used    # the open sessions filed in it (at most st_cap / 2)
    cdef list _sid
    cdef list _buyer
    cdef dict _timed_out       # slot -> set of agent ids (R18), only if any

    # groups: gid -> name; indexes by slot*2 + side; waiting heaps by gid + 1.
    # A gid lives while an agent serves its group or an open session has it
    # (g_refs counts both); then the name is forgotten and the gid reused.
    cdef dict _gid
    cdef list _gname           # gid -> name, None for a free gid
    cdef int ngroups           # gids handed out so far: 0 .. ngroups - 1
    cdef int gcap              # room in the per-group arrays
    cdef int *g_refs
    cdef int *g_free
    cdef int g_nfree
    cdef int *online_groups
    cdef AgentIndex *ix
    cdef int nix
    cdef SessHeap *qs
    cdef SessHeap *aq          # R28: per group (gid + 1), waiting sessions by arrival
    cdef int nqs
    cdef int *busy_q           # the waiting heaps (gid + 1) that hold sessions
    cdef int nbusy
    cdef int waiting_count
    cdef int online_total
    cdef int online_all
    cdef bint all_live         # the ALL indexes are kept (see _wake_all)

    # timers: tm[:tm_heap] is the heap, tm[tm_heap:tm_size] the timers set since it was
    # last read (see _tm_settle)
    cdef Timer *tm
    cdef int tm_heap
    cdef int tm_size
    cdef int tm_cap
    cdef int live_timers

    cdef object _sticky        # OrderedDict buyer -> (agent id, closed_at)
    cdef Rows _rows            # the running apply_columns' event rows, else None
    cdef i64 next_reg
    cdef i64 arrival
    cdef i64 auto
    cdef i64 timer_seq
    cdef i64 rr
    cdef i64 vt

    def __cinit__(self, config):
        self.ag = NULL
        self.ss = NULL
        self.ix = NULL
        self.qs = NULL
        self.aq = NULL
        self.tm = NULL
        self.tm_heap = 0
        self.tm_size = 0
        self.ag_free = NULL
        self.ss_free = NULL
        self.online_groups = NULL
        self.g_refs = NULL
        self.g_free = NULL
        self.busy_q = NULL
        self.st = NULL
        self.st_cap = 0
        self.st_used = 0

    def __init__(self, config):
        self._config = config
        strategy = config.strategy
        self.strategy = (LEAST_LOAD if strategy is Strategy.LEAST_LOAD
                         else ROUND_ROBIN if strategy is Strategy.ROUND_ROBIN else WEIGHTED)
        self.diversion = config.offline_diversion
        self.has_frt = config.first_response_timeout is not None
        self.frt = config.first_response_timeout if self.has_frt else 0.0
        self.has_auto_close = config.auto_close_after is not None
        self.auto_close_after = config.auto_close_after if self.has_auto_close else 0.0
        self._sticky_window = config.sticky_window
        self._limits = dict(config.queue_limits)
        self._wait_limited = frozenset(g for g, lim in config.queue_limits
                                       if lim.max_wait is not None)
        self.track_oldest = len(self._wait_limited) > 0
        self._ladders = table(config)
        self.has_ladders = len(self._ladders) > 0
        self._esc = {}
        self._lad = {}
        self._kinds = dict(config.session_kinds)
        self.has_kinds = any(w > 1 for w in self._kinds.values())
        self._skind = {}
        self._wlines = {}
        self._weights = tuple(sorted({1, *self._kinds.values()}))
        self.max_weight = max(self._weights)
        self._agents = {}
        self._aid = []
        self._acap = []
        self._agroups = []
        self._st_init(16)
        self._sid = []
        self._buyer = []
        self._timed_out = {}
        self._gid = {}
        self._gname = []
        self._sticky = OrderedDict()
        self.all_live = self.strategy == ROUND_ROBIN
        self._ensure_groups(1)

    def __dealloc__(self):
        cdef int i
        if self.ag != NULL:
            for i in range(self.ag_top):
                PyMem_Free(self.ag[i].slots)
                PyMem_Free(self.ag[i].pos)
        if self.ix != NULL:
            for i in range(self.nix):
                PyMem_Free(self.ix[i].e)
                PyMem_Free(self.ix[i].bits)
        if self.qs != NULL:
            for i in range(self.nqs):
                PyMem_Free(self.qs[i].item)
                PyMem_Free(self.qs[i].ho)
        if self.aq != NULL:
            for i in range(self.nqs):
                PyMem_Free(self.aq[i].item)
        PyMem_Free(self.ag)
        PyMem_Free(self.ag_free)
        PyMem_Free(self.ss)
        PyMem_Free(self.ss_free)
        PyMem_Free(self.ix)
        PyMem_Free(self.qs)
        PyMem_Free(self.aq)
        PyMem_Free(self.tm)
        PyMem_Free(self.online_groups)
        PyMem_Free(self.g_refs)
        PyMem_Free(self.g_free)
        PyMem_Free(self.busy_q)
        PyMem_Free(self.st)

    # -- storage -------------------------------------------------------------------

    cdef int _ensure_groups(self, int ngroups) except -1:
        """Room for ``ngroups`` gids in every per-group array, grown geometrically.

        Amortised O(1) per new gid: capacity doubles, so the copying is paid
        once per doubling, not once per group name.
        """
        cdef int old_nix = self.nix
        cdef int old_nqs = self.nqs
        cdef int old_cap = self.gcap
        cdef int cap, i
        if ngroups <= self.gcap:
            return 0
        cap = max(ngroups, 2 * self.gcap, 8)
        self.online_groups = <int*>_grow(self.online_groups, cap, sizeof(int))
        self.g_refs = <int*>_grow(self.g_refs, cap, sizeof(int))
        self.g_free = <int*>_grow(self.g_free, cap, sizeof(int))
        self.busy_q = <int*>_grow(self.busy_q, cap + 1, sizeof(int))
        for i in range(old_cap, cap):
            self.online_groups[i] = 0
            self.g_refs[i] = 0
        self.ix = <AgentIndex*>_grow(self.ix, (cap + 2) * 2, sizeof(AgentIndex))
        self.nix = (cap + 2) * 2
        for i in range(old_nix, self.nix):
            self.ix[i].e = NULL
            self.ix[i].bits = NULL
            self.ix[i].size = 0
            self.ix[i].cap = 0
        self.qs = <SessHeap*>_grow(self.qs, cap + 1, sizeof(SessHeap))
        self.aq = <SessHeap*>_grow(self.aq, cap + 1, sizeof(SessHeap))
        self.nqs = cap + 1
        for i in range(old_nqs, self.nqs):
            self.qs[i].item = NULL
            self.qs[i].size = 0
            self.qs[i].cap = 0
            self.qs[i].busy = -1
            self.qs[i].root = -1
            self.qs[i].ho = NULL
            self.qs[i].ho_n = 0
            self.qs[i].ho_head = 0
            self.aq[i].item = NULL
            self.aq[i].size = 0
            self.aq[i].cap = 0
            self.aq[i].busy = -1
            self.aq[i].root = -1
            self.aq[i].ho = NULL
            self.aq[i].ho_n = 0
            self.aq[i].ho_head = 0
        self._gname.extend([None] * (cap - old_cap))
        self.gcap = cap
        return 0

    cdef int _intern(self, object name) except -2:
        """The gid of a group name (-1 for None), taking a reference to it. O(1) amortised.

        A new name gets a free gid, or the next one. Every call is matched by
        one :meth:`_release` when the agent or session holding it goes.
        """
        cdef int gid
        if name is None:
            return -1
        found = self._gid.get(name)
        if found is not None:
            gid = found
            self.g_refs[gid] += 1
            return gid
        if self.g_nfree > 0:
            gid = self.g_free[self.g_nfree - 1]
        else:
            self._ensure_groups(self.ngroups + 1)
            gid = self.ngroups
        if not self.all_live:
            self._wake_all()
        self._gid[name] = gid  # the only step that can fail: nothing is taken before it
        if self.g_nfree > 0:
            self.g_nfree -= 1
        else:
            self.ngroups += 1
        self._gname[gid] = name
        self.g_refs[gid] = 1
        return gid

    cdef int _wake_all(self) except -1:
        """Start keeping the ALL indexes (LEAST_LOAD, WEIGHTED), at the first group name.

        Only a session of some group reads them, and until a group name exists every
        agent serves every group, so they would hold the ANY indexes' agents again:
        without groups a change of load re-sifts one heap, not two. O(n log n), once;
        a failure (out of memory) changes nothing.
        """
        cdef int ai, side
        cdef Agent *a
        for side in range(2):
            self._ix_reserve(&self.ix[SLOT_ALL * 2 + side], self.ix[SLOT_ANY * 2 + side].size)
        self.all_live = True
        for ai in range(self.ag_top):
            a = &self.ag[ai]
            if a.in_use and a.all_groups:
                a.nslots = 2
                a.pos[1] = -1
                if a.indexed:
                    self._heap_add(SLOT_ALL * 2 + a.key_online, ai, 1)
        return 0

    cdef int _release(self, int gid) except -1:
        """Drop a reference to ``gid``; the last one forgets the name and frees the gid. O(1).

        Nobody serves the group and no session has it, so its indexes and its
        waiting heap are empty: their buffers are freed, so memory follows the
        groups in use, not every name ever seen.
        """
        cdef int i
        if gid < 0:
            return 0
        self.g_refs[gid] -= 1
        if self.g_refs[gid] > 0:
            return 0
        del self._gid[self._gname[gid]]
        self._gname[gid] = None
        for i in range((2 + gid) * 2, (2 + gid) * 2 + 2):
            PyMem_Free(self.ix[i].e)
            PyMem_Free(self.ix[i].bits)
            self.ix[i].e = NULL
            self.ix[i].bits = NULL
            self.ix[i].cap = 0
        PyMem_Free(self.qs[gid + 1].item)
        self.qs[gid + 1].item = NULL
        self.qs[gid + 1].cap = 0
        PyMem_Free(self.qs[gid + 1].ho)  # R25: the line's hand-overs go with the name
        self.qs[gid + 1].ho = NULL
        self.qs[gid + 1].ho_n = 0
        self.qs[gid + 1].ho_head = 0
        PyMem_Free(self.aq[gid + 1].item)
        self.aq[gid + 1].item = NULL
        self.aq[gid + 1].cap = 0
        self.g_free[self.g_nfree] = gid
        self.g_nfree += 1
        return 0

    cdef list _intern_all(self, list names):
        """The gids of ``names`` (references taken), or none taken if one fails."""
        cdef list gids = []
        try:
            for name in names:
                gids.append(self._intern(name))
        except BaseException:
            for gid in gids:
                self._release(gid)
            raise
        return gids

    cdef int _new_session_slot(self) except -1:
        cdef int si, cap
        if self.ss_nfree > 0:
            self.ss_nfree -= 1
            return self.ss_free[self.ss_nfree]
        if self.ss_top == self.ss_cap:
            # the capacity grows only once both blocks have: a failed realloc (MemoryError)
            # leaves the old blocks and the old capacity, never a capacity they lack
            cap = self.ss_cap * 2 if self.ss_cap else 64
            self.ss = <Sess*>_grow(self.ss, cap, sizeof(Sess))
            self.ss_free = <int*>_grow(self.ss_free, cap, sizeof(int))
            self.ss_cap = cap
        si = self.ss_top
        # The lists grow before the slot is counted: ``_list_put`` stores into them
        # unchecked, so a failed append (MemoryError) must leave them ss_top long.
        try:
            self._sid.append(None)
            self._buyer.append(None)
        except BaseException:
            del self._sid[si:]
            del self._buyer[si:]
            raise
        self.ss_top += 1
        return si

    cdef int _free_session_slot(self, int si) except -1:
        if self.ss[si].group >= 0:
            self._release(self.ss[si].group)
        self.ss[si].group = -1
        self.ss[si].in_use = False
        self.ss[si].ac_seq = 0
        self.ss[si].fr_seq = 0
        _list_put(self._sid, si, None)
        _list_put(self._buyer, si, None)
        if self._skind:
            self._skind.pop(si, None)
        if self.ss[si].has_timed_out:
            del self._timed_out[si]
            self.ss[si].has_timed_out = False
        self.ss_free[self.ss_nfree] = si
        self.ss_nfree += 1
        return 0

    cdef int _new_agent_slot(self) except -1:
        cdef int ai, cap
        if self.ag_nfree > 0:
            self.ag_nfree -= 1
            return self.ag_free[self.ag_nfree]
        if self.ag_top == self.ag_cap:
            cap = self.ag_cap * 2 if self.ag_cap else 16  # set once both blocks have grown
            self.ag = <Agent*>_grow(self.ag, cap, sizeof(Agent))
            self.ag_free = <int*>_grow(self.ag_free, cap, sizeof(int))
            self.ag_cap = cap
        ai = self.ag_top
        # As for sessions: the lists grow before the slot is counted. They are read and
        # written unchecked by slot, so a failed append (MemoryError) must leave them
        # ag_top long, or the next slot's writes land past their ends.
        try:
            self._aid.append(None)
            self._acap.append(None)
            self._agroups.append(None)
        except BaseException:
            del self._aid[ai:]
            del self._acap[ai:]
            del self._agroups[ai:]
            raise
        self.ag_top += 1
        self.ag[ai].slots = NULL
        self.ag[ai].pos = NULL
        self.ag[ai].in_use = False
        return ai

    cdef int _init_agent(self, int ai, str agent_id, i64 reg, object cap,
                         object groups, int weight, bint online) except -1:
        """Fill agent slot ``ai``; takes a reference to each group it serves (last, so a
        failure before it leaves no reference behind)."""
        cdef Agent *a = &self.ag[ai]
        cdef int k, n
        names = None if groups is None else sorted(groups)
        n = 2 if names is None else 1 + len(names)
        a.slots = <int*>_grow(a.slots, n, sizeof(int))
        a.pos = <int*>_grow(a.pos, n, sizeof(int))
        gids = [] if names is None else self._intern_all(names)
        # An agent serving every group is filed in ALL only once the ALL indexes are kept.
        a.nslots = n if names is not None or self.all_live else 1
        a.slots[0] = SLOT_ANY
        if names is None:
            a.slots[1] = SLOT_ALL
        else:
            for k in range(len(gids)):
                a.slots[k + 1] = 2 + <int>gids[k]
        for k in range(n):
            a.pos[k] = -1
        a.reg = reg
        a.last_auto = 0
        a.pass_ = 0
        a.gr_seq = 0
        a.gr_deadline = 0.0
        a.away = False
        self._set_limit(ai, cap)
        a.weight = weight
        a.load = 0
        a.count = 0
        a.head = -1
        a.online = online
        a.indexed = False
        a.key_online = online
        a.all_groups = names is None
        a.in_use = True
        self._aid[ai] = agent_id
        self._acap[ai] = cap
        self._agroups[ai] = groups
        return 0

    cdef void _set_limit(self, int ai, object cap):
        limit = cap.room_limit
        self.ag[ai].limit = -1 if limit is None else <int>limit

    # -- the words of docs/semantics.md ----------------------------------------------

    cdef inline bint _available(self, int ai) noexcept:
        cdef Agent *a = &self.ag[ai]
        if a.away:
            return False
        if a.limit >= 0 and a.load >= a.limit:
            return False  # also SUSPENDED: limit 0
        return a.weight > 0 or self.strategy != WEIGHTED

    cdef inline bint _online_for(self, int gid) noexcept:
        if gid < 0:
            return self.online_total > 0
        return self.online_all > 0 or self.online_groups[gid] > 0

    cdef inline bint _side_ok(self, int ai, int gid) noexcept:
        """Online, or offline under diversion with nobody online for the group (R09)."""
        if self.ag[ai].online:
            return True
        return self.diversion and not self._online_for(gid)

    cdef bint _serves(self, int ai, int gid) noexcept:
        cdef Agent *a = &self.ag[ai]
        cdef int k
        if gid < 0 or a.all_groups:
            return True
        for k in range(1, a.nslots):
            if a.slots[k] == 2 + gid:
                return True
        return False

    cdef inline bint _excludes(self, int si, int ai) except -1:
        """``ai`` timed out on ``si`` (R18): never automatically assigned to it again."""
        if not self.ss[si].has_timed_out:
            return False
        return self._aid[ai] in <set>self._timed_out[si]

    cdef inline bint _fits(self, int ai, int si) noexcept:
        """R26: ``si``'s weight is at most ``ai``'s room under its cap (UNLIMITED: always)."""
        cdef Agent *a = &self.ag[ai]
        return a.limit < 0 or a.load + self.ss[si].weight <= a.limit

    cdef inline bint _skips(self, int si, int ai) except -1:
        """Automatic assignment of ``si`` passes indexed agent ``ai`` by: it timed out on
        ``si`` (R18), or has no room for its weight (R26)."""
        return self._excludes(si, ai) or (self.ss[si].weight > 1 and not self._fits(ai, si))

    cdef bint _eligible(self, int ai, int si) except -1:
        cdef int gid = self.ss[si].group
        return (self.ag[ai].indexed and not self._skips(si, ai)
                and ((self._serves(ai, gid) and self._side_ok(ai, gid))
                     or (self.ag[ai].online and self.has_ladders and self._step(si) > 0
                         and self._reaches(ai, si))))

    # -- R24: escalation ladders -----------------------------------------------------------
    #
    # A waiting session's pending step timer number shares ``Sess.fr_seq`` with the
    # first-response timer, which only an assigned session has; the rest of its ladder state
    # is in ``_lad`` (slot -> [since, steps reached]). So a shop without a ladder keeps its
    # session records as they were, and every hot path asks ``has_ladders`` first.

    cdef int _step(self, int si) except -1:
        """The ladder steps ``si`` reached in its current wait (0 if none). O(1)."""
        state = self._lad.get(si)
        return 0 if state is None else <int>state[1]

    cdef bint _reaches(self, int ai, int si) except -1:
        """A ladder step ``si`` reached brings ``ai`` in. O(groups reached)."""
        rungs = self._ladders[self._gname[self.ss[si].group]]
        groups = self._agroups[ai]
        step = self._step(si)
        if reached_all(rungs, step) or groups is None:
            return True
        return len(groups & reached_groups(rungs, step)) > 0

    cdef list _esc_slots(self, int si):
        """The escalated lists ``si`` is filed in (its reached steps' groups; None: all)."""
        rungs = self._ladders[self._gname[self.ss[si].group]]
        return [None if rung.groups is None else g
                for rung in rungs[:self._step(si)] for g in (rung.groups or (None,))]

    cdef int _start_ladder(self, int si, object now) except -1:
        """``si`` starts to wait in its group's line at ``now``; with a ladder, the first
        step's timer starts. O(log t)."""
        cdef int gid = self.ss[si].group
        if gid < 0:
            return 0
        rungs = self._ladders.get(self._gname[gid])
        cdef double deadline
        if rungs:
            deadline = <double>now + <double>rungs[0].after
            self._tm_reserve()
            self._lad[si] = [<double>now, 0]  # its one failure changes nothing
            self._set_escalation(si, deadline)
        return 0

    cdef int _set_escalation(self, int si, double deadline) except -1:
        self._tm_reserve()
        self.timer_seq += 1
        self.ss[si].fr_seq = self.timer_seq
        self._tm_push(deadline, self.timer_seq, ESCALATE, si)
        self.live_timers += 1
        return 0

    cdef object _next_deadline_of(self, int si):
        """The pending step's deadline of ``si``: the start of its wait plus that step's
        ``after`` (the timer was set to exactly this)."""
        since, step = self._lad[si]
        return <double>since + <double>self._ladders[self._gname[self.ss[si].group]][step].after

    cdef int _end_ladder(self, int si) except -1:
        """The wait of ``si`` is over: out of the escalated lists, its timer stopped.
        Whole or not at all: its allocations (the key, the slots, SortedList.remove) come
        first, and a failed remove re-files the lists from scratch. O(groups reached x
        log w)."""
        key = (-self.ss[si].priority, self.ss[si].arrival, si)
        slots = self._esc_slots(si)
        try:
            for slot in slots:
                entries = self._esc[slot]
                entries.remove(key)
                if not entries:
                    del self._esc[slot]
        except BaseException:
            self._refile_escalated()  # SortedList.remove is not whole on MemoryError
            raise
        if self.ss[si].fr_seq:
            self.ss[si].fr_seq = 0
            self._drop_timer()
        del self._lad[si]
        return 0

    cdef void _refile_escalated(self) noexcept:
        """R24: rebuild every escalated list from the ladder states after a SortedList
        failed halfway (a MemoryError). O(w log w), on failures only; if memory fails
        again the lists stay as they are."""
        cdef int si
        try:
            esc = {}
            for si in self._lad:
                key = (-self.ss[si].priority, self.ss[si].arrival, si)
                for slot in self._esc_slots(si):
                    esc.setdefault(slot, []).append(key)
            self._esc = {slot: SortedList(keys) for slot, keys in esc.items()}
        except BaseException:
            pass

    cdef int _escalate(self, int si, object now, list events) except -1:
        """``si`` reaches its next ladder step at the deadline ``now``: filed under the
        step's groups; if an agent they bring in has room, it goes to the strategy's choice
        at once (a drain); otherwise the next step's timer starts, from the start of the
        wait. O(groups added x log w + log n) plus the hand-over."""
        cdef int ai, step
        name = self._gname[self.ss[si].group]
        rungs = self._ladders[name]
        state = self._lad[si]
        self.ss[si].fr_seq = 0
        self._drop_timer()
        step = state[1]
        rung = rungs[step]
        step += 1
        state[1] = step
        key = (-self.ss[si].priority, self.ss[si].arrival, si)
        for slot in (rung.groups or (None,)):
            entries = self._esc.get(slot)
            if entries is None:
                entries = self._esc[slot] = SortedList()
            entries.add(key)
        sid = self._sid[si]
        buyer = self._buyer[si]
        self._emit(events, EV_ESCALATED, sid, name, step, rung.names, now, buyer)
        ai = self._select(si)
        if ai >= 0:
            self._hand_out(si, ai, now, True)
            self._emit(events, EV_ASSIGNED, sid, self._aid[ai], now, R_DRAIN, buyer, None)
        elif step < len(rungs):
            self._set_escalation(si, <double>state[0] + <double>rungs[step].after)
        return 0

    cdef int _best_escalated(self, int ai, int best) except -2:
        """The better of ``best`` and the first session of each escalated list ``ai``'s
        groups (and every-agent steps) hold that ``ai`` did not time out on."""
        cdef int si
        esc = self._esc
        slots = [g for g in self._agroups[ai] if g in esc]
        if None in esc:
            slots.append(None)
        for slot in slots:
            for entry in esc[slot]:
                si = entry[2]
                if not self._skips(si, ai):
                    if best < 0 or self._before(si, best):
                        best = si
                    break
        return best

    cdef inline bint _less(self, int x, int y) noexcept:
        """Agent x's strategy key is smaller than y's."""
        return _agent_less(&self.ag[x], &self.ag[y], self.strategy)

    cdef inline void _normalise(self, int ai) noexcept:
        """WEIGHTED: an agent (re)joining cannot claim a burst of owed sessions."""
        cdef Agent *a = &self.ag[ai]
        cdef i64 fair
        if self.strategy == WEIGHTED and a.weight > 0:
            fair = self.vt + C_STRIDE_BASE // a.weight
            if fair > a.pass_:
                a.pass_ = fair

    # -- agent heaps (LEAST_LOAD, WEIGHTED) ---------------------------------------------

    cdef inline void _ix_put(self, AgentIndex *h, int pos, int ai, int k) noexcept:
        """File agent ``ai`` (its slot ``k``) at ``pos`` with its current key. O(1)."""
        h.e[pos].agent = ai
        h.e[pos].k = k
        _entry_key(&self.ag[ai], &h.e[pos], self.strategy)
        self.ag[ai].pos[k] = pos

    cdef inline void _ix_move(self, AgentIndex *h, int to, int frm) noexcept:
        """Move the entry at ``frm`` (its key with it) to ``to``. O(1)."""
        _ix_set(self.ag, h.e, to, &h.e[frm])

    cdef void _sift_up(self, AgentIndex *h, int pos) noexcept:
        """Move the agent at ``pos`` up to its place. O(log n)."""
        _sift_up_by(self.ag, h, pos, 0)

    cdef void _sift_down(self, AgentIndex *h, int pos) noexcept:
        """Move the agent at ``pos`` down to its place (``_sift_down_by``). O(log n)."""
        _sift_down_by(self.ag, h, pos)

    cdef int _ix_reserve(self, AgentIndex *h, int n) except -1:
        cdef int old_words = (h.cap + 63) // 64
        cdef int words, i, cap
        if n > h.cap:
            cap = max(n, h.cap * 2, 64)  # set once every block has grown
            h.e = <IxEntry*>_grow(h.e, cap, sizeof(IxEntry))
            words = (cap + 63) // 64
            h.bits = <u64*>_grow(h.bits, words, sizeof(u64))
            for i in range(old_words, words):
                h.bits[i] = 0
            h.cap = cap
        return 0

    cdef int _heap_add(self, int index_id, int ai, int k) except -1:
        cdef AgentIndex *h = &self.ix[index_id]
        self._ix_reserve(h, h.size + 1)
        h.size += 1
        self._ix_put(h, h.size - 1, ai, k)
        self._sift_up(h, h.size - 1)
        return 0

    cdef void _heap_remove(self, int index_id, int pos) noexcept:
        cdef AgentIndex *h = &self.ix[index_id]
        cdef int last = h.size - 1
        self.ag[h.e[pos].agent].pos[h.e[pos].k] = -1
        cdef int moved = h.e[last].agent
        cdef int moved_k = h.e[last].k
        h.size = last
        if pos != last:
            self._ix_move(h, pos, last)
            self._sift_up(h, pos)
            self._sift_down(h, self.ag[moved].pos[moved_k])

    cdef inline void _heap_fix(self, int index_id, int pos, int moved) noexcept:
        """Re-sift the entry at ``pos`` after its agent's key changed: ``moved`` > 0 if
        it can only have grown (only a descent can move it), < 0 if only shrunk, else 0.
        The sifts are called directly (inlined): a session given or taken runs this once
        per index of its agent. O(log n)."""
        cdef AgentIndex *h = &self.ix[index_id]
        cdef Agent *a = &self.ag[h.e[pos].agent]
        cdef int k = h.e[pos].k
        _entry_key(a, &h.e[pos], self.strategy)
        if moved <= 0:
            _sift_up_by(self.ag, h, pos, 0)
        if moved >= 0:  # from where the ascent left it (``pos`` when there was none)
            _sift_down_by(self.ag, h, a.pos[k])

    # -- ROUND_ROBIN members: sorted by reg, with an availability bitset ---------------

    cdef inline void _rr_bit(self, AgentIndex *h, int pos, bint on) noexcept:
        if on:
            h.bits[pos >> 6] |= (<u64>1) << (pos & 63)
        else:
            h.bits[pos >> 6] &= ~((<u64>1) << (pos & 63))

    cdef inline bint _rr_test(self, AgentIndex *h, int pos) noexcept:
        return (h.bits[pos >> 6] >> (pos & 63)) & 1

    cdef int _rr_insert(self, int index_id, int ai, int k, bint on) except -1:
        """File an agent by reg; shifts later members (and their bits) one place up."""
        cdef AgentIndex *h = &self.ix[index_id]
        cdef i64 reg = self.ag[ai].reg
        cdef int lo = 0, hi, mid, i
        self._ix_reserve(h, h.size + 1)
        hi = h.size
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.ag[h.e[mid].agent].reg < reg:
                lo = mid + 1
            else:
                hi = mid
        i = h.size
        while i > lo:
            self._ix_move(h, i, i - 1)
            self._rr_bit(h, i, self._rr_test(h, i - 1))
            i -= 1
        h.size += 1
        self._ix_put(h, lo, ai, k)
        self._rr_bit(h, lo, on)
        return 0

    cdef void _rr_remove(self, int index_id, int pos) noexcept:
        cdef AgentIndex *h = &self.ix[index_id]
        cdef int i
        self.ag[h.e[pos].agent].pos[h.e[pos].k] = -1
        for i in range(pos, h.size - 1):
            self._ix_move(h, i, i + 1)
            self._rr_bit(h, i, self._rr_test(h, i + 1))
        h.size -= 1
        self._rr_bit(h, h.size, False)

    cdef int _rr_next(self, AgentIndex *h, int start) noexcept:
        """First available position >= start, or -1: a word-at-a-time scan."""
        cdef int word, nwords
        cdef u64 bits
        if start >= h.size:
            return -1
        nwords = (h.size + 63) >> 6
        word = start >> 6
        bits = h.bits[word] & (~(<u64>0) << (start & 63))
        while True:
            if bits:
                start = (word << 6) + _ctz(bits)
                return start if start < h.size else -1
            word += 1
            if word >= nwords:
                return -1
            bits = h.bits[word]

    # -- filing agents -----------------------------------------------------------------

    cdef int _rr_join_side(self, int ai) except -1:
        """ROUND_ROBIN: make ``ai`` a member of its current side's slots."""
        cdef Agent *a = &self.ag[ai]
        cdef int k
        cdef bint on = a.indexed
        for k in range(a.nslots):
            self._rr_insert(self.ag[ai].slots[k] * 2 + self.ag[ai].online, ai, k, on)
        self.ag[ai].key_online = self.ag[ai].online
        return 0

    cdef void _rr_leave_side(self, int ai) noexcept:
        cdef int k
        for k in range(self.ag[ai].nslots):
            if self.ag[ai].pos[k] >= 0:
                self._rr_remove(self.ag[ai].slots[k] * 2 + self.ag[ai].key_online,
                                self.ag[ai].pos[k])

    cdef void _unindex(self, int ai) noexcept:
        """Take the agent out of selection (it stays a ROUND_ROBIN member, bit cleared)."""
        cdef Agent *a = &self.ag[ai]
        cdef int k, side
        if not a.indexed:
            return
        side = a.key_online
        for k in range(a.nslots):
            if self.strategy == ROUND_ROBIN:
                self._rr_bit(&self.ix[a.slots[k] * 2 + side], a.pos[k], False)
            else:
                self._heap_remove(a.slots[k] * 2 + side, a.pos[k])
        a.indexed = False

    cdef inline int _update(self, int ai, int moved) except -1:
        """Re-file an agent after its load, cap, weight, side or key changed; ``moved``
        as in ``_heap_fix`` (a session given never lowers the key, one taken never
        raises it; 0 when not known). O(g log n).

        The common case (filed, still available, on the side it was filed on: a
        session given or taken) is inlined into its callers; the rest is ``_refile``."""
        cdef Agent *a = &self.ag[ai]
        cdef int k
        if a.indexed and a.key_online == a.online and self._available(ai):
            if self.strategy != ROUND_ROBIN:
                for k in range(a.nslots):
                    self._heap_fix(a.slots[k] * 2 + a.online, a.pos[k], moved)
            return 0
        return self._refile(ai)

    cdef int _refile(self, int ai) except -1:
        """``_update`` when the agent leaves its indexes, joins them or changes side.
        O(g log n)."""
        cdef Agent *a = &self.ag[ai]
        cdef bint was = a.indexed
        cdef int k, side
        if not self._available(ai):
            self._unindex(ai)
            return 0
        self._unindex(ai)
        if not was:
            self._normalise(ai)
        a = &self.ag[ai]
        side = a.online
        if self.strategy == ROUND_ROBIN:
            for k in range(a.nslots):
                self._rr_bit(&self.ix[a.slots[k] * 2 + side], a.pos[k], True)
        else:
            for k in range(a.nslots):
                self._heap_add(self.ag[ai].slots[k] * 2 + side, ai, k)
        a = &self.ag[ai]
        a.indexed = True
        a.key_online = side
        return 0

    cdef void _count_online(self, int ai, int delta) noexcept:
        cdef Agent *a = &self.ag[ai]
        cdef int k
        self.online_total += delta
        if a.all_groups:
            self.online_all += delta
        else:
            for k in range(1, a.nslots):
                self.online_groups[a.slots[k] - 2] += delta

    # -- selection (R11) ----------------------------------------------------------------

    cdef int _heap_first_allowed(self, AgentIndex *h, int pos, int si) except -2:
        """Smallest agent in the subtree at ``pos`` that ``si`` does not skip (R18, R26)."""
        cdef int ai, child, cand, best = -1
        if pos >= h.size:
            return -1
        ai = h.e[pos].agent
        if not self._skips(si, ai):
            return ai
        for child in range(4 * pos + 1, 4 * pos + 5):
            cand = self._heap_first_allowed(h, child, si)
            if cand >= 0 and (best < 0 or self._less(cand, best)):
                best = cand
        return best

    cdef int _rr_first_allowed(self, AgentIndex *h, int start, int stop, int si) except -2:
        cdef int pos = self._rr_next(h, start)
        while pos >= 0 and pos < stop:
            if not self._skips(si, h.e[pos].agent):
                return pos
            pos = self._rr_next(h, pos + 1)
        return -1

    cdef int _select(self, int si) except -2:
        """The strategy's choice among the agents eligible for ``si``, or -1."""
        cdef int gid = self.ss[si].group
        cdef int side, n
        cdef int ids[2]
        cdef AgentIndex *own
        cdef AgentIndex *every
        if (self.strategy != ROUND_ROBIN and not self.has_ladders
                and not self.ss[si].has_timed_out and self.ss[si].weight == 1
                and self._online_for(gid)):
            # The common case, read off the heads of the online heaps: no agent to skip
            # (R18, R26), no ladder, a heap strategy. What ``_select_in`` gives then.
            if gid < 0:
                own = &self.ix[SLOT_ANY * 2 + 1]
                return own.e[0].agent if own.size > 0 else -1
            own = &self.ix[(2 + gid) * 2 + 1]
            every = &self.ix[SLOT_ALL * 2 + 1]
            if every.size > 0 and (own.size == 0 or _entry_less(&every.e[0], &own.e[0])):
                return every.e[0].agent
            return own.e[0].agent if own.size > 0 else -1
        if self._online_for(gid):
            side = 1
        elif self.diversion:
            side = 0
        elif self.has_ladders and self._step(si):
            return self._select_wide(si, ids, 0)
        else:
            return -1
        if gid < 0:
            ids[0] = SLOT_ANY * 2 + side
            n = 1
        else:
            ids[0] = (2 + gid) * 2 + side
            ids[1] = SLOT_ALL * 2 + side
            n = 2
        if self.has_ladders and self._step(si):
            return self._select_wide(si, ids, n)
        return self._select_in(si, ids, n)

    cdef int _select_wide(self, int si, int *own, int n) except -2:
        """R24: the choice among the agents of ``own`` (``n`` indexes) and the online
        agents of the ladder steps ``si`` reached. O(groups reached x log n)."""
        cdef int m = 0, i
        slots = self._esc_slots(si)
        cdef int *ids = <int*>PyMem_Malloc((n + len(slots) + 1) * sizeof(int))
        if ids == NULL:
            raise MemoryError()
        try:
            for i in range(n):
                ids[m] = own[i]
                m += 1
            for slot in slots:
                if slot is None:
                    ids[m] = SLOT_ANY * 2 + 1
                    m += 1
                else:
                    gid = self._gid.get(slot)
                    if gid is not None:
                        ids[m] = (2 + <int>gid) * 2 + 1
                        m += 1
            return self._select_in(si, ids, m)
        finally:
            PyMem_Free(ids)

    cdef int _select_in(self, int si, int *ids, int n) except -2:
        """The strategy's best agent for ``si`` among the indexes ``ids``, or -1."""
        cdef int i, cand, best = -1
        cdef AgentIndex *h
        cdef int lo, hi, mid, pos, best_wrap = 0, wrap
        if self.strategy == ROUND_ROBIN:
            for i in range(n):
                h = &self.ix[ids[i]]
                if h.size == 0:
                    continue
                lo = 0
                hi = h.size
                while lo < hi:
                    mid = (lo + hi) >> 1
                    if self.ag[h.e[mid].agent].reg < self.rr:
                        lo = mid + 1
                    else:
                        hi = mid
                # (0, reg) at or after the pointer beats (1, reg) after wrapping.
                wrap = 0
                pos = self._rr_first_allowed(h, lo, h.size, si)
                if pos < 0:
                    wrap = 1
                    pos = self._rr_first_allowed(h, 0, lo, si)
                if pos < 0:
                    continue
                cand = h.e[pos].agent
                if best < 0 or wrap < best_wrap or (
                        wrap == best_wrap and self.ag[cand].reg < self.ag[best].reg):
                    best = cand
                    best_wrap = wrap
            return best
        for i in range(n):
            h = &self.ix[ids[i]]
            if h.size == 0:
                continue
            cand = h.e[0].agent
            if self.ss[si].has_timed_out or self.ss[si].weight > 1:
                cand = self._heap_first_allowed(h, 0, si)
                if cand < 0:
                    continue
            if best < 0 or self._less(cand, best):
                best = cand
        return best

    # -- waiting heaps (R07) -------------------------------------------------------------

    cdef inline bint _before(self, int x, int y) noexcept:
        """Session x's R07 key (-priority, arrival) is smaller than y's."""
        if self.ss[x].priority != self.ss[y].priority:
            return self.ss[x].priority > self.ss[y].priority
        return self.ss[x].arrival < self.ss[y].arrival

    cdef void _q_up(self, SessHeap *q, int pos) noexcept:
        cdef int si = q.item[pos]
        cdef int parent
        while pos > 0:
            parent = (pos - 1) >> 1
            if not self._before(si, q.item[parent]):
                break
            q.item[pos] = q.item[parent]
            self.ss[q.item[pos]].qpos = pos
            pos = parent
        q.item[pos] = si
        self.ss[si].qpos = pos

    cdef void _q_down(self, SessHeap *q, int pos) noexcept:
        cdef int si = q.item[pos]
        cdef int n = q.size
        cdef int child
        while True:
            child = 2 * pos + 1
            if child >= n:
                break
            if child + 1 < n and self._before(q.item[child + 1], q.item[child]):
                child += 1
            if not self._before(q.item[child], si):
                break
            q.item[pos] = q.item[child]
            self.ss[q.item[pos]].qpos = pos
            pos = child
        q.item[pos] = si
        self.ss[si].qpos = pos

    cdef void _a_up(self, SessHeap *q, int pos) noexcept:
        """R28 arrival heap: sift up by arrival (the first to arrive on top)."""
        cdef int si = q.item[pos]
        cdef int parent
        while pos > 0:
            parent = (pos - 1) >> 1
            if self.ss[si].arrival >= self.ss[q.item[parent]].arrival:
                break
            q.item[pos] = q.item[parent]
            self.ss[q.item[pos]].apos = pos
            pos = parent
        q.item[pos] = si
        self.ss[si].apos = pos

    cdef void _a_down(self, SessHeap *q, int pos) noexcept:
        cdef int si = q.item[pos]
        cdef int n = q.size
        cdef int child
        while True:
            child = 2 * pos + 1
            if child >= n:
                break
            if (child + 1 < n
                    and self.ss[q.item[child + 1]].arrival < self.ss[q.item[child]].arrival):
                child += 1
            if self.ss[q.item[child]].arrival >= self.ss[si].arrival:
                break
            q.item[pos] = q.item[child]
            self.ss[q.item[pos]].apos = pos
            pos = child
        q.item[pos] = si
        self.ss[si].apos = pos

    cdef int _a_reserve(self, SessHeap *q) except -1:
        """Room for one more in an arrival heap (the only step of _a_push that can fail)."""
        if q.size == q.cap:
            q.item = <int*>_grow(q.item, q.cap * 2 if q.cap else 16, sizeof(int))
            q.cap = q.cap * 2 if q.cap else 16
        return 0

    cdef int _a_push(self, int si) except -1:
        """File a waiting session of an oldest-wait-limited group by arrival. O(log w)."""
        cdef SessHeap *q = &self.aq[self.ss[si].group + 1]
        self._a_reserve(q)
        q.item[q.size] = si
        q.size += 1
        self._a_up(q, q.size - 1)
        return 0

    cdef void _a_remove(self, int si) noexcept:
        cdef SessHeap *q = &self.aq[self.ss[si].group + 1]
        cdef int pos = self.ss[si].apos
        cdef int last = q.size - 1
        cdef int moved = q.item[last]
        q.size = last
        if pos != last:
            q.item[pos] = moved
            self.ss[moved].apos = pos
            self._a_up(q, pos)
            self._a_down(q, self.ss[moved].apos)
        self.ss[si].apos = -1

    cdef int _enqueue(self, int si, int pool) except -1:
        """File a waiting session. Whole or not at all: every allocation (the heaps'
        growth, the kinds' line) comes before the first change. O(log w)."""
        cdef int qi = self.ss[si].group + 1
        cdef SessHeap *q = &self.qs[qi]
        cdef bint by_arrival = (self.track_oldest and qi > 0
                                and self._gname[qi - 1] in self._wait_limited)
        if by_arrival:
            self._a_reserve(&self.aq[qi])
        if q.size == q.cap:
            q.item = <int*>_grow(q.item, q.cap * 2 if q.cap else 16, sizeof(int))
            q.cap = q.cap * 2 if q.cap else 16
        if self.has_kinds:
            self._line_add(si)
        if by_arrival:
            self._a_push(si)
        if q.size == 0:
            q.busy = self.nbusy
            self.busy_q[self.nbusy] = qi
            self.nbusy += 1
        self.ss[si].pool = pool
        q.item[q.size] = si
        q.size += 1
        self._q_up(q, q.size - 1)
        q.root = self._t_insert(q.root, si)
        self.waiting_count += 1
        return 0

    cdef int _line_add(self, int si) except -1:
        """R26: file a waiting session in its (group, weight) line; a new line is made
        whole before it is filed, so a failure leaves no empty line. O(log w)."""
        key = (self.ss[si].group, self.ss[si].weight)
        entry = (-self.ss[si].priority, self.ss[si].arrival, si)
        line = self._wlines.get(key)
        if line is None:
            self._wlines[key] = SortedList((entry,))
        else:
            try:
                line.add(entry)
            except BaseException:
                self._refile_line(key)  # SortedList.add is not whole on MemoryError
                raise
        return 0

    cdef void _refile_line(self, tuple key) noexcept:
        """R26: rebuild the line ``key`` from its waiting heap after a SortedList failed
        halfway (a MemoryError; callers change the heap only after the line). O(w log w),
        on failures only; if memory fails again the line stays as it is."""
        cdef int gid = key[0], weight = key[1], i, si
        cdef SessHeap *q = &self.qs[gid + 1]
        try:
            entries = []
            for i in range(q.size):
                si = q.item[i]
                if self.ss[si].weight == weight:
                    entries.append((-self.ss[si].priority, self.ss[si].arrival, si))
            if entries:
                self._wlines[key] = SortedList(entries)
            else:
                self._wlines.pop(key, None)
        except BaseException:
            pass

    cdef int _dequeue(self, int si) except -1:
        """Take a waiting session out of its line. Whole or not at all: only leaving its
        (group, weight) line allocates, and that comes first. O(log w)."""
        if self.has_kinds:
            self._leave_line(si)
        self._leave_heap(si)
        return 0

    cdef int _unfile(self, int si) except -1:
        """The steps of leaving a wait that allocate, each whole, before anything else
        changes: out of its (group, weight) line (R26), its ladder ended (R24). A failure
        after the line is left files the session back in it. O(log w), plus the ladder's
        O(groups reached x log w)."""
        if self.has_kinds:
            self._leave_line(si)
        if self.has_ladders and si in self._lad:
            try:
                self._end_ladder(si)
            except BaseException:
                if self.has_kinds:
                    self._refile_line((self.ss[si].group, self.ss[si].weight))
                raise
        return 0

    cdef int _leave_line(self, int si) except -1:
        """R26: ``si`` out of its (group, weight) line; whole (a failure re-files it)."""
        key = (self.ss[si].group, self.ss[si].weight)
        line = self._wlines[key]
        try:
            line.remove((-self.ss[si].priority, self.ss[si].arrival, si))
        except BaseException:
            self._refile_line(key)  # not whole on MemoryError: as it was
            raise
        if not line:
            del self._wlines[key]
        return 0

    cdef int _leave_heap(self, int si) except -1:
        """``si`` out of its waiting heap, its rank treap and the age heap. Allocates
        nothing. O(log w)."""
        if self.ss[si].apos >= 0:
            self._a_remove(si)
        cdef SessHeap *q = &self.qs[self.ss[si].group + 1]
        cdef int pos = self.ss[si].qpos
        cdef int last = q.size - 1
        cdef int moved = q.item[last]
        q.root = self._t_erase(q.root, si)
        q.size = last
        if pos != last:
            q.item[pos] = moved
            self.ss[moved].qpos = pos
            self._q_up(q, pos)
            self._q_down(q, self.ss[moved].qpos)
        if last == 0:
            self._unbusy(q)
        self.ss[si].pool = POOL_NONE
        self.ss[si].qpos = -1
        self.waiting_count -= 1
        return 0

    cdef void _unbusy(self, SessHeap *q) noexcept:
        """Take an emptied waiting heap off the busy list (swap with the last). O(1)."""
        cdef int moved = self.busy_q[self.nbusy - 1]
        self.busy_q[q.busy] = moved
        self.qs[moved].busy = q.busy
        self.nbusy -= 1
        q.busy = -1

    cdef int _queue_first_allowed(self, SessHeap *q, int pos, int ai) except -2:
        """Smallest session in the subtree at ``pos`` that ``ai`` did not time out on and
        has room for (R26)."""
        cdef int si, left, right
        if pos >= q.size:
            return -1
        si = q.item[pos]
        if not self._skips(si, ai):
            return si
        left = self._queue_first_allowed(q, 2 * pos + 1, ai)
        right = self._queue_first_allowed(q, 2 * pos + 2, ai)
        if left < 0:
            return right
        if right < 0 or self._before(left, right):
            return left
        return right

    cdef int _best_waiting_in(self, int ai, int gid, int best) except -2:
        cdef SessHeap *q = &self.qs[gid + 1]
        cdef int cand
        if q.size == 0 or not self._side_ok(ai, gid):
            return best
        cand = self._queue_first_allowed(q, 0, ai)
        if cand >= 0 and (best < 0 or self._before(cand, best)):
            return cand
        return best

    cdef int _best_light(self, int ai, int gid, int room, int best) except -2:
        """R26: the better of ``best`` and the first session of each line of group ``gid``
        whose weight is at most ``room`` that ``ai`` did not time out on. O(k) plus the
        sessions skipped (R18)."""
        cdef int si, w
        if not self._side_ok(ai, gid):
            return best
        for w in self._weights:
            if w > room:
                break
            line = self._wlines.get((gid, w))
            if line is None:
                continue
            for entry in line:
                si = entry[2]
                if not self._excludes(si, ai):
                    if best < 0 or self._before(si, best):
                        best = si
                    break
        return best

    cdef int _best_waiting_for(self, int ai) except -2:
        """The waiting session with the smallest R07 key that ``ai`` is eligible for."""
        cdef Agent *a = &self.ag[ai]
        cdef int best = -1, b, k
        if self.has_kinds and a.limit >= 0 and a.limit - a.load < self.max_weight:
            # R26: only the lines of the weights it has room for
            if a.all_groups:
                for b in range(self.nbusy):
                    best = self._best_light(ai, self.busy_q[b] - 1, a.limit - a.load, best)
            else:
                best = self._best_light(ai, -1, a.limit - a.load, best)
                for k in range(1, a.nslots):
                    best = self._best_light(ai, a.slots[k] - 2, a.limit - a.load, best)
                if self.has_ladders and a.online and self._esc:
                    best = self._best_escalated(ai, best)
            return best
        if a.all_groups:
            # Only the heaps that hold sessions: O(groups with waiting sessions).
            for b in range(self.nbusy):
                best = self._best_waiting_in(ai, self.busy_q[b] - 1, best)
        else:
            best = self._best_waiting_in(ai, -1, best)
            for k in range(1, a.nslots):
                best = self._best_waiting_in(ai, self.ag[ai].slots[k] - 2, best)
            if self.has_ladders and a.online and self._esc:
                best = self._best_escalated(ai, best)
        return best

    # -- R25: each waiting line ranked (an order-statistic treap per group) ----------------
    #
    # Beside its heap, each group's line is a treap keyed by the R07 key, whose nodes are
    # the session slots (tl, tr, tsz in Sess): a binary search tree by R07 key, a heap by
    # a fixed hash of the arrival number, so its depth is O(log w) whatever order sessions
    # come and go in; every node knows its subtree's size, so a session's rank is one
    # descent from the root. Insert, erase and rank cost O(log w) each.

    cdef inline u64 _t_prio(self, int si) noexcept:
        """A treap node's heap priority: splitmix64 of its arrival number."""
        cdef u64 z = <u64>self.ss[si].arrival + <u64>0x9E3779B97F4A7C15ULL
        z = (z ^ (z >> 30)) * <u64>0xBF58476D1CE4E5B9ULL
        z = (z ^ (z >> 27)) * <u64>0x94D049BB133111EBULL
        return z ^ (z >> 31)

    cdef inline int _t_size(self, int t) noexcept:
        return self.ss[t].tsz if t >= 0 else 0

    cdef inline void _t_fix(self, int t) noexcept:
        self.ss[t].tsz = 1 + self._t_size(self.ss[t].tl) + self._t_size(self.ss[t].tr)

    cdef void _t_split(self, int t, int si, int *left, int *right) noexcept:
        """Split the treap at ``t`` into the nodes before ``si`` (R07) and the rest."""
        cdef int l, r
        if t < 0:
            left[0] = -1
            right[0] = -1
        elif self._before(t, si):
            self._t_split(self.ss[t].tr, si, &l, &r)
            self.ss[t].tr = l
            self._t_fix(t)
            left[0] = t
            right[0] = r
        else:
            self._t_split(self.ss[t].tl, si, &l, &r)
            self.ss[t].tl = r
            self._t_fix(t)
            left[0] = l
            right[0] = t

    cdef int _t_merge(self, int a, int b) noexcept:
        """Join two treaps, every node of ``a`` before every node of ``b``."""
        if a < 0:
            return b
        if b < 0:
            return a
        if self._t_prio(a) > self._t_prio(b):
            self.ss[a].tr = self._t_merge(self.ss[a].tr, b)
            self._t_fix(a)
            return a
        self.ss[b].tl = self._t_merge(a, self.ss[b].tl)
        self._t_fix(b)
        return b

    cdef int _t_insert(self, int t, int si) noexcept:
        """Add session ``si`` to the treap at ``t``; return the new root. O(log w)."""
        cdef int l, r
        if t < 0 or self._t_prio(si) > self._t_prio(t):
            self._t_split(t, si, &l, &r)
            self.ss[si].tl = l
            self.ss[si].tr = r
            self._t_fix(si)
            return si
        if self._before(si, t):
            self.ss[t].tl = self._t_insert(self.ss[t].tl, si)
        else:
            self.ss[t].tr = self._t_insert(self.ss[t].tr, si)
        self.ss[t].tsz += 1
        return t

    cdef int _t_erase(self, int t, int si) noexcept:
        """Take session ``si`` (which is in it) out of the treap at ``t``; return the new
        root. O(log w)."""
        if t == si:
            return self._t_merge(self.ss[t].tl, self.ss[t].tr)
        if self._before(si, t):
            self.ss[t].tl = self._t_erase(self.ss[t].tl, si)
        else:
            self.ss[t].tr = self._t_erase(self.ss[t].tr, si)
        self.ss[t].tsz -= 1
        return t

    cdef int _t_rank(self, int t, int si) noexcept:
        """How many sessions of the treap at ``t`` come before ``si`` (which is in it)."""
        cdef int ahead = 0
        while t != si:
            if self._before(si, t):
                t = self.ss[t].tl
            else:
                ahead += self._t_size(self.ss[t].tl) + 1
                t = self.ss[t].tr
        return ahead + self._t_size(self.ss[si].tl)

    cdef int _t_check(self, int t, int lo, int hi) except -2:
        """Verify the treap at ``t`` (keys strictly between slots lo and hi, -1 = open
        bound): order, heap priority and sizes; return its size."""
        cdef int child
        if t < 0:
            return 0
        if (lo >= 0 and not self._before(lo, t)) or (hi >= 0 and not self._before(t, hi)):
            raise AssertionError("R25 rank treap out of order")
        for child in (self.ss[t].tl, self.ss[t].tr):
            if child >= 0 and self._t_prio(child) > self._t_prio(t):
                raise AssertionError("R25 rank treap out of heap order")
        if self.ss[t].tsz != (1 + self._t_check(self.ss[t].tl, lo, t)
                              + self._t_check(self.ss[t].tr, t, hi)):
            raise AssertionError("R25 rank treap sizes")
        return self.ss[t].tsz

    # -- moving sessions -------------------------------------------------------------------

    cdef int _hand_out(self, int si, int ai, object now, bint automatic) except -1:
        """Give a waiting session to ``ai``, recording a hand-over from its line (R25)."""
        cdef SessHeap *q = &self.qs[self.ss[si].group + 1]
        cdef double t = now
        cdef double last
        if q.ho == NULL:
            q.ho = <double*>_grow(NULL, C_MAX_SAMPLE, sizeof(double))
        if self.has_frt:
            self._tm_reserve()  # for _give, before the line changes
        self._unfile(si)
        if q.ho_n > 0:
            last = q.ho[(q.ho_head + C_MAX_SAMPLE - 1) % C_MAX_SAMPLE]
            if last > t:
                t = last
        q.ho[q.ho_head] = t
        q.ho_head = (q.ho_head + 1) % C_MAX_SAMPLE
        if q.ho_n < C_MAX_SAMPLE:
            q.ho_n += 1
        self._leave_heap(si)
        self._give(si, ai, now, automatic)
        return 0

    cdef int _give(self, int si, int ai, object now, bint automatic) except -1:
        """Give an unplaced session to ``ai``. Whole or not at all: its one allocation
        (the timer heap's growth) comes first; re-filing a given agent allocates
        nothing (it only moves in its heaps or leaves them). O(g log n)."""
        if self.has_frt:
            self._tm_reserve()
        cdef Agent *a = &self.ag[ai]
        cdef Sess *s = &self.ss[si]
        s.prev = -1
        s.next = a.head
        if a.head >= 0:
            self.ss[a.head].prev = si
        a.head = si
        a.load += s.weight
        a.count += 1
        s.agent = ai
        s.pool = POOL_NONE
        if automatic:
            self.auto += 1
            a.last_auto = self.auto
            self.rr = a.reg + 1
            if self.strategy == WEIGHTED:
                if a.pass_ > self.vt:
                    self.vt = a.pass_
                a.pass_ += C_STRIDE_BASE // a.weight
        self._update(ai, 1)
        if self.has_frt:
            self._set_timer(si, FIRST_RESPONSE, <double>now + self.frt)
        return 0

    cdef int _take(self, int si) except -1:
        """Remove ``si`` from its agent (which may become available); stop its R18 timer."""
        cdef Sess *s = &self.ss[si]
        cdef int ai = s.agent
        cdef Agent *a = &self.ag[ai]
        if s.prev >= 0:
            self.ss[s.prev].next = s.next
        else:
            a.head = s.next
        if s.next >= 0:
            self.ss[s.next].prev = s.prev
        a.load -= s.weight
        a.count -= 1
        s.agent = -1
        self._clear_first_response(si)
        self._update(ai, -1)
        return ai

    cdef inline int _pool_for(self, int si) noexcept:
        return POOL_QUEUE if self._online_for(self.ss[si].group) else POOL_OFFLINE

    cdef int _drain_to(self, int ai, object now, list events) except -1:
        """R05: while ``ai`` is available, give it the best waiting session it may take."""
        cdef int si
        while self.ag[ai].indexed and self.waiting_count > 0:
            si = self._best_waiting_for(ai)
            if si < 0:
                return 0
            self._hand_out(si, ai, now, True)
            self._emit(events, EV_ASSIGNED, self._sid[si], self._aid[ai], now, R_DRAIN,
                       self._buyer[si], None)
        return 0

    cdef list _agent_sessions(self, int ai):
        cdef list out = []
        cdef int si = self.ag[ai].head
        while si >= 0:
            out.append(si)
            si = self.ss[si].next
        return out

    cdef list _by_r07(self, list slots):
        return sorted(slots, key=lambda si: (-self.ss[si].priority, self.ss[si].arrival))

    cdef int _placement_pass(self, object now, list requeued, list events) except -1:
        """Place requeued sessions (and, under diversion, all waiting ones) in R07 order."""
        cdef int si, ai, q, i, b
        candidates = list(requeued)
        if self.diversion:
            for b in range(self.nbusy):
                q = self.busy_q[b]
                for i in range(self.qs[q].size):
                    candidates.append(self.qs[q].item[i])
        fresh = set(requeued)
        for si in self._by_r07(candidates):
            ai = self._select(si)
            if si in fresh:
                if ai < 0:
                    pool = self._pool_for(si)
                    self._enqueue(si, pool)
                    self._emit(events, EV_QUEUED, self._sid[si], _POOLS[pool], now,
                               self._buyer[si], None, None)
                    if self.has_ladders:
                        self._start_ladder(si, now)
                else:
                    self._give(si, ai, now, True)
                    self._emit(events, EV_ASSIGNED, self._sid[si], self._aid[ai], now,
                               R_REQUEUE, self._buyer[si], None)
            elif ai >= 0:
                self._hand_out(si, ai, now, True)
                self._emit(events, EV_ASSIGNED, self._sid[si], self._aid[ai], now, R_DRAIN,
                           self._buyer[si], None)
        return 0

    cdef list _requeue_all(self, int ai, object now, object reason, list events):
        moved = sorted(self._agent_sessions(ai), key=lambda si: self.ss[si].arrival)
        aid = self._aid[ai]
        for si in moved:
            self._take(si)
            self._emit(events, EV_REQUEUED, self._sid[si], aid, now, reason, self._buyer[si],
                       None)
        return moved

    cdef int _close(self, int si, object now, object reason, list events) except -1:
        cdef int ai, pool
        cdef Py_ssize_t done
        sid = self._sid[si]
        buyer = self._buyer[si]
        if self.ss[si].agent < 0:
            # its event and the steps that allocate first (R24, R26)
            pool = self.ss[si].pool
            done = self._emitted(events)
            self._emit(events, EV_CLOSED, sid, None, _POOLS[pool], now, reason, buyer)
            try:
                self._unfile(si)
            except BaseException:
                self._unemit(events, done)  # a shrink: no allocation
                raise
            self._clear_auto_close(si)
            self._st_remove(sid, si)
            self._leave_heap(si)
            self._free_session_slot(si)
            return 0
        self._clear_auto_close(si)
        self._st_remove(sid, si)
        ai = self._take(si)
        self._free_session_slot(si)
        aid = self._aid[ai]
        self._emit(events, EV_CLOSED, sid, aid, None, now, reason, buyer)
        if self._sticky_window is not None and buyer is not None:
            self._prune_sticky(now)
            self._sticky.pop(buyer, None)
            self._sticky[buyer] = (aid, now)
        self._drain_to(ai, now, events)
        return 0

    # -- timers (R17, R18, R20) ---------------------------------------------------------

    cdef inline bint _tm_less(self, Timer *x, Timer *y) noexcept:
        if x.deadline != y.deadline:
            return x.deadline < y.deadline
        return x.seq < y.seq

    cdef void _tm_up(self, int pos) noexcept:
        cdef Timer t = self.tm[pos]
        cdef int parent
        while pos > 0:
            parent = (pos - 1) >> 1
            if not self._tm_less(&t, &self.tm[parent]):
                break
            self.tm[pos] = self.tm[parent]
            pos = parent
        self.tm[pos] = t

    cdef void _tm_down(self, int pos) noexcept:
        cdef Timer t = self.tm[pos]
        cdef int n = self.tm_heap
        cdef int child
        while True:
            child = 2 * pos + 1
            if child >= n:
                break
            if child + 1 < n and self._tm_less(&self.tm[child + 1], &self.tm[child]):
                child += 1
            if not self._tm_less(&self.tm[child], &t):
                break
            self.tm[pos] = self.tm[child]
            pos = child
        self.tm[pos] = t

    cdef void _tm_pop(self) noexcept:
        """Drop the heap's top; a timer set since (after the heap) fills the hole."""
        self.tm_heap -= 1
        if self.tm_heap > 0:
            self.tm[0] = self.tm[self.tm_heap]
            self._tm_down(0)
        self.tm_size -= 1
        if self.tm_size > self.tm_heap:
            self.tm[self.tm_heap] = self.tm[self.tm_size]

    cdef void _tm_settle(self) noexcept:
        """File the timers set since the heap was last read; drop those already stopped.

        A timer stopped before anything reads the heap (a first response answered in
        the same batch before a tick) never costs a sift. The heap's order is a total
        order on (deadline, seq), and a stopped timer never fires nor becomes live
        again (seqs are never reused), so what the heap yields is the same.
        O(k log n) for k timers set.
        """
        cdef int i
        for i in range(self.tm_heap, self.tm_size):
            if self._is_live(&self.tm[i]):
                self.tm[self.tm_heap] = self.tm[i]
                self.tm_heap += 1
                self._tm_up(self.tm_heap - 1)
        self.tm_size = self.tm_heap

    cdef inline int _tm_reserve(self) except -1:
        """Room for one more timer: the only step of setting one that can fail, so the
        callers take it before they change anything. O(1) amortised."""
        cdef int cap
        if self.tm_size == self.tm_cap:
            cap = self.tm_cap * 2 if self.tm_cap else 64  # set once the block has grown
            self.tm = <Timer*>_grow(self.tm, cap, sizeof(Timer))
            self.tm_cap = cap
        return 0

    cdef int _tm_push(self, double deadline, i64 seq, int kind, int si) except -1:
        """Set a timer: appended after the heap, filed when the heap is next read. O(1)."""
        self._tm_reserve()
        self._tm_put(deadline, seq, kind, si)
        return 0

    cdef inline void _tm_put(self, double deadline, i64 seq, int kind, int si) noexcept:
        """:meth:`_tm_push` once its room is reserved (:meth:`_tm_reserve`): cannot fail.
        O(1)."""
        cdef Timer *t = &self.tm[self.tm_size]
        t.deadline = deadline
        t.seq = seq
        t.kind = kind
        t.sess = si
        self.tm_size += 1

    cdef inline bint _is_live(self, Timer *t) noexcept:
        if t.kind == GRACE:
            return self.ag[t.sess].in_use and self.ag[t.sess].gr_seq == t.seq
        if t.kind == AUTO_CLOSE:
            return self.ss[t.sess].ac_seq == t.seq
        # FIRST_RESPONSE (assigned) or ESCALATE (waiting): the same field, see Sess.fr_seq
        return self.ss[t.sess].fr_seq == t.seq

    cdef int _set_timer(self, int si, int kind, double deadline) except -1:
        self._tm_reserve()  # before anything changes: nothing after it can fail
        self.timer_seq += 1
        if kind == AUTO_CLOSE:
            self.ss[si].ac_seq = self.timer_seq
            self.ss[si].ac_deadline = deadline
        else:
            self.ss[si].fr_seq = self.timer_seq
            self.ss[si].fr_deadline = deadline
        self._tm_put(deadline, self.timer_seq, kind, si)  # its room reserved above
        self.live_timers += 1
        return 0

    cdef void _clear_auto_close(self, int si) noexcept:
        if self.ss[si].ac_seq:
            self.ss[si].ac_seq = 0
            self._drop_timer()

    cdef int _set_grace(self, int ai, double deadline) except -1:
        self.timer_seq += 1
        self.ag[ai].gr_seq = self.timer_seq
        self.ag[ai].gr_deadline = deadline
        self._tm_push(deadline, self.timer_seq, GRACE, ai)
        self.live_timers += 1
        return 0

    cdef void _clear_grace(self, int ai) noexcept:
        if self.ag[ai].gr_seq:
            self.ag[ai].gr_seq = 0
            self._drop_timer()

    cdef void _clear_first_response(self, int si) noexcept:
        if self.ss[si].fr_seq:
            self.ss[si].fr_seq = 0
            self._drop_timer()

    cdef inline void _drop_timer(self) noexcept:
        """One live timer fewer (stopped: its entry goes stale); inlined, the rebuild
        apart. O(1) amortised."""
        self.live_timers -= 1
        if self.tm_size > 2 * self.live_timers + 64:
            self._tm_rebuild()

    cdef void _tm_rebuild(self) noexcept:
        """Stale entries dominate: keep the live ones only, so memory follows live
        timers. O(t)."""
        cdef int i, n = 0
        for i in range(self.tm_size):
            if self._is_live(&self.tm[i]):
                self.tm[n] = self.tm[i]
                n += 1
        self.tm_size = n
        self.tm_heap = n
        for i in range(n // 2 - 1, -1, -1):
            self._tm_down(i)

    def next_deadline(self):
        self._tm_settle()
        while self.tm_heap > 0 and not self._is_live(&self.tm[0]):
            self._tm_pop()
        return self.tm[0].deadline if self.tm_heap > 0 else None

    def tick(self, double now):
        cdef list events = []
        self._tick(now, events)
        return events

    cdef int _tick(self, double now, list events) except -1:
        cdef Timer t
        while True:
            self._tm_settle()  # what a timer that fired set may fire in this tick too
            if self.tm_heap == 0:
                break
            t = self.tm[0]
            if not self._is_live(&t):
                self._tm_pop()
                continue
            if t.deadline > now:
                break
            self._tm_pop()
            at = t.deadline
            if t.kind == GRACE:
                self._grace_expired(t.sess, at, events)
            elif t.kind == AUTO_CLOSE:
                self._close(t.sess, at, C_AUTO, events)
            elif t.kind == ESCALATE:
                self._escalate(t.sess, at, events)
            else:
                self._first_response_timeout(t.sess, at, events)
        return 0

    cdef int _grace_expired(self, int ai, object now, list events) except -1:
        """R27: still offline at the deadline: unanswered sessions wait again, then placed.

        O(k log k + moved log n) for k sessions held.
        """
        self._clear_grace(ai)
        moved = sorted([si for si in self._agent_sessions(ai)
                        if self.ss[<int>si].has_first_unanswered],
                       key=lambda si: self.ss[<int>si].arrival)
        aid = self._aid[ai]
        for si in moved:
            self._take(si)
            self._emit(events, EV_REQUEUED, self._sid[si], aid, now, Q_OFFLINE,
                       self._buyer[si], None)
        self._placement_pass(now, moved, events)
        return 0

    cdef int _first_response_timeout(self, int si, object now, list events) except -1:
        cdef int old, new
        self._clear_first_response(si)
        old = self.ss[si].agent
        sid = self._sid[si]
        old_id = self._aid[old]
        self._emit(events, EV_TIMED_OUT, sid, old_id, now, self._buyer[si], None, None)
        if not self.ss[si].has_timed_out:
            self._timed_out[si] = set()
            self.ss[si].has_timed_out = True
        (<set>self._timed_out[si]).add(old_id)
        new = self._select(si)
        if new < 0:
            return 0
        self._take(si)
        self._give(si, new, now, True)
        self._emit(events, EV_REASSIGNED, sid, old_id, self._aid[new], now, self._buyer[si],
                   None)
        self._drain_to(old, now, events)
        return 0

    # -- sticky return (R13) -----------------------------------------------------------

    cdef void _prune_sticky(self, object now) except *:
        window = self._sticky_window
        sticky = self._sticky
        while sticky:
            buyer = next(iter(sticky))
            if now - sticky[buyer][1] <= window:
                return
            sticky.popitem(last=False)

    cdef int _sticky_agent(self, int si, object now) except -2:
        window = self._sticky_window
        if window is None:
            return -1
        self._prune_sticky(now)
        buyer = self._buyer[si]
        if buyer is None:
            return -1
        entry = self._sticky.get(buyer)
        if entry is None or now - entry[1] > window:
            return -1
        cdef int ai = self._agents[entry[0]]
        return ai if self._eligible(ai, si) else -1

    # -- lookups --------------------------------------------------------------------------

    # -- events (see "event rows" above) ------------------------------------------------

    cdef inline int _emit(self, list events, int kind, object v0, object v1, object v2,
                          object v3, object v4, object v5) except -1:
        """Record an event of ``kind`` (its field values in order, unused ones None): a
        row of the running apply_columns' ``_rows``, else the built event appended to
        ``events``. O(1)."""
        if self._rows is not None:
            return self._rows.push(kind, v0, v1, v2, v3, v4, v5)
        events.append(_event(kind, v0, v1, v2, v3, v4, v5))
        return 0

    cdef inline Py_ssize_t _emitted(self, list events) noexcept:
        """How many events are recorded so far: ``_unemit`` takes back those after. O(1)."""
        if self._rows is not None:
            return self._rows.n
        return PyList_GET_SIZE(events)

    cdef inline void _unemit(self, list events, Py_ssize_t done) noexcept:
        """Forget the events recorded since ``_emitted`` gave ``done`` (a command that
        fails undoes its own). A shrink: no allocation. O(events dropped)."""
        if self._rows is not None:
            self._rows.truncate(done)
        else:
            del events[done:]

    cdef inline int _agent_slot(self, object agent_id) except -1:
        slot = self._agents.get(agent_id)
        if slot is None:
            raise UnknownAgent(agent_id)
        return slot

    @staticmethod
    cdef inline size_t _hint_of(object session_id) noexcept:
        """The index in a HINTS table of ``session_id``, by the object's address. O(1)."""
        return (<size_t><PyObject*>session_id >> 6) & (HINTS - 1)

    cdef inline int _hinted_slot(self, object session_id, int *hint) except -1:
        """``_session_slot`` through ``hint``, a table of HINTS slots indexed by the id
        object's address: a hinted slot is trusted only while it holds that very object
        (then the session registry maps the id to it: ids are unique and a freed slot
        holds None), so a stale or clashing hint costs a registry lookup, never a wrong
        slot. A
        batch that names a session it opened (its buyer writes, an agent answers)
        finds it without hashing. O(1)."""
        cdef size_t b = Engine._hint_of(session_id)
        cdef int si = hint[b]
        if (0 <= si < PyList_GET_SIZE(self._sid)
                and PyList_GET_ITEM(self._sid, si) == <PyObject*>session_id):
            return si
        si = self._session_slot(session_id)
        hint[b] = si
        return si

    cdef inline int _session_slot(self, object session_id) except -1:
        cdef Py_hash_t hash = _id_hash(session_id)
        if hash == -1 and type(session_id) is str:
            hash = _str_id_hash(session_id)
        cdef Py_ssize_t p = self._st_find(session_id, hash)
        if p < 0:
            raise UnknownSession(session_id)
        return self.st[p].slot

    # -- the session registry -----------------------------------------------------------
    #
    # The open sessions' ids -> slots, in C: an open-addressing table with linear probing
    # of (hash, slot) entries, at most half full, the id itself read from ``_sid`` (the
    # slot's id) when the hashes match. Where a dict cost about 450 instructions to file
    # and forget a session (its insert, its delete, its resizes and their compaction),
    # this costs a probe or two each. A delete shifts the entries after it back (no
    # tombstones), so a lookup never walks past freed entries. Only ids (exact non-empty
    # str) are ever filed; anything else is not found, without running any code.
    # Arrival order, which a dict kept for free, is each slot's ``arrival`` number
    # (``_open_slots``).

    cdef int _st_init(self, Py_ssize_t cap) except -1:
        """An empty registry of ``cap`` entries (a power of two). O(cap)."""
        cdef SessEntry *table = <SessEntry*>PyMem_Malloc(cap * sizeof(SessEntry))
        cdef Py_ssize_t i
        if table == NULL:
            raise MemoryError()
        for i in range(cap):
            table[i].slot = -1
        PyMem_Free(self.st)
        self.st = table
        self.st_cap = cap
        self.st_used = 0
        return 0

    cdef inline Py_ssize_t _st_find(self, object session_id, Py_hash_t hash) noexcept:
        """The entry of ``session_id`` (whose ``_id_hash`` is ``hash``), or -1 - the empty
        entry where it would go; -1 - 0 for a value that is not an id. O(1) expected."""
        cdef size_t mask = <size_t>self.st_cap - 1
        cdef size_t p = <size_t>hash & mask
        cdef SessEntry *e
        if hash == -1:
            return -1
        while True:
            e = &self.st[p]
            if e.slot < 0:
                return -1 - <Py_ssize_t>p
            if e.hash == hash and _same_id(PyList_GET_ITEM(self._sid, e.slot),
                                           <PyObject*>session_id):
                return p
            p = (p + 1) & mask

    cdef inline int _st_reserve(self) except -1:
        """Room for one more session (the table at most half full after it), so that
        ``_st_put`` cannot fail. O(1) amortised (``_st_grow``)."""
        if 2 * (self.st_used + 1) <= self.st_cap:
            return 0
        return self._st_grow()

    cdef int _st_grow(self) except -1:
        """Double the registry, re-filing each entry by its kept hash. O(s). A failed
        allocation (MemoryError) leaves the registry as it was."""
        cdef SessEntry *old = self.st
        cdef Py_ssize_t cap = self.st_cap, used = self.st_used, i
        cdef size_t p, mask
        self.st = NULL
        try:
            self._st_init(2 * cap)
        except BaseException:
            self.st = old
            self.st_cap = cap
            raise
        mask = <size_t>self.st_cap - 1
        for i in range(cap):
            if old[i].slot >= 0:
                p = <size_t>old[i].hash & mask
                while self.st[p].slot >= 0:
                    p = (p + 1) & mask
                self.st[p] = old[i]
        self.st_used = used
        PyMem_Free(old)
        return 0

    cdef int _st_file(self, object session_id, int si) except -1:
        """File id ``session_id`` (not filed yet) at slot ``si``: reserve, find, put.
        O(1) amortised."""
        cdef Py_hash_t hash = _id_hash(session_id)
        cdef Py_ssize_t entry
        if hash == -1:
            hash = _str_id_hash(check_id("session", session_id))
        self._st_reserve()
        entry = self._st_find(session_id, hash)
        if entry >= 0:
            raise DuplicateSession(session_id)
        self._st_put(-1 - entry, hash, si)
        return 0

    cdef inline void _st_put(self, Py_ssize_t p, Py_hash_t hash, int si) noexcept:
        """File slot ``si`` at the empty entry ``p`` that ``_st_find`` gave after an
        ``_st_reserve``, the table unchanged since. O(1)."""
        self.st[p].hash = hash
        self.st[p].slot = si
        self.st_used += 1

    cdef void _st_remove(self, object session_id, int si) noexcept:
        """Forget open session ``session_id`` (filed, at slot ``si``): its entry is found by
        slot, no id compared, and the entries after it shift back over the hole while
        their own start of probe allows. O(1) expected."""
        cdef size_t mask = <size_t>self.st_cap - 1
        cdef size_t hole = <size_t>_id_hash(session_id) & mask
        cdef size_t j, home
        while self.st[hole].slot != si:
            hole = (hole + 1) & mask
        j = hole
        while True:
            j = (j + 1) & mask
            if self.st[j].slot < 0:
                break
            home = <size_t>self.st[j].hash & mask
            # Entry j may fill the hole unless its home lies cyclically in (hole, j].
            if ((j - home) & mask) >= ((j - hole) & mask):
                self.st[hole] = self.st[j]
                hole = j
        self.st[hole].slot = -1
        self.st_used -= 1

    cdef list _open_slots(self):
        """The open sessions' slots in arrival order. O(t + s log s), t the registry's size
        (it never shrinks: at most about four times the most sessions ever open at once)."""
        cdef Py_ssize_t p
        cdef int si
        keyed = []
        for p in range(self.st_cap):
            si = self.st[p].slot
            if si >= 0:
                keyed.append((self.ss[si].arrival, si))
        keyed.sort()
        return [si for _, si in keyed]

    # -- commands ---------------------------------------------------------------------------

    def add_agent(self, now, agent_id, cap, groups, int weight, bint online):
        if agent_id in self._agents:
            raise DuplicateAgent(agent_id)
        cdef int ai = self._new_agent_slot()
        try:
            self._init_agent(ai, agent_id, self.next_reg, cap, groups, weight, online)
        except BaseException:
            self.ag_free[self.ag_nfree] = ai
            self.ag_nfree += 1
            raise
        self.next_reg += 1
        self._agents[agent_id] = ai
        if online:
            self._count_online(ai, +1)
        if self.strategy == ROUND_ROBIN:
            self._rr_join_side(ai)
        self._update(ai, 0)
        cdef list events = []
        self._drain_to(ai, now, events)
        return events

    def remove_agent(self, now, agent_id):
        cdef int ai = self._agent_slot(agent_id)
        cdef int k
        cdef list events = []
        self._clear_grace(ai)
        moved = self._requeue_all(ai, now, Q_REMOVED, events)
        self._unindex(ai)
        if self.strategy == ROUND_ROBIN:
            self._rr_leave_side(ai)
        if self.ag[ai].online:
            self._count_online(ai, -1)
        if not self.ag[ai].all_groups:
            for k in range(1, self.ag[ai].nslots):
                self._release(self.ag[ai].slots[k] - 2)
        del self._agents[agent_id]
        self.ag[ai].in_use = False
        self._aid[ai] = None
        self._acap[ai] = None
        self._agroups[ai] = None
        self.ag_free[self.ag_nfree] = ai
        self.ag_nfree += 1
        for buyer in [b for b, (aid, _) in self._sticky.items() if aid == agent_id]:
            del self._sticky[buyer]
        self._placement_pass(now, moved, events)
        return events

    cdef int _switch_side(self, int ai, bint online) except -1:
        if self.strategy == ROUND_ROBIN:
            self._unindex(ai)
            self._rr_leave_side(ai)
            self.ag[ai].online = online
            self._rr_join_side(ai)
        else:
            self.ag[ai].online = online
        self._count_online(ai, +1 if online else -1)
        return 0

    def agent_online(self, now, agent_id):
        cdef int ai = self._agent_slot(agent_id)
        if self.ag[ai].online and not self.ag[ai].away:
            return []
        if self.ag[ai].online:
            self.ag[ai].away = False  # back from away: _update normalises if available now
        else:
            self._clear_grace(ai)
            self._switch_side(ai, True)
            if self._available(ai):
                self._normalise(ai)
        self._update(ai, 0)
        cdef list events = []
        self._drain_to(ai, now, events)
        return events

    def agent_away(self, now, agent_id):
        """R27: online but away; an offline agent logs in away. O(g log n). Returns []."""
        cdef int ai = self._agent_slot(agent_id)
        if self.ag[ai].away:
            return []
        if not self.ag[ai].online:
            self._clear_grace(ai)
            self._switch_side(ai, True)
        self.ag[ai].away = True
        self._update(ai, 0)
        return []

    def agent_offline(self, now, agent_id, bint requeue, grace=None):
        cdef int ai = self._agent_slot(agent_id)
        if not self.ag[ai].online:
            return []
        self._switch_side(ai, False)
        self.ag[ai].away = False
        self._update(ai, 0)
        if grace is not None:
            self._set_grace(ai, <double>now + <double>grace)
        cdef list events = []
        moved = self._requeue_all(ai, now, Q_OFFLINE, events) if requeue else []
        self._placement_pass(now, moved, events)
        return events

    def set_cap(self, now, agent_id, cap):
        cdef int ai = self._agent_slot(agent_id)
        self._acap[ai] = cap
        self._set_limit(ai, cap)
        self._update(ai, 0)
        cdef list events = []
        self._drain_to(ai, now, events)
        return events

    def set_weight(self, now, agent_id, int weight):
        cdef int ai = self._agent_slot(agent_id)
        self.ag[ai].weight = weight
        if self.strategy == WEIGHTED and weight > 0:
            self.ag[ai].pass_ = self.vt + C_STRIDE_BASE // weight
        self._update(ai, 0)
        cdef list events = []
        self._drain_to(ai, now, events)
        return events

    def open_session(self, now, session_id, buyer_id, group, int priority, kind=None):
        cdef list events = []
        self._open(now, session_id, buyer_id, group, priority, events, kind)
        return events

    cdef int _open(self, object now, object session_id, object buyer_id, object group,
                   int priority, list events, object kind) except -1:
        """Open a session; returns the slot it took (free again if it was refused)."""
        cdef int weight = 1
        if kind is not None:
            w = self._kinds.get(kind)
            if w is None:
                raise UnknownKind(kind, tuple(self._kinds))
            weight = <int>w
        cdef int gid, si
        cdef bint filed = self.ss_nfree > 0
        cdef Py_hash_t hash = _id_hash(session_id)
        cdef Py_ssize_t entry
        if hash == -1:  # the registry files only ids (the callers check them first)
            hash = _str_id_hash(check_id("session", session_id))
        # The Opened event is made and kept first, and the registry has room for the id
        # before anything changes: a failure (MemoryError) here changes nothing; from the
        # filing on, a failure undoes the open (``_unopen``).
        cdef Py_ssize_t done = self._emitted(events)
        self._emit(events, EV_OPENED, session_id, buyer_id, group, priority, now, kind)
        try:
            self._st_reserve()
        except BaseException:
            self._unemit(events, done)
            raise
        entry = self._st_find(session_id, hash)
        if entry >= 0:
            self._unemit(events, done)
            raise DuplicateSession(session_id)
        entry = -1 - entry  # where it goes: nothing else files an id before it does
        if filed:
            # The slot it will take is known (the last freed): filed now, undone if what
            # follows fails.
            self._st_put(entry, hash, self.ss_free[self.ss_nfree - 1])
        # Neither step can fail without a group name or with a free slot: no try then.
        if group is None:
            gid = -1
        else:
            try:
                gid = self._intern(group)
            except BaseException:
                if filed:
                    self._st_remove(session_id, self.ss_free[self.ss_nfree - 1])
                self._unemit(events, done)
                raise
        if filed:
            self.ss_nfree -= 1
            si = self.ss_free[self.ss_nfree]
        else:
            try:
                si = self._new_session_slot()
            except BaseException:
                self._release(gid)
                self._unemit(events, done)
                raise
        cdef Sess *s = &self.ss[si]
        cdef double t = now
        self.arrival += 1
        s.arrival = self.arrival
        s.ac_seq = 0
        s.fr_seq = 0
        s.opened_at = t
        s.first_unanswered = t
        s.has_first_unanswered = True
        s.last_buyer = t
        s.priority = priority
        s.group = gid
        s.agent = -1
        s.pool = POOL_NONE
        s.qpos = -1
        s.apos = -1
        s.prev = -1
        s.next = -1
        s.has_timed_out = False
        s.in_use = True
        s.weight = weight
        _list_put(self._sid, si, session_id)
        _list_put(self._buyer, si, buyer_id)
        cdef int ai
        cdef bint placed = False
        # try/finally, not try/except: on the way through it costs nothing (an except
        # clause saves the handled exception on entry, on every call)
        try:
            if kind is not None:
                self._skind[si] = kind
            if not filed:
                self._st_put(entry, hash, si)
                filed = True
            ai = self._sticky_agent(si, now) if self._sticky_window is not None else -1
            reason = R_STICKY
            if ai < 0:
                ai = self._select(si)
                reason = R_NEW
            if ai < 0:
                self._admit(si, now, events)
            else:
                # the event first: _give cannot fail halfway (it reserves first)
                self._emit(events, EV_ASSIGNED, session_id, self._aid[ai], now, reason,
                           buyer_id, None)
                self._give(si, ai, now, True)
            placed = True
        finally:
            if not placed:
                self._unopen(si, session_id, filed, done, events)
        return si

    cdef void _unopen(self, int si, object session_id, bint filed, Py_ssize_t done,
                      list events) noexcept:
        """Undo an open that failed before the session was placed (a MemoryError): its
        slot, id, group and events go, as if it never came. Frees nothing it allocates."""
        if filed:
            self._st_remove(session_id, si)
        self._free_session_slot(si)
        self.arrival -= 1
        self._unemit(events, done)

    cdef object _over_limit(self, int gid, double now):
        """The limit of group ``gid`` if one more waiting session would break it (R28),
        else None. O(1)."""
        cdef SessHeap *a
        if gid < 0:
            return None
        limit = self._limits.get(self._gname[gid])
        if limit is None:
            return None
        if limit.max_waiting is not None and self.qs[gid + 1].size >= <int>limit.max_waiting:
            return limit
        a = &self.aq[gid + 1]
        if (limit.max_wait is not None and a.size > 0
                and now - self.ss[a.item[0]].opened_at >= <double>limit.max_wait):
            return limit
        return None

    cdef int _admit(self, int si, object now, list events) except -1:
        """A new session with no agent: wait, overflow along the chain, or be refused (R28).

        O(log w) per hop, plus a selection (O(log n)) per overflow.
        """
        cdef int gid, new_gid, ai
        sid = self._sid[si]
        buyer = self._buyer[si]
        while True:
            gid = self.ss[si].group
            limit = self._over_limit(gid, now) if self._limits else None
            # Each step makes and keeps its event before it changes anything, and each
            # placement happens whole or not at all: a failure (MemoryError) leaves the
            # session unplaced, for _open to undo.
            if limit is None:
                pool = self._pool_for(si)
                self._emit(events, EV_QUEUED, sid, _POOLS[pool], now, buyer, None, None)
                self._enqueue(si, pool)
                if self.has_ladders:
                    try:
                        self._start_ladder(si, now)
                    except BaseException:
                        self._dequeue(si)
                        raise
                return 0
            name = self._gname[gid]
            if limit.overflow is None:
                self._emit(events, EV_REJECTED, sid, name, now, buyer, None, None)
                self._st_remove(sid, si)
                self._free_session_slot(si)
                return 0
            self._emit(events, EV_OVERFLOWED, sid, name, limit.overflow, now, buyer, None)
            new_gid = self._intern(limit.overflow)
            self._release(gid)
            self.ss[si].group = new_gid
            ai = self._select(si)
            if ai >= 0:
                self._emit(events, EV_ASSIGNED, sid, self._aid[ai], now, R_NEW, buyer, None)
                self._give(si, ai, now, True)
                return 0

    def buyer_message(self, now, session_id):
        self._buyer_message(now, session_id)
        return []

    cdef int _buyer_message(self, object now, object session_id) except -1:
        return self._buyer_message_in(self._session_slot(session_id), now)

    cdef int _buyer_message_in(self, int si, object now) except -1:
        self.ss[si].last_buyer = now
        if not self.ss[si].has_first_unanswered:
            self.ss[si].first_unanswered = now
            self.ss[si].has_first_unanswered = True
        self._clear_auto_close(si)
        return 0

    def agent_message(self, now, session_id, bint auto, agent_id=None):
        self._agent_message(now, session_id, auto, agent_id)
        return []

    cdef int _agent_message(self, object now, object session_id, bint auto,
                            object agent_id) except -1:
        return self._agent_message_in(self._session_slot(session_id), now, session_id, auto,
                                      agent_id)

    cdef int _agent_message_in(self, int si, object now, object session_id, bint auto,
                               object agent_id) except -1:
        cdef int holder
        if agent_id is not None:
            # S04: only the agent holding the session may be named as its sender.
            holder = self.ss[si].agent
            slot = self._agents.get(agent_id)
            if slot is None or holder < 0 or <int>slot != holder:
                raise NotHolder(session_id, agent_id, None if holder < 0 else self._aid[holder],
                                slot is not None)
        if not auto:
            if self.ss[si].agent < 0:
                raise SessionWaiting(session_id)
            self.ss[si].has_first_unanswered = False
            self._clear_first_response(si)
        if self.has_auto_close:
            self._clear_auto_close(si)
            self._set_timer(si, AUTO_CLOSE, <double>now + self.auto_close_after)
        return 0

    def assign(self, now, session_id, agent_id):
        cdef int si = self._session_slot(session_id)
        cdef int ai = self._agent_slot(agent_id)
        if self.ss[si].agent >= 0:
            raise InvalidAssign(session_id, self._aid[self.ss[si].agent])
        if not self.ag[ai].online:
            raise AgentOffline(agent_id)
        cdef list events = []
        self._emit(events, EV_ASSIGNED, session_id, agent_id, now, R_MANUAL, self._buyer[si],
                   None)
        self._hand_out(si, ai, now, False)
        return events

    def transfer(self, now, session_id, agent_id):
        cdef int si = self._session_slot(session_id)
        cdef int ai = self._agent_slot(agent_id)
        cdef int old
        if self.ss[si].agent < 0:
            raise InvalidTransfer(session_id, "it is waiting in a pool (use assign)")
        if self.ss[si].agent == ai:
            raise InvalidTransfer(session_id, f"it is already with agent {agent_id!r}")
        if not self.ag[ai].online:
            raise AgentOffline(agent_id)
        old = self._take(si)
        self._give(si, ai, now, False)
        cdef list events = []
        self._emit(events, EV_TRANSFERRED, session_id, self._aid[old], agent_id, now,
                   self._buyer[si], None)
        self._drain_to(old, now, events)
        return events

    def close_session(self, now, session_id):
        cdef int si = self._session_slot(session_id)
        cdef list events = []
        self._close(si, now, C_MANUAL, events)
        return events

    def apply(self, double now, commands):
        """Run a batch (see ``kefu._batch``): the hot commands without a Python call each.

        One ``try`` around the whole loop, not one a command: entering a ``try`` that
        has an ``except`` clause saves the handled-exception state, and the generated
        C did that twice a command (the feed's ``next`` and the command). A list is read
        by index, as its iterator reads it (the length checked before each item, so a
        list changed meanwhile reads the same), without a call an item.
        """
        cdef list events
        cdef Py_ssize_t index = -1
        cdef Py_ssize_t n
        cdef Py_ssize_t done = 0
        cdef tuple c
        cdef int op
        cdef bint feeding = False
        cdef PyObject *item
        cdef int si
        cdef int hint[HINTS]  # see _hinted_slot
        cdef list items = commands if type(commands) is list else None
        cdef Py_ssize_t next_item = 0
        memset(hint, 0xff, sizeof(hint))  # all -1
        command = None
        at = now
        feed = iter(commands) if items is None else None
        # A list of commands makes about one event for every two (a replay: an open two,
        # a close one, messages, ticks and moves of time none): room for that up front.
        cdef Py_ssize_t room = PyList_GET_SIZE(items) // 2 + 16 if items is not None else 0
        events = [] if items is None else _list_with_room(room)
        # The events list is kept out of the cyclic collector's sight while it fills: it
        # holds only events (which hold only atoms: no cycle can pass through it), and
        # the collections the events' allocations trigger would otherwise walk the whole
        # list each time they reach its generation (about 8 % of a replay's
        # instructions). Tracked again before the call returns or raises.
        PyObject_GC_UnTrack(events)
        try:
            try:
                while True:
                    index += 1
                    feeding = True
                    if items is not None:
                        if next_item >= PyList_GET_SIZE(items):
                            break
                        command = <object>PyList_GET_ITEM(items, next_item)
                        next_item += 1
                    else:
                        item = PyIter_Next(feed)  # NULL: the end, or the feed's error (raised)
                        if item == NULL:
                            break
                        command = <object>item
                        Py_DECREF(command)  # ``command`` holds the reference PyIter_Next gave
                    feeding = False
                    done = len(events)
                    if (type(command) is tuple and len(<tuple>command) > 0
                            and type((<tuple>command)[0]) is str):
                        c = <tuple>command
                        n = len(c)
                        # Pointer comparisons name a literal command, a dict lookup any other
                        # (string comparisons with each hot name would cost one per miss).
                        op = _hot_op(<str>c[0])
                        if op == HOT_CLOSE and n == 2 and _is_id(c[1]):
                            self._close(self._hinted_slot(c[1], hint), at, C_MANUAL, events)
                            continue
                        if (op == HOT_OPEN and 2 <= n <= 5 and _is_id(c[1])
                                and (n < 3 or _is_optional_id(c[2]))
                                and (n < 4 or _is_optional_id(c[3]))
                                and (n < 5 or _is_priority(c[4]))):
                            si = self._open(at, c[1], c[2] if n > 2 else None,
                                            c[3] if n > 3 else None, c[4] if n > 4 else 0, events,
                                            None)
                            hint[Engine._hint_of(c[1])] = si
                            continue
                        if op == HOT_BUYER and n == 2 and _is_id(c[1]):
                            self._buyer_message_in(self._hinted_slot(c[1], hint), at)
                            continue
                        if (op == HOT_AGENT and 2 <= n <= 4 and _is_id(c[1])
                                and (n == 2 or type(c[2]) is bool)
                                and (n < 4 or _is_optional_id(c[3]))):
                            self._agent_message_in(self._hinted_slot(c[1], hint), at, c[1],
                                                   n >= 3 and c[2] is True,
                                                   c[3] if n == 4 else None)
                            continue
                        if op == HOT_TICK and n == 1:
                            self._tick(now, events)
                            continue
                        if (op == HOT_AT and n == 2 and type(c[1]) is float
                                and now <= <double>c[1] <= _MAX_SECONDS):
                            now = c[1]
                            at = c[1]
                            continue
                    # Everything else (and anything odd) takes the checked path.
                    at = run_checked(self, command, at, events)
                    now = at
            except Exception as exc:
                if feeding:  # the caller's iterable broke: keep what was done
                    raise BatchAborted(index, None, exc, events, at) from exc
                # Whatever the failing command raised (a KefuError, or anything a hostile
                # argument throws while it is checked), the events of the commands before
                # it are kept: they happened. Its own, if any, are not.
                del events[done:]
                raise BatchAborted(index, command, exc, events, at) from exc
            if PyList_GET_SIZE(events) < room // 2:
                # Most of the room unused (a batch of messages, ticks, moves of time): the
                # caller may keep the list, so it gets one sized for its events. O(events).
                try:
                    events = events[:]
                except MemoryError:
                    pass  # the batch ran: its events are returned as they are
            return events, at
        finally:
            if not PyObject_GC_IsTracked(events):
                PyObject_GC_Track(events)

    def apply_columns(self, double now, batch):
        """Run a checked columnar batch (``kefu._columns``); returns (Rows, last time).

        One C loop over the arrays: the rows straight into ``_open``, ``_close``,
        ``_buyer_message_in``, ``_agent_message_in`` and ``_tick``, the events stored as
        rows (``self._rows`` while it runs: see ``Rows``); a row whose table entries are not ids takes the
        checked path, which raises ``apply``'s error. A session handle remembers the
        slot it last named, trusted only while that slot still holds the very id
        object (the session registry maps an id to its slot exactly then), so a session
        opened earlier in the batch is found without hashing its id. One int a
        session handle (O(len(batch.sessions)) memory and time) for that, freed on
        return.
        """
        cdef const signed char[::1] code = batch.command
        cdef const i64[::1] sess = batch.session
        cdef const double[::1] times = batch.time
        cdef const i64[::1] agent, buyer, group, prio, kind
        cdef bint has_agent = batch.agent is not None, has_buyer = batch.buyer is not None
        cdef bint has_group = batch.group is not None, has_prio = batch.priority is not None
        cdef bint has_kind = batch.kind is not None
        cdef tuple sessions = batch.sessions, agents = batch.agents, buyers = batch.buyers
        cdef tuple groups = batch.groups, kinds = batch.kinds
        cdef list marks = []  # the commands' event lists: events go to ``rows`` instead
        cdef Rows rows = Rows()
        cdef Rows outer = self._rows
        cdef Py_ssize_t i = 0, done = 0, n = code.shape[0], expect = 0
        cdef Py_ssize_t nsess = len(sessions)
        cdef int c, si
        cdef i64 p, h
        cdef int *slot_of = NULL
        # A row's table entries, borrowed: the batch's tuples hold them while it runs.
        cdef PyObject *sid
        cdef PyObject *a
        cdef PyObject *b
        cdef PyObject *g
        cdef PyObject *k
        cdef object at = now  # the time as the commands take it: boxed once per change
        if has_agent:
            agent = batch.agent
        if has_buyer:
            buyer = batch.buyer
        if has_group:
            group = batch.group
        if has_prio:
            prio = batch.priority
        if has_kind:
            kind = batch.kind
        # Room up front for the events the rows make at least (an open two, a close one):
        # growing by copies costs more than this scan (branch-free: the compiler
        # vectorises it).
        for i in range(n):
            expect += 2 * (code[i] == COL_OPEN) + (code[i] == COL_CLOSE)
        rows.reserve(expect + 64)
        # Allocated last, so that nothing between here and the ``finally`` that frees it can raise.
        slot_of = <int*>PyMem_Malloc((nsess if nsess > 0 else 1) * sizeof(int))
        if slot_of == NULL:
            raise MemoryError()
        for h in range(nsess):
            slot_of[h] = -1
        self._rows = rows
        try:
            try:
                for i in range(n):
                    done = rows.n
                    # Each value is checked as it is read (the arrays may be the caller's,
                    # and another thread may change them): a bad one fails its row.
                    if times[i] != now:
                        # A time that went bad since the call was checked: apply's error.
                        now = times[i] if now < times[i] <= _MAX_SECONDS else check_at(
                            times[i], at)
                        at = now
                    c = code[i]
                    if c == COL_TICK:
                        self._tick(now, marks)
                        continue
                    if not 0 <= c < COL_TICK:  # read first, as command_at reads it
                        raise out_of_range("command", c, 0, COL_TICK)
                    # A table entry is read inline (``_find``); only a bad handle calls
                    # ``_out_of_table``, for its error.
                    h = sess[i]
                    sid = _find(sessions, h, False)
                    if sid == NULL:
                        _out_of_table(sessions, h, "session", False)
                    a = <PyObject*>None
                    if c >= COL_AGENT and has_agent and _is_id(<object>sid):  # AGENT, AUTO
                        a = _find(agents, agent[i], True)
                        if a == NULL:
                            _out_of_table(agents, agent[i], "agent", True)
                    if not (_is_id(<object>sid) and _is_optional_id(<object>a)):
                        run_checked(self, batch.command_at(i), at, marks)
                    elif c == COL_OPEN:
                        b = _find(buyers, buyer[i], True) if has_buyer else <PyObject*>None
                        if b == NULL:
                            _out_of_table(buyers, buyer[i], "buyer", True)
                        g = _find(groups, group[i], True) if has_group else <PyObject*>None
                        if g == NULL:
                            _out_of_table(groups, group[i], "group", True)
                        k = _find(kinds, kind[i], True) if has_kind else <PyObject*>None
                        if k == NULL:
                            _out_of_table(kinds, kind[i], "kind", True)
                        p = prio[i] if has_prio else 0
                        if not (_is_optional_id(<object>b) and _is_optional_id(<object>g)
                                and _is_optional_id(<object>k)
                                and -C_MAX_PRIORITY <= p <= C_MAX_PRIORITY):
                            run_checked(self, batch.command_at(i), at, marks)
                        else:
                            slot_of[h] = self._open(at, <object>sid, <object>b, <object>g, <int>p,
                                                    marks, <object>k)
                    else:
                        si = slot_of[h]
                        if si < 0 or PyList_GET_ITEM(self._sid, si) != sid:
                            si = self._session_slot(<object>sid)
                            slot_of[h] = si
                        if c == COL_CLOSE:
                            self._close(si, at, C_MANUAL, marks)
                        elif c == COL_BUYER:
                            self._buyer_message_in(si, at)
                        else:  # COL_AGENT or COL_AUTO
                            self._agent_message_in(si, at, <object>sid, c == COL_AUTO, <object>a)
            except Exception as exc:
                # As in apply: the rows before it happened; the failing row's events did not.
                rows.truncate(done)
                raise BatchAborted(i, batch.describe(i), exc, rows, at) from exc
        finally:
            PyMem_Free(slot_of)
            self._rows = outer
        return rows, at

    # -- queries ----------------------------------------------------------------------------

    def load(self, agent_id):
        return self.ag[self._agent_slot(agent_id)].load

    def agent(self, agent_id):
        cdef int ai = self._agent_slot(agent_id)
        return AgentView(self._aid[ai], self._acap[ai], self._agroups[ai], self.ag[ai].weight,
                         self.ag[ai].online, self.ag[ai].load, self.ag[ai].away,
                         self.ag[ai].count)

    def agent_ids(self):
        return list(self._agents)

    def session(self, session_id):
        cdef int si = self._session_slot(session_id)
        cdef Sess *s = &self.ss[si]
        return SessionView(
            session_id=self._sid[si], buyer_id=self._buyer[si],
            group=None if s.group < 0 else self._gname[s.group], priority=s.priority,
            state=SessionState.WAITING if s.agent < 0 else SessionState.ASSIGNED,
            agent_id=None if s.agent < 0 else self._aid[s.agent], pool=_POOLS[s.pool],
            opened_at=s.opened_at,
            timed_out=frozenset(<set>self._timed_out[si]) if s.has_timed_out else _NO_IDS,
            step=self._step(si) if self.has_ladders else 0,
            kind=self._skind.get(si) if self._skind else None,
        )

    def session_ids(self):
        """The open sessions' ids in arrival order. O(t + s log s), t the registry's size."""
        return [self._sid[si] for si in self._open_slots()]

    def estimated_wait(self, now, session_id, int sample):
        """R25: see ``kefu._handovers.estimate``. O(log w)."""
        cdef int si = self._session_slot(session_id)
        cdef SessHeap *q
        cdef int k
        if self.ss[si].agent >= 0:
            return None
        q = &self.qs[self.ss[si].group + 1]
        if q.ho_n == 0:
            return None
        k = sample if sample < q.ho_n else q.ho_n
        return estimate(self._t_rank(q.root, si) + 1, now,
                        q.ho[(q.ho_head - k + C_MAX_SAMPLE) % C_MAX_SAMPLE], k)

    def position(self, session_id):
        """R25: 1 + the sessions of its group waiting ahead of it; None if assigned.
        O(log w): one descent of the group's rank treap."""
        cdef int si = self._session_slot(session_id)
        if self.ss[si].agent >= 0:
            return None
        return self._t_rank(self.qs[self.ss[si].group + 1].root, si) + 1

    def waiting(self):
        cdef int q, i, b
        slots = []
        for b in range(self.nbusy):
            q = self.busy_q[b]
            for i in range(self.qs[q].size):
                slots.append(self.qs[q].item[i])
        return [self._sid[si] for si in self._by_r07(slots)]

    def reception_list(self, agent_id):
        cdef int ai = self._agent_slot(agent_id)

        def longest_wait(int si):
            if self.ss[si].has_first_unanswered:
                return (0, self.ss[si].first_unanswered, self.ss[si].arrival)
            return (1, self.ss[si].last_buyer, self.ss[si].arrival)

        return [self._sid[si] for si in sorted(self._agent_sessions(ai), key=longest_wait)]

    # -- snapshot (R22) --------------------------------------------------------------------

    def snapshot(self):
        cdef int ai, si
        cdef Sess *s
        agents = []
        for agent_id, ai in self._agents.items():
            groups = self._agroups[ai]
            record = {
                "id": agent_id, "reg": self.ag[ai].reg, "cap": self._acap[ai].to_data(),
                "groups": None if groups is None else sorted(groups),
                "weight": self.ag[ai].weight, "online": bool(self.ag[ai].online),
                "last_auto": self.ag[ai].last_auto, "pass": self.ag[ai].pass_,
            }
            if self.ag[ai].away:
                record["away"] = True
            if self.ag[ai].gr_seq:
                record["grace"] = [self.ag[ai].gr_deadline, self.ag[ai].gr_seq]
            agents.append(record)
        sessions = []
        for si in self._open_slots():
            session_id = self._sid[si]
            s = &self.ss[si]
            record = self._session_record(session_id, si)
            if self.has_ladders and si in self._lad:
                since, step = self._lad[si]
                record["ladder"] = {
                    "since": since, "step": step,
                    "next": [self._next_deadline_of(si), s.fr_seq] if s.fr_seq else None}
            if self._skind and si in self._skind:
                record["kind"] = self._skind[si]
            sessions.append(record)
        return {
            "counters": {
                "next_reg": self.next_reg, "arrival": self.arrival, "auto": self.auto,
                "timer": self.timer_seq, "rr_pointer": self.rr, "vt": self.vt,
            },
            "agents": agents,
            "sessions": sessions,
            "sticky": [[buyer, aid, closed_at] for buyer, (aid, closed_at) in self._sticky.items()],
        }

    cdef dict _session_record(self, object session_id, int si):
        cdef Sess *s = &self.ss[si]
        return {
            "id": session_id, "buyer": self._buyer[si],
            "group": None if s.group < 0 else self._gname[s.group],
            "priority": s.priority, "arrival": s.arrival, "opened_at": s.opened_at,
            "agent": None if s.agent < 0 else self._aid[s.agent],
            "pool": None if s.pool == POOL_NONE else _POOLS[s.pool].value,
            "first_unanswered": s.first_unanswered if s.has_first_unanswered else None,
            "last_buyer": s.last_buyer,
            "timed_out": sorted(self._timed_out[si]) if s.has_timed_out else [],
            "auto_close": [s.ac_deadline, s.ac_seq] if s.ac_seq else None,
            "first_response": [s.fr_deadline, s.fr_seq] if s.fr_seq and s.agent >= 0 else None,
        }

    def restore_state(self, data, taken_at):
        """Rebuild a fresh engine from snapshot state; return its latest recorded instant.

        ``parse_state`` checks everything first (InvalidSnapshot, nothing
        built); the engine then rebuilds without checking again. Cost:
        O(state log state).
        """
        if self._agents or self.st_used or self.next_reg or self.arrival:
            raise KefuError("restore_state needs a fresh engine")
        state = parse_state(data, self._config, taken_at)
        self._rebuild(state)
        return state.latest

    def _rebuild(self, state):
        cdef int ai, si, k
        cdef Sess *s
        self.next_reg, self.arrival, self.auto = state.next_reg, state.arrival, state.auto
        self.timer_seq, self.rr, self.vt = state.timer, state.rr_pointer, state.vt
        for ad in state.agents:
            ai = self._new_agent_slot()
            self._init_agent(ai, ad.id, ad.reg, ad.cap, ad.groups, ad.weight, ad.online)
            self.ag[ai].last_auto = ad.last_auto
            self.ag[ai].pass_ = ad.pass_
            self.ag[ai].away = ad.away
            if ad.grace is not None:
                self.ag[ai].gr_seq = ad.grace[1]
                self.ag[ai].gr_deadline = ad.grace[0]
                self._tm_push(ad.grace[0], ad.grace[1], GRACE, ai)
                self.live_timers += 1
            self._agents[ad.id] = ai
            if ad.online:
                self._count_online(ai, +1)
        for d in state.sessions:
            gid = self._intern(d.group)
            si = self._new_session_slot()
            s = &self.ss[si]
            s.arrival = d.arrival
            s.ac_seq = 0
            s.fr_seq = 0
            s.opened_at = d.opened_at
            s.has_first_unanswered = d.first_unanswered is not None
            s.first_unanswered = d.first_unanswered if s.has_first_unanswered else 0.0
            s.last_buyer = d.last_buyer
            s.priority = d.priority
            s.group = gid
            s.agent = -1
            s.pool = POOL_NONE
            s.qpos = -1
            s.apos = -1
            s.prev = -1
            s.next = -1
            s.has_timed_out = False
            s.in_use = True
            s.weight = 1 if d.kind is None else <int>self._kinds[d.kind]
            if d.kind is not None:
                self._skind[si] = d.kind
            self._sid[si] = d.id
            self._buyer[si] = d.buyer
            self._st_file(d.id, si)
            if d.timed_out:
                self._timed_out[si] = set(d.timed_out)
                self.ss[si].has_timed_out = True
            if d.pool is not None:
                self._enqueue(si, POOL_QUEUE if d.pool is Pool.QUEUE else POOL_OFFLINE)
                if d.ladder is not None:
                    self._restore_ladder(si, d.ladder)
            elif d.agent is not None:
                ai = self._agents[d.agent]
                self.ss[si].prev = -1
                self.ss[si].next = self.ag[ai].head
                if self.ag[ai].head >= 0:
                    self.ss[self.ag[ai].head].prev = si
                self.ag[ai].head = si
                self.ag[ai].load += self.ss[si].weight
                self.ag[ai].count += 1
                self.ss[si].agent = ai
            if d.auto_close is not None:
                self.ss[si].ac_seq = d.auto_close[1]
                self.ss[si].ac_deadline = d.auto_close[0]
                self._tm_push(d.auto_close[0], d.auto_close[1], AUTO_CLOSE, si)
                self.live_timers += 1
            if d.first_response is not None:
                self.ss[si].fr_seq = d.first_response[1]
                self.ss[si].fr_deadline = d.first_response[0]
                self._tm_push(d.first_response[0], d.first_response[1], FIRST_RESPONSE, si)
                self.live_timers += 1
        for ai in self._agents.values():
            # Restored as-is: no normalisation.
            if self.strategy == ROUND_ROBIN:
                self.ag[ai].indexed = self._available(ai)
                self._rr_join_side(ai)
            elif self._available(ai):
                for k in range(self.ag[ai].nslots):
                    self._heap_add(self.ag[ai].slots[k] * 2 + self.ag[ai].online, ai, k)
                self.ag[ai].indexed = True
                self.ag[ai].key_online = self.ag[ai].online
        for buyer, aid, closed_at in state.sticky:
            self._sticky[buyer] = (aid, closed_at)

    cdef int _restore_ladder(self, int si, tuple ladder) except -1:
        since, step, nxt = ladder
        self._lad[si] = [since, step]
        key = (-self.ss[si].priority, self.ss[si].arrival, si)
        for slot in self._esc_slots(si):
            self._esc.setdefault(slot, SortedList()).add(key)
        if nxt is not None:
            self.ss[si].fr_seq = nxt[1]
            self._tm_push(nxt[0], nxt[1], ESCALATE, si)
            self.live_timers += 1
        return 0

    # -- invariants ---------------------------------------------------------------------------

    def _footprint(self):
        """The sizes of the tables that could grow with history (tests: they must follow
        live state). O(groups) for the index capacities."""
        cdef int i
        cdef Py_ssize_t index_room = 0, queue_room = 0
        for i in range(self.nix):
            index_room += self.ix[i].cap
        for i in range(self.nqs):
            queue_room += self.qs[i].cap
        return {
            "group_names": len(self._gid), "group_ids": self.ngroups,
            "group_room": self.gcap, "index_room": index_room, "queue_room": queue_room,
            "agent_slots": self.ag_top, "session_slots": self.ss_top,
            "timer_entries": self.tm_size, "timed_out_sets": len(self._timed_out),
            "sticky": len(self._sticky),
            "handovers": sum(1 for i in range(self.nqs) if self.qs[i].ho != NULL),
            "escalated": len(self._esc),
        }

    cdef int _check_ladder(self, object session_id, int si, dict esc) except -1:
        """R24: ladder state exactly on waiting sessions of laddered groups, its timer at
        the start of the wait plus the next step's ``after``; files ``esc`` from scratch."""
        cdef Sess *s = &self.ss[si]
        cdef int i
        rungs = self._ladders.get(self._gname[s.group]) if s.group >= 0 else None
        laddered = si in self._lad
        if laddered != bool(rungs and s.agent < 0):
            raise AssertionError(f"{session_id!r}: R24 ladder state")
        if not laddered:
            if s.fr_seq and s.agent < 0:
                raise AssertionError(f"{session_id!r}: a timer on a waiting session")
            return 0
        if (s.fr_seq == 0) != (self._step(si) == len(rungs)):
            raise AssertionError(f"{session_id!r}: R24 step timer")
        if s.fr_seq:
            deadline = self._next_deadline_of(si)
            for i in range(self.tm_size):
                if self.tm[i].seq == s.fr_seq:
                    if self.tm[i].kind != ESCALATE or self.tm[i].deadline != deadline:
                        raise AssertionError(f"{session_id!r}: R24 step deadline")
                    break
            else:
                raise AssertionError(f"{session_id!r}: R24 step timer lost")
        for slot in self._esc_slots(si):
            esc.setdefault(slot, []).append((-s.priority, s.arrival, si))
        return 0

    cdef list _check_registry(self):
        """The registry's invariants (see ``_st_find``); returns the open slots in arrival
        order. O(s)."""
        cdef Py_ssize_t p, count = 0
        cdef int si
        if not (self.st_cap >= 16 and self.st_cap & (self.st_cap - 1) == 0
                and 2 * self.st_used <= self.st_cap):
            raise AssertionError("session registry: size")
        for p in range(self.st_cap):
            si = self.st[p].slot
            if si < 0:
                continue
            count += 1
            if not (si < self.ss_top and self.ss[si].in_use and _is_id(self._sid[si])):
                raise AssertionError(f"session registry: entry {p} holds a free slot")
            if self.st[p].hash != _id_hash(self._sid[si]) or self._st_find(
                    self._sid[si], self.st[p].hash) != p:
                raise AssertionError(f"session registry: {self._sid[si]!r} not found")
        in_use = sum(1 for si in range(self.ss_top) if self.ss[si].in_use)
        if not (count == self.st_used == in_use):
            raise AssertionError("session registry: count")
        return self._open_slots()

    def check(self):
        """Verify every invariant from scratch; raise AssertionError naming the first broken."""
        cdef int ai, si, k, q, i, index_id, side, slot, count
        cdef AgentIndex *h
        cdef IxEntry ekey
        lines = {}
        open_slots = self._check_registry()
        for si in open_slots:
            if self.has_kinds and self.ss[si].agent < 0:
                lines.setdefault((self.ss[si].group, self.ss[si].weight), []).append(
                    (-self.ss[si].priority, self.ss[si].arrival, si))
        if {key: sorted(v) for key, v in lines.items()} != {
                key: list(v) for key, v in self._wlines.items()}:
            raise AssertionError("R26 lines by weight")
        placed = {}
        for agent_id, ai in self._agents.items():
            if not (self.ag[ai].in_use and self._aid[ai] == agent_id):
                raise AssertionError(f"agent {agent_id!r}: slot")
            count = 0
            weights = 0
            si = self.ag[ai].head
            while si >= 0:
                session_id = self._sid[si]
                if not (self.ss[si].agent == ai and self.ss[si].pool == POOL_NONE):
                    raise AssertionError(
                        f"session {session_id!r}: agent link")
                if session_id in placed:
                    raise AssertionError(f"session {session_id!r} in two places")
                if not (self.ss[si].next < 0 or self.ss[self.ss[si].next].prev == si):
                    raise AssertionError(
                        f"agent {agent_id!r}: reception list links")
                placed[session_id] = agent_id
                count += 1
                weights += self.ss[si].weight
                if self.ss[si].weight != (
                        <int>self._kinds[self._skind[si]] if si in self._skind else 1):
                    raise AssertionError(f"session {session_id!r}: R26 weight")
                si = self.ss[si].next
            if count != self.ag[ai].count or weights != self.ag[ai].load:
                raise AssertionError(f"agent {agent_id!r}: load {self.ag[ai].load}")
            expected = self._available(ai)
            if bool(self.ag[ai].indexed) != expected:
                raise AssertionError(
                    f"agent {agent_id!r}: indexed {bool(self.ag[ai].indexed)}, expected {expected}")
            for k in range(self.ag[ai].nslots):
                side = self.ag[ai].online if self.strategy == ROUND_ROBIN else self.ag[ai].key_online
                index_id = self.ag[ai].slots[k] * 2 + side
                if self.ag[ai].indexed or self.strategy == ROUND_ROBIN:
                    if not (self.ag[ai].indexed == 0 or self.ag[ai].key_online == self.ag[ai].online):
                        raise AssertionError(
                            f"agent {agent_id!r}: indexed wrong side")
                    i = self.ag[ai].pos[k]
                    h = &self.ix[index_id]
                    if not (0 <= i < h.size and h.e[i].agent == ai and h.e[i].k == k):
                        raise AssertionError(
                            f"agent {agent_id!r}: index position")
                    if self.strategy == ROUND_ROBIN:
                        if self._rr_test(h, i) != self.ag[ai].indexed:
                            raise AssertionError(
                                f"agent {agent_id!r}: availability bit")
                else:
                    if self.ag[ai].pos[k] != -1:
                        raise AssertionError(f"agent {agent_id!r}: stale position")
        members = 0
        for index_id in range(self.nix):
            h = &self.ix[index_id]
            members += h.size
            for i in range(h.size):
                if self.strategy == ROUND_ROBIN:
                    if not (i == 0 or self.ag[h.e[i - 1].agent].reg < self.ag[h.e[i].agent].reg):
                        raise AssertionError(
                            f"index {index_id} out of order")
                else:
                    if not (i == 0 or not self._less(h.e[i].agent, h.e[(i - 1) >> 2].agent)):
                        raise AssertionError(
                            f"index {index_id} out of heap order")
                    _entry_key(&self.ag[h.e[i].agent], &ekey, self.strategy)
                    if (ekey.k1 != h.e[i].k1 or ekey.k2 != h.e[i].k2
                            or ekey.reg != h.e[i].reg):
                        raise AssertionError(f"index {index_id}: stale key at {i}")
            if self.strategy == ROUND_ROBIN:
                for i in range(h.size, ((h.size + 63) // 64) * 64):
                    if not (not self._rr_test(h, i)):
                        raise AssertionError(f"index {index_id}: stray bit")
        expected_members = sum(
            self.ag[ai].nslots for ai in self._agents.values()
            if self.strategy == ROUND_ROBIN or self.ag[ai].indexed)
        if members != expected_members:
            raise AssertionError("index sizes")
        count = 0
        for q in range(self.nqs):
            for i in range(self.qs[q].size):
                si = self.qs[q].item[i]
                session_id = self._sid[si]
                if not (self.ss[si].group + 1 == q and self.ss[si].agent < 0):
                    raise AssertionError(f"queue {q}")
                if not (self.ss[si].pool != POOL_NONE and self.ss[si].qpos == i):
                    raise AssertionError(f"queue {q}")
                if not (i == 0 or not self._before(si, self.qs[q].item[(i - 1) >> 1])):
                    raise AssertionError(
                        f"queue {q} out of order")
                if session_id in placed:
                    raise AssertionError(f"session {session_id!r} in two places")
                placed[session_id] = "pool"
                count += 1
        if count != self.waiting_count:
            raise AssertionError("waiting count")
        for q in range(self.nqs):
            if self._t_check(self.qs[q].root, -1, -1) != self.qs[q].size:
                raise AssertionError(f"R25 rank treap {q}: size")
            if q > 0 and self._gname[q - 1] is None and self.qs[q].ho != NULL:
                raise AssertionError(f"R25 hand-overs of a forgotten group {q}")
            for i in range(1, self.qs[q].ho_n):
                if (self.qs[q].ho[(self.qs[q].ho_head - i + C_MAX_SAMPLE) % C_MAX_SAMPLE]
                        < self.qs[q].ho[(self.qs[q].ho_head - i - 1 + C_MAX_SAMPLE)
                                        % C_MAX_SAMPLE]):
                    raise AssertionError(f"R25 hand-over times {q} out of order")
        for q in range(1, self.nqs):
            limited = self.track_oldest and self._gname[q - 1] in self._wait_limited
            if self.aq[q].size != (self.qs[q].size if limited else 0):
                raise AssertionError(f"R28 arrival heap {q}: size")
            for i in range(self.aq[q].size):
                si = self.aq[q].item[i]
                if not (self.ss[si].apos == i and self.ss[si].group + 1 == q
                        and self.ss[si].pool != POOL_NONE):
                    raise AssertionError(f"R28 arrival heap {q}: entry")
                if i and self.ss[self.aq[q].item[(i - 1) >> 1]].arrival > self.ss[si].arrival:
                    raise AssertionError(f"R28 arrival heap {q}: order")
        if set(placed) != {self._sid[si] for si in open_slots}:
            raise AssertionError("a session is nowhere or a stray is somewhere")
        arrivals = [self.ss[si].arrival for si in open_slots]
        if len(set(arrivals)) != len(arrivals):
            raise AssertionError("two open sessions share an arrival number")
        online = [ai for ai in self._agents.values() if self.ag[ai].online]
        if self.online_total != len(online):
            raise AssertionError("online count")
        if not (self.online_all == sum(self.ag[ai].all_groups for ai in online)):
            raise AssertionError("online-all")
        if not self.all_live and (self.ngroups or self.ix[SLOT_ALL * 2].size
                                  or self.ix[SLOT_ALL * 2 + 1].size):
            raise AssertionError("ALL indexes asleep while groups exist")
        for q in range(self.ngroups):
            if self.online_groups[q] != sum(
                1 for ai in online if not self.ag[ai].all_groups and self._serves(ai, q)
            ):
                raise AssertionError("online per group")
        refs = [0] * self.ngroups
        for ai in self._agents.values():
            for k in range(1, self.ag[ai].nslots if not self.ag[ai].all_groups else 1):
                refs[self.ag[ai].slots[k] - 2] += 1
        for si in open_slots:
            if self.ss[si].group >= 0:
                refs[self.ss[si].group] += 1
        free = {self.g_free[i] for i in range(self.g_nfree)}
        if not (len(free) == self.g_nfree and self.ngroups <= self.gcap):
            raise AssertionError("free gids")
        for q in range(self.ngroups):
            if self.g_refs[q] != refs[q]:
                raise AssertionError(f"group {self._gname[q]!r}: {self.g_refs[q]} refs")
            if refs[q]:
                if not (self._gid.get(self._gname[q]) == q and q not in free):
                    raise AssertionError(f"gid {q}: name")
            else:
                if not (self._gname[q] is None and q in free):
                    raise AssertionError(f"gid {q}: unused but kept")
        if len(self._gid) != self.ngroups - self.g_nfree:
            raise AssertionError("group names")
        busy = [q for q in range(self.nqs) if self.qs[q].size > 0]
        if self.nbusy != len(busy):
            raise AssertionError("busy waiting heaps")
        for q in busy:
            if self.busy_q[self.qs[q].busy] != q:
                raise AssertionError(f"queue {q}: busy position")
        live = 0
        esc = {}
        for ai in self._agents.values():
            if self.ag[ai].away and not self.ag[ai].online:
                raise AssertionError(f"agent {self._aid[ai]!r} away but offline")
            if self.ag[ai].gr_seq:
                if self.ag[ai].online:
                    raise AssertionError(f"agent {self._aid[ai]!r} online with a grace timer")
                live += 1
        for si in open_slots:
            session_id = self._sid[si]
            if not (self.ss[si].fr_seq == 0 or self.ss[si].agent >= 0 or si in self._lad):
                raise AssertionError(
                    f"{session_id!r}: R18 timer in pool")
            live += (self.ss[si].ac_seq != 0) + (self.ss[si].fr_seq != 0)
            self._check_ladder(session_id, si, esc)
            if self.ss[si].agent < 0:  # R06
                for agent_id, ai in self._agents.items():
                    if not (not self._eligible(ai, si)):
                        raise AssertionError(
                            f"R06: {session_id!r} waits but {agent_id!r} is eligible")
        if ({name: sorted(keys) for name, keys in esc.items()}
                != {name: list(keys) for name, keys in self._esc.items()}):
            raise AssertionError("R24 escalated lists")
        if live != self.live_timers:
            raise AssertionError("live timer count")
        count = 0
        if not 0 <= self.tm_heap <= self.tm_size:
            raise AssertionError("timer heap")
        for i in range(self.tm_size):
            count += self._is_live(&self.tm[i])
            if not (i == 0 or i >= self.tm_heap
                    or not self._tm_less(&self.tm[i], &self.tm[(i - 1) >> 1])):
                raise AssertionError("timer heap")
        if count != live:
            raise AssertionError("timer heap")
        for buyer, (aid, _) in self._sticky.items():
            if not (aid in self._agents):
                raise AssertionError(f"sticky entry of {buyer!r} for a removed agent")


# -- the compiled facade --------------------------------------------------------------
#
# ``kefu._facade`` puts these functions on ``kefu.Assigner`` in place of its Python hot
# methods, which stay the reference: each takes the guard, checks its arguments exactly
# as the Python method does (the same fast test, then the same ``kefu._checks`` call for
# the error), reads the clock and, on this engine, runs the command's cdef code, all in
# one C call. Another engine gets the same checked values and ``now`` through its methods.

cdef class FacadeState:
    """An Assigner's fields as C fields, read by the compiled hot calls without lookups."""

    cdef public object _clock
    cdef public object _config
    cdef public object _engine
    cdef public object _guard
    cdef public double _last_now


cdef object _ManualClock = ManualClock
# Where a ManualClock keeps its time (the slot behind ``ManualClock._now``).
cdef Py_ssize_t _MANUAL_OFF = (<PyMemberDescrObject*><PyObject*>ManualClock.__dict__["_now"]
                               ).d_member.offset


cdef inline bint _enter(object guard) except -1:
    """Take the one-writer guard (S02): True if it was free, False if a call holds it.

    The compiled ``Guard``'s flag is tested and set here, with no Python code between;
    any other guard (a lock, without a GIL) through its ``enter()``.
    """
    if type(guard) is Guard:
        if (<Guard>guard).busy:
            return False
        (<Guard>guard).busy = True
        return True
    return bool(guard.enter())


cdef inline int _leave(object guard) except -1:
    if type(guard) is Guard:
        (<Guard>guard).busy = False
    else:
        guard.leave()
    return 0


cdef object _ask_clock(object clock):
    """The clock's ``now()`` (as patched or replaced, if it is: a SystemClock's too);
    whatever it raises is an InvalidArgument saying so."""
    try:
        return clock.now()
    except Exception as exc:  # the caller's clock failed: say so, change nothing
        raise InvalidArgument(f"clock.now() raised {short_repr(exc)}") from exc


cdef object _read_now(FacadeState self):
    """``Assigner._now`` in C: read the clock once, hold time from running back (S01, R20).

    A ``ManualClock`` (exactly that class) is read from its slot; any other clock is
    asked. The common reading, a finite float at or after the last one, is returned
    as the very object read; anything else goes through ``kefu.clock.settle_reading``.
    O(1).
    """
    cdef double t
    cdef PyObject *held
    clock = self._clock
    if type(clock) is _ManualClock:
        held = (<PyObject**>((<char*><PyObject*>clock) + _MANUAL_OFF))[0]
        # An empty slot (a clock never initialised): ask it, which raises as ``_now`` does.
        now = <object>held if held != NULL else _ask_clock(clock)
    else:
        now = _ask_clock(clock)
    if type(now) is float:
        t = <double>now
        if self._last_now <= t <= _MAX_SECONDS and t >= -_MAX_SECONDS:  # -inf: not finite
            self._last_now = t
            return now
    now = settle_reading(now, self._last_now)
    self._last_now = <double>now
    return now


cdef inline object _now_for(FacadeState self, object session_id):
    """Check a session id (with ``check_id``'s error), then read the clock. O(1)."""
    if not _is_id(session_id):
        check_id("session", session_id)
    return _read_now(self)


def facade_now(FacadeState self):
    return _read_now(self)


def facade_open_session(FacadeState self, session_id, buyer=None, group=None, priority=0,
                        kind=None):
    cdef list events
    guard = self._guard
    if not _enter(guard):
        raise ConcurrentCall("open_session")
    try:
        if not (_is_id(session_id) and _is_optional_id(buyer) and _is_optional_id(group)
                and _is_priority(priority)):
            check_session_args(session_id, buyer, group, priority)
        if kind is not None:
            check_kind(kind)
        now = _read_now(self)
        engine = self._engine
        if type(engine) is Engine:
            events = []
            (<Engine>engine)._open(now, session_id, buyer, group, priority, events, kind)
            return events
        if kind is None:
            return engine.open_session(now, session_id, buyer, group, priority)
        return engine.open_session(now, session_id, buyer, group, priority, kind)
    finally:
        _leave(guard)


def facade_close_session(FacadeState self, session_id):
    cdef list events
    guard = self._guard
    if not _enter(guard):
        raise ConcurrentCall("close_session")
    try:
        now = _now_for(self, session_id)
        engine = self._engine
        if type(engine) is Engine:
            events = []
            (<Engine>engine)._close((<Engine>engine)._session_slot(session_id), now, C_MANUAL,
                                    events)
            return events
        return engine.close_session(now, session_id)
    finally:
        _leave(guard)


def facade_buyer_message(FacadeState self, session_id):
    guard = self._guard
    if not _enter(guard):
        raise ConcurrentCall("buyer_message")
    try:
        now = _now_for(self, session_id)
        engine = self._engine
        if type(engine) is Engine:
            (<Engine>engine)._buyer_message(now, session_id)
            return []
        return engine.buyer_message(now, session_id)
    finally:
        _leave(guard)


def facade_agent_message(FacadeState self, session_id, auto=False, agent_id=None):
    guard = self._guard
    if not _enter(guard):
        raise ConcurrentCall("agent_message")
    try:
        if not (_is_id(session_id) and type(auto) is bool and _is_optional_id(agent_id)):
            check_id("session", session_id)
            check_flag("auto", auto)
            if agent_id is not None:
                check_id("agent", agent_id)
        now = _read_now(self)
        engine = self._engine
        if type(engine) is Engine:
            (<Engine>engine)._agent_message(now, session_id, auto is True, agent_id)
            return []
        return engine.agent_message(now, session_id, auto, agent_id)
    finally:
        _leave(guard)


def facade_tick(FacadeState self):
    cdef list events
    guard = self._guard
    if not _enter(guard):
        raise ConcurrentCall("tick")
    try:
        now = _read_now(self)
        engine = self._engine
        if type(engine) is Engine:
            events = []
            (<Engine>engine)._tick(<double>now, events)
            return events
        return engine.tick(now)
    finally:
        _leave(guard)
