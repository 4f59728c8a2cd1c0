# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# distutils: language = c++
"""The compiled kernel of the KPI message pass (kefu.kpi.timeline.MessageScan).

Theory of operation. ``scan(msgs, as_of)`` does what ``scan_messages_py``
does, with the same result, field for field, for the price of reading each
message's fields once:

1. The list is copied into a tuple of our own (the caller's list may change
   while we work; the tuple cannot). Each record must be an exact
   ``Message``; its seven fields are read straight from the instance's slots
   (offsets taken from the class's member descriptors at import, so no
   attribute lookup and no code of the record's runs) and checked: exact
   ``str`` ids, ``agent_id`` None or an exact ``str``, an exact float or int
   time in [MIN_TIME, MAX_TIME), a ``Sender`` member, an exact int seq. The
   ids are kept with a reference of our own for the whole pass.
2. Each message's time, seq and sender rank go into a C array with its
   position, sorted by (at, seq, rank, position): a total order (no NaN can
   be there), so the result is that of a stable sort (a radix sort by time,
   then the runs of equal times by the full key). Runs whose (at, seq, rank)
   tie are then stable-sorted by ``message_id`` (code point order, as
   Python's ``<`` on str); ties are rare (copies, and replies stamped with
   their question's second), so together this is the reference's order,
   (at, seq, sender, message_id), stable.
3. One scan in that order skips adjacent copies (counted) and runs the wait
   state machine per session, in C arrays indexed by session number (a
   hash table maps session ids to numbers in first-appearance order).
4. The waits are grouped by session with a counting sort (stable), which is
   the reference's ``sorted(range(n), key=keys)``.

Only exact ``str``, ``int``, ``float`` and the ``Sender`` members are ever
looked into, so no code of the caller's (``__hash__``, ``__eq__``,
``__float__``, ``__index__``, properties) runs during the pass. Anything the
fast path has not checked, or cannot decide identically, returns None and
the caller runs the reference instead (which validates every record first,
:mod:`kefu.kpi.intake`, and raises InvalidRecord for a bad one): a record
that is not an exact ``Message`` or holds a field of another type or out of
range, a NaN ``as_of``, two copies of a message that differ, a copy that is
not adjacent to the first (found with a hash set of message ids), a seq
outside int64.
"""

from cpython.mem cimport PyMem_Malloc, PyMem_Calloc, PyMem_Free
from cpython.object cimport PyObject, PyObject_RichCompareBool, Py_EQ, PyObject_Hash
from cpython.ref cimport Py_INCREF, Py_DECREF
from cpython.array cimport array, clone
from libc.stdint cimport int64_t, int32_t, uint64_t
from libc.math cimport INFINITY
from libc.string cimport memcpy

from types import MemberDescriptorType

from kefu.kpi.records import MAX_TIME, MIN_TIME, Message, Sender

cdef type _MESSAGE = Message

cdef object _BUYER = Sender.BUYER
cdef object _AGENT = Sender.AGENT
cdef object _BOT = Sender.BOT
cdef object _SYSTEM = Sender.SYSTEM
cdef object _UNKNOWN = Sender.UNKNOWN
cdef array _DOUBLES = array("d")
cdef array _INT64S = array("q")
cdef double _MIN_TIME = MIN_TIME
cdef double _MAX_TIME = MAX_TIME
cdef long long _MIN_INT_TIME = <long long>MIN_TIME
cdef long long _MAX_INT_TIME = <long long>MAX_TIME
# More messages than this go to the reference: session and wait numbers are int32.
cdef Py_ssize_t _MAX_MESSAGES = 2147483647 - 16

cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    bint PyUnicode_CheckExact(PyObject* o)
    bint PyFloat_CheckExact(PyObject* o)
    bint PyLong_CheckExact(PyObject* o)
    double PyFloat_AS_DOUBLE(PyObject* o)
    long long PyLong_AsLongLongAndOverflow(PyObject* o, int* overflow) except? -1
    Py_ssize_t Py_SIZE(object o)
    PyObject* Py_None
    PyObject* PyList_GET_ITEM(list l, Py_ssize_t i)  # borrowed; no bounds check

cdef extern from *:
    """
    #include <algorithm>
    #include <cstdint>
    #include <cstring>
    #include <utility>
    #include <vector>
    struct KefuKey {
        double at; int64_t seq; int rank; Py_ssize_t pos; Py_hash_t mid_hash, sid_hash;
        PyObject *sid, *bid, *mid, *agent;  /* strong references, released by _Keys */
    };
    static inline bool kefu_key_less(const KefuKey& x, const KefuKey& y) {
        if (x.at != y.at) return x.at < y.at;
        if (x.seq != y.seq) return x.seq < y.seq;
        if (x.rank != y.rank) return x.rank < y.rank;
        return x.pos < y.pos;
    }
    /* Order-preserving bits of a double (no NaN): unsigned order = numeric order. */
    static inline uint64_t kefu_order_bits(double d) {
        uint64_t u;
        if (d == 0.0) d = 0.0;  /* -0.0 == 0.0 */
        std::memcpy(&u, &d, sizeof u);
        return (u >> 63) ? ~u : (u | 0x8000000000000000ULL);
    }
    /* Sort by kefu_key_less. A stable LSD radix sort by time (8-bit digits,
       skipping digits all keys share: a day's times share their top bits),
       then the rare runs of equal times by the full key. Near-sorted input
       (a loader's time order) costs the same as random input: no bad pivots. */
    static int kefu_sort_keys(KefuKey* keys, Py_ssize_t n) {
        if (n < 64 || n >= 0xFFFFFFFFLL) {
            std::sort(keys, keys + n, [](const KefuKey& x, const KefuKey& y) {
                return kefu_key_less(x, y);
            });
            return 0;
        }
        std::vector<std::pair<uint64_t, uint32_t>> a(n), b(n);
        for (Py_ssize_t i = 0; i < n; i++) a[i] = {kefu_order_bits(keys[i].at), (uint32_t)i};
        for (int shift = 0; shift < 64; shift += 8) {
            size_t count[257] = {0};
            for (Py_ssize_t i = 0; i < n; i++) count[((a[i].first >> shift) & 0xFF) + 1]++;
            bool one_bucket = false;
            for (int d = 1; d <= 256; d++) if ((Py_ssize_t)count[d] == n) one_bucket = true;
            if (one_bucket) continue;
            for (int d = 0; d < 256; d++) count[d + 1] += count[d];
            for (Py_ssize_t i = 0; i < n; i++) b[count[(a[i].first >> shift) & 0xFF]++] = a[i];
            a.swap(b);
        }
        std::vector<KefuKey> sorted(n);
        for (Py_ssize_t i = 0; i < n; i++) sorted[i] = keys[a[i].second];
        Py_ssize_t i = 0;
        while (i < n) {
            Py_ssize_t j = i + 1;
            while (j < n && sorted[j].at == sorted[i].at) j++;
            if (j - i > 1)
                std::sort(sorted.begin() + i, sorted.begin() + j,
                          [](const KefuKey& x, const KefuKey& y) { return kefu_key_less(x, y); });
            i = j;
        }
        std::copy(sorted.begin(), sorted.end(), keys);
        return 0;
    }
    /* Stable sort of keys[0:n] by message id, code point order (Python's < on str).
       The ids are exact str, so the comparison runs no Python code and cannot fail. */
    static void kefu_sort_by_mid(KefuKey* keys, Py_ssize_t n) {
        std::stable_sort(keys, keys + n, [](const KefuKey& x, const KefuKey& y) {
            return PyUnicode_Compare(x.mid, y.mid) < 0;
        });
    }
    static void kefu_sort_doubles(double* values, Py_ssize_t n) {
        std::sort(values, values + n);
    }
    """
    ctypedef struct Key "KefuKey":
        double at
        int64_t seq
        int rank
        Py_ssize_t pos
        Py_hash_t mid_hash
        Py_hash_t sid_hash
        PyObject* sid
        PyObject* bid
        PyObject* mid
        PyObject* agent
    void prefetch "__builtin_prefetch"(const void* address) nogil
    int sort_keys "kefu_sort_keys"(Key* keys, Py_ssize_t n) except + nogil
    void sort_by_mid "kefu_sort_by_mid"(Key* keys, Py_ssize_t n) except +
    void sort_doubles "kefu_sort_doubles"(double* values, Py_ssize_t n) nogil


cdef inline void _fill(Key* key, double at, int64_t seq, int rank, Py_ssize_t pos,
                       PyObject* sid, PyObject* bid, PyObject* mid, PyObject* agent) noexcept:
    """One row's sort key, holding a reference to each of its (exact str) ids. Hashing
    here, in input (memory) order, is cheaper than in time order; an exact str's hash
    is computed by CPython itself, once, and cannot fail."""
    key.at = at
    key.seq = seq
    key.rank = rank
    key.pos = pos
    key.mid_hash = PyObject_Hash(<object>mid)
    key.sid_hash = PyObject_Hash(<object>sid)
    Py_INCREF(<object>sid)
    Py_INCREF(<object>bid)
    Py_INCREF(<object>mid)
    Py_INCREF(<object>agent)
    key.sid, key.bid, key.mid, key.agent = sid, bid, mid, agent


cdef Py_ssize_t _slot_offset(str name) except -1:
    """Where field ``name`` lives in an exact Message (a slot holding an object)."""
    descr = _MESSAGE.__dict__[name]
    if type(descr) is not MemberDescriptorType:
        raise ImportError(f"kefu.kpi._kernel_c: Message.{name} is not a slot")
    cdef PyMemberDef* member = (<PyMemberDescrObject*>descr).d_member
    if member.type != 16:  # T_OBJECT_EX: a PyObject* that may be NULL (unset)
        raise ImportError(f"kefu.kpi._kernel_c: Message.{name} is not an object slot")
    return member.offset


cdef Py_ssize_t _SID = _slot_offset("session_id")
cdef Py_ssize_t _BID = _slot_offset("buyer_id")
cdef Py_ssize_t _AT = _slot_offset("at")
cdef Py_ssize_t _SENDER = _slot_offset("sender")
cdef Py_ssize_t _MID = _slot_offset("message_id")
cdef Py_ssize_t _AGENT_ID = _slot_offset("agent_id")
cdef Py_ssize_t _SEQ = _slot_offset("seq")


cdef inline PyObject* _slot(object m, Py_ssize_t offset) noexcept:
    """The object in the slot at ``offset`` of exact Message ``m`` (borrowed; NULL if unset)."""
    return (<PyObject**>((<char*><PyObject*>m) + offset))[0]


cdef inline int _rank(PyObject* sender) noexcept:
    """The sort rank of a Sender member (buyer first), or -1 for anything else."""
    if sender == <PyObject*>_BUYER:
        return 0
    if sender == <PyObject*>_AGENT:
        return 1
    if sender == <PyObject*>_BOT:
        return 2
    if sender == <PyObject*>_SYSTEM:
        return 3
    if sender == <PyObject*>_UNKNOWN:
        return 4
    return -1


cdef inline bint _same_key(Key* a, Key* b) noexcept nogil:
    return a.at == b.at and a.seq == b.seq and a.rank == b.rank


cdef inline bint _same_str(PyObject* a, PyObject* b) noexcept:
    """Equality of two exact str (or None) values; runs no Python code."""
    if a == b:
        return True
    if a == Py_None or b == Py_None:
        return False
    return PyUnicode_Compare(<object>a, <object>b) == 0


cdef inline bint _same_message(Key* a, Key* b) noexcept:
    """What ``==`` says of the two (exact, checked) Messages behind two keys."""
    return (a.at == b.at and a.seq == b.seq and a.rank == b.rank
            and _same_str(a.mid, b.mid) and _same_str(a.sid, b.sid)
            and _same_str(a.bid, b.bid) and _same_str(a.agent, b.agent))


cdef extern from "Python.h":
    int PyUnicode_Compare(object a, object b) except? -1


cdef struct Slot:
    Py_hash_t hash
    PyObject* key
    Py_ssize_t value


cdef class _Table:
    """A str -> number map for this pass: open addressing over (hash, borrowed str
    pointer, number) slots, so a probe costs one cache miss, which the caller
    hides by prefetching a later key's slot (hashes are taken beforehand, in
    input order). The keys are exact str held by the pass's ``_Keys``, so
    comparing them runs no Python code and they outlive the table."""

    cdef Slot* slots
    cdef Py_ssize_t mask

    def __cinit__(self, Py_ssize_t n):
        cdef Py_ssize_t size = 8
        while size < 2 * n + 8:
            size <<= 1
        self.mask = size - 1
        self.slots = <Slot*>PyMem_Calloc(size, sizeof(Slot))
        if self.slots == NULL:
            raise MemoryError()

    def __dealloc__(self):
        PyMem_Free(self.slots)

    cdef inline void will_probe(self, Py_hash_t h) noexcept:
        """Start fetching the slot a key of hash ``h`` probes first."""
        prefetch(&self.slots[(<uint64_t>h) & self.mask])

    cdef Py_ssize_t get_or_add(self, PyObject* key, Py_hash_t h, Py_ssize_t value) noexcept:
        """The number stored for exact str ``key`` (of hash ``h``); if none, store
        ``value`` and return -1. The table has room for every key: it never fills."""
        cdef Py_ssize_t i = (<uint64_t>h) & self.mask
        cdef Slot* slot
        while True:
            slot = &self.slots[i]
            if slot.key == NULL:
                slot.key = key
                slot.hash = h
                slot.value = value
                return -1
            if slot.hash == h and _same_str(slot.key, key):
                return slot.value
            i = (i + 1) & self.mask


cdef class _Keys:
    """The pass's own storage: one Key per message not after ``as_of``, holding a
    reference to each of its ids until the pass is over."""

    cdef Key* keys
    cdef Py_ssize_t n

    def __cinit__(self, Py_ssize_t size):
        self.n = 0
        self.keys = <Key*>PyMem_Malloc((size + 1) * sizeof(Key))
        if self.keys == NULL:
            raise MemoryError()

    def __dealloc__(self):
        cdef Py_ssize_t k
        for k in range(self.n):
            Py_DECREF(<object>self.keys[k].sid)
            Py_DECREF(<object>self.keys[k].bid)
            Py_DECREF(<object>self.keys[k].mid)
            Py_DECREF(<object>self.keys[k].agent)
        PyMem_Free(self.keys)


cdef array _doubles(Py_ssize_t n):
    return clone(_DOUBLES, n, False)


def scan(list msgs, object as_of):
    """The message pass over ``msgs`` as known at ``as_of`` (a float): the fields of a
    MessageScan in ``__init__`` order, or None when the reference must decide."""
    if type(as_of) is not float or as_of != as_of:
        return None
    cdef tuple items = tuple(msgs)  # ours: the caller's list may change, this cannot
    cdef Py_ssize_t n_all = len(items)
    if n_all > _MAX_MESSAGES:
        return None
    cdef _Keys store = _Keys(n_all)
    cdef int any_seq = _read(items, <double>as_of, store)
    if any_seq < 0:
        return None
    cdef Key* keys = store.keys
    cdef Py_ssize_t n = store.n
    with nogil:
        sort_keys(keys, n)
    _sort_ties(keys, n)
    return _walk(keys, n, any_seq == 1)


def scan_columns(const double[::1] at, list sids, list bids, const signed char[::1] senders,
                 list mids, list agents, const int64_t[::1] seqs, object as_of):
    """The message pass over a MessageTable's columns (checked when it was made: exact
    str ids, times in range, sender codes 0-4, int64 seq), as :func:`scan` over its
    rows as records: the same fields, or None when the columnar reference must decide
    (conflicting or scattered copies). Reads each row's values straight from the
    arrays and lists, in row order; then the same sort and walk as :func:`scan`."""
    if type(as_of) is not float or as_of != as_of:
        return None
    cdef Py_ssize_t n_all = at.shape[0]
    if n_all > _MAX_MESSAGES or not (len(sids) == len(bids) == len(mids) == len(agents)
                                     == senders.shape[0] == seqs.shape[0] == n_all):
        return None
    cdef _Keys store = _Keys(n_all)
    cdef Py_ssize_t pos, n = 0
    cdef int any_seq = 0
    cdef PyObject* sid
    cdef PyObject* bid
    cdef PyObject* mid
    cdef PyObject* agent
    for pos in range(n_all):
        if at[pos] > <double>as_of:
            continue
        sid = PyList_GET_ITEM(sids, pos)
        bid = PyList_GET_ITEM(bids, pos)
        mid = PyList_GET_ITEM(mids, pos)
        agent = PyList_GET_ITEM(agents, pos)
        if not (PyUnicode_CheckExact(sid) and PyUnicode_CheckExact(bid)
                and PyUnicode_CheckExact(mid)
                and (agent == Py_None or PyUnicode_CheckExact(agent))
                and 0 <= senders[pos] <= 4):
            return None  # not a table's column: the reference checks it
        # a table's sender codes are the ranks
        _fill(&store.keys[n], at[pos], seqs[pos], senders[pos], pos, sid, bid, mid, agent)
        n += 1
        store.n = n
        if seqs[pos] != 0:
            any_seq = 1
    cdef Key* keys = store.keys
    with nogil:
        sort_keys(keys, n)
    _sort_ties(keys, n)
    return _walk(keys, n, any_seq == 1)


cdef int _read(tuple items, double as_of, _Keys store) except -2:
    """Check every record and keep the keys of those not after ``as_of``.

    Returns 1 if some seq is not 0, 0 if none is, -1 if a record is not one
    the fast path takes (the reference then decides, or refuses it). Every
    record is checked, also those after ``as_of``, as the reference does.
    """
    cdef Py_ssize_t pos, n = 0
    cdef object m
    cdef PyObject* sid
    cdef PyObject* bid
    cdef PyObject* at_obj
    cdef PyObject* sender
    cdef PyObject* mid
    cdef PyObject* agent
    cdef PyObject* seq_obj
    cdef double at
    cdef long long whole
    cdef int overflow, rank, any_seq = 0
    cdef int64_t seq
    for pos in range(len(items)):
        m = items[pos]
        if type(m) is not _MESSAGE:
            return -1
        sid = _slot(m, _SID)
        bid = _slot(m, _BID)
        at_obj = _slot(m, _AT)
        sender = _slot(m, _SENDER)
        mid = _slot(m, _MID)
        agent = _slot(m, _AGENT_ID)
        seq_obj = _slot(m, _SEQ)
        if (sid == NULL or bid == NULL or at_obj == NULL or sender == NULL or mid == NULL
                or agent == NULL or seq_obj == NULL):
            return -1  # a field deleted behind the record's back
        if not (PyUnicode_CheckExact(sid) and PyUnicode_CheckExact(bid)
                and PyUnicode_CheckExact(mid)
                and (agent == Py_None or PyUnicode_CheckExact(agent))):
            return -1
        if PyFloat_CheckExact(at_obj):
            at = PyFloat_AS_DOUBLE(at_obj)
            if not (_MIN_TIME <= at < _MAX_TIME):  # false for NaN too
                return -1
        elif PyLong_CheckExact(at_obj):
            overflow = 0
            whole = PyLong_AsLongLongAndOverflow(at_obj, &overflow)
            if overflow or not (_MIN_INT_TIME <= whole < _MAX_INT_TIME):
                return -1
            at = <double>whole  # exact: |whole| < 2**53
        else:
            return -1
        rank = _rank(sender)
        if rank < 0:
            return -1
        if not PyLong_CheckExact(seq_obj):
            return -1
        overflow = 0
        seq = PyLong_AsLongLongAndOverflow(seq_obj, &overflow)
        if overflow:
            return -1  # a valid seq beyond int64: the reference orders it
        if at > as_of:
            continue
        _fill(&store.keys[n], at, seq, rank, pos, sid, bid, mid, agent)
        n += 1
        store.n = n
        if seq != 0:
            any_seq = 1
    return any_seq


cdef void _sort_ties(Key* keys, Py_ssize_t n) noexcept:
    """Runs of equal (at, seq, rank) in sorted ``keys``: stable by message id."""
    cdef Py_ssize_t k = 0, b
    while k + 1 < n:
        if _same_key(&keys[k], &keys[k + 1]):
            b = k + 2
            while b < n and _same_key(&keys[k], &keys[b]):
                b += 1
            sort_by_mid(&keys[k], b - k)
            k = b
        else:
            k += 1


cdef object _walk(Key* keys, Py_ssize_t n, bint any_seq):
    # Per session (by number j, at most n of them) and per wait (at most n). A
    # session's ``bot`` byte: bit 1, a wait is open (since ``pending``); ``botat``
    # its first BOT message.
    cdef double* pending = <double*>PyMem_Malloc((n + 1) * sizeof(double))
    cdef double* early = <double*>PyMem_Malloc((n + 1) * sizeof(double))
    cdef char* bot = <char*>PyMem_Calloc(n + 1, 1)
    cdef double* botat = <double*>PyMem_Malloc((n + 1) * sizeof(double))
    cdef int64_t* last_seq = <int64_t*>PyMem_Malloc((n + 1) * sizeof(int64_t))
    cdef int32_t* wkey = <int32_t*>PyMem_Malloc((n + 1) * sizeof(int32_t))
    cdef double* wu = <double*>PyMem_Malloc((n + 1) * sizeof(double))
    cdef double* wr = <double*>PyMem_Malloc((n + 1) * sizeof(double))
    try:
        if (pending == NULL or early == NULL or bot == NULL or botat == NULL or last_seq == NULL
                or wkey == NULL or wu == NULL or wr == NULL):
            raise MemoryError()
        return _run(keys, n, any_seq, pending, early, bot, botat, last_seq, wkey, wu, wr)
    finally:
        PyMem_Free(pending)
        PyMem_Free(early)
        PyMem_Free(bot)
        PyMem_Free(botat)
        PyMem_Free(last_seq)
        PyMem_Free(wkey)
        PyMem_Free(wu)
        PyMem_Free(wr)


cdef object _run(Key* keys, Py_ssize_t n, bint any_seq, double* pending, double* early,
                 char* bot, double* botat, int64_t* last_seq, int32_t* wkey, double* wu,
                 double* wr):
    cdef _Table number = _Table(n)  # session id -> session number
    cdef list ids = []
    cdef list buyers = []
    cdef list ragents = []
    cdef _Table seen = _Table(n)  # message ids
    cdef Py_ssize_t k, j, prev = -1, s = 0, w = 0, copies = 0, unknown = 0, disorder = 0
    cdef int rank
    cdef double at
    cdef Key* key
    for k in range(n):
        key = &keys[k]
        if prev >= 0 and _same_str(key.mid, keys[prev].mid):
            if not _same_message(key, &keys[prev]):
                return None  # two different messages with one id
            copies += 1
            continue
        if k + 8 < n:  # the tables are big: hide their cache misses
            seen.will_probe(keys[k + 8].mid_hash)
            number.will_probe(keys[k + 8].sid_hash)
        if seen.get_or_add(key.mid, key.mid_hash, 0) != -1:
            return None  # a copy away from its first: the reference decides
        prev = k
        j = number.get_or_add(key.sid, key.sid_hash, s)
        if j == -1:
            j = s
            ids.append(<object>key.sid)
            buyers.append(<object>key.bid)
            early[j] = INFINITY
            botat[j] = INFINITY
            last_seq[j] = key.seq
            s += 1
        elif any_seq:
            if key.seq < last_seq[j]:
                disorder += 1
            last_seq[j] = key.seq
        rank = key.rank
        at = key.at
        if rank == 0:  # BUYER: opens a wait unless one is open
            if bot[j] & 2 == 0:
                pending[j] = at
                bot[j] |= 2
        elif rank == 1:  # AGENT: answers the open wait, if any
            if bot[j] & 2:
                wkey[w] = <int32_t>j
                wu[w] = pending[j]
                wr[w] = at
                w += 1
                bot[j] &= ~2
                ragents.append(<object>key.agent)
            elif early[j] == INFINITY:
                early[j] = at
        elif rank == 2:
            if botat[j] == INFINITY:
                botat[j] = at
        elif rank == 4:
            unknown += 1
    # Unanswered waits, by session number (the reference appends them in key order).
    for j in range(s):
        if bot[j] & 2:
            wkey[w] = <int32_t>j
            wu[w] = pending[j]
            wr[w] = INFINITY
            w += 1
            ragents.append(None)
    return _grouped(ids, buyers, early, botat, s, wkey, wu, wr, w, ragents, copies, unknown,
                    disorder, keys[0].at if n else INFINITY, keys[n - 1].at if n else -INFINITY)


cdef object _grouped(list ids, list buyers, double* early, double* botat, Py_ssize_t s,
                     int32_t* wkey, double* wu, double* wr, Py_ssize_t w, list ragents,
                     Py_ssize_t copies, Py_ssize_t unknown, Py_ssize_t disorder, double first,
                     double last):
    """Counting sort of the waits by session (stable), and the result tuple."""
    cdef array us = _doubles(w)
    cdef array rs = _doubles(w)
    cdef array rorder = clone(_INT64S, w, False)
    cdef Py_ssize_t k, j, at
    cdef list wlo = [0] * (s + 1)
    cdef Py_ssize_t* start = <Py_ssize_t*>PyMem_Calloc(s + 1, sizeof(Py_ssize_t))
    if start == NULL:
        raise MemoryError()
    try:
        for k in range(w):
            start[wkey[k] + 1] += 1
        for j in range(s):
            start[j + 1] += start[j]
            wlo[j + 1] = start[j + 1]
        for k in range(w):
            at = start[wkey[k]]
            start[wkey[k]] = at + 1
            us.data.as_doubles[at] = wu[k]
            rs.data.as_doubles[at] = wr[k]
            (<int64_t*>rorder.data.as_voidptr)[at] = k
    finally:
        PyMem_Free(start)
    cdef list early_list = [early[j] for j in range(s)]
    cdef list bot_list = [botat[j] for j in range(s)]
    return (ids, buyers, early_list, bot_list, us, rs, wlo, ragents, rorder, copies, 0,
            unknown, disorder, first, last)


def sorted_doubles(array values):
    """A sorted copy of an exact array('d') without NaN (K08's percentiles)."""
    if type(values) is not array or values.ob_descr.typecode != b'd':
        raise TypeError("sorted_doubles needs an array('d')")
    cdef Py_ssize_t n = Py_SIZE(values), k
    for k in range(n):
        if values.data.as_doubles[k] != values.data.as_doubles[k]:
            raise ValueError("sorted_doubles: NaN has no place in an order")
    cdef array out = clone(_DOUBLES, n, False)
    if n:
        memcpy(out.data.as_doubles, values.data.as_doubles, n * sizeof(double))
        with nogil:
            sort_doubles(out.data.as_doubles, n)
    return out
