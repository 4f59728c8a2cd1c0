# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# distutils: language = c++
"""The compiled kernel of the KPI message pass (kefu.kpi.timeline.MessageScan).

Theory of operation. ``scan(msgs, as_of)`` does what ``scan_messages_py``
does, with the same result, field for field, for the price of reading each
message's fields once:

1. Each message's time, seq and sender rank go into a C array with its
   position, sorted by (at, seq, rank, position): a total order, so the
   result is that of a stable sort (a radix sort by time, then the runs of
   equal times by the full key). Runs whose (at, seq, rank) tie are then
   stable-sorted by ``message_id`` in Python; ties are rare (copies, and
   replies stamped with their question's second), so together this is the
   reference's order, (at, seq, sender, message_id), stable.
2. One scan in that order skips adjacent copies (counted) and runs the wait
   state machine per session, in C arrays indexed by session number (a
   hash table maps session ids to numbers in first-appearance order).
3. The waits are grouped by session with a counting sort (stable), which is
   the reference's ``sorted(range(n), key=keys)``.

Anything the fast path cannot decide identically returns None, and the
caller runs the reference instead: two copies of a message that differ, a
copy that is not adjacent to the first (found with a hash set of message
ids, keyed on str's cached hash), a seq outside int64, or an int time that a
double cannot hold exactly.
"""

from cpython.mem cimport PyMem_Malloc, PyMem_Calloc, PyMem_Free
from cpython.object cimport PyObject, PyObject_RichCompareBool, Py_EQ, PyObject_Hash
from cpython.array cimport array, clone
from libc.stdint cimport int64_t, int32_t, uint64_t
from libc.math cimport INFINITY
from libc.string cimport memcpy

from operator import attrgetter

from kefu.kpi.records import Message, Sender

cdef type _MESSAGE = Message

cdef object _BUYER = Sender.BUYER
cdef object _AGENT = Sender.AGENT
cdef object _BOT = Sender.BOT
cdef object _SYSTEM = Sender.SYSTEM
cdef object _UNKNOWN = Sender.UNKNOWN
cdef object _MID = attrgetter("message_id")
cdef array _DOUBLES = array("d")
cdef array _INT64S = array("q")
cdef double _EXACT = 9007199254740992.0  # 2**53: ints up to this are exact doubles

cdef extern from *:
    """
    #include <algorithm>
    #include <cstdint>
    #include <cstring>
    #include <utility>
    #include <vector>
    struct KefuKey {
        double at; int64_t seq; int rank; Py_ssize_t pos; Py_hash_t mid_hash, sid_hash;
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
    void prefetch "__builtin_prefetch"(const void* address) nogil
    int sort_keys "kefu_sort_keys"(Key* keys, Py_ssize_t n) except + nogil
    void sort_doubles "kefu_sort_doubles"(double* values, Py_ssize_t n) nogil


cdef inline int _rank(object sender) except -2:
    if sender is _BUYER:
        return 0
    if sender is _AGENT:
        return 1
    if sender is _BOT:
        return 2
    if sender is _SYSTEM:
        return 3
    if sender is _UNKNOWN:
        return 4
    raise TypeError(f"Message.sender must be a Sender, got {sender!r}")


cdef inline bint _same_key(Key* a, Key* b) noexcept nogil:
    return a.at == b.at and a.seq == b.seq and a.rank == b.rank


cdef struct Slot:
    Py_hash_t hash
    PyObject* key
    Py_ssize_t value


cdef class _Table:
    """A str -> number map for this pass: open addressing over (hash, borrowed str
    pointer, number) slots, so a probe costs one cache miss, which the caller
    hides by prefetching a later key's slot (hashes are taken beforehand, in
    input order). The strings stay alive in the caller's message list."""

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

    cdef Py_ssize_t get_or_add(self, object key, Py_hash_t h, Py_ssize_t value) except -2:
        """The number stored for ``key`` (of hash ``h``); if none, store ``value``
        and return -1."""
        cdef Py_ssize_t i = (<uint64_t>h) & self.mask
        cdef Slot* slot
        while True:
            slot = &self.slots[i]
            if slot.key == NULL:
                slot.key = <PyObject*>key
                slot.hash = h
                slot.value = value
                return -1
            if slot.hash == h and (slot.key == <PyObject*>key or PyObject_RichCompareBool(
                    <object>slot.key, key, Py_EQ)):
                return slot.value
            i = (i + 1) & self.mask


cdef array _doubles(Py_ssize_t n):
    return clone(_DOUBLES, n, False)


def scan(list msgs, double as_of):
    """The message pass over ``msgs`` as known at ``as_of``: the fields of a
    MessageScan in ``__init__`` order, or None when the reference must decide."""
    cdef Py_ssize_t n_all = len(msgs)
    cdef Key* keys = <Key*>PyMem_Malloc((n_all + 1) * sizeof(Key))
    if keys == NULL:
        raise MemoryError()
    try:
        return _scan(msgs, as_of, keys, n_all)
    finally:
        PyMem_Free(keys)


cdef object _scan(list msgs, double as_of, Key* keys, Py_ssize_t n_all):
    cdef Py_ssize_t n = 0, k, a, b, pos
    cdef object m, at_obj, seq_obj
    cdef double at
    cdef bint any_seq = False
    # 1. Keys of the messages not after as_of, then their order.
    for pos in range(n_all):
        m = msgs[pos]
        if type(m) is not _MESSAGE:
            # Only exact Message records: their fields are validated and held in
            # slots, so the borrowed pointers in the id tables stay valid and no
            # attribute read runs Python code. Anything else: the reference.
            return None
        at_obj = m.at
        if type(at_obj) is float:
            at = <double>at_obj
        else:
            if not (-_EXACT <= at_obj <= _EXACT):
                return None
            at = <double>at_obj
        if at > as_of:
            continue
        seq_obj = m.seq
        try:
            keys[n].seq = seq_obj
        except OverflowError:
            return None
        keys[n].at = at
        if keys[n].seq != 0:
            any_seq = True
        keys[n].rank = _rank(m.sender)
        # Hashing here, in input (memory) order, is cheaper than in time order.
        keys[n].mid_hash = PyObject_Hash(m.message_id)
        keys[n].sid_hash = PyObject_Hash(m.session_id)
        keys[n].pos = pos
        n += 1
    with nogil:
        sort_keys(keys, n)
    cdef list ordered = [None] * n
    for k in range(n):
        ordered[k] = msgs[keys[k].pos]
    # Runs of equal (at, seq, rank): stable by message_id, as the reference.
    k = 0
    while k + 1 < n:
        if _same_key(&keys[k], &keys[k + 1]):
            a = k
            b = k + 2
            while b < n and _same_key(&keys[a], &keys[b]):
                b += 1
            _sort_run(ordered, keys, a, b)
            k = b
        else:
            k += 1
    return _walk(ordered, keys, n, any_seq)


cdef int _sort_run(list ordered, Key* keys, Py_ssize_t a, Py_ssize_t b) except -1:
    """Stable-sort positions ``a:b`` (equal time, seq and rank) by message_id, moving
    the messages and their keys (which carry their hashes) together."""
    cdef list run = ordered[a:b]
    cdef list order = sorted(range(b - a), key=[_MID(m) for m in run].__getitem__)
    cdef Key* saved = <Key*>PyMem_Malloc((b - a) * sizeof(Key))
    cdef Py_ssize_t i, q
    if saved == NULL:
        raise MemoryError()
    for i in range(b - a):
        saved[i] = keys[a + i]
    for i in range(b - a):
        q = order[i]
        keys[a + i] = saved[q]
        ordered[a + i] = run[q]
    PyMem_Free(saved)
    return 0


cdef object _walk(list ordered, Key* keys, Py_ssize_t n, bint any_seq):
    # Per session (by number j, at most n of them) and per wait (at most n). A
    # session's ``bot`` byte: bit 0, the bot wrote in it; bit 1, a wait is open
    # (since ``pending``).
    cdef double* pending = <double*>PyMem_Malloc((n + 1) * sizeof(double))
    cdef double* early = <double*>PyMem_Malloc((n + 1) * sizeof(double))
    cdef char* bot = <char*>PyMem_Calloc(n + 1, 1)
    cdef int64_t* last_seq = <int64_t*>PyMem_Malloc((n + 1) * sizeof(int64_t))
    cdef int32_t* wkey = <int32_t*>PyMem_Malloc((n + 1) * sizeof(int32_t))
    cdef double* wu = <double*>PyMem_Malloc((n + 1) * sizeof(double))
    cdef double* wr = <double*>PyMem_Malloc((n + 1) * sizeof(double))
    try:
        if (pending == NULL or early == NULL or bot == NULL or last_seq == NULL
                or wkey == NULL or wu == NULL or wr == NULL):
            raise MemoryError()
        return _run(ordered, keys, n, any_seq, pending, early, bot, last_seq, wkey, wu, wr)
    finally:
        PyMem_Free(pending)
        PyMem_Free(early)
        PyMem_Free(bot)
        PyMem_Free(last_seq)
        PyMem_Free(wkey)
        PyMem_Free(wu)
        PyMem_Free(wr)


cdef object _run(list ordered, Key* keys, Py_ssize_t n, bint any_seq, double* pending,
                 double* early, char* bot, int64_t* last_seq, int32_t* wkey, double* wu,
                 double* wr):
    cdef _Table number = _Table(n)  # session id -> session number
    cdef list ids = []
    cdef list buyers = []
    cdef list ragents = []
    cdef _Table seen = _Table(n)  # message ids
    cdef Py_ssize_t k, j, s = 0, w = 0, copies = 0, unknown = 0, disorder = 0
    cdef object m, prev = None, mid, prev_mid = None, sid
    cdef int rank
    cdef double at
    for k in range(n):
        m = ordered[k]
        mid = m.message_id
        if prev_mid is not None and PyObject_RichCompareBool(mid, prev_mid, Py_EQ):
            if not PyObject_RichCompareBool(m, prev, Py_EQ):
                return None  # two different messages with one id
            copies += 1
            continue
        if k + 8 < n:  # the tables are big: hide their cache misses
            seen.will_probe(keys[k + 8].mid_hash)
            number.will_probe(keys[k + 8].sid_hash)
        if seen.get_or_add(mid, keys[k].mid_hash, 0) != -1:
            return None  # a copy away from its first: the reference decides
        prev = m
        prev_mid = mid
        sid = m.session_id
        j = number.get_or_add(sid, keys[k].sid_hash, s)
        if j == -1:
            j = s
            ids.append(sid)
            buyers.append(m.buyer_id)
            early[j] = INFINITY
            last_seq[j] = keys[k].seq
            s += 1
        elif any_seq:
            if keys[k].seq < last_seq[j]:
                disorder += 1
            last_seq[j] = keys[k].seq
        rank = keys[k].rank
        at = keys[k].at
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
                ragents.append(m.agent_id)
            elif early[j] == INFINITY:
                early[j] = at
        elif rank == 2:
            bot[j] |= 1
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
    return _grouped(ids, buyers, early, bot, s, wkey, wu, wr, w, ragents, copies, unknown,
                    disorder, keys[0].at if n else INFINITY, keys[n - 1].at if n else -INFINITY)


cdef object _grouped(list ids, list buyers, double* early, char* bot, Py_ssize_t s,
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
    cdef list bot_list = [bool(bot[j] & 1) for j in range(s)]
    return (ids, buyers, early_list, bot_list, us, rs, wlo, ragents, rorder, copies, 0,
            unknown, disorder, first, last)


def sorted_doubles(array values):
    """A sorted copy of an array('d') without NaN (K08's percentiles)."""
    if values.ob_descr.typecode != b'd':
        raise TypeError(f"sorted_doubles needs an array('d'), got {values.typecode!r}")
    cdef Py_ssize_t n = len(values), k
    for k in range(n):
        if values.data.as_doubles[k] != values.data.as_doubles[k]:
            raise ValueError("sorted_doubles: NaN has no place in an order")
    cdef array out = clone(_DOUBLES, n, False)
    if n:
        memcpy(out.data.as_doubles, values.data.as_doubles, n * sizeof(double))
        with nogil:
            sort_doubles(out.data.as_doubles, n)
    return out
