# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# distutils: language = c++
"""The compiled KPI kernel: the message pass (kefu.kpi.timeline.MessageScan), then
the per-session walks (``walk``, ``contacts``, ``consults``, ``last_answers``, at the
end of this file), each the twin of a pure-Python reference with identical results.

Theory of operation. ``scan(msgs, as_of)`` does what ``scan_messages_py``
does, with the same result, field for field, for the price of reading each
message's fields once:

1. The list is copied into a tuple of our own (the caller's list may change
   while we work; the tuple cannot). Each record must be an exact
   ``Message``; its seven fields are read straight from the instance's slots
   (offsets taken from the class's member descriptors at import, so no
   attribute lookup and no code of the record's runs; while the class reads
   each field from that slot, else the reference reads them) and checked: exact
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

cimport cython
from cpython.mem cimport PyMem_Malloc, PyMem_Calloc, PyMem_Free, PyMem_Realloc
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_DECREF, Py_XINCREF, Py_XDECREF
from cpython.array cimport array, clone, extend_buffer
from cpython.list cimport PyList_New, PyList_SET_ITEM
from libcpp.vector cimport vector
from libcpp.utility cimport pair
from libcpp.algorithm cimport sort as cpp_sort
from libc.stdint cimport int64_t, int32_t, uint64_t
from libc.math cimport INFINITY
from libc.string cimport memcpy

from types import MemberDescriptorType

from numpy import ndarray as _NDARRAY

from kefu.kpi.records import MAX_TIME, MIN_TIME, Handover, Message, Release, Sender
from kefu.kpi.window import BeforeWindow

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
    long long PyLong_AsLongLongAndOverflow(PyObject* o, int* overflow) except? -1
    Py_ssize_t Py_SIZE(object o)
    PyObject* Py_None
    PyObject* PyList_GET_ITEM(list l, Py_ssize_t i)  # borrowed; no bounds check
    # Releases a reference held by a C struct: one decrement (Cython's Py_DECREF of an
    # ``<object>`` cast takes a reference first and drops two, three steps for one).
    void _release "Py_DECREF"(PyObject* o)
    int PyObject_IS_GC(PyObject* o)
    void PyObject_GC_UnTrack(void* o)

cdef int _untrack(list values) except -1:
    """Take ``values`` out of the cyclic garbage collector's sight when none of its items
    is of a kind the collector follows (str, int, float, None, bool): no reference cycle
    can pass through such a list, so the collector has nothing to find in it, yet each
    collection while it is young, and each full one after, visits every item (the
    waits' reply agents are a list as long as the day's waits). The list is one this
    kernel or the timeline made and only ever holds such values; were a container put
    in it later, a cycle through it would merely never be collected. Returns 1 when
    untracked, 0 when some item is of a tracked kind (the list is left as it is).
    O(n) C steps, once, where each collection took as many. Runs no Python code."""
    cdef Py_ssize_t k
    for k in range(len(values)):
        if PyObject_IS_GC(PyList_GET_ITEM(values, k)):
            return 0
    PyObject_GC_UnTrack(<void*>values)
    return 1


def untrack_atoms(*lists):
    """:func:`_untrack` each of ``lists`` (exact lists; anything else is left alone), for
    the timeline's columns made in Python. Returns how many were untracked."""
    cdef int done = 0
    for values in lists:
        if type(values) is list:
            done += _untrack(<list>values)
    return done


cdef extern from *:
    """
    #include <algorithm>
    #include <cmath>
    #include <cstdint>
    #include <cstdlib>
    #include <cstring>
    #include <memory>
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
    /* Sort keys nearly in order in O(n): each key joins the sorted run keys[0:w] if
       it goes within 8 places of its end (a neighbour swapped), else waits aside (a
       copy delivered late); the few aside are sorted and merged in from the back. Gives
       up (False) with more than n/16 aside, the keys then a permutation of the input:
       any sort gives the same order, as it is total. */
    static bool kefu_nearly_sorted(KefuKey* keys, Py_ssize_t n) {
        Py_ssize_t w = 0, most = n / 16 + 64;
        std::vector<KefuKey> aside;
        aside.reserve(most + 1);  /* may throw here, before any key moved; never after */
        for (Py_ssize_t i = 0; i < n; i++) {
            KefuKey x = keys[i];
            if (w == 0 || !kefu_key_less(x, keys[w - 1])) {
                if (w != i) keys[w] = x;
                w++;
                continue;
            }
            Py_ssize_t lo = w > 8 ? w - 8 : 0, p = w - 1;  /* x < keys[p] */
            while (p > lo && kefu_key_less(x, keys[p - 1])) p--;
            if (p == lo && lo > 0 && kefu_key_less(x, keys[lo - 1])) {
                aside.push_back(x);
                if ((Py_ssize_t)aside.size() > most) {  /* into the gap [w, i + 1) */
                    std::copy(aside.begin(), aside.end(), keys + w);
                    return false;
                }
                continue;
            }
            std::memmove(keys + p + 1, keys + p, (size_t)(w - p) * sizeof(KefuKey));
            keys[p] = x;
            w++;
        }
        std::sort(aside.begin(), aside.end(), [](const KefuKey& x, const KefuKey& y) {
            return kefu_key_less(x, y);
        });
        Py_ssize_t k = n - 1, r = w - 1, q = (Py_ssize_t)aside.size() - 1;
        while (q >= 0) {
            if (r >= 0 && kefu_key_less(aside[q], keys[r])) keys[k--] = keys[r--];
            else keys[k--] = aside[q--];
        }
        return true;
    }
    /* Sort keys that come as a few runs, each in order: a live tracker's walk hands
       over its sessions' messages one session after another, each session's in time
       order. The runs are merged pairwise, bottom-up, as (order bits, position)
       pairs of 16 bytes (equal times compared by the whole key), then the keys are
       put in their places once, in place: O(n log runs), where the radix sort below
       reads and writes every key for each of up to eight digits. That pays while the
       keys stay in the cache and the merge passes are few. Measured on whole passes
       against the radix sort: 5,000 keys in runs of 64 or more took 0.8x its time,
       but 400,000 keys in runs of 4,096 (about 100 runs: a day's export ordered by
       session) 1.1x, and 5,000 keys in runs of 8 (625 runs) 1.3x. So it gives up
       (False), with no key moved, for fewer than 64 keys,
       more than 16,384, or more than ``most_runs`` runs; every allocation comes
       before a key moves. */
    static bool kefu_merge_runs(KefuKey* keys, Py_ssize_t n, Py_ssize_t most_runs) {
        if (n < 64 || n > 16384)
            return false;
        std::vector<Py_ssize_t> starts, next;
        starts.reserve(most_runs + 2);
        starts.push_back(0);
        for (Py_ssize_t i = 1; i < n; i++) {
            if (kefu_key_less(keys[i], keys[i - 1])) {
                if ((Py_ssize_t)starts.size() == most_runs)
                    return false;
                starts.push_back(i);
            }
        }
        if (starts.size() == 1)
            return true;  /* one run: in order already */
        starts.push_back(n);
        next.reserve(starts.size());
        typedef std::pair<uint64_t, uint32_t> Place;
        std::unique_ptr<Place[]> a(new Place[n]), b(new Place[n]);  /* not zeroed */
        for (Py_ssize_t i = 0; i < n; i++) a[i] = {kefu_order_bits(keys[i].at), (uint32_t)i};
        auto less = [keys](const Place& x, const Place& y) {
            if (x.first != y.first) return x.first < y.first;
            return kefu_key_less(keys[x.second], keys[y.second]);
        };
        Place* src = a.get();
        Place* dst = b.get();
        while (starts.size() > 2) {  /* runs: starts[k] .. starts[k + 1] */
            next.clear();
            size_t k = 0;
            for (; k + 2 < starts.size(); k += 2) {
                std::merge(src + starts[k], src + starts[k + 1], src + starts[k + 1],
                           src + starts[k + 2], dst + starts[k], less);
                next.push_back(starts[k]);
            }
            if (k + 1 < starts.size()) {  /* an odd run out: as it is */
                std::copy(src + starts[k], src + starts[k + 1], dst + starts[k]);
                next.push_back(starts[k]);
            }
            next.push_back(n);
            starts.swap(next);
            std::swap(src, dst);
        }
        /* Place i takes the key at src[i].second: each cycle of that permutation
           followed once, in place, a place marked done by pointing at itself. */
        for (Py_ssize_t i = 0; i < n; i++) {
            if (src[i].second == (uint32_t)i)
                continue;
            KefuKey first = keys[i];
            Py_ssize_t j = i;
            while (true) {
                Py_ssize_t from = src[j].second;
                src[j].second = (uint32_t)j;
                if (from == i) {
                    keys[j] = first;
                    break;
                }
                keys[j] = keys[from];
                j = from;
            }
        }
        return true;
    }
    /* Sort by kefu_key_less. A stable LSD radix sort by time (8-bit digits,
       skipping digits all keys share: a day's times share their top bits),
       then the rare runs of equal times by the full key: no bad pivots.
       Keys in order or nearly (a table or list in time order, a few neighbours
       swapped or copies appended, as a loader reads them) are sorted by
       kefu_nearly_sorted first, in O(n), and keys in a few sorted runs by
       kefu_merge_runs before that (the order is total: ``pos`` breaks every tie,
       so any sort gives the same keys). */
    static int kefu_sort_keys(KefuKey* keys, Py_ssize_t n) {
        if (kefu_merge_runs(keys, n, std::min<Py_ssize_t>(n / 8 + 1, 128)))
            return 0;
        if (kefu_nearly_sorted(keys, n))
            return 0;
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
    /* Sort doubles (no NaN), stably as Python's sort: -0.0 and 0.0 compare equal
       but differ, so they keep their order (a zero median's sign as sorted() gives
       it). A sorted run with a shorter tail (samples in order with a few appended)
       sorts the tail alone and merges it (stably too): O(n) for a short tail. */
    /* Stable LSD radix sort of doubles (no NaN) by value, -0.0 and 0.0 as equals (so they
       keep their order, as in a stable comparison sort): one pass counts all six 11-bit
       digits (six passes at most, where bytes took eight; 2,048 counters a digit stay
       in cache), then one pass per digit the values do not all share. O(n), for big
       runs (a day's samples); False, having changed nothing, when no buffer is to be
       had. */
    static bool kefu_radix_doubles(double* values, Py_ssize_t n) {
        static const int D = 6, BITS = 11, B = 1 << BITS;
        double* buf = (double*)std::malloc((size_t)n * sizeof(double));
        if (buf == NULL) return false;
        std::vector<size_t> counts;
        try { counts.assign(D * B, 0); } catch (...) { std::free(buf); return false; }
        size_t* cs = counts.data();
        for (Py_ssize_t i = 0; i < n; i++) {
            uint64_t u = kefu_order_bits(values[i]);
            for (int d = 0; d < D; d++) cs[d * B + ((u >> (BITS * d)) & (B - 1))]++;
        }
        double* src = values;
        double* dst = buf;
        for (int d = 0; d < D; d++) {
            size_t* c = cs + d * B;
            bool shared = false;
            for (int b = 0; b < B; b++) if ((Py_ssize_t)c[b] == n) shared = true;
            if (shared) continue;
            size_t at = 0;
            for (int b = 0; b < B; b++) { size_t k = c[b]; c[b] = at; at += k; }
            for (Py_ssize_t i = 0; i < n; i++)
                dst[c[(kefu_order_bits(src[i]) >> (BITS * d)) & (B - 1)]++] = src[i];
            std::swap(src, dst);
        }
        if (src != values) std::memcpy(values, src, (size_t)n * sizeof(double));
        std::free(buf);
        return true;
    }
    /* Sort doubles (no NaN) in [a, b) as a stable sort does. Two equal doubles are the
       same bits unless one is 0.0 and the other -0.0, so only a -0.0 among them makes
       the order of equals visible: without one, the unstable std::sort (about a
       quarter fewer instructions than std::stable_sort on an agent's thousand
       samples) gives the very values a stable sort gives. O(n log n). */
    static void kefu_sort_run(double* a, double* b) {
        for (double* p = a; p < b; p++)
            if (*p == 0.0 && std::signbit(*p)) {
                std::stable_sort(a, b);
                return;
            }
        std::sort(a, b);
    }
    static void kefu_sort_doubles(double* values, Py_ssize_t n) {
        double* tail = std::is_sorted_until(values, values + n);
        if (tail - values >= n / 2) {
            kefu_sort_run(tail, values + n);
            std::inplace_merge(values, tail, values + n);
        } else if (n < 2048 || !kefu_radix_doubles(values, n)) {
            kefu_sort_run(values, values + n);
        }
    }
    /* Whether exact str ``s`` has its code points in place (always, from 3.12 on). */
    static inline int kefu_str_ready(PyObject* s) {
    #if PY_VERSION_HEX < 0x030C0000
        if (!PyUnicode_IS_READY(s) && PyUnicode_READY(s) < 0) { PyErr_Clear(); return 0; }
    #endif
        return 1;
    }
    /* The hash of an exact str for this kernel's tables, keyed so that ids chosen
       to collide cannot pile into one probe run and make a pass quadratic (a
       fixed hash, or a seeded multiply-and-shift one, lets anyone who reads it
       build such ids). Two steps, both keyed by secrets drawn from Python's own
       hash secret when the module loads (so ``PYTHONHASHSEED`` fixes them, as it
       fixes Python's dicts): a polynomial in ``kefu_poly_key`` modulo the prime
       2**61 - 1 over the str's bytes in 7-byte pieces, led by its length and
       width, where two different strings of at most L pieces agree for at most
       L of the 2**61 keys; then one multiplication by the odd ``kefu_mix_key``,
       whose top bits (a table's index) two different values share with chance
       about 2 / 2**bits. A multiplication per 7 bytes: cheaper than SipHash,
       which a fresh id of a dozen characters pays in full. CPython keeps every
       str in the narrowest width that holds it, so equal strings have equal
       bytes and equal hashes. */
    static uint64_t kefu_poly_key = 0x0A4093822299F31DULL;
    static uint64_t kefu_mix_key = 0x9E3779B97F4A7C15ULL;
    static const uint64_t KEFU_M61 = (1ULL << 61) - 1;
    /* a * b modulo 2**61 - 1, for a below 2**62 and b below 2**61; the result is
       below 2**61 + 4 (not always fully reduced: equal inputs still give equal
       results, and equal results mean equal values modulo the prime). */
    static inline uint64_t kefu_mul61(uint64_t a, uint64_t b) {
    #if defined(__SIZEOF_INT128__)
        __uint128_t product = (__uint128_t)a * b;
        uint64_t lower = (uint64_t)product, above = (uint64_t)(product >> 61);
    #else
        uint64_t ll = (a & 0xFFFFFFFFULL) * (b & 0xFFFFFFFFULL);
        uint64_t hl = (a >> 32) * (b & 0xFFFFFFFFULL), lh = (a & 0xFFFFFFFFULL) * (b >> 32);
        uint64_t cross = (ll >> 32) + (hl & 0xFFFFFFFFULL) + lh;
        uint64_t upper = (hl >> 32) + (cross >> 32) + (a >> 32) * (b >> 32);
        uint64_t lower = (cross << 32) | (ll & 0xFFFFFFFFULL), above = (upper << 3) | (lower >> 61);
    #endif
        uint64_t r = (lower & KEFU_M61) + above;
        return (r & KEFU_M61) + (r >> 61);
    }
    static inline Py_hash_t kefu_str_hash(PyObject* s) {
        if (!kefu_str_ready(s)) return 0;
        int kind = PyUnicode_KIND(s);
        Py_ssize_t n = PyUnicode_GET_LENGTH(s) * kind;
        const unsigned char* p = (const unsigned char*)PyUnicode_DATA(s);
        uint64_t h = ((uint64_t)n << 2) + (uint64_t)kind, v;
        for (; n >= 7; n -= 7, p += 7) {
            v = 0;
            std::memcpy(&v, p, 7);
            h = kefu_mul61(h, kefu_poly_key) + v;
        }
        if (n > 0) {
            v = 0;
            std::memcpy(&v, p, (size_t)n);
            h = kefu_mul61(h, kefu_poly_key) + v;
        }
        return (Py_hash_t)(h * kefu_mix_key);
    }
    static inline void kefu_set_hash_keys(uint64_t poly, uint64_t mix) {
        kefu_poly_key = poly % (KEFU_M61 - 1) + 1;
        kefu_mix_key = mix | 1;
    }
    /* Equality of two exact str: lengths, kinds and bytes (CPython keeps every str in
       the narrowest kind that holds it, so equal strings have equal bytes). */
    static inline int kefu_str_eq(PyObject* a, PyObject* b) {
        if (!kefu_str_ready(a) || !kefu_str_ready(b)) {
            int c = PyUnicode_Compare(a, b);
            if (c == -1 && PyErr_Occurred()) { PyErr_Clear(); return 0; }
            return c == 0;
        }
        Py_ssize_t n = PyUnicode_GET_LENGTH(a);
        int kind = PyUnicode_KIND(a);
        return n == PyUnicode_GET_LENGTH(b) && kind == (int)PyUnicode_KIND(b)
               && std::memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)n * kind) == 0;
    }
    /* A hand-over (kind 1) or release (0) of the routes pass; references held. */
    struct KefuRoute {
        PyObject *sid, *at_obj, *agent, *gkey; double at; int64_t seq; int kind; Py_ssize_t n;
        uint64_t pre;  /* set by kefu_sort_routes */
    };
    /* Python's order of the reference's tuples (sid, at, seq, kind, agent, gkey, n):
       exact str compared by code point (no Python code runs), numbers by value. */
    /* Python's order of two exact str (by code point): bytes for two 1-byte strings
       (then memcmp is that order), else PyUnicode_Compare, which cannot fail on them. */
    static inline int kefu_str_cmp(PyObject* a, PyObject* b) {
        if (a == b) return 0;
        if (kefu_str_ready(a) && kefu_str_ready(b) && PyUnicode_KIND(a) == PyUnicode_1BYTE_KIND
                && PyUnicode_KIND(b) == PyUnicode_1BYTE_KIND) {
            Py_ssize_t na = PyUnicode_GET_LENGTH(a), nb = PyUnicode_GET_LENGTH(b);
            int c = std::memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)(na < nb ? na : nb));
            if (c != 0) return c;
            return na < nb ? -1 : (na > nb ? 1 : 0);
        }
        return PyUnicode_Compare(a, b);
    }
    /* The first 8 bytes of a 1-byte str, big-endian, zero-padded: for two such strs,
       a smaller prefix means a smaller str (a shorter str pads with 0, below any byte
       of a longer one but 0 itself, and equal prefixes decide nothing). */
    static inline uint64_t kefu_str_prefix(PyObject* s) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(s);
        const unsigned char* d = (const unsigned char*)PyUnicode_DATA(s);
        uint64_t p = 0;
        for (Py_ssize_t i = 0; i < 8; i++) p = (p << 8) | (i < n ? d[i] : 0u);
        return p;
    }
    /* Sort by the reference's tuple order; the session ids' prefixes (when every id is
       a 1-byte str, else all 0) settle most comparisons without a string compare. */
    static void kefu_sort_routes(std::vector<KefuRoute>& v) {
        bool bytes = true;
        for (const KefuRoute& r : v)
            if (!kefu_str_ready(r.sid) || PyUnicode_KIND(r.sid) != PyUnicode_1BYTE_KIND) {
                bytes = false;
                break;
            }
        for (KefuRoute& r : v) r.pre = bytes ? kefu_str_prefix(r.sid) : 0;
        std::sort(v.begin(), v.end(), [](const KefuRoute& x, const KefuRoute& y) {
            if (x.pre != y.pre) return x.pre < y.pre;
            int c = kefu_str_cmp(x.sid, y.sid);
            if (c != 0) return c < 0;
            if (x.at != y.at) return x.at < y.at;
            if (x.seq != y.seq) return x.seq < y.seq;
            if (x.kind != y.kind) return x.kind < y.kind;
            c = kefu_str_cmp(x.agent, y.agent);
            if (c != 0) return c < 0;
            c = kefu_str_cmp(x.gkey, y.gkey);
            if (c != 0) return c < 0;
            return x.n < y.n;
        });
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
    ctypedef struct Route "KefuRoute":
        PyObject* sid
        PyObject* at_obj
        PyObject* agent
        PyObject* gkey
        double at
        int64_t seq
        int kind
        Py_ssize_t n
    Py_hash_t str_hash "kefu_str_hash"(PyObject* s) noexcept
    void set_hash_keys "kefu_set_hash_keys"(uint64_t poly, uint64_t mix) noexcept
    bint str_eq "kefu_str_eq"(PyObject* a, PyObject* b) noexcept
    void sort_routes "kefu_sort_routes"(vector[Route]& v) except +


cdef inline void _fill(Key* key, bint after, double at, int64_t seq, int rank, Py_ssize_t pos,
                       PyObject* sid, PyObject* bid, PyObject* mid, PyObject* agent) noexcept:
    """One row's sort key, holding a reference to each of its (exact str) ids. Hashing
    here, in input (memory) order, is cheaper than in time order; the hash is
    the tables' keyed one (``kefu_str_hash``) and cannot fail. A session id that is
    the very object of the row filled before (``key - 1``, when ``after``: a loader's
    rows of one session often share it) takes that row's hash instead of hashing it
    again: the object is alive (that key holds it), so an equal pointer is that str."""
    key.at = at
    key.seq = seq
    key.rank = rank
    key.pos = pos
    key.mid_hash = str_hash(mid)
    if after and (key - 1).sid == sid:
        key.sid_hash = (key - 1).sid_hash
    else:
        key.sid_hash = str_hash(sid)
    Py_INCREF(<object>sid)
    Py_INCREF(<object>bid)
    Py_INCREF(<object>mid)
    Py_INCREF(<object>agent)
    key.sid, key.bid, key.mid, key.agent = sid, bid, mid, agent


include "_message_slots.pxi"


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
    return str_eq(a, b)


cdef inline bint _same_message(Key* a, Key* b) noexcept:
    """What ``==`` says of the two (exact, checked) Messages behind two keys."""
    return (a.at == b.at and a.seq == b.seq and a.rank == b.rank
            and _same_str(a.mid, b.mid) and _same_str(a.sid, b.sid)
            and _same_str(a.bid, b.bid) and _same_str(a.agent, b.agent))


cdef struct Slot:
    Py_hash_t hash
    PyObject* key
    Py_ssize_t value


@cython.final
cdef class _Table:
    """A str -> number map for this pass: open addressing over (hash, borrowed str
    pointer, number) slots, so a probe costs one cache miss, which the caller
    hides by prefetching a later key's slot (hashes are taken beforehand, in
    input order). The keys are exact str held by the pass's ``_Keys``, so
    comparing them runs no Python code and they outlive the table. It starts
    with room for ``n`` keys and doubles when half full (O(1) amortised a key):
    a day's sessions are a small share of its messages, and a table sized for
    the messages would spread the sessions over pages each probe faults in."""

    cdef Slot* slots
    cdef Py_ssize_t mask
    cdef int shift  # a key's first slot is its hash's top bits: 64 - log2(slots)
    cdef Py_ssize_t used

    def __cinit__(self, Py_ssize_t n):
        cdef Py_ssize_t size = 8
        cdef int bits = 3
        while size < 2 * n + 8:
            size <<= 1
            bits += 1
        self.mask = size - 1
        self.shift = 64 - bits
        self.used = 0
        self.slots = <Slot*>PyMem_Calloc(size, sizeof(Slot))
        if self.slots == NULL:
            raise MemoryError()

    def __dealloc__(self):
        PyMem_Free(self.slots)

    cdef inline void will_probe(self, Py_hash_t h) noexcept:
        """Start fetching the slot a key of hash ``h`` probes first."""
        prefetch(&self.slots[(<uint64_t>h) >> self.shift])

    cdef int _grow(self) except -1:
        """Twice the slots, every key moved to its place among them. O(keys)."""
        cdef Py_ssize_t size = 2 * (self.mask + 1), mask = size - 1, k, i
        cdef int shift = self.shift - 1
        cdef Slot* old = self.slots
        cdef Slot* slots = <Slot*>PyMem_Calloc(size, sizeof(Slot))
        if slots == NULL:
            raise MemoryError()
        for k in range(self.mask + 1):
            if old[k].key != NULL:
                i = (<uint64_t>old[k].hash) >> shift
                while slots[i].key != NULL:
                    i = (i + 1) & mask
                slots[i] = old[k]
        self.slots, self.mask, self.shift = slots, mask, shift
        PyMem_Free(old)
        return 0

    cdef inline Py_ssize_t get_or_add(self, PyObject* key, Py_hash_t h,
                                      Py_ssize_t value) except -2:
        """The number stored for exact str ``key`` (of hash ``h``); if none, store
        ``value`` and return -1. The table is never more than half full. Inline (the
        class is final: no call through its method table), one call a message."""
        cdef Py_ssize_t i = (<uint64_t>h) >> self.shift
        cdef Slot* slot
        while True:
            slot = &self.slots[i]
            if slot.key == NULL:
                slot.key = key
                slot.hash = h
                slot.value = value
                self.used += 1
                if 2 * self.used > self.mask:
                    self._grow()
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
            _release(self.keys[k].sid)
            _release(self.keys[k].bid)
            _release(self.keys[k].mid)
            _release(self.keys[k].agent)
        PyMem_Free(self.keys)


cdef array _doubles(Py_ssize_t n):
    return clone(_DOUBLES, n, False)


set_hash_keys(<uint64_t>(hash(b"kefu.kpi id tables: polynomial") & 0xFFFFFFFFFFFFFFFF),
              <uint64_t>(hash(b"kefu.kpi id tables: mix") & 0xFFFFFFFFFFFFFFFF))


def table_hash(str s):
    """The hash this kernel's id tables give exact str ``s``, as an unsigned 64-bit
    int: a table of 2**b slots probes first at its top b bits (for tests: ids chosen
    to collide must spread like any others). O(len(s))."""
    if type(s) is not str:
        raise TypeError("table_hash takes an exact str")
    return <uint64_t>str_hash(<PyObject*>s)


def scan(list msgs, object as_of):
    """The message pass over ``msgs`` as known at ``as_of`` (a float): the fields of a
    MessageScan in ``__init__`` order, or None when the reference must decide."""
    if type(as_of) is not float or as_of != as_of:
        return None
    cdef tuple items = tuple(msgs)  # ours: the caller's list may change, this cannot
    cdef Py_ssize_t n_all = len(items)
    if n_all > _MAX_MESSAGES or not _message_reads_slots():
        return None  # (a patched Message: the reference reads its records as patched)
    cdef _Keys store = _Keys(n_all)
    cdef int any_seq = _read(items, <double>as_of, store)
    if any_seq < 0:
        return None
    # Every item an exact Message (read said so), which refers to no container: no
    # reference cycle can pass through ``items``, so the young passes the walk sets
    # off need not visit each message in it.
    PyObject_GC_UnTrack(<void*>items)
    cdef Key* keys = store.keys
    cdef Py_ssize_t n = store.n
    with nogil:
        sort_keys(keys, n)
    _sort_ties(keys, n)
    return _walk(keys, n, any_seq == 1)


cdef extern from "Python.h":
    ctypedef struct PyListObject:
        PyObject** ob_item


cdef bint _object_items(object column, Py_ssize_t n, PyObject*** out) except -1:
    """Point ``out`` at the ``n`` items of ``column``, a list or an exact one-dimensional
    contiguous object ndarray (a table's id column, read in place: no list is made),
    and return True; False when it is neither. The items are borrowed: the caller runs
    no Python code while it reads them, and takes a reference to each it keeps. O(1)."""
    if type(column) is list:
        out[0] = (<PyListObject*>column).ob_item
        return len(<list>column) == n
    if (type(column) is not _NDARRAY or column.ndim != 1 or column.dtype.kind != "O"
            or len(column) != n or not column.flags.c_contiguous):
        return False
    out[0] = <PyObject**><size_t>column.__array_interface__["data"][0]
    return True


def scan_columns(const double[::1] at, object sids, object bids,
                 const signed char[::1] senders, object mids, object agents,
                 const int64_t[::1] seqs, object as_of):
    """The message pass over a MessageTable's columns (checked when it was made: exact
    str ids, times in range, sender codes 0-4, int64 seq), as :func:`scan` over its
    rows as records: the same fields, or None when the columnar reference must decide
    (conflicting or scattered copies). Reads each row's values straight from the
    arrays (the id columns as object arrays or lists), in row order; then the same
    sort and walk as :func:`scan`."""
    if type(as_of) is not float or as_of != as_of:
        return None
    cdef Py_ssize_t n_all = at.shape[0]
    cdef PyObject** sid_items = NULL
    cdef PyObject** bid_items = NULL
    cdef PyObject** mid_items = NULL
    cdef PyObject** agent_items = NULL
    if (n_all > _MAX_MESSAGES or senders.shape[0] != n_all or seqs.shape[0] != n_all
            or not _object_items(sids, n_all, &sid_items)
            or not _object_items(bids, n_all, &bid_items)
            or not _object_items(mids, n_all, &mid_items)
            or not _object_items(agents, n_all, &agent_items)):
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
        sid = sid_items[pos]
        bid = bid_items[pos]
        mid = mid_items[pos]
        agent = agent_items[pos]
        if not (sid != NULL and bid != NULL and mid != NULL and agent != NULL
                and PyUnicode_CheckExact(sid) and PyUnicode_CheckExact(bid)
                and PyUnicode_CheckExact(mid)
                and (agent == Py_None or PyUnicode_CheckExact(agent))
                and 0 <= senders[pos] <= 4):
            return None  # not a table's column: the reference checks it
        # a table's sender codes are the ranks
        _fill(&store.keys[n], n > 0, at[pos], seqs[pos], senders[pos], pos, sid, bid, mid, agent)
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
        _fill(&store.keys[n], n > 0, at, seq, rank, pos, sid, bid, mid, agent)
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
    # its first BOT message; ``first`` the key of its first message. ``wagent``: the
    # agent named on each wait's reply (borrowed from the keys, which hold it).
    cdef double* pending = <double*>PyMem_Malloc((n + 1) * sizeof(double))
    cdef double* early = <double*>PyMem_Malloc((n + 1) * sizeof(double))
    cdef char* bot = <char*>PyMem_Calloc(n + 1, 1)
    cdef double* botat = <double*>PyMem_Malloc((n + 1) * sizeof(double))
    cdef int64_t* last_seq = <int64_t*>PyMem_Malloc((n + 1) * sizeof(int64_t))
    cdef int32_t* wkey = <int32_t*>PyMem_Malloc((n + 1) * sizeof(int32_t))
    cdef double* wu = <double*>PyMem_Malloc((n + 1) * sizeof(double))
    cdef double* wr = <double*>PyMem_Malloc((n + 1) * sizeof(double))
    cdef Py_ssize_t* first = <Py_ssize_t*>PyMem_Malloc((n + 1) * sizeof(Py_ssize_t))
    cdef PyObject** wagent = <PyObject**>PyMem_Malloc((n + 1) * sizeof(PyObject*))
    try:
        if (pending == NULL or early == NULL or bot == NULL or botat == NULL or last_seq == NULL
                or wkey == NULL or wu == NULL or wr == NULL or first == NULL
                or wagent == NULL):
            raise MemoryError()
        return _run(keys, n, any_seq, pending, early, bot, botat, last_seq, wkey, wu, wr,
                    first, wagent)
    finally:
        PyMem_Free(pending)
        PyMem_Free(early)
        PyMem_Free(bot)
        PyMem_Free(botat)
        PyMem_Free(last_seq)
        PyMem_Free(wkey)
        PyMem_Free(wu)
        PyMem_Free(wr)
        PyMem_Free(first)
        PyMem_Free(wagent)


cdef list _list_of(PyObject** items, Py_ssize_t n):
    """A new list of ``items[0:n]`` (each gains a reference), made at its size: no
    growing by appends, each a copy of the whole list now and then. O(n)."""
    cdef list out = PyList_New(n)
    cdef Py_ssize_t k
    for k in range(n):
        Py_INCREF(<object>items[k])
        PyList_SET_ITEM(out, k, <object>items[k])
    return out


cdef list _ids_of(Key* keys, const Py_ssize_t* first, Py_ssize_t s, bint buyer):
    """The session (or buyer) id of each session's first message, by session number."""
    cdef list out = PyList_New(s)
    cdef Py_ssize_t j
    cdef PyObject* v
    for j in range(s):
        v = keys[first[j]].bid if buyer else keys[first[j]].sid
        Py_INCREF(<object>v)
        PyList_SET_ITEM(out, j, <object>v)
    return out


cdef object _run(Key* keys, Py_ssize_t n, bint any_seq, double* pending, double* early,
                 char* bot, double* botat, int64_t* last_seq, int32_t* wkey, double* wu,
                 double* wr, Py_ssize_t* first, PyObject** wagent):
    cdef _Table number = _Table(min(n, 4096))  # session id -> session number (grows)
    cdef _Table seen = _Table(n)  # message ids
    cdef Py_ssize_t k, j, last_j = -1, prev = -1, s = 0, w = 0, copies = 0, unknown = 0
    cdef Py_ssize_t disorder = 0
    cdef int rank
    cdef double at
    cdef Key* key
    for k in range(n):
        key = &keys[k]
        if (prev >= 0 and key.mid_hash == keys[prev].mid_hash
                and _same_str(key.mid, keys[prev].mid)):  # equal ids: equal hashes
            if not _same_message(key, &keys[prev]):
                return None  # two different messages with one id
            copies += 1
            continue
        if k + 8 < n:  # the tables are big: hide their cache misses
            seen.will_probe(keys[k + 8].mid_hash)
            number.will_probe(keys[k + 8].sid_hash)
        if seen.get_or_add(key.mid, key.mid_hash, 0) != -1:
            return None  # a copy away from its first: the reference decides
        if prev >= 0 and keys[prev].sid == key.sid:
            j = last_j  # the very id object of the message before: its session, no probe
        else:
            j = number.get_or_add(key.sid, key.sid_hash, s)
        prev = k
        if j == -1:
            j = s
            first[j] = k
            early[j] = INFINITY
            botat[j] = INFINITY
            last_seq[j] = key.seq
            s += 1
        elif any_seq:
            if key.seq < last_seq[j]:
                disorder += 1
            last_seq[j] = key.seq
        last_j = j
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
                wagent[w] = key.agent
                w += 1
                bot[j] &= ~2
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
            wagent[w] = Py_None
            w += 1
    return _grouped(_ids_of(keys, first, s, False), _ids_of(keys, first, s, True), early,
                    botat, s, wkey, wu, wr, w, _list_of(wagent, w), copies, unknown,
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
    for column in (ids, buyers, early_list, bot_list, wlo, ragents):
        _untrack(column)
    return (ids, buyers, early_list, bot_list, us, rs, wlo, ragents, rorder, copies, 0,
            unknown, disorder, first, last)


# The routes pass ----------------------------------------------------------------------
#
# ``routes`` is :class:`kefu.kpi.timeline._Routes` compiled: the same events in the same
# order (a C++ sort on the reference's tuple order), then the same stretches.

cdef object _EMPTY = ""
cdef object _INF_OBJ = float("inf")


cdef struct Fields:
    # Where an exact record class keeps each field the routes pass reads (-1: read it
    # with getattr); ``cls`` is that class (borrowed: the caller holds it), ``tag`` its
    # version tag when the offsets were taken (0: none, the slots are never read).
    PyObject* cls
    Py_ssize_t sid, bid, agent, at, group, seq
    unsigned int tag


cdef Fields _fields_of(type cls):
    """The slots of ``cls``'s fields, when its attribute lookup is the ordinary one (a
    field's getattr then gives what its slot holds), else all -1. O(fields)."""
    cdef Fields f
    cdef bint plain = kefu_plain_getattr(cls)
    f.cls = <PyObject*>cls
    f.sid = _own_slot(cls, "session_id") if plain else -1
    f.bid = _own_slot(cls, "buyer_id") if plain else -1
    f.agent = _own_slot(cls, "agent_id") if plain else -1
    f.at = _own_slot(cls, "at") if plain else -1
    f.group = _own_slot(cls, "group") if plain else -1
    f.seq = _own_slot(cls, "seq") if plain else -1
    f.tag = kefu_version_tag(cls) if plain else 0  # the lookups above assign one
    return f


cdef inline object _field(object rec, const Fields* f, Py_ssize_t offset, str name):
    """``getattr(rec, name)``, read straight from its slot when ``rec`` is exactly the
    class of ``f``, the class is unchanged since ``f`` was taken (a record's code run by
    an earlier getattr may have patched it) and the slot is set (no code runs): a
    getattr costs a type lookup."""
    cdef PyObject* p = <PyObject*>rec
    cdef PyObject* v
    if (offset >= 0 and <PyObject*>p.ob_type == f.cls and f.tag != 0
            and kefu_version_tag(<object>f.cls) == f.tag):
        v = (<PyObject**>((<char*>p) + offset))[0]
        if v != NULL:
            return <object>v
    return getattr(rec, name)


cdef int _route(vector[Route]& out, object rec, int kind, Py_ssize_t n,
                const Fields* f) except -1:
    """Append ``rec``'s event, holding a reference to each object it points at; 1 when
    the record is not one the pass reads (the reference then decides), else 0."""
    sid = _field(rec, f, f.sid, "session_id")
    at = _field(rec, f, f.at, "at")
    seq = _field(rec, f, f.seq, "seq")
    agent = _field(rec, f, f.agent, "agent_id")
    gkey = _field(rec, f, f.group, "group") if kind == 1 else _EMPTY
    if gkey is None:
        gkey = _EMPTY
    if not (type(sid) is str and type(agent) is str and type(gkey) is str
            and (type(at) is float or type(at) is int) and type(seq) is int):
        return 1
    cdef int overflow = 0
    cdef long long q = PyLong_AsLongLongAndOverflow(<PyObject*>seq, &overflow)  # exact int: no code
    if overflow or q < -9223372036854775807:
        return 1
    cdef Route r
    r.sid, r.at_obj = <PyObject*>sid, <PyObject*>at
    r.agent, r.gkey = <PyObject*>agent, <PyObject*>gkey
    r.at = <double>at  # exact: a checked time is below 2**32
    r.seq = <int64_t>q
    r.kind = kind
    r.n = n
    Py_INCREF(sid)
    Py_INCREF(at)
    Py_INCREF(agent)
    Py_INCREF(gkey)
    out.push_back(r)
    return 0


def routes(list hand, list rel, type hand_cls not None=Handover,
           type rel_cls not None=Release):
    """The stretches of checked, distinct hand-overs ``hand`` and releases ``rel``:
    ``_Routes``' fields (agents, groups, starts, ends, sids, lo, buyers,
    entry_groups), equal to the reference's, or None when a record holds what the
    pass does not read (a seq beyond int64). Exact ``hand_cls``/``rel_cls`` records
    are read from their slots. O(r log r) in C, then one step per record: list
    appends, no dict per session."""
    cdef vector[Route] ev
    cdef Py_ssize_t k, n
    cdef int other = 0
    cdef Fields hf = _fields_of(hand_cls), rf = _fields_of(rel_cls)
    try:
        ev.reserve(len(hand) + len(rel))
        for n in range(len(hand)):
            other |= _route(ev, hand[n], 1, n, &hf)
        for n in range(len(rel)):
            other |= _route(ev, rel[n], 0, n, &rf)
        if other:
            return None
        sort_routes(ev)
        return _stretches(ev, hand, &hf)
    finally:
        for k in range(<Py_ssize_t>ev.size()):
            _release(ev[k].sid)
            _release(ev[k].at_obj)
            _release(ev[k].agent)
            _release(ev[k].gkey)


cdef inline void _stretch(list agents, list groups, list starts, list ends,
                          object agent, object group, object start, object end) except *:
    """One stretch appended to the columns."""
    agents.append(agent)
    groups.append(group)
    starts.append(start)
    ends.append(end)


cdef tuple _stretches(vector[Route]& ev, list hand, const Fields* f):
    cdef list agents = [], groups = [], starts = [], ends = []
    cdef list sids = [], buyers = [], entry_groups = []
    cdef vector[int64_t] lo
    cdef object sid = _EMPTY, agent = None, group = None, start = _INF_OBJ, at, who, h
    cdef Py_ssize_t k
    cdef Route* e
    cdef bint first_seen = False  # the current session's first hand-over was seen
    for k in range(<Py_ssize_t>ev.size()):
        e = &ev[k]
        at = <object>e.at_obj
        who = <object>e.agent
        if not _same_str(e.sid, <PyObject*>sid):
            if agent is not None:  # the previous session's last stretch is still open
                _stretch(agents, groups, starts, ends, agent, group, start, _INF_OBJ)
            sid, agent = <object>e.sid, None
            first_seen = False
        if e.kind == 1:
            h = hand[e.n]
            if agent is not None:
                _stretch(agents, groups, starts, ends, agent, group, start, at)
            group = _field(h, f, f.group, "group")
            if agent is None and not first_seen:
                first_seen = True
                sids.append(sid)
                lo.push_back(len(agents))
                buyers.append(_field(h, f, f.bid, "buyer_id"))
                entry_groups.append(group)
            agent, start = who, at
        elif agent is not None and _same_str(<PyObject*>agent, e.agent):
            _stretch(agents, groups, starts, ends, agent, group, start, at)
            agent = None
    if agent is not None:
        _stretch(agents, groups, starts, ends, agent, group, start, _INF_OBJ)
    cdef array lo_arr = array("q")
    if lo.size():
        extend_buffer(lo_arr, <char*>lo.data(), <Py_ssize_t>lo.size())
    for column in (agents, groups, starts, ends, sids, buyers, entry_groups):
        _untrack(column)
    return agents, groups, starts, ends, sids, lo_arr, buyers, entry_groups


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


def sorted_floats(list values):
    """The values of a list of exact floats (no NaN) as a sorted array('d'), or None when
    some value is another object or NaN (the caller then sorts the list as it is: an int
    stays an int). O(n) checks and copies, then the sort of :func:`sorted_doubles`."""
    cdef Py_ssize_t n = len(values), k
    cdef array out = clone(_DOUBLES, n, False)
    cdef PyObject* v
    cdef double d
    for k in range(n):  # no Python code runs: the list cannot change under the loop
        v = PyList_GET_ITEM(values, k)
        if not PyFloat_CheckExact(v):
            return None
        d = PyFloat_AS_DOUBLE(v)
        if d != d:
            return None
        out.data.as_doubles[k] = d
    if n:
        with nogil:
            sort_doubles(out.data.as_doubles, n)
    return out


cdef extern from *:
    """
    #include <cmath>
    /* The correctly rounded sum of values[0:n], step for step CPython's math.fsum
       (Shewchuk's partials, then the half-even fix across partials), so the very
       double it gives. Returns 0 with the sum in *out; 1 for an intermediate overflow,
       2 for -inf + inf (math.fsum's OverflowError and ValueError); -1 out of memory. */
    /* The exact sum of values[0:n] as one integer, when they allow: each finite double
       is m * 2**(e - 1075) (m < 2**53, e its biased exponent, at least 1), so with
       lo the least e among the nonzero values, all of them are integers times
       2**(lo - 1075), and their sum fits a signed 128-bit integer when the span of
       exponents plus 53 bits plus the bits of n stays under 127. One pass adds each
       value's m into a 128-bit counter of its exponent and sign (two 64-bit words, a
       carry: no shift per value); the counters are then shifted into place and added
       once each. Converting that integer to a double rounds it once, to nearest, ties
       to even, as fsum's result is rounded (the correctly rounded sum: the same
       double); scaling by a power of two is exact while the result stays normal and
       finite, which lo >= 54 and e + bits <= 2000 guarantee (fsum's partials then
       never overflow either). Returns 1 with the sum in *out, 0 when the values do not
       allow it (an inf or NaN, a subnormal, a span too wide, tiny or huge values),
       or for fewer than 128 values: about a quarter of the partials' steps per value (a
       day's durations always allow it). */
    static int kefu_exact_sum_fixed(const double* values, Py_ssize_t n, double* out) {
        struct Wide { uint64_t lo, hi; };
        if (n < 128) return 0;  /* the partials' few steps cost less than the counters */
        /* First the span of exponents of the nonzero values: a subnormal, inf or NaN
           (exponent 0 or 2047) leaves at once, and so does a span too wide to sum in
           128 bits, so the counters below are at most 2 x 74, on the stack: no table
           of every exponent to clear and scan (that cost more than the values'
           additions on a short array). */
        int lo = 2048, hi = -1, bits = 0;
        for (Py_ssize_t k = 0; k < n; k++) {
            uint64_t u;
            std::memcpy(&u, &values[k], sizeof u);
            if ((u << 1) == 0) continue;  /* 0.0 or -0.0: adds nothing */
            int e = (int)((u >> 52) & 0x7FF);
            if (e == 0 || e == 0x7FF) return 0;
            if (e < lo) lo = e;
            if (e > hi) hi = e;
        }
        while (bits < 64 && ((uint64_t)1 << bits) <= (uint64_t)n) bits++;
        if (hi < 0) { *out = 0.0; return 1; }  /* all zeros */
        if (lo < 54 || hi + bits > 2000 || (hi - lo) + 53 + bits > 126) return 0;
        Wide c[2][74];  /* [sign][exponent - lo]: hi - lo <= 126 - 53 */
        std::memset(c, 0, sizeof c);
        for (Py_ssize_t k = 0; k < n; k++) {
            uint64_t u;
            std::memcpy(&u, &values[k], sizeof u);
            if ((u << 1) == 0) continue;
            int e = (int)((u >> 52) & 0x7FF);
            uint64_t m = (u & 0xFFFFFFFFFFFFFULL) | ((uint64_t)1 << 52);
            Wide* w = &c[u >> 63][e - lo];
            w->lo += m;
            w->hi += w->lo < m;
        }
        __int128 acc = 0;
        for (int e = lo; e <= hi; e++) {
            unsigned __int128 p = ((unsigned __int128)c[0][e - lo].hi << 64) | c[0][e - lo].lo;
            unsigned __int128 q = ((unsigned __int128)c[1][e - lo].hi << 64) | c[1][e - lo].lo;
            acc += ((__int128)p - (__int128)q) << (e - lo);
        }
        if (acc == 0) { *out = 0.0; return 1; }
        unsigned __int128 mag = acc < 0 ? -(unsigned __int128)acc : (unsigned __int128)acc;
        double r = std::ldexp((double)mag, lo - 1075);
        *out = acc < 0 ? -r : r;
        return 1;
    }
    static int kefu_exact_sum(const double* values, Py_ssize_t count, double* out) {
        double small[32], *p = small, x, y, t, xsave, hi = 0.0, yr, lo = 0.0;
        double special_sum = 0.0, inf_sum = 0.0;
        Py_ssize_t i, j, n = 0, m = 32;
        for (Py_ssize_t k = 0; k < count; k++) {
            x = values[k];
            xsave = x;
            for (i = j = 0; j < n; j++) {
                y = p[j];
                if (std::fabs(x) < std::fabs(y)) { t = x; x = y; y = t; }
                hi = x + y;
                yr = hi - x;
                lo = y - yr;
                if (lo != 0.0) p[i++] = lo;
                x = hi;
            }
            n = i;
            if (x != 0.0) {
                if (!std::isfinite(x)) {
                    if (std::isfinite(xsave)) { if (p != small) PyMem_Free(p); return 1; }
                    if (std::isinf(xsave)) inf_sum += xsave;
                    special_sum += xsave;
                    n = 0;
                } else {
                    if (n >= m) {
                        double* grown = (double*)PyMem_Malloc(2 * m * sizeof(double));
                        if (grown == NULL) { if (p != small) PyMem_Free(p); return -1; }
                        std::memcpy(grown, p, n * sizeof(double));
                        if (p != small) PyMem_Free(p);
                        p = grown;
                        m *= 2;
                    }
                    p[n++] = x;
                }
            }
        }
        if (special_sum != 0.0) {
            if (p != small) PyMem_Free(p);
            if (std::isnan(inf_sum)) return 2;
            *out = special_sum;
            return 0;
        }
        hi = 0.0;
        if (n > 0) {
            hi = p[--n];
            while (n > 0) {
                x = hi;
                y = p[--n];
                hi = x + y;
                yr = hi - x;
                lo = y - yr;
                if (lo != 0.0) break;
            }
            if (n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0))) {
                y = lo * 2.0;
                x = hi + y;
                yr = x - hi;
                if (y == yr) hi = x;
            }
        }
        if (p != small) PyMem_Free(p);
        *out = hi;
        return 0;
    }
    """
    int exact_sum_of "kefu_exact_sum"(const double* values, Py_ssize_t n, double* out)
    int exact_sum_fixed "kefu_exact_sum_fixed"(const double* values, Py_ssize_t n,
                                               double* out)


def exact_sum(array values):
    """``math.fsum`` of an exact array('d'): the same correctly rounded float, the same
    errors (OverflowError for an intermediate overflow, ValueError for -inf + inf),
    without a float object per value. O(n) C steps (a few partials for durations)."""
    if type(values) is not array or values.ob_descr.typecode != b'd':
        raise TypeError("exact_sum needs an array('d')")
    cdef double total = 0.0
    # with the GIL held: no other thread can resize the array while it is read
    if exact_sum_fixed(values.data.as_doubles, Py_SIZE(values), &total):
        return total
    cdef int status = exact_sum_of(values.data.as_doubles, Py_SIZE(values), &total)
    if status == 1:
        raise OverflowError("intermediate overflow in fsum")
    if status == 2:
        raise ValueError("-inf + inf in fsum")
    if status != 0:
        raise MemoryError()
    return total


# The measure walk ---------------------------------------------------------------------
#
# ``walk`` is :meth:`kefu.kpi.measure.Measure._walk` compiled: the same visit of every
# session in the same order, the same float operations (reply - clock, comparisons), the
# same keys counted and the same samples appended, so its results are those of the
# reference, not close to them. Sessions' and waits' columns are read as C arrays, a
# session's clocks in several windows are classified in C (``_runs_c``); the rare cases
# (replies after a window's close, detail units) call the very helpers the reference calls.


cdef struct Run:
    Py_ssize_t i, ka, kb
    double c

cdef extern from *:
    """
    #include <unordered_map>
    /* A count key of the walk: a window index, up to three objects (a group, an
       agent, an exclusion reason: the key's tuple, made once, holds the first ones
       alive) and the small ints and bools packed in ``small``. Exact str compare by
       value (equal ids are often distinct objects), anything else (None) by identity:
       keys equal by ``==`` yet apart here are merged when the counts are flushed. */
    static inline uint64_t kefu_obj_hash(PyObject* o) {
        return PyUnicode_CheckExact(o) ? (uint64_t)kefu_str_hash(o) : (uint64_t)(uintptr_t)o;
    }
    static inline bool kefu_obj_eq(PyObject* a, PyObject* b) {
        return a == b || (PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b) && kefu_str_eq(a, b));
    }
    struct KefuCountKey {
        Py_ssize_t i; PyObject *a, *b, *c; int small;
        bool operator==(const KefuCountKey& o) const {
            return i == o.i && small == o.small && kefu_obj_eq(a, o.a) && kefu_obj_eq(b, o.b)
                   && kefu_obj_eq(c, o.c);
        }
    };
    struct KefuCountHash {
        size_t operator()(const KefuCountKey& k) const {
            uint64_t h = ((uint64_t)k.i << 8) ^ (uint64_t)k.small;
            h = (h ^ kefu_obj_hash(k.a)) * 0x9E3779B97F4A7C15ULL;
            h = (h ^ kefu_obj_hash(k.b)) * 0xFF51AFD7ED558CCDULL;
            h = (h ^ kefu_obj_hash(k.c)) * 0xC4CEB9FE1A85EC53ULL;
            return (size_t)(h ^ (h >> 32));
        }
    };
    /* Counts by key, in the order keys are first seen. */
    struct KefuCounts {
        std::unordered_map<KefuCountKey, Py_ssize_t, KefuCountHash> index;
        std::vector<Py_ssize_t> n;
    };
    /* Count one more of a key: -1 when it was seen before, else its number (the caller
       makes its tuple, the number-th). */
    static inline Py_ssize_t kefu_count(KefuCounts& counts, Py_ssize_t i, PyObject* a,
                                        PyObject* b, PyObject* c, int small) {
        KefuCountKey key{i, a, b, c, small};
        auto found = counts.index.find(key);
        if (found != counts.index.end()) {
            counts.n[found->second]++;
            return -1;
        }
        Py_ssize_t number = (Py_ssize_t)counts.n.size();
        counts.n.push_back(1);
        counts.index.emplace(key, number);
        return number;
    }
    """
    cppclass Counts "KefuCounts":
        vector[Py_ssize_t] n
    Py_ssize_t count_key "kefu_count"(Counts& counts, Py_ssize_t i, PyObject* a, PyObject* b,
                                      PyObject* c, int small) except +


cdef extern from *:
    """
    /* The number of a key (as kefu_count keys it) among those seen, in the order first
       seen; a key not seen before gets the next number, n.size() before the call. */
    static inline Py_ssize_t kefu_key_number(KefuCounts& counts, Py_ssize_t i, PyObject* a,
                                             PyObject* b, PyObject* c, int small) {
        KefuCountKey key{i, a, b, c, small};
        auto found = counts.index.find(key);
        if (found != counts.index.end())
            return found->second;
        Py_ssize_t number = (Py_ssize_t)counts.n.size();
        counts.n.push_back(0);
        counts.index.emplace(key, number);
        return number;
    }
    """
    Py_ssize_t key_number "kefu_key_number"(Counts& counts, Py_ssize_t i, PyObject* a,
                                            PyObject* b, PyObject* c, int small) except +



cdef object _TRUE = True
cdef object _FALSE = False
cdef object _OPEN = BeforeWindow.OPEN

# Statuses (kefu.kpi.clocks) and fates (kefu.kpi.measure), as there.
cdef enum:
    C_MET = 0
    C_PENDING = 1
    C_MISSED = 2
    F_REACHED = 0
    F_STILL_WAITING = 1
    F_NEVER_REACHED = 2


ctypedef fused _Item:
    double
    Py_ssize_t


cdef int _read_list(list values, vector[_Item]& out) except -1:
    """Fill ``out`` with ``values`` as doubles or Py_ssize_t (its item type), in place: no
    vector is returned, so none is copied (a vector returned by value is copied into
    its target, as many bytes again as the reading wrote). A list of exact floats or
    exact ints (a timeline's, always) is read in one C loop: reading them runs no
    Python code, so the list cannot change under it (OverflowError for an int beyond
    Py_ssize_t). Any other item sends the whole list to the item-by-item loop, which
    converts each as ``float()`` or ``operator.index()`` would (another object's own
    code may run there, so it reads the list's length afresh every step). O(n)."""
    cdef Py_ssize_t n = len(values), k
    out.resize(n)
    cdef _Item* d = out.data()
    cdef PyObject* v
    for k in range(n):
        v = PyList_GET_ITEM(values, k)
        if _Item is double:
            if not PyFloat_CheckExact(v):
                return _read_list_slow(values, out)
            d[k] = PyFloat_AS_DOUBLE(v)
        else:
            if not PyLong_CheckExact(v):
                return _read_list_slow(values, out)
            d[k] = <Py_ssize_t><object>v
    return 0


cdef int _read_list_slow(list values, vector[_Item]& out) except -1:
    out.clear()
    out.reserve(len(values))
    for v in values:
        out.push_back(<_Item>v)
    return 0


cdef inline int _double_list(list values, vector[double]& out) except -1:
    return _read_list(values, out)


cdef inline int _index_list(list values, vector[Py_ssize_t]& out) except -1:
    return _read_list(values, out)


cdef inline Py_ssize_t _bisect_left(const double* a, double x, Py_ssize_t lo,
                                    Py_ssize_t hi) noexcept:
    cdef Py_ssize_t mid
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline Py_ssize_t _bisect_right(const double* a, double x, Py_ssize_t lo,
                                     Py_ssize_t hi) noexcept:
    cdef Py_ssize_t mid
    while lo < hi:
        mid = (lo + hi) // 2
        if x < a[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


cdef struct Windows:
    const double* opens
    const double* closes
    const double* counted  # 1.0: a counted day, 0.0: not
    Py_ssize_t n


cdef inline Py_ssize_t _one_run(Windows* w, double c_first, double c_last) noexcept:
    """clocks.one_run: the counted window holding both clocks, else -1."""
    cdef Py_ssize_t i = _bisect_right(w.opens, c_first, 0, w.n) - 1
    if i >= 0 and c_last < w.closes[i] and w.counted[i] != 0.0:
        return i
    return -1


cdef void _flush_counts(Counts& counts, list keys, dict into) except *:
    """Add the counts to ``into``, key by key in the order first seen: what one
    ``into[key] += 1`` per unit would leave (equal keys of distinct objects merge)."""
    cdef Py_ssize_t k
    cdef object n
    for k in range(len(keys)):
        key = keys[k]
        n = into.get(key)
        into[key] = counts.n[k] if n is None else n + counts.n[k]


cdef void _runs_c(Windows* w, const double* us, const double* rs, Py_ssize_t ka,
                  Py_ssize_t kb, double c1, double end, double as_of, bint open_policy,
                  vector[Run]& out) except *:
    """:func:`kefu.kpi.clocks.runs` over C arrays, with the same comparisons in the same
    order (the windows' bounds as doubles, as ``_one_run`` reads them)."""
    cdef Py_ssize_t k, i
    cdef double c, r
    cdef Run run
    out.clear()
    for k in range(ka, kb):
        c = c1 if k == ka else us[k]
        i = _bisect_right(w.opens, c, 0, w.n) - 1
        if i < 0 or c >= w.closes[i]:
            if not open_policy or i + 1 >= w.n:
                continue
            i += 1
            c = w.opens[i]
            r = rs[k]
            if r > end:
                r = INFINITY
            if r < c or end <= c or c > as_of:
                continue
        if w.counted[i] == 0.0:
            continue
        if out.size() and out.back().i == i and out.back().kb == k:
            out.back().kb = k + 1
        else:
            run.i, run.ka, run.kb, run.c = i, k, k + 1, c
            out.push_back(run)


cdef inline object _samples_of(dict by_agent, object agent, object samples_cls):
    cdef object s = by_agent.get(agent)
    if s is None:
        s = by_agent[agent] = samples_cls()
    return s


cdef array _as_array(const double* d, Py_ssize_t n):
    cdef array out = clone(_DOUBLES, n, False)
    if n:
        memcpy(out.data.as_doubles, d, n * sizeof(double))
    return out


cdef extern from *:
    # An array.array's room: the fields our appends read and set (the struct is Cython's).
    ctypedef struct _ArrayRoom "arrayobject":
        Py_ssize_t allocated
        char* items "data.ob_item"
    void _set_size "Py_SET_SIZE"(PyObject* o, Py_ssize_t n) noexcept


cdef int _reserve(array target, Py_ssize_t more) except -1:
    """Room in ``target`` (an array('d')) for ``more`` values past its end, at once: the
    shop's samples, whose count the walk bounds before it starts, then grow by no
    copy at all. The values are unchanged. O(size) at most, for one realloc."""
    cdef _ArrayRoom* room = <_ArrayRoom*><PyObject*>target
    cdef Py_ssize_t want = Py_SIZE(target) + more
    cdef char* items
    if want > room.allocated:
        items = <char*>PyMem_Realloc(room.items, want * sizeof(double))
        if items == NULL:
            raise MemoryError()
        room.items, room.allocated = items, want
    return 0


cdef inline int _put(array target, const double* d, Py_ssize_t n) except -1:
    """Append ``d[0:n]`` to ``target`` (an array('d')). Its room doubles when short
    (``extend_buffer`` grows it by half and gives back room above four times the
    size, so a reserved array shrank at its first append): O(1) amortised a value,
    a copy of the whole array at each of O(log size) reallocs."""
    cdef _ArrayRoom* room = <_ArrayRoom*><PyObject*>target
    cdef Py_ssize_t size = Py_SIZE(target)
    if n <= 0:
        return 0
    if size + n > room.allocated:
        _reserve(target, max(n, size, 16))
    memcpy(room.items + size * sizeof(double), d, n * sizeof(double))
    _set_size(<PyObject*>target, size + n)
    return 0


cdef inline object _clock(Run run, Py_ssize_t k, double c, object c_obj):
    """A run's clock as the reference holds it: ``c_obj`` (an int or float of a record)
    when the run starts at wait ``k`` clocked at ``c`` (not moved to a window's
    opening, which is always later), else the run's own float."""
    if c_obj is not None and run.ka == k and run.c == c:
        return c_obj
    return run.c


cdef class _Columns:
    """A Timeline's columns as C arrays, for the compiled walks (``human_reached``,
    ``walk``, ``contacts``): the waits' arrays by pointer (kept alive by the references
    held here), the per-session and per-stretch lists copied into vectors (see the
    Timeline's docstring)."""
    cdef array us_arr, rs_arr, rorder_arr
    cdef const double* us
    cdef const double* rs
    cdef const int64_t* rorder
    cdef vector[Py_ssize_t] wlo, s_lo, s_hi
    cdef vector[double] human, reached, bot_at, ended, starts, ends


cdef _Columns _columns(object tl, bint settled):
    """``tl``'s columns, or None when they are not the arrays and lists of a Timeline or
    an index in them points past a column (the caller then hands the work to the
    reference, which raises; the walks index without bounds checks). ``settled``: the
    per-session times (human .. ended) are filled in too. O(sessions + waits + stretches)."""
    if not (_is_array(tl.us, b'd') and _is_array(tl.rs, b'd') and _is_array(tl._rorder, b'q')
            and type(tl.wlo) is list and type(tl.ids) is list and type(tl.s_lo) is list
            and type(tl.s_hi) is list and type(tl.human) is list and type(tl.reached) is list
            and type(tl.bot_at) is list and type(tl.ended) is list
            and type(tl.starts) is list and type(tl.ends) is list
            and type(tl.buyers) is list and type(tl.groups) is list
            and type(tl.agents) is list and type(tl.sgroups) is list
            and type(tl._ragents) is list
            and len(tl.rs) == len(tl.us) == len(tl._rorder)
            and len(tl.wlo) == len(tl.ids) + 1 and tl.wlo[len(tl.ids)] == len(tl.us)
            and len(tl.s_lo) == len(tl.s_hi) == len(tl.buyers) == len(tl.groups)
            == len(tl.ids)
            and len(tl.ends) == len(tl.agents) == len(tl.sgroups) == len(tl.starts)
            and (not settled or len(tl.human) == len(tl.reached) == len(tl.bot_at)
                 == len(tl.ended) == len(tl.ids))):
        return None
    cdef _Columns v = _Columns.__new__(_Columns)
    v.us_arr, v.rs_arr, v.rorder_arr = tl.us, tl.rs, tl._rorder
    v.us = v.us_arr.data.as_doubles
    v.rs = v.rs_arr.data.as_doubles
    v.rorder = <const int64_t*>v.rorder_arr.data.as_voidptr
    _index_list(tl.wlo, v.wlo)
    _index_list(tl.s_lo, v.s_lo)
    _index_list(tl.s_hi, v.s_hi)
    _double_list(tl.human, v.human)
    _double_list(tl.reached, v.reached)
    _double_list(tl.bot_at, v.bot_at)
    _double_list(tl.ended, v.ended)
    _double_list(tl.starts, v.starts)
    _double_list(tl.ends, v.ends)
    cdef Py_ssize_t j, k, n = len(tl.ids), n_st = len(tl.starts), n_rep = len(tl._ragents)
    if v.wlo[0] < 0:
        return None
    for j in range(n):
        if not (v.wlo[j] <= v.wlo[j + 1] and 0 <= v.s_lo[j] <= v.s_hi[j] <= n_st):
            return None
    for k in range(v.wlo[n]):  # an answered wait's reply agent is read by position
        if v.rs[k] != INFINITY and not 0 <= v.rorder[k] < n_rep:
            return None
    return v


def human_reached(object tl, list early):
    """:func:`kefu.kpi.timeline.human_reached` over ``tl``'s columns, with identical
    results (each time the object the reference picks: a wait's float, or the item of
    ``early`` or of the stretches' starts); None when they are not a timeline's
    columns (the reference then runs). O(sessions)."""
    cdef _Columns cols = _columns(tl, False)
    cdef Py_ssize_t n = len(tl.ids)
    if cols is None or len(early) != n or len(tl.s_lo) != n or len(tl.s_hi) != n:
        return None
    cdef const double* us = cols.us
    cdef const double* rs = cols.rs
    cdef const Py_ssize_t* wlo = cols.wlo.data()
    cdef const Py_ssize_t* s_lo = cols.s_lo.data()
    cdef const Py_ssize_t* s_hi = cols.s_hi.data()
    cdef const double* starts = cols.starts.data()
    cdef list start_at = tl.starts
    cdef list human = [], reached = []
    cdef Py_ssize_t j, lo
    cdef double reach
    cdef object reach_obj
    cdef PyObject* e
    for j in range(n):
        lo = wlo[j]
        e = PyList_GET_ITEM(early, j)
        if PyFloat_CheckExact(e):
            reach = PyFloat_AS_DOUBLE(e)
        elif PyLong_CheckExact(e):
            reach = <double><object>e  # a checked time: exact as a double
        else:
            return None
        reach_obj = <object>e
        if lo < wlo[j + 1]:
            if rs[lo] < reach:
                reach = rs[lo]
                reach_obj = reach
            human.append(us[lo])
        else:
            human.append(_INF_OBJ)
        if s_lo[j] < s_hi[j] and starts[s_lo[j]] < reach:
            reach_obj = <object>PyList_GET_ITEM(start_at, s_lo[j])
        reached.append(reach_obj)
    _untrack(human)
    _untrack(reached)
    return human, reached


def walk(object m, bint want_shop, bint want_agents, bint want_times, dict shop_counts,
         dict agent_counts, object samples_cls, object runs):
    """``Measure._walk`` over ``m``, with identical results (see above); with ``m.split``
    (the live tracker) each session's samples and counts apart, as the reference.

    ``samples_cls`` is :class:`kefu.kpi.measure.Samples`; ``runs``
    (:func:`kefu.kpi.clocks.runs`) is not called: ``_runs_c`` is its twin. Units are
    counted in C by key and added to ``shop_counts``/``agent_counts`` at the end, in
    the reference's order. Returns False, having changed nothing, when the
    timeline's columns are not the arrays it reads (the reference then walks).
    O(sessions + waits + stretches), plus the reference's cost for its rare cases."""
    tl = m.tl
    opts = m.opts
    cdef _Columns cols = _columns(tl, True)
    if cols is None or not (_is_array(m.shop_samples.rep, b'd')
                            and _is_array(m.shop_samples.first, b'd')):
        return False
    cdef const double* us = cols.us
    cdef const double* rs = cols.rs
    cdef const int64_t* rorder = cols.rorder
    cdef list ragents = tl._ragents
    cdef const Py_ssize_t* wlo = cols.wlo.data()
    cdef const Py_ssize_t* s_lo = cols.s_lo.data()
    cdef const Py_ssize_t* s_hi = cols.s_hi.data()
    cdef const double* human = cols.human.data()
    cdef const double* reached = cols.reached.data()
    cdef const double* bot_at = cols.bot_at.data()
    cdef const double* ended = cols.ended.data()
    cdef const double* st_starts = cols.starts.data()
    cdef const double* st_ends = cols.ends.data()
    cdef list buyers = tl.buyers, ids = tl.ids, groups = tl.groups
    cdef list st_agents = tl.agents, st_groups = tl.sgroups
    cal = m.cal
    cdef array opens = array("d", cal.opens), closes = array("d", cal.closes)
    cdef array counted = array("d", [1.0 if v else 0.0 for v in cal.counted])
    if not len(opens) == len(closes) == len(counted):
        return False
    cdef Windows wins_c
    wins_c.opens, wins_c.closes = opens.data.as_doubles, closes.data.as_doubles
    wins_c.counted, wins_c.n = counted.data.as_doubles, len(opens)
    cdef double T = opts.threshold
    cdef double as_of = opts.as_of
    cdef double warn = opts.warn_after
    cdef bint live = as_of != INFINITY
    cdef bint open_policy = opts.before_window is _OPEN
    excluded = opts.excluded
    cdef bint any_excluded = bool(excluded)
    cdef bint detail = opts.detail
    shop_samples = m.shop_samples
    cdef array shop_rep = shop_samples.rep, shop_first = shop_samples.first
    cdef dict agent_samples = m.agent_samples
    cdef dict fold = {}
    cdef dict slot_of = None
    cdef Py_ssize_t slot_day = -1
    cdef list slot_buyer = m._slot_buyer, slot_dayl = m._slot_day
    cdef list f_c = m._f_c, f_sid = m._f_sid, f_group = m._f_group, f_code = m._f_code
    cdef list f_end = m._f_end, f_risk = m._f_risk
    cdef list a_code_l = m._a_code, a_start = m._a_start, a_end = m._a_end
    cdef list a_risk_l = m._a_risk, f_fate = m._f_fate, a_fate = m._a_fate
    cdef list waiting = m.waiting
    cdef Py_ssize_t unanswered = 0, dropped = 0
    cdef dict split = m.split  # None, or per session: (shop, agents' samples, counts)
    cdef Py_ssize_t opened = -1, u0 = 0, d0 = 0  # split: the session open, its counts' start
    cdef Py_ssize_t n = len(ids), j, lo, hi, i, ka, kb, k, k0, k1, x, nd, p, common, q
    cdef double c1, c, h, r, a_c, a_r, start, end, last_r
    cdef int code, a_code, fate
    cdef bint risk, a_risk, capped
    cdef vector[Run] found
    cdef vector[double] d
    cdef Run run
    # Units counted by key in C (a tuple per distinct key, not per unit), added to
    # shop_counts and agent_counts at the end in the order the reference adds them.
    cdef Counts shop_n, agent_n
    cdef list shop_keys = [], agent_keys = []
    cdef bint a_pending_risk
    cdef object sgroup
    cdef object reason, buyer, group, sid, key, pslot, agent, samples, wins, name, s
    # A clock as the reference holds it: the record's own int or float when it came from
    # a switch (human) or a hand-over (a stretch's start); None: the float c itself.
    cdef object c1_obj, c_obj, a_c_obj, cs_obj
    cdef double cs
    cdef list human_at = tl.human, st_start_at = tl.starts
    cdef array rep, first, pyd
    if split is None and want_times:  # the shop's samples: at most a wait's, a first a session
        _reserve(shop_rep, wlo[n])
        _reserve(shop_first, n)
    for j in range(n):
        # K02 (clocks.human_clock): the clock of the first wait, or no unit.
        lo = wlo[j]
        hi = wlo[j + 1]
        if lo == hi:
            continue
        c1 = us[lo]
        c1_obj = None
        h = human[j]
        if c1 < h:
            c1 = h
            c1_obj = <object>PyList_GET_ITEM(human_at, j)
        if reached[j] == INFINITY and bot_at[j] - c1 <= T:
            continue
        if split is not None:  # this session's samples apart
            if opened >= 0:
                _close_split(split, opened, unanswered - u0, dropped - d0)
            opened, u0, d0 = j, unanswered, dropped
            shop_samples = m.shop_samples = samples_cls()
            agent_samples = m.agent_samples = {}
            split[j] = (shop_samples, agent_samples, 0, 0)
            shop_rep = shop_samples.rep
            shop_first = shop_samples.first
        if reached[j] != INFINITY:
            fate = F_REACHED
        elif ended[j] == INFINITY:
            fate = F_STILL_WAITING
        else:
            fate = F_NEVER_REACHED
        buyer = <object>PyList_GET_ITEM(buyers, j)
        reason = excluded.get(buyer) if any_excluded else None
        i = _one_run(&wins_c, c1, us[hi - 1] if hi - lo > 1 else c1)
        if i >= 0:
            found.clear()
            run.i, run.ka, run.kb, run.c = i, lo, hi, c1
            found.push_back(run)
        else:
            _runs_c(&wins_c, us, rs, lo, hi, c1, INFINITY, as_of, open_policy, found)
        if fate == F_STILL_WAITING and found.size() and reason is None:
            waiting.append((buyer, _clock(found[0], lo, c1, c1_obj)))
        for q in range(found.size() if want_shop or want_times else 0):
            i, ka, kb, c = found[q].i, found[q].ka, found[q].kb, found[q].c
            c_obj = _clock(found[q], lo, c1, c1_obj)
            d.resize(kb - ka)
            r = rs[ka]
            d[0] = r - c + 0.0  # + 0.0: a zero duration is 0.0, never -0.0 (as the reference)
            for k in range(ka + 1, kb):
                d[k - ka] = rs[k] - us[k] + 0.0
            if want_shop:
                if d[0] <= T:
                    code = C_MET
                elif as_of - c > T:
                    code = C_MISSED
                else:
                    code = C_PENDING
                risk = live and code == C_PENDING and as_of - c > warn
                a_code, a_c, a_r, a_risk = code, c, r, risk
                a_c_obj = c_obj
                if code == C_MET and kb - ka > 1:
                    for k in range(kb - ka):
                        if d[k] > T:
                            a_c, a_r = us[ka + k], rs[ka + k]
                            a_c_obj = a_c
                            a_code = C_MISSED if as_of - a_c > T else C_PENDING
                            break
                if live and kb - ka > 1:
                    a_risk = False
                    for k in range(ka, kb):
                        if d[k - ka] > T and T >= as_of - (c if k == ka else us[k]) > warn:
                            a_risk = True
                            break
                group = <object>PyList_GET_ITEM(groups, j)
                sid = <object>PyList_GET_ITEM(ids, j)
                a_pending_risk = a_risk and a_code == C_PENDING
                if count_key(shop_n, i, <PyObject*>group, <PyObject*>reason, Py_None,
                             code | risk << 2 | a_code << 3 | a_pending_risk << 5
                             | fate << 6) >= 0:  # a key not seen before: its tuple
                    shop_keys.append((i, group, code, risk, a_code, a_pending_risk, reason,
                                      fate))
                if detail:
                    m._session_unit(j, i, c_obj, r, code, a_code, a_c_obj, a_r, reason)
                # Fold the session-day into its buyer-day (K03).
                if i != slot_day:
                    slot_of = fold.setdefault(i, {})
                    slot_day = i
                pslot = slot_of.get(buyer)
                if pslot is None:
                    slot_of[buyer] = len(f_c)
                    slot_buyer.append(buyer)
                    slot_dayl.append(i)
                    f_c.append(c_obj)
                    f_sid.append(sid)
                    f_group.append(group)
                    f_code.append(code)
                    f_end.append(r)
                    f_risk.append(risk)
                    a_code_l.append(a_code)
                    a_start.append(a_c_obj)
                    a_end.append(a_r)
                    a_risk_l.append(a_risk)
                    f_fate.append(fate)
                    a_fate.append(fate)
                else:
                    p = pslot
                    if c < <double>f_c[p] or (c == <double>f_c[p] and sid < f_sid[p]):
                        f_c[p] = c_obj
                        f_sid[p] = sid
                        f_group[p] = group
                        f_code[p] = code
                        f_end[p] = r
                        f_risk[p] = risk
                        f_fate[p] = fate
                    if a_risk:
                        a_risk_l[p] = _TRUE
                    if a_code > <int>a_code_l[p] or (a_code == <int>a_code_l[p]
                                                      and a_c < <double>a_start[p]):
                        a_code_l[p] = a_code
                        a_start[p] = a_c_obj
                        a_end[p] = a_r
                        a_fate[p] = fate
            if not want_times:
                continue
            if reason is not None:
                dropped += kb - ka  # K06: counted, never timed
                continue
            nd = kb - ka
            if rs[kb - 1] == INFINITY:  # only a session's last wait can be unanswered
                unanswered += 1
                nd -= 1
                if not nd:
                    continue
            if rs[ka + nd - 1] <= wins_c.closes[i]:  # all answered before closing time
                _put(shop_rep, d.data(), nd)
                _put(shop_first, d.data(), 1)
                wins = None
            else:
                pyd = _as_array(d.data(), nd)
                common, wins = m._split(pyd, i, c, ka)
                m.shop_samples.add_run(pyd, common, wins)
            if s_lo[j] == s_hi[j]:  # no hand-overs: credit the agent named on the reply
                if wins is None:
                    for k in range(nd):
                        name = <object>PyList_GET_ITEM(ragents, rorder[ka + k])
                        if name is not None:
                            s = _samples_of(agent_samples, name, samples_cls)
                            _put(s.rep, &d[k], 1)
                            if k == 0:
                                _put(s.first, &d[k], 1)
                else:
                    m._fallback(_as_array(d.data(), nd), wins, ka)
        if not (want_agents or want_times):
            continue
        h = human[j]
        for x in range(s_lo[j], s_hi[j]):
            start = st_starts[x]
            end = st_ends[x]
            # The wait under way at the hand-over, or the next one (K04).
            k0 = _bisect_left(rs, start, lo, hi)
            if x > s_lo[j] and st_ends[x - 1] == start:
                while k0 < hi and rs[k0] == start and us[k0] < start:
                    k0 += 1
            if k0 == hi:
                continue
            c = us[k0]
            cs_obj = None
            if c < h:
                c = h
                cs_obj = <object>PyList_GET_ITEM(human_at, j)
            if c < start:
                c = start
                cs_obj = <object>PyList_GET_ITEM(st_start_at, x)
            if c >= end:
                continue
            cs = c
            k1 = _bisect_left(us, end, k0 + 1, hi)
            i = _one_run(&wins_c, c, us[k1 - 1] if k1 - k0 > 1 else c)
            if i >= 0:
                found.clear()
                run.i, run.ka, run.kb, run.c = i, k0, k1, c
                found.push_back(run)
            else:
                _runs_c(&wins_c, us, rs, k0, k1, c, end, as_of, open_policy, found)
                if not found.size():
                    continue
            agent = <object>PyList_GET_ITEM(st_agents, x)
            last_r = rs[k1 - 1]
            capped = last_r > end or last_r == INFINITY
            if want_agents:
                for q in range(found.size()):
                    run = found[q]
                    r = INFINITY if capped and run.ka == k1 - 1 else rs[run.ka]
                    c = run.c
                    # clocks.judge
                    if r - c <= T:
                        code = C_MET
                    elif end <= c + T:
                        break  # CUT: handed on unanswered before the threshold (K04)
                    elif as_of - c > T:
                        code = C_MISSED
                    else:
                        code = C_PENDING
                    risk = live and code == C_PENDING and as_of - c > warn
                    sgroup = <object>PyList_GET_ITEM(st_groups, x)
                    if count_key(agent_n, run.i, <PyObject*>sgroup, <PyObject*>agent,
                                 <PyObject*>reason, code | risk << 2) >= 0:
                        agent_keys.append((run.i, sgroup, agent, code, risk, reason))
                    if detail:
                        m._stretch_unit(j, x, run.i, _clock(run, k0, cs, cs_obj), r, code,
                                        reason)
            if not want_times or reason is not None:
                continue
            samples = _samples_of(agent_samples, agent, samples_cls)
            rep = samples.rep
            first = samples.first
            for q in range(found.size()):
                i, ka, kb, c = found[q].i, found[q].ka, found[q].kb, found[q].c
                nd = kb - ka
                if capped and kb == k1:
                    nd -= 1
                    if not nd:
                        continue
                d.resize(kb - ka)
                d[0] = rs[ka] - c + 0.0
                for k in range(ka + 1, kb):
                    d[k - ka] = rs[k] - us[k] + 0.0
                if rs[ka + nd - 1] <= wins_c.closes[i]:
                    _put(rep, d.data(), nd)
                    _put(first, d.data(), 1)
                else:
                    pyd = _as_array(d.data(), nd)
                    common, wins = m._split(pyd, i, c, ka)
                    samples.add_run(pyd, common, wins)
    if opened >= 0:
        _close_split(split, opened, unanswered - u0, dropped - d0)
    _flush_counts(shop_n, shop_keys, shop_counts)
    _flush_counts(agent_n, agent_keys, agent_counts)
    m.unanswered, m.dropped = unanswered, dropped
    for column in (slot_buyer, slot_dayl, f_c, f_sid, f_group, f_code, f_end, f_risk,
                   a_code_l, a_start, a_end, a_risk_l, f_fate, a_fate):
        _untrack(column)
    return True


cdef void _close_split(dict split, Py_ssize_t j, Py_ssize_t unanswered,
                       Py_ssize_t dropped) except *:
    """A split session's counts (``Measure._close_split``)."""
    shop, agents, _u, _d = split[j]
    split[j] = (shop, agents, unanswered, dropped)


cdef inline bint _is_array(object value, char typecode):
    return type(value) is array and (<array>value).ob_descr.typecode == typecode




# The service walk --------------------------------------------------------------------
#
# ``contacts`` is the loop of :func:`kefu.kpi.service.service_result` compiled: every
# session as :func:`kefu.kpi.service.contact_of` finds it, counted into its key's
# accumulator as ``_Acc.count`` counts it, in the same order, with the same arithmetic.

cdef enum:
    S_ANSWERED = 0
    S_ABANDONED = 1
    S_WAITING = 2


cdef inline void _add(list counts, Py_ssize_t k, Py_ssize_t n) except *:
    counts[k] = <Py_ssize_t>counts[k] + n


cdef class ContactAcc:
    """The contacts of one key of ``contacts``: what ``kefu.kpi.service._Acc`` holds
    (``counts``: answered, within, abandoned, short, waiting, transfers, excluded;
    ``excluded_by``; ``waits``; ``abandons``), made and filled by ``contacts`` without
    a Python ``__init__`` or attribute lookup per contact (a day has thousands of keys,
    most with a contact or two). Read by the service breakdowns as an ``_Acc``."""

    cdef public list counts
    cdef public dict excluded_by
    cdef public list waits
    cdef public list abandons

    def __init__(self):
        self.counts = [0, 0, 0, 0, 0, 0, 0]
        self.excluded_by = {}
        self.waits = []
        self.abandons = []


cdef ContactAcc _new_acc():
    """A new accumulator, its lists out of the garbage collector's sight (they only
    ever hold ints and floats: see ``_untrack``; its dict, of str -> int, is out of it
    by itself). A day has thousands, long-lived: each collection would visit them."""
    cdef ContactAcc acc = ContactAcc.__new__(ContactAcc)
    acc.counts = [0, 0, 0, 0, 0, 0, 0]
    acc.excluded_by = {}
    acc.waits = []
    acc.abandons = []
    PyObject_GC_UnTrack(<void*>acc.counts)
    PyObject_GC_UnTrack(<void*>acc.waits)
    PyObject_GC_UnTrack(<void*>acc.abandons)
    return acc


cdef inline object _less(object t, object c, double wait):
    """The reference's ``t - c if t > c else 0.0`` (``wait``, computed in C; ``c`` None
    for a float clock): an int when both times are int objects and ``t`` is later,
    else the float ``wait``."""
    if wait > 0.0 and PyLong_CheckExact(<PyObject*>t) and PyLong_CheckExact(<PyObject*>c):
        return t - c
    return wait


cdef inline object _hour(double c, const double* bounds, Py_ssize_t nb, list hours,
                         object hour_of):
    """The local hour of instant ``c``: from the hour table (:mod:`kefu.kpi.hours`) when
    it covers ``c`` more than a microsecond from the next boundary (``fromtimestamp``
    rounds to the microsecond), else ``hour_of(c)``. O(log table)."""
    cdef Py_ssize_t k
    if nb > 1 and bounds[0] <= c < bounds[nb - 1]:
        k = _bisect_right(bounds, c, 0, nb) - 1
        if c < bounds[k + 1] - 1e-6:
            return <object>PyList_GET_ITEM(hours, k)
    return hour_of(c)


cdef int _tally(object acc, bint typed, int code, object reason, double wait,
                object wait_obj, Py_ssize_t moved, double answer_within,
                double short_abandon) except -1:
    """``service.tally`` (n = 1) into ``acc``: a ContactAcc's typed fields when ``typed``,
    else any accumulator class's attributes, read as ``_Acc.count`` reads them."""
    cdef ContactAcc t = <ContactAcc>acc if typed else None
    cdef list cnt = t.counts if typed else acc.counts
    if reason is not None:
        _add(cnt, 6, 1)
        by = t.excluded_by if typed else acc.excluded_by
        by[reason] = by.get(reason, 0) + 1
    elif code == S_ANSWERED:
        _add(cnt, 0, 1)
        if wait <= answer_within:
            _add(cnt, 1, 1)
        _add(cnt, 5, moved)
        (t.waits if typed else acc.waits).append(wait_obj)
    elif code == S_ABANDONED:
        _add(cnt, 2, 1)
        if wait < short_abandon:
            _add(cnt, 3, 1)
        (t.abandons if typed else acc.abandons).append(wait_obj)
    else:
        _add(cnt, 4, 1)
    return 0


def contacts(object tl, object opts, object cal, double answer_within, double short_abandon,
             object acc_cls, object hour_of, list out=None, object contact_cls=None,
             tuple outcomes=None, tuple hour_table=None):
    """``service_result``'s accumulators ({(window index, hour, group, agent, reason):
    acc}) over every session of ``tl``; ``acc_cls`` is the service's ``_Acc`` and
    ``hour_of(c)`` the local hour of instant ``c``, asked for the instants
    ``hour_table`` (bounds, hours: :func:`kefu.kpi.hours.hour_table`) does not
    answer. With ``out`` (detail), each
    contact is also appended to it as ``contact_cls(...)``, its outcome taken from
    ``outcomes`` (answered, abandoned, waiting, excluded), as ``_contacts`` does.
    Returns None, having done nothing, when the timeline's columns are not the
    arrays it reads (the reference then counts). O(sessions + stretches)."""
    cdef _Columns cols = _columns(tl, True)
    if cols is None or type(cal.opens) is not list:
        return None
    cdef const double* us = cols.us
    cdef const double* rs = cols.rs
    cdef const int64_t* rorder = cols.rorder
    cdef list ragents = tl._ragents
    cdef const Py_ssize_t* wlo = cols.wlo.data()
    cdef const Py_ssize_t* s_lo = cols.s_lo.data()
    cdef const Py_ssize_t* s_hi = cols.s_hi.data()
    cdef const double* human = cols.human.data()
    cdef const double* reached = cols.reached.data()
    cdef const double* bot_at = cols.bot_at.data()
    cdef const double* ended = cols.ended.data()
    cdef const double* st_starts = cols.starts.data()
    cdef const double* st_ends = cols.ends.data()
    cdef list buyers = tl.buyers, groups = tl.groups, st_agents = tl.agents, ids = tl.ids
    cdef list human_at = tl.human, reached_at = tl.reached, ended_at = tl.ended
    cdef list open_at = cal.opens
    cdef list days = list(cal.days)
    if out is not None and (contact_cls is None or outcomes is None or len(outcomes) != 4):
        return None
    cdef array opens = array("d", cal.opens), closes = array("d", cal.closes)
    cdef array counted = array("d", [1.0 if v else 0.0 for v in cal.counted])
    if not len(opens) == len(closes) == len(counted) == len(days):
        return None
    cdef const double* o_ = opens.data.as_doubles
    cdef const double* c_ = closes.data.as_doubles
    cdef const double* k_ = counted.data.as_doubles
    cdef Py_ssize_t n_win = len(opens)
    cdef array h_bounds = _DOUBLES
    cdef list h_hours = []
    if hour_table is not None:
        h_bounds, h_hours = hour_table
        if h_bounds.ob_descr.typecode != b'd' or len(h_bounds) != len(h_hours) + 1:
            raise ValueError("contacts: not an hour table")
    cdef const double* hb = h_bounds.data.as_doubles
    cdef Py_ssize_t nb = len(h_bounds)
    cdef double T = opts.threshold
    cdef double as_of = opts.as_of
    cdef bint open_policy = opts.before_window is _OPEN
    excluded = opts.excluded
    cdef bint any_excluded = bool(excluded)
    cdef dict accs = {}
    cdef bint fast = acc_cls is ContactAcc  # its fields typed: no lookups per contact
    cdef Py_ssize_t n = len(tl.ids), j, lo, i, x, moved
    cdef double c, reach, end, o, wait
    cdef int code
    cdef object reason, agent, acc, key, prev, cur, start, wait_obj, group
    # Each key's accumulator found by a C map of the key's parts (``key_number``, as the
    # walk counts its units): a contact whose key was seen before makes no tuple, nor
    # hashes and compares one in ``accs``. ``numbered[num]`` is key number ``num``'s
    # accumulator; ``held`` keeps each key's tuple, so the objects the map points at
    # stay alive. A key the map finds is one ``accs`` finds (equal ids, equal windows
    # and hours); one it does not is looked up there, so equal keys of distinct
    # objects still share one accumulator, and ``accs`` keys as before.
    cdef Counts key_of
    cdef list numbered = [], held = []
    cdef Py_ssize_t num
    cdef long long hour_n
    cdef int overflow
    for j in range(n):
        # clocks.human_clock (K02)
        lo = wlo[j]
        if lo == wlo[j + 1]:
            continue
        c = us[lo]
        start = None  # the clock's own object when it is not us[lo] (an int may be)
        if c < human[j]:
            c = human[j]
            start = <object>PyList_GET_ITEM(human_at, j)
        if reached[j] == INFINITY and bot_at[j] - c <= T:
            continue
        reach = reached[j]
        end = ended[j]
        # service._place (K00, K01)
        i = _bisect_right(o_, c, 0, n_win) - 1
        if i >= 0 and c < c_[i]:
            if k_[i] == 0.0:
                continue
        else:
            if not open_policy or i + 1 >= n_win:
                continue
            i += 1
            o = o_[i]
            if reach < o or end < o or o > as_of or k_[i] == 0.0:
                continue
            c = o
            start = <object>PyList_GET_ITEM(open_at, i)
        hour = _hour(c, hb, nb, h_hours, hour_of)
        reason = excluded.get(<object>PyList_GET_ITEM(buyers, j)) if any_excluded else None
        agent = None
        moved = 0
        if reach <= end and reach != INFINITY:
            code = S_ANSWERED
            wait = reach - c if reach > c else 0.0
            wait_obj = _less(<object>PyList_GET_ITEM(reached_at, j), start, wait)
            if s_lo[j] < s_hi[j]:  # service._first_agent
                agent = <object>PyList_GET_ITEM(st_agents, s_lo[j])
            elif rs[lo] != INFINITY:
                agent = <object>PyList_GET_ITEM(ragents, rorder[lo])
            for x in range(s_lo[j] + 1, s_hi[j]):  # service._transfers
                if st_starts[x] == st_ends[x - 1]:
                    prev = <object>PyList_GET_ITEM(st_agents, x - 1)
                    cur = <object>PyList_GET_ITEM(st_agents, x)
                    if cur != prev:
                        moved += 1
        elif end != INFINITY:
            code = S_ABANDONED
            wait = end - c if end > c else 0.0
            wait_obj = _less(<object>PyList_GET_ITEM(ended_at, j), start, wait)
        else:
            code = S_WAITING
            wait = 0.0
            wait_obj = 0.0
        group = <object>PyList_GET_ITEM(groups, j)
        num = -1
        if PyLong_CheckExact(<PyObject*>hour):  # a local hour, a small int: a key in C
            overflow = 0
            hour_n = PyLong_AsLongLongAndOverflow(<PyObject*>hour, &overflow)
            if not overflow and 0 <= hour_n < 4096:
                num = key_number(key_of, i, <PyObject*>group, <PyObject*>agent,
                                 <PyObject*>reason, <int>hour_n)
        if 0 <= num < len(numbered):  # a key seen before: its accumulator, no tuple made
            acc = <object>PyList_GET_ITEM(numbered, num)
        else:
            key = (i, hour, group, agent, reason)
            acc = accs.get(key)
            if acc is None:
                acc = accs[key] = _new_acc() if fast else acc_cls()
            if num >= 0:
                numbered.append(acc)
                held.append(key)
        _tally(acc, fast, code, reason, wait, wait_obj, moved, answer_within, short_abandon)
        if out is not None:
            out.append(contact_cls(
                session_id=<object>PyList_GET_ITEM(ids, j),
                buyer_id=<object>PyList_GET_ITEM(buyers, j), day=days[i], hour=hour,
                group=<object>PyList_GET_ITEM(groups, j), agent_id=agent,
                start=c if start is None else start,
                outcome=outcomes[3 if reason is not None else code],
                wait=wait_obj if code != S_WAITING and reason is None else None,
                transfers=moved, reason=reason))
    return accs


# Inquiry conversion ------------------------------------------------------------------
#
# ``consults`` is the loop of :func:`kefu.kpi.conversion.conversion_result` compiled:
# each K03 buyer-day (FIRST) in slot order, its first order within the attribution
# window, its status, and the agent holding the session then (or the next one to get
# it), counted into the same keys.

# The service breakdowns ----------------------------------------------------------------

cdef extern from *:
    """
    #include <cstdint>
    static inline int kefu_add_overflow(int64_t a, int64_t b, int64_t* out) {
        return __builtin_add_overflow(a, b, out);
    }
    """
    int _add_overflow "kefu_add_overflow"(int64_t a, int64_t b, int64_t* out)
    Py_ssize_t PY_SSIZE_T_MAX
#
# ``breakdowns`` is :func:`kefu.kpi.service._breakdowns` over C arrays: the same sums and
# the same sorted durations per part, without an int or float object per value.

cdef int _durations_of(object values, Py_ssize_t owner,
                       vector[pair[double, Py_ssize_t]]& out,
                       vector[Py_ssize_t]& owners) except -1:
    """Append the exact floats of list ``values`` to ``out`` (value, place) with their
    key ``owner``; 1 when one is not an exact float (an int duration) or is NaN (no
    order for the C++ sort), else 0. Runs no Python code."""
    if type(values) is not list:
        return 1
    cdef Py_ssize_t k
    cdef PyObject* v
    cdef double d
    for k in range(len(<list>values)):
        v = PyList_GET_ITEM(<list>values, k)
        if not PyFloat_CheckExact(v):
            return 1
        d = PyFloat_AS_DOUBLE(v)
        if d != d:
            return 1
        out.push_back(pair[double, Py_ssize_t](d, <Py_ssize_t>out.size()))
        owners.push_back(owner)
    return 0


cdef list _parted(vector[pair[double, Py_ssize_t]]& by_value, vector[Py_ssize_t]& owners,
                  const Py_ssize_t* part, Py_ssize_t parts, vector[Py_ssize_t]& start):
    """The durations (sorted by value, ties in their order) of each part, as arrays: a
    counting sort by part keeps each part's values in that order. O(values + parts)."""
    cdef Py_ssize_t k, p, n = <Py_ssize_t>by_value.size()
    start.clear()
    start.resize(parts + 1, 0)  # resize, not assign: a C++ error is a MemoryError
    for k in range(n):
        p = part[owners[by_value[k].second]]
        if p >= 0:
            start[p + 1] += 1
    cdef list out = PyList_New(parts)
    cdef array arr
    cdef vector[Py_ssize_t] fill
    fill.resize(parts, 0)
    for p in range(parts):
        start[p + 1] += start[p]
        arr = clone(_DOUBLES, start[p + 1] - start[p], False)
        Py_INCREF(arr)
        PyList_SET_ITEM(out, p, arr)
    cdef double** data = <double**>PyMem_Malloc((parts + 1) * sizeof(double*))
    if data == NULL:
        raise MemoryError()
    for p in range(parts):
        data[p] = (<array>PyList_GET_ITEM(out, p)).data.as_doubles
    for k in range(n):
        p = part[owners[by_value[k].second]]
        if p >= 0:
            data[p][fill[p]] = by_value[k].first
            fill[p] += 1
    PyMem_Free(data)
    return out


def breakdowns(list vals, list parts, list sizes):
    """What :func:`kefu.kpi.service._breakdowns` gives from the accumulators ``vals``
    (their ``counts``, ``waits`` and ``abandons``), the part of each in every breakdown
    (``parts[d][x]``, -1: in none) and the breakdowns' numbers of parts: per breakdown,
    (each part's summed counts, each part's waits and times to abandon as sorted
    arrays). None, having changed nothing, when a duration is not an exact float (or is
    NaN) or a count not an exact int (the caller's reference then decides);
    OverflowError when a count or a part's sum does not fit 64 bits (the reference sums
    Python ints); ValueError for parts or sizes that do not fit. The lists are copied
    first: a hostile ``__index__`` or attribute cannot shrink what is read. The durations are
    sorted once (by value, ties in key order, as a stable sort), then dealt to each
    breakdown's parts by a counting sort: O(c log c + breakdowns x (c + keys)) for c
    durations, no Python object per value."""
    vals, parts, sizes = list(vals), list(parts), list(sizes)  # ours: nothing shrinks them
    cdef Py_ssize_t n = len(vals), d, x, c, p, size, nd = len(parts)
    cdef vector[pair[double, Py_ssize_t]] waits, abandons
    cdef vector[Py_ssize_t] wown, aown, start, part
    cdef vector[int64_t] counts
    cdef PyObject* v
    cdef object acc, cnt
    cdef list row
    cdef int64_t sum_c
    if len(sizes) != nd:
        raise ValueError("breakdowns: a size per breakdown")
    counts.resize(7 * n)
    for x in range(n):
        acc = <object>PyList_GET_ITEM(vals, x)
        cnt = acc.counts
        if type(cnt) is not list or len(<list>cnt) != 7:
            return None
        for c in range(7):
            v = PyList_GET_ITEM(cnt, c)
            if not PyLong_CheckExact(v):
                return None
            counts[7 * x + c] = <int64_t><object>v  # OverflowError past 64 bits
        if (_durations_of(acc.waits, x, waits, wown)
                or _durations_of(acc.abandons, x, abandons, aown)):
            return None
    cpp_sort(waits.begin(), waits.end())  # (value, place): a stable order by value
    cpp_sort(abandons.begin(), abandons.end())
    cdef list out = []
    cdef list sums
    cdef int64_t* s
    cdef vector[int64_t] acc_sums
    for d in range(nd):
        if type(parts[d]) is not list or len(<list>parts[d]) != n:
            raise ValueError("breakdowns: a part per accumulator")
        row = list(<list>parts[d])  # ours: an item's __index__ cannot shrink it
        size = <Py_ssize_t>sizes[d]
        if not 0 <= size <= (PY_SSIZE_T_MAX // 8 - 1) // 7:
            raise ValueError("breakdowns: a number of parts out of range")
        part.resize(n)
        for x in range(n):
            p = <Py_ssize_t>row[x]
            if not -1 <= p < size:
                raise ValueError("breakdowns: a part out of range")
            part[x] = p
        acc_sums.clear()
        acc_sums.resize(7 * size, 0)  # resize, not assign: a C++ error is a MemoryError
        for x in range(n):
            if part[x] >= 0:
                s = &acc_sums[7 * part[x]]
                for c in range(7):
                    if _add_overflow(s[c], counts[7 * x + c], &sum_c):
                        raise OverflowError("breakdowns: a sum past 64 bits")
                    s[c] = sum_c
        sums = [[acc_sums[7 * p + c] for c in range(7)] for p in range(size)]
        out.append((sums, _parted(waits, wown, part.data(), size, start),
                    _parted(abandons, aown, part.data(), size, start)))
    return out


def consults(object m, list order_at, dict lo_of, dict hi_of, double attribution,
             dict counts, int met, int missed, int pending, int excluded_code,
             list units=None, object unit_cls=None, tuple statuses=None):
    """Count ``m``'s buyer-days into ``counts`` as ``conversion_result`` does;
    ``order_at``/``lo_of``/``hi_of`` are its ``_Orders`` columns and the codes its
    statuses. With ``units`` (detail), each buyer-day is also appended to it as an
    "inquiry" ``unit_cls(...)`` of status ``statuses[code]``, in slot order.
    O(buyer-days x (log orders + stretches))."""
    if units is not None and (unit_cls is None or statuses is None
                              or len(statuses) <= max(met, missed, pending, excluded_code)
                              or min(met, missed, pending, excluded_code) < 0):
        raise ValueError("consults: detail needs a unit class and a status per code")
    tl = m.tl
    opts = m.opts
    cdef list slot_buyer = m._slot_buyer, slot_day = m._slot_day, f_c = m._f_c
    cdef list f_sid = m._f_sid
    cdef list days = m.cal.days
    cdef dict index = tl.index
    cdef list st_agents = tl.agents, st_groups = tl.sgroups, groups = tl.groups
    cdef vector[Py_ssize_t] s_lo, s_hi
    cdef vector[double] st_ends, at
    _index_list(tl.s_lo, s_lo)
    _index_list(tl.s_hi, s_hi)
    _double_list(tl.ends, st_ends)
    _double_list(order_at, at)
    cdef double as_of = opts.as_of
    excluded = opts.excluded
    cdef bint any_excluded = bool(excluded)
    cdef Py_ssize_t p, i, j, x, lo, hi, k, n = len(slot_buyer)
    cdef double c, o
    cdef int code
    cdef object buyer, reason, agent, group, lo_obj, day, o_obj
    # Buyer-days counted by key in C (a tuple per distinct key, not per buyer-day; equal
    # keys of distinct objects merge when flushed), added to ``counts`` at the end in the
    # order each key was first seen: the dict one ``+= 1`` per buyer-day would leave.
    cdef Counts tally_n
    cdef list keys = []
    for p in range(n):
        buyer = <object>PyList_GET_ITEM(slot_buyer, p)
        c = f_c[p]
        o_obj = None
        # _Orders.first_after: the buyer's first order at or after c
        lo_obj = lo_of.get(buyer)
        o = INFINITY
        if lo_obj is not None:
            lo = lo_obj
            hi = hi_of[buyer]
            k = _bisect_left(at.data(), c, lo, hi)
            if k < hi:
                o = at[k]
                o_obj = order_at[k]
        if o - c > attribution:
            o = INFINITY
            o_obj = None
        reason = excluded.get(buyer) if any_excluded else None
        if reason is not None:
            code = excluded_code
        elif o != INFINITY:
            code = met
        elif as_of - c > attribution:
            code = missed
        else:
            code = pending
        # Timeline.serving_or_next: the agent holding the session then, or the next one.
        j = index[<object>PyList_GET_ITEM(f_sid, p)]
        x = -1
        for k in range(s_lo[j], s_hi[j]):
            if c < st_ends[k]:
                x = k
                break
        if x >= 0:
            agent = <object>PyList_GET_ITEM(st_agents, x)
            group = <object>PyList_GET_ITEM(st_groups, x)
        else:
            agent = None
            group = <object>PyList_GET_ITEM(groups, j)
        i = <Py_ssize_t>slot_day[p]
        day = days[i]
        if count_key(tally_n, i, <PyObject*>group, <PyObject*>agent, <PyObject*>reason,
                      code) >= 0:  # a key not seen before: its tuple
            keys.append((day, group, agent, code, False, reason, None))
        if units is not None:
            units.append(unit_cls("inquiry", statuses[code], day, buyer,
                                  <object>PyList_GET_ITEM(f_sid, p), agent, group,
                                  <object>PyList_GET_ITEM(f_c, p), o_obj, reason))
    _flush_counts(tally_n, keys, counts)


# Group PK ------------------------------------------------------------------------------

def last_answers(object tl, list sessions, list times):
    """For each order (its buyer's sessions ``sessions[n]``, its time ``times[n]``),
    what :func:`kefu.kpi.conversion._last_answer` gives: (reply, session, agent, group)
    of the last creditable human reply at or before it, or None. O(orders x sessions
    x (log waits + stretches))."""
    if not (_is_array(tl.rs, b'd') and _is_array(tl._rorder, b'q') and type(tl.wlo) is list
            and len(tl.wlo) == len(tl.ids) + 1 and tl.wlo[len(tl.ids)] == len(tl.rs)
            and len(tl._rorder) == len(tl.rs) and len(sessions) == len(times)):
        raise ValueError("last_answers: not a timeline's columns")
    cdef array rs_arr = tl.rs, rorder_arr = tl._rorder
    cdef const double* rs = rs_arr.data.as_doubles
    cdef const int64_t* rorder = <const int64_t*>rorder_arr.data.as_voidptr
    cdef list ragents = tl._ragents, ids = tl.ids, groups = tl.groups
    cdef list st_agents = tl.agents, st_groups = tl.sgroups
    cdef vector[Py_ssize_t] wlo, s_lo, s_hi
    cdef vector[double] st_starts, st_ends
    _index_list(tl.wlo, wlo)
    _index_list(tl.s_lo, s_lo)
    _index_list(tl.s_hi, s_hi)
    _double_list(tl.starts, st_starts)
    _double_list(tl.ends, st_ends)
    cdef list out = []
    cdef Py_ssize_t q, j, k, x, serving
    cdef double t, r, last_r = 0.0
    cdef object last, sid, last_sid = None, name
    for q in range(len(times)):
        t = times[q]
        last = None
        for jj in <list>sessions[q]:
            j = jj
            k = _bisect_right(rs, t, wlo[j], wlo[j + 1]) - 1  # the last reply by then
            if k < wlo[j]:
                continue
            r = rs[k]
            sid = <object>PyList_GET_ITEM(ids, j)
            if last is not None and (r < last_r or (r == last_r and sid <= last_sid)):
                continue
            serving = -1  # Timeline.serving: the stretch holding the session at r
            for x in range(s_lo[j], s_hi[j]):
                if st_starts[x] <= r < st_ends[x]:
                    serving = x
                    break
            if serving >= 0:
                last = (r, sid, <object>PyList_GET_ITEM(st_agents, serving),
                        <object>PyList_GET_ITEM(st_groups, serving))
            else:
                name = <object>PyList_GET_ITEM(ragents, rorder[k])
                if name is None:
                    continue
                last = (r, sid, name, <object>PyList_GET_ITEM(groups, j))
            last_r, last_sid = r, sid
        out.append(last)
    return out


# Records at the boundary (kefu.kpi.intake) ----------------------------------------------

cdef enum:  # intake's field kinds, in its order; an enum's members are kind 7
    _IN_STR, _IN_OPT_STR, _IN_TIME, _IN_OPT_TIME, _IN_INT, _IN_BOOL, _IN_AMOUNT, _IN_MEMBER

cdef double _MAX_AMOUNT_D = 9007199254740992.0  # records.MAX_AMOUNT, 2**53
cdef long long _MAX_AMOUNT_I = 9007199254740992


cdef inline bint _clean_value(PyObject* v, int kind, tuple members) noexcept:
    """Whether ``v`` is what intake's fast path accepts for a field of ``kind``: exact
    types only, so no code of the value's runs. C speed."""
    cdef int overflow = 0
    cdef long long x
    cdef double d
    cdef Py_ssize_t k
    if kind == _IN_MEMBER:
        for k in range(len(members)):
            if v == <PyObject*>members[k]:
                return True
        return False
    if v == Py_None:
        return kind == _IN_OPT_STR or kind == _IN_OPT_TIME
    if kind == _IN_STR or kind == _IN_OPT_STR:
        return PyUnicode_CheckExact(v)
    if kind == _IN_BOOL:
        return v == <PyObject*>_TRUE or v == <PyObject*>_FALSE
    if kind == _IN_INT:
        return PyLong_CheckExact(v)
    if PyFloat_CheckExact(v):
        d = PyFloat_AS_DOUBLE(v)  # NaN fails every comparison
        if kind == _IN_AMOUNT:
            return -_MAX_AMOUNT_D <= d <= _MAX_AMOUNT_D
        return _MIN_TIME <= d < _MAX_TIME
    if not PyLong_CheckExact(v):
        return False
    x = PyLong_AsLongLongAndOverflow(v, &overflow)  # an exact int: runs no code
    if overflow:
        return False  # beyond 64 bits: past every limit
    if kind == _IN_AMOUNT:
        return -_MAX_AMOUNT_I <= x <= _MAX_AMOUNT_I
    return _MIN_INT_TIME <= x < _MAX_INT_TIME


def all_clean(list recs, type cls, tuple spec):
    """What ``kefu.kpi.intake._all_clean`` answers for ``recs``, our own list (whether
    every record is an exact ``cls`` whose fields hold exact, in-range values), read
    straight from the records' slots, or None when a field of ``cls`` is not one of its
    own object slots, or ``cls`` looks attributes up its own way (a ``__getattribute__``
    or ``__getattr__`` of its own: what the reference reads is then not what the slots
    hold), so the reference decides. ``spec`` is (name, kind, members)
    per field, kinds as intake numbers them. No code of the records' runs, so the list
    cannot change while it is read. O(n x fields) in C."""
    cdef vector[Py_ssize_t] offsets
    cdef vector[int] kinds
    cdef list members = []
    cdef Py_ssize_t i, f, offset, nf = len(spec)
    cdef PyObject* r
    cdef PyObject* v
    if not kefu_plain_getattr(cls):
        return None
    for name, kind, allowed in spec:
        offset = _own_slot(cls, name)
        if offset < 0:
            return None
        offsets.push_back(offset)
        kinds.push_back(kind)
        members.append(allowed)
    for i in range(len(recs)):
        r = PyList_GET_ITEM(recs, i)
        if <PyObject*>r.ob_type != <PyObject*>cls:
            return False
        for f in range(nf):
            v = (<PyObject**>((<char*>r) + offsets[f]))[0]
            if v == NULL or not _clean_value(v, kinds[f], <tuple>members[f]):
                return False
    return True


# A MessageTable's id columns (kefu.kpi.table) --------------------------------------------

def str_column(list items, bint none_ok, object out):
    """Fill ``out``, a new object array of ``len(items)`` Nones, with ``items`` and return
    True when every one is an exact ``str`` (or None, when ``none_ok``); else False, with
    ``out`` partly filled, for the caller to drop (the reference then checks each value).
    One pass checks and stores each value, touching it once. O(n) in C, no code of the
    values' runs."""
    cdef Py_ssize_t i, n = len(items)
    if len(out) != n or out.dtype.kind != "O" or not out.flags.c_contiguous:
        raise ValueError("str_column: not a new object array of the items' length")
    cdef PyObject** data = <PyObject**><size_t>out.__array_interface__["data"][0]
    cdef PyObject* v
    cdef PyObject* old
    for i in range(n):
        v = PyList_GET_ITEM(items, i)
        if not (PyUnicode_CheckExact(v) or (none_ok and v == Py_None)):
            return False
        Py_XINCREF(v)
        old = data[i]
        data[i] = v
        Py_XDECREF(old)
    return True
